"""File-ingest jobs: the one driver for every uploaded file that is read into the database in batches (the registry
import, registry.imports; the agency lists of needs).

A job is a model row (registry.ImportJob, needs.AgencyList) with these fields: `status` (JobStatus values),
`message`, `finished_at`, `file_path`, `file_sha256`, `encoding`, `total_rows`, `rows_done`, `created_by`,
`org_unit`, and the counters its batches add to (`rows_created`, `rows_existing`, `rows_invalid`, …). Its row errors
are another model (ImportRowError, AgencyListRowError).

What this module owns, so that no app writes it again:

- uploads: `upload_store` streams an upload to MEDIA_ROOT/<folder>/<sha256>.<csv|xlsx> under the byte limit
  (MAHALLE_MAX_IMPORT_BYTES, else UploadTooLarge and nothing kept); `upload_name` is the name the job shows;
- the pre-scan: the whole file is read once before anything is written (encoding, structure, header, an optional
  row limit); a file that fails there fails the job with a plain message (ImportFileError) and writes nothing;
- batches: rows are read in batches (`record_batches`, or the app's own, e.g. prepared in a reader process with
  `prefetch_in_process`); each batch is one transaction with its rows, its row errors, its audit event and the
  job's progress: the run commits item by item, a batch being the item;
- resume: `rows_done` counts committed rows; running the job again skips them (`skip_row` sees each, so
  duplicates across a restart are still caught) and refuses a file whose content changed;
- status: pending → running → done, or failed with a message (ImportFileError: the file; any other error: the
  rows done so far, and the error is raised again); a done job is returned as is; a creator who may no longer run
  the job fails it; with `lock_progress` a second worker on the same job stops (ImportConflict).

How an app uses it — subclass IngestRun and call `run`:

    class AgencyListRun(IngestRun):
        model, row_error_model = AgencyList, AgencyListRowError
        open_source = staticmethod(Source.open)            # registry.imports.Source: CSV/XLSX, encodings
        refused_message = "the user who uploaded this list may no longer upload into this org unit"
        changed_file_message = "the file changed since this list was started; upload it again"

        def may_run(self, job): return may_upload(actor=self.actor, agency=job.agency, org_unit=job.org_unit)
        def prepare(self, job, source): self.reader = _RowReader(job, source.header)  # header checks
        def skip_row(self, number, values): ...            # remember natural keys of committed rows
        def write(self, job, batch):                       # in the batch's transaction; batch: [(row, values)]
            ...                                            # write the rows
            return BatchResult(counts={"rows_created": n, …}, row_errors=[AgencyListRowError(…), …])
        def audit(self, job, batch, result):               # the batch's audit event, same transaction
            audit_record(actor=self.actor, action="import", obj=job, …)

    job = AgencyListRun(batch_size=2000, progress=progress, batch_hook=hook).run(job_id)

The steps a subclass may reorder or extend are methods: `opened` (records the encoding), `counted` (records the
total, then `prepare`), `batches`, `batch_rows`, `max_rows`/`too_many_rows`. Nothing here imports an app: the
audit event and the permission check are the subclass's (`audit`, `may_run`).
"""

import dataclasses
import hashlib
import multiprocessing
import pickle
import queue
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from .errors import ValidationFailed, field_error

XLSX_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip file


class JobStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("pending")
    RUNNING = "running", gettext_lazy("running")
    DONE = "done", gettext_lazy("done")
    FAILED = "failed", gettext_lazy("failed")


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, structure, header, size, rows). The job fails with this
    message; nothing of it is written."""


class ImportConflict(Exception):
    """Another worker advanced this job while we were running it."""


class UploadTooLarge(Exception):
    """An upload over MAHALLE_MAX_IMPORT_BYTES (the API answers 413)."""


# --- files and uploads ----------------------------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def upload_store(*, upload, folder: str = "imports") -> tuple[Path, str]:
    """Stream an uploaded file to MEDIA_ROOT/<folder>/<sha256>.<csv|xlsx>; returns (path, sha256).

    The same content uploaded twice lands on the same file. Over MAHALLE_MAX_IMPORT_BYTES: UploadTooLarge,
    and nothing is kept."""
    limit = settings.MAHALLE_MAX_IMPORT_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadTooLarge(f"the file is {upload.size:,} bytes, over the limit of {limit:,} bytes")
    target = Path(settings.MEDIA_ROOT) / folder
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f"upload-{uuid.uuid4().hex}.part"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with partial.open("wb") as handle:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"the file is over the limit of {limit:,} bytes")
                if len(head) < 4:
                    head += chunk[:4]
                digest.update(chunk)
                handle.write(chunk)
        sha = digest.hexdigest()
        final = target / f"{sha}.{'xlsx' if head.startswith(XLSX_MAGIC) else 'csv'}"
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    return final, sha


def upload_name(upload, path: Path) -> str:
    """The name a job shows for an upload: the client's file name without folders, at most 255 characters."""
    return Path(upload.name or path.name).name[:255]


