"""Cases test data, written straight to the models (the services are what the tests exercise)."""

import datetime as dt

from django.utils import timezone

from mahalle.cases.models import Case, Isolation, QuarantinePlace, TestOrder
from mahalle.cases.rules import normalize_sample_id


def order_for(person, *, sample_id=None, kind="", urgent=False, status=None) -> TestOrder:
    return TestOrder.objects.create(
        person=person,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        urgent=urgent,
        sample_id=normalize_sample_id(sample_id) if sample_id else None,
        kind=kind,
        sampled_on=timezone.localdate() - dt.timedelta(days=1) if sample_id else None,
        status=status or (TestOrder.Status.SAMPLED if sample_id else TestOrder.Status.ORDERED),
    )


def case_for(person, *, classification="confirmed", onset_date=None) -> Case:
    return Case.objects.create(
        person=person,
        classification=classification,
        onset_date=onset_date,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
    )


def isolation_for(person, *, start_date=None, planned_end_date=None, case=None, place=None) -> Isolation:
    start = start_date or timezone.localdate() - dt.timedelta(days=2)
    return Isolation.objects.create(
        person=person,
        case=case,
        setting=Isolation.Setting.FACILITY if place else Isolation.Setting.HOME,
        place=place,
        start_date=start,
        planned_end_date=planned_end_date or start + dt.timedelta(days=10),
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
    )


def place_in(unit, *, capacity=2, occupied=0, name="قرنطینه") -> QuarantinePlace:
    return QuarantinePlace.objects.create(
        org_unit=unit, org_path=unit.path, name=name, capacity=capacity, occupied=occupied
    )
