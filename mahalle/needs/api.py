"""The needs part of the JSON API (thin: parse, call a selector or service, answer).

Access, as in the registry and cases APIs: a role without personal data (analyst) → 403; a record outside the
caller's jurisdiction → 404; a write the role may not do → 403 (the services decide)."""

import uuid

from ninja import File, Form, Router, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import paginate

from mahalle.accounts.selectors import require_personal_data
from mahalle.core.errors import NotFound
from mahalle.registry.importing import UploadTooLarge
from mahalle.registry.selectors import persons_visible

from . import selectors, services
from .lists import agency_list_percent
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

router = Router(tags=["needs"])


def list_out(agency_list: AgencyList) -> dict:
    return {
        "id": agency_list.pk,
        "agency": agency_list.agency.code,
        "org_unit": agency_list.org_unit.code,
        "status": agency_list.status,
        "file_name": agency_list.file_name,
        "created_at": agency_list.created_at,
        "finished_at": agency_list.finished_at,
        "encoding": agency_list.encoding,
        "total_rows": agency_list.total_rows,
        "rows_done": agency_list.rows_done,
        "percent": agency_list_percent(agency_list),
        "rows_created": agency_list.rows_created,
        "rows_existing": agency_list.rows_existing,
        "rows_updated": agency_list.rows_updated,
        "rows_invalid": agency_list.rows_invalid,
        "message": agency_list.message,
        "link_status": agency_list.link_status,
        "link_counts": agency_list.link_counts,
        "link_message": agency_list.link_message,
    }


def pair_out(pair) -> dict:
    record, person = pair.source_record, pair.person
    return {
        "id": pair.pk,
        "match_probability": pair.match_probability,
        "evidence": pair.evidence,
        "decision": pair.decision,
        "decided_by": pair.decided_by.username if pair.decided_by_id else None,
        "decided_at": pair.decided_at,
        "reason": pair.reason,
        "record": {
            **{
                f: getattr(record, f)
                for f in (
                    "id",
                    "record_id",
                    "national_code",
                    "first_name",
                    "last_name",
                    "father_name",
                    "birth_date",
                    "sex",
                    "mobile",
                    "address",
                    "need_kind",
                    "support",
                    "link_status",
                )
            },
            "agency": record.agency.code,
        },
        "person": {
            **{
                f: getattr(person, f)
                for f in (
                    "id",
                    "national_code",
                    "first_name",
                    "last_name",
                    "father_name",
                    "birth_date",
                    "sex",
                    "mobile",
                )
            },
            "org_unit": person.org_unit.code,
        },
    }


# --- agency lists -----------------------------------------------------------------------------------------


@router.post("/lists", response={202: AgencyListOut}, summary="Upload an agency's list (CSV/XLSX)")
def agency_list_upload(request, agency: Form[str], org_unit: Form[str], file: File[UploadedFile]):
    """The person-record columns plus need_kind, support and optionally household_ref and post_code. It is
    read in the background; follow it at GET /lists/{id}. Over the size limit: 413."""
    require_personal_data(user=request.user)
    try:
        agency_list = services.agency_list_submit(
            actor=request.user, agency_code=agency, org_unit_code=org_unit, upload=file
        )
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from exc
    agency_list = AgencyList.objects.select_related("agency", "org_unit").get(pk=agency_list.pk)
    return Status(202, list_out(agency_list))


@router.get("/lists", response=list[AgencyListOut], summary="The lists uploaded in my jurisdiction")
@paginate(Page)
def agency_lists(request):
    require_personal_data(user=request.user)
    return [
        list_out(x) for x in selectors.agency_lists_visible(user=request.user).order_by("-created_at")[:1000]
    ]


@router.get("/lists/{list_id}", response=AgencyListOut)
def agency_list_detail(request, list_id: int):
    require_personal_data(user=request.user)
    return list_out(selectors.agency_list_detail(user=request.user, list_id=list_id))


@router.get("/lists/{list_id}/errors", response=list[RowErrorOut])
@paginate(Page)
def agency_list_errors(request, list_id: int):
    require_personal_data(user=request.user)
    agency_list = selectors.agency_list_detail(user=request.user, list_id=list_id)
    return agency_list.row_errors.order_by("row_number", "id")


@router.post("/lists/{list_id}/link", response={202: LinkStartOut}, summary="Link the list to the registry")
def agency_list_link(request, list_id: int):
    """Runs in the background; records already linked (or decided by a reviewer) are left alone."""
    require_personal_data(user=request.user)
    agency_list = selectors.agency_list_detail(user=request.user, list_id=list_id)
    agency_list = services.agency_list_link_request(actor=request.user, agency_list=agency_list)
    return Status(
        202,
        {
            "id": agency_list.pk,
            "link_status": agency_list.link_status,
            "link_counts": agency_list.link_counts,
            "link_message": agency_list.link_message,
        },
    )


# --- review queue -----------------------------------------------------------------------------------------


