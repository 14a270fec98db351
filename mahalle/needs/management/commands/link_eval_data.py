"""`mahalle link-eval-data --out DIR`: synthetic Persian agency lists with known truth (no database)."""

from pathlib import Path

from django.core.management.base import CommandError

from mahalle.core.management.base import ResultCommand
from mahalle.needs.linkage.evaldata import PROFILES, write_eval_data


class Command(ResultCommand):
    help = (
        "Generate synthetic Persian agency lists (one CSV per agency, person-record format) and truth.csv "
        "(source, record_id, person_id) for evaluating linkage. No database."
    )
    json_help = "print a JSON summary"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="folder to write the CSVs into")
        parser.add_argument("--persons", type=int, default=10000, help="population size (default 10000)")
        parser.add_argument(
            "--agencies",
            type=int,
            default=len(PROFILES),
            help=f"number of agency lists (default {len(PROFILES)})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same files)")
        super().add_arguments(parser)

    def handle(self, *args, **opts):
        if opts["persons"] < 1 or opts["agencies"] < 1:
            raise CommandError("--persons and --agencies must be at least 1")
        summary = write_eval_data(Path(opts["out"]), opts["persons"], opts["agencies"], opts["seed"])
        files = ", ".join(f"{k}.csv ({v})" for k, v in summary["files"].items())
        plain = f"{summary['records']} records of {summary['persons']} persons: {files}, truth.csv"
        self.write_result(summary, as_json=opts["json"], plain=plain)
