"""Shapes of the needs API."""

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field

from mahalle.registry.schemas import Page, ShortText, Text

__all__ = ["Page"]


class AgencyListOut(Schema):
    id: int
    agency: str
    org_unit: str
    status: str
    file_name: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    encoding: str
    total_rows: int | None
    rows_done: int
    percent: float
    rows_created: int
    rows_existing: int
    rows_updated: int
    rows_invalid: int
    message: str
    link_status: str
    link_counts: dict
    link_message: str


class RowErrorOut(Schema):
    row_number: int
    field: str
    message: str
    value: str
    kept: bool


class LinkStartOut(Schema):
    id: int
    link_status: str
    link_counts: dict
    link_message: str


class PersonSideOut(Schema):
    id: uuid.UUID
    national_code: str | None
    first_name: str
    last_name: str
    father_name: str
    birth_date: dt.date | None
    sex: str
    mobile: str
    org_unit: str


class RecordSideOut(Schema):
    id: uuid.UUID
    agency: str
    record_id: str
    national_code: str
    first_name: str
    last_name: str
    father_name: str
    birth_date: dt.date | None
    sex: str
    mobile: str
    address: str
    need_kind: str
    support: str
    link_status: str


class ReviewPairOut(Schema):
    id: int
    match_probability: float
    evidence: dict
    decision: str
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str
    record: RecordSideOut
    person: PersonSideOut


class DecisionIn(Schema):
    decision: ShortText = Field(description="same or different")
    reason: Text = ""


class UndoIn(Schema):
    reason: Text = ""


class GoldenFieldOut(Schema):
    value: str | None
    source: str | None
    agree: int
    candidates: list[dict]


class SourceRecordOut(Schema):
    id: uuid.UUID
    agency: str
    record_id: str
    link_status: str
    match_probability: float | None
    raw: dict


class LinkChangeOut(Schema):
    record: str
    action: str
    from_person: uuid.UUID | None
    to_person: uuid.UUID | None
    by: str | None
    at: dt.datetime
    reason: str


class GoldenPersonOut(Schema):
    person_id: uuid.UUID
    household_id: uuid.UUID | None
    fields: dict[str, GoldenFieldOut]
    records: list[SourceRecordOut]
    history: list[LinkChangeOut]


class SplitIn(Schema):
    reason: Text = ""


class RelinkIn(Schema):
    person_id: uuid.UUID
    reason: Text = ""


class NeedOut(Schema):
    kind: str
    source: str
    agency: str | None
    noted_on: dt.date
    resolved_on: dt.date | None
    note: str


class SupportOut(Schema):
    agency: str
    kind: str
    start_date: dt.date | None
    end_date: dt.date | None


class HouseholdNeedsOut(Schema):
    household_id: uuid.UUID
    score: int | None
    reasons: list[dict]
    needs: list[NeedOut]
    supports: list[SupportOut]


class OtherSupportOut(Schema):
    agency: str
    agency_code: str
    kind: str
    start_date: dt.date | None
    end_date: dt.date | None


class SupportRowOut(Schema):
    household_id: uuid.UUID
    own_records: list[dict]
    own: list[OtherSupportOut]
    others: list[OtherSupportOut]
