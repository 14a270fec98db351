"""The allocation's input and output: the validated problem as arrays (build_problem), the groups of
interchangeable regions (group_regions) and the Allocation answered. Pure: NumPy only."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from decimal import Decimal

import numpy as np

INT32_MAX = 2**31 - 1
MAX_NEED = 10**7  # per region: keeps every exact level computation inside int64


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
