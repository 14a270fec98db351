"""Background work of the needs registry, and where it is queued. Tasks take ids, are idempotent, and call one
service or job run (needs.jobs)."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django_tasks import task

from mahalle.core.errors import DomainError

from .jobs import agency_list_link, agency_list_read
from .models import AgencyList
from .services import (
    agency_list_link_request,
    agency_list_submit,
    household_vulnerability_refresh,
    needs_catch_up,
)


@task()
def run_agency_list(agency_list_id: int) -> dict:
    """Read (or resume reading) an uploaded list; a done list is left as is."""
    agency_list = agency_list_read(agency_list_id=agency_list_id)
    return {"id": agency_list.pk, "status": agency_list.status, "rows": agency_list.rows_done}


@task()
def link_agency_list(agency_list_id: int, actor_id: int) -> dict:
    """Link a read list to the registry as `actor_id`; records already linked are left alone."""
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
    return needs_catch_up(since=dt.date.fromisoformat(since))


@task()
def refresh_vulnerability() -> int:
    return household_vulnerability_refresh()


# --- queued from the API and the pages ------------------------------------------------------------------------


def agency_list_upload(*, actor, agency_code: str, org_unit_code: str, upload) -> AgencyList:
    """The upload path: check, store the file and create the list (services.agency_list_submit), and queue its
    reading once the list is committed."""
    with transaction.atomic():
        agency_list = agency_list_submit(
            actor=actor, agency_code=agency_code, org_unit_code=org_unit_code, upload=upload
        )
        transaction.on_commit(lambda: run_agency_list.enqueue(agency_list.pk))
    return agency_list


def agency_list_link_queue(*, actor, agency_list: AgencyList) -> AgencyList:
    """The link button and the API: mark the list 'linking' (services.agency_list_link_request), and queue the
    run once that is committed."""
    with transaction.atomic():
        agency_list = agency_list_link_request(actor=actor, agency_list=agency_list)
        list_id, actor_id = agency_list.pk, actor.pk
        transaction.on_commit(lambda: link_agency_list.enqueue(list_id, actor_id))
    return agency_list
