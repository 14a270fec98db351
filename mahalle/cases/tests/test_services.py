import datetime as dt
import uuid

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.cases import selectors, services
from mahalle.cases.models import Alert, Case, CaseChange, FollowUp, Isolation, QuarantinePlace, TestOrder
from mahalle.cases.tasks import flag_missed_follow_ups
from mahalle.core.errors import Conflict, PermissionDenied, PlaceFull, ValidationFailed
from mahalle.registry.models import Relation
from mahalle.registry.tests.factories import PersonFactory
from mahalle.screening.services import campaign_create, screening_visits_record

from .factories import case_for, isolation_for, order_for, place_in

TODAY = timezone.localdate


def lab(sample_id, result="positive", kind="pcr", result_date=None, **extra):
    return {
        "sample_id": sample_id,
        "kind": kind,
        "result": result,
        "result_date": result_date or TODAY(),
        "lab": "آزمایشگاه مرکزی",
        **extra,
    }


def follow(isolation, day=None, **extra):
    return {
        "id": uuid.uuid4(),
        "isolation_id": isolation.pk,
        "date": day or TODAY(),
        "method": "call",
        "reached": True,
        "symptoms": [],
        "spo2": 97,
        "needs": [],
        **extra,
    }


@pytest.fixture
def supervisor(users):
    return users[Role.POST_SUPERVISOR]


# --- lab results ---------------------------------------------------------------------------------------------


def test_a_positive_pcr_confirms_a_case_with_its_history_and_counts_a_positive(supervisor, people):
    person = people["post_a1"]
    order = order_for(person, sample_id="S-1", kind="pcr")
    results = services.lab_results_record(actor=supervisor, items=[lab("s-1")])
    assert [(r.id, r.status, r.errors) for r in results] == [("S-1", "created", [])]
    order.refresh_from_db()
    assert (order.status, order.result, order.result_date, order.lab) == (
        "resulted",
        "positive",
        TODAY(),
        "آزمایشگاه مرکزی",
    )
    case = Case.objects.get(person=person)
    assert case.classification == "confirmed"
    change = CaseChange.objects.get(case=case)
    assert (change.actor, change.field, change.old_value, change.new_value) == (
        supervisor,
        "classification",
        "",
        "confirmed",
    )
    assert change.reason == "PCR result of sample S-1: positive PCR"


def test_resending_the_same_result_changes_nothing(supervisor, people):
    order_for(people["post_a1"], sample_id="S-1", kind="pcr")
    services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    events = AuditEvent.objects.count()
    again = services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    assert [(r.status, r.errors) for r in again] == [("exists", [])]
    assert (Case.objects.count(), CaseChange.objects.count(), AuditEvent.objects.count()) == (1, 1, events)


def test_a_different_result_for_a_resulted_sample_is_a_conflict(supervisor, people):
    order = order_for(people["post_a1"], sample_id="S-1", kind="pcr")
    services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    result = services.lab_results_record(actor=supervisor, items=[lab("S-1", result="negative")])[0]
    assert result.status == "conflict"
    assert result.errors == [
        {
            "field": "result",
            "message": f"the sample already has the result positive of {TODAY()}; "
            "a correction goes through a supervisor, with a reason",
        }
    ]
    order.refresh_from_db()
    assert order.result == "positive"


def test_valid_items_are_stored_and_invalid_ones_answered(supervisor, people):
    order_for(people["post_a1"], sample_id="S-1", kind="pcr")
    order_for(people["post_a1"], sample_id="S-2", kind="antigen")
    order_for(people["post_b1"], sample_id="S-B", kind="pcr")  # outside the supervisor's post
    results = services.lab_results_record(
        actor=supervisor,
        items=[
            lab("S-1", result="negative"),
            lab("NOPE"),
            lab("S-B"),
            lab("S-2", kind="pcr"),
            lab("S-2", result="maybe", result_date=TODAY() + dt.timedelta(days=1)),
        ],
    )
    assert [r.status for r in results] == ["created", "invalid", "invalid", "invalid", "invalid"]
    unknown = [{"field": "sample_id", "message": "no test order has this sample id in your jurisdiction"}]
    assert results[1].errors == unknown and results[2].errors == unknown
    assert results[3].errors == [{"field": "kind", "message": "the sample was taken for a antigen test"}]
    assert results[4].errors == [
        {"field": "result", "message": "must be positive, negative or inconclusive"},
        {"field": "result_date", "message": "is in the future"},
    ]
    assert list(TestOrder.objects.filter(status="resulted").values_list("sample_id", flat=True)) == ["S-1"]
    assert Case.objects.count() == 0


