"""The reference method: the three lexicographic stages as plain HiGHS MIPs on the ungrouped model
(one integer variable per reach pair). Exact but slow on large inputs; the tests check the fast method
against it on random small instances, and `mahalle allocate --method mip` exposes it."""

from __future__ import annotations

import time

import highspy
import numpy as np

from .highs import new_highs
from .problem import Problem


def _solve(num_col, cost, col_lower, col_upper, rows, integer_cols):
    """rows: list of (lower, upper, column indices, values). Minimise cost; returns (status, x)."""
    if num_col == 0:
        return "optimal", np.zeros(0)
    h = new_highs()
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    inf = highspy.kHighsInf
    for j in range(num_col):
        h.addVar(float(col_lower[j]), float(col_upper[j]) if np.isfinite(col_upper[j]) else inf)
    h.changeColsCost(num_col, np.arange(num_col, dtype=np.int32), np.asarray(cost, dtype=float))
    for lower, upper, index, value in rows:
        h.addRow(
            lower if np.isfinite(lower) else -inf,
            upper if np.isfinite(upper) else inf,
            len(index),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=float),
        )
    if len(integer_cols):
        h.changeColsIntegrality(
            len(integer_cols),
            np.asarray(integer_cols, dtype=np.int32),
            np.array([highspy.HighsVarType.kInteger] * len(integer_cols)),
        )
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return h.modelStatusToString(status), None
    return "optimal", np.asarray(h.getSolution().col_value)


def _stage(stages: dict, name: str, number: int, *problem):
    """Solve one stage's MIP (`problem`: the arguments of `_solve`) and record it in `stages[name]`; returns x."""
    started = time.perf_counter()
    status, x = _solve(*problem)
    stages[name] = {"status": status, "method": "mip", "seconds": round(time.perf_counter() - started, 3)}
    if x is None:
        raise RuntimeError(f"stage {number} MIP: {status}")
    return x


def allocate_mip(p: Problem) -> tuple[dict[tuple[int, int], int], dict]:
    n_arcs = len(p.arc_w)
    reached = np.zeros(len(p.regions), dtype=bool)
    reached[p.arc_r] = True
    active = np.flatnonzero(reached & (p.need > 0))
    supply_rows = [
        (-np.inf, float(p.stock[w]), np.flatnonzero(p.arc_w == w), np.ones(int((p.arc_w == w).sum())))
        for w in range(len(p.warehouses))
    ]
    arcs_of = {int(r): np.flatnonzero(p.arc_r == r) for r in range(len(p.regions))}
    cap_rows = [
        (-np.inf, float(p.need[r]), arcs_of[r], np.ones(len(arcs_of[r]))) for r in arcs_of if len(arcs_of[r])
    ]
    stages: dict = {}
    integer = np.arange(n_arcs)
    # Stage 1: max t, sum_w x[w,r] - need[r]·t >= 0 for active regions; t is column n_arcs.
    coverage_rows = [
        (
            0.0,
            np.inf,
            np.append(arcs_of[int(r)], n_arcs),
            np.append(np.ones(len(arcs_of[int(r)])), -float(p.need[r])),
        )
        for r in active
    ]
    cost = np.zeros(n_arcs + 1)
    cost[-1] = -1.0
    x = _stage(
        stages,
        "equity",
        1,
        n_arcs + 1,
        cost,
        np.zeros(n_arcs + 1),
        np.append(np.full(n_arcs, np.inf), 1.0 if len(active) else 1.0),
        supply_rows + cap_rows + coverage_rows,
        integer,
    )
    level = x[-1] if len(active) else 1.0
    stages["equity"]["value"] = float(level)
    lower = np.zeros(len(p.regions))
    lower[active] = np.ceil(level * p.need[active] - 1e-6)
    floor_rows = [(float(lower[r]), np.inf, arcs_of[int(r)], np.ones(len(arcs_of[int(r)]))) for r in active]
    # Stage 2: max sum weight[r]·x[w,r].
    weight_cost = p.weight[p.arc_r]
    rows = supply_rows + cap_rows + floor_rows
    no_bounds = (np.zeros(n_arcs), np.full(n_arcs, np.inf))
    x = _stage(stages, "weighted_units", 2, n_arcs, -weight_cost, *no_bounds, rows, integer)
    best = float(weight_cost @ np.round(x))
    stages["weighted_units"]["value"] = best
    # Stage 3: min distance with the weighted value kept.
    keep = (best - 1e-9 * max(1.0, abs(best)), np.inf, np.arange(n_arcs), weight_cost)
    x = _stage(stages, "distance", 3, n_arcs, p.arc_d, *no_bounds, [*rows, keep], integer)
    x = np.round(x).astype(np.int64)
    units = {(int(p.arc_w[a]), int(p.arc_r[a])): int(x[a]) for a in np.flatnonzero(x > 0)}
    return units, stages
