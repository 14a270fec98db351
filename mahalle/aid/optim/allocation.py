"""Allocation of scarce stock: integer units from warehouses to the regions they reach, lexicographically
(1) max-min coverage, (2) max vulnerability-weighted units, (3) min transport distance. Pure: NumPy, SciPy, HiGHS.

The model, the proof that each stage is solved to optimality and the reasons for the solution method are in
docs/allocation.md. In short:

* Regions reached by the same warehouses are interchangeable in stages 1 and 2 (and, if the distances are
  the same too, in stage 3), so the problems are written over *groups* of such regions: one arc variable per
  (warehouse, group) and one bounded column per region. 54,000 posts reached from their province and its
  neighbours are 31 groups for stages 1-2, and 429 for stage 3 at county-seat distances.
* Stage 1 (equity) is solved exactly in integers by a parametric max-flow: for a candidate level t, the
  regions must each get at least ceil(t·need) units, which is a flow problem with integral solutions; when
  it is infeasible the minimum cut names a set of regions whose warehouses cannot cover them (a Hall
  violator), which bounds t from above (a Newton step). The final level is proven optimal by a feasible
  integer allocation at t* and an infeasible cut one breakpoint above it.
* Stages 2 and 3 are HiGHS LPs on a network matrix (totally unimodular) with integer bounds, so the simplex
  vertex HiGHS returns is integral; it is checked, and a HiGHS MIP is the fallback. Stage 2's value is kept
  exactly in stage 3 by complementary slackness (columns and rows with a non-zero stage-2 dual are fixed at
  their active bound: exactly the face of stage-2 optima), which keeps the matrix a network matrix.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction

import highspy
import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from .highs import new_highs

INT32_MAX = 2**31 - 1
MAX_NEED = 10**7  # per region: keeps every exact level computation inside int64
INTEGRALITY_TOL = 1e-6
_LP_OPTIONS: dict = {"solver": "simplex"}
LIST_IN_SENTENCE = 5  # ids named in one explanation sentence


class AllocationInputError(ValueError):
    """The input cannot be allocated: the message names the file/row/field (or the id) at fault."""


@dataclasses.dataclass
class Allocation:
    units: dict[tuple[str, str], int]
    min_coverage: float
    weighted_units: float
    distance: float
    status: str
    explanation: list[str]
    solve_seconds: float
    # Beyond the interface, for the CLI summary and the UI.
    stages: dict = dataclasses.field(default_factory=dict)
    totals: dict = dataclasses.field(default_factory=dict)
    unreachable_regions: list[str] = dataclasses.field(default_factory=list)
    min_coverage_all_regions: float = 1.0
    min_coverage_exact: str = "1"  # the stage-1 optimum as an exact fraction, "k/m"


# --- input -----------------------------------------------------------------------------------------------


def _whole(value, what: str) -> int:
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, Decimal) and value.is_finite():  # e.g. a DecimalField's value
        value = float(value)
    if isinstance(value, bool):
        raise AllocationInputError(f"{what}: {value!r} is not a whole number of units")
    if (
        isinstance(value, numbers.Integral)
        or isinstance(value, numbers.Real)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        number = int(value)
    else:
        raise AllocationInputError(
            f"{what}: {value!r} is not a whole number of units (items are indivisible)"
        )
    if number < 0:
        raise AllocationInputError(f"{what}: {number} is negative")
    return number


def _nonnegative(value, what: str) -> float:
    if type(value) in (int, float) and 0 <= value < math.inf:
        return float(value)
    if isinstance(value, Decimal):  # e.g. a DecimalField's value
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AllocationInputError(f"{what}: {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise AllocationInputError(f"{what}: {value!r} is not a finite number")
    if number < 0:
        raise AllocationInputError(f"{what}: {value!r} is negative")
    return number


@dataclasses.dataclass
class Problem:
    """Validated input as arrays. Warehouses and regions keep their input order; arcs are sorted."""

    warehouses: list[str]
    stock: np.ndarray  # int64 [W]
    regions: list[str]
    need: np.ndarray  # int64 [R]
    weight: np.ndarray  # float [R]
    arc_w: np.ndarray  # int64 [A] warehouse index
    arc_r: np.ndarray  # int64 [A] region index
    arc_d: np.ndarray  # float [A] km


def build_problem(
    stock: dict[str, int],
    need: Iterable[tuple[str, int, float]],
    reach: Iterable[tuple[str, str, float]] | None,
) -> Problem:
    warehouses = [str(w) for w in stock]
    if len(set(warehouses)) != len(warehouses):
        raise AllocationInputError("stock: a warehouse id appears twice")
    stock_units = np.array([_whole(stock[w], f"stock of warehouse '{w}'") for w in stock], dtype=np.int64)
    regions: list[str] = []
    needs: list[int] = []
    weights: list[float] = []
    seen: set[str] = set()
    for item in need:
        try:
            region, units, weight = item
        except (TypeError, ValueError):
            raise AllocationInputError(f"need: {item!r} is not (region_id, need, weight)") from None
        region = str(region)
        if region in seen:
            raise AllocationInputError(f"need: region '{region}' appears twice")
        seen.add(region)
        regions.append(region)
        units = _whole(units, f"need of region '{region}'")
        if units > MAX_NEED:
            raise AllocationInputError(
                f"need of region '{region}': {units} is over the limit of {MAX_NEED:,}"
            )
        needs.append(units)
        weights.append(_nonnegative(weight, f"weight of region '{region}'"))
    if int(stock_units.sum()) > INT32_MAX or sum(needs) > INT32_MAX:
        raise AllocationInputError(f"total stock and total need must each be at most {INT32_MAX:,} units")
    w_index = {w: i for i, w in enumerate(warehouses)}
    r_index = {r: i for i, r in enumerate(regions)}
    if reach is None:
        arc_w = np.repeat(np.arange(len(warehouses)), len(regions))
        arc_r = np.tile(np.arange(len(regions)), len(warehouses))
        arc_d = np.zeros(len(arc_w))
    else:
        aw: list[int] = []
        ar: list[int] = []
        ad: list = []
        for item in reach:
            try:
                warehouse, region, distance = item
            except (TypeError, ValueError):
                raise AllocationInputError(
                    f"reach: {item!r} is not (warehouse_id, region_id, distance_km)"
                ) from None
            w = w_index.get(warehouse if type(warehouse) is str else str(warehouse))
            if w is None:
                raise AllocationInputError(f"reach: warehouse '{warehouse}' is not in the stock list")
            r = r_index.get(region if type(region) is str else str(region))
            if r is None:
                raise AllocationInputError(f"reach: region '{region}' is not in the need list")
            aw.append(w)
            ar.append(r)
            ad.append(distance)
        arc_w = np.array(aw, dtype=np.int64)
        arc_r = np.array(ar, dtype=np.int64)
        for i, distance in enumerate(ad):
            if type(distance) not in (int, float):
                ad[i] = _nonnegative(distance, f"distance from '{warehouses[aw[i]]}' to '{regions[ar[i]]}'")
        arc_d = np.array(ad, dtype=float)
        bad = np.flatnonzero(~np.isfinite(arc_d) | (arc_d < 0))
        if len(bad):
            i = int(bad[0])
            _nonnegative(ad[i], f"distance from '{warehouses[aw[i]]}' to '{regions[ar[i]]}'")
        key = arc_r * max(1, len(warehouses)) + arc_w
        ordered = np.sort(key)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(repeated):
            r, w = divmod(int(repeated[0]), max(1, len(warehouses)))
            raise AllocationInputError(f"reach: the pair ('{warehouses[w]}', '{regions[r]}') appears twice")
    order = np.lexsort((arc_w, arc_r))  # by region, then warehouse
    return Problem(
        warehouses=warehouses,
        stock=stock_units,
        regions=regions,
        need=np.array(needs, dtype=np.int64),
        weight=np.array(weights, dtype=float),
        arc_w=arc_w[order].astype(np.int64),
        arc_r=arc_r[order].astype(np.int64),
        arc_d=arc_d[order],
    )


# --- groups of interchangeable regions -------------------------------------------------------------------


@dataclasses.dataclass
class Groups:
    """Active regions (need > 0 and reached by some warehouse) grouped by identical (warehouse, distance)
    reach. `region_group[i]` is the group of active region `active[i]`."""

    active: np.ndarray  # region indices, sorted
    region_group: np.ndarray  # [len(active)] group index
    arc_w: np.ndarray  # [GA] group arcs: warehouse index
    arc_g: np.ndarray  # [GA] group index
    arc_d: np.ndarray  # [GA] km
    count: int


def group_regions(p: Problem, by_distance: bool = True) -> Groups:
    """Group the active regions by their reach: the same warehouses at the same distances (`by_distance`,
    for stage 3), or just the same warehouses (stages 1 and 2, where distance plays no part)."""
    reached = np.zeros(len(p.regions), dtype=bool)
    reached[p.arc_r] = True
    keep_arc = p.need[p.arc_r] > 0
    aw, ar, ad = p.arc_w[keep_arc], p.arc_r[keep_arc], p.arc_d[keep_arc]
    active = np.flatnonzero(reached & (p.need > 0))
    # Arcs are sorted by region then warehouse: each active region's arcs are one contiguous run.
    starts = np.searchsorted(ar, active, side="left")
    ends = np.searchsorted(ar, active, side="right")
    signature_group: dict[bytes, int] = {}
    region_group = np.empty(len(active), dtype=np.int64)
    g_w: list[np.ndarray] = []
    g_d: list[np.ndarray] = []
    for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        key = aw[start:end].tobytes() + (b"|" + ad[start:end].tobytes() if by_distance else b"")
        group = signature_group.get(key)
        if group is None:
            group = signature_group[key] = len(signature_group)
            g_w.append(aw[start:end])
            g_d.append(ad[start:end] if by_distance else np.zeros(end - start))
        region_group[i] = group
    if g_w:
        arc_w = np.concatenate(g_w)
        arc_d = np.concatenate(g_d)
        arc_g = np.repeat(np.arange(len(g_w)), [len(x) for x in g_w])
    else:
        arc_w = np.zeros(0, dtype=np.int64)
        arc_d = np.zeros(0)
        arc_g = np.zeros(0, dtype=np.int64)
    return Groups(active, region_group, arc_w, arc_g, arc_d, len(g_w))


# --- stage 1: max-min coverage by parametric max-flow ----------------------------------------------------


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


# --- stages 2 and 3: HiGHS LPs on the grouped network ----------------------------------------------------


@dataclasses.dataclass
class Network:
    """Columns: group arcs x[a] (0..GA-1), then one column y[i] per active region. Rows: warehouses
    (sum of arcs <= stock), then groups (sum of arcs into the group - sum of its regions' y = 0)."""

    n_arcs: int
    n_regions: int
    n_rows: int
    matrix: tuple[np.ndarray, np.ndarray, np.ndarray]  # CSC start, index, value


def network(p: Problem, g: Groups) -> Network:
    n_w = len(p.warehouses)
    n_arcs, n_regions = len(g.arc_w), len(g.active)
    arc_index = np.empty(2 * n_arcs, dtype=np.int32)
    arc_index[0::2] = g.arc_w
    arc_index[1::2] = n_w + g.arc_g
    index = np.concatenate([arc_index, (n_w + g.region_group).astype(np.int32)])
    value = np.concatenate([np.ones(2 * n_arcs), -np.ones(n_regions)])
    start = np.concatenate([np.arange(0, 2 * n_arcs, 2), 2 * n_arcs + np.arange(n_regions + 1)]).astype(
        np.int32
    )
    return Network(n_arcs, n_regions, n_w + g.count, (start, index, value))


@dataclasses.dataclass
class LPResult:
    status: str
    x: np.ndarray  # integer column values
    col_dual: np.ndarray | None
    row_dual: np.ndarray | None
    method: str  # "lp" (integral vertex) or "mip"
    seconds: float


def _highs(net: Network, cost, col_lower, col_upper, row_lower, row_upper, extra_row=None, integer=False):
    h = new_highs()
    lp = highspy.HighsLp()
    n_cols = net.n_arcs + net.n_regions
    lp.num_col_ = n_cols
    lp.num_row_ = net.n_rows
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lower, dtype=float)
    lp.col_upper_ = np.asarray(col_upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = net.matrix
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    h.passModel(lp)
    if extra_row is not None:
        lower, upper, coefficients = extra_row
        nz = np.flatnonzero(coefficients)
        h.addRow(lower, upper, len(nz), nz.astype(np.int32), coefficients[nz])
    if integer:
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.0)
    else:
        for key, value in _LP_OPTIONS.items():
            h.setOptionValue(key, value)
    h.run()
    return h


