"""The computation of a running cycle: the eligible households written as entitlements by the database
(INSERT … SELECT, range by range), then the double-dipping flags. Run by the task aid.tasks.compute_cycle."""

import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Now, NullIf, Trim
from django.utils import timezone

from mahalle.audit.services import audit_record
from mahalle.core.service import service
from mahalle.needs.models import HouseholdNeed, Support

from .. import selectors
from ..models import AidKind, Cycle, Decision, Entitlement, Flag
from .programs import COMPUTE_BATCH

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


def _reasons_expression(rule: dict, start, end):
    """The JSON list of why a household qualified, built by the database in the same SELECT: one
    {"code": "need", "kind": …} per matching kind, {"code": "score", …}, {"code": "breadwinner_died", "date",
    "source": "case" | "need"}, and always last {"code": "area", "path": the household's org path}."""
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
    households = selectors.eligible_for(cycle)
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


def _entitlements_flag(*, cycle: Cycle) -> int:
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


def _compute_ranges(cycle: Cycle, progress) -> None:
    """The ranges of household ids, each in its own transaction with its audit event (by the system): the first
    also deletes a failed run's rows and sets the total, the last also flags and marks the cycle computed."""
    total = selectors.eligible_for(cycle).count()
    ranges = max(1, -(-total // COMPUTE_BATCH))
    bounds = [None] + [uuid.UUID(int=(i << 128) // ranges) for i in range(1, ranges)] + [None]
    done = 0
    for number, (low, high) in enumerate(zip(bounds, bounds[1:], strict=False), start=1):
        with transaction.atomic():
            if number == 1:
                Entitlement.objects.filter(cycle=cycle).delete()
                Cycle.objects.filter(pk=cycle.pk).update(households_total=total)
            written = _entitlements_insert(cycle, low, high)
            done += written
            changes: dict = {"households_done": done}
            details: dict = {"range": f"{number}/{ranges}", "households": written}
            if number == ranges:
                flagged = _entitlements_flag(cycle=cycle)
                changes.update(
                    status=Cycle.Status.COMPUTED, entitled=done, flagged=flagged, computed_at=timezone.now()
                )
                details.update(entitled=done, flagged=flagged)
            Cycle.objects.filter(pk=cycle.pk).update(**changes)
            audit_record(
                actor=None, action="compute", obj=cycle, org_unit=cycle.program.org_unit, details=details
            )
        if progress:
            progress(written)


@service(item_by_item=True)
def cycle_compute(*, cycle_id: int, progress=None) -> Cycle:
    """Compute a running cycle's entitlements. It commits item by item: the households are split into ranges of
    their (random) UUIDs of about COMPUTE_BATCH eligible households each, and each range is one INSERT … SELECT
    in its own short transaction, with the progress saved and an audit event (by the system) in it; the last
    range's transaction also sets the double-dipping flags (two UPDATEs) and marks the cycle computed. Called by
    the task; a crash leaves the cycle failed (audited) and a re-run starts from nothing."""
    cycle = Cycle.objects.select_related("program").get(pk=cycle_id)
    if cycle.status != Cycle.Status.RUNNING:
        return cycle
    try:
        _compute_ranges(cycle, progress)
    except Exception as exc:
        with transaction.atomic():
            Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.FAILED, message=repr(exc)[:2000])
            audit_record(
                actor=None,
                action="compute_failed",
                obj=cycle,
                org_unit=cycle.program.org_unit,
                details={"error": repr(exc)[:300]},
            )
        raise
    cycle.refresh_from_db()
    return cycle
