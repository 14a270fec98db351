import argparse
import sys
import time

from django.core.management.base import CommandError

from mahalle.accounts.models import User
from mahalle.core.errors import DomainError, field_errors_text
from mahalle.core.management.base import ResultCommand
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.imports import (
    HOUSEHOLD_COLUMNS,
    PERSON_COLUMNS,
    import_job_create,
    import_job_run,
    import_job_summary,
)
from mahalle.registry.models import ImportJob


def _columns_help() -> str:
    def block(columns: dict) -> str:
        return "\n".join(f"  {name:<17} {text}" for name, text in columns.items())

    return (
        "persons file columns (header row; other columns are ignored):\n"
        f"{block(PERSON_COLUMNS)}\n\n"
        "households file columns:\n"
        f"{block(HOUSEHOLD_COLUMNS)}\n\n"
        "CSV in UTF-8 (with or without BOM) or Windows-1256, delimiter , ; tab or |; or an XLSX workbook (first "
        "sheet). Rows already in the registry (same national_code / record_id / household_id) are counted as "
        "existing and left alone, so running a file twice creates nothing twice. Invalid rows are skipped and "
        "listed as row errors of the job. Exit status: 0 when the job is done (even with invalid rows), 1 when it "
        "failed (nothing of a failed batch is written; --resume continues after the last committed batch)."
    )


class Command(ResultCommand):
    help = "Import households or persons from a CSV or XLSX file into the registry."
    json_help = "print the summary as JSON"

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = _columns_help()
        return parser

    def add_arguments(self, parser):
        parser.add_argument("kind", nargs="?", choices=ImportJob.Kind.values, help="what the file holds")
        parser.add_argument("file", nargs="?", help="the CSV or XLSX file")
        parser.add_argument(
            "--org-unit",
            metavar="CODE",
            help="scope of the import: every row's post must lie inside it (default: the whole country; a "
            "post's code lets the file omit post_code)",
        )
        parser.add_argument("--batch-size", type=int, metavar="N", help="rows per transaction")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="continue a stopped import job")
        parser.add_argument(
            "--user", metavar="USERNAME", help="import as this user (their role and jurisdiction apply)"
        )
        super().add_arguments(parser)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            job = self._job(options)
        except DomainError as exc:
            details = field_errors_text(exc.errors)
            raise CommandError(f"{exc.detail}{' (' + details + ')' if details else ''}") from exc
        bar = None
        if not options["no_progress"]:
            from tqdm import tqdm

            bar = tqdm(
                total=None, initial=job.rows_done, unit="rows", file=sys.stderr, desc=f"import job {job.pk}"
            )

        def progress(rows: int) -> None:
            if bar is not None:
                if bar.total is None:
                    job.refresh_from_db(fields=["total_rows"])
                    bar.total = job.total_rows
                bar.update(rows)

        try:
            job = import_job_run(job_id=job.pk, batch_size=options["batch_size"], progress=progress)
        except Exception as exc:
            job.refresh_from_db()
            self._report(job, started, options)
            raise CommandError(job.message or str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        self._report(job, started, options)
        if job.status != ImportJob.Status.DONE:
            raise CommandError(f"import job {job.pk} failed: {job.message}")

    def _job(self, options) -> ImportJob:
        if options["resume"]:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"there is no import job {options['resume']}")
            if options["kind"] and options["kind"] != job.kind:
                raise CommandError(f"job {job.pk} imports {job.kind}, not {options['kind']}")
            return job
        if not options["kind"] or not options["file"]:
            raise CommandError("give the kind (households or persons) and the file, or --resume JOB_ID")
        actor = None
        if options["user"]:
            actor = User.objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"there is no user '{options['user']}'")
        if options["org_unit"]:
            unit = OrgUnit.objects.filter(code=options["org_unit"]).first()
            if unit is None:
                raise CommandError(f"there is no org unit with code '{options['org_unit']}'")
        else:
            unit = OrgUnit.objects.filter(level=Level.COUNTRY).order_by("path").first()
            if unit is None:
                raise CommandError("the org-unit tree is empty: run `mahalle load-geo` first")
        return import_job_create(actor=actor, kind=options["kind"], org_unit=unit, file_path=options["file"])

    def _report(self, job: ImportJob, started: float, options) -> None:
        summary = import_job_summary(job, seconds=time.perf_counter() - started)
        lines = [
            f"import job {job.pk} {job.status}: {job.rows_done} rows, {job.rows_created} created, "
            f"{job.rows_existing} already present, {job.rows_invalid} invalid "
            f"({job.encoding or '?'}, {summary['seconds']} s)"
        ]
        if job.rows_invalid:
            lines.append(f"row errors: GET /api/v1/registry/imports/{job.pk}/errors")
        if job.message:
            lines.append(job.message)
        self.write_result(summary, as_json=options["json"], plain="\n".join(lines))
