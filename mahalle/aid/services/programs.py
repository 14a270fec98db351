"""Programs and their cycles: define a program, run a cycle (its computation is in computing.py), decide the
double-dipping flags, approve. Can.MANAGE_PROGRAMS, for programs whose org unit is in the actor's subtree.

A cycle is computed once: running it again while running, computed or approved is a 409 (to recompute a computed
but unapproved cycle, discard it first). A failed run may be run again (its partial rows are deleted first).
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from mahalle.accounts.capabilities import Can, require
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit

from .. import rules
from ..models import AidKind, Cadence, Cycle, Decision, Entitlement, Item, PaymentInstruction, Program
from ._common import _english_status, _quantity, _require_program_actor, _require_unit

COMPUTE_BATCH = 50_000

# Sent after the commit that marks a cycle running, with `cycle_id`: aid.tasks queues its computation.
cycle_queued = Signal()


def _queue_compute(cycle_id: int) -> None:
    transaction.on_commit(lambda: cycle_queued.send(sender=Cycle, cycle_id=cycle_id))


@service
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
    require(actor, Can.MANAGE_PROGRAMS, "your role may not define aid programs")
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
            rules.cycle_periods(cadence=cadence, cycles=program.cycles, start=start_date), start=1
        )
    )
    audit_record(actor=actor, action="create", obj=program, details={"rule": clean_rule, "code": code})
    return program


def _cycle_locked(actor, cycle: Cycle) -> tuple[Program, Cycle]:
    """The cycle's program, and the cycle locked, once the actor may run or approve its cycles."""
    program = cycle.program
    _require_program_actor(actor, program)
    return program, Cycle.objects.select_for_update().get(pk=cycle.pk)


@service
def cycle_run_request(*, actor, cycle: Cycle) -> Cycle:
    """Mark the cycle running and queue its computation (after commit). Running it twice is a 409."""
    program, cycle = _cycle_locked(actor, cycle)
    if cycle.status not in (Cycle.Status.DRAFT, Cycle.Status.FAILED):
        raise Conflict(f"cycle {cycle.number} of this program is already {_english_status(cycle)}")
    cycle.status = Cycle.Status.RUNNING
    cycle.households_done = 0
    cycle.message = ""
    cycle.save(update_fields=["status", "households_done", "message", "modified_at"])
    audit_record(actor=actor, action="run", obj=cycle, org_unit=program.org_unit)
    _queue_compute(cycle.pk)
    return cycle


@service
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


@service
def cycle_approve(*, actor, cycle: Cycle) -> Cycle:
    """Freeze the cycle's list. Every flag must have a decision first. Cash cycles get payment instructions."""
    program, cycle = _cycle_locked(actor, cycle)
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


@service(item_by_item=True)
def cycles_due_run(*, today: dt.date | None = None, queue: bool = True) -> list[int]:
    """Mark running every draft cycle whose period has started (the next monthly cycle picks up new deaths by
    itself) and queue its computation; with `queue=False` the caller computes them (`aid_run_due --inline`).
    Runs as the system (no actor); returns the cycle ids. It commits item by item: each cycle is marked and
    audited in its own transaction."""
    today = today or timezone.localdate()
    marked = []
    for cycle in Cycle.objects.filter(status=Cycle.Status.DRAFT, period_start__lte=today).order_by("pk"):
        with transaction.atomic():
            updated = Cycle.objects.filter(pk=cycle.pk, status=Cycle.Status.DRAFT).update(
                status=Cycle.Status.RUNNING
            )
            if updated:
                audit_record(actor=None, action="run", obj=cycle, details={"by": "schedule"})
                if queue:
                    _queue_compute(cycle.pk)
                marked.append(cycle.pk)
    return marked
