"""The aid part of the JSON API (thin: parse, call a selector or service, answer).

Programs, cycles and stock are not personal data: any signed-in user sees those of their area (writes are
role-checked by the services). Entitlements, deliveries, loans and payments are personal: the analyst gets 403,
a record outside the caller's subtree is 404, a role that may not do the write gets 403."""

from collections import Counter

from django.utils import timezone
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from mahalle.accounts.gates import personal_data_router
from mahalle.core.errors import ValidationFailed, field_error, first_or_not_found
from mahalle.geo.models import OrgUnit
from mahalle.needs.models import Agency
from mahalle.registry.selectors import persons_visible

from . import exports, rules, selectors, services
from .models import Item, Warehouse
from .schemas import (
    BatchOut,
    CodeSentOut,
    CycleDetailOut,
    DecisionIn,
    DeliveryIn,
    DeliveryOut,
    EntitlementOut,
    LoanIn,
    LoanOut,
    Page,
    PaymentResultsIn,
    ProgramIn,
    ProgramOut,
    ReturnIn,
    StockLevelOut,
    StockMoveIn,
    StockMoveOut,
)

router = Router(tags=["aid"])
# Entitlements, deliveries, loans and payments: every operation passes the personal-data gate (403 for the analyst).
personal = personal_data_router(tags=["aid"])


def _by_code(model, code, field: str, what: str, queryset=None):
    found = (queryset if queryset is not None else model.objects).filter(code=(code or "").strip()).first()
    if found is None:
        raise ValidationFailed("the request is not valid", [field_error(field, f"unknown {what} '{code}'")])
    return found


def _program_out(program) -> dict:
    return {
        **{f: getattr(program, f) for f in ("id", "code", "name", "kind", "category", "quantity", "amount")},
        "agency": program.agency.code,
        "org_unit": program.org_unit.code,
        "item": program.item.code if program.item_id else None,
        "rule": program.rule,
        "rule_text": rules.rule_describe(program.rule),
        "cadence": program.cadence,
        "cycles": list(program.cycle_set.all()),
    }


def _entitlement_out(e) -> dict:
    return {
        **{f: getattr(e, f) for f in ("id", "cycle_id", "household_id", "head_name", "quantity", "amount")},
        **{f: getattr(e, f) for f in ("reasons", "flag", "flag_detail", "decision")},
        "org_unit": e.org_path.rstrip(".").rsplit(".", 1)[-1],
        "delivered": getattr(e, "delivered", False),
    }


# --- programs and cycles (not personal) -----------------------------------------------------------------------


@router.get("/programs", response=list[ProgramOut], summary="Programs serving your area, with their cycles")
@paginate(Page)
def programs_list(request):
    programs = selectors.programs_visible(user=request.user).prefetch_related("cycle_set")
    return [_program_out(p) for p in programs]


@router.post(
    "/programs", response={201: ProgramOut}, summary="Define a program and its cycles (coordinators)"
)
def program_post(request, payload: ProgramIn):
    data = payload.dict()
    unit = _by_code(OrgUnit, data.pop("org_unit"), "org_unit", "org unit")
    agency = _by_code(Agency, data.pop("agency"), "agency", "agency")
    item_code = data.pop("item")
    item = _by_code(Item, item_code, "item", "item") if item_code else None
    program = services.program_create(actor=request.user, org_unit=unit, agency=agency, item=item, **data)
    return Status(201, _program_out(program))


def _cycle_out(request, cycle) -> dict:
    coverage = selectors.cycle_coverage(user=request.user, cycle=cycle)
    return {
        **{f.name: getattr(cycle, f.name) for f in cycle._meta.concrete_fields},
        "id": cycle.pk,
        "program": cycle.program.code,
        "coverage": coverage,
    }


@router.get(
    "/cycles/{cycle_id}", response=CycleDetailOut, summary="A cycle: progress and coverage in your area"
)
def cycle_detail(request, cycle_id: int):
    return _cycle_out(request, selectors.access_cycle(request.user, cycle_id))


@router.post(
    "/cycles/{cycle_id}/run", response={202: CycleDetailOut}, summary="Compute the cycle's entitlements"
)
def cycle_run(request, cycle_id: int):
    cycle = services.cycle_run_request(
        actor=request.user, cycle=selectors.access_cycle(request.user, cycle_id)
    )
    return Status(202, _cycle_out(request, cycle))


@router.post(
    "/cycles/{cycle_id}/approve", response=CycleDetailOut, summary="Approve (freeze) a computed cycle"
)
def cycle_approve(request, cycle_id: int):
    cycle = services.cycle_approve(actor=request.user, cycle=selectors.access_cycle(request.user, cycle_id))
    return _cycle_out(request, cycle)


# --- entitlements and deliveries (personal) ------------------------------------------------------------------


@personal.get(
    "/cycles/{cycle_id}/entitlements", response=list[EntitlementOut], summary="Entitlements in your area"
)
@paginate(Page)
def entitlements_list(request, cycle_id: int, flagged: bool = False):
    cycle = selectors.access_cycle(request.user, cycle_id)
    rows = selectors.entitlements_visible(user=request.user).filter(cycle=cycle)
    if flagged:
        rows = rows.exclude(flag="")
    return [_entitlement_out(e) for e in selectors.with_delivered(rows.order_by("org_path", "id"))]


@personal.get(
    "/entitlements/due", response=list[EntitlementOut], summary="Approved, not yet delivered (your area)"
)
@paginate(Page)
def entitlements_due(request):
    return [_entitlement_out(e) for e in selectors.entitlements_to_deliver(user=request.user).order_by("id")]


