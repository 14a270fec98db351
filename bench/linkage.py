"""Linkage benchmark: accuracy (Persian eval set + FEBRL4) and speed (1M records end to end; incremental).

    python bench/linkage.py [--records 1000000] [--registry 1000000] [--new 10000] [--accuracy-persons 20000]
                            [--skip-speed] [--skip-accuracy] [--workdir /tmp/mahalle-linkage-bench]

Prints one JSON document. Every engine run happens in its own child process, which reports its own peak
memory (ru_maxrss, DuckDB included) and stage times. The plain splink baseline (basic cleaning only,
standard comparisons, trained on the input) runs on the same files in the same run. No database.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_lists(folder: Path) -> dict:
    from mahalle.needs.linkage.io import read_person_list

    return {p.stem: read_person_list(p)[0] for p in sorted(folder.glob("*.csv")) if p.stem != "truth"}


# --- child stages ----------------------------------------------------------------------------------------------
def child_link(folder: Path, engine: str, out: Path) -> dict:
    import pandas as pd

    from mahalle.needs.linkage.evaluate import pairwise_scores

    t0 = time.perf_counter()
    frames = load_lists(folder)
    read_s = time.perf_counter() - t0
    records = sum(len(f) for f in frames.values())
    if engine == "mahalle":
        from mahalle.needs.linkage.engine import LinkConfig, link_sources

        result = link_sources(frames, LinkConfig(estimate_u=True))
        clusters, stages, review = result.clusters, result.stages, len(result.review)
    else:
        from mahalle.needs.linkage.baseline import link_baseline

        t = time.perf_counter()
        clusters = link_baseline(frames, careful=engine == "baseline_careful")
        stages, review = {"link": round(time.perf_counter() - t, 3)}, None
    t = time.perf_counter()
    clusters.to_csv(out, index=False)
    write_s = time.perf_counter() - t
    total = time.perf_counter() - t0
    report = {
        "engine": engine,
        "records": records,
        "sources": len(frames),
        "seconds": {"read": round(read_s, 3), **stages, "write": round(write_s, 3)},
        "total_seconds": round(total, 2),
        "records_per_second": round(records / total),
        "peak_memory_mb": peak_mb(),
        "clusters": int(clusters["cluster_id"].nunique()),
        "review_pairs": review,
    }
    truth_path = folder / "truth.csv"
    if truth_path.exists():
        truth = pd.read_csv(truth_path, dtype=str)
        report["accuracy"] = {
            k: v
            for k, v in pairwise_scores(clusters, truth).items()
            if k
            in ("precision", "recall", "f1", "true_pairs", "false_positive_pairs", "false_negative_pairs")
        }
    return report


def child_incremental(folder: Path, n_new: int) -> dict:
    import pandas as pd

    from mahalle.needs.linkage.engine import link_incremental
    from mahalle.needs.linkage.prepare import prepare

    registry = pd.read_csv(folder / "registry.csv", dtype=str, keep_default_na=False)
    new = pd.read_csv(folder / "new.csv", dtype=str, keep_default_na=False).head(n_new)
    truth = pd.read_csv(folder / "new_truth.csv", dtype=str).set_index("record_id")["person_id"]
    t = time.perf_counter()
    pairs = link_incremental(new, registry)
    raw_s = time.perf_counter() - t
    t = time.perf_counter()
    prepared = prepare(registry)
    prep_s = time.perf_counter() - t
    t = time.perf_counter()
    pairs2 = link_incremental(new, prepared)
    warm_s = time.perf_counter() - t
    best = pairs.drop_duplicates("record_id")
    auto = best[best["match_probability"] >= 0.99]
    correct = (auto["record_id"].map(truth) == auto["registry_id"]).sum()
    listed = new["record_id"].map(truth).isin(set(registry["record_id"])).sum()
    return {
        "registry_persons": len(registry),
        "new_records": len(new),
        "seconds_raw_registry": round(raw_s, 2),
        "seconds_registry_prepare": round(prep_s, 2),
        "seconds_prepared_registry": round(warm_s, 2),
        "candidate_pairs": len(pairs),
        "same_pairs_both_ways": len(pairs) == len(pairs2),
        "auto_linked": len(auto),
        "auto_linked_correct": int(correct),
        "auto_linked_wrong": int(len(auto) - correct),
        "new_records_in_registry": int(listed),
        "registered_missed": int(listed - correct),
        "peak_memory_mb": peak_mb(),
    }


def child_febrl() -> dict:
    from mahalle.needs.linkage.baseline import link_baseline
    from mahalle.needs.linkage.engine import LinkConfig, link_sources
    from mahalle.needs.linkage.evaluate import pairwise_scores
    from mahalle.needs.linkage.febrl import febrl4

    frames, truth = febrl4()
    out = {}
    t = time.perf_counter()
    scores = pairwise_scores(link_sources(frames, LinkConfig(train=True)).clusters, truth)
    out["mahalle"] = {k: scores[k] for k in ("precision", "recall", "f1")} | {
        "seconds": round(time.perf_counter() - t, 1)
    }
    t = time.perf_counter()
    scores = pairwise_scores(link_baseline(frames), truth)
    out["baseline"] = {k: scores[k] for k in ("precision", "recall", "f1")} | {
        "seconds": round(time.perf_counter() - t, 1)
    }
    return out


# --- data --------------------------------------------------------------------------------------------------------
def make_lists(folder: Path, persons: int, seed: int) -> dict:
    from mahalle.needs.linkage.evaldata import write_eval_data

    if (folder / "truth.csv").exists():
        return {"reused": str(folder)}
    return write_eval_data(folder, persons, 4, seed)


def make_incremental(folder: Path, registry_persons: int, n_new: int, seed: int) -> None:
    """registry.csv: one clean record per person; new.csv: an agency list (about half already registered)."""
    import csv
    import random

    from mahalle.needs.linkage.evaldata import PROFILES, RECORD_COLUMNS, generate_population, render_record

    if (folder / "new.csv").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    persons = generate_population(registry_persons + n_new, seed)
    registered, unregistered = persons[:registry_persons], persons[registry_persons:]
    rng = random.Random(seed)
    clean = PROFILES[0].__class__("registry", 1.0, "gregorian", mobile_other=0.0, moved=0.0)
    with open(folder / "registry.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=RECORD_COLUMNS)
        w.writeheader()
        for p in registered:
            w.writerow(render_record(rng, clean, p, p["person_id"]))
    chosen = rng.sample(registered, n_new // 2) + unregistered[: n_new - n_new // 2]
    rng.shuffle(chosen)
    with (
        open(folder / "new.csv", "w", encoding="utf-8", newline="") as fh,
        open(folder / "new_truth.csv", "w", encoding="utf-8", newline="") as th,
    ):
        w = csv.DictWriter(fh, fieldnames=RECORD_COLUMNS)
        w.writeheader()
        t = csv.writer(th)
        t.writerow(["record_id", "person_id"])
        for i, p in enumerate(chosen):
            rid = f"N{i + 1:06d}"
            w.writerow(render_record(rng, PROFILES[1], p, rid))
            t.writerow([rid, p["person_id"]])


def run_child(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="approximate records for the speed run"
    )
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--accuracy-persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-baseline-speed", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mahalle-linkage-bench"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "link":
            report = child_link(Path(rest[0]), rest[1], Path(rest[2]))
        elif kind == "incremental":
            report = child_incremental(Path(rest[0]), int(rest[1]))
        else:
            report = child_febrl()
        print(json.dumps(report, ensure_ascii=False))
        return

    work = Path(args.workdir)
    out = {"machine": machine(), "note": "2 cores shared with other helpers' work; times are upper bounds"}
    if not args.skip_accuracy:
        folder = work / f"accuracy-{args.accuracy_persons}-{args.seed}"
        out["accuracy_data"] = make_lists(folder, args.accuracy_persons, args.seed)
        out["accuracy"] = {
            engine: run_child("link", str(folder), engine, str(work / f"acc-{engine}.csv"))
            for engine in ("mahalle", "baseline", "baseline_careful")
        }
        out["febrl4"] = run_child("febrl")
    if not args.skip_speed:
        # ~1.49 records per person with four agencies (coverage 0.55/0.45/0.40/0.30, 85% of members listed).
        persons = int(args.records / 1.49)
        folder = work / f"speed-{args.records}"
        t = time.perf_counter()
        out["speed_data"] = make_lists(folder, persons, args.seed + 100)
        out["speed_data"]["generate_seconds"] = round(time.perf_counter() - t, 1)
        out["speed"] = {"mahalle": run_child("link", str(folder), "mahalle", str(work / "speed-mahalle.csv"))}
        if not args.skip_baseline_speed:
            out["speed"]["baseline"] = run_child(
                "link", str(folder), "baseline", str(work / "speed-baseline.csv")
            )
        inc = work / f"incremental-{args.registry}-{args.new}"
        make_incremental(inc, args.registry, args.new, args.seed + 200)
        out["incremental"] = run_child("incremental", str(inc), str(args.new))
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
