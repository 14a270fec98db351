"""What every aid service checks first: who may act on which program or warehouse, and what a quantity is."""

from decimal import Decimal, InvalidOperation

from django.utils import translation

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.geo.models import OrgUnit

from ..models import Item, Program, Warehouse


def _require_unit(actor, unit: OrgUnit, message: str) -> None:
    if not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied(message)


def _require_program_actor(actor, program: Program) -> None:
    require(actor, Can.MANAGE_PROGRAMS, "your role may not run or approve aid cycles")
    _require_unit(actor, program.org_unit, "the program is outside your jurisdiction")


def _require_warehouse(actor, warehouse: Warehouse, what: str = "manage stock of") -> None:
    require(actor, Can.MANAGE_STOCK, f"your role may not {what} warehouses")
    _require_unit(actor, warehouse.org_unit, "the warehouse is outside your jurisdiction")


def _english_status(obj) -> str:
    """A status label for an API message: messages are English whatever the request's language."""
    with translation.override("en"):
        return str(obj.get_status_display())


def _quantity(value, item: Item | None, field: str = "quantity") -> Decimal:
    try:
        quantity = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "the quantity is not valid", [field_error(field, "must be a number")]
        ) from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValidationFailed("the quantity is not valid", [field_error(field, "must be more than zero")])
    if item is not None and item.indivisible and quantity != quantity.to_integral_value():
        raise ValidationFailed(
            "the quantity is not valid", [field_error(field, f"{item.name} is counted in whole units")]
        )
    if quantity.as_tuple().exponent < -3:
        raise ValidationFailed("the quantity is not valid", [field_error(field, "at most 3 decimal places")])
    return quantity
