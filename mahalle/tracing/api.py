"""The tracing part of the JSON API (thin: parse, call a selector or service, answer).

Access, as in the cases API: a role without personal data (analyst) gets 403 on personal routes (the gate of
`personal`, declared once: accounts.gates); a record outside what the user may see is 404; a role that may not
do a write gets 403 from the service. Cluster statistics of an org unit are aggregates: every role may read them
for a unit inside its jurisdiction (`router`'s own route, outside the gate).
"""

import datetime as dt
import uuid

from django.utils import timezone
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from mahalle.accounts.gates import personal_data_router
from mahalle.accounts.models import User
from mahalle.cases.selectors import access_case
from mahalle.core.batch import batch_answer
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.geo.models import OrgUnit
from mahalle.registry.selectors import persons_visible

from . import selectors, services
from .schemas import (
    AssignIn,
    AttendeesIn,
    AttendeesOut,
    BatchOut,
    ClusterOut,
    ClustersOut,
    ContactFollowUpsIn,
    ContactIn,
    ContactOut,
    EventIn,
    EventOut,
    HouseholdListedOut,
    LinkIn,
    LinkOut,
    Page,
    RemoveIn,
)

router = Router(tags=["tracing"])  # aggregates (every role); the personal routes are on `personal`
personal = personal_data_router(tags=["tracing"])

LISTS = {
    "today": selectors.contacts_to_call,
    "unreachable": selectors.contacts_unreachable,
    "ending": selectors.contacts_ending,
}


def _unit(code: str, field: str = "org_unit"):
    unit = OrgUnit.objects.filter(code=code.strip()).first()
    if unit is None:
        raise ValidationFailed("the request is not valid", [field_error(field, f"unknown org unit '{code}'")])
    return unit


def _answer(contact_id, user):
    return selectors.access_contact(user, contact_id)


@personal.get(
    "/contacts", response=list[ContactOut], summary="Work lists: contacts to call, unreachable, ending"
)
@paginate(Page)
def contacts_list(request, list: str = "today", mine: bool = False, on: dt.date | None = None):  # noqa: A002
    """`list`: today (to call today), unreachable (two days running), ending (follow-up ends today), confirm
    (listed household members to confirm). `mine`: only contacts assigned to me."""
    user = request.user
    on = on or timezone.localdate()
    if list == "confirm":
        contacts = selectors.contacts_to_confirm(user=user, mine=mine)
    elif list in LISTS:
        contacts = LISTS[list](user=user, on=on, mine=mine)
    else:
        raise ValidationFailed(
            "the request is not valid", [field_error("list", "must be today, unreachable, ending or confirm")]
        )
    return contacts.select_related("person", "org_unit", "assigned_tracer")


@personal.get("/cases/{uuid:case_id}/contacts", response=list[ContactOut], summary="The contacts of a case")
@paginate(Page)
def case_contacts(request, case_id: uuid.UUID):
    case = access_case(request.user, case_id)
    return selectors.contacts_of_case(user=request.user, case=case).select_related("org_unit")


@personal.post(
    "/cases/{uuid:case_id}/contacts", response={201: ContactOut}, summary="Add a contact of a case"
)
def contact_post(request, case_id: uuid.UUID, payload: ContactIn):
    user = request.user
    case = access_case(user, case_id)
    person = None
    if payload.person_id is not None:
        person = persons_visible(user=user).filter(pk=payload.person_id).first()
        if person is None:
            raise ValidationFailed(
                "the contact could not be added", [field_error("person_id", "no such person")]
            )
    event = None
    if payload.event_id is not None:
        event = selectors.events_visible(user=user).filter(pk=payload.event_id).first()
        if event is None:
            raise ValidationFailed(
                "the contact could not be added", [field_error("event_id", "no such event")]
            )
    contact = services.contact_add(
        actor=user,
        case=case,
        person=person,
        national_code=payload.national_code,
        mobile=payload.mobile,
        first_name=payload.first_name,
        last_name=payload.last_name,
        org_unit=_unit(payload.org_unit) if payload.org_unit else None,
        last_exposure=payload.last_exposure,
        setting=payload.setting,
        closeness=payload.closeness,
        event=event,
    )
    return Status(201, _answer(contact.pk, user))


