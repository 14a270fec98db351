"""Transfer orders: an approved allocation of scarce stock (Can.MANAGE_PROGRAMS), then each order dispatched from
its source warehouse (Can.MANAGE_STOCK there): stock ledger lines, or equipment units moved."""

from decimal import Decimal

from django.db.models import F

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, InsufficientStock, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from .. import selectors
from ..models import EquipmentUnit, Item, StockLevel, TransferOrder, Warehouse
from ._common import _require_warehouse
from .stock import stock_transfer


@service
def transfer_orders_create(
    *, actor, item: Item, moves: list[tuple[Warehouse, Warehouse, int]], reason: str = ""
):
    """Approve an allocation: one transfer order per (source, target, units), audited together."""
    require(actor, Can.MANAGE_PROGRAMS, "your role may not approve allocations")
    errors = []
    for n, (source, target, units) in enumerate(moves):
        if not org_unit_in_jurisdiction(user=actor, unit=source.org_unit):
            errors.append(field_error(f"moves.{n}.source", f"{source.code} is outside your jurisdiction"))
        if source.pk == target.pk:
            errors.append(field_error(f"moves.{n}.target", "a warehouse cannot transfer to itself"))
        if not isinstance(units, int) or units <= 0:
            errors.append(field_error(f"moves.{n}.units", "must be a whole number above zero"))
    if not moves:
        errors.append(field_error("moves", "nothing to transfer"))
    if errors:
        raise ValidationFailed("the allocation cannot be approved", errors)
    orders = TransferOrder.objects.bulk_create(
        TransferOrder(
            source=source,
            target=target,
            item=item,
            quantity=units,
            reason=normalize_text(reason)[:300],
            created_by=actor,
        )
        for source, target, units in moves
    )
    audit_record(
        actor=actor,
        action="approve",
        object_type="aid.transferorder",
        object_id=",".join(str(o.pk) for o in orders)[:64],
        details={
            "item": item.code,
            "moves": [[s.code, t.code, u] for s, t, u in moves],
            "reason": reason[:300],
        },
    )
    return orders


def _units_move(order: TransferOrder) -> None:
    """The ordered number of available units, lowest id first, to the target warehouse."""
    units = list(
        EquipmentUnit.objects.select_for_update()
        .filter(item=order.item, warehouse=order.source, status=EquipmentUnit.Status.AVAILABLE)
        .order_by("pk")[: order.quantity]
    )
    if len(units) < order.quantity:
        raise InsufficientStock(
            "not enough units available",
            [field_error("quantity", f"{len(units)} available at {order.source}")],
        )
    EquipmentUnit.objects.filter(pk__in=[u.pk for u in units]).update(
        warehouse=order.target, org_path=order.target.org_path
    )


def _stock_move(*, actor, order: TransferOrder, reference: str) -> None:
    """The ordered quantity, earliest expiry first, as one stock transfer per lot."""
    levels = StockLevel.objects.filter(warehouse=order.source, item=order.item, quantity__gt=0)
    lots = list(levels.order_by(F("expiry").asc(nulls_last=True), "pk").values_list("lot", "quantity"))
    if sum(q for _, q in lots) < order.quantity:
        raise InsufficientStock(
            "not enough stock", [field_error("quantity", f"less than {order.quantity} at {order.source}")]
        )
    remaining = Decimal(order.quantity)
    for lot, on_hand in lots:
        take = min(on_hand, remaining)
        stock_transfer(
            actor=actor,
            source=order.source,
            target=order.target,
            item=order.item,
            quantity=take,
            lot=lot,
            reference=reference,
        )
        remaining -= take
        if not remaining:
            break


@service
def transfer_order_execute(*, actor, order: TransferOrder) -> TransferOrder:
    """Dispatch an ordered transfer: the stock ledger's transfer lines, or the equipment units' new warehouse."""
    order = (
        TransferOrder.objects.select_for_update().select_related("source", "target", "item").get(pk=order.pk)
    )
    _require_warehouse(actor, order.source)
    if order.status != TransferOrder.Status.ORDERED:
        raise Conflict("this transfer order was already executed")
    reference = f"TO-{order.pk}"
    if selectors.item_is_equipment(order.item):
        _units_move(order)
    else:
        _stock_move(actor=actor, order=order, reference=reference)
    order.status = TransferOrder.Status.DONE
    order.reference = reference
    order.save(update_fields=["status", "reference", "modified_at"])
    audit_record(
        actor=actor, action="update", obj=order, org_unit=order.source.org_unit, details={"done": True}
    )
    return order
