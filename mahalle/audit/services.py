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
    *, actor, action: str, object_type: str, rows: list[tuple[str, str]], details: dict | None = None
) -> None:
    """One event per (object_id, org_path), written in one bulk insert (imports, exports)."""
    ip = client_address.get()
    actor_ = actor if actor is not None and actor.is_authenticated else None
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor_,
                actor_username=getattr(actor, "username", "") or "",
                action=action,
                object_type=object_type,
                object_id=object_id,
                org_path=org_path,
                ip_address=ip,
                details=details or {},
            )
            for object_id, org_path in rows
        ],
        batch_size=2000,
    )