def test_a_field_volunteer_may_not_post_lab_results(users, people):
    order_for(people["post_a1"], sample_id="S-1", kind="pcr")
    with pytest.raises(PermissionDenied):
        services.lab_results_record(actor=users[Role.FIELD_VOLUNTEER], items=[lab("S-1")])
    assert TestOrder.objects.get().status == "sampled"


def test_a_negative_pcr_discards_a_suspected_case_but_never_downgrades_a_confirmed_one(
    supervisor, users, people
):
    person = people["post_a1"]
    suspected = case_for(person, classification="suspected")
    order_for(person, sample_id="N-1", kind="pcr")
    services.lab_results_record(actor=supervisor, items=[lab("N-1", result="negative")])
    suspected.refresh_from_db()
    assert suspected.classification == "discarded"
    other = people["post_a2"]
    confirmed = case_for(other, classification="confirmed")
    order_for(other, sample_id="N-2", kind="pcr")
    services.lab_results_record(actor=users[Role.COUNTY_COORDINATOR], items=[lab("N-2", result="negative")])
    confirmed.refresh_from_db()
    assert confirmed.classification == "confirmed"


def test_a_supervisor_corrects_a_result_with_a_reason(supervisor, people):
    order = order_for(people["post_a1"], sample_id="S-1", kind="pcr")
    services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    with pytest.raises(ValidationFailed) as exc:
        services.test_result_correct(
            actor=supervisor, order=order, result="negative", result_date=TODAY(), reason=" "
        )
    assert exc.value.errors == [
        {"field": "reason", "message": "is required: say why the result is corrected"}
    ]
    services.test_result_correct(
        actor=supervisor, order=order, result="negative", result_date=TODAY(), reason="sample mix-up"
    )
    case = Case.objects.get()
    assert case.classification == "discarded"
    assert list(case.changes.values_list("new_value", "reason")) == [
        ("confirmed", "PCR result of sample S-1: positive PCR"),
        (
            "discarded",
            "result of sample S-1 corrected to negative: sample mix-up: negative PCR and no epidemiological link",
        ),
    ]


def test_sampling_assigns_the_sample_id_once(supervisor, people):
    order = order_for(people["post_a1"])
    other = order_for(people["post_a1"])
    services.test_order_sample(actor=supervisor, order=order, sample_id=" lab-7 ", kind="pcr", lab="مرکزی")
    order.refresh_from_db()
    assert (order.sample_id, order.kind, order.status, order.sampled_on) == (
        "LAB-7",
        "pcr",
        "sampled",
        TODAY(),
    )
    assert (
        services.test_order_sample(actor=supervisor, order=order, sample_id="LAB-7", kind="pcr").pk
        == order.pk
    )
    with pytest.raises(Conflict):
        services.test_order_sample(actor=supervisor, order=other, sample_id="lab-7", kind="pcr")
    other.refresh_from_db()
    assert other.sample_id is None


# --- cases ---------------------------------------------------------------------------------------------------


def test_manual_classification_needs_a_reason_and_is_kept(supervisor, people):
    case = case_for(people["post_a1"], classification="suspected")
    with pytest.raises(ValidationFailed):
        services.case_classification_change(actor=supervisor, case=case, classification="probable", reason="")
    services.case_classification_change(
        actor=supervisor, case=case, classification="probable", reason="contact of a confirmed case"
    )
    case.refresh_from_db()
    assert case.classification == "probable"
    assert list(case.changes.values_list("actor__username", "old_value", "new_value", "reason")) == [
        ("post_supervisor", "suspected", "probable", "contact of a confirmed case")
    ]
    assert AuditEvent.objects.filter(object_id=str(case.pk), action="update").count() == 1


def test_outside_jurisdiction_classification_is_refused(supervisor, people):
    case = case_for(people["post_b1"], classification="suspected")
    with pytest.raises(PermissionDenied):
        services.case_classification_change(
            actor=supervisor, case=case, classification="probable", reason="x"
        )
    case.refresh_from_db()
    assert case.classification == "suspected"


