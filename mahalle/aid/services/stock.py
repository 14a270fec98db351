"""Items, warehouses and the stock ledger: receive, transfer, write off and adjust stock (Can.MANAGE_STOCK, for
warehouses in the actor's subtree). Each change goes through the one stock-change helper (_ledger)."""

import secrets
from decimal import Decimal

from mahalle.accounts.capabilities import Can, require
from mahalle.audit.services import audit_record
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit

from ..models import Item, StockLevel, StockMove, Warehouse
from ._common import _quantity, _require_unit, _require_warehouse
from ._ledger import _Line, _stock_change


@service
def item_create(
    *, actor, code: str, name: str, unit: str = "unit", indivisible: bool = True, perishable=False
):
    require(actor, Can.MANAGE_PROGRAMS, "your role may not define items")
    code = (code or "").strip().lower()
    if not code or Item.objects.filter(code=code).exists() or not normalize_text(name):
        raise ValidationFailed("the item is not valid", [field_error("code", "missing or already used")])
    item = Item.objects.create(
        code=code,
        name=normalize_text(name),
        unit=unit or "unit",
        indivisible=indivisible,
        perishable=perishable,
        created_by=actor,
    )
    audit_record(actor=actor, action="create", obj=item)
    return item


@service
def warehouse_create(*, actor, code: str, name: str, org_unit: OrgUnit) -> Warehouse:
    """A warehouse at any level (national, province, county, post: the level of its org unit)."""
    require(actor, Can.MANAGE_PROGRAMS, "your role may not create warehouses")
    _require_unit(actor, org_unit, "the warehouse's org unit is outside your jurisdiction")
    code = (code or "").strip().lower()
    if not code or Warehouse.objects.filter(code=code).exists() or not normalize_text(name):
        raise ValidationFailed("the warehouse is not valid", [field_error("code", "missing or already used")])
    warehouse = Warehouse.objects.create(
        code=code, name=normalize_text(name), org_unit=org_unit, org_path=org_unit.path, created_by=actor
    )
    audit_record(actor=actor, action="create", obj=warehouse, org_unit=org_unit)
    return warehouse


@service
def stock_receive(
    *, actor, warehouse: Warehouse, item: Item, quantity, lot: str = "", expiry=None, source: str = ""
) -> StockLevel:
    """Stock arriving from a donor, a purchase or a workshop."""
    _require_warehouse(actor, warehouse)
    quantity = _quantity(quantity, item)
    if item.perishable and expiry is None:
        raise ValidationFailed(
            "the receipt is not valid", [field_error("expiry", "this item carries an expiry")]
        )
    (level,), _moved = _stock_change(
        actor=actor,
        item=item,
        lot=lot.strip(),
        lines=[_Line(warehouse, StockMove.Kind.RECEIPT, quantity)],
        expiry=expiry,
        note=normalize_text(source)[:300],
        action="receive",
        audit_level=True,
        details={"item": item.code, "lot": lot, "quantity": str(quantity), "source": source[:200]},
    )
    level.refresh_from_db()
    return level


@service
def stock_transfer(
    *, actor, source: Warehouse, target: Warehouse, item: Item, quantity, lot: str = "", reference: str = ""
) -> str:
    """Move stock between warehouses: a transfer-out and a transfer-in line under one reference."""
    if source.pk == target.pk:
        raise ValidationFailed(
            "the transfer is not valid", [field_error("target", "a warehouse cannot transfer to itself")]
        )
    _require_warehouse(actor, source)
    quantity = _quantity(quantity, item)
    reference = reference or f"T-{secrets.token_hex(6)}"
    _stock_change(
        actor=actor,
        item=item,
        lot=lot,
        lines=[
            _Line(source, StockMove.Kind.TRANSFER_OUT, -quantity),
            _Line(target, StockMove.Kind.TRANSFER_IN, quantity),
        ],
        on_hand=True,
        reference=reference,
        action="transfer",
        details={
            "to": target.code,
            "item": item.code,
            "lot": lot,
            "quantity": str(quantity),
            "ref": reference,
        },
    )
    return reference


@service
def stock_write_off(*, actor, warehouse: Warehouse, item: Item, quantity, lot: str = "", reason: str) -> None:
    """A loss (spoiled, stolen, expired)."""
    _require_warehouse(actor, warehouse)
    quantity = _quantity(quantity, item)
    if not normalize_text(reason):
        raise ValidationFailed("the loss is not valid", [field_error("reason", "say why the stock was lost")])
    _stock_change(
        actor=actor,
        item=item,
        lot=lot,
        lines=[_Line(warehouse, StockMove.Kind.LOSS, -quantity)],
        on_hand=True,
        note=normalize_text(reason)[:300],
        action="loss",
        details={"item": item.code, "lot": lot, "quantity": str(quantity), "reason": reason[:200]},
    )


@service
def stock_adjust(*, actor, warehouse: Warehouse, item: Item, counted, lot: str = "", reason: str) -> Decimal:
    """Set a level to what was counted; the ledger records the difference. Returns the difference."""
    _require_warehouse(actor, warehouse)
    counted_ = Decimal(str(counted))
    if counted_ < 0 or (item.indivisible and counted_ != counted_.to_integral_value()):
        raise ValidationFailed(
            "the count is not valid", [field_error("counted", "must be zero or more, whole for this item")]
        )
    _levels, (difference,) = _stock_change(
        actor=actor,
        item=item,
        lot=lot,
        lines=[_Line(warehouse, StockMove.Kind.ADJUST, lambda level: counted_ - level.quantity)],
        note=normalize_text(reason)[:300],
        action="adjust",
        details=lambda moved: {
            "item": item.code,
            "lot": lot,
            "difference": str(moved[0]),
            "reason": reason[:200],
        },
    )
    return difference
