"""Request and response shapes of the registry API (django-ninja / pydantic). Parsing only: the rules live in
registry.services.person_clean, so the API, the forms and the importer answer the same input the same way."""

import datetime as dt
import uuid
from typing import Annotated

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import AfterValidator, StringConstraints


def _no_control_characters(value: str) -> str:
    # NUL cannot be stored by PostgreSQL (it would be a 500); other C0 controls never belong in a field.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("contains control characters")
    return value


# Every free-text field the API accepts: bounded, no control characters. Normalisation is the services' job.
Text = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_control_characters)]
ShortText = Annotated[str, StringConstraints(max_length=100), AfterValidator(_no_control_characters)]
Code = Annotated[str, StringConstraints(max_length=40), AfterValidator(_no_control_characters)]


class Page(LimitOffsetPagination):
    """limit/offset pages of at most 200 items (default 50); the answer is {"items": [...], "count": n}."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=200)
        offset: int = Field(0, ge=0, le=1_000_000)

    def __init__(self, **kwargs):
        super().__init__(max_limit=200, **kwargs)

    def paginate_queryset(self, queryset, pagination, request, **params):
        offset, limit = pagination.offset, min(pagination.limit, self.max_limit)
        items = list(queryset[offset : offset + limit])
        # A short page that is not empty tells the total by itself: no COUNT round trip (most searches).
        if items and len(items) < limit or not items and offset == 0:
            count = offset + len(items)
        else:
            count = self._items_count(queryset)
        return {self.items_attribute: items, "count": count}


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
    external_id: (
        Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_control_characters)] | None
    ) = None
