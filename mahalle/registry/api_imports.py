"""Bulk imports over HTTP: upload a file (202 + job id), follow the job, read its row errors.

A plain Router, not personal_data_router: a job outside the caller's personal-data jurisdiction, and every job for
a role without personal data (the analyst), is 404 as if it did not exist (selectors.access_import_job); an upload
by a role that may not import is 403 (services.import_job_upload)."""

from ninja import File, Form, Router, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from mahalle.core.ingest import UploadTooLarge

from .schemas import ImportJobOut, RowErrorOut
from .selectors import access_import_job
from .tasks import import_job_submit

router = Router(tags=["imports"])


@router.post("/", response={202: ImportJobOut}, url_name="registry-import-create")
def import_create(request, kind: Form[str], org_unit: Form[str], file: File[UploadedFile]):
    """Upload a households or persons file (CSV UTF-8/Windows-1256, or XLSX) for `org_unit` (a code).
    The import runs in the background; follow it at GET /imports/{id}."""
    try:
        job = import_job_submit(actor=request.user, kind=kind, org_unit_code=org_unit, upload=file)
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from exc
    job.refresh_from_db()
    return Status(202, job)


@router.get("/{job_id}", response=ImportJobOut, url_name="registry-import-detail")
def import_detail(request, job_id: int):
    return access_import_job(request.user, job_id)


@router.get("/{job_id}/errors", response=list[RowErrorOut], url_name="registry-import-errors")
@paginate(LimitOffsetPagination)
def import_errors(request, job_id: int):
    job = access_import_job(request.user, job_id)
    return job.row_errors.order_by("row_number", "id")