def upload_stored(upload, *, folder: str = "imports") -> dict:
    """Store an upload (`upload_store`) and answer the file arguments of a job's create service: `file_path`,
    `file_name` (`upload_name`) and `file_sha`."""
    path, sha = upload_store(upload=upload, folder=folder)
    return {"file_path": path, "file_name": upload_name(upload, path), "file_sha": sha}


def job_file(file_path: str | Path, *, file_name: str = "", file_sha: str = "") -> dict:
    """The file fields of a new job reading a file already on the server: `file_name` (the given name, else the
    file's own; at most 255 characters), `file_path` (resolved) and `file_sha256` (the given digest, else
    computed). A path that is not a file: ValidationFailed."""
    path = Path(file_path).resolve()
    if not path.is_file():
        raise ValidationFailed("the file does not exist", [field_error("file", f"no file at {path}")])
    return {
        "file_name": (file_name or path.name)[:255],
        "file_path": str(path),
        "file_sha256": file_sha or file_sha256(path),
    }


def job_percent(job) -> float:
    if job.status == JobStatus.DONE:
        return 100.0
    if not job.total_rows:
        return 0.0
    return round(100.0 * job.rows_done / job.total_rows, 1)


# --- reading in batches ---------------------------------------------------------------------------------------


def record_batches(
    records: Iterator[tuple[int, list]],
    *,
    skip: int,
    size: int,
    skip_row: Callable[[int, list], None] | None = None,
) -> Iterator[list[tuple[int, list]]]:
    """The records after the first `skip` (committed by an earlier run; each is shown to `skip_row`), in lists
    of at most `size` (row number, values)."""
    for _ in range(skip):
        try:
            number, values = next(records)
        except StopIteration:
            return
        if skip_row is not None:
            skip_row(number, values)
    batch: list = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclasses.dataclass
class _Failure:
    exc: BaseException


