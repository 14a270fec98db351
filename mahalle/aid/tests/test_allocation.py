"""The allocation engine (mahalle.aid.optim.allocation): hand-checked optima of each lexicographic stage,
the constraints, edge cases, input errors, and agreement with the plain HiGHS MIP on random instances."""

import csv
import json
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mahalle.aid.optim.allocation import (
    AllocationInputError,
    allocate,
    greedy_allocate,
    max_level,
    next_level,
)
from mahalle.aid.optim.geography import shared_borders

ROOT = Path(__file__).resolve().parents[3]


def received(allocation, region):
    return sum(n for (_, r), n in allocation.units.items() if r == region)


def shipped(allocation, warehouse):
    return sum(n for (w, _), n in allocation.units.items() if w == warehouse)


# --- each stage decides, in order -------------------------------------------------------------------------


def test_equity_beats_weight():
    # Weight alone would give all 10 units to A; equity first gives 5 and 5.
    result = allocate({"W": 10}, [("A", 10, 10.0), ("B", 10, 1.0)])
    assert result.units == {("W", "A"): 5, ("W", "B"): 5}
    assert result.min_coverage == 0.5
    assert result.min_coverage_exact == "1/2"
    assert result.weighted_units == 55.0
    assert result.status == "optimal"
    assert [stage["status"] for stage in result.stages.values()] == ["optimal"] * 3


def test_weight_breaks_equity_ties():
    # Equity: each gets 5 (6 each would take 12 > 11); the 11th unit goes to the heavier B.
    result = allocate({"W": 11}, [("A", 10, 1.0), ("B", 10, 3.0)])
    assert result.units == {("W", "A"): 5, ("W", "B"): 6}
    assert result.min_coverage == 0.5
    assert result.weighted_units == 23.0


def test_distance_breaks_weight_ties():
    # Equity floor 2 + 2 (3 + 3 > 5); the fifth unit can go to A or B (same weight): B is 1 km away, A 10.
    result = allocate({"W1": 5}, [("A", 4, 1.0), ("B", 4, 1.0)], [("W1", "A", 10.0), ("W1", "B", 1.0)])
    assert result.units == {("W1", "A"): 2, ("W1", "B"): 3}
    assert result.min_coverage == 0.5
    assert result.weighted_units == 5.0
    assert result.distance == 23.0


def test_distance_chooses_the_warehouse():
    # Full coverage is possible either way; the nearest warehouse serves each region.
    result = allocate(
        {"N": 3, "S": 3},
        [("north", 3, 1.0), ("south", 3, 1.0)],
        [("N", "north", 5.0), ("N", "south", 50.0), ("S", "north", 60.0), ("S", "south", 4.0)],
    )
    assert result.units == {("N", "north"): 3, ("S", "south"): 3}
    assert result.min_coverage == 1.0
    assert result.distance == 27.0


def test_equity_is_integer_max_min_not_the_lp_bound():
    # LP bound: 7/9 per region; with integers 3 regions of need 3 sharing 7 units reach 2/3 at best.
    result = allocate({"W": 7}, [("A", 3, 1.0), ("B", 3, 2.0), ("C", 3, 3.0)])
    assert result.min_coverage_exact == "2/3"
    assert {r: received(result, r) for r in "ABC"} == {"A": 2, "B": 2, "C": 3}
    assert result.weighted_units == 2 + 4 + 9
    # The explanation names the binding set of regions and their warehouses.
    assert any(
        "cannot be raised" in line and "9 units" in line and "hold only 7" in line
        for line in result.explanation
    )


def test_reach_limits_the_floor_and_the_rest_flows_elsewhere():
    # Island region I can only use W1 (2 units for need 4): coverage 1/2 at best; M then takes the rest.
    result = allocate(
        {"W1": 2, "W2": 10},
        [("I", 4, 1.0), ("M", 4, 1.0)],
        [("W1", "I", 1.0), ("W1", "M", 1.0), ("W2", "M", 1.0)],
    )
    assert result.min_coverage == 0.5
    assert result.units == {("W1", "I"): 2, ("W2", "M"): 4}


# --- constraints -------------------------------------------------------------------------------------------


def test_caps_integrality_and_reach_on_a_random_instance():
    rng = random.Random(7)
    stock = {f"w{i}": rng.randint(0, 30) for i in range(5)}
    need = [(f"r{j}", rng.randint(0, 12), rng.choice([0.5, 1.0, 2.0])) for j in range(30)]
    reach = [(w, r, float(rng.randint(1, 9))) for w in stock for r, _, _ in need if rng.random() < 0.4]
    result = allocate(stock, need, reach)
    pairs = {(w, r) for w, r, _ in reach}
    assert result.status == "optimal"
    assert all(type(n) is int and n > 0 for n in result.units.values())
    assert set(result.units) <= pairs
    for region, units, _ in need:
        assert received(result, region) <= units
    for warehouse, units in stock.items():
        assert shipped(result, warehouse) <= units


