"""Reads of the health side, scoped to the acting user's jurisdiction.

`access_<entity>(user, id, *, for_update=False)` is how the API and the pages fetch one record by id: the record
in the user's scope, or NotFound ("<entity> not found": out of scope and unknown look the same)."""

import datetime as dt

from django.db.models import Exists, F, OuterRef, Q

from mahalle.accounts.selectors import personal_data_paths
from mahalle.audit.services import audit_record
from mahalle.core.errors import first_or_not_found

from .models import Alert, Case, CaseChange, FollowUp, Isolation, Outcome, QuarantinePlace, TestOrder


def isolations_active(*, user):
    return Isolation.objects.within_any(personal_data_paths(user=user)).filter(released_on=None)


def follow_ups_due(*, user, on: dt.date):
    """Active isolations (in the user's jurisdiction) that have no follow-up dated `on` yet."""
    done = FollowUp.objects.filter(isolation=OuterRef("pk"), date=on)
    return (
        isolations_active(user=user)
        .filter(start_date__lte=on)
        .exclude(Exists(done))
        .select_related("person", "person__household")
        .order_by("planned_end_date", "id")
    )


def referrals_untested(*, user):
    """Test orders from referrals that have no result yet, urgent first."""
    return (
        TestOrder.objects.within_any(personal_data_paths(user=user))
        .filter(status__in=[TestOrder.Status.ORDERED, TestOrder.Status.SAMPLED])
        .select_related("person")
        .order_by("-urgent", "created_at")
    )


def alerts_open(*, user):
    return (
        Alert.objects.within_any(personal_data_paths(user=user))
        .filter(resolved_at=None)
        .select_related("person")
        .order_by("-created_at")
    )


URGENT_KINDS = (Alert.Kind.DETERIORATION, Alert.Kind.URGENT_REFERRAL)


def alerts_urgent(*, user):
    """Open deterioration alerts and urgent referrals: the top of the supervisor's list."""
    return alerts_open(user=user).filter(kind__in=URGENT_KINDS)


def alerts_missed_follow_ups(*, user):
    return alerts_open(user=user).filter(kind=Alert.Kind.MISSED_FOLLOW_UP).order_by("-day", "id")


def alerts_visible(*, user):
    return Alert.objects.within_any(personal_data_paths(user=user))


def test_orders_visible(*, user):
    return TestOrder.objects.within_any(personal_data_paths(user=user))


test_orders_visible.__test__ = False  # a selector, not a pytest test


def cases_visible(*, user):
    return Case.objects.within_any(personal_data_paths(user=user))


def access_case(user, case_id, *, for_update: bool = False) -> Case:
    return first_or_not_found(cases_visible(user=user), case_id, "case", for_update=for_update)


def access_test_order(user, order_id, *, for_update: bool = False) -> TestOrder:
    return first_or_not_found(test_orders_visible(user=user), order_id, "test order", for_update=for_update)


def access_isolation(user, isolation_id, *, for_update: bool = False) -> Isolation:
    """With its person and household (the follow-up page shows them), unless the row is to be locked."""
    isolations = isolations_visible(user=user)
    if not for_update:  # a lock takes the isolation's row alone, not its outer-joined relations
        isolations = isolations.select_related("person", "person__household")
    return first_or_not_found(isolations, isolation_id, "isolation", for_update=for_update)


def access_alert(user, alert_id, *, for_update: bool = False) -> Alert:
    return first_or_not_found(alerts_visible(user=user), alert_id, "alert", for_update=for_update)


def case_detail(*, user, case_id) -> Case:
    """One case with its person, if inside the user's jurisdiction (else NotFound); the read is audited."""
    case = first_or_not_found(cases_visible(user=user).select_related("person", "org_unit"), case_id, "case")
    audit_record(actor=user, action="read", obj=case)
    return case


def case_history(*, case):
    return CaseChange.objects.filter(case=case).select_related("actor").order_by("at", "id")


def isolations_visible(*, user):
    return Isolation.objects.within_any(personal_data_paths(user=user))


def _ancestor_paths(path: str) -> list[str]:
    parts = path.split(".")[:-1]
    return [".".join(parts[: i + 1]) + "." for i in range(len(parts))]


def quarantine_places_usable(*, user):
    """Quarantine places the user may see and use: those inside their subtree and those of the units above it
    (a county's facility serves every post of the county)."""
    paths = personal_data_paths(user=user)
    if not paths:
        return QuarantinePlace.objects.none()
    above = {ancestor for path in paths for ancestor in _ancestor_paths(path)}
    return (
        QuarantinePlace.objects.filter(
            Q(org_path__in=above) | Q(pk__in=QuarantinePlace.objects.within_any(paths))
        )
        .select_related("org_unit")
        .order_by("org_path", "name")
    )


def quarantine_places_for_person(*, user, person):
    """The usable places that serve this person's post."""
    return quarantine_places_usable(user=user).filter(org_path__in=_ancestor_paths(person.org_path))


def household_head_deaths(*, since: dt.date | None = None, user=None):
    """Cases that ended in death of a person who headed their household (relation_to_head "head", or named as
    the household's head) — the event the aid side turns into 12-month support. `since` filters on the date of
    death. Without `user` this is the system-wide list (background tasks); with a user, their jurisdiction."""
    cases = (
        Case.objects.filter(outcome=Outcome.DIED)
        .filter(Q(person__relation_to_head="head") | Q(person__household__head_id=F("person_id")))
        .select_related("person", "person__household")
        .order_by("outcome_date", "id")
    )
    if since is not None:
        cases = cases.filter(outcome_date__gte=since)
    if user is not None:
        cases = cases.within_any(personal_data_paths(user=user))
    return cases
