"""Background work of the registry. Tasks take ids, are idempotent, and call one service."""

from django_tasks import task

from .importing import import_job_run, import_job_summary


@task()
def run_import_job(job_id: int) -> dict:
    """Run or resume an import job: a done job is left as is, a stopped one continues after rows_done."""
    return import_job_summary(import_job_run(job_id=job_id))
