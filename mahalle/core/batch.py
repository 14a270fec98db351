"""The answer to one item of a phone's batch (visits, follow-ups): what became of it and why."""

import uuid
from dataclasses import dataclass, field

from .errors import field_error

CREATED, EXISTS, INVALID, CONFLICT, RETRY = "created", "exists", "invalid", "conflict", "retry"


@dataclass
class ItemResult:
    id: str
    status: str = "pending"  # then CREATED | EXISTS | INVALID | CONFLICT | RETRY
    errors: list[dict] = field(default_factory=list)
    referrals: int = 0
    urgent: int = 0


def uuid_or_none(value) -> uuid.UUID | None:
    """A client's id as a UUID, or None when it is not one (the item is then answered "invalid")."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def item_id_settled(result: ItemResult, item_id, *, existing: dict, seen: set, same, what: str) -> bool:
    """The check every item of a phone batch starts with, by its client id: no valid id (invalid); an id already
    stored (`exists` when `same(prior)` says it is the same item re-sent, else `conflict`); an id twice in this
    batch (invalid). True when that settles the item's answer; otherwise the id is marked seen."""
    if item_id is None:
        result.status, result.errors = INVALID, [field_error("id", "must be a UUID")]
        return True
    prior = existing.get(item_id)
    if prior is not None:
        if same(prior):
            result.status = EXISTS
        else:
            result.status = CONFLICT
            result.errors = [field_error("id", f"this id was already used for another {what}")]
        return True
    if item_id in seen:
        result.status, result.errors = INVALID, [field_error("id", "appears twice in this batch")]
        return True
    seen.add(item_id)
    return False
