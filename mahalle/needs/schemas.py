"""Shapes of the needs API. The endpoints hand over the model objects (or the selectors' dicts of them); the
`resolve_*` methods say how a field is read where it is not an attribute of the same name."""

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field

from mahalle.core.schemas import Page, ShortText, Text
from mahalle.registry import schemas as registry_schemas

__all__ = ["Page"]


class AgencyListOut(registry_schemas.IngestJobOut):
    agency: str = Field(..., alias="agency.code")
    rows_updated: int
    link_status: str
    link_counts: dict
    link_message: str


class RowErrorOut(registry_schemas.RowErrorOut):
    kept: bool


class LinkStartOut(Schema):
    id: int
    link_status: str
    link_counts: dict
    link_message: str


class PersonFieldsOut(Schema):
    """The person fields both sides of a review pair show: the registry person's and the list record's."""

    id: uuid.UUID
    national_code: str | None
    first_name: str
    last_name: str
    father_name: str
    birth_date: dt.date | None
    sex: str
    mobile: str


class PersonSideOut(PersonFieldsOut):
    org_unit: str = Field(..., alias="org_unit.code")


class RecordSideOut(PersonFieldsOut):
    national_code: str  # a list record's is "" when the list gave none
    agency: str = Field(..., alias="agency.code")
    record_id: str
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

    @staticmethod
    def resolve_decided_by(obj) -> str | None:
        return obj.decided_by.username if obj.decided_by_id else None

    @staticmethod
    def resolve_record(obj):
        return obj.source_record


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
    agency: str = Field(..., alias="agency.code")
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

    @staticmethod
    def resolve_record(obj) -> str:
        return f"{obj.source_record.agency.code}:{obj.source_record.record_id}"

    @staticmethod
    def resolve_from_person(obj):
        return obj.from_person_id

    @staticmethod
    def resolve_to_person(obj):
        return obj.to_person_id

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.by.username if obj.by_id else None


class GoldenPersonOut(Schema):  # from selectors.golden_person's answer: {person, fields, records, history}
    person_id: uuid.UUID
    household_id: uuid.UUID | None
    fields: dict[str, GoldenFieldOut]
    records: list[SourceRecordOut]
    history: list[LinkChangeOut]

    @staticmethod
    def resolve_person_id(obj):
        return obj["person"].pk

    @staticmethod
    def resolve_household_id(obj):
        return obj["person"].household_id


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

    @staticmethod
    def resolve_agency(obj) -> str | None:
        return obj.agency.code if obj.agency_id else None


class SupportOut(Schema):
    agency: str = Field(..., alias="agency.code")
    kind: str
    start_date: dt.date | None
    end_date: dt.date | None


class HouseholdNeedsOut(Schema):  # from selectors.household_needs's answer: {household, needs, supports, …}
    household_id: uuid.UUID
    score: int | None
    reasons: list[dict]
    needs: list[NeedOut]
    supports: list[SupportOut]

    @staticmethod
    def resolve_household_id(obj):
        return obj["household"].pk

    @staticmethod
    def resolve_score(obj) -> int | None:
        return obj["vulnerability"].score if obj["vulnerability"] else None

    @staticmethod
    def resolve_reasons(obj) -> list:
        return obj["vulnerability"].reasons if obj["vulnerability"] else []


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