def test_hospitalisation_and_death_of_a_household_head(supervisor, users, people, tree):
    head = people["post_a1"]  # the fixture's person heads their household
    case = case_for(head, onset_date=TODAY() - dt.timedelta(days=5))
    member = PersonFactory(
        org_unit=tree["post_a1"], household=head.household, relation_to_head=Relation.CHILD
    )
    member_case = case_for(member)
    place = place_in(tree["county_a"], capacity=3)
    services.isolation_start(
        actor=supervisor,
        person=head,
        case=case,
        setting="facility",
        place=place,
        start_date=TODAY() - dt.timedelta(days=3),
    )
    services.case_hospitalisation_record(actor=supervisor, case=case, on=TODAY() - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed) as exc:
        services.case_outcome_record(
            actor=supervisor, case=case, outcome="died", on=TODAY() + dt.timedelta(days=1)
        )
    assert exc.value.errors == [{"field": "on", "message": "is in the future"}]
    services.case_outcome_record(actor=supervisor, case=case, outcome="died", on=TODAY())
    services.case_outcome_record(actor=supervisor, case=member_case, outcome="died", on=TODAY())
    case.refresh_from_db()
    assert (case.hospitalised, case.hospitalised_on, case.outcome, case.outcome_date) == (
        True,
        TODAY() - dt.timedelta(days=1),
        "died",
        TODAY(),
    )
    assert list(case.changes.values_list("field", "new_value")) == [
        ("hospitalised", "yes"),
        ("outcome", "died"),
    ]
    isolation = Isolation.objects.get(person=head)
    assert (isolation.released_on, isolation.release_reason) == (TODAY(), "died")
    place.refresh_from_db()
    assert place.occupied == 0
    assert list(selectors.household_head_deaths()) == [case]
    assert list(selectors.household_head_deaths(since=TODAY() + dt.timedelta(days=1))) == []
    assert list(selectors.household_head_deaths(user=users[Role.FIELD_VOLUNTEER])) == [case]
    assert list(selectors.household_head_deaths(user=users[Role.NATIONAL_COORDINATOR])) == [case]
    assert Case.objects.get(pk=member_case.pk).outcome == "died"  # a death, not of the head


# --- isolation and quarantine places -------------------------------------------------------------------------


def test_isolation_end_follows_the_policy(supervisor, people):
    person = people["post_a1"]
    onset = TODAY() - dt.timedelta(days=4)
    isolation = services.isolation_start(
        actor=supervisor,
        person=person,
        setting="home",
        start_date=TODAY(),
        onset_date=onset,
        last_symptom_date=TODAY(),
    )
    assert isolation.planned_end_date == onset + dt.timedelta(days=10)
    services.isolation_release(actor=supervisor, isolation=isolation, on=TODAY())
    with override_settings(MAHALLE_ISOLATION_DAYS_AFTER_ONSET=5, MAHALLE_ISOLATION_SYMPTOM_FREE_DAYS=4):
        again = services.isolation_start(
            actor=supervisor,
            person=person,
            setting="home",
            start_date=TODAY(),
            onset_date=onset,
            last_symptom_date=TODAY(),
        )
    assert again.planned_end_date == TODAY() + dt.timedelta(days=4)


def test_one_active_isolation_per_person(supervisor, people):
    person = people["post_a1"]
    services.isolation_start(actor=supervisor, person=person, setting="home", start_date=TODAY())
    with pytest.raises(Conflict) as exc:
        services.isolation_start(actor=supervisor, person=person, setting="home", start_date=TODAY())
    assert exc.value.errors == [
        {"field": "person_id", "message": "already has an active isolation; release it first"}
    ]
    assert Isolation.objects.count() == 1


def test_a_full_quarantine_place_is_refused_and_release_frees_a_place(supervisor, people, tree):
    place = place_in(tree["post_a1"], capacity=1, name="مدرسه")
    first, second = people["post_a1"], PersonFactory(org_unit=tree["post_a1"])
    isolation = services.isolation_start(
        actor=supervisor, person=first, setting="facility", place=place, start_date=TODAY()
    )
    with pytest.raises(PlaceFull) as exc:
        services.isolation_start(
            actor=supervisor, person=second, setting="facility", place=place, start_date=TODAY()
        )
    assert exc.value.detail == "the quarantine place is full"
    assert exc.value.errors == [{"field": "place_id", "message": "'مدرسه' is full: 1 of 1 places taken"}]
    assert Isolation.objects.filter(person=second).count() == 0
    services.isolation_release(actor=supervisor, isolation=isolation, on=TODAY())
    services.isolation_start(
        actor=supervisor, person=second, setting="facility", place=place, start_date=TODAY()
    )
    place.refresh_from_db()
    assert place.occupied == 1


def test_isolation_bad_input(supervisor, people, tree):
    place_b = place_in(tree["post_b1"])
    with pytest.raises(ValidationFailed) as exc:
        services.isolation_start(
            actor=supervisor,
            person=people["post_a1"],
            setting="facility",
            place=place_b,
            start_date=TODAY() + dt.timedelta(days=1),
            onset_date=TODAY() - dt.timedelta(days=1),
            last_symptom_date=TODAY() - dt.timedelta(days=2),
        )
    assert exc.value.errors == [
        {"field": "place_id", "message": "the quarantine place does not serve this person's post"},
        {"field": "start_date", "message": "is in the future"},
        {"field": "last_symptom_date", "message": "is before the onset"},
    ]
    assert Isolation.objects.count() == 0 and QuarantinePlace.objects.get().occupied == 0