@personal.post(
    "/cases/{uuid:case_id}/contacts/household",
    response=HouseholdListedOut,
    summary="List the case's household members as contacts (to confirm or remove)",
)
def case_household(request, case_id: uuid.UUID):
    user = request.user
    case = access_case(user, case_id)
    listed = services.contacts_list_household(actor=user, case=case)
    contacts = selectors.contacts_visible(user=user).filter(pk__in=[c.pk for c in listed])
    return {
        "listed": len(listed),
        "contacts": list(contacts.select_related("person", "org_unit", "assigned_tracer")),
    }


@personal.post("/contacts/{uuid:contact_id}/confirm", response=ContactOut, summary="Confirm a listed contact")
def contact_confirm(request, contact_id: uuid.UUID):
    contact = selectors.access_contact(request.user, contact_id)
    services.contact_confirm(actor=request.user, contact=contact)
    return _answer(contact.pk, request.user)


@personal.post(
    "/contacts/{uuid:contact_id}/remove", response=ContactOut, summary="Remove a contact, with why"
)
def contact_remove(request, contact_id: uuid.UUID, payload: RemoveIn):
    contact = selectors.access_contact(request.user, contact_id)
    services.contact_remove(actor=request.user, contact=contact, reason=payload.reason)
    return _answer(contact.pk, request.user)


@personal.post(
    "/contacts/{uuid:contact_id}/assign", response=ContactOut, summary="Assign a tracer and/or a tracing team"
)
def contact_assign(request, contact_id: uuid.UUID, payload: AssignIn):
    user = request.user
    contact = selectors.access_contact(user, contact_id)
    tracer = None
    if payload.tracer:
        tracer = User.objects.filter(username=payload.tracer.strip(), is_active=True).first()
        if tracer is None:
            raise ValidationFailed(
                "the contact could not be assigned", [field_error("tracer", "no such user")]
            )
    team = _unit(payload.team, "team") if payload.team else None
    services.contact_assign(actor=user, contact=contact, tracer=tracer, team=team)
    return _answer(contact.pk, user)


@personal.post("/follow-ups/batch", response=BatchOut, summary="Record a phone's batch of contact follow-ups")
def follow_ups_batch(request, payload: ContactFollowUpsIn):
    """One answer per item: created, exists (same id again), conflict, invalid, or retry (the contact is not
    known here: keep the item and send it again later). Symptoms refer the contact for a test."""
    results = services.contact_follow_ups_record(
        actor=request.user, items=[item.dict() for item in payload.items]
    )
    return batch_answer(results)


@personal.post("/events", response={201: EventOut}, summary="Record an event (a gathering or place)")
def event_post(request, payload: EventIn):
    event = services.event_create(
        actor=request.user,
        org_unit=_unit(payload.org_unit),
        name=payload.name,
        kind=payload.kind,
        date=payload.date,
    )
    return Status(201, event)


@personal.post(
    "/events/{uuid:event_id}/attendees",
    response=AttendeesOut,
    summary="Add the attendees of an event (all or none)",
)
def event_attendees(request, event_id: uuid.UUID, payload: AttendeesIn):
    user = request.user
    event = selectors.access_event(user, event_id)
    added = services.event_attendees_add(
        actor=user, event=event, person_ids=payload.person_ids, national_codes=payload.national_codes
    )
    return {"added": added}


@personal.post("/links", response={201: LinkOut}, summary="Record who infected whom (case → case)")
def link_post(request, payload: LinkIn):
    user = request.user
    infector = access_case(user, payload.infector_id)
    infectee = access_case(user, payload.infectee_id)
    return Status(201, services.transmission_link_create(actor=user, infector=infector, infectee=infectee))


@personal.get(
    "/cases/{uuid:case_id}/cluster", response=ClusterOut, summary="The cluster (chain graph) of a case"
)
def case_cluster(request, case_id: uuid.UUID):
    return selectors.cluster_graph(user=request.user, case_id=case_id)


@router.get("/clusters", response=ClustersOut, summary="Clusters in an org unit, with their statistics")
def clusters(request, org_unit: str, limit: int = 50):
    unit = selectors.org_unit_for_clusters(user=request.user, code=org_unit)
    return selectors.clusters_in_unit(user=request.user, unit=unit, limit=max(1, min(limit, 200)))


router.add_router("", personal)
