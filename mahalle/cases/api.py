"""Cases API: lab results, test orders, cases, isolation, quarantine places, follow-ups and alerts. Thin: parse,
call a selector or a service, shape the answer.

Access, in this order (as in the registry API):
- the role: a role without personal-data access (analyst) gets 403 everywhere here (the router's gate,
  accounts.gates.personal_data_router);
- the jurisdiction: a record outside the user's subtree is 404, exactly like one that does not exist;
- writing: the services refuse roles that may not do the write with 403 (see cases.services for who may what).
Batches (lab results, follow-ups) answer 200 with one result per item; a role that may not write gets 403.
"""

import datetime as dt
import uuid

from django.utils import timezone
from ninja.pagination import paginate
from ninja.responses import Status

from mahalle.accounts.gates import personal_data_router
from mahalle.core.batch import batch_answer
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.geo.models import OrgUnit
from mahalle.registry.selectors import access_person

from . import selectors, services
from .schemas import (
    AlertOut,
    BatchOut,
    CaseDetailOut,
    CaseOut,
    ClassificationIn,
    FollowUpDueOut,
    FollowUpsIn,
    HospitalisationIn,
    IsolationIn,
    IsolationOut,
    LabResultsIn,
    OutcomeIn,
    Page,
    PlaceIn,
    PlaceOut,
    ReleaseIn,
    ResolveIn,
    SampleIn,
    TestOrderOut,
)

router = personal_data_router(tags=["cases"])


# --- lab results and test orders ---------------------------------------------------------------------------


@router.post("/lab-results", response=BatchOut, summary="Record a batch of lab results (keyed by sample id)")
def lab_results_post(request, payload: LabResultsIn):
    """One answer per item: created, exists (the same result again), conflict (a different result for a sample
    that has one), invalid (unknown sample id, bad values). Post supervisors, coordinators and administrators
    (a lab uses such an account's API token)."""
    results = services.lab_results_record(actor=request.user, items=[item.dict() for item in payload.items])
    return batch_answer(results)


@router.get("/test-orders", response=list[TestOrderOut], summary="Referrals not yet tested, urgent first")
@paginate(Page)
def test_orders_list(request):
    return selectors.referrals_untested(user=request.user).select_related("person", "org_unit")


@router.post("/test-orders/{uuid:order_id}/sample", response=TestOrderOut, summary="Record the sample taken")
def test_order_sample(request, order_id: uuid.UUID, payload: SampleIn):
    order = selectors.access_test_order(request.user, order_id)
    order = services.test_order_sample(actor=request.user, order=order, **payload.dict())
    return (
        selectors.test_orders_visible(user=request.user).select_related("person", "org_unit").get(pk=order.pk)
    )


# --- isolation, places, follow-ups, alerts (static paths before the case paths) ----------------------------


@router.get("/isolations", response=list[IsolationOut], summary="Active isolations")
@paginate(Page)
def isolations_list(request):
    return selectors.isolations_active(user=request.user).order_by("planned_end_date", "id")


@router.post("/isolations", response={201: IsolationOut}, summary="Start isolation at home or in a place")
def isolation_post(request, payload: IsolationIn):
    user = request.user
    person = access_person(user, payload.person_id)
    case = None
    if payload.case_id is not None:
        case = selectors.access_case(user, payload.case_id)
    place = None
    if payload.place_id is not None:
        place = selectors.quarantine_places_usable(user=user).filter(pk=payload.place_id).first()
        if place is None:
            raise ValidationFailed(
                "the isolation could not be started", [field_error("place_id", "no such quarantine place")]
            )
    isolation = services.isolation_start(
        actor=user,
        person=person,
        case=case,
        setting=payload.setting,
        place=place,
        start_date=payload.start_date,
        onset_date=payload.onset_date,
        last_symptom_date=payload.last_symptom_date,
    )
    return Status(201, isolation)


@router.post(
    "/isolations/{uuid:isolation_id}/release", response=IsolationOut, summary="Release from isolation"
)
def isolation_release(request, isolation_id: uuid.UUID, payload: ReleaseIn):
    isolation = selectors.access_isolation(request.user, isolation_id)
    return services.isolation_release(
        actor=request.user, isolation=isolation, on=payload.on, reason=payload.reason
    )