def test_quarantine_places_are_created_by_coordinators_only(users, tree):
    with pytest.raises(PermissionDenied):
        services.quarantine_place_create(
            actor=users[Role.POST_SUPERVISOR], org_unit=tree["post_a1"], name="x", capacity=3
        )
    with pytest.raises(PermissionDenied):
        services.quarantine_place_create(
            actor=users[Role.COUNTY_COORDINATOR], org_unit=tree["county_b"], name="x", capacity=3
        )
    place = services.quarantine_place_create(
        actor=users[Role.COUNTY_COORDINATOR], org_unit=tree["county_a"], name=" هتل  امید ", capacity=30
    )
    assert (place.name, place.capacity, place.occupied, place.org_path) == (
        "هتل امید",
        30,
        0,
        tree["county_a"].path,
    )
    assert list(selectors.quarantine_places_usable(user=users[Role.POST_SUPERVISOR])) == [place]
    assert list(selectors.quarantine_places_usable(user=users[Role.NATIONAL_COORDINATOR])) == [place]


# --- follow-ups ----------------------------------------------------------------------------------------------


def test_follow_up_batch_answers_each_item(users, people):
    volunteer = users[Role.FIELD_VOLUNTEER]
    isolation = isolation_for(people["post_a1"], start_date=TODAY() - dt.timedelta(days=3))
    good = follow(isolation)
    items = [
        good,
        follow(isolation, day=TODAY() + dt.timedelta(days=1)),
        follow(isolation, day=TODAY() - dt.timedelta(days=4)),
        follow(isolation, day=TODAY() - dt.timedelta(days=1), spo2=120),
        follow(isolation, day=TODAY() - dt.timedelta(days=1), reached=False, spo2=None, symptoms=["cough"]),
        follow(isolation_for(people["post_b1"])),
        {**follow(isolation), "isolation_id": uuid.uuid4()},
        follow(isolation),  # the same day under another id
    ]
    results = services.follow_ups_record(actor=volunteer, items=items)
    assert [r.status for r in results] == [
        "created",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "retry",
        "retry",
        "conflict",
    ]
    assert results[1].errors == [{"field": "date", "message": "is in the future"}]
    assert results[2].errors == [{"field": "date", "message": "is before the isolation started"}]
    assert results[3].errors == [{"field": "spo2", "message": "must be between 50 and 100"}]
    assert results[4].errors == [{"field": "reached", "message": "a person not reached has no answers"}]
    retry = [
        {
            "field": "isolation_id",
            "message": "this isolation is not known here yet; keep the follow-up and send it again later",
        }
    ]
    assert results[5].errors == retry and results[6].errors == retry
    assert results[7].errors == [
        {"field": "date", "message": "this isolation already has a follow-up on this day"}
    ]
    assert list(FollowUp.objects.values_list("pk", flat=True)) == [good["id"]]
    again = services.follow_ups_record(actor=volunteer, items=[good])
    assert [(r.status, r.errors) for r in again] == [("exists", [])]
    assert FollowUp.objects.count() == 1


def test_a_follow_up_after_release_is_invalid(users, people):
    isolation = isolation_for(people["post_a1"], start_date=TODAY() - dt.timedelta(days=5))
    Isolation.objects.filter(pk=isolation.pk).update(released_on=TODAY() - dt.timedelta(days=2))
    result = services.follow_ups_record(actor=users[Role.FIELD_VOLUNTEER], items=[follow(isolation)])[0]
    assert (result.status, result.errors) == (
        "invalid",
        [{"field": "date", "message": "is after the person was released from isolation"}],
    )


def test_deterioration_raises_one_urgent_alert(users, people):
    isolation = isolation_for(people["post_a1"], start_date=TODAY() - dt.timedelta(days=3))
    volunteer = users[Role.FIELD_VOLUNTEER]
    services.follow_ups_record(
        actor=volunteer,
        items=[follow(isolation, day=TODAY() - dt.timedelta(days=2), symptoms=["shortness_of_breath"])],
    )
    services.follow_ups_record(
        actor=volunteer,
        items=[follow(isolation, day=TODAY() - dt.timedelta(days=1), symptoms=["shortness_of_breath"])],
    )
    results = services.follow_ups_record(actor=volunteer, items=[follow(isolation, spo2=90)])
    assert results[0].urgent == 1
    alerts = list(Alert.objects.order_by("day").values_list("kind", "day", "message"))
    assert alerts == [
        (
            "deterioration",
            TODAY() - dt.timedelta(days=2),
            f"deterioration on {TODAY() - dt.timedelta(days=2)}: new shortness of breath",
        ),
        ("deterioration", TODAY(), f"deterioration on {TODAY()}: SpO2 90% (below 93%)"),
    ]
    supervisor = users[Role.POST_SUPERVISOR]
    assert [a.day for a in selectors.alerts_urgent(user=supervisor)] == [
        TODAY(),
        TODAY() - dt.timedelta(days=2),
    ]