def test_stage_values_are_those_of_the_units():
    need = [("A", 5, 2.0), ("B", 3, 1.5), ("C", 4, 0.0)]
    reach = [("W", "A", 2.0), ("W", "B", 3.0), ("V", "C", 7.0), ("V", "B", 1.0)]
    result = allocate({"W": 4, "V": 4}, need, reach)
    distance = {(w, r): d for w, r, d in reach}
    weight = {r: w for r, _, w in need}
    assert result.weighted_units == sum(n * weight[r] for (_, r), n in result.units.items())
    assert result.distance == sum(n * distance[k] for k, n in result.units.items())
    assert result.min_coverage == min(received(result, r) / n for r, n, _ in need)


def test_unreachable_regions_are_reported_and_left_out_of_equity():
    result = allocate({"W": 4}, [("A", 4, 1.0), ("far", 3, 5.0), ("none", 0, 1.0)], [("W", "A", 1.0)])
    assert result.units == {("W", "A"): 4}
    assert result.min_coverage == 1.0  # over reachable regions with need
    assert result.min_coverage_all_regions == 0.0
    assert result.unreachable_regions == ["far"]  # "none" has no need: not reported
    assert result.totals["need_unreachable"] == 3
    assert result.explanation[1].startswith(
        "Unreachable need: no warehouse reaches 1 region with a need of 3 units"
    )


def test_zero_stock_allocates_nothing():
    result = allocate({"W": 0}, [("A", 3, 1.0), ("B", 2, 1.0)])
    assert result.units == {}
    assert result.min_coverage == 0.0
    assert result.weighted_units == 0.0
    assert result.status == "optimal"


def test_zero_need_regions_get_nothing_and_do_not_count():
    result = allocate({"W": 5}, [("A", 0, 9.0), ("B", 2, 1.0)])
    assert result.units == {("W", "B"): 2}
    assert result.min_coverage == 1.0
    assert result.totals["stock_left"] == 3


def test_no_need_at_all():
    result = allocate({"W": 5}, [("A", 0, 1.0)])
    assert result.units == {}
    assert result.min_coverage == 1.0
    assert result.explanation[-1] == "No reachable region has a need: nothing to allocate."


def test_without_reach_every_warehouse_reaches_every_region_at_zero_km():
    result = allocate({"W1": 2, "W2": 2}, [("A", 2, 1.0), ("B", 2, 1.0)], None)
    assert result.min_coverage == 1.0
    assert result.distance == 0.0
    assert sum(result.units.values()) == 4


def test_more_stock_than_need_covers_everyone_and_keeps_the_rest():
    result = allocate({"W": 100}, [("A", 3, 1.0), ("B", 4, 1.0)])
    assert result.units == {("W", "A"): 3, ("W", "B"): 4}
    assert result.totals["stock_left"] == 93
    assert any(line.startswith("1 warehouse keeps stock") for line in result.explanation)


def test_decimal_weights_and_distances_are_numbers():
    result = allocate({"W": Decimal("3")}, [("A", 3, Decimal("1.5"))], [("W", "A", Decimal("2.5"))])
    assert result.units == {("W", "A"): 3}
    assert result.weighted_units == 4.5
    assert result.distance == 7.5


def test_without_equity_weight_decides_first():
    result = allocate({"W": 10}, [("A", 10, 10.0), ("B", 10, 1.0)], equity=False)
    assert result.units == {("W", "A"): 10}
    assert result.min_coverage == 0.0
    assert result.status == "optimal"
    assert result.stages["equity"]["status"] == "skipped"


# --- exactness against the plain MIP -------------------------------------------------------------------------


def random_instance(seed: int):
    rng = random.Random(seed)
    stock = {f"w{i}": rng.randint(0, 30) for i in range(rng.randint(1, 4))}
    need = [
        (f"r{j}", rng.randint(0, 11), rng.choice([0.0, 0.7, 1.0, 2.0, 2.5]))
        for j in range(rng.randint(1, 10))
    ]
    profiles = [{w: float(rng.choice([0, 1, 2, 5])) for w in stock if rng.random() < 0.7} for _ in range(3)]
    reach = [(w, r, d) for r, _, _ in need for w, d in rng.choice(profiles).items()]
    if seed % 2:  # region-specific reach too
        reach += [(w, r, 3.0) for w in stock for r, _, _ in need if rng.random() < 0.2 and (w, r) not in
                  {(a, b) for a, b, _ in reach}]  # fmt: skip
    return stock, need, reach


@pytest.mark.parametrize("seed", range(40))
def test_exact_method_matches_the_plain_highs_mip(seed):
    stock, need, reach = random_instance(seed)
    fast = allocate(stock, need, reach)
    mip = allocate(stock, need, reach, method="mip")
    assert fast.status == mip.status == "optimal"
    assert fast.min_coverage == pytest.approx(mip.min_coverage, abs=1e-9)
    assert fast.weighted_units == pytest.approx(mip.weighted_units, abs=1e-6)
    assert fast.distance == pytest.approx(mip.distance, abs=1e-6)
    # and the greedy baseline is never better on equity
    assert greedy_allocate(stock, need, reach).min_coverage <= fast.min_coverage + 1e-12


# --- the exact level search ------------------------------------------------------------------------------------


