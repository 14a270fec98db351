"""Writes of the aid area: programs and cycles, entitlements and their double-dipping flags, stock, deliveries,
equipment loans and cash payments. Every function is atomic and audits in the same transaction.

Who may do what (jurisdiction always applies on top):
- define programs, run and approve cycles, decide flags, export payments and import results: PROGRAM_ROLES
  (county, province, national coordinators, administrators) for programs whose org unit is in their subtree;
- receive, transfer, write off and adjust stock, confirm deliveries as a supervisor, lend equipment: STOCK_ROLES
  (PROGRAM_ROLES and post supervisors), for warehouses in their subtree;
- record deliveries and send delivery codes: every role that writes personal data (field volunteers included),
  for entitlements in their subtree.

A cycle is computed once: running it again while running, computed or approved is a 409 (to recompute a computed
but unapproved cycle, discard it first). A failed run may be run again (its partial rows are deleted first).
"""

import datetime as dt
import hashlib
import secrets
import uuid
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Now, NullIf, Trim
from django.utils import timezone, translation

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES, Role
from mahalle.accounts.selectors import org_unit_in_jurisdiction, personal_data_paths
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.batch import CREATED, EXISTS, INVALID, ItemResult
from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.geo.models import OrgUnit
from mahalle.needs.models import Support
from mahalle.registry.models import Household

from . import rules, sms
from .models import (
    AidKind,
    Cadence,
    Cycle,
    Decision,
    Delivery,
    DeliveryCode,
    Entitlement,
    EquipmentUnit,
    Flag,
    Item,
    Loan,
    PaymentInstruction,
    Program,
    Proof,
    StockLevel,
    StockMove,
    TransferOrder,
    Warehouse,
)

PROGRAM_ROLES = frozenset(
    {Role.COUNTY_COORDINATOR, Role.PROVINCE_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR}
)
STOCK_ROLES = PROGRAM_ROLES | {Role.POST_SUPERVISOR}
DELIVERY_ROLES = PERSONAL_DATA_WRITE_ROLES
COMPUTE_BATCH = 50_000
CODE_TTL = dt.timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
LOAN_DAYS = 14


class Conflict(DomainError):
    status_code = 409


class InsufficientStock(DomainError):
    status_code = 409