def prefetch_in_process(make_iterator: Callable[[], Iterator], depth: int = 3) -> Iterator:
    """Run the iterator in a forked reader process, `depth` items ahead: reading and cleaning (pure Python)
    then use another core while this process and the database write. Errors surface here. The reader never
    touches the database connection it inherits, and leaves with os._exit (multiprocessing's way), so the
    connection is not closed under us."""
    context = multiprocessing.get_context("fork")
    items = context.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in make_iterator():
                items.put(item)
            items.put(None)
        except BaseException as exc:
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{exc.__class__.__name__}: {exc}")
            items.put(_Failure(exc))

    reader = context.Process(target=produce, name="mahalle-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = items.get(timeout=1)
            except queue.Empty:
                if not reader.is_alive():
                    raise RuntimeError(
                        f"the import reader process stopped (exit code {reader.exitcode})"
                    ) from None
                continue
            if item is None:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join(timeout=5)
        items.close()


def reader_mode(requested: str | None) -> str:
    """The reader: "process" (a forked reader; settings.MAHALLE_IMPORT_READER, the default) or "inline"."""
    mode = requested or getattr(settings, "MAHALLE_IMPORT_READER", "process")
    if mode == "process" and "fork" not in multiprocessing.get_all_start_methods():
        return "inline"
    return mode


# --- the driver -----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class BatchResult:
    """What `IngestRun.write` did with one batch: what to add to the job's counters (rows_done aside, which the
    driver counts) and the row errors to store (unsaved instances of `row_error_model`)."""

    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    row_errors: list = dataclasses.field(default_factory=list)


class IngestRun:
    """Runs, or resumes, one file-ingest job (see the module's docstring). Subclass per job model; `run(job_id)`.

    The run commits item by item: every batch is its own transaction holding its rows, row errors, audit event
    (`audit`) and the job's progress; a stop leaves whole batches committed and the next run continues after
    them."""

    model: type[models.Model]
    row_error_model: type[models.Model]
    related: tuple[str, ...] = ("org_unit", "created_by")
    open_source: Callable  # path -> a source with .path, .encoding, .header and .records() (registry.imports)
    refused_message = "the user who started this job may no longer run it"
    changed_file_message = "the file changed since this job started; start a new one with it"
    resume_hint = "run the job again to resume"
    lock_progress = True  # a batch commits only if rows_done is still what this run last wrote

    def __init__(
        self,
        *,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
        batch_hook: Callable | None = None,
    ):
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.batch_hook = batch_hook  # runs inside each batch's transaction (tests simulate a crash with it)
        self.actor = None

    # --- what a subclass says -------------------------------------------------------------------------------

    def may_run(self, job) -> bool:
        """Whether the job's creator (self.actor; None is the server's operator) may still run it."""
        raise NotImplementedError

    def prepare(self, job, source) -> None:
        """Per-file state from `source.header` (the columns); raise ImportFileError for a header it cannot use."""

    def skip_row(self, number: int, values: list) -> None:
        """A row an earlier run committed (on resume): remember what duplicate checks need."""

    def write(self, job, batch) -> BatchResult:
        """Write one batch; runs inside the batch's transaction."""
        raise NotImplementedError

    def audit(self, job, batch, result: BatchResult) -> None:
        """The batch's audit event (audit.services), in the batch's transaction."""
        raise NotImplementedError

    def max_rows(self) -> int | None:
        return None

    def too_many_rows(self, limit: int) -> str:
        return f"the file has more than {limit:,} rows; split it into smaller files"

    # --- steps a subclass may reorder ------------------------------------------------------------------------

    def opened(self, job, source) -> None:
        """The file is open: its encoding is recorded at once (shown even when the job fails later)."""
        self.record(job, encoding=source.encoding)

    def counted(self, job, source, total: int) -> None:
        """The pre-scan passed: record the total, then prepare for the header."""
        self.record(job, total_rows=total)
        self.prepare(job, source)

    def batches(self, job, source) -> Iterator:
        """The batches after the committed rows; by default lists of (row number, values)."""
        return record_batches(
            source.records(), skip=job.rows_done, size=self.batch_size, skip_row=self.skip_row
        )

    def batch_rows(self, batch) -> int:
        """How many file rows a batch covers (valid or not)."""
        return len(batch)

    # --- the run ----------------------------------------------------------------------------------------------

    def record(self, job, **values) -> None:
        """Set fields on the job, in memory and in its row (outside any batch: job bookkeeping)."""
        for name, value in values.items():
            setattr(job, name, value)
        self.model.objects.filter(pk=job.pk).update(**values)

    def fail(self, job, message: str) -> None:
        self.record(job, status=JobStatus.FAILED, message=message[:2000], finished_at=timezone.now())

    def prescan(self, source) -> int:
        """Read the whole file once, writing nothing: it parses to the end, or the job fails here."""
        limit, total = self.max_rows(), 0
        for _ in source.records():
            total += 1
            if limit is not None and total > limit:
                raise ImportFileError(self.too_many_rows(limit))
        if total == 0:
            raise ImportFileError("the file has a header but no rows")
        return total

    def run(self, job_id):
        job = self.model.objects.select_related(*self.related).get(pk=job_id)
        if job.status == JobStatus.DONE:
            return job
        self.actor = job.created_by
        if not self.may_run(job):
            self.fail(job, self.refused_message)
            return job
        self.record(job, status=JobStatus.RUNNING, message="")
        try:
            source = self.open_source(job.file_path)
            self.opened(job, source)
            if job.rows_done and file_sha256(source.path) != job.file_sha256:
                raise ImportFileError(self.changed_file_message)
            self.counted(job, source, self.prescan(source))
            for batch in self.batches(job, source):
                rows = self.commit(job, batch)
                if self.progress:
                    self.progress(rows)
        except ImportFileError as exc:
            self.fail(job, str(exc))
            return job
        except ImportConflict:
            job.refresh_from_db()  # another worker has it; leave its status alone
            return job
        except Exception as exc:
            self.fail(
                job,
                f"stopped after {job.rows_done} rows ({exc.__class__.__name__}: {exc}); {self.resume_hint}",
            )
            raise
        self.record(job, status=JobStatus.DONE, finished_at=timezone.now())
        return job

    def commit(self, job, batch) -> int:
        """One batch, one transaction: its rows, row errors, audit event and the job's counters."""
        rows = self.batch_rows(batch)
        with transaction.atomic():
            if self.lock_progress:
                current = (
                    self.model.objects.select_for_update().values_list("rows_done", flat=True).get(pk=job.pk)
                )
                if current != job.rows_done:
                    raise ImportConflict("another worker is running this job")
            result = self.write(job, batch)
            self.row_error_model.objects.bulk_create(result.row_errors, batch_size=1000)
            self.audit(job, batch, result)
            counts = {"rows_done": job.rows_done + rows}
            counts.update({name: getattr(job, name) + added for name, added in result.counts.items()})
            self.model.objects.filter(pk=job.pk).update(**counts)
            if self.batch_hook:
                self.batch_hook(job, batch)
        for name, value in counts.items():  # only once the batch is committed
            setattr(job, name, value)
        return rows