@personal.post(
    "/entitlements/{entitlement_id}/decision", response=EntitlementOut, summary="Keep or drop a flag"
)
def entitlement_decision(request, entitlement_id: int, payload: DecisionIn):
    entitlement = selectors.access_entitlement(request.user, entitlement_id)
    entitlement = services.entitlement_decide(actor=request.user, entitlement=entitlement, **payload.dict())
    return _entitlement_out(entitlement)


@personal.post(
    "/entitlements/{entitlement_id}/code", response=CodeSentOut, summary="Send a one-time delivery code"
)
def entitlement_code(request, entitlement_id: int):
    entitlement = selectors.access_entitlement(request.user, entitlement_id)
    return services.delivery_code_send(actor=request.user, entitlement=entitlement)


@personal.post("/deliveries", response={201: DeliveryOut, 200: DeliveryOut}, summary="Record a delivery")
def delivery_post(request, payload: DeliveryIn):
    """201 when recorded, 200 when the same delivery id arrives again; 409 when the entitlement was delivered
    already (another id) or the post's stock is short; 404 outside your area."""
    entitlement = selectors.access_entitlement(request.user, payload.entitlement_id)
    delivery, created = services.delivery_record(
        actor=request.user,
        entitlement=entitlement,
        delivery_id=payload.id,
        proof=payload.proof,
        code=payload.code,
    )
    body = {
        **{f: getattr(delivery, f) for f in ("id", "entitlement_id", "quantity", "proof", "delivered_at")},
        "created": created,
    }
    return Status(201 if created else 200, body)


# --- stock (not personal) ------------------------------------------------------------------------------------


@router.get("/stock", response=list[StockLevelOut], summary="Stock levels of the warehouses in your area")
@paginate(Page)
def stock_list(request, item: str = ""):
    levels = selectors.stock_levels_visible(user=request.user).order_by(
        "warehouse__code", "item__code", "lot"
    )
    return levels.filter(item__code=item) if item else levels


@router.post(
    "/stock/moves", response={201: StockMoveOut}, summary="Receive, transfer, write off or adjust stock"
)
def stock_move(request, payload: StockMoveIn):
    user = request.user
    warehouse = _by_code(
        None, payload.warehouse, "warehouse", "warehouse", selectors.warehouses_visible(user=user)
    )
    item = _by_code(Item, payload.item, "item", "item")
    reference = ""
    at = {"actor": user, "warehouse": warehouse, "item": item, "lot": payload.lot}
    if payload.kind == "receipt":
        services.stock_receive(**at, quantity=payload.quantity, expiry=payload.expiry, source=payload.note)
    elif payload.kind == "transfer":
        target = _by_code(Warehouse, payload.target, "target", "warehouse")
        reference = services.stock_transfer(
            actor=user, source=warehouse, target=target, item=item, quantity=payload.quantity, lot=payload.lot
        )
    elif payload.kind == "loss":
        services.stock_write_off(**at, quantity=payload.quantity, reason=payload.note)
    else:
        services.stock_adjust(**at, counted=payload.quantity, reason=payload.note)
    return Status(201, {"ok": True, "reference": reference})


# --- equipment loans (personal) ------------------------------------------------------------------------------


def _loan_out(loan) -> dict:
    return {
        **{f: getattr(loan, f) for f in ("id", "person_id", "lent_on", "due_on", "returned_on")},
        "serial": loan.unit.serial,
        "overdue": loan.returned_on is None and loan.due_on < timezone.localdate(),
    }


@personal.get("/loans", response=list[LoanOut], summary="Equipment lent now (who has which unit)")
@paginate(Page)
def loans_list(request, overdue: bool = False):
    loans = selectors.loans_overdue(user=request.user) if overdue else selectors.loans_open(user=request.user)
    return [_loan_out(loan) for loan in loans.order_by("due_on", "id")]


@personal.post("/loans", response={201: LoanOut}, summary="Lend a unit to a patient at home")
def loan_post(request, payload: LoanIn):
    user = request.user
    person = first_or_not_found(persons_visible(user=user), payload.person_id, "person")
    unit = selectors.equipment_units_visible(user=user).filter(serial=payload.serial.strip().upper()).first()
    if unit is None:
        raise ValidationFailed(
            "the request is not valid", [field_error("serial", "no such unit in your area")]
        )
    loan = services.loan_lend(actor=user, unit=unit, person=person, days=payload.days)
    return Status(201, _loan_out(loan))


@personal.post(
    "/loans/{uuid:loan_id}/return", response=LoanOut, summary="Take a unit back (it goes to cleaning)"
)
def loan_return(request, loan_id, payload: ReturnIn):
    loan = selectors.access_loan(request.user, loan_id)
    return _loan_out(services.loan_return(actor=request.user, loan=loan, on=payload.on))


# --- cash payments (personal) --------------------------------------------------------------------------------


@personal.get(
    "/cycles/{cycle_id}/payments", summary="Payment instructions for the paying agency (CSV or XLSX)"
)
def payments_export(request, cycle_id: int, format: str = "csv"):  # noqa: A002 - the query parameter's name
    cycle = selectors.access_cycle(request.user, cycle_id)
    rows = services.payments_export_rows(actor=request.user, cycle=cycle)
    return exports.payments_response(rows, f"payments-{cycle.program.code}-{cycle.number}", format)


@personal.post(
    "/cycles/{cycle_id}/payment-results", response=BatchOut, summary="Reconcile the agency's results"
)
def payment_results(request, cycle_id: int, payload: PaymentResultsIn):
    cycle = selectors.access_cycle(request.user, cycle_id)
    results = services.payment_results_import(
        actor=request.user, cycle=cycle, rows=[item.dict() for item in payload.items]
    )
    return {
        "results": [{"id": r.id, "status": r.status, "errors": r.errors} for r in results],
        "counts": dict(Counter(r.status for r in results)),
    }


router.add_router("", personal)
