"""Background work of the needs registry. Tasks take ids, are idempotent, and call one service."""

import datetime as dt

from django.contrib.auth import get_user_model
from django_tasks import task

from mahalle.core.errors import DomainError

from .lists import agency_list_read
from .models import AgencyList


@task()
def run_agency_list(agency_list_id: int) -> dict:
    """Read (or resume reading) an uploaded list; a done list is left as is."""
    agency_list = agency_list_read(agency_list_id=agency_list_id)
    return {"id": agency_list.pk, "status": agency_list.status, "rows": agency_list.rows_done}


@task()
def link_agency_list(agency_list_id: int, actor_id: int) -> dict:
    """Link a read list to the registry as `actor_id`; records already linked are left alone."""
    from .linking import agency_list_link

    actor = get_user_model().objects.get(pk=actor_id)
    agency_list = AgencyList.objects.select_related("org_unit").get(pk=agency_list_id)
    try:
        return agency_list_link(actor=actor, agency_list=agency_list)
    except DomainError as exc:
        AgencyList.objects.filter(pk=agency_list_id).update(
            link_status=AgencyList.LinkStatus.FAILED, link_message=exc.detail[:2000]
        )
        return {"error": exc.detail}


@task()
def catch_up_needs(since: str) -> dict:
    """Record the needs of visits, follow-ups and deaths since `since` (ISO date); running it again adds nothing."""
    from .intake import needs_catch_up

    return needs_catch_up(since=dt.date.fromisoformat(since))


@task()
def refresh_vulnerability() -> int:
    from .vulnerability import household_vulnerability_refresh

    return household_vulnerability_refresh()
