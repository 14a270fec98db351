from django.db.models import Q

from mahalle.accounts.models import AUDIT_ROLES
from mahalle.accounts.selectors import user_jurisdiction_units

from .models import AuditEvent


def audit_events_visible(*, user):
    """Audit events about records inside the user's subtree; only coordinators and administrators."""
    if not user.is_authenticated or not user.has_role(AUDIT_ROLES):
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
    events = audit_events_visible(user=user)
    if actor_username:
        events = events.filter(actor_username=actor_username)
    if action:
        events = events.filter(action=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if since:
        events = events.filter(at__gte=since)
    if until:
        events = events.filter(at__lt=until)
    return events
