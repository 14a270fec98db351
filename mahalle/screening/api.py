"""Screening API: the phones' batch endpoint (/api/v1/field/batch), campaigns, coverage tables, a post's work
list and the active risk rules. Thin: parse, call a selector or a service, shape the answer.

Access:
- field batch and work list carry personal data: roles without it (analyst) get 403; the batch needs a role
  that may write (partner staff: 403 too). A household outside the caller's subtree is an item error.
- campaigns and coverage are aggregates about org units, not persons: every signed-in role sees the campaigns
  overlapping its subtree and the coverage of units inside it (the analyst included, since it sees aggregates
  everywhere else too); anything outside is 404.
"""

import uuid

from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.cases.rules import SYMPTOMS
from mahalle.cases.services import follow_ups_record
from mahalle.core.batch import RETRY, ItemResult
from mahalle.core.errors import NotFound, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.schemas import Code, Page, ShortText
from mahalle.geo.models import OrgUnit

from . import selectors, services
from .schemas import (
    BatchIn,
    BatchOut,
    CampaignIn,
    CampaignOut,
    CoverageOut,
    DateText,
    FollowUpIn,
    RulesOut,
    VisitIn,
    WorklistOut,
    item_validate,
)
from .tasks import campaign_coverage_refresh_after_commit

router = Router(tags=["screening"])
field_router = Router(tags=["field submissions"])

FOLLOW_UPS_NOT_READY = "follow-ups cannot be recorded by this server yet; send this item again later"


def _answers(raws: list, model, record) -> list[dict]:
    """Validate each raw item, hand the valid ones to `record` in one call, answer every item in order."""
    results: list[ItemResult | None] = [None] * len(raws)
    valid, positions = [], []
    for index, raw in enumerate(raws):
        clean, errors = item_validate(model, raw)
        if errors:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            results[index] = ItemResult(
                id="" if raw_id is None else str(raw_id), status="invalid", errors=errors
            )
        else:
            valid.append(clean)
            positions.append(index)
    if valid:
        for index, result in zip(positions, record(valid), strict=True):
            results[index] = result
    out = []
    for raw, result in zip(raws, results, strict=True):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        out.append(
            {
                # the phone's own spelling of its id, so it can match answers to what it sent
                "id": raw_id if isinstance(raw_id, str) else result.id,
                "status": result.status,
                "errors": result.errors,
                "referrals": result.referrals,
                "urgent": result.urgent,
            }
        )
    return out


def _record_follow_ups(actor, items: list[dict]) -> list[ItemResult]:
    try:
        return follow_ups_record(actor=actor, items=items)
    except NotImplementedError:
        return [
            ItemResult(id=str(item["id"]), status=RETRY, errors=[field_error("id", FOLLOW_UPS_NOT_READY)])
            for item in items
        ]


@field_router.post("/batch", response=BatchOut, summary="A phone's batch of screening visits and follow-ups")
def field_batch(request, payload: BatchIn):
    """Up to 500 visits and 500 follow-ups, each with the phone's UUID. Each item is answered in order with
    `status` created | exists (sent before: nothing changes) | invalid (with `errors`) | conflict (the id was
    used for another record) | retry (could not be stored now; send again). Visits are stored before
    follow-ups. A follow-up refers to an isolation, not to a visit, so the order of arrival does not matter;
    a follow-up for an isolation not known yet is answered invalid by the cases service."""
    user = request.user
    require(user, Can.WRITE_PERSONAL, "your role may not record field submissions")
    visits = _answers(
        payload.visits or [],
        VisitIn,
        lambda items: services.screening_visits_record(actor=user, items=items),
    )
    follow_ups = _answers(payload.follow_ups or [], FollowUpIn, lambda items: _record_follow_ups(user, items))
    return {"visits": visits, "follow_ups": follow_ups}


# --- campaigns ---------------------------------------------------------------------------------------------------


def _area(unit: OrgUnit) -> dict:
    return {"code": unit.code, "name_fa": unit.name_fa, "name_en": unit.name_en, "level": unit.level}