def _require(actor, roles, message: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_role(roles):
        raise PermissionDenied(message)


def _require_unit(actor, unit: OrgUnit, message: str) -> None:
    if not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied(message)


def _visible(actor, org_path: str) -> bool:
    return any(org_path.startswith(path) for path in personal_data_paths(user=actor))


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


# --- programs and cycles ------------------------------------------------------------------------------------


def cycle_periods(*, cadence: str, cycles: int, start: dt.date) -> list[tuple[dt.date, dt.date]]:
    if cadence == Cadence.ONCE:
        return [(start, start + relativedelta(months=1) - dt.timedelta(days=1))]
    step = relativedelta(weeks=1) if cadence == Cadence.WEEKLY else relativedelta(months=1)
    return [(start + step * i, start + step * (i + 1) - dt.timedelta(days=1)) for i in range(cycles)]


@transaction.atomic
def _english_status(obj) -> str:
    """A status label for an API message: messages are English whatever the request's language."""
    with translation.override("en"):
        return str(obj.get_status_display())


def program_create(
    *,
    actor,
    code: str,
    name: str,
    kind: str,
    category: str,
    agency,
    org_unit: OrgUnit,
    rule: dict,
    start_date: dt.date,
    cadence: str = Cadence.ONCE,
    cycles: int = 1,
    item: Item | None = None,
    quantity=1,
    amount=0,
) -> Program:
    """A program and all its cycles (one, or N weekly/monthly), in draft."""
    _require(actor, PROGRAM_ROLES, "your role may not define aid programs")
    _require_unit(actor, org_unit, "the program's area is outside your jurisdiction")
    errors = []
    if kind not in AidKind.values:
        errors.append(field_error("kind", f"must be one of {', '.join(AidKind.values)}"))
    if cadence not in Cadence.values:
        errors.append(field_error("cadence", f"must be one of {', '.join(Cadence.values)}"))
    if not 1 <= int(cycles) <= 120:
        errors.append(field_error("cycles", "must be from 1 to 120"))
    if kind in (AidKind.IN_KIND, AidKind.LOAN) and item is None:
        errors.append(field_error("item", "an in-kind or loan program names its item"))
    if kind == AidKind.CASH and Decimal(str(amount)) <= 0:
        errors.append(field_error("amount", "a cash program pays an amount above zero"))
    if Program.objects.filter(code=code).exists():
        errors.append(field_error("code", "a program with this code exists"))
    if errors:
        raise ValidationFailed("the program is not valid", errors)
    clean_rule = rules.rule_clean(
        rule,
        region_codes_known=OrgUnit.objects.within(org_unit)
        .filter(code__in=rule.get("regions") or [] if isinstance(rule, dict) else [])
        .values_list("code", flat=True),
    )
    program = Program.objects.create(
        code=code,
        name=normalize_text(name),
        kind=kind,
        category=category,
        agency=agency,
        org_unit=org_unit,
        org_path=org_unit.path,
        item=item,
        quantity=_quantity(quantity, item) if kind in (AidKind.IN_KIND, AidKind.SERVICE) else 1,
        amount=amount,
        rule=clean_rule,
        cadence=cadence,
        cycles=1 if cadence == Cadence.ONCE else int(cycles),
        start_date=start_date,
        created_by=actor,
    )
    Cycle.objects.bulk_create(
        Cycle(program=program, number=n, period_start=start, period_end=end)
        for n, (start, end) in enumerate(
            cycle_periods(cadence=cadence, cycles=program.cycles, start=start_date), start=1
        )
    )
    audit_record(actor=actor, action="create", obj=program, details={"rule": clean_rule, "code": code})
    return program


def _require_program_actor(actor, program: Program) -> None:
    _require(actor, PROGRAM_ROLES, "your role may not run or approve aid cycles")
    _require_unit(actor, program.org_unit, "the program is outside your jurisdiction")


@transaction.atomic
def cycle_run_request(*, actor, cycle: Cycle) -> Cycle:
    """Mark the cycle running and queue its computation (after commit). Running it twice is a 409."""
    program = cycle.program
    _require_program_actor(actor, program)
    cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
    if cycle.status not in (Cycle.Status.DRAFT, Cycle.Status.FAILED):
        raise Conflict(f"cycle {cycle.number} of this program is already {_english_status(cycle)}")
    cycle.status = Cycle.Status.RUNNING
    cycle.households_done = 0
    cycle.message = ""
    cycle.save(update_fields=["status", "households_done", "message", "modified_at"])
    audit_record(actor=actor, action="run", obj=cycle, org_unit=program.org_unit)
    transaction.on_commit(lambda: _enqueue_compute(cycle.pk))
    return cycle


def _enqueue_compute(cycle_id: int) -> None:
    from .tasks import compute_cycle

    compute_cycle.enqueue(cycle_id)


ENTITLEMENT_COLUMNS = [
    "created_at",
    "modified_at",
    "cycle_id",
    "household_id",
    "org_unit_id",
    "org_path",
    "head_name",
    "head_national_code",
    "phone",
    "quantity",
    "amount",
    "reasons",
    "flag",
    "flag_detail",
    "decision",
]


def _reasons_expression(rule: dict, start: dt.date, end: dt.date):
    """The JSON list of why a household qualified, built by the database in the same SELECT: one
    {"code": "need", "kind": …} per matching kind, {"code": "score", …}, {"code": "breadwinner_died", "date",
    "source": "case" | "need"}, and always last {"code": "area", "path": the household's org path}."""
    from mahalle.needs.models import HouseholdNeed

    text = CharField()
    pieces = [Value("[")]
    for kind in rule.get("need_kinds", []):
        need = HouseholdNeed.objects.filter(household=OuterRef("pk"), kind=kind, noted_on__lte=end)
        need = need.filter(Q(resolved_on=None) | Q(resolved_on__gte=start))
        pieces.append(
            Case(
                When(Exists(need), then=Value(f'{{"code": "need", "kind": "{kind}"}}, ')),
                default=Value(""),
                output_field=text,
            )
        )
    if rule.get("min_score") is not None:
        pieces += [
            Value('{"code": "score", "score": '),
            Cast(F("vulnerability__score"), text),
            Value(f', "min": {int(rule["min_score"])}}}, '),
        ]
    if rule.get("breadwinner_died"):
        pieces.append(
            Case(
                When(
                    death_date__isnull=False,
                    then=Concat(
                        Value('{"code": "breadwinner_died", "date": "'),
                        Cast(F("death_date"), text),
                        Value('", "source": "case"}, '),
                        output_field=text,
                    ),
                ),
                default=Concat(
                    Value('{"code": "breadwinner_died", "date": "'),
                    Cast(F("death_need_date"), text),
                    Value('", "source": "need"}, '),
                    output_field=text,
                ),
                output_field=text,
            )
        )
    pieces += [Value('{"code": "area", "path": "'), F("org_path"), Value('"}]')]
    return Cast(Concat(*pieces, output_field=text), JSONField())


def _entitlements_insert(cycle: Cycle, low: uuid.UUID | None, high: uuid.UUID | None) -> int:
    """One INSERT … SELECT of the eligible households whose id is in [low, high): the database does the work."""
    program = cycle.program
    households = eligible_for(cycle)
    if low is not None:
        households = households.filter(pk__gte=low)
    if high is not None:
        households = households.filter(pk__lt=high)
    text = CharField()
    money = DecimalField(max_digits=14, decimal_places=3)
    selected = households.annotate(
        e_created=Now(),
        e_modified=Now(),
        e_cycle=Value(cycle.pk, IntegerField()),
        e_household=F("id"),
        e_unit=F("org_unit_id"),
        e_path=F("org_path"),
        e_name=Trim(
            Concat(
                Coalesce(F("head__first_name"), Value("")),
                Value(" "),
                Coalesce(F("head__last_name"), Value("")),
                output_field=text,
            )
        ),
        e_code=Coalesce(F("head__national_code"), Value(""), output_field=text),
        e_phone=Coalesce(NullIf(F("head__mobile"), Value("")), F("phone"), output_field=text),
        e_quantity=Value(program.quantity if program.kind != AidKind.CASH else Decimal(0), money),
        e_amount=Value(program.amount if program.kind == AidKind.CASH else Decimal(0), money),
        e_reasons=_reasons_expression(program.rule, cycle.period_start, cycle.period_end),
        e_flag=Value("", text),
        e_detail=Value("", text),
        e_decision=Value("", text),
    )
    names = [
        "e_created",
        "e_modified",
        "e_cycle",
        "e_household",
        "e_unit",
        "e_path",
        "e_name",
        "e_code",
        "e_phone",
        "e_quantity",
        "e_amount",
        "e_reasons",
        "e_flag",
        "e_detail",
        "e_decision",
    ]
    sql, params = selected.values_list(*names).order_by().query.sql_with_params()
    table = connection.ops.quote_name(Entitlement._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ENTITLEMENT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
        return cursor.rowcount


def eligible_for(cycle: Cycle):
    program = cycle.program
    scope = Household.objects.all()
    if program.rule.get("regions"):
        paths = OrgUnit.objects.filter(code__in=program.rule["regions"]).values_list("path", flat=True)
        scope = scope.within_any(paths)
    else:
        scope = scope.within(program.org_path)
    return rules.eligible_households(
        scope, program.rule, period_start=cycle.period_start, period_end=cycle.period_end
    )


def cycle_compute(*, cycle_id: int, progress=None) -> Cycle:
    """Compute a running cycle's entitlements: the households are split into ranges of their (random) UUIDs of
    about COMPUTE_BATCH eligible households each, and each range is one INSERT … SELECT in its own short
    transaction, with the progress saved after it. Then the double-dipping flags (two UPDATEs). Called by the task;
    a crash leaves the cycle failed and a re-run starts from nothing."""
    cycle = Cycle.objects.select_related("program").get(pk=cycle_id)
    if cycle.status != Cycle.Status.RUNNING:
        return cycle
    try:
        Entitlement.objects.filter(cycle=cycle).delete()
        total = eligible_for(cycle).count()
        Cycle.objects.filter(pk=cycle.pk).update(households_total=total, households_done=0)
        ranges = max(1, -(-total // COMPUTE_BATCH))
        bounds = [None] + [uuid.UUID(int=(i << 128) // ranges) for i in range(1, ranges)] + [None]
        done = 0
        for low, high in zip(bounds, bounds[1:], strict=False):
            with transaction.atomic():
                written = _entitlements_insert(cycle, low, high)
                done += written
                Cycle.objects.filter(pk=cycle.pk).update(households_done=done)
            if progress:
                progress(written)
        flagged = entitlements_flag(cycle=cycle)
        Cycle.objects.filter(pk=cycle.pk).update(
            status=Cycle.Status.COMPUTED,
            entitled=done,
            flagged=flagged,
            computed_at=timezone.now(),
        )
    except Exception as exc:
        Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.FAILED, message=repr(exc)[:2000])
        raise
    cycle.refresh_from_db()
    return cycle


def entitlements_flag(*, cycle: Cycle) -> int:
    """Flag this cycle's households already served in the same period: by another program of the same category
    (computed or approved, not dropped there), or listed in needs.Support for that category by another agency.
    Two UPDATE … WHERE EXISTS statements; returns the number flagged."""
    program = cycle.program
    others = (
        Entitlement.objects.filter(
            household=OuterRef("household"),
            cycle__program__category=program.category,
            cycle__period_start__lte=cycle.period_end,
            cycle__period_end__gte=cycle.period_start,
            cycle__status__in=[Cycle.Status.COMPUTED, Cycle.Status.APPROVED],
        )
        .exclude(cycle__program=program)
        .exclude(decision=Decision.DROP)
    )
    mine = Entitlement.objects.filter(cycle=cycle)
    mine.filter(Exists(others)).update(
        flag=Flag.OTHER_PROGRAM,
        flag_detail=Subquery(others.values("cycle__program__name")[:1]),
    )
    words = {program.category, program.category.replace("_", " "), program.category.replace("-", " ")}
    supports = (
        Support.objects.filter(
            household=OuterRef("household"),
            kind__in=words,
        )
        .filter(
            (Q(start_date=None) | Q(start_date__lte=cycle.period_end))
            & (Q(end_date=None) | Q(end_date__gte=cycle.period_start))
        )
        .exclude(agency=program.agency_id)
    )
    mine.filter(flag="").filter(Exists(supports)).update(
        flag=Flag.AGENCY_SUPPORT,
        flag_detail=Subquery(supports.values("agency__name")[:1]),
    )
    return mine.exclude(flag="").count()


@transaction.atomic
def entitlement_decide(*, actor, entitlement: Entitlement, decision: str, note: str = "") -> Entitlement:
    """The coordinator's keep/drop on a flagged entitlement of a cycle not yet approved; kept and audited."""
    cycle = entitlement.cycle
    _require_program_actor(actor, cycle.program)
    if decision not in (Decision.KEEP, Decision.DROP):
        raise ValidationFailed("the decision is not valid", [field_error("decision", "must be keep or drop")])
    entitlement = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    if Cycle.objects.get(pk=cycle.pk).status != Cycle.Status.COMPUTED:
        raise Conflict("only a computed cycle awaiting approval can be changed")
    old = entitlement.decision
    entitlement.decision = decision
    entitlement.decided_by = actor
    entitlement.save(update_fields=["decision", "decided_by", "modified_at"])
    audit_record(
        actor=actor,
        action="decide",
        obj=entitlement,
        details={"flag": entitlement.flag, "from": old, "to": decision, "note": normalize_text(note)[:300]},
    )
    return entitlement


@transaction.atomic
def cycle_approve(*, actor, cycle: Cycle) -> Cycle:
    """Freeze the cycle's list. Every flag must have a decision first. Cash cycles get payment instructions."""
    program = cycle.program
    _require_program_actor(actor, program)
    cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
    if cycle.status != Cycle.Status.COMPUTED:
        raise Conflict(f"only a computed cycle can be approved (this one is {_english_status(cycle)})")
    undecided = cycle.entitlements.exclude(flag="").filter(decision="").count()
    if undecided:
        raise ValidationFailed(
            "decide every flagged household before approving",
            [field_error("flags", f"{undecided} flagged households have no keep/drop decision")],
        )
    cycle.status = Cycle.Status.APPROVED
    cycle.approved_by = actor
    cycle.approved_at = timezone.now()
    cycle.save(update_fields=["status", "approved_by", "approved_at", "modified_at"])
    payments = 0
    if program.kind == AidKind.CASH:
        kept = cycle.entitlements.exclude(decision=Decision.DROP).values_list("pk", "amount")
        prefix = f"{program.code[:20]}-{cycle.number}-"
        for start in range(0, len(kept := list(kept)), COMPUTE_BATCH):
            PaymentInstruction.objects.bulk_create(
                PaymentInstruction(entitlement_id=pk, reference=f"{prefix}{pk}", amount=amount)
                for pk, amount in kept[start : start + COMPUTE_BATCH]
            )
        payments = len(kept)
    dropped = cycle.entitlements.filter(decision=Decision.DROP).count()
    audit_record(
        actor=actor,
        action="approve",
        obj=cycle,
        org_unit=program.org_unit,
        details={"entitled": cycle.entitled, "dropped": dropped, "payments": payments},
    )
    return cycle


def cycles_due_run(*, today: dt.date | None = None) -> list[int]:
    """Queue every draft cycle whose period has started (the next monthly cycle picks up new deaths by itself).
    Runs as the system (no actor); returns the cycle ids queued."""
    today = today or timezone.localdate()
    queued = []
    for cycle in Cycle.objects.filter(status=Cycle.Status.DRAFT, period_start__lte=today).order_by("pk"):
        with transaction.atomic():
            updated = Cycle.objects.filter(pk=cycle.pk, status=Cycle.Status.DRAFT).update(
                status=Cycle.Status.RUNNING
            )
            if updated:
                audit_record(actor=None, action="run", obj=cycle, details={"by": "schedule"})
                transaction.on_commit(lambda pk=cycle.pk: _enqueue_compute(pk))
                queued.append(cycle.pk)
    return queued


# --- stock --------------------------------------------------------------------------------------------------


@transaction.atomic
def item_create(
    *, actor, code: str, name: str, unit: str = "unit", indivisible: bool = True, perishable=False
):
    _require(actor, PROGRAM_ROLES, "your role may not define items")
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


@transaction.atomic
def warehouse_create(*, actor, code: str, name: str, org_unit: OrgUnit) -> Warehouse:
    """A warehouse at any level (national, province, county, post: the level of its org unit)."""
    _require(actor, PROGRAM_ROLES, "your role may not create warehouses")
    _require_unit(actor, org_unit, "the warehouse's org unit is outside your jurisdiction")
    code = (code or "").strip().lower()
    if not code or Warehouse.objects.filter(code=code).exists() or not normalize_text(name):
        raise ValidationFailed("the warehouse is not valid", [field_error("code", "missing or already used")])
    warehouse = Warehouse.objects.create(
        code=code, name=normalize_text(name), org_unit=org_unit, org_path=org_unit.path, created_by=actor
    )
    audit_record(actor=actor, action="create", obj=warehouse, org_unit=org_unit)
    return warehouse


def _require_warehouse(actor, warehouse: Warehouse, what: str = "manage stock of") -> None:
    _require(actor, STOCK_ROLES, f"your role may not {what} warehouses")
    _require_unit(actor, warehouse.org_unit, "the warehouse is outside your jurisdiction")


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


@transaction.atomic
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
    level = _lock_levels([(warehouse.pk, item.pk, lot.strip())])[(warehouse.pk, item.pk, lot.strip())]
    if expiry is not None and level.expiry is None:
        StockLevel.objects.filter(pk=level.pk).update(expiry=expiry)
    _move(level, StockMove.Kind.RECEIPT, quantity, actor, note=normalize_text(source)[:300])
    audit_record(
        actor=actor,
        action="receive",
        object_type="aid.stocklevel",
        object_id=str(level.pk),
        org_unit=warehouse.org_unit,
        details={"item": item.code, "lot": lot, "quantity": str(quantity), "source": source[:200]},
    )
    level.refresh_from_db()
    return level


@transaction.atomic
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
    keys = [(source.pk, item.pk, lot), (target.pk, item.pk, lot)]
    if not StockLevel.objects.filter(warehouse=source, item=item, lot=lot).exists():
        raise InsufficientStock(
            "not enough stock", [field_error("quantity", f"nothing on hand in lot '{lot}'")]
        )
    levels = _lock_levels(keys)
    src, dst = levels[keys[0]], levels[keys[1]]
    if src.expiry and not dst.expiry:
        StockLevel.objects.filter(pk=dst.pk).update(expiry=src.expiry)
    _move(src, StockMove.Kind.TRANSFER_OUT, -quantity, actor, reference)
    _move(dst, StockMove.Kind.TRANSFER_IN, quantity, actor, reference)
    audit_record(
        actor=actor,
        action="transfer",
        object_type="aid.warehouse",
        object_id=str(source.pk),
        org_unit=source.org_unit,
        details={
            "to": target.code,
            "item": item.code,
            "lot": lot,
            "quantity": str(quantity),
            "ref": reference,
        },
    )
    return reference


@transaction.atomic
def stock_write_off(*, actor, warehouse: Warehouse, item: Item, quantity, lot: str = "", reason: str) -> None:
    """A loss (spoiled, stolen, expired)."""
    _require_warehouse(actor, warehouse)
    quantity = _quantity(quantity, item)
    if not normalize_text(reason):
        raise ValidationFailed("the loss is not valid", [field_error("reason", "say why the stock was lost")])
    key = (warehouse.pk, item.pk, lot)
    if not StockLevel.objects.filter(warehouse=warehouse, item=item, lot=lot).exists():
        raise InsufficientStock(
            "not enough stock", [field_error("quantity", f"nothing on hand in lot '{lot}'")]
        )
    _move(_lock_levels([key])[key], StockMove.Kind.LOSS, -quantity, actor, note=normalize_text(reason)[:300])
    audit_record(
        actor=actor,
        action="loss",
        object_type="aid.warehouse",
        object_id=str(warehouse.pk),
        org_unit=warehouse.org_unit,
        details={"item": item.code, "lot": lot, "quantity": str(quantity), "reason": reason[:200]},
    )


@transaction.atomic
def stock_adjust(*, actor, warehouse: Warehouse, item: Item, counted, lot: str = "", reason: str) -> Decimal:
    """Set a level to what was counted; the ledger records the difference. Returns the difference."""
    _require_warehouse(actor, warehouse)
    counted_ = Decimal(str(counted))
    if counted_ < 0 or (item.indivisible and counted_ != counted_.to_integral_value()):
        raise ValidationFailed(
            "the count is not valid", [field_error("counted", "must be zero or more, whole for this item")]
        )
    key = (warehouse.pk, item.pk, lot)
    level = _lock_levels([key])[key]
    difference = counted_ - level.quantity
    if difference:
        _move(level, StockMove.Kind.ADJUST, difference, actor, note=normalize_text(reason)[:300])
    audit_record(
        actor=actor,
        action="adjust",
        object_type="aid.warehouse",
        object_id=str(warehouse.pk),
        org_unit=warehouse.org_unit,
        details={"item": item.code, "lot": lot, "difference": str(difference), "reason": reason[:200]},
    )
    return difference


def _issue(*, warehouse: Warehouse, item: Item, quantity: Decimal, actor, reference: str) -> None:
    """Take `quantity` from the warehouse, earliest expiry first, under locks taken in id order."""
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


# --- deliveries ---------------------------------------------------------------------------------------------


def _hash_code(entitlement_id: int, code: str) -> str:
    return hashlib.sha256(f"{entitlement_id}:{code}".encode()).hexdigest()


def _require_deliverable(actor, entitlement: Entitlement) -> None:
    _require(actor, DELIVERY_ROLES, "your role may not record deliveries")
    if not _visible(actor, entitlement.org_path):
        raise NotFound("entitlement not found")
    if entitlement.cycle.status != Cycle.Status.APPROVED:
        raise Conflict("the cycle of this entitlement is not approved yet")
    if entitlement.decision == Decision.DROP:
        raise Conflict("this entitlement was dropped by the coordinator")
    if entitlement.cycle.program.kind not in (AidKind.IN_KIND, AidKind.SERVICE):
        raise Conflict(
            "this program is not delivered at the door (cash is paid by the agency, loans are lent)"
        )


@transaction.atomic
def delivery_code_send(*, actor, entitlement: Entitlement) -> DeliveryCode:
    """Send a fresh one-time code to the household's registered mobile (as copied at approval)."""
    _require_deliverable(actor, entitlement)
    if not entitlement.phone:
        raise ValidationFailed(
            "no mobile is registered for this household",
            [field_error("proof", "use a signature or supervisor")],
        )
    code = f"{secrets.randbelow(10**6):06d}"
    sent = DeliveryCode.objects.create(
        entitlement=entitlement,
        code_hash=_hash_code(entitlement.pk, code),
        sent_to=entitlement.phone,
        expires_at=timezone.now() + CODE_TTL,
    )
    audit_record(actor=actor, action="send_code", obj=entitlement)
    text = f"Mahalle: {entitlement.cycle.program.name} — code {code}"
    transaction.on_commit(lambda: sms.send_sms(entitlement.phone, text))
    return sent


def _check_code(entitlement: Entitlement, code: str) -> int:
    """The id of the live code that matches, or ValidationFailed. A wrong try is counted in its own
    transaction (it survives the refusal); after CODE_MAX_ATTEMPTS the code is dead: send a new one."""
    bad = ValidationFailed("the code is not valid", [field_error("code", "wrong or expired code")])
    with transaction.atomic():
        sent = (
            DeliveryCode.objects.select_for_update()
            .filter(entitlement=entitlement, used_at=None, expires_at__gt=timezone.now())
            .order_by("-created_at")
            .first()
        )
        if sent is None or sent.attempts >= CODE_MAX_ATTEMPTS:
            raise bad
        matches = secrets.compare_digest(sent.code_hash, _hash_code(entitlement.pk, (code or "").strip()))
        if not matches:
            DeliveryCode.objects.filter(pk=sent.pk).update(attempts=F("attempts") + 1)
    if not matches:
        raise bad
    return sent.pk


def delivery_record(
    *, actor, entitlement: Entitlement, delivery_id, proof: str, code: str = "", proof_file=None
) -> tuple[Delivery, bool]:
    """Deliver an entitlement once, from the post's stock, with proof. Returns (delivery, created).

    The same delivery id again is a no-op (the phone re-sent); another delivery of the same entitlement is a 409,
    even at the same moment: the entitlement row is locked first, and the unique constraint backs it up."""
    _require_deliverable(actor, entitlement)
    existing = Delivery.objects.filter(pk=delivery_id).first()
    if existing is not None:
        if existing.entitlement_id != entitlement.pk:
            raise Conflict("this delivery id was used for another entitlement")
        return existing, False
    if Delivery.objects.filter(entitlement_id=entitlement.pk).exists():
        raise Conflict("this entitlement has already been delivered")
    errors = []
    if proof not in Proof.values:
        errors.append(field_error("proof", f"must be one of {', '.join(Proof.values)}"))
    elif proof == Proof.SIGNATURE and not proof_file:
        errors.append(field_error("proof_file", "attach the signature or photo"))
    elif proof == Proof.SUPERVISOR and not actor.has_role(STOCK_ROLES):
        errors.append(field_error("proof", "only a supervisor can confirm a delivery"))
    elif proof == Proof.CODE and not code:
        errors.append(field_error("code", "enter the code the household received"))
    if errors:
        raise ValidationFailed("the delivery is not valid", errors)
    program = entitlement.cycle.program
    code_id = _check_code(entitlement, code) if proof == Proof.CODE else None
    try:
        with transaction.atomic():
            locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
            if Delivery.objects.filter(entitlement=locked).exists():
                raise Conflict("this entitlement has already been delivered")
            if code_id is not None and not DeliveryCode.objects.filter(pk=code_id, used_at=None).update(
                used_at=timezone.now()
            ):
                raise ValidationFailed("the code is not valid", [field_error("code", "this code was used")])
            warehouse = None
            if program.kind == AidKind.IN_KIND:
                warehouse = Warehouse.objects.filter(org_unit_id=locked.org_unit_id).order_by("pk").first()
                if warehouse is None:
                    raise InsufficientStock(
                        "the post has no warehouse to deliver from",
                        [field_error("warehouse", "none at the post")],
                    )
                _issue(
                    warehouse=warehouse,
                    item=program.item,
                    quantity=locked.quantity,
                    actor=actor,
                    reference=str(delivery_id),
                )
            delivery = Delivery.objects.create(
                id=delivery_id,
                entitlement=locked,
                org_unit_id=locked.org_unit_id,
                org_path=locked.org_path,
                warehouse=warehouse,
                quantity=locked.quantity,
                proof=proof,
                proof_file=proof_file or "",
                by=actor,
                created_by=actor,
            )
            audit_record(actor=actor, action="deliver", obj=delivery, details={"proof": proof})
    except IntegrityError:
        existing = Delivery.objects.filter(pk=delivery_id).first()
        if existing is not None and existing.entitlement_id == entitlement.pk:
            return existing, False
        raise Conflict("this entitlement has already been delivered") from None
    return delivery, True


# --- equipment loans ----------------------------------------------------------------------------------------


@transaction.atomic
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


@transaction.atomic
def loan_lend(
    *, actor, unit: EquipmentUnit, person, lent_on: dt.date | None = None, days: int = LOAN_DAYS
) -> Loan:
    """Lend an available unit to a patient at home (the patient in the actor's jurisdiction)."""
    _require_warehouse(actor, unit.warehouse, "lend equipment of")
    if not _visible(actor, person.org_path):
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


@transaction.atomic
def loan_return(*, actor, loan: Loan, on: dt.date | None = None) -> Loan:
    _require(actor, STOCK_ROLES, "your role may not take equipment back")
    if not _visible(actor, loan.org_path):
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


@transaction.atomic
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


# --- cash payments ------------------------------------------------------------------------------------------

PAYMENT_COLUMNS = ["reference", "national_code", "name", "mobile", "amount"]
RESULT_STATUSES = {"paid": "paid", "ok": "paid", "پرداخت شد": "paid", "failed": "failed", "ناموفق": "failed"}


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


def payment_results_import(*, actor, cycle: Cycle, rows: list[dict]) -> list[ItemResult]:
    """Reconcile the paying agency's results: `reference, status (paid|failed), paid_on, note`. One answer per
    row: created (recorded), exists (the same result again), invalid (unknown reference, bad status or date)."""
    _require_program_actor(actor, cycle.program)
    results = []
    audited = []
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):
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
                result.errors.append(
                    field_error("reference", f"row {number}: no payment instruction '{reference}'")
                )
            if status is None:
                result.errors.append(field_error("status", f"row {number}: must be paid or failed"))
            try:
                paid_on = parse_date(row["paid_on"])[0] if row.get("paid_on") else None
            except InvalidDate as exc:
                result.errors.append(field_error("paid_on", f"row {number}: {exc}"))
            if result.errors:
                result.status = INVALID
            elif payment.status == status and payment.paid_on == paid_on:
                result.status = EXISTS
            else:
                payment.status, payment.paid_on = status, paid_on
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


def stock_on_hand(*, warehouse_ids=None, item=None):
    levels = StockLevel.objects.all()
    if warehouse_ids is not None:
        levels = levels.filter(warehouse_id__in=warehouse_ids)
    if item is not None:
        levels = levels.filter(item=item)
    return levels.aggregate(total=Sum("quantity"))["total"] or Decimal(0)


# --- transfer orders (allocation of scarce stock) -------------------------------------------------------------


def _is_equipment(item: Item) -> bool:
    return EquipmentUnit.objects.filter(item=item).exists()


def available_units(*, warehouse_ids, item: Item) -> dict[int, int]:
    """What each warehouse can give of an item: available equipment units, or stock on hand."""
    if _is_equipment(item):
        rows = (
            EquipmentUnit.objects.filter(
                item=item, warehouse_id__in=warehouse_ids, status=EquipmentUnit.Status.AVAILABLE
            )
            .values("warehouse_id")
            .annotate(n=Count("pk"))
        )
        return {r["warehouse_id"]: r["n"] for r in rows}
    rows = StockLevel.objects.filter(item=item, warehouse_id__in=warehouse_ids).values("warehouse_id")
    return {r["warehouse_id"]: int(r["q"]) for r in rows.annotate(q=Sum("quantity")) if r["q"] >= 1}


@transaction.atomic
def transfer_orders_create(
    *, actor, item: Item, moves: list[tuple[Warehouse, Warehouse, int]], reason: str = ""
):
    """Approve an allocation: one transfer order per (source, target, units), audited together."""
    _require(actor, PROGRAM_ROLES, "your role may not approve allocations")
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


@transaction.atomic
def transfer_order_execute(*, actor, order: TransferOrder) -> TransferOrder:
    """Dispatch an ordered transfer: the stock ledger's transfer lines, or the equipment units' new warehouse."""
    order = (
        TransferOrder.objects.select_for_update().select_related("source", "target", "item").get(pk=order.pk)
    )
    _require_warehouse(actor, order.source)
    if order.status != TransferOrder.Status.ORDERED:
        raise Conflict("this transfer order was already executed")
    reference = f"TO-{order.pk}"
    if _is_equipment(order.item):
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
    else:
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
    order.status = TransferOrder.Status.DONE
    order.reference = reference
    order.save(update_fields=["status", "reference", "modified_at"])
    audit_record(
        actor=actor, action="update", obj=order, org_unit=order.source.org_unit, details={"done": True}
    )
    return order
