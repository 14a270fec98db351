"""Reads of the aid area, scoped to the actor (see ARCHITECTURE.md house conventions).

Programs, cycles, warehouses and stock are not personal data: a user sees those whose org unit is inside their
jurisdiction or above it (a post volunteer sees the national program that serves the post). Entitlements,
deliveries and loans are personal: only the actor's subtree (personal_data_paths; the analyst gets nothing)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from mahalle.accounts.selectors import personal_data_paths, user_jurisdiction_units
from mahalle.cases.models import FollowUp, Isolation
from mahalle.cases.rules import DETERIORATION_SPO2
from mahalle.core.errors import first_or_not_found
from mahalle.geo.models import OrgUnit
from mahalle.registry.models import Household

from . import rules
from .models import (
    AidKind,
    Cycle,
    Delivery,
    Entitlement,
    EquipmentUnit,
    Item,
    Loan,
    Program,
    StockLevel,
    StockMove,
    TransferOrder,
    Warehouse,
)


def _ancestor_or_descendant(user) -> Q:
    """Rows whose org_path is inside the user's units, or one of those units' ancestors."""
    query = Q(pk__in=[])
    for unit in user_jurisdiction_units(user=user):
        query |= Q(org_path__prefix=unit.path)
        parts = unit.path.split(".")[:-1]
        ancestors = [".".join(parts[:i]) + "." for i in range(1, len(parts))]
        if ancestors:
            query |= Q(org_path__in=ancestors)
    return query


def programs_visible(*, user):
    return Program.objects.filter(_ancestor_or_descendant(user)).select_related("agency", "item", "org_unit")


def cycles_visible(*, user):
    return Cycle.objects.filter(program__in=programs_visible(user=user)).select_related("program")


def warehouses_visible(*, user):
    return Warehouse.objects.within_any(unit.path for unit in user_jurisdiction_units(user=user))


def entitlements_visible(*, user):
    return Entitlement.objects.within_any(personal_data_paths(user=user))


def deliveries_visible(*, user):
    return Delivery.objects.within_any(personal_data_paths(user=user))


def loans_visible(*, user):
    return Loan.objects.within_any(personal_data_paths(user=user))


def loans_open(*, user):
    return loans_visible(user=user).filter(returned_on=None).select_related("unit", "person")


def loans_overdue(*, user, on: dt.date | None = None):
    return loans_open(user=user).filter(due_on__lt=on or timezone.localdate())


def equipment_units_visible(*, user):
    return EquipmentUnit.objects.within_any(unit.path for unit in user_jurisdiction_units(user=user))


def stock_levels_visible(*, user):
    return StockLevel.objects.filter(warehouse__in=warehouses_visible(user=user)).select_related(
        "warehouse", "item"
    )


def transfer_orders_visible(*, user):
    """Transfer orders from a warehouse of the user's area (the ones they may dispatch)."""
    return TransferOrder.objects.filter(source__in=warehouses_visible(user=user))


# --- one record by id, in the user's scope, or NotFound (404) ---------------------------------------------------


def access_program(user, program_id, *, for_update: bool = False) -> Program:
    return first_or_not_found(programs_visible(user=user), program_id, "program", for_update=for_update)


def access_cycle(user, cycle_id, *, for_update: bool = False) -> Cycle:
    return first_or_not_found(cycles_visible(user=user), cycle_id, "cycle", for_update=for_update)


def access_entitlement(user, entitlement_id, *, for_update: bool = False) -> Entitlement:
    return first_or_not_found(
        entitlements_visible(user=user), entitlement_id, "entitlement", for_update=for_update
    )


def access_warehouse(user, warehouse_id, *, for_update: bool = False) -> Warehouse:
    return first_or_not_found(warehouses_visible(user=user), warehouse_id, "warehouse", for_update=for_update)


def access_equipment_unit(user, unit_id, *, for_update: bool = False) -> EquipmentUnit:
    return first_or_not_found(equipment_units_visible(user=user), unit_id, "unit", for_update=for_update)


def access_loan(user, loan_id, *, for_update: bool = False) -> Loan:
    return first_or_not_found(loans_visible(user=user), loan_id, "loan", for_update=for_update)


def access_transfer_order(user, order_id, *, for_update: bool = False) -> TransferOrder:
    return first_or_not_found(
        transfer_orders_visible(user=user), order_id, "transfer order", for_update=for_update
    )


# --- what a cycle computes from, and what stock can give (not scoped: the services' reads) ------------------------


def eligible_for(cycle: Cycle):
    """The households a cycle's rule admits, in the program's area (or the rule's regions)."""
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


def item_is_equipment(item: Item) -> bool:
    """Whether the item is lent as numbered units (oxygen concentrators) rather than counted as stock."""
    return EquipmentUnit.objects.filter(item=item).exists()


def available_units(*, warehouse_ids, item: Item) -> dict[int, int]:
    """What each warehouse can give of an item: available equipment units, or stock on hand."""
    if item_is_equipment(item):
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


