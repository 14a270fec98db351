"""Aid test data, written straight to the models (the services are what the tests exercise)."""

import datetime as dt

import factory

from mahalle.aid.models import Cycle, Entitlement, Item, Program, StockLevel, Warehouse
from mahalle.aid.rules import cycle_periods
from mahalle.needs.models import Agency, HouseholdNeed, HouseholdVulnerability


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    code = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"نهاد {n}")
    kind = "relief_committee"


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    code = factory.Sequence(lambda n: f"item-{n}")
    name = factory.Sequence(lambda n: f"بسته {n}")
    indivisible = True


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"wh-{n}")
    name = factory.Sequence(lambda n: f"انبار {n}")
    org_unit = None
    org_path = factory.LazyAttribute(lambda o: o.org_unit.path)


def program_in(
    unit,
    *,
    kind="in_kind",
    item=None,
    rule=None,
    category="livelihood_package",
    agency=None,
    cadence="once",
    cycles=1,
    start=None,
    quantity=1,
    amount=0,
    code=None,
) -> Program:
    start = start or dt.date(2026, 11, 1)
    program = Program.objects.create(
        code=code or f"p-{Program.objects.count() + 1}",
        name=f"برنامه {Program.objects.count() + 1}",
        kind=kind,
        category=category,
        agency=agency or AgencyFactory(),
        org_unit=unit,
        org_path=unit.path,
        item=item if item is not None or kind not in ("in_kind", "loan") else ItemFactory(),
        quantity=quantity,
        amount=amount,
        rule=rule or {},
        cadence=cadence,
        cycles=cycles,
        start_date=start,
    )
    for n, (s, e) in enumerate(cycle_periods(cadence=cadence, cycles=cycles, start=start), start=1):
        Cycle.objects.create(program=program, number=n, period_start=s, period_end=e)
    return program


def entitlement_for(cycle, household, *, quantity=1, amount=0, flag="", phone="09120000000") -> Entitlement:
    return Entitlement.objects.create(
        cycle=cycle,
        household=household,
        org_unit_id=household.org_unit_id,
        org_path=household.org_path,
        head_name="سرپرست",
        phone=phone,
        quantity=quantity,
        amount=amount,
        flag=flag,
    )


def approved_cycle(program) -> Cycle:
    cycle = program.cycle_set.get(number=1)
    cycle.status = Cycle.Status.APPROVED
    cycle.save()
    return cycle


def stock(warehouse, item, quantity, lot="", expiry=None) -> StockLevel:
    level, _ = StockLevel.objects.update_or_create(
        warehouse=warehouse, item=item, lot=lot, defaults={"quantity": quantity, "expiry": expiry}
    )
    from mahalle.aid.models import StockMove

    StockMove.objects.create(kind="receipt", warehouse=warehouse, item=item, lot=lot, quantity=quantity)
    return level


def need_for(household, kind, *, noted_on=None, resolved_on=None, source="manual", ref="") -> HouseholdNeed:
    return HouseholdNeed.objects.create(
        household=household,
        org_unit_id=household.org_unit_id,
        org_path=household.org_path,
        kind=kind,
        source=source,
        noted_on=noted_on or dt.date(2026, 10, 1),
        resolved_on=resolved_on,
        source_ref=ref,
    )


def score_for(household, score) -> HouseholdVulnerability:
    return HouseholdVulnerability.objects.update_or_create(
        household=household, defaults={"org_path": household.org_path, "score": score}
    )[0]
