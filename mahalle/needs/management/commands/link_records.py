"""`mahalle link A.csv B.csv … --out clusters.csv`: link person lists into clusters; no database."""

import argparse
import sys
import time
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from mahalle.core.management.base import ResultCommand
from mahalle.needs.linkage.engine import LinkConfig, link_sources
from mahalle.needs.linkage.io import InputError, read_person_list

EPILOG = """\
Each input file is one source; its file name without extension is the source name (two files with the same
stem are an error). Columns (header row): record_id (required), national_code, first_name, last_name,
father_name, birth_date, sex, mobile, province, county, address; missing optional columns are allowed, extra
columns are ignored. UTF-8 (with or without BOM) or Windows-1256; comma, semicolon, tab or | separated; or XLSX.
Rows with an empty record_id or with every person field empty are skipped and reported; a record_id used twice
in one file is an error (exit 1, nothing written).

Output (--out): source, record_id, cluster_id, match_probability — every linked input record exactly once.
cluster_id is shared by the records of one person; match_probability is the highest probability of the
automatic links that joined the record to its cluster, and empty for a record alone in its cluster.
--review-out: pairs between the review and auto-link thresholds (source_l, record_id_l, source_r,
record_id_r, match_probability, evidence as JSON) for a person to decide.
"""


class Command(ResultCommand):
    help = "Link person-record CSVs from several sources into clusters of one person (no database)."
    json_help = "print a JSON summary at the end"
    requires_system_checks = []

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="person-record CSV/XLSX files, one per source")
        parser.add_argument("--out", required=True, help="clusters CSV to write")
        parser.add_argument("--review-out", help="review pairs CSV to write")
        super().add_arguments(parser)
        defaults = LinkConfig()
        parser.add_argument(
            "--auto-link", type=float, default=defaults.auto_link_threshold, help="auto-link threshold"
        )
        parser.add_argument(
            "--review", type=float, default=defaults.review_threshold, help="review threshold"
        )
        parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")

    def handle(self, *args, **opts):
        started = time.perf_counter()
        paths = [Path(f) for f in opts["files"]]
        stems = [p.stem for p in paths]
        if len(set(stems)) != len(stems):
            raise CommandError("two input files have the same name (stem); each file is one source")
        if not 0 < opts["review"] <= opts["auto_link"] <= 1:
            raise CommandError("thresholds must satisfy 0 < --review <= --auto-link <= 1")
        bar = tqdm(total=100, desc="linking", unit="%", file=sys.stderr)
        frames, reports = {}, []
        t = time.perf_counter()
        for path in paths:
            if not path.exists():
                bar.close()
                raise CommandError(f"{path}: no such file")
            try:
                df, report = read_person_list(path)
            except InputError as exc:
                bar.close()
                raise CommandError(str(exc)) from exc
            frames[path.stem] = df
            reports.append(report)
            for skip in report.skipped[:20]:
                self.stderr.write(f"{path.name} row {skip['row']}: skipped, {skip['reason']}")
            if len(report.skipped) > 20:
                self.stderr.write(f"{path.name}: {len(report.skipped) - 20} more rows skipped")
        read_seconds = round(time.perf_counter() - t, 3)
        bar.update(10)
        done = {"value": 10}

        def progress(stage: str, fraction: float) -> None:
            target = 10 + int(80 * fraction)
            bar.set_postfix_str(stage)
            bar.update(max(0, target - done["value"]))
            done["value"] = max(done["value"], target)

        config = LinkConfig(
            auto_link_threshold=opts["auto_link"], review_threshold=opts["review"], threads=opts["threads"]
        )
        result = link_sources(frames, config, progress=progress)
        t = time.perf_counter()
        out = Path(opts["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: an interrupted run never leaves half a file.
        partial = out.with_name(out.name + ".partial")
        result.clusters[["source", "record_id", "cluster_id", "match_probability"]].to_csv(
            partial, index=False, encoding="utf-8"
        )
        if opts["review_out"]:
            review_partial = Path(opts["review_out"] + ".partial")
            result.review.to_csv(review_partial, index=False, encoding="utf-8")
            review_partial.replace(opts["review_out"])
        partial.replace(out)
        write_seconds = round(time.perf_counter() - t, 3)
        bar.update(100 - done["value"])
        bar.close()
        sizes = result.clusters.groupby("cluster_id").size()
        summary = {
            "records": len(result.clusters),
            "sources": {r.source: r.records for r in reports},
            "skipped_rows": {r.source: r.skipped for r in reports if r.skipped},
            "missing_columns": {r.source: r.missing_columns for r in reports if r.missing_columns},
            "clusters": int(len(sizes)),
            "clusters_with_several_records": int((sizes > 1).sum()),
            "review_pairs": len(result.review),
            "pairs_scored": result.pairs_scored,
            "auto_link_threshold": config.auto_link_threshold,
            "review_threshold": config.review_threshold,
            "seconds": {"read": read_seconds, **result.stages, "write": write_seconds},
            "total_seconds": round(time.perf_counter() - started, 3),
        }
        self.write_result(
            summary,
            as_json=opts["json"],
            plain=f"{summary['records']} records from {len(frames)} sources -> {summary['clusters']} clusters "
            f"({summary['clusters_with_several_records']} with several records), "
            f"{summary['review_pairs']} pairs to review; written to {out}",
        )
