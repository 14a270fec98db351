"""`mahalle simulate-activity`: synthetic screening, tests, cases, isolation and follow-ups (both backends)."""

import datetime as dt
import json
from collections import Counter, defaultdict

import pytest
from django.core.management import CommandError, call_command

from mahalle.audit.models import AuditEvent
from mahalle.cases import rules as case_rules
from mahalle.cases.models import (
    Alert,
    Case,
    CaseChange,
    Classification,
    FollowUp,
    Isolation,
    QuarantinePlace,
    TestOrder,
)
from mahalle.core.dates import age_on
from mahalle.screening.coverage import coverage_refresh
from mahalle.screening.models import (
    Campaign,
    CampaignArea,
    CampaignCoverage,
    MemberScreening,
    RiskOutcome,
    ScreeningVisit,
)
from mahalle.screening.rules import MemberAnswers, score_member
from mahalle.synth.services import synth_population_write

pytestmark = pytest.mark.django_db

START = "2026-03-01"
END = dt.date(2026, 3, 28)  # four weeks


@pytest.fixture
def population():
    return synth_population_write(persons=3000, seed=3)


def simulate(capsys, *extra) -> dict:
    call_command("simulate_activity", "--weeks", "4", "--seed", "5", "--start", START, "--json", *extra)
    return json.loads(capsys.readouterr().out)


ACTIVITY_MODELS = [Alert, FollowUp, Isolation, QuarantinePlace, CaseChange, Case, TestOrder]
ACTIVITY_MODELS += [MemberScreening, ScreeningVisit, CampaignCoverage, CampaignArea, Campaign]


def snapshot() -> dict:
    return {
        "visits": list(
            ScreeningVisit.objects.order_by("id").values_list(
                "id", "household_id", "campaign_id", "visit_date", "status", "needs", "volunteer_id"
            )
        ),
        "members": list(
            MemberScreening.objects.order_by("id").values_list(
                "id",
                "visit_id",
                "person_id",
                "present",
                "symptoms",
                "onset_date",
                "spo2",
                "outcome",
                "reasons",
            )
        ),
        "orders": list(
            TestOrder.objects.order_by("id").values_list(
                "id", "member_screening_id", "status", "kind", "sample_id", "result", "result_date"
            )
        ),
        "cases": list(
            Case.objects.order_by("id").values_list(
                "id", "person_id", "classification", "onset_date", "outcome"
            )
        ),
        "isolations": list(
            Isolation.objects.order_by("id").values_list(
                "id", "case_id", "setting", "place_id", "start_date", "planned_end_date", "released_on"
            )
        ),
        "follow_ups": list(FollowUp.objects.order_by("id").values_list("id", "isolation_id", "date", "spo2")),
        "alerts": list(Alert.objects.order_by("id").values_list("id", "kind", "person_id", "message")),
        "coverage": list(
            CampaignCoverage.objects.order_by("campaign_id", "post_id").values_list(
                "campaign_id", "post_id", "households_screened", "persons_screened", "referrals", "positives"
            )
        ),
    }


def test_same_seed_same_activity(population, capsys):
    first = simulate(capsys)
    before = snapshot()
    for model in ACTIVITY_MODELS:
        model.objects.all().delete()
    second = simulate(capsys)
    first.pop("seconds"), second.pop("seconds")
    assert second == first
    assert snapshot() == before
    assert first["visits"] == len(before["visits"]) > 1500
    for model in ACTIVITY_MODELS:
        model.objects.all().delete()
    other = simulate(capsys, "--seed", "6")  # the last --seed wins
    assert other["seed"] == 6
    assert snapshot()["visits"] != before["visits"]


def test_records_are_consistent(population, capsys):
    summary = simulate(capsys)
    assert summary["start"] == START and summary["end"] == END.isoformat()
    assert summary["campaigns"] == Campaign.objects.count() == 2
    assert summary["visits"] == ScreeningVisit.objects.count()
    assert summary["member_screenings"] == MemberScreening.objects.count()
    assert summary["test_orders"] == TestOrder.objects.count() > 20
    assert summary["cases"] == Case.objects.count()
    assert summary["isolations"] == Isolation.objects.count() > 10
    assert summary["follow_ups"] == FollowUp.objects.count() > 50
    assert summary["alerts"] == Alert.objects.count()
    assert AuditEvent.objects.filter(object_type="synth.activity").count() == 1
    assert not ScreeningVisit.objects.filter(visit_date__gt=END).exists()
    assert not ScreeningVisit.objects.filter(visit_date__lt=dt.date(2026, 3, 1)).exists()

    # Risk outcomes are the real rules' answers; every referral (and only a referral) has one test order.
    members = list(MemberScreening.objects.select_related("person", "visit"))
    for m in members:
        if not m.present:
            assert (m.outcome, m.symptoms, m.spo2) == (RiskOutcome.NONE, [], None)
            continue
        score = score_member(
            MemberAnswers(
                symptoms=frozenset(m.symptoms),
                spo2=m.spo2,
                age=age_on(m.person.birth_date, m.visit.visit_date),
                chronic_disease=m.person.chronic_disease,
                pregnant=m.person.pregnant,
                known_contact=m.known_contact,
            )
        )
        assert (m.outcome, m.reasons) == (score.outcome, score.reasons)
        assert m.visit.household_id == m.person.household_id
    referred = {m.pk: m for m in members if m.outcome != RiskOutcome.NONE}
    orders = list(TestOrder.objects.all())
    assert {o.member_screening_id for o in orders} == set(referred)
    assert len(orders) == len(referred)
    for order in orders:
        member = referred[order.member_screening_id]
        assert order.person_id == member.person_id
        assert order.urgent == (member.outcome == RiskOutcome.URGENT)
        assert (
            (order.sample_id is None)
            == (order.sampled_on is None)
            == (order.status == TestOrder.Status.ORDERED)
        )
        assert (
            bool(order.result)
            == (order.status == TestOrder.Status.RESULTED)
            == (order.result_date is not None)
        )
    assert Alert.objects.filter(kind=Alert.Kind.URGENT_REFERRAL).count() == sum(o.urgent for o in orders)
    assert summary["positive_results"] == sum(o.result == "positive" for o in orders) > 5

    # One case per referred person, classified by the case rules from that person's results.
    cases = {c.person_id: c for c in Case.objects.all()}
    assert set(cases) == {o.person_id for o in orders}
    assert len(cases) == Case.objects.count()
    for person_id, case in cases.items():
        own = [o for o in orders if o.person_id == person_id]
        tests = [case_rules.TestEvidence(kind=o.kind, result=o.result) for o in own if o.result]
        symptomatic = any(referred[o.member_screening_id].symptoms for o in own)
        assert (
            case.classification
            == case_rules.classify(symptomatic=symptomatic, epi_link=case.epi_link, tests=tests)[0]
        )
        changes = list(case.changes.values_list("old_value", "new_value"))
        assert changes[0] == ("", Classification.SUSPECTED)
        assert changes[-1][1] == case.classification and len(changes) <= 2