def _integral(values: np.ndarray) -> np.ndarray | None:
    rounded = np.round(values)
    if len(values) and np.abs(values - rounded).max() > INTEGRALITY_TOL:
        return None
    return rounded.astype(np.int64)


def _feasible(net: Network, x: np.ndarray, col_lower, col_upper, row_lower, row_upper) -> bool:
    start, index, value = net.matrix
    activity = np.zeros(net.n_rows)
    counts = np.diff(start)
    np.add.at(activity, index, value * np.repeat(x, counts))
    return bool(
        np.all(x >= np.asarray(col_lower) - 1e-9)
        and np.all(x <= np.asarray(col_upper) + 1e-9)
        and np.all(activity >= np.asarray(row_lower) - 1e-9)
        and np.all(activity <= np.asarray(row_upper) + 1e-9)
    )


def solve_lp(net: Network, cost, col_lower, col_upper, row_lower, row_upper, extra_row=None) -> LPResult:
    """Solve by simplex and keep the vertex if it is integral (it is, on a network matrix with integer
    bounds); otherwise — or if the extra row breaks the structure — solve the MIP with gap 0."""
    started = time.perf_counter()
    if net.n_arcs + net.n_regions == 0:
        return LPResult("optimal", np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(net.n_rows), "lp", 0.0)
    h = _highs(net, cost, col_lower, col_upper, row_lower, row_upper, extra_row)
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return LPResult(
            h.modelStatusToString(status), np.zeros(0), None, None, "lp", time.perf_counter() - started
        )
    solution = h.getSolution()
    x = _integral(np.asarray(solution.col_value))
    if x is not None and _feasible(net, x, col_lower, col_upper, row_lower, row_upper):
        return LPResult(
            "optimal",
            x,
            np.asarray(solution.col_dual),
            np.asarray(solution.row_dual),
            "lp",
            time.perf_counter() - started,
        )
    h = _highs(net, cost, col_lower, col_upper, row_lower, row_upper, extra_row, integer=True)
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return LPResult(
            h.modelStatusToString(status), np.zeros(0), None, None, "mip", time.perf_counter() - started
        )
    x = np.round(np.asarray(h.getSolution().col_value)).astype(np.int64)
    return LPResult("optimal", x, None, None, "mip", time.perf_counter() - started)


