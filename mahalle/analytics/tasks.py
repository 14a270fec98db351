"""Background work of the analytics area. Tasks take plain values, are idempotent and call one service."""

import threading

from django.db import transaction
from django_tasks import task

from .services import rt_refresh

# Org unit ids waiting for this thread's transaction to commit (see rt_refresh_after_commit). Per thread, as
# Django's connections and transactions are: another thread's commit never takes them early.
_local = threading.local()


@task()
def rt_refresh_task(org_unit_ids: list[int] | None = None) -> dict:
    """Recompute Rt for the provinces and counties of (and above) `org_unit_ids`, or for all when None."""
    return rt_refresh(org_unit_ids=org_unit_ids)


def rt_refresh_after_commit(*, org_unit_ids) -> None:
    """Enqueue `rt_refresh_task` for these units once the current transaction commits. Call it from the services
    that create or (re)classify cases, with the cases' org unit ids: calls within one transaction (a batch of
    500 lab results) give one task, not 500. (After a rollback, ids left here ride along with the next commit's
    task: a refresh of a unit more is harmless, the service being idempotent.)"""
    pending = _local.__dict__.setdefault("pending", set())
    pending.update(int(pk) for pk in org_unit_ids)

    def enqueue() -> None:
        if pending:
            ids = sorted(pending)
            pending.clear()
            rt_refresh_task.enqueue(org_unit_ids=ids)

    transaction.on_commit(enqueue)
