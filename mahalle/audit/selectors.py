from django.db.models import Q

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.selectors import user_jurisdiction_units

from .models import AuditEvent


def audit_events_visible(*, user):
    """Audit events about records inside the user's subtree; only coordinators and administrators."""
    if not may(user, Can.READ_AUDIT):
        return AuditEvent.objects.none()
    query = Q()
    for unit in user_jurisdiction_units(user=user):
        query |= Q(org_path__prefix=unit.path)
    return AuditEvent.objects.filter(query).select_related("org_unit") if query else AuditEvent.objects.none()


def audit_events_search(
    *,
    user,
    actor_username: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since=None,
    until=None,
):
    lookups = {
        "actor_username": actor_username,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "at__gte": since,
        "at__lt": until,
    }
    # An empty criterion does not filter.
    return audit_events_visible(user=user).filter(
        **{lookup: value for lookup, value in lookups.items() if value}
    )
