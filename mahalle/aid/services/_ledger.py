"""The stock ledger's one way to change stock: lock the levels in a fixed order, move with F(), write the ledger
line, audit. Used by the stock operations (receive, transfer, write off, adjust) and by deliveries (issue)."""

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db.models import F, Q

from mahalle.audit.services import audit_record
from mahalle.core.errors import InsufficientStock, field_error

from ..models import Item, StockLevel, StockMove, Warehouse


@dataclasses.dataclass(frozen=True)
class _Line:
    """One ledger line of a change: `quantity` is signed (out < 0), or a function of the locked level (a count)."""

    warehouse: Warehouse
    kind: str
    quantity: Decimal | Callable[[StockLevel], Decimal]


def _lock_levels(keys: list[tuple[int, int, str]]) -> dict:
    """Create missing levels, then lock them all in one fixed order (ascending id): no deadlocks."""
    for warehouse_id, item_id, lot in keys:
        StockLevel.objects.get_or_create(warehouse_id=warehouse_id, item_id=item_id, lot=lot)
    query = Q()
    for warehouse_id, item_id, lot in keys:
        query |= Q(warehouse_id=warehouse_id, item_id=item_id, lot=lot)
    levels = StockLevel.objects.select_for_update().filter(query).order_by("pk")
    return {(lv.warehouse_id, lv.item_id, lv.lot): lv for lv in levels}


def _move(
    level: StockLevel, kind: str, quantity: Decimal, actor, reference: str = "", note: str = ""
) -> None:
    if quantity < 0 and level.quantity + quantity < 0:
        raise InsufficientStock(
            "not enough stock",
            [field_error("quantity", f"{level.quantity.normalize()} on hand in lot '{level.lot}'")],
        )
    StockLevel.objects.filter(pk=level.pk).update(quantity=F("quantity") + quantity)
    level.quantity += quantity
    StockMove.objects.create(
        kind=kind,
        warehouse_id=level.warehouse_id,
        item_id=level.item_id,
        lot=level.lot,
        quantity=quantity,
        reference=reference,
        note=note,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )


def _stock_change(
    *,
    actor,
    item: Item,
    lot: str,
    lines: list[_Line],
    action: str,
    details: dict | Callable[[list[Decimal]], dict],
    audit_level: bool = False,
    on_hand: bool = False,
    expiry: dt.date | None = None,
    reference: str = "",
    note: str = "",
) -> tuple[list[StockLevel], list[Decimal]]:
    """The one stock change, inside the caller's transaction, once the caller has checked the actor and the input:

    1. with `on_hand`, the first line's lot must exist at its warehouse (else 409 "nothing on hand");
    2. the levels are created when missing and locked in one fixed order (ascending id): no deadlocks;
    3. a level receiving stock that has no expiry takes `expiry`, or that of the lot the stock leaves;
    4. each line moves its quantity with F() and writes its ledger line (a zero move writes nothing);
    5. one audit event on the first line's warehouse (its level with `audit_level`), with `details` (or
       `details(quantities moved)`).
    Returns the locked levels and the quantities moved, in the order of `lines`."""
    first = lines[0].warehouse
    if on_hand and not StockLevel.objects.filter(warehouse=first, item=item, lot=lot).exists():
        raise InsufficientStock(
            "not enough stock", [field_error("quantity", f"nothing on hand in lot '{lot}'")]
        )
    keys = [(line.warehouse.pk, item.pk, lot) for line in lines]
    locked = _lock_levels(keys)
    levels = [locked[key] for key in keys]
    quantities = [
        line.quantity(level) if callable(line.quantity) else line.quantity
        for line, level in zip(lines, levels, strict=True)
    ]
    carried = expiry or next((lv.expiry for lv, q in zip(levels, quantities, strict=True) if q < 0), None)
    for level, quantity in zip(levels, quantities, strict=True):
        if quantity > 0 and carried and not level.expiry:
            StockLevel.objects.filter(pk=level.pk).update(expiry=carried)
    for line, level, quantity in zip(lines, levels, quantities, strict=True):
        if quantity:
            _move(level, line.kind, quantity, actor, reference, note)
    audit_record(
        actor=actor,
        action=action,
        object_type="aid.stocklevel" if audit_level else "aid.warehouse",
        object_id=str(levels[0].pk if audit_level else first.pk),
        org_unit=first.org_unit,
        details=details(quantities) if callable(details) else details,
    )
    return levels, quantities


def _issue(*, warehouse: Warehouse, item: Item, quantity: Decimal, actor, reference: str) -> None:
    """Take `quantity` from the warehouse, earliest expiry first, under locks taken in id order (a delivery: its
    audit event is the delivery's)."""
    levels = list(
        StockLevel.objects.select_for_update()
        .filter(warehouse=warehouse, item=item, quantity__gt=0)
        .order_by("pk")
    )
    on_hand = sum((lv.quantity for lv in levels), Decimal(0))
    if on_hand < quantity:
        raise InsufficientStock(
            "not enough stock at the post for this delivery",
            [
                field_error(
                    "quantity", f"{on_hand.normalize()} {item.unit} of {item.name} on hand at {warehouse}"
                )
            ],
        )
    remaining = quantity
    for level in sorted(levels, key=lambda lv: (lv.expiry is None, lv.expiry or dt.date.max, lv.pk)):
        take = min(level.quantity, remaining)
        if take:
            _move(level, StockMove.Kind.ISSUE, -take, actor, reference)
            remaining -= take
        if not remaining:
            break