def _campaign_out(campaign) -> dict:
    today = timezone.localdate()
    return {
        "id": campaign.id,
        "name": campaign.name,
        "start_date": campaign.start_date,
        "end_date": campaign.end_date,
        "active": campaign.start_date <= today <= campaign.end_date,
        "areas": [_area(area.org_unit) for area in campaign.areas.all()],
    }


@router.post("/campaigns", response={201: CampaignOut}, summary="Create a screening campaign")
def campaign_post(request, payload: CampaignIn):
    """Coordinators (and post supervisors) over org units in their jurisdiction; dates Gregorian or Jalali."""
    codes = [normalize_text(code) for code in payload.org_units]
    units = {unit.code: unit for unit in OrgUnit.objects.filter(code__in=codes)}
    unknown = [code for code in codes if code not in units]
    if unknown:
        raise ValidationFailed(
            "the campaign could not be created",
            [field_error("org_units", f"unknown org unit(s): {', '.join(unknown)}")],
        )
    campaign = services.campaign_create(
        actor=request.user,
        name=payload.name,
        start_date=payload.start_date,
        end_date=payload.end_date,
        org_units=list(dict.fromkeys(units[code] for code in codes)),
    )
    campaign_coverage_refresh_after_commit(campaign.pk)
    return Status(201, _campaign_out(selectors.access_campaign(request.user, campaign.pk)))


@router.get("/campaigns", response=list[CampaignOut], summary="Campaigns covering your jurisdiction")
@paginate(Page)
def campaign_list(request):
    return [
        _campaign_out(c)
        for c in selectors.campaigns_visible(user=request.user).order_by("-start_date", "name")
    ]


@router.get("/campaigns/{campaign_id}", response=CampaignOut, summary="One campaign")
def campaign_get(request, campaign_id: uuid.UUID):
    return _campaign_out(selectors.access_campaign(request.user, campaign_id))


class CoverageFilters(Schema):
    org_unit: Code = ""
    group: ShortText = "children"


@router.get(
    "/campaigns/{campaign_id}/coverage", response=CoverageOut, summary="Coverage of a campaign by org unit"
)
def campaign_coverage(request, campaign_id: uuid.UUID, filters: Query[CoverageFilters]):
    """One row per unit under `org_unit` (default: your own unit) at the `group` level: children (the next
    level down), county, district, neighborhood or post. Read from the coverage rollup, never from visits."""
    user = request.user
    campaign = selectors.access_campaign(user, campaign_id)
    if filters.org_unit:
        unit = selectors.org_unit_for_user(user=user, code=filters.org_unit)
    else:
        units = user_jurisdiction_units(user=user)
        if not units:
            raise NotFound("org unit not found")
        unit = units[0]
    table = selectors.coverage_table(user=user, campaign=campaign, org_unit=unit, group=filters.group)
    return {**table, "campaign": _campaign_out(campaign), "org_unit": _area(unit)}


# --- work list and rules -----------------------------------------------------------------------------------------


class WorklistFilters(Schema):
    post: Code = ""
    on: DateText | None = None


@router.get("/worklist", response=WorklistOut, summary="A health post's morning work list")
def worklist_get(request, filters: Query[WorklistFilters]):
    """Households still to screen in the active campaign(s), by priority (recent case or contact in the
    household, then vulnerable members, then days since the last visit — each with its reasons); follow-ups
    due on `on` (default today); referrals not yet tested. `post` may be left out by a volunteer of one post."""
    user = request.user
    post = selectors.worklist_post(user=user, code=filters.post)
    data = selectors.worklist(user=user, post=post, on=filters.on)
    return {**data, "post": post.code}


@router.get("/rules", response=RulesOut, summary="The risk rules in force, with their reasons")
def rules_get(request):
    """Transparency for coordinators: the rules that turn a member's answers into an outcome. Operators set
    them in settings.MAHALLE_SCREENING_RULES; otherwise the defaults apply."""
    return {"source": selectors.rules_source(), "symptoms": list(SYMPTOMS), "rules": selectors.active_rules()}