def test_max_level_is_the_largest_breakpoint_that_fits():
    need = np.array([3, 3, 3], dtype=np.int64)
    assert max_level(need, 7) == Fraction(2, 3)
    assert max_level(need, 6) == Fraction(2, 3)
    assert max_level(need, 5) == Fraction(1, 3)
    assert max_level(need, 2) == Fraction(0)
    assert max_level(need, 9) == Fraction(1)
    need = np.array([7, 10], dtype=np.int64)  # breakpoints k/7 and k/10 interleave
    for supply in range(18):
        best = max(
            (Fraction(k, m) for m in (7, 10) for k in range(m + 1)
             if sum(-(-(Fraction(k, m) * n).numerator // (Fraction(k, m) * n).denominator) for n in (7, 10)) <= supply),
        )  # fmt: skip
        assert max_level(need, supply) == best, supply


def test_next_level():
    need = np.array([4, 6], dtype=np.int64)
    assert next_level(need, Fraction(0)) == Fraction(1, 6)
    assert next_level(need, Fraction(1, 2)) == Fraction(2, 3)
    assert next_level(need, Fraction(1)) is None


# --- the baseline -------------------------------------------------------------------------------------------------


def test_greedy_serves_by_weight_then_nearest_warehouse():
    result = greedy_allocate(
        {"near": 3, "far": 10},
        [("A", 10, 1.0), ("B", 5, 2.0)],
        [("near", "A", 1.0), ("far", "A", 9.0), ("near", "B", 2.0), ("far", "B", 8.0)],
    )
    assert result.units == {("near", "B"): 3, ("far", "B"): 2, ("far", "A"): 8}
    assert result.status == "heuristic"
    assert result.min_coverage == 0.8


# --- input errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stock", "need", "reach", "message"),
    [
        ({"W": -1}, [("A", 1, 1.0)], None, "stock of warehouse 'W': -1 is negative"),
        ({"W": 1.5}, [("A", 1, 1.0)], None, "stock of warehouse 'W': 1.5 is not a whole number"),
        ({"W": True}, [("A", 1, 1.0)], None, "is not a whole number"),
        ({"W": 1}, [("A", 2.5, 1.0)], None, "need of region 'A': 2.5 is not a whole number"),
        ({"W": 1}, [("A", 1, 1.0), ("A", 2, 1.0)], None, "need: region 'A' appears twice"),
        ({"W": 1}, [("A", 1, -0.5)], None, "weight of region 'A': -0.5 is negative"),
        ({"W": 1}, [("A", 1, float("nan"))], None, "weight of region 'A': nan is not a finite number"),
        ({"W": 1}, [("A", 1, 1.0)], [("X", "A", 1.0)], "reach: warehouse 'X' is not in the stock list"),
        ({"W": 1}, [("A", 1, 1.0)], [("W", "Z", 1.0)], "reach: region 'Z' is not in the need list"),
        ({"W": 1}, [("A", 1, 1.0)], [("W", "A", -2.0)], "distance from 'W' to 'A': -2.0 is negative"),
        ({"W": 1}, [("A", 1, 1.0)], [("W", "A", "3")], "distance from 'W' to 'A': '3' is not a number"),
        ({"W": 1}, [("A", 1, 1.0)], [("W", "A", 1.0), ("W", "A", 2.0)], "the pair ('W', 'A') appears twice"),
        ({"W": 1}, [("A", 1)], None, "is not (region_id, need, weight)"),
    ],
)
def test_bad_input_is_a_clear_error(stock, need, reach, message):
    with pytest.raises(AllocationInputError, match=None) as caught:
        allocate(stock, need, reach)
    assert message in str(caught.value)


# --- province adjacency ---------------------------------------------------------------------------------------


def test_shared_borders_need_a_shared_segment():
    def square(code, x0, y0):
        ring = [[x0, y0], [x0 + 1, y0], [x0 + 1, y0 + 1], [x0, y0 + 1], [x0, y0]]
        return {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    collection = {
        "type": "FeatureCollection",
        "features": [square("a", 0, 0), square("b", 1, 0), square("c", 2, 1)],  # c touches b at a corner only
    }
    borders = shared_borders(collection, "code")
    assert set(borders) == {("a", "b"), ("b", "a")}
    assert borders[("a", "b")] == pytest.approx(111.2, abs=0.1)  # one degree of latitude at the equator


def test_province_neighbours_file_is_symmetric_and_knows_tehran():
    with (ROOT / "data" / "iran" / "province_neighbours.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pairs = {(row["province_code"], row["neighbour_code"]) for row in rows}
    assert all((b, a) in pairs for a, b in pairs)
    provinces = json.loads((ROOT / "data" / "iran" / "provinces.geojson").read_text(encoding="utf-8"))
    assert {a for a, _ in pairs} == {f["properties"]["province_code"] for f in provinces["features"]}
    # Tehran (23): Markazi 00, Mazandaran 02, Semnan 20, Qom 25, Alborz 30.
    assert {b for a, b in pairs if a == "23"} == {"00", "02", "20", "25", "30"}
