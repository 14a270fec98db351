"""Allocation of scarce stock at national scale: 31 warehouses (one per province) and ~54,000 health posts,
each post reached by the warehouses of its own province and of the neighbouring provinces. Prints JSON.

    .venv/bin/python bench/allocate.py                    # 54,000 posts, stock 45% of need
    .venv/bin/python bench/allocate.py --posts 20000 --stock-share 0.3 --cli

Target: the lexicographic optimum (equity, weighted units, distance) proven in <= 10 s.

The synthetic instance (deterministic, --seed):
- posts: --posts posts spread over the 429 counties of data/iran in proportion to the 2016 population
  (largest remainder), each post located at its county's centre (mean of the county polygon's vertices);
- warehouses: one per province, at the centre of the province's most populous county (its capital, mostly),
  with stock summing to --stock-share of the total need, split by province population × a log-normal factor
  (some provinces short, some long);
- need per post: Poisson(6) units (some posts have none); weight (vulnerability): Gamma(2, 0.5) + 0.25;
- reach: the post's province and its neighbours (data/iran/province_neighbours.csv); distance: great-circle km
  from the warehouse to the post's county centre (planning at county-seat resolution: the posts of one county
  are interchangeable, which the solver exploits).

Measured in the same run: the exact method (mahalle.aid.optim.allocation.allocate), the same without the
equity stage (weighted units first: the best a weight-only policy can do), and the baseline greedy_allocate
(posts by weight, nearest warehouse first): time, min coverage (equity), weighted coverage
(weighted units ÷ Σ weight·need), posts left with nothing, distance. --cli also times `mahalle allocate` on the
same instance written as CSV files (reading, solving, writing), and checks its output against the in-process one.
--check-mip N cross-checks the exact method against the plain HiGHS MIP on N small random sub-instances.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import ROOT, machine

sys.path.insert(0, str(ROOT))

from mahalle.aid.optim.allocation import allocate, greedy_allocate  # noqa: E402
from mahalle.aid.optim.geography import haversine_km  # noqa: E402

DATA = ROOT / "data" / "iran"
TARGET_SECONDS = 10.0


def county_centres() -> dict[str, tuple[float, float]]:
    collection = json.loads((DATA / "counties_2016.geojson").read_text(encoding="utf-8"))
    centres = {}
    for feature in collection["features"]:
        geometry = feature["geometry"]
        polygons = (
            geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        )
        ring = max((polygon[0] for polygon in polygons), key=len)
        xs, ys = zip(*[(x, y) for x, y, *_ in ring[:-1]], strict=True)
        centres[feature["properties"]["county_code"]] = (sum(xs) / len(xs), sum(ys) / len(ys))
    return centres


def instance(posts: int, stock_share: float, seed: int, post_distances: bool = False):
    rng = np.random.default_rng(seed)
    with (DATA / "counties_2016.csv").open(encoding="utf-8") as handle:
        counties = list(csv.DictReader(handle))
    with (DATA / "province_neighbours.csv").open(encoding="utf-8") as handle:
        neighbours = defaultdict(set)
        for row in csv.DictReader(handle):
            neighbours[row["province_code"]].add(row["neighbour_code"])
    centres = county_centres()
    population = np.array([int(c["population_2016"]) for c in counties], dtype=float)
    quota = population / population.sum() * posts
    per_county = np.floor(quota).astype(int)
    remainder = posts - per_county.sum()
    per_county[np.argsort(-(quota - per_county), kind="stable")[:remainder]] += 1
    provinces = sorted({c["province_code"] for c in counties})
    capital = {}
    province_population = defaultdict(int)
    for c in counties:
        p = c["province_code"]
        province_population[p] += int(c["population_2016"])
        if p not in capital or int(c["population_2016"]) > int(capital[p]["population_2016"]):
            capital[p] = c
    need = []
    post_county = []
    for county, count in zip(counties, per_county, strict=True):
        for i in range(count):
            post_county.append(county)
            need.append(
                (
                    f"P{county['county_code']}-{i + 1:04d}",
                    int(rng.poisson(6)),
                    round(float(rng.gamma(2, 0.5)) + 0.25, 2),
                )
            )
    total_need = sum(n for _, n, _ in need)
    share = np.array([province_population[p] for p in provinces], dtype=float) * rng.lognormal(
        0, 0.35, len(provinces)
    )
    share = share / share.sum()
    stock_total = int(total_need * stock_share)
    units = np.floor(share * stock_total).astype(int)
    units[: stock_total - units.sum()] += 1
    stock = {f"W{p}": int(u) for p, u in zip(provinces, units, strict=True)}
    distance_cache = {}
    reach = []
    # --post-distances: each post 0-15 km from its county centre, so every post has its own distances.
    offsets = rng.uniform(-0.15, 0.15, size=(len(need), 2)) if post_distances else np.zeros((len(need), 2))
    for (post, _, _), county, (dx, dy) in zip(need, post_county, offsets, strict=True):
        p = county["province_code"]
        for q in sorted({p} | neighbours[p]):
            key = (q, county["county_code"])
            if post_distances:
                wx, wy = centres[capital[q]["county_code"]]
                cx, cy = centres[county["county_code"]]
                distance = round(float(haversine_km(wx, wy, cx + dx, cy + dy)), 1)
            else:
                if key not in distance_cache:
                    wx, wy = centres[capital[q]["county_code"]]
                    cx, cy = centres[county["county_code"]]
                    distance_cache[key] = round(float(haversine_km(wx, wy, cx, cy)), 1)
                distance = distance_cache[key]
            reach.append((f"W{q}", post, distance))
    return stock, need, reach


def summary(result, need, seconds) -> dict:
    weighted_need = sum(n * w for _, n, w in need)
    received = defaultdict(int)
    for (_, region), n in result.units.items():
        received[region] += n
    return {
        "seconds": round(seconds, 3),
        "status": result.status,
        "min_coverage": round(result.min_coverage, 6),
        "weighted_units": round(result.weighted_units, 2),
        "weighted_coverage": round(result.weighted_units / weighted_need, 6) if weighted_need else 1.0,
        "total_distance_km": round(result.distance, 1),
        "allocated": result.totals["allocated"],
        "posts_with_need_getting_nothing": sum(1 for r, n, _ in need if n > 0 and received[r] == 0),
        "posts_fully_covered": result.totals["regions_fully_covered"],
    }


def write_csvs(folder: Path, stock, need, reach) -> None:
    with (folder / "stock.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["warehouse_id", "units"])
        writer.writerows(stock.items())
    with (folder / "need.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["region_id", "need", "weight"])
        writer.writerows(need)
    with (folder / "reach.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["warehouse_id", "region_id", "distance_km"])
        writer.writerows(reach)


def run_cli(stock, need, reach, expected_units) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csvs(folder, stock, need, reach)
        command = [
            str(ROOT / ".venv" / "bin" / "mahalle"),
            "allocate",
            "--stock", str(folder / "stock.csv"),
            "--need", str(folder / "need.csv"),
            "--reach", str(folder / "reach.csv"),
            "--out", str(folder / "allocation.csv"),
            "--json",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            return {"ok": False, "stderr": done.stderr[-2000:]}
        with (folder / "allocation.csv").open(encoding="utf-8") as handle:
            rows = {(r["warehouse_id"], r["region_id"]): int(r["units"]) for r in csv.DictReader(handle)}
        report = json.loads(done.stdout)
        return {
            "ok": True,
            "seconds_end_to_end": round(seconds, 3),
            "status": report["status"],
            "rows": len(rows),
            "same_allocation_as_in_process": rows == expected_units,
        }


def check_mip(count: int, seed: int) -> dict:
    """The exact method against plain HiGHS MIPs on small random instances with shared reach profiles."""
    rng = np.random.default_rng(seed)
    disagreements = 0
    for _ in range(count):
        stock = {f"w{i}": int(rng.integers(0, 40)) for i in range(int(rng.integers(1, 5)))}
        need = [
            (f"r{j}", int(rng.integers(0, 18)), float(rng.choice([0, 0.7, 1, 2, 2.5]))) for j in range(12)
        ]
        profiles = [
            {w: float(rng.choice([0, 1, 2, 5])) for w in stock if rng.random() < 0.7} for _ in range(3)
        ]
        reach = [(w, r, d) for r, _, _ in need for w, d in profiles[int(rng.integers(0, 3))].items()]
        a = allocate(stock, need, reach)
        b = allocate(stock, need, reach, method="mip")
        if (
            abs(a.min_coverage - b.min_coverage) > 1e-9
            or abs(a.weighted_units - b.weighted_units) > 1e-6
            or abs(a.distance - b.distance) > 1e-6
        ):
            disagreements += 1
    return {"instances": count, "disagreements": disagreements}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=54_000)
    parser.add_argument("--stock-share", type=float, default=0.45, help="total stock ÷ total need")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--post-distances",
        action="store_true",
        help="each post at its own place (0-15 km from the county centre) instead of at the county centre",
    )
    parser.add_argument("--cli", action="store_true", help="also time `mahalle allocate` on CSV files")
    parser.add_argument(
        "--check-mip", type=int, default=0, metavar="N", help="cross-check on N small instances"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    stock, need, reach = instance(args.posts, args.stock_share, args.seed, args.post_distances)
    build_seconds = time.perf_counter() - started

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    started = time.perf_counter()
    exact = allocate(stock, need, reach, log=log)
    exact_seconds = time.perf_counter() - started
    started = time.perf_counter()
    weight_only = allocate(stock, need, reach, equity=False)
    weight_only_seconds = time.perf_counter() - started
    started = time.perf_counter()
    greedy = greedy_allocate(stock, need, reach)
    greedy_seconds = time.perf_counter() - started
    report = {
        "benchmark": "allocate",
        "machine": machine(),
        "note": "2-core machine shared with other jobs while measuring",
        "instance": {
            "warehouses": len(stock),
            "posts": len(need),
            "posts_with_need": sum(1 for _, n, _ in need if n > 0),
            "reach_pairs": len(reach),
            "stock": sum(stock.values()),
            "need": sum(n for _, n, _ in need),
            "stock_share": args.stock_share,
            "distances": "per post" if args.post_distances else "county centre to warehouse",
            "seed": args.seed,
            "build_seconds": round(build_seconds, 3),
        },
        "target_seconds": TARGET_SECONDS,
        "exact": {**summary(exact, need, exact_seconds), "stages": exact.stages},
        "exact_without_equity": summary(weight_only, need, weight_only_seconds),
        "greedy_baseline": summary(greedy, need, greedy_seconds),
    }
    report["exact"]["within_target"] = exact_seconds <= TARGET_SECONDS and exact.status == "optimal"
    if args.cli:
        report["cli"] = run_cli(stock, need, reach, exact.units)
    if args.check_mip:
        report["check_against_mip"] = check_mip(args.check_mip, args.seed)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
