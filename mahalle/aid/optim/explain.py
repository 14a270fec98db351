"""The Allocation answered: totals, coverage, and the explanation in sentences a coordinator can check."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from .equity import Stage1
from .problem import MAX_NEED, Allocation, Problem

LIST_IN_SENTENCE = 5  # ids named in one explanation sentence


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:LIST_IN_SENTENCE])
    return shown + (f" and {len(ids) - LIST_IN_SENTENCE:,} more" if len(ids) > LIST_IN_SENTENCE else "")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


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
