"""Request and response shapes of the screening API. Parsing only: the rules live in screening.services.

The field batch is validated item by item: the request body is parsed as lists of objects, and each item is
validated with VisitIn / FollowUpIn here, so one malformed item is answered with its own errors while the rest
of the batch is stored.
"""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.schemas import Code, ShortText, Text

BATCH_LIMIT = 500


def _date(value: Any):
    # PydanticCustomError rather than ValueError: its message reaches the client as written (no "Value error, ").
    if value is None or isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "must be a date: YYYY-MM-DD or Jalali YYYY/MM/DD")
    try:
        return parse_date(value)[0]
    except InvalidDate as exc:
        raise PydanticCustomError("date_parsing", str(exc).replace("{", "(").replace("}", ")")) from exc


# A date as text: Gregorian YYYY-MM-DD or Jalali YYYY/MM/DD, in any digits.
DateText = Annotated[
    dt.date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "description": "YYYY-MM-DD or Jalali YYYY/MM/DD, any digits"}),
]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    person_id: uuid.UUID
    present: bool = True
    symptoms: list[ShortText] = Field(default_factory=list, max_length=20)
    onset_date: DateText | None = None
    spo2: int | None = None
    known_contact: bool = False


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    household_id: uuid.UUID
    visit_date: DateText
    status: ShortText
    campaign_id: uuid.UUID | None = None
    needs: list[ShortText] = Field(default_factory=list, max_length=20)
    note: Text = ""
    members: list[MemberIn] = Field(default_factory=list, max_length=60)


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    isolation_id: uuid.UUID
    date: DateText
    method: Literal["call", "visit"]
    reached: bool
    symptoms: list[ShortText] = Field(default_factory=list, max_length=20)
    spo2: int | None = None
    needs: list[ShortText] = Field(default_factory=list, max_length=20)


def _field_name(loc: tuple) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "item"


def _message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind.startswith("uuid"):
        return "is not a valid UUID"
    message = error.get("msg", "is not valid")
    return message.removeprefix("Value error, ")


def item_validate(model: type[BaseModel], raw: Any) -> tuple[dict | None, list[dict]]:
    """One batch item: (clean dict, []) or (None, [{"field", "message"}, …])."""
    if not isinstance(raw, dict):
        return None, [{"field": "item", "message": "must be a JSON object"}]
    try:
        return model.model_validate(raw).model_dump(), []
    except ValidationError as exc:
        return None, [{"field": _field_name(e["loc"]), "message": _message(e)} for e in exc.errors()]


class BatchIn(Schema):
    visits: list[Any] | None = Field(None, max_length=BATCH_LIMIT, description="VisitIn objects")
    follow_ups: list[Any] | None = Field(None, max_length=BATCH_LIMIT, description="FollowUpIn objects")


class ErrorOut(Schema):
    field: str
    message: str


class ItemOut(Schema):
    id: str
    status: str
    errors: list[ErrorOut]
    referrals: int
    urgent: int


class BatchOut(Schema):
    visits: list[ItemOut]
    follow_ups: list[ItemOut]


# --- campaigns and coverage -----------------------------------------------------------------------------------


class CampaignIn(Schema):
    name: ShortText
    start_date: DateText
    end_date: DateText
    org_units: list[Code] = Field(..., min_length=1, max_length=500, description="codes of org units")


class AreaOut(Schema):
    code: str
    name_fa: str
    name_en: str
    level: int


class CampaignOut(Schema):
    id: uuid.UUID
    name: str
    start_date: dt.date
    end_date: dt.date
    active: bool
    areas: list[AreaOut]


class CoverageCounts(Schema):
    households_registered: int
    households_screened: int
    persons_screened: int
    referrals: int
    positives: int
    coverage: float | None = Field(..., description="households screened / households registered")


class CoverageRow(CoverageCounts):
    code: str
    name_fa: str
    name_en: str
    level: int
    covered: bool = Field(..., description="whether the campaign's areas reach this unit")


class CoverageOut(Schema):
    campaign: CampaignOut
    org_unit: AreaOut
    level: int
    rows: list[CoverageRow]
    total: CoverageCounts


# --- work list --------------------------------------------------------------------------------------------------


class ReasonOut(Schema):
    code: str
    en: str
    fa: str
    count: int | None = None
    days: int | None = None


class HouseholdToScreenOut(Schema):
    household_id: uuid.UUID
    address: str
    phone: str
    head_name: str
    members_count: int
    vulnerable_members_count: int
    female_headed: bool
    last_visit_date: dt.date | None
    last_visit_status: str
    priority: int
    priority_reasons: list[ReasonOut]


class FollowUpDueOut(Schema):
    isolation_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    household_id: uuid.UUID | None
    address: str
    mobile: str
    setting: str
    start_date: dt.date
    planned_end_date: dt.date


class RuleReasonOut(Schema):
    rule: str = ""
    fa: str = ""
    en: str = ""


class ReferralOut(Schema):
    test_order_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    urgent: bool
    status: str
    reasons: list[RuleReasonOut]
    referred_at: dt.datetime


class WorklistCampaignOut(Schema):
    id: uuid.UUID
    name: str
    start_date: dt.date
    end_date: dt.date


class WorklistOut(Schema):
    post: str
    on: dt.date
    campaign: WorklistCampaignOut | None
    campaigns: list[WorklistCampaignOut]
    households_to_screen: list[HouseholdToScreenOut]
    households_to_screen_total: int
    follow_ups_due: list[FollowUpDueOut]
    referrals_untested: list[ReferralOut]


class RuleOut(Schema):
    id: str
    outcome: str
    all: list[dict] = []
    any: list[dict] = []
    reason_fa: str
    reason_en: str


class RulesOut(Schema):
    source: str = Field(..., description="'settings' (MAHALLE_SCREENING_RULES) or 'default'")
    symptoms: list[str]
    rules: list[RuleOut]
