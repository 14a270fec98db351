"""Audit API: who did what to which record. Coordinators and administrators only, each within their subtree;
any other role gets 403 (the log itself is sensitive: it names the records people looked at)."""

from django.utils import timezone
from ninja import Query, Router
from ninja.pagination import paginate

from mahalle.accounts.capabilities import Can, may
from mahalle.core.errors import PermissionDenied
from mahalle.core.schemas import Page

from . import selectors
from .schemas import AuditEventOut, AuditFilters

router = Router(tags=["audit"])


def _aware(value):
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


@router.get("/events", response=list[AuditEventOut], summary="Search the audit log of your subtree")
@paginate(Page)
def audit_event_list(request, filters: Query[AuditFilters]):
    if not may(request.user, Can.READ_AUDIT):
        raise PermissionDenied("the audit log is open to coordinators and administrators only")
    return selectors.audit_events_search(
        user=request.user,
        actor_username=filters.actor.strip(),
        action=filters.action.value if filters.action else "",
        object_type=filters.object_type.strip(),
        object_id=filters.object_id.strip(),
        since=_aware(filters.since),
        until=_aware(filters.until),
    )
