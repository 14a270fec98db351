"""Request and response shapes of the registry API (django-ninja / pydantic). Parsing only: the rules live in
registry.rules.person_clean, so the API, the forms and the importer answer the same input the same way."""

import datetime as dt
import uuid

from ninja import Field, Schema

from mahalle.core.ingest import job_percent
from mahalle.core.schemas import Code, ExternalId, ShortText, Text


class PersonOut(Schema):
    id: uuid.UUID
    org_unit: str = Field(..., alias="org_unit.code", description="code of the health post")
    household_id: uuid.UUID | None
    relation_to_head: str
    national_code: str | None
    first_name: str
    last_name: str
    father_name: str
    sex: str
    birth_date: dt.date | None
    birth_date_precision: str
    mobile: str
    chronic_disease: bool
    disability: bool
    pregnant: bool
    created_at: dt.datetime
    modified_at: dt.datetime


class PersonIn(Schema):
    """A new person. `id` is optional and client-generated: sending the same id again with the same data
    answers 200 with the stored record instead of creating a second one."""

    id: uuid.UUID | None = None
    org_unit: Code = Field(..., description="code of the health post the person belongs to")
    household_id: uuid.UUID | None = None
    first_name: ShortText
    last_name: ShortText
    father_name: ShortText = ""
    national_code: ShortText = ""
    mobile: ShortText = ""
    sex: ShortText = ""
    birth_date: ShortText = Field("", description="YYYY-MM-DD, Jalali YYYY/MM/DD, or a year alone")
    relation_to_head: ShortText = ""
    chronic_disease: bool = False
    disability: bool = False
    pregnant: bool = False


class PersonPatch(Schema):
    """Only the fields sent are changed."""

    first_name: ShortText | None = None
    last_name: ShortText | None = None
    father_name: ShortText | None = None
    national_code: ShortText | None = None
    mobile: ShortText | None = None
    sex: ShortText | None = None
    birth_date: ShortText | None = None
    relation_to_head: ShortText | None = None
    chronic_disease: bool | None = None
    disability: bool | None = None
    pregnant: bool | None = None


class HouseholdSummary(Schema):
    id: uuid.UUID
    address: str
    phone: str
    head_id: uuid.UUID | None


class PersonDetailOut(PersonOut):
    household: HouseholdSummary | None


class HouseholdOut(Schema):
    id: uuid.UUID
    org_unit: str = Field(..., alias="org_unit.code")
    external_id: str | None
    address: str
    phone: str
    head_id: uuid.UUID | None
    female_headed: bool
    lost_income: bool
    created_at: dt.datetime
    modified_at: dt.datetime


class HouseholdDetailOut(HouseholdOut):
    members: list[PersonOut] = Field(..., alias="member_list")


class HouseholdIn(Schema):
    """A new household. `external_id` is the natural key: sending the same one again with the same data
    answers 200 with the stored household instead of an error."""

    org_unit: Code
    address: Text = ""
    phone: ShortText = ""
    female_headed: bool = False
    lost_income: bool = False
    external_id: ExternalId | None = None


# --- file-ingest jobs (core.ingest): the registry's imports here, needs' agency lists extend them ---------------


class IngestJobOut(Schema):
    id: int
    status: str
    file_name: str
    org_unit: str = Field(..., alias="org_unit.code")
    created_at: dt.datetime
    finished_at: dt.datetime | None
    encoding: str
    total_rows: int | None
    rows_done: int
    percent: float
    rows_created: int
    rows_existing: int
    rows_invalid: int
    message: str

    @staticmethod
    def resolve_percent(obj) -> float:
        return job_percent(obj)


class ImportJobOut(IngestJobOut):
    kind: str


class RowErrorOut(Schema):
    row_number: int
    field: str
    message: str
    value: str