@router.get("/review-pairs", response=list[ReviewPairOut], summary="Open pairs waiting for a reviewer")
@paginate(Page)
def review_pairs(request):
    require_personal_data(user=request.user)
    pairs = selectors.review_queue(user=request.user).select_related("person__org_unit", "decided_by")[:1000]
    return [pair_out(p) for p in pairs]


@router.get("/review-pairs/{pair_id}", response=ReviewPairOut)
def review_pair(request, pair_id: int):
    require_personal_data(user=request.user)
    return pair_out(selectors.review_pair_detail(user=request.user, pair_id=pair_id))


@router.post("/review-pairs/{pair_id}/decision", response=ReviewPairOut, summary="Same or different")
def review_pair_decision(request, pair_id: int, payload: DecisionIn):
    require_personal_data(user=request.user)
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
    services.review_pair_decide(
        actor=request.user, pair=pair, decision=payload.decision, reason=payload.reason
    )
    return pair_out(selectors.review_pair_detail(user=request.user, pair_id=pair_id))


@router.post("/review-pairs/{pair_id}/undo", response=ReviewPairOut, summary="Take back a decision")
def review_pair_undo(request, pair_id: int, payload: UndoIn):
    require_personal_data(user=request.user)
    pair = selectors.review_pair_detail(user=request.user, pair_id=pair_id)
    services.review_pair_undo(actor=request.user, pair=pair, reason=payload.reason)
    return pair_out(selectors.review_pair_detail(user=request.user, pair_id=pair_id))


# --- golden records, merges and splits --------------------------------------------------------------------


def golden_out(golden: dict) -> dict:
    person = golden["person"]
    return {
        "person_id": person.pk,
        "household_id": person.household_id,
        "fields": golden["fields"],
        "records": [
            {
                "id": r.pk,
                "agency": r.agency.code,
                "record_id": r.record_id,
                "link_status": r.link_status,
                "match_probability": r.match_probability,
                "raw": r.raw,
            }
            for r in golden["records"]
        ],
        "history": [
            {
                "record": f"{c.source_record.agency.code}:{c.source_record.record_id}",
                "action": c.action,
                "from_person": c.from_person_id,
                "to_person": c.to_person_id,
                "by": c.by.username if c.by_id else None,
                "at": c.at,
                "reason": c.reason,
            }
            for c in golden["history"]
        ],
    }


@router.get("/persons/{uuid:person_id}/golden", response=GoldenPersonOut, summary="A person's golden record")
def golden_person(request, person_id: uuid.UUID):
    require_personal_data(user=request.user)
    return golden_out(selectors.golden_person(user=request.user, person_id=person_id))


def _record(user, record_id):
    record = selectors.source_records_visible(user=user).filter(pk=record_id).first()
    if record is None:
        raise NotFound("source record not found")
    return record


@router.post(
    "/source-records/{uuid:record_id}/split",
    response=GoldenPersonOut,
    summary="Detach a source record into a person of its own",
)
def source_record_split(request, record_id: uuid.UUID, payload: SplitIn):
    require_personal_data(user=request.user)
    record = services.source_record_split(
        actor=request.user, record=_record(request.user, record_id), reason=payload.reason
    )
    return golden_out(selectors.golden_person(user=request.user, person_id=record.person_id))


@router.post(
    "/source-records/{uuid:record_id}/relink",
    response=GoldenPersonOut,
    summary="Link a source record to another person (merge, or undo a split)",
)
def source_record_relink(request, record_id: uuid.UUID, payload: RelinkIn):
    require_personal_data(user=request.user)
    record = _record(request.user, record_id)
    person = (
        persons_visible(user=request.user).select_related("org_unit").filter(pk=payload.person_id).first()
    )
    if person is None:
        raise NotFound("person not found")
    services.source_record_relink(actor=request.user, record=record, person=person, reason=payload.reason)
    return golden_out(selectors.golden_person(user=request.user, person_id=person.pk))


# --- household needs and supports ------------------------------------------------------------------------


@router.get(
    "/households/{uuid:household_id}",
    response=HouseholdNeedsOut,
    summary="A household's needs, supports and vulnerability score",
)
def household_needs(request, household_id: uuid.UUID):
    require_personal_data(user=request.user)
    found = selectors.household_needs(user=request.user, household_id=household_id)
    vulnerability = found["vulnerability"]
    return {
        "household_id": found["household"].pk,
        "score": vulnerability.score if vulnerability else None,
        "reasons": vulnerability.reasons if vulnerability else [],
        "needs": [
            {
                "kind": n.kind,
                "source": n.source,
                "agency": n.agency.code if n.agency_id else None,
                "noted_on": n.noted_on,
                "resolved_on": n.resolved_on,
                "note": n.note,
            }
            for n in found["needs"]
        ],
        "supports": [
            {"agency": s.agency.code, "kind": s.kind, "start_date": s.start_date, "end_date": s.end_date}
            for s in found["supports"]
        ],
    }


@router.get("/supports", response=list[SupportRowOut], summary="Who else supports the households I support")
@paginate(Page)
def supports(request):
    require_personal_data(user=request.user)
    return selectors.supports_overview(user=request.user)
