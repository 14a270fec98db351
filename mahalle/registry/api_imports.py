"""Bulk imports over HTTP: upload a file (202 + job id), follow the job, read its row errors."""

import datetime as dt

from ninja import File, Form, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from .importing import (
    UploadTooLarge,
    import_job_detail,
    import_job_percent,
    import_job_submit,
)
from .models import ImportJob

router = Router(tags=["imports"])


class ImportJobOut(Schema):
    id: int
    kind: str
    status: str
    file_name: str
    org_unit: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    encoding: str
    total_rows: int | None
    rows_done: int
    percent: float
    rows_created: int
    rows_existing: int
    rows_invalid: int
    message: str

    @staticmethod
    def from_job(job: ImportJob) -> "ImportJobOut":
        return ImportJobOut(
            id=job.pk,
            kind=job.kind,
            status=job.status,
            file_name=job.file_name,
            org_unit=job.org_unit.code,
            created_at=job.created_at,
            finished_at=job.finished_at,
            encoding=job.encoding,
            total_rows=job.total_rows,
            rows_done=job.rows_done,
            percent=import_job_percent(job),
            rows_created=job.rows_created,
            rows_existing=job.rows_existing,
            rows_invalid=job.rows_invalid,
            message=job.message,
        )


class RowErrorOut(Schema):
    row_number: int
    field: str
    message: str
    value: str


@router.post("/", response={202: ImportJobOut}, url_name="registry-import-create")
def import_create(request, kind: Form[str], org_unit: Form[str], file: File[UploadedFile]):
    """Upload a households or persons file (CSV UTF-8/Windows-1256, or XLSX) for `org_unit` (a code).
    The import runs in the background; follow it at GET /imports/{id}."""
    try:
        job = import_job_submit(actor=request.user, kind=kind, org_unit_code=org_unit, upload=file)
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from exc
    job.refresh_from_db()
    return Status(202, ImportJobOut.from_job(job))


@router.get("/{job_id}", response=ImportJobOut, url_name="registry-import-detail")
def import_detail(request, job_id: int):
    return ImportJobOut.from_job(import_job_detail(user=request.user, job_id=job_id))


@router.get("/{job_id}/errors", response=list[RowErrorOut], url_name="registry-import-errors")
@paginate(LimitOffsetPagination)
def import_errors(request, job_id: int):
    job = import_job_detail(user=request.user, job_id=job_id)
    return job.row_errors.order_by("row_number", "id")
