"""Cash payments: the payment instructions of an approved cash cycle for the paying agency, and its results read
back. Can.MANAGE_PROGRAMS, for programs in the actor's subtree."""

from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.batch import CREATED, EXISTS, INVALID, ItemResult
from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import Conflict, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from ..models import Cycle, PaymentInstruction
from ._common import _require_program_actor

RESULT_STATUSES = {"paid": "paid", "ok": "paid", "پرداخت شد": "paid", "failed": "failed", "ناموفق": "failed"}


@service
def payments_export_rows(*, actor, cycle: Cycle) -> list[list[str]]:
    """The rows of a cash cycle's payment instructions (for CSV/XLSX), audited as one export."""
    _require_program_actor(actor, cycle.program)
    cycle.refresh_from_db(fields=["status"])
    if cycle.status != Cycle.Status.APPROVED:
        raise Conflict("payment instructions exist once the cycle is approved")
    rows = [
        [
            p.reference,
            p.entitlement.head_national_code,
            p.entitlement.head_name,
            p.entitlement.phone,
            str(p.amount),
        ]
        for p in PaymentInstruction.objects.filter(entitlement__cycle=cycle).select_related("entitlement")
    ]
    audit_record(
        actor=actor, action="export", obj=cycle, org_unit=cycle.program.org_unit, details={"rows": len(rows)}
    )
    return rows


def _result_read(number: int, row: dict, cycle: Cycle) -> tuple[ItemResult, PaymentInstruction | None, dict]:
    """One row checked: its answer (with errors when invalid), its payment instruction (locked) and its values."""
    reference = (row.get("reference") or "").strip()
    result = ItemResult(id=reference or f"row {number}")
    payment = (
        PaymentInstruction.objects.select_for_update()
        .filter(reference=reference, entitlement__cycle=cycle)
        .first()
    )
    status = RESULT_STATUSES.get(normalize_text(row.get("status") or "").lower())
    paid_on = None
    if payment is None:
        result.errors.append(field_error("reference", f"row {number}: no payment instruction '{reference}'"))
    if status is None:
        result.errors.append(field_error("status", f"row {number}: must be paid or failed"))
    try:
        paid_on = parse_date(row["paid_on"])[0] if row.get("paid_on") else None
    except InvalidDate as exc:
        result.errors.append(field_error("paid_on", f"row {number}: {exc}"))
    return result, payment, {"status": status, "paid_on": paid_on}


@service
def payment_results_import(*, actor, cycle: Cycle, rows: list[dict]) -> list[ItemResult]:
    """Reconcile the paying agency's results: `reference, status (paid|failed), paid_on, note`. One answer per
    row: created (recorded), exists (the same result again), invalid (unknown reference, bad status or date).
    The whole file is one transaction, audited with one event per payment changed."""
    _require_program_actor(actor, cycle.program)
    results = []
    audited = []
    for number, row in enumerate(rows, start=2):
        result, payment, values = _result_read(number, row, cycle)
        if result.errors:
            result.status = INVALID
        elif payment.status == values["status"] and payment.paid_on == values["paid_on"]:
            result.status = EXISTS
        else:
            payment.status, payment.paid_on = values["status"], values["paid_on"]
            payment.result_note = normalize_text(row.get("note") or "")[:300]
            payment.save(update_fields=["status", "paid_on", "result_note"])
            audited.append((str(payment.pk), payment.entitlement.org_path))
            result.status = CREATED
        results.append(result)
    if audited:
        audit_record_many(
            actor=actor, action="payment_result", object_type="aid.paymentinstruction", rows=audited
        )
    return results
