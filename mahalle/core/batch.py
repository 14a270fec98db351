"""The phone batch: the one driver for a phone's batch of records, and the answer to each item.

A phone records offline (screening visits, isolation follow-ups, contact follow-ups) and sends what it has in
batches, each item carrying the phone's own UUID; it sends a batch again when it never saw the answer. What every
such batch must get right lives here, once (`run_phone_batch`); the services say only what is theirs (how an item
is cleaned and how accepted items are written):

- the client id: not a UUID → invalid; an id already stored → `exists` when it is the same record sent again
  (nothing changes), else `conflict`; an id twice in one batch → invalid;
- the parent record (an isolation, a contact), looked up among those the actor may reach: unknown here → `retry`
  (the phone keeps the item and sends it again later: it may belong to a record started on another device);
- one record per parent and day, when the service says so: a second one (stored, or earlier in the batch) →
  `conflict`;
- the write, which commits item by item: each item in its own transaction with its audit event
  (`item_by_item=True`), or all the accepted items together in one transaction and, when another request
  stored one of them meanwhile (IntegrityError), again one item at a time, so each item gets its own answer and
  the rest of the batch is not lost.

`batch_answer(results)` is the API's answer to such a batch: one row per item, in order, and the counts.
"""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from .errors import field_error

CREATED, EXISTS, INVALID, CONFLICT, RETRY = "created", "exists", "invalid", "conflict", "retry"


@dataclass
class ItemResult:
    id: str
    status: str = "pending"  # then CREATED | EXISTS | INVALID | CONFLICT | RETRY
    errors: list[dict] = field(default_factory=list)
    referrals: int = 0
    urgent: int = 0


@dataclass
class Entry:
    """An accepted item on its way to the database: its answer (to set), its id, its parent record (or None),
    and the values its service cleaned."""

    result: ItemResult
    id: uuid.UUID
    parent: Any
    clean: dict


@dataclass(frozen=True)
class Parent:
    """The record each item hangs on. `field` is both the item's key and the stored model's foreign key
    ("isolation_id", "contact_id"); `found` maps ids to the records the actor may reach (looked up once for the
    batch); `unknown` is the retry message for an item whose parent is not among them."""

    field: str
    found: dict
    unknown: str


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


def _parent_of(item: dict, result: ItemResult, parent: Parent):
    """The item's parent record, or None with the item answered (invalid id, or retry: not known here)."""
    parent_id = uuid_or_none(item.get(parent.field))
    if parent_id is None:
        result.status, result.errors = INVALID, [field_error(parent.field, "must be a UUID")]
        return None
    record = parent.found.get(parent_id)
    if record is None:
        result.status, result.errors = RETRY, [field_error(parent.field, parent.unknown)]
    return record


def run_phone_batch(
    items: list[dict],
    *,
    model,
    what: str,
    same: Callable[[Any, dict], bool],
    clean: Callable[[dict, Any], tuple[dict | None, list]],
    write: Callable[[list[Entry]], None],
    parent: Parent | None = None,
    one_per_day: str = "",
    item_by_item: bool = False,
) -> list[ItemResult]:
    """Answer a phone's batch: one ItemResult per item, in order. It commits item by item (see the module).

    - `model`: the stored record's model, whose primary key is the phone's id;
    - `what`: its name in the answers ("visit", "follow-up");
    - `same(prior, item)`: whether a stored record with the item's id is this very item sent again;
    - `clean(item, parent record or None)`: (values, []) or (None, field errors);
    - `write(entries)`: store these accepted entries and their audit events, and set each `entry.result`
      (status CREATED, referrals, urgent); the driver runs it inside a transaction;
    - `parent`: the record each item hangs on (unknown → retry); `one_per_day`: with a parent, at most one
      record per parent and `values["date"]`, and the conflict message for a second one;
    - `item_by_item`: write each item in its own transaction rather than the whole batch at once.
    """
    results = [ItemResult(id=str(item.get("id"))) for item in items]
    ids = [uuid_or_none(item.get("id")) for item in items]
    existing = {row.pk: row for row in model.objects.filter(pk__in=[i for i in ids if i])}
    taken: set = set()
    if one_per_day:
        taken = set(
            model.objects.filter(**{f"{parent.field}__in": list(parent.found)}).values_list(
                parent.field, "date"
            )
        )
    seen: set = set()
    accepted: list[Entry] = []
    for item, result, item_id in zip(items, results, ids, strict=True):
        if item_id_settled(
            result,
            item_id,
            existing=existing,
            seen=seen,
            what=what,
            same=lambda prior, item=item: same(prior, item),
        ):
            continue
        record = None
        if parent is not None:
            record = _parent_of(item, result, parent)
            if record is None:
                continue
        values, errors = clean(item, record)
        if errors:
            result.status, result.errors = INVALID, errors
            continue
        if one_per_day:
            if (record.pk, values["date"]) in taken:
                result.status, result.errors = CONFLICT, [field_error("date", one_per_day)]
                continue
            taken.add((record.pk, values["date"]))
        accepted.append(Entry(result=result, id=item_id, parent=record, clean=values))
    if item_by_item or len(accepted) < 2:
        for entry in accepted:
            _write_one(entry, model=model, write=write, one_per_day=one_per_day)
    else:
        try:
            with transaction.atomic():
                write(accepted)
        except IntegrityError:
            # Another request stored one of these meanwhile: one at a time, so each item gets its own answer.
            for entry in accepted:
                _write_one(entry, model=model, write=write, one_per_day=one_per_day)
    return results


def _write_one(entry: Entry, *, model, write, one_per_day: str) -> None:
    """One item in its own transaction. A clash with what another request stored meanwhile: the same id (the
    phone's resend: `exists`), or, under one-per-day, another record of that day (`conflict`)."""
    try:
        with transaction.atomic():
            write([entry])
    except IntegrityError:
        if not one_per_day or model.objects.filter(pk=entry.id).exists():
            entry.result.status = EXISTS
        else:
            entry.result.status, entry.result.errors = CONFLICT, [field_error("date", one_per_day)]


def batch_answer(results: list[ItemResult]) -> dict:
    """The API's answer to a batch: each item's id, status and errors, in order, and how many of each status."""
    return {
        "results": [{"id": r.id, "status": r.status, "errors": r.errors} for r in results],
        "counts": dict(Counter(r.status for r in results)),
    }
