import datetime as dt
import uuid

import pytest

from mahalle.accounts.models import Role
from mahalle.cases.models import Alert, TestOrder
from mahalle.core.errors import PermissionDenied
from mahalle.registry.tests.factories import PersonFactory
from mahalle.screening.coverage import coverage_refresh
from mahalle.screening.models import CampaignCoverage, MemberScreening, ScreeningVisit
from mahalle.screening.services import screening_visits_record


@pytest.fixture
def campaign(campaign_a):
    return campaign_a


def visit(person, today, campaign=None, **members_kw):
    member = {"person_id": person.pk, "present": True, "symptoms": [], **members_kw}
    return {
        "id": uuid.uuid4(),
        "household_id": person.household_id,
        "visit_date": today,
        "status": "screened",
        "campaign_id": campaign.pk if campaign else None,
        "members": [member],
    }


def test_valid_items_are_stored_and_invalid_ones_answered_with_their_errors(users, people, today, campaign):
    volunteer, person = users[Role.FIELD_VOLUNTEER], people["post_a1"]
    good = visit(person, today, campaign)
    future = {**visit(person, today), "visit_date": today + dt.timedelta(days=1)}
    bad_spo2 = visit(person, today, spo2=120)
    late_onset = visit(person, today, symptoms=["fever"], onset_date=today + dt.timedelta(days=2))
    stranger = visit(person, today)
    stranger["members"][0]["person_id"] = people["post_a2"].pk
    results = screening_visits_record(actor=volunteer, items=[good, future, bad_spo2, late_onset, stranger])
    assert [r.status for r in results] == ["created", "invalid", "invalid", "invalid", "invalid"]
    assert results[1].errors == [{"field": "visit_date", "message": "is in the future"}]
    assert results[2].errors == [{"field": "members[0].spo2", "message": "must be between 50 and 100"}]
    assert results[3].errors == [{"field": "members[0].onset_date", "message": "is after the visit date"}]
    assert results[4].errors == [
        {"field": "members[0].person_id", "message": "is not a member of this household"}
    ]
    assert list(ScreeningVisit.objects.values_list("pk", flat=True)) == [good["id"]]


def test_resending_a_batch_creates_nothing_twice(users, people, today, campaign):
    items = [visit(people["post_a1"], today, campaign, symptoms=["fever", "cough"])]
    first = screening_visits_record(actor=users[Role.FIELD_VOLUNTEER], items=items)
    again = screening_visits_record(actor=users[Role.FIELD_VOLUNTEER], items=items)
    assert (first[0].status, again[0].status) == ("created", "exists")
    assert ScreeningVisit.objects.count() == 1 and MemberScreening.objects.count() == 1
    assert TestOrder.objects.count() == 1
    assert CampaignCoverage.objects.get().households_screened == 1


def test_a_reused_id_for_another_visit_is_a_conflict(users, people, today):
    item = visit(people["post_a1"], today)
    screening_visits_record(actor=users[Role.FIELD_VOLUNTEER], items=[item])
    other = {**item, "visit_date": today - dt.timedelta(days=1)}
    assert screening_visits_record(actor=users[Role.FIELD_VOLUNTEER], items=[other])[0].status == "conflict"


def test_household_outside_the_volunteers_post_is_refused(users, people, today):
    result = screening_visits_record(
        actor=users[Role.FIELD_VOLUNTEER], items=[visit(people["post_a2"], today)]
    )
    assert result[0].errors == [
        {"field": "household_id", "message": "no such household in your jurisdiction"}
    ]
    assert ScreeningVisit.objects.count() == 0


def test_analyst_cannot_record(users, people, today):
    with pytest.raises(PermissionDenied):
        screening_visits_record(actor=users[Role.ANALYST], items=[visit(people["post_a1"], today)])


def test_low_spo2_is_an_urgent_referral_with_its_reason_and_an_alert(users, people, today):
    results = screening_visits_record(
        actor=users[Role.FIELD_VOLUNTEER], items=[visit(people["post_a1"], today, spo2=90)]
    )
    assert (results[0].referrals, results[0].urgent) == (1, 1)
    member = MemberScreening.objects.get()
    assert member.outcome == "urgent" and member.reasons[0]["rule"] == "low_spo2"
    order = TestOrder.objects.get()
    assert order.urgent and order.person_id == people["post_a1"].pk and order.status == "ordered"
    assert Alert.objects.get().kind == "urgent_referral"


def test_breathless_elderly_is_urgent_but_young_is_a_referral(users, tree, today):
    old = PersonFactory(org_unit=tree["post_a1"], birth_date=today.replace(year=today.year - 70))
    young = PersonFactory(org_unit=tree["post_a1"], birth_date=today.replace(year=today.year - 30))
    items = [visit(p, today, symptoms=["shortness_of_breath"]) for p in (old, young)]
    screening_visits_record(actor=users[Role.FIELD_VOLUNTEER], items=items)
    outcomes = dict(MemberScreening.objects.values_list("person_id", "outcome"))
    assert outcomes == {old.pk: "urgent", young.pk: "refer"}


def test_campaign_must_cover_the_household_and_its_dates(users, people, tree, today, campaign):
    outside = visit(people["post_a1"], today - dt.timedelta(days=30), campaign)
    results = screening_visits_record(
        actor=users[Role.NATIONAL_COORDINATOR], items=[outside, visit(people["post_b1"], today, campaign)]
    )
    assert results[0].errors == [{"field": "visit_date", "message": "is outside the campaign's dates"}]
    assert results[1].errors == [
        {"field": "campaign_id", "message": "the campaign does not cover this household's post"}
    ]


def test_incremental_coverage_equals_a_full_recount(users, people, tree, today, campaign):
    second = PersonFactory(org_unit=tree["post_a1"], household=people["post_a1"].household)
    volunteer = users[Role.FIELD_VOLUNTEER]
    first_visit = visit(people["post_a1"], today, campaign, symptoms=["fever", "cough"])
    first_visit["members"].append({"person_id": second.pk, "present": False})
    screening_visits_record(actor=volunteer, items=[first_visit])
    revisit = visit(people["post_a1"], today, campaign)
    revisit["members"].append({"person_id": second.pk, "present": True})
    screening_visits_record(actor=volunteer, items=[revisit])
    fields = ("post_path", "households_screened", "persons_screened", "referrals")
    incremental = set(CampaignCoverage.objects.filter(households_screened__gt=0).values_list(*fields))
    assert incremental == {(tree["post_a1"].path, 1, 2, 1)}
    coverage_refresh(campaign=campaign)
    assert set(CampaignCoverage.objects.filter(households_screened__gt=0).values_list(*fields)) == incremental
    assert CampaignCoverage.objects.get(post=tree["post_a1"]).households_registered == 1