# --- the three stages together ---------------------------------------------------------------------------


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:LIST_IN_SENTENCE])
    return shown + (f" and {len(ids) - LIST_IN_SENTENCE:,} more" if len(ids) > LIST_IN_SENTENCE else "")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def allocate(
    stock: dict[str, int],
    need: list[tuple[str, int, float]],
    reach: list[tuple[str, str, float]] | None = None,
    *,
    method: str = "exact",
    equity: bool = True,
    log: Callable[[str], None] | None = None,
) -> Allocation:
    """Lexicographically optimal integer allocation (see the module docstring and docs/allocation.md).

    `method="exact"` (default) is the grouped parametric-flow + LP method; `method="mip"` solves the three
    stages as plain HiGHS MIPs on the ungrouped model (a reference for small inputs and for the tests).
    `equity=False` skips stage 1 (weighted units first, then distance): for comparisons, not the policy."""
    log = log or (lambda _message: None)
    started = time.perf_counter()
    p = build_problem(stock, need, reach)
    if method == "mip" and equity:
        from .reference import allocate_mip

        units, stages = allocate_mip(p)
        return _finish(p, units, stages, started, None, "mip")
    if method not in ("exact", "mip"):
        raise AllocationInputError(f"method: {method!r} is not 'exact' or 'mip'")
    g = group_regions(p, by_distance=False)  # stages 1 and 2
    fine = group_regions(p, by_distance=True) if len(np.unique(p.arc_d)) > 1 else g  # stage 3
    log(
        f"allocate: {len(p.warehouses):,} warehouses, {len(p.regions):,} regions ({len(g.active):,} with need "
        f"and reach), {len(p.arc_w):,} reach pairs; {g.count:,} groups of regions with the same warehouses, "
        f"{fine.count:,} with the same warehouses and distances"
    )
    stages: dict = {}
    # Stage 1.
    t0 = time.perf_counter()
    if not equity:
        stage1 = Stage1(Fraction(0), np.zeros(len(g.active), dtype=np.int64), 0, None)
    else:
        stage1 = solve_equity(p, g, log)
    stages["equity"] = {
        "status": "optimal" if equity else "skipped",
        "method": "parametric max-flow (exact integer levels)",
        "value": float(stage1.level),
        "exact": f"{stage1.level.numerator}/{stage1.level.denominator}",
        "flow_tests": stage1.flow_tests,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    log(f"  stage 1 (equity): min coverage {float(stage1.level):.6f} in {stages['equity']['seconds']} s")
    net = network(p, g)
    n_w = len(p.warehouses)
    y_lower = stage1.lower.astype(float)
    y_upper = p.need[g.active].astype(float)
    col_lower = np.concatenate([np.zeros(net.n_arcs), y_lower])
    col_upper = np.concatenate([np.full(net.n_arcs, np.inf), y_upper])
    row_lower = np.concatenate([np.full(n_w, -np.inf), np.zeros(g.count)])
    row_upper = np.concatenate([p.stock.astype(float), np.zeros(g.count)])
    weights = np.concatenate([np.zeros(net.n_arcs), p.weight[g.active]])
    # Stage 2.
    stage2 = solve_lp(net, -weights, col_lower, col_upper, row_lower, row_upper)
    stages["weighted_units"] = {
        "status": stage2.status,
        "method": stage2.method,
        "seconds": round(stage2.seconds, 3),
    }
    log(f"  stage 2 (weighted units): {stage2.status} by {stage2.method} in {stage2.seconds:.3f} s")
    if stage2.status != "optimal":
        raise RuntimeError(f"stage 2 was not solved: HiGHS status {stage2.status}")
    best_weighted = float(weights @ stage2.x)
    stages["weighted_units"]["value"] = best_weighted
    # Stage 3, on the fine groups: on the face of stage-2 optima (complementary slackness with stage 2's
    # duals; a fine arc (w, g) has the reduced cost of the coarse arc (w, group of g)).
    net3 = network(p, fine) if fine is not g else net
    fine_weights = np.concatenate([np.zeros(net3.n_arcs), p.weight[fine.active]])
    lo3 = np.concatenate([np.zeros(net3.n_arcs), y_lower])
    up3 = np.concatenate([np.full(net3.n_arcs, np.inf), y_upper])
    rlo3 = np.concatenate([np.full(n_w, -np.inf), np.zeros(fine.count)])
    rup3 = np.concatenate([p.stock.astype(float), np.zeros(fine.count)])
    full_bounds = (lo3.copy(), up3.copy(), rlo3.copy(), rup3.copy())
    extra_row = None
    tolerance = 1e-9 * max(1.0, abs(best_weighted))
    if stage2.col_dual is not None:
        tol = 1e-9 * max(1.0, float(np.abs(weights).max(initial=0.0)))
        arc_dual, y_dual = stage2.col_dual[: net.n_arcs], stage2.col_dual[net.n_arcs :]
        # The coarse group of each fine group, then the coarse arc of each fine arc.
        first_region = np.zeros(fine.count, dtype=np.int64)
        first_region[fine.region_group[::-1]] = np.arange(len(fine.active))[::-1]
        coarse_group = g.region_group[first_region]
        coarse_arc = np.searchsorted(g.arc_g * n_w + g.arc_w, coarse_group[fine.arc_g] * n_w + fine.arc_w)
        up3[: net3.n_arcs][arc_dual[coarse_arc] > tol] = 0.0
        y_lo, y_up = lo3[net3.n_arcs :], up3[net3.n_arcs :]
        y_up[y_dual > tol] = y_lo[y_dual > tol]
        y_lo[y_dual < -tol] = y_up[y_dual < -tol]
        w_dual = stage2.row_dual[:n_w]
        rup3[:n_w][w_dual > tol] = rlo3[:n_w][w_dual > tol]
        rlo3[:n_w][w_dual < -tol] = rup3[:n_w][w_dual < -tol]
    else:  # stage 2 needed the MIP: keep its value with an explicit row
        extra_row = (best_weighted - tolerance, np.inf, fine_weights)
    stage3 = solve_lp(
        net3, np.concatenate([fine.arc_d, np.zeros(net3.n_regions)]), lo3, up3, rlo3, rup3, extra_row
    )
    if stage3.status != "optimal" or float(fine_weights @ stage3.x) < best_weighted - tolerance:
        # Tolerance trouble with the duals: keep stage 2's value with an explicit row instead.
        extra_row = (best_weighted - tolerance, np.inf, fine_weights)
        stage3 = solve_lp(
            net3, np.concatenate([fine.arc_d, np.zeros(net3.n_regions)]), *full_bounds, extra_row
        )
    stages["distance"] = {
        "status": stage3.status,
        "method": stage3.method,
        "seconds": round(stage3.seconds, 3),
    }
    log(f"  stage 3 (distance): {stage3.status} by {stage3.method} in {stage3.seconds:.3f} s")
    if stage3.status != "optimal":
        raise RuntimeError(f"stage 3 was not solved: HiGHS status {stage3.status}")
    units = _disaggregate(p, fine, stage3.x[: net3.n_arcs], stage3.x[net3.n_arcs :])
    return _finish(p, units, stages, started, stage1 if equity else None, "exact" if equity else "no-equity")


def _disaggregate(
    p: Problem, g: Groups, arc_units: np.ndarray, region_units: np.ndarray
) -> dict[tuple[int, int], int]:
    """Split each group's arc flows over its regions (any split is valid: they share warehouses and
    distances), in id order, north-west corner."""
    units: dict[tuple[int, int], int] = {}
    arcs_of = [[] for _ in range(g.count)]
    for a in np.flatnonzero(arc_units > 0).tolist():
        arcs_of[g.arc_g[a]].append([int(g.arc_w[a]), int(arc_units[a])])
    regions_of = [[] for _ in range(g.count)]
    for i in np.flatnonzero(region_units > 0).tolist():
        regions_of[g.region_group[i]].append([int(g.active[i]), int(region_units[i])])
    for group in range(g.count):
        arcs, regions = arcs_of[group], regions_of[group]
        a = 0
        for region, wanted in regions:
            while wanted > 0:
                warehouse, left = arcs[a]
                take = min(left, wanted)
                units[(warehouse, region)] = units.get((warehouse, region), 0) + take
                wanted -= take
                arcs[a][1] -= take
                if arcs[a][1] == 0:
                    a += 1
    return units


def _finish(
    p: Problem,
    units_by_index: dict[tuple[int, int], int],
    stages: dict,
    started: float,
    stage1: Stage1 | None,
    method: str,
) -> Allocation:
    received = np.zeros(len(p.regions), dtype=np.int64)
    shipped = np.zeros(len(p.warehouses), dtype=np.int64)
    n_w = max(1, len(p.warehouses))
    pairs = np.array(list(units_by_index), dtype=np.int64).reshape(-1, 2)
    amounts = np.array(list(units_by_index.values()), dtype=np.int64)
    np.add.at(received, pairs[:, 1], amounts)
    np.add.at(shipped, pairs[:, 0], amounts)
    arc_key = p.arc_r * n_w + p.arc_w  # sorted: arcs are ordered by region, then warehouse
    position = np.searchsorted(arc_key, pairs[:, 1] * n_w + pairs[:, 0])
    total_distance = float(amounts @ p.arc_d[position]) if len(amounts) else 0.0
    reached = np.zeros(len(p.regions), dtype=bool)
    reached[p.arc_r] = True
    with_need = p.need > 0
    active = with_need & reached
    unreachable = np.flatnonzero(with_need & ~reached)
    coverage = received[active] / p.need[active]
    min_coverage = float(coverage.min()) if coverage.size else 1.0
    all_coverage = received[with_need] / p.need[with_need]
    min_all = float(all_coverage.min()) if all_coverage.size else 1.0
    weighted = float(received @ p.weight)
    units = {(p.warehouses[w], p.regions[r]): n for (w, r), n in sorted(units_by_index.items()) if n > 0}
    statuses = [stage["status"] for stage in stages.values() if stage["status"] != "skipped"]
    status = (
        "optimal" if all(s == "optimal" for s in statuses) else next(s for s in statuses if s != "optimal")
    )
    totals = {
        "warehouses": len(p.warehouses),
        "regions": len(p.regions),
        "regions_with_need": int(with_need.sum()),
        "regions_unreachable": len(unreachable),
        "reach_pairs": len(p.arc_w),
        "stock": int(p.stock.sum()),
        "need": int(p.need.sum()),
        "need_reachable": int(p.need[active].sum()),
        "need_unreachable": int(p.need[unreachable].sum()),
        "allocated": int(received.sum()),
        "stock_left": int(p.stock.sum() - received.sum()),
        "regions_fully_covered": int((received[with_need] == p.need[with_need]).sum()),
        "regions_receiving": int((received > 0).sum()),
        "rows": len(units),
    }
    exact = (
        f"{stage1.level.numerator}/{stage1.level.denominator}"
        if stage1 is not None
        else str(Fraction(min_coverage).limit_denominator(MAX_NEED))
    )
    allocation = Allocation(
        units=units,
        min_coverage=min_coverage,
        weighted_units=weighted,
        distance=total_distance,
        status=status,
        explanation=[],
        solve_seconds=time.perf_counter() - started,
        stages=stages,
        totals=totals,
        unreachable_regions=[p.regions[i] for i in unreachable],
        min_coverage_all_regions=min_all,
        min_coverage_exact=exact,
    )
    allocation.explanation = _explain(p, allocation, received, shipped, stage1, method)
    return allocation


def _explain(p, a: Allocation, received, shipped, stage1: Stage1 | None, method: str) -> list[str]:
    t = a.totals
    lines = [
        f"{_n(t['stock'], 'unit')} in {_n(t['warehouses'], 'warehouse')} for a need of {_n(t['need'], 'unit')} in "
        f"{_n(t['regions_with_need'], 'region')}; {t['allocated']:,} units are allocated "
        f"({_pct(t['allocated'] / t['need']) if t['need'] else '100%'} of the need)."
    ]
    if t["regions_unreachable"]:
        lines.append(
            f"Unreachable need: no warehouse reaches {_n(t['regions_unreachable'], 'region')} with a need of "
            f"{_n(t['need_unreachable'], 'unit')}, so they receive nothing: {_names(a.unreachable_regions)}. "
            "They are left out of the equity objective; give them reach (or stock in a warehouse that reaches "
            "them)."
        )
    if t["need_reachable"] == 0:
        lines.append("No reachable region has a need: nothing to allocate.")
        return lines
    if method == "greedy":
        lines.append(
            f"Greedy baseline (regions by weight, nearest warehouse first): the worst-served reachable region "
            f"gets {_pct(a.min_coverage)} of its need; weighted units {a.weighted_units:,.2f}; "
            f"{a.distance:,.1f} unit-km."
        )
        return lines
    if method == "no-equity":
        lines.append(
            f"Equity was not required (weighted units first): the worst-served reachable region gets "
            f"{_pct(a.min_coverage)} of its need."
        )
    else:
        lines.append(
            f"Equity first: every reachable region with a need receives at least {_pct(a.min_coverage)} of it "
            f"(exactly {a.min_coverage_exact})."
        )
    certificate = stage1.certificate if stage1 is not None else None
    if certificate is not None:
        regions = [p.regions[i] for i in certificate["regions"].tolist()]
        warehouses = [p.warehouses[i] for i in certificate["warehouses"].tolist()]
        lines.append(
            f"This cannot be raised: to give each region at least {_pct(float(certificate['level_above']))}, "
            f"the {_n(len(regions), 'region')} {_names(regions)} would need {certificate['units_needed']:,} units, "
            f"but the warehouses that reach them ({_names(warehouses) or 'none'}) hold only "
            f"{certificate['supply']:,}."
        )
    with_need = p.need > 0
    capped = [p.regions[i] for i in np.flatnonzero(with_need & (received == p.need)).tolist()]
    if capped:
        lines.append(
            f"{_n(len(capped), 'region')} {'receives' if len(capped) == 1 else 'receive'} their full need (capped at need): {_names(capped)}."
        )
    emptied = [p.warehouses[i] for i in np.flatnonzero((shipped == p.stock) & (p.stock > 0)).tolist()]
    left = [
        (p.warehouses[i], int(p.stock[i] - shipped[i])) for i in np.flatnonzero(shipped < p.stock).tolist()
    ]
    if emptied:
        lines.append(
            f"{_n(len(emptied), 'warehouse')} {'ships' if len(emptied) == 1 else 'ship'} all their stock: {_names(emptied)}."
        )
    if left:
        shown = [f"{w} ({n:,} units)" for w, n in left]
        lines.append(
            f"{_n(len(left), 'warehouse')} {'keeps' if len(left) == 1 else 'keep'} stock that no region they reach can use (fully covered, or weight 0 "
            f"beyond the equity floor): "
            f"{_names(shown)}."
        )
    lines.append(
        f"Then vulnerability: the units beyond the equity floor go to the highest-weight regions; weighted "
        f"units {a.weighted_units:,.2f}. Then distance: among those allocations the total transport distance "
        f"is smallest, {a.distance:,.1f} unit-km."
    )
    if method == "mip":
        lines.append("Solved as three HiGHS MIPs on the ungrouped model (reference method).")
    return lines


# --- the baseline --------------------------------------------------------------------------------------------


def greedy_allocate(
    stock: dict[str, int],
    need: list[tuple[str, int, float]],
    reach: list[tuple[str, str, float]] | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> Allocation:
    """Baseline: regions by weight (highest first, then id), each served fully if it can be, from its
    nearest warehouse first. What a coordinator would do by hand."""
    started = time.perf_counter()
    p = build_problem(stock, need, reach)
    left = p.stock.copy()
    units: dict[tuple[int, int], int] = {}
    starts = np.searchsorted(p.arc_r, np.arange(len(p.regions)), side="left")
    ends = np.searchsorted(p.arc_r, np.arange(len(p.regions)), side="right")
    order = sorted(range(len(p.regions)), key=lambda r: (-p.weight[r], p.regions[r]))
    for r in order:
        wanted = int(p.need[r])
        if wanted == 0:
            continue
        arcs = sorted(range(starts[r], ends[r]), key=lambda a: (p.arc_d[a], p.warehouses[p.arc_w[a]]))
        for a in arcs:
            w = int(p.arc_w[a])
            take = min(wanted, int(left[w]))
            if take:
                units[(w, r)] = take
                left[w] -= take
                wanted -= take
            if wanted == 0:
                break
    stages = {"greedy": {"status": "heuristic", "method": "weight order, nearest warehouse first"}}
    allocation = _finish(p, units, stages, started, None, "greedy")
    allocation.status = "heuristic"
    return allocation
