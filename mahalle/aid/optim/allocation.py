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

The modules: problem.py (the input checked, as arrays; groups of regions; the Allocation), equity.py (stage 1),
network.py (the LPs of stages 2 and 3), explain.py (totals and the explanation), reference.py (the plain MIPs),
and this one, which runs the stages in order (and the greedy baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from .equity import Stage1, max_level, next_level, solve_equity
from .explain import _finish
from .network import LPResult, Network, network, solve_lp
from .problem import Allocation, AllocationInputError, Groups, Problem, build_problem, group_regions
from .reference import allocate_mip

__all__ = [
    "Allocation",
    "AllocationInputError",
    "Problem",
    "allocate",
    "build_problem",
    "greedy_allocate",
    "max_level",
    "next_level",
]


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
    stage1 = _solve_equity_stage(p, g, equity, stages, log)
    net = network(p, g)
    y_lower = stage1.lower.astype(float)
    y_upper = p.need[g.active].astype(float)
    weights = np.concatenate([np.zeros(net.n_arcs), p.weight[g.active]])
    stage2 = _solve_weighted_stage(p, g, net, weights, y_lower, y_upper, stages, log)
    best_weighted = stages["weighted_units"]["value"]
    net3, stage3 = _solve_distance_stage(p, g, fine, net, stage2, weights, best_weighted, y_lower, y_upper)
    _stage_done(stages, "distance", 3, stage3, log)
    units = _disaggregate(p, fine, stage3.x[: net3.n_arcs], stage3.x[net3.n_arcs :])
    return _finish(p, units, stages, started, stage1 if equity else None, "exact" if equity else "no-equity")


def _stage_done(stages: dict, key: str, number: int, result: LPResult, log: Callable[[str], None]) -> None:
    """Record an LP stage (status, method, seconds) and stop unless it was solved to optimality."""
    stages[key] = {
        "status": result.status,
        "method": result.method,
        "seconds": round(result.seconds, 3),
    }
    log(
        f"  stage {number} ({key.replace('_', ' ')}): {result.status} by {result.method} in {result.seconds:.3f} s"
    )
    if result.status != "optimal":
        raise RuntimeError(f"stage {number} was not solved: HiGHS status {result.status}")


def _solve_equity_stage(
    p: Problem, g: Groups, equity: bool, stages: dict, log: Callable[[str], None]
) -> Stage1:
    """Stage 1: the max-min coverage level (or level 0 when equity is not required), recorded in `stages`."""
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
    return stage1


def _solve_weighted_stage(
    p: Problem, g: Groups, net: Network, weights, y_lower, y_upper, stages: dict, log: Callable[[str], None]
) -> LPResult:
    """Stage 2: the most vulnerability-weighted units above the equity floor; its value in `stages`."""
    n_w = len(p.warehouses)
    col_lower = np.concatenate([np.zeros(net.n_arcs), y_lower])
    col_upper = np.concatenate([np.full(net.n_arcs, np.inf), y_upper])
    row_lower = np.concatenate([np.full(n_w, -np.inf), np.zeros(g.count)])
    row_upper = np.concatenate([p.stock.astype(float), np.zeros(g.count)])
    stage2 = solve_lp(net, -weights, col_lower, col_upper, row_lower, row_upper)
    _stage_done(stages, "weighted_units", 2, stage2, log)
    stages["weighted_units"]["value"] = float(weights @ stage2.x)
    return stage2


def _solve_distance_stage(
    p: Problem,
    g: Groups,
    fine: Groups,
    net: Network,
    stage2: LPResult,
    weights,
    best_weighted: float,
    y_lower,
    y_upper,
) -> tuple[Network, LPResult]:
    """Stage 3, on the fine groups: on the face of stage-2 optima (complementary slackness with stage 2's
    duals; a fine arc (w, g) has the reduced cost of the coarse arc (w, group of g))."""
    n_w = len(p.warehouses)
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
    return net3, stage3


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
