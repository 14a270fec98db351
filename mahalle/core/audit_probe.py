"""The audit probe: proves, on the real calls of the test suite, that a service leaves nothing written when its
audit write fails.

`@service` (core.service) asks `wanted(run)` before a call; when the probe is on (setting MAHALLE_AUDIT_PROBE, on
in config.settings_test) and this service has not yet been probed to the point of its audit write in this
process, `probe()` runs the service once more, first, on deep copies of the same arguments, with every audit
write failing (audit.services calls `fail_audit_write()`), inside a transaction that is always rolled back. It
compares every table before and after, inside that transaction: any difference is a write that would have stayed
without its audit event, and the calling test fails with the tables that changed. Then the real call runs as if
nothing happened.

What is skipped: calls whose arguments cannot be copied (open files, generators), calls inside another probe,
calls while a test counts queries (django_assert_num_queries), so query-count bounds stay exact, and calls
outside the main thread (concurrency tests: what other threads commit meanwhile would look like leftovers). A service is
probed until one probe reached its audit write (at most MAX_ATTEMPTS calls per process): calls refused before any
write (403, 404, 422) reach no audit and prove little, so the next call is probed too.
"""

import contextlib
import copy
import hashlib
import threading

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction

MAX_ATTEMPTS = 3

_state = threading.local()
_stats: dict = {}


class AuditWriteFailed(Exception):
    """The failure a probe injects into every audit write."""


class _Rollback(Exception):
    pass


def fail_audit_write() -> None:
    """Called first by every audit write: raises while a probe runs."""
    if getattr(_state, "failing", False):
        _state.reached = True
        raise AuditWriteFailed("audit write failed (audit probe)")


def wanted(run) -> bool:
    if not getattr(settings, "MAHALLE_AUDIT_PROBE", False) or getattr(_state, "failing", False):
        return False
    if connection.force_debug_cursor:  # a test is counting queries
        return False
    if threading.current_thread() is not threading.main_thread():
        # a concurrency test's worker: other threads commit meanwhile, and their rows would look like this
        # service's leftovers (on PostgreSQL a new statement sees what others committed)
        return False
    stats = _stats.get(run)
    return stats is None or (not stats["reached"] and stats["attempts"] < MAX_ATTEMPTS)


def probed() -> dict:
    """{service: {"attempts": n, "reached": bool}} for this process (the conventions report reads it)."""
    return {f"{run.__module__}.{run.__qualname__}": dict(stats) for run, stats in _stats.items()}


def _snapshot() -> dict[str, str]:
    tables = {}
    for model in apps.get_models():
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        rows = list(model._base_manager.order_by("pk").values_list())
        tables[meta.db_table] = hashlib.sha1(repr(rows).encode(), usedforsecurity=False).hexdigest()
    return tables


def probe(run, body, args, kwargs) -> None:
    stats = _stats.setdefault(run, {"attempts": 0, "reached": False})
    try:
        args_copy, kwargs_copy = copy.deepcopy((args, kwargs))
    except Exception:  # noqa: BLE001 - an argument that cannot be copied: probe a later call instead
        return
    stats["attempts"] += 1
    changed: list[str] = []
    _state.failing, _state.reached = True, False
    try:
        with transaction.atomic():
            before = _snapshot()
            # The injected failure, or any refusal: what is left written is what counts.
            with contextlib.suppress(Exception):
                body(*args_copy, **kwargs_copy)
            try:
                after = _snapshot()
            except DatabaseError:  # the service broke the transaction outside its own atomic block
                after = before
            changed = sorted(table for table in before if before[table] != after.get(table))
            raise _Rollback
    except _Rollback:
        pass
    finally:
        reached = _state.reached
        _state.failing = _state.reached = False
    if reached:
        stats["reached"] = True
    if changed:
        raise AssertionError(
            f"{run.__module__}.{run.__qualname__} left rows written when its audit write failed "
            f"(tables changed: {', '.join(changed)}): make it atomic (@service) or audit each committed item"
        )
