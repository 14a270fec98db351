"""Stage 1, max-min coverage, solved exactly in integers by a parametric max-flow (see allocation.py and
docs/allocation.md). Pure: NumPy and SciPy."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from .problem import INT32_MAX, Groups, Problem


def _ceil_div(a: np.ndarray, b) -> np.ndarray:
    return -((-a) // b)


def levels_at(need: np.ndarray, level: Fraction) -> np.ndarray:
    """ceil(level · need) per region, exactly."""
    return _ceil_div(need * level.numerator, level.denominator)


def next_level(need: np.ndarray, level: Fraction) -> Fraction | None:
    """The smallest coverage level above `level` at which some region's lower bound ceil(t·need) rises."""
    if level >= 1:
        return None
    k = need * level.numerator // level.denominator + 1  # floor(level·need) + 1 per region
    approx = k / need
    best = float(approx.min())
    near = np.flatnonzero(approx <= best * (1 + 1e-12) + 1e-15)
    pairs = np.unique(np.stack([k[near], need[near]], axis=1), axis=0)
    return min(Fraction(int(a), int(b)) for a, b in pairs)


def _floor_breakpoint(need: np.ndarray, t: float) -> Fraction:
    """A breakpoint k/need[r] at or just below t (float rounding may pick a neighbour: harmless)."""
    k = np.floor(t * need)
    approx = k / need
    best = float(approx.max())
    near = np.flatnonzero(approx >= best * (1 - 1e-12) - 1e-15)
    pairs = np.unique(np.stack([k[near].astype(np.int64), need[near]], axis=1), axis=0)
    return max(Fraction(int(a), int(b)) for a, b in pairs)


def max_level(need: np.ndarray, supply: int) -> Fraction:
    """The largest level t (a breakpoint k/need[r], or 0) with sum(ceil(t·need)) <= supply, exactly."""
    total = int(need.sum())
    if supply >= total:
        return Fraction(1)

    def fits(level: Fraction) -> bool:
        return int(levels_at(need, level).sum()) <= supply

    low = Fraction(0)  # fits
    high = supply / total  # no level above this fits (sum ceil(t·need) >= t·sum(need))
    for _ in range(10_000):
        step = next_level(need, low)
        if step is None or not fits(step):
            return low  # exact: low fits and the next breakpoint does not
        low = step
        if high - float(low) > 1e-12:
            candidate = _floor_breakpoint(need, (float(low) + high) / 2)
            if candidate > low:
                if fits(candidate):
                    low = candidate
                else:
                    high = float(candidate)
            else:
                high = (float(low) + high) / 2
    raise RuntimeError("max_level did not converge")  # pragma: no cover


@dataclasses.dataclass
class FlowTest:
    feasible: bool
    group_flow: np.ndarray | None  # [GA] units on each group arc when feasible
    deficient_groups: np.ndarray | None  # when infeasible: groups whose warehouses cannot cover them


def flow_test(stock: np.ndarray, g: Groups, group_demand: np.ndarray) -> FlowTest:
    """Can every group get `group_demand` units? Max-flow source → warehouses → groups → sink."""
    n_w = len(stock)
    source, sink = 0, 1 + n_w + g.count
    demand_total = int(group_demand.sum())
    if demand_total == 0:
        return FlowTest(True, np.zeros(len(g.arc_w), dtype=np.int64), None)
    big = min(INT32_MAX, demand_total + 1)
    rows = np.concatenate([np.zeros(n_w, dtype=np.int64), 1 + g.arc_w, 1 + n_w + np.arange(g.count)])
    cols = np.concatenate([1 + np.arange(n_w), 1 + n_w + g.arc_g, np.full(g.count, sink)])
    caps = np.concatenate([stock, np.full(len(g.arc_w), big), group_demand]).astype(np.int32)
    keep = caps > 0
    capacity = csr_array((caps[keep], (rows[keep], cols[keep])), shape=(sink + 1, sink + 1))
    capacity.sum_duplicates()
    result = maximum_flow(capacity, source, sink)
    flow = result.flow
    if result.flow_value == demand_total:
        arc_flow = np.asarray(flow[1 + g.arc_w, 1 + n_w + g.arc_g]).ravel().astype(np.int64)
        return FlowTest(True, arc_flow, None)
    residual = (capacity - flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = np.zeros(sink + 1, dtype=bool)
    reached[breadth_first_order(residual, source, directed=True, return_predecessors=False)] = True
    deficient = np.flatnonzero(~reached[1 + n_w : 1 + n_w + g.count])
    return FlowTest(False, None, deficient)


@dataclasses.dataclass
class Stage1:
    level: Fraction
    lower: np.ndarray  # [len(active)] ceil(level·need)
    flow_tests: int
    certificate: dict | None  # the Hall violator one breakpoint above the level


def solve_equity(p: Problem, g: Groups, log: Callable[[str], None]) -> Stage1:
    need = p.need[g.active]
    level = Fraction(1)
    tests = 0
    certificate = None
    if len(need) == 0:
        return Stage1(level, np.zeros(0, dtype=np.int64), 0, None)

    def test(lower: np.ndarray) -> FlowTest:
        nonlocal tests
        tests += 1
        return flow_test(
            p.stock, g, np.bincount(g.region_group, weights=lower, minlength=g.count).astype(np.int64)
        )

    def violator(result: FlowTest) -> tuple[np.ndarray, np.ndarray, int]:
        in_set = np.isin(g.region_group, result.deficient_groups)
        warehouses = np.unique(g.arc_w[np.isin(g.arc_g, result.deficient_groups)])
        return in_set, warehouses, int(p.stock[warehouses].sum())

    for _ in range(10_000):
        result = test(levels_at(need, level))
        if result.feasible:
            above = next_level(need, level)
            if above is None:
                break
            higher = test(levels_at(need, above))
            if not higher.feasible:
                in_set, warehouses, supply = violator(higher)
                certificate = {
                    "level_above": above,
                    "regions": g.active[in_set],
                    "units_needed": int(levels_at(need[in_set], above).sum()),
                    "warehouses": warehouses,
                    "supply": supply,
                }
                break
            level = above  # (the Newton step undershot; climb)
            continue
        in_set, _warehouses, supply = violator(result)
        lower_bound = max_level(need[in_set], supply)
        if lower_bound >= level:  # pragma: no cover - the cut is a Hall violator, so this cannot happen
            raise RuntimeError("equity search did not progress")
        level = lower_bound
        log(f"  stage 1: level ≤ {float(level):.6f} ({tests} flow tests)")
    else:  # pragma: no cover
        raise RuntimeError("equity search did not converge")
    return Stage1(level, levels_at(need, level), tests, certificate)
