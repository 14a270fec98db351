from django.core.management.base import CommandError

from mahalle.accounts.models import Role, User
from mahalle.cases.services import lab_results_record
from mahalle.core.errors import DomainError, field_errors_text
from mahalle.core.ingest import ImportFileError
from mahalle.core.management.base import ResultCommand
from mahalle.registry.imports import Source

COLUMNS = {
    "sample_id": "required: the lab's sample id, as recorded when the sample was taken",
    "kind": "required: pcr or antigen",
    "result": "required: positive, negative or inconclusive (مثبت / منفی / نامشخص)",
    "result_date": "required: YYYY-MM-DD or Jalali YYYY/MM/DD, any digits",
    "lab": "optional: the laboratory's name",
}
BATCH = 500


class Command(ResultCommand):
    help = (
        "Import lab results from a CSV (UTF-8 or Windows-1256) or XLSX file, keyed by sample id. Columns: "
        + "; ".join(f"{name} ({text})" for name, text in COLUMNS.items())
        + ". A result already stored for a sample is 'exists' (re-running a file changes nothing); a different "
        "result for a sample that has one is a 'conflict' (corrections go through a supervisor, with a reason). "
        "Exit status 0 when the file was read (even with invalid rows), 1 when it could not be."
    )
    json_help = "print the summary as JSON"

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV or XLSX file")
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="record the results as this user (a post supervisor, coordinator or administrator; their "
            "jurisdiction applies). Default: the first active administrator",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            source = Source.open(options["file"])
            rows = list(source.records())
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        missing = [name for name in COLUMNS if name != "lab" and name not in source.header]
        if missing:
            raise CommandError(f"the header lacks the column(s): {', '.join(missing)}")
        position = {name: source.header.index(name) for name in COLUMNS if name in source.header}
        items = [
            (number, {name: values[index] for name, index in position.items()}) for number, values in rows
        ]
        report = []
        try:
            for start in range(0, len(items), BATCH):
                chunk = items[start : start + BATCH]
                results = lab_results_record(actor=actor, items=[item for _, item in chunk])
                report.extend(
                    {"row": number, "sample_id": result.id, "status": result.status, "errors": result.errors}
                    for (number, _), result in zip(chunk, results, strict=True)
                )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        counts = {}
        for entry in report:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        problems = [entry for entry in report if entry["errors"]]
        lines = [f"{len(report)} rows: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))]
        lines += [
            f"row {entry['row']} ({entry['sample_id']}): {entry['status']} — {field_errors_text(entry['errors'])}"
            for entry in problems
        ]
        self.write_result(
            {"rows": len(report), "counts": counts, "errors": problems},
            as_json=options["json"],
            plain="\n".join(lines),
        )

    def _actor(self, username):
        if username:
            actor = User.objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"there is no active user '{username}'")
            return actor
        actor = User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).order_by("pk").first()
        if actor is None:
            raise CommandError("there is no active administrator; give --user")
        return actor
