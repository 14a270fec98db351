"""Request and response shapes of the cases API. Parsing only: the rules live in cases.services.

Batch items (lab results, follow-ups) take their dates as text, so one bad item is answered on its own (Jalali
YYYY/MM/DD or Gregorian YYYY-MM-DD, any digits) instead of failing the whole batch."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Field, Schema

from mahalle.core.schemas import Page, ShortText, Text

__all__ = ["Page"]


class _PersonNamed(Schema):
    """An answer about one person (`obj.person`) whose `person_name` field is that person's full name."""

    @staticmethod
    def resolve_person_name(obj) -> str:
        return obj.person.full_name


class ItemErrorOut(Schema):
    field: str
    message: str


class ItemResultOut(Schema):
    id: str
    status: str = Field(..., description="created | exists | invalid | conflict | retry")
    errors: list[ItemErrorOut]


class BatchOut(Schema):
    results: list[ItemResultOut]
    counts: dict[str, int]


# --- lab results and test orders ---------------------------------------------------------------------------


class LabResultIn(Schema):
    sample_id: ShortText
    kind: ShortText = Field(..., description="pcr or antigen")
    result: ShortText = Field(..., description="positive, negative or inconclusive")
    result_date: ShortText = Field(..., description="YYYY-MM-DD (or Jalali YYYY/MM/DD)")
    lab: Text = ""


class LabResultsIn(Schema):
    items: list[LabResultIn] = Field(..., max_length=1000)


class SampleIn(Schema):
    sample_id: ShortText
    kind: Literal["pcr", "antigen"]
    lab: Text = ""
    sampled_on: dt.date | None = None


class TestOrderOut(_PersonNamed):
    id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    org_unit: str = Field(..., alias="org_unit.code")
    urgent: bool
    reasons: list
    status: str
    kind: str
    sample_id: str | None
    sampled_on: dt.date | None
    lab: str
    result: str
    result_date: dt.date | None
    created_at: dt.datetime


# --- cases --------------------------------------------------------------------------------------------------


class CaseOut(_PersonNamed):
    id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    org_unit: str = Field(..., alias="org_unit.code")
    classification: str
    onset_date: dt.date | None
    epi_link: bool
    hospitalised: bool
    hospitalised_on: dt.date | None
    outcome: str
    outcome_date: dt.date | None
    created_at: dt.datetime


class CaseChangeOut(Schema):
    at: dt.datetime
    actor: str
    field: str
    old_value: str
    new_value: str
    reason: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor.username if obj.actor else ""


class CaseDetailOut(CaseOut):
    changes: list[CaseChangeOut] = Field(..., alias="history")


class ClassificationIn(Schema):
    classification: Literal["suspected", "probable", "confirmed", "discarded"]
    reason: Text


class HospitalisationIn(Schema):
    on: dt.date
    reason: Text = ""


class OutcomeIn(Schema):
    outcome: Literal["recovered", "died"]
    on: dt.date
    reason: Text = ""


# --- isolation and quarantine places ------------------------------------------------------------------------


class IsolationIn(Schema):
    person_id: uuid.UUID
    case_id: uuid.UUID | None = None
    setting: Literal["home", "facility"]
    place_id: uuid.UUID | None = None
    start_date: dt.date
    onset_date: dt.date | None = None
    last_symptom_date: dt.date | None = None


class IsolationOut(Schema):
    id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID | None
    setting: str
    place_id: uuid.UUID | None
    start_date: dt.date
    onset_date: dt.date | None
    last_symptom_date: dt.date | None
    planned_end_date: dt.date
    released_on: dt.date | None
    release_reason: str


class ReleaseIn(Schema):
    on: dt.date
    reason: Text = ""


class PlaceIn(Schema):
    org_unit: ShortText
    name: Text
    capacity: int = Field(..., ge=1, le=100_000)


class PlaceOut(Schema):
    id: uuid.UUID
    org_unit: str = Field(..., alias="org_unit.code")
    name: str
    capacity: int
    occupied: int
    free: int


# --- follow-ups and alerts ----------------------------------------------------------------------------------


class FollowUpIn(Schema):
    id: ShortText = Field(..., description="the phone's UUID for this follow-up")
    isolation_id: ShortText
    date: ShortText = Field(..., description="YYYY-MM-DD (or Jalali YYYY/MM/DD)")
    method: ShortText = "call"
    reached: bool = True
    symptoms: list[ShortText] = Field(default_factory=list, max_length=20)
    spo2: int | None = None
    needs: list[ShortText] = Field(default_factory=list, max_length=20)


class FollowUpsIn(Schema):
    items: list[FollowUpIn] = Field(..., max_length=500)


class FollowUpDueOut(_PersonNamed):
    isolation_id: uuid.UUID = Field(..., alias="id")
    person_id: uuid.UUID
    person_name: str
    phone: str
    start_date: dt.date
    planned_end_date: dt.date

    @staticmethod
    def resolve_phone(obj) -> str:
        household = obj.person.household
        return obj.person.mobile or (household.phone if household else "")


class AlertOut(Schema):
    id: uuid.UUID
    kind: str
    person_id: uuid.UUID
    isolation_id: uuid.UUID | None
    day: dt.date | None
    message: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class ResolveIn(Schema):
    note: Text = ""