def test_isolations_follow_ups_and_coverage_are_consistent(population, capsys):
    summary = simulate(capsys)
    cases = {c.person_id: c for c in Case.objects.all()}

    # Isolation: confirmed and probable cases only, quarantine places never over capacity on any day.
    isolations = list(Isolation.objects.select_related("case"))
    assert {i.case.classification for i in isolations} <= {Classification.CONFIRMED, Classification.PROBABLE}
    assert len({i.case_id for i in isolations}) == len(isolations)
    assert {c.pk for c in cases.values() if c.classification in ("confirmed", "probable")} == {
        i.case_id for i in isolations
    }
    in_places = [i for i in isolations if i.setting == Isolation.Setting.FACILITY]
    assert len(in_places) == summary["isolations_in_places"] > 0
    for place in QuarantinePlace.objects.all():
        stays = [i for i in in_places if i.place_id == place.pk]
        day = dt.date(2026, 1, 1)
        while day <= END:
            inside = sum(
                1 for i in stays if i.start_date <= day and (i.released_on is None or day < i.released_on)
            )
            assert inside <= place.capacity
            day += dt.timedelta(days=1)
        assert place.occupied == sum(1 for i in stays if i.released_on is None) <= place.capacity
    assert not Isolation.objects.filter(setting=Isolation.Setting.HOME, place__isnull=False).exists()
    for case in cases.values():
        if case.outcome:
            assert case.outcome_date is not None
    assert summary["deaths"] == Case.objects.filter(outcome="died").count()

    # Follow-ups: each day of an isolation before today (or its release) has one follow-up or one missed alert.
    follow_ups = defaultdict(list)
    for f in FollowUp.objects.all():
        follow_ups[f.isolation_id].append(f.date)
    missed = defaultdict(list)
    for a in Alert.objects.filter(kind=Alert.Kind.MISSED_FOLLOW_UP):
        missed[a.isolation_id].append(a.day)
    for isolation in isolations:
        last = min(isolation.released_on or END, END)
        days = [
            isolation.start_date + dt.timedelta(days=k) for k in range((last - isolation.start_date).days)
        ]
        done, gone = follow_ups[isolation.pk], missed[isolation.pk]
        assert sorted(done + gone) == days
        assert not Counter(done + gone) - Counter(days)
    for alert in Alert.objects.filter(kind=Alert.Kind.DETERIORATION):
        assert FollowUp.objects.filter(isolation_id=alert.isolation_id).filter(spo2__lt=93).exists() or any(
            "shortness_of_breath" in f.symptoms
            for f in FollowUp.objects.filter(isolation_id=alert.isolation_id)
        )

    # Coverage rows are exactly what a recount gives.
    rows = snapshot()["coverage"]
    assert len(rows) == summary["coverage_rows"] > 0
    assert sum(r[5] for r in rows) > 0
    for campaign in Campaign.objects.all():
        coverage_refresh(campaign=campaign)
    assert snapshot()["coverage"] == rows


def test_refuses_to_run_twice_and_bad_input(population, capsys):
    simulate(capsys)
    visits = ScreeningVisit.objects.count()
    with pytest.raises(CommandError, match="already in the database"):
        simulate(capsys)
    assert ScreeningVisit.objects.count() == visits
    # another seed adds to what is there; people with an open case or isolation keep theirs
    again = simulate(capsys, "--seed", "6")
    assert ScreeningVisit.objects.count() == visits + again["visits"]
    assert Case.objects.count() > again["cases"] > 0
    with pytest.raises(CommandError, match="after today"):
        call_command("simulate_activity", "--weeks", "2", "--start", "2999-01-01")
    with pytest.raises(CommandError, match="--start"):
        call_command("simulate_activity", "--weeks", "2", "--start", "yesterday")
    assert AuditEvent.objects.filter(object_type="synth.activity").count() == 2


def test_needs_a_population(db):
    with pytest.raises(CommandError, match="run `mahalle synth` first"):
        call_command("simulate_activity", "--weeks", "1")
