"""The needs part of the JSON API (thin: parse, call a selector or service, answer).

Access, as in the registry and cases APIs: a role without personal data (analyst) → 403 (the router's gate);
a record outside the caller's jurisdiction → 404 (selectors.access_*); a write the role may not do → 403 (the
services decide)."""

import uuid

from ninja import File, Form, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import paginate

from mahalle.accounts.gates import personal_data_router
from mahalle.core.ingest import UploadTooLarge
from mahalle.registry.selectors import access_person

from . import selectors, services, tasks
from .models import AgencyList
from .schemas import (
    AgencyListOut,
    DecisionIn,
    GoldenPersonOut,
    HouseholdNeedsOut,
    LinkStartOut,
    Page,
    RelinkIn,
    ReviewPairOut,
    RowErrorOut,
    SplitIn,
    SupportRowOut,
    UndoIn,
)

router = personal_data_router(tags=["needs"])


# --- agency lists -----------------------------------------------------------------------------------------


@router.post("/lists", response={202: AgencyListOut}, summary="Upload an agency's list (CSV/XLSX)")
def agency_list_upload(request, agency: Form[str], org_unit: Form[str], file: File[UploadedFile]):
    """The person-record columns plus need_kind, support and optionally household_ref and post_code. It is
    read in the background; follow it at GET /lists/{id}. Over the size limit: 413."""
    try:
        agency_list = tasks.agency_list_upload(
            actor=request.user, agency_code=agency, org_unit_code=org_unit, upload=file
        )
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from exc
    return Status(202, AgencyList.objects.select_related("agency", "org_unit").get(pk=agency_list.pk))


@router.get("/lists", response=list[AgencyListOut], summary="The lists uploaded in my jurisdiction")
@paginate(Page)
def agency_lists(request):
    return list(selectors.agency_lists_visible(user=request.user).order_by("-created_at")[:1000])


@router.get("/lists/{list_id}", response=AgencyListOut)
def agency_list_detail(request, list_id: int):
    return selectors.access_agency_list(request.user, list_id)


@router.get("/lists/{list_id}/errors", response=list[RowErrorOut])
@paginate(Page)
def agency_list_errors(request, list_id: int):
    return selectors.access_agency_list(request.user, list_id).row_errors.order_by("row_number", "id")


@router.post("/lists/{list_id}/link", response={202: LinkStartOut}, summary="Link the list to the registry")
def agency_list_link(request, list_id: int):
    """Runs in the background; records already linked (or decided by a reviewer) are left alone."""
    agency_list = selectors.access_agency_list(request.user, list_id)
    return Status(202, tasks.agency_list_link_queue(actor=request.user, agency_list=agency_list))


# --- review queue -----------------------------------------------------------------------------------------


@router.get("/review-pairs", response=list[ReviewPairOut], summary="Open pairs waiting for a reviewer")
@paginate(Page)
def review_pairs(request):
    return list(
        selectors.review_queue(user=request.user).select_related("person__org_unit", "decided_by")[:1000]
    )


@router.get("/review-pairs/{pair_id}", response=ReviewPairOut)
def review_pair(request, pair_id: int):
    return selectors.review_pair_detail(user=request.user, pair_id=pair_id)


@router.post("/review-pairs/{pair_id}/decision", response=ReviewPairOut, summary="Same or different")
def review_pair_decision(request, pair_id: int, payload: DecisionIn):
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
    services.review_pair_decide(
        actor=request.user, pair=pair, decision=payload.decision, reason=payload.reason
    )
    return selectors.review_pair_detail(user=request.user, pair_id=pair_id)


@router.post("/review-pairs/{pair_id}/undo", response=ReviewPairOut, summary="Take back a decision")
def review_pair_undo(request, pair_id: int, payload: UndoIn):
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
    services.review_pair_undo(actor=request.user, pair=pair, reason=payload.reason)
    return selectors.review_pair_detail(user=request.user, pair_id=pair_id)


# --- golden records, merges and splits --------------------------------------------------------------------


@router.get("/persons/{uuid:person_id}/golden", response=GoldenPersonOut, summary="A person's golden record")
def golden_person(request, person_id: uuid.UUID):
    return selectors.golden_person(user=request.user, person_id=person_id)


@router.post(
    "/source-records/{uuid:record_id}/split",
    response=GoldenPersonOut,
    summary="Detach a source record into a person of its own",
)
def source_record_split(request, record_id: uuid.UUID, payload: SplitIn):
    record = services.source_record_split(
        actor=request.user,
        record=selectors.access_source_record(request.user, record_id),
        reason=payload.reason,
    )
    return selectors.golden_person(user=request.user, person_id=record.person_id)


@router.post(
    "/source-records/{uuid:record_id}/relink",
    response=GoldenPersonOut,
    summary="Link a source record to another person (merge, or undo a split)",
)
def source_record_relink(request, record_id: uuid.UUID, payload: RelinkIn):
    record = selectors.access_source_record(request.user, record_id)
    person = access_person(request.user, payload.person_id)
    services.source_record_relink(actor=request.user, record=record, person=person, reason=payload.reason)
    return selectors.golden_person(user=request.user, person_id=person.pk)


# --- household needs and supports ------------------------------------------------------------------------


@router.get(
    "/households/{uuid:household_id}",
    response=HouseholdNeedsOut,
    summary="A household's needs, supports and vulnerability score",
)
def household_needs(request, household_id: uuid.UUID):
    return selectors.household_needs(user=request.user, household_id=household_id)


@router.get("/supports", response=list[SupportRowOut], summary="Who else supports the households I support")
@paginate(Page)
def supports(request):
    return selectors.supports_overview(user=request.user)