def entitlements_to_deliver(*, user):
    """Approved, not dropped, not yet delivered, of a program delivered at the door (in-kind or service; cash is
    paid by the agency): the volunteer's list."""
    return (
        entitlements_visible(user=user)
        .filter(cycle__status=Cycle.Status.APPROVED, delivery__isnull=True)
        .filter(cycle__program__kind__in=[AidKind.IN_KIND, AidKind.SERVICE])
        .exclude(decision="drop")
        .select_related("cycle__program")
    )


def cycle_coverage(*, user, cycle: Cycle) -> dict:
    """Entitled, dropped, delivered, paid and pending for one cycle in the user's subtree. Counts are aggregates,
    not personal records: every role (the analyst too) gets those of their own units."""
    rows = Entitlement.objects.within_any(u.path for u in user_jurisdiction_units(user=user)).filter(
        cycle=cycle
    )
    counts = rows.aggregate(
        entitled=Count("pk"),
        dropped=Count("pk", filter=Q(decision="drop")),
        flagged=Count("pk", filter=~Q(flag="")),
        delivered=Count("delivery"),
        paid=Count("payment", filter=Q(payment__status="paid")),
    )
    counts["pending"] = counts["entitled"] - counts["dropped"] - counts["delivered"] - counts["paid"]
    return counts


def stock_days_left(*, user, days: int = 14) -> list[dict]:
    """Per warehouse × item in the user's area: on hand, mean daily issues over the last `days` days, days left."""
    since = timezone.now() - dt.timedelta(days=days)
    warehouses = warehouses_visible(user=user)
    on_hand = (
        StockLevel.objects.filter(warehouse__in=warehouses)
        .values("warehouse__code", "warehouse__name", "item__code", "item__name")
        .annotate(on_hand=Sum("quantity"))
        .order_by("warehouse__code", "item__code")
    )
    issued = {
        (r["warehouse__code"], r["item__code"]): -r["q"]
        for r in StockMove.objects.filter(warehouse__in=warehouses, kind=StockMove.Kind.ISSUE, at__gte=since)
        .values("warehouse__code", "item__code")
        .annotate(q=Sum("quantity"))
    }
    result = []
    for row in on_hand:
        per_day = issued.get((row["warehouse__code"], row["item__code"]), Decimal(0)) / days
        result.append(
            {
                **row,
                "per_day": per_day,
                "days_left": (row["on_hand"] / per_day).quantize(Decimal("0.1")) if per_day else None,
            }
        )
    return result


def with_delivered(entitlements):
    """The entitlements with `delivered` set (one extra query for the page, not one per row)."""
    rows = list(entitlements)
    done = set(
        Delivery.objects.filter(entitlement__in=[e.pk for e in rows]).values_list("entitlement_id", flat=True)
    )
    for e in rows:
        e.delivered = e.pk in done
    return rows


# --- allocation of scarce stock ---------------------------------------------------------------------------------

LOW_SPO2 = DETERIORATION_SPO2  # below this a patient at home needs oxygen (an urgent follow-up alert)
SPO2_RECENT_DAYS = 3


def _region_path(path: str, level: int) -> str:
    parts = path.split(".")[:-1]
    return ".".join(parts[: level + 1]) + "." if len(parts) > level else ""


def oxygen_need_by_region(*, user, level: int, item, on: dt.date | None = None) -> list[dict]:
    """Patients at home (active home isolation) whose SpO2 was below LOW_SPO2 in the last SPO2_RECENT_DAYS days
    and who hold no unit of `item` on loan now, counted per org unit at `level` in the user's jurisdiction; the
    weight is 1 + the mean vulnerability score of their households / 10 (so vulnerable regions weigh more)."""
    on = on or timezone.localdate()
    low = FollowUp.objects.filter(
        isolation=OuterRef("pk"), spo2__lt=LOW_SPO2, date__gte=on - dt.timedelta(days=SPO2_RECENT_DAYS)
    )
    served = Loan.objects.filter(person=OuterRef("person_id"), returned_on=None, unit__item=item)
    rows = (
        Isolation.objects.within_any(personal_data_paths(user=user))
        .filter(setting=Isolation.Setting.HOME, released_on=None)
        .filter(Exists(low))
        .exclude(Exists(served))
        .values_list("org_path", "person__household__vulnerability__score")
    )
    regions: dict[str, list] = {}
    for path, score in rows:
        region = _region_path(path, level)
        if region:
            regions.setdefault(region, []).append(score or 0)
    units = {u.path: u for u in OrgUnit.objects.filter(path__in=list(regions))}
    return [
        {
            "region": units[path].code,
            "name": units[path].name_fa,
            "path": path,
            "need": len(scores),
            "weight": round(1 + sum(scores) / len(scores) / 10, 3),
        }
        for path, scores in sorted(regions.items())
        if path in units
    ]
