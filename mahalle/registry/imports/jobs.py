"""Running an import job: the registry's use of the one file-ingest driver (core.ingest.IngestRun).

How a job runs (import_job_run):

1. The whole file is read once without writing anything (the *pre-scan*): encoding, CSV structure (quotes,
   column counts), header. A file that fails here fails the job with a plain message; nothing is written.
2. Rows are read again, cleaned (registry.rules.person_clean, the same rules as every form and API call)
   and grouped into batches. This reading runs in a forked reader process (settings.MAHALLE_IMPORT_READER,
   default "process"; "inline" keeps it in this process), so one core prepares batch k+1 while this process
   and the database write batch k. Fields that repeat (names, sexes, dates) are cleaned once and memoised.
3. Each batch is one transaction: one lookup of existing natural keys, one bulk insert through
   registry.services.persons_create_many / households_create_many (PostgreSQL COPY, SQLite executemany; one
   "create" audit event per record, its source {"import_job": id}), its row errors, one "import" audit event for
   the batch, and the job's progress (rows_done). A crash leaves whole batches committed; running the job again
   continues after rows_done.

Natural keys make a re-run a no-op: persons by national_code, else record_id (stored as external_id);
households by household_id (stored as external_id). Rows already in the registry count as rows_existing.
"""

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from mahalle.audit.services import audit_record
from mahalle.core.ingest import BatchResult, IngestRun, job_percent, prefetch_in_process, reader_mode
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import ImportJob, ImportRowError
from mahalle.registry.selectors import may_import

from .cleaning import HouseholdRowCleaner, PersonRowCleaner, truncate_value
from .formats import Source
from .reading import PreparedBatch, prepared_batches
from .writing import HouseholdWriter, PersonWriter


class ImportRun(IngestRun):
    model, row_error_model = ImportJob, ImportRowError
    open_source = staticmethod(Source.open)
    refused_message = "the user who started this import may no longer import into this org unit"
    changed_file_message = "the file changed since this import started; start a new import with it"

    def __init__(self, *, reader: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.reader = reader

    def may_run(self, job: ImportJob) -> bool:
        return may_import(actor=self.actor, org_unit=job.org_unit)

    def prepare(self, job: ImportJob, source: Source) -> None:
        persons = job.kind == ImportJob.Kind.PERSONS
        posts = {
            code: (pk, path)
            for code, pk, path in OrgUnit.objects.filter(level=Level.POST).values_list("code", "pk", "path")
        }
        self.cleaner = (PersonRowCleaner if persons else HouseholdRowCleaner)(
            source.header,
            job=job,
            posts=posts,
            vendor=connection.vendor,
            actor_id=self.actor.pk if self.actor else None,
            today=dt.date.today(),
            adapt_datetime=connection.ops.adapt_datetimefield_value,
        )
        writer = PersonWriter if persons else HouseholdWriter
        self.writer = writer(actor=self.actor, source={"import_job": job.pk})

    def batches(self, job: ImportJob, source: Source):
        first_batch = -(-job.rows_done // self.batch_size) + 1

        def make_batches():
            return prepared_batches(
                self.cleaner,
                source.records(),
                skip=job.rows_done,
                batch_size=self.batch_size,
                number=first_batch,
            )

        return make_batches() if reader_mode(self.reader) == "inline" else prefetch_in_process(make_batches)

    def batch_rows(self, batch: PreparedBatch) -> int:
        return batch.rows

    def write(self, job: ImportJob, batch: PreparedBatch) -> BatchResult:
        created, existing = self.writer.write(batch)
        return BatchResult(
            counts={"rows_created": created, "rows_existing": existing, "rows_invalid": batch.invalid},
            row_errors=[
                ImportRowError(
                    job_id=job.pk,
                    row_number=row,
                    field=field,
                    message=message[:500],
                    value=truncate_value(value),
                )
                for row, field, message, value in batch.errors
            ],
        )

    def audit(self, job: ImportJob, batch: PreparedBatch, result: BatchResult) -> None:
        audit_record(
            actor=self.actor,
            action="import",
            obj=job,
            org_unit=job.org_unit,
            details={
                "job": job.pk,
                "kind": job.kind,
                "batch": batch.number,
                "rows": [batch.first_row, batch.last_row],
                "created": result.counts["rows_created"],
                "existing": result.counts["rows_existing"],
                "invalid": batch.invalid,
            },
        )


def import_job_run(
    *,
    job_id: int,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    batch_hook: Callable[[ImportJob, PreparedBatch], None] | None = None,
    reader: str | None = None,
) -> ImportJob:
    """Run or resume an import job; idempotent (a done job is returned as is, a stopped one continues
    after rows_done). It commits item by item: each batch of rows is one transaction with its audit events.
    File-level problems fail the job with a message. Any other error also marks it failed (resumable) and is
    raised. `progress(n)` is told of each committed batch; `batch_hook` runs inside each batch's transaction
    (tests use it to simulate a crash)."""
    return ImportRun(
        batch_size=batch_size or settings.MAHALLE_IMPORT_BATCH_SIZE,
        progress=progress,
        batch_hook=batch_hook,
        reader=reader,
    ).run(job_id)


def import_job_percent(job: ImportJob) -> float:
    return job_percent(job)


def import_job_summary(job: ImportJob, seconds: float | None = None) -> dict:
    summary = {
        "job": job.pk,
        "kind": job.kind,
        "status": job.status,
        "file": job.file_name,
        "org_unit": job.org_unit.code,
        "encoding": job.encoding,
        "total_rows": job.total_rows,
        "rows": job.rows_done,
        "created": job.rows_created,
        "existing": job.rows_existing,
        "invalid": job.rows_invalid,
        "percent": import_job_percent(job),
        "message": job.message,
    }
    if seconds is not None:
        summary["seconds"] = round(seconds, 3)
    return summary