def test_missed_follow_ups_are_flagged_once_and_closed_by_a_late_follow_up(users, people):
    yesterday = TODAY() - dt.timedelta(days=1)
    missed = isolation_for(people["post_a1"], start_date=TODAY() - dt.timedelta(days=3))
    done = isolation_for(people["post_a2"], start_date=TODAY() - dt.timedelta(days=3))
    isolation_for(people["post_b1"], start_date=TODAY())  # not started yesterday
    services.follow_ups_record(actor=users[Role.ADMINISTRATOR], items=[follow(done, day=yesterday)])
    flag_missed_follow_ups.enqueue(yesterday.isoformat())
    assert services.missed_follow_ups_flag(day=yesterday) == 0  # the second run creates nothing
    alert = Alert.objects.get()
    assert (alert.kind, alert.isolation_id, alert.day, alert.resolved_at) == (
        "missed_follow_up",
        missed.pk,
        yesterday,
        None,
    )
    assert list(selectors.alerts_missed_follow_ups(user=users[Role.POST_SUPERVISOR])) == [alert]
    services.follow_ups_record(actor=users[Role.FIELD_VOLUNTEER], items=[follow(missed, day=yesterday)])
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert services.missed_follow_ups_flag(day=yesterday) == 0


def test_analyst_may_not_record_follow_ups(users, people):
    isolation = isolation_for(people["post_a1"])
    with pytest.raises(PermissionDenied):
        services.follow_ups_record(actor=users[Role.ANALYST], items=[follow(isolation)])
    assert FollowUp.objects.count() == 0


# --- end to end ----------------------------------------------------------------------------------------------


def test_referral_to_sample_to_confirmed_case_to_isolation_to_follow_ups_and_an_alert(users, people, tree):
    volunteer, supervisor = users[Role.FIELD_VOLUNTEER], users[Role.POST_SUPERVISOR]
    person = people["post_a1"]
    campaign = campaign_create(
        actor=users[Role.COUNTY_COORDINATOR],
        name="دور ۱",
        start_date=TODAY() - dt.timedelta(days=3),
        end_date=TODAY() + dt.timedelta(days=3),
        org_units=[tree["county_a"]],
    )
    onset = TODAY() - dt.timedelta(days=2)
    visit = {
        "id": uuid.uuid4(),
        "household_id": person.household_id,
        "visit_date": TODAY(),
        "status": "screened",
        "campaign_id": campaign.pk,
        "members": [
            {
                "person_id": person.pk,
                "symptoms": ["fever", "cough"],
                "onset_date": onset,
                "known_contact": True,
            }
        ],
    }
    assert screening_visits_record(actor=volunteer, items=[visit])[0].referrals == 1
    order = selectors.referrals_untested(user=supervisor).get()
    services.test_order_sample(actor=supervisor, order=order, sample_id="E2E-1", kind="antigen")
    assert (
        services.lab_results_record(actor=supervisor, items=[lab("E2E-1", kind="antigen")])[0].status
        == "created"
    )
    case = Case.objects.get(person=person)
    assert (case.classification, case.onset_date, case.epi_link) == ("confirmed", onset, True)
    assert list(selectors.referrals_untested(user=supervisor)) == []
    assert campaign.coverage.get().positives == 1
    isolation = services.isolation_start(
        actor=supervisor, person=person, case=case, setting="home", start_date=TODAY()
    )
    assert (isolation.onset_date, isolation.planned_end_date) == (onset, onset + dt.timedelta(days=10))
    assert list(selectors.follow_ups_due(user=volunteer, on=TODAY())) == [isolation]
    result = services.follow_ups_record(actor=volunteer, items=[follow(isolation, spo2=90)])[0]
    assert (result.status, result.urgent) == ("created", 1)
    assert list(selectors.follow_ups_due(user=volunteer, on=TODAY())) == []
    alert = selectors.alerts_urgent(user=supervisor).get(kind="deterioration")
    assert (alert.person, alert.isolation, alert.day) == (person, isolation, TODAY())
