"""Background work of the registry, and where it is queued. Tasks take ids, are idempotent, and call one
service or job run."""

from django.db import transaction
from django_tasks import task

from .imports import import_job_run, import_job_summary
from .models import ImportJob
from .services import import_job_upload


@task()
def run_import_job(job_id: int) -> dict:
    """Run or resume an import job: a done job is left as is, a stopped one continues after rows_done."""
    return import_job_summary(import_job_run(job_id=job_id))


def import_job_submit(*, actor, kind: str, org_unit_code: str, upload) -> ImportJob:
    """The upload path: check, store the file and create the job (services.import_job_upload), and queue its
    run once the job is committed."""
    with transaction.atomic():
        job = import_job_upload(actor=actor, kind=kind, org_unit_code=org_unit_code, upload=upload)
        transaction.on_commit(lambda: run_import_job.enqueue(job.pk))
    return job
