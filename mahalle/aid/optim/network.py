"""Stages 2 and 3: HiGHS LPs on the grouped network (a network matrix: the simplex vertex is integral; a MIP
is the fallback). Pure: NumPy and HiGHS."""

from __future__ import annotations

import dataclasses
import time

import highspy
import numpy as np

from .highs import new_highs
from .problem import Groups, Problem

INTEGRALITY_TOL = 1e-6
_LP_OPTIONS: dict = {"solver": "simplex"}


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
