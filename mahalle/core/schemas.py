"""Shapes every app's API shares: bounded free text, codes, the one page of results and the answer to a batch."""

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
ExternalId = Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_control_characters)]


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


# --- the answer to a batch: one result per item, and the count of each status ----------------------------------


class ItemErrorOut(Schema):
    field: str
    message: str


class ItemResultOut(Schema):
    id: str
    status: str
    errors: list[ItemErrorOut]


class BatchOut(Schema):
    results: list[ItemResultOut]
    counts: dict[str, int]
