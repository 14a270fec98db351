"""Quarantine places and isolation: a person isolated at home or in a place (whose capacity is counted), and
released."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import org_unit_in_jurisdiction, path_within, personal_record_visible
from mahalle.audit.services import audit_record
from mahalle.core.errors import Conflict, PermissionDenied, PlaceFull, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from .. import rules
from ..models import Case, Classification, Isolation, QuarantinePlace
from ._common import _not_future, _today


def _isolation_policy() -> rules.IsolationPolicy:
    days = getattr(settings, "MAHALLE_ISOLATION_DAYS_AFTER_ONSET", 10)
    return rules.IsolationPolicy(
        days_after_onset=days,
        symptom_free_days=getattr(settings, "MAHALLE_ISOLATION_SYMPTOM_FREE_DAYS", 3),
        days_without_onset=getattr(settings, "MAHALLE_ISOLATION_DAYS_WITHOUT_ONSET", days),
    )


@service
def quarantine_place_create(*, actor, org_unit, name: str, capacity: int) -> QuarantinePlace:
    require(actor, Can.CREATE_PLACES, "your role may not create quarantine places")
    if not org_unit_in_jurisdiction(user=actor, unit=org_unit):
        raise PermissionDenied("the org unit is outside your jurisdiction")
    errors = []
    name = normalize_text(name)[:200]
    if not name:
        errors.append(field_error("name", "is required"))
    if not isinstance(capacity, int) or capacity < 1 or capacity > 100_000:
        errors.append(field_error("capacity", "must be a whole number from 1 to 100000"))
    if errors:
        raise ValidationFailed("the quarantine place could not be created", errors)
    place = QuarantinePlace.objects.create(
        org_unit=org_unit,
        org_path=org_unit.path,
        name=name,
        capacity=capacity,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=place, org_unit=org_unit, details={"capacity": capacity})
    return place


def _place_take(place_id) -> QuarantinePlace:
    """Take one place: the row is locked (select_for_update), checked, and incremented with F(). SQLite has no
    row locks but serialises writers; the check constraint is the last guard on both databases."""
    place = QuarantinePlace.objects.select_for_update().get(pk=place_id)
    if place.occupied >= place.capacity:
        raise PlaceFull(
            "the quarantine place is full",
            [
                field_error(
                    "place_id", f"'{place.name}' is full: {place.occupied} of {place.capacity} places taken"
                )
            ],
        )
    QuarantinePlace.objects.filter(pk=place_id).update(occupied=F("occupied") + 1)
    return place


def _place_free(place_id) -> None:
    QuarantinePlace.objects.select_for_update().filter(pk=place_id).get()
    QuarantinePlace.objects.filter(pk=place_id, occupied__gt=0).update(occupied=F("occupied") - 1)


def _already_isolated() -> Conflict:
    return Conflict(
        "the person is already in isolation",
        [field_error("person_id", "already has an active isolation; release it first")],
    )


def _isolation_errors(*, person, case, setting, place, start_date, onset_date, last_symptom_date) -> list:
    errors = []
    if setting not in Isolation.Setting.values:
        errors.append(field_error("setting", "must be home or facility"))
    if setting == Isolation.Setting.FACILITY and place is None:
        errors.append(field_error("place_id", "is required for isolation in a quarantine place"))
    if setting == Isolation.Setting.HOME and place is not None:
        errors.append(field_error("place_id", "is only for isolation in a quarantine place"))
    if place is not None and not path_within(person.org_path, [place.org_path]):
        errors.append(field_error("place_id", "the quarantine place does not serve this person's post"))
    if case is not None:
        if case.person_id != person.pk:
            errors.append(field_error("case_id", "is the case of another person"))
        elif case.outcome or case.classification == Classification.DISCARDED:
            errors.append(field_error("case_id", "the case is closed or discarded"))
    if start_date is None:
        errors.append(field_error("start_date", "is required"))
    else:
        _not_future(start_date, "start_date", errors)
        if start_date < _today() - dt.timedelta(days=30):
            errors.append(field_error("start_date", "is more than 30 days ago"))
    _not_future(onset_date, "onset_date", errors)
    _not_future(last_symptom_date, "last_symptom_date", errors)
    if onset_date and last_symptom_date and last_symptom_date < onset_date:
        errors.append(field_error("last_symptom_date", "is before the onset"))
    return errors


@service
def isolation_start(
    *,
    actor,
    person,
    case: Case | None = None,
    setting: str,
    place: QuarantinePlace | None = None,
    start_date: dt.date,
    onset_date: dt.date | None = None,
    last_symptom_date: dt.date | None = None,
) -> Isolation:
    """Put a person into isolation at home or in a quarantine place. The planned end follows the policy in
    settings (MAHALLE_ISOLATION_DAYS_AFTER_ONSET, default 10; MAHALLE_ISOLATION_SYMPTOM_FREE_DAYS, default 3).
    A full quarantine place is refused (PlaceFull, 422); a person already in isolation is a conflict."""
    require(actor, Can.MANAGE_CASES, "your role may not start isolation")
    if not personal_record_visible(user=actor, org_path=person.org_path):
        raise PermissionDenied("this person is outside your jurisdiction")
    if case is not None:
        onset_date = onset_date or case.onset_date
    given = {
        "person": person,
        "case": case,
        "setting": setting,
        "place": place,
        "start_date": start_date,
        "onset_date": onset_date,
        "last_symptom_date": last_symptom_date,
    }
    errors = _isolation_errors(**given)
    if errors:
        raise ValidationFailed("the isolation could not be started", errors)
    planned_end = rules.planned_isolation_end(
        start=start_date, onset=onset_date, last_symptom_day=last_symptom_date, policy=_isolation_policy()
    )
    try:
        with transaction.atomic():
            if Isolation.objects.filter(person=person, released_on=None).exists():
                raise _already_isolated()
            if place is not None:
                _place_take(place.pk)  # lock the place first, then write: one fixed order
            isolation = Isolation.objects.create(
                **given,
                planned_end_date=planned_end,
                org_unit_id=person.org_unit_id,
                org_path=person.org_path,
                created_by=actor,
                modified_by=actor,
            )
            audit_record(
                actor=actor,
                action="create",
                obj=isolation,
                details={
                    "setting": setting,
                    "place": str(place.pk) if place else "",
                    "planned_end": str(planned_end),
                },
            )
    except IntegrityError as exc:
        if "quarantine_place_not_over_capacity" in str(exc):  # the constraint, the guard behind the lock
            raise PlaceFull("the quarantine place is full", [field_error("place_id", "is full")]) from exc
        raise _already_isolated() from exc  # a concurrent start for the same person won the unique constraint
    return isolation


def _isolation_release(*, actor, isolation: Isolation, on: dt.date, reason: str) -> Isolation:
    isolation.released_on, isolation.release_reason, isolation.modified_by = on, reason[:200], actor
    isolation.save(update_fields=["released_on", "release_reason", "modified_by", "modified_at"])
    if isolation.place_id:
        _place_free(isolation.place_id)
    audit_record(
        actor=actor, action="update", obj=isolation, details={"released_on": str(on), "reason": reason}
    )
    return isolation


@service
def isolation_release(*, actor, isolation: Isolation, on: dt.date, reason: str = "") -> Isolation:
    require(actor, Can.MANAGE_CASES, "your role may not release isolation")
    if not personal_record_visible(user=actor, org_path=isolation.org_path):
        raise PermissionDenied("this isolation is outside your jurisdiction")
    isolation = Isolation.objects.select_for_update().get(pk=isolation.pk)
    errors = []
    if isolation.released_on is not None:
        errors.append(field_error("on", f"the isolation was already released on {isolation.released_on}"))
    _not_future(on, "on", errors)
    if on is not None and on < isolation.start_date:
        errors.append(field_error("on", "is before the isolation started"))
    if errors:
        raise ValidationFailed("the isolation could not be released", errors)
    return _isolation_release(
        actor=actor, isolation=isolation, on=on, reason=normalize_text(reason) or "released"
    )