@router.get("/quarantine-places", response=list[PlaceOut], summary="Quarantine places serving your area")
@paginate(Page)
def places_list(request):
    return selectors.quarantine_places_usable(user=request.user)


@router.post(
    "/quarantine-places", response={201: PlaceOut}, summary="Create a quarantine place (coordinators)"
)
def place_post(request, payload: PlaceIn):
    unit = OrgUnit.objects.filter(code=payload.org_unit.strip()).first()
    if unit is None:
        raise ValidationFailed(
            "the request is not valid", [field_error("org_unit", f"unknown org unit '{payload.org_unit}'")]
        )
    place = services.quarantine_place_create(
        actor=request.user, org_unit=unit, name=payload.name, capacity=payload.capacity
    )
    return Status(201, place)


@router.post("/follow-ups/batch", response=BatchOut, summary="Record a phone's batch of daily follow-ups")
def follow_ups_batch(request, payload: FollowUpsIn):
    """One answer per item: created, exists (same id again), conflict, invalid, or retry (the isolation is not
    known here yet: keep the item and send it again later)."""
    results = services.follow_ups_record(actor=request.user, items=[item.dict() for item in payload.items])
    return batch_answer(results)


@router.get("/follow-ups/due", response=list[FollowUpDueOut], summary="Isolated people to follow up today")
@paginate(Page)
def follow_ups_due(request, on: dt.date | None = None):
    return selectors.follow_ups_due(user=request.user, on=on or timezone.localdate())


@router.get("/alerts", response=list[AlertOut], summary="Open alerts, newest first")
@paginate(Page)
def alerts_list(request):
    return selectors.alerts_open(user=request.user)


@router.post("/alerts/{uuid:alert_id}/resolve", response=AlertOut, summary="Resolve an alert")
def alert_resolve(request, alert_id: uuid.UUID, payload: ResolveIn):
    alert = selectors.access_alert(request.user, alert_id)
    return services.alert_resolve(actor=request.user, alert=alert, note=payload.note)


# --- cases --------------------------------------------------------------------------------------------------


@router.get("/", response=list[CaseOut], summary="Cases in your jurisdiction, newest first")
@paginate(Page)
def cases_list(request, classification: str = "", open_only: bool = False):
    cases = selectors.cases_visible(user=request.user).select_related("person", "org_unit")
    if classification:
        cases = cases.filter(classification=classification)
    if open_only:
        cases = cases.filter(outcome="").exclude(classification="discarded")
    return cases.order_by("-created_at", "id")


def _case_answer(user, case_id):
    case = selectors.case_detail(user=user, case_id=case_id)
    case.history = list(selectors.case_history(case=case))
    return case


@router.get(
    "/{uuid:case_id}", response=CaseDetailOut, summary="One case with its history (the read is audited)"
)
def case_get(request, case_id: uuid.UUID):
    return _case_answer(request.user, case_id)


@router.post("/{uuid:case_id}/classification", response=CaseOut, summary="Change a case's classification")
def case_classification(request, case_id: uuid.UUID, payload: ClassificationIn):
    case = selectors.access_case(request.user, case_id)
    return services.case_classification_change(
        actor=request.user, case=case, classification=payload.classification, reason=payload.reason
    )


@router.post("/{uuid:case_id}/hospitalisation", response=CaseOut, summary="Record a hospital admission")
def case_hospitalisation(request, case_id: uuid.UUID, payload: HospitalisationIn):
    case = selectors.access_case(request.user, case_id)
    return services.case_hospitalisation_record(
        actor=request.user, case=case, on=payload.on, reason=payload.reason
    )


@router.post("/{uuid:case_id}/outcome", response=CaseOut, summary="Record recovery or death")
def case_outcome(request, case_id: uuid.UUID, payload: OutcomeIn):
    case = selectors.access_case(request.user, case_id)
    return services.case_outcome_record(
        actor=request.user, case=case, outcome=payload.outcome, on=payload.on, reason=payload.reason
    )
