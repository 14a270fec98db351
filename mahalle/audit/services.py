import json
from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from mahalle.core.audit_probe import fail_audit_write
from mahalle.core.bulk import BulkInserter
from mahalle.core.request_context import client_address

from .models import AuditEvent


def audit_record(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    org_unit=None,
    org_path: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the service's own transaction so both land or neither does."""
    fail_audit_write()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        if org_unit is None and getattr(obj, "org_unit_id", None):
            org_unit = obj.org_unit
        if org_path is None:
            org_path = getattr(obj, "org_path", None)
    if org_path is None and org_unit is not None:
        org_path = org_unit.path
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=getattr(actor, "username", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        org_unit=org_unit,
        org_path=org_path or "",
        ip_address=client_address.get(),
        details=details or {},
    )


def audit_record_many(
    *, actor, action: str, object_type: str, rows: Sequence[tuple], details: dict | None = None
) -> None:
    """One event per (object_id, org_path) or (object_id, org_path, org_unit_id), written in bulk (imports,
    exports, batches). The rows go straight to the table (core.bulk: COPY on PostgreSQL) rather than through a
    model instance each: an import writes one event per person, and building 100,000 AuditEvents would cost
    more than the insert itself. The values are those AuditEvent.objects.create would store."""
    fail_audit_write()
    actor_ = actor if actor is not None and actor.is_authenticated else None
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    common = (at, actor_.pk if actor_ else None, getattr(actor, "username", "") or "", action, object_type)
    tail = (client_address.get(), json.dumps(details or {}))  # details as JSONField stores them
    _event_inserter().insert(
        [(*common, str(row[0]), row[2] if len(row) > 2 else None, row[1] or "", *tail) for row in rows]
    )


def _event_inserter() -> BulkInserter:  # built per call: the connection decides COPY or INSERT
    return BulkInserter(
        AuditEvent,
        fields=[
            "at",
            "actor_id",
            "actor_username",
            "action",
            "object_type",
            "object_id",
            "org_unit_id",
            "org_path",
            "ip_address",
            "details",
        ],
    )
