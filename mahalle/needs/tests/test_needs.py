"""Needs from the health side (visits, follow-ups, deaths) and the vulnerability score."""

import datetime as dt

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases.models import FollowUp
from mahalle.cases.tests.factories import case_for, isolation_for
from mahalle.needs.models import HouseholdNeed, HouseholdVulnerability
from mahalle.needs.services import (
    household_vulnerability_refresh,
    needs_catch_up,
    needs_record_from_death,
    needs_record_from_follow_up,
    needs_record_from_visit,
)
from mahalle.registry.models import Household, Relation
from mahalle.registry.tests.factories import PersonFactory
from mahalle.screening.models import ScreeningVisit

TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def thirty_year_olds(people):
    """The people fixture's ages are random; here every one is 30, so only what a test adds scores."""
    from mahalle.registry.models import Person

    Person.objects.update(birth_date=TODAY().replace(year=TODAY().year - 30))
    for person in people.values():
        person.refresh_from_db()


def visit(person, needs, users, on=None):
    household = person.household
    return ScreeningVisit.objects.create(
        household=household,
        org_unit_id=household.org_unit_id,
        org_path=household.org_path,
        visit_date=on or TODAY(),
        volunteer=users[Role.FIELD_VOLUNTEER],
        status="screened",
        needs=needs,
    )


def test_needs_from_a_visit_are_recorded_once(people, users):
    person = people["post_a1"]
    seen = visit(person, ["food", "income", "medicine"], users)
    assert needs_record_from_visit(actor=users[Role.FIELD_VOLUNTEER], visit=seen) == 3
    assert needs_record_from_visit(actor=users[Role.FIELD_VOLUNTEER], visit=seen) == 0
    assert sorted(HouseholdNeed.objects.values_list("kind", "source", "source_ref", "note")) == [
        ("food", "screening", str(seen.pk), ""),
        ("income_loss", "screening", str(seen.pk), ""),
        ("other", "screening", str(seen.pk), "medicine"),
    ]
    vulnerability = HouseholdVulnerability.objects.get(household=person.household)
    assert [r["code"] for r in vulnerability.reasons if r["code"] == "open_need"] == ["open_need"]


def test_needs_from_a_follow_up_and_a_breadwinner_death(people, users):
    person = people["post_a1"]
    isolation = isolation_for(person)
    follow_up = FollowUp.objects.create(
        isolation=isolation,
        date=TODAY(),
        method="call",
        needs=["hygiene"],
        by=users[Role.FIELD_VOLUNTEER],
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
    )
    assert needs_record_from_follow_up(actor=None, follow_up=follow_up) == 1
    case = case_for(person)
    case.outcome, case.outcome_date = "died", TODAY()
    case.save()
    assert needs_record_from_death(actor=None, case=case) == 1
    assert needs_record_from_death(actor=None, case=case) == 0
    assert sorted(HouseholdNeed.objects.values_list("kind", "source")) == [
        ("breadwinner_died", "cases"),
        ("hygiene", "follow_up"),
    ]


def test_the_death_of_a_child_is_no_breadwinner_need(people, users):
    head = people["post_a1"]
    child = PersonFactory(org_unit=head.org_unit, household=head.household, relation_to_head=Relation.CHILD)
    case = case_for(child)
    case.outcome, case.outcome_date = "died", TODAY()
    case.save()
    assert needs_record_from_death(actor=None, case=case) == 0
    assert HouseholdNeed.objects.count() == 0
    reasons = HouseholdVulnerability.objects.get(household=head.household).reasons
    assert [(r["code"], r["points"]) for r in reasons if r["code"] == "death"] == [("death", 5)]


def test_catch_up_is_idempotent(people, users):
    old = visit(people["post_a1"], ["food"], users, on=TODAY() - dt.timedelta(days=30))
    recent = visit(people["post_b1"], ["housing", "food"], users)
    case = case_for(people["post_a2"])
    case.outcome, case.outcome_date = "died", TODAY()
    case.save()
    since = TODAY() - dt.timedelta(days=7)
    counts = needs_catch_up(since=since)
    assert counts == {"visits": 1, "follow_ups": 0, "deaths": 1, "needs_created": 3, "households_scored": 2}
    assert needs_catch_up(since=since)["needs_created"] == 0
    assert HouseholdNeed.objects.filter(source_ref=str(old.pk)).count() == 0
    assert HouseholdNeed.objects.filter(source_ref=str(recent.pk)).count() == 2


def test_the_score_is_the_sum_of_its_reasons(tree, people, users):
    head = people["post_a1"]
    today = TODAY()
    Household.objects.filter(pk=head.household_id).update(female_headed=True, lost_income=True)
    head.birth_date, head.chronic_disease = today.replace(year=today.year - 70), True
    head.save()
    for _ in range(4):  # four pregnant members count as three (the cap)
        PersonFactory(
            org_unit=head.org_unit,
            household=head.household,
            pregnant=True,
            birth_date=today.replace(year=today.year - 25),
            relation_to_head=Relation.OTHER,
        )
    case_for(
        PersonFactory(
            org_unit=head.org_unit,
            household=head.household,
            relation_to_head=Relation.CHILD,
            birth_date=today.replace(year=today.year - 10),
        )
    )
    HouseholdNeed.objects.create(
        household=head.household,
        org_unit=head.org_unit,
        org_path=head.org_path,
        kind="breadwinner_died",
        source="manual",
        noted_on=today,
    )
    HouseholdNeed.objects.create(
        household=head.household,
        org_unit=head.org_unit,
        org_path=head.org_path,
        kind="food",
        source="manual",
        noted_on=today,
        resolved_on=today,
    )
    assert household_vulnerability_refresh() == 4
    vulnerability = HouseholdVulnerability.objects.get(household=head.household)
    assert [(r["code"], r["count"], r["points"]) for r in vulnerability.reasons] == [
        ("pregnant", 4, 6),
        ("breadwinner_died", 1, 5),
        ("female_headed", 1, 3),
        ("lost_income", 1, 3),
        ("chronic_disease", 1, 2),
        ("confirmed_case", 1, 2),
        ("over_60", 1, 2),
        ("open_need", 1, 1),
    ]
    assert vulnerability.score == 24
    assert vulnerability.org_path == head.org_path
    other = HouseholdVulnerability.objects.get(household=people["post_b1"].household)
    assert (other.score, other.reasons) == (0, [])


@pytest.mark.parametrize("chunk", [1, 5000])
def test_refresh_in_chunks_scores_every_household(people, monkeypatch, chunk):
    from mahalle.needs.services import vulnerability

    monkeypatch.setattr(vulnerability, "CHUNK", chunk)
    Household.objects.filter(pk=people["post_b2"].household_id).update(lost_income=True)
    assert household_vulnerability_refresh() == 4
    assert HouseholdVulnerability.objects.filter(score=3).count() == 1
    assert household_vulnerability_refresh(household_ids=[people["post_b2"].household_id]) == 1
