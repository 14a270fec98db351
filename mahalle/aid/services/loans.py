"""Equipment lent to patients at home: units, loans, returns and cleaning. Can.MANAGE_STOCK, for warehouses in
the actor's subtree; the patient must be a personal record the actor may read."""

import datetime as dt

from django.utils import timezone

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, NotFound, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from ..models import EquipmentUnit, Item, Loan, Warehouse
from ._common import _english_status, _require_warehouse

LOAN_DAYS = 14


@service
def equipment_unit_add(*, actor, item: Item, serial: str, warehouse: Warehouse) -> EquipmentUnit:
    _require_warehouse(actor, warehouse)
    serial = normalize_text(serial).upper()
    if not serial or EquipmentUnit.objects.filter(serial=serial).exists():
        raise ValidationFailed(
            "the unit is not valid", [field_error("serial", "missing or already registered")]
        )
    unit = EquipmentUnit.objects.create(
        item=item, serial=serial, warehouse=warehouse, org_path=warehouse.org_path, created_by=actor
    )
    audit_record(actor=actor, action="create", obj=unit, org_unit=warehouse.org_unit)
    return unit


@service
def loan_lend(
    *, actor, unit: EquipmentUnit, person, lent_on: dt.date | None = None, days: int = LOAN_DAYS
) -> Loan:
    """Lend an available unit to a patient at home (the patient in the actor's jurisdiction)."""
    _require_warehouse(actor, unit.warehouse, "lend equipment of")
    if not personal_record_visible(user=actor, org_path=person.org_path):
        raise NotFound("person not found")
    unit = EquipmentUnit.objects.select_for_update().get(pk=unit.pk)
    if unit.status != EquipmentUnit.Status.AVAILABLE:
        raise Conflict(f"unit {unit.serial} is {_english_status(unit)}, not available")
    lent_on = lent_on or timezone.localdate()
    loan = Loan.objects.create(
        unit=unit,
        person=person,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        lent_on=lent_on,
        due_on=lent_on + dt.timedelta(days=days),
        by=actor,
        created_by=actor,
    )
    EquipmentUnit.objects.filter(pk=unit.pk).update(status=EquipmentUnit.Status.LENT)
    audit_record(actor=actor, action="lend", obj=loan, details={"serial": unit.serial})
    return loan


@service
def loan_return(*, actor, loan: Loan, on: dt.date | None = None) -> Loan:
    require(actor, Can.MANAGE_STOCK, "your role may not take equipment back")
    if not personal_record_visible(user=actor, org_path=loan.org_path):
        raise NotFound("loan not found")
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if loan.returned_on is not None:
        raise Conflict("this loan was already returned")
    loan.returned_on = on or timezone.localdate()
    if loan.returned_on < loan.lent_on:
        raise ValidationFailed("the return is not valid", [field_error("on", "before the loan started")])
    loan.save(update_fields=["returned_on", "modified_at"])
    EquipmentUnit.objects.filter(pk=loan.unit_id).update(status=EquipmentUnit.Status.CLEANING)
    audit_record(actor=actor, action="return", obj=loan)
    return loan


@service
def equipment_unit_cleaned(*, actor, unit: EquipmentUnit) -> EquipmentUnit:
    _require_warehouse(actor, unit.warehouse)
    updated = EquipmentUnit.objects.filter(pk=unit.pk, status=EquipmentUnit.Status.CLEANING).update(
        status=EquipmentUnit.Status.AVAILABLE
    )
    if not updated:
        raise Conflict(f"unit {unit.serial} is not waiting to be cleaned")
    audit_record(actor=actor, action="cleaned", obj=unit, org_unit=unit.warehouse.org_unit)
    unit.refresh_from_db()
    return unit
