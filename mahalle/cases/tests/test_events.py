"""The seam for what a case triggers (cases.events): sent once per case and occasion, inside the service's
transaction, so that a failing receiver rolls the whole write back."""

import contextlib
import datetime as dt

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.cases import events, services
from mahalle.cases.models import Case, CaseChange, Isolation, TestOrder
from mahalle.core.errors import ValidationFailed
from mahalle.registry.tests.factories import PersonFactory

from .factories import case_for, isolation_for, order_for

TODAY = timezone.localdate
EVENTS = ("positive_result_recorded", "case_created", "case_confirmed", "cases_changed", "case_died")


class ReceiverFailed(Exception):
    pass


def lab(sample_id, result="positive", kind="pcr"):
    return {"sample_id": sample_id, "kind": kind, "result": result, "result_date": TODAY(), "lab": ""}


@pytest.fixture
def supervisor(users):
    return users[Role.POST_SUPERVISOR]


@contextlib.contextmanager
def receiving(event, receiver):
    event.connect(receiver, dispatch_uid="cases.tests.receiving")
    try:
        yield
    finally:
        event.disconnect(dispatch_uid="cases.tests.receiving")


@pytest.fixture
def sent():
    """Every event the cases side publishes during the test: [(event name, who or what it is about)]."""
    log: list = []
    for name in EVENTS:

        def record(sender, name=name, **payload):
            subject = payload.get("case") or payload.get("person") or tuple(payload["org_unit_ids"])
            log.append((name, getattr(subject, "person_id", getattr(subject, "pk", subject))))

        getattr(events, name).connect(record, weak=False, dispatch_uid=f"cases.tests.sent.{name}")
    yield log
    for name in EVENTS:
        getattr(events, name).disconnect(dispatch_uid=f"cases.tests.sent.{name}")


def test_every_event_has_its_subscriber_connected_at_start_up():
    assert events.positive_result_recorded.has_listeners(TestOrder)  # screening
    assert events.case_created.has_listeners(Case)  # tracing
    assert events.case_confirmed.has_listeners(Case)  # tracing
    assert events.cases_changed.has_listeners(Case)  # analytics
    assert events.case_died.has_listeners(Case)  # needs


def test_a_failing_receiver_rolls_back_the_lab_result_and_the_case(supervisor, people):
    person = people["post_a1"]
    order = order_for(person, sample_id="S-1", kind="pcr")
    audits = AuditEvent.objects.count()

    def fail(sender, **kwargs):
        raise ReceiverFailed

    with receiving(events.case_created, fail), pytest.raises(ReceiverFailed):
        services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    order.refresh_from_db()
    assert (order.status, order.result, order.result_date) == (TestOrder.Status.SAMPLED, "", None)
    assert not Case.objects.filter(person=person).exists()
    assert not CaseChange.objects.exists()
    assert AuditEvent.objects.count() == audits
    # without the failing receiver the same call stores the result and opens the case
    services.lab_results_record(actor=supervisor, items=[lab("S-1")])
    assert Case.objects.get(person=person).classification == "confirmed"


def test_a_failing_receiver_rolls_back_the_outcome_and_the_release(supervisor, people):
    person = people["post_a1"]
    case = case_for(person)
    isolation_for(person, case=case)
    audits = AuditEvent.objects.count()

    def fail(sender, **kwargs):
        raise ReceiverFailed

    with receiving(events.case_died, fail), pytest.raises(ReceiverFailed):
        services.case_outcome_record(actor=supervisor, case=case, outcome="died", on=TODAY())
    case.refresh_from_db()
    assert (case.outcome, case.outcome_date) == ("", None)
    assert Isolation.objects.get(person=person).released_on is None
    assert not CaseChange.objects.filter(case=case).exists()
    assert AuditEvent.objects.count() == audits


def test_the_events_are_sent_once_per_case(users, people, sent):
    coordinator = users[Role.COUNTY_COORDINATOR]  # sees both posts of county a
    a, b = people["post_a1"], people["post_a2"]
    order_for(a, sample_id="A-1", kind="pcr")
    order_for(a, sample_id="A-2", kind="antigen")  # a second positive of the same person, in the same batch
    order_for(b, sample_id="B-1", kind="antigen")  # an antigen alone: a probable case
    items = [lab("A-1"), lab("A-2", kind="antigen"), lab("B-1", kind="antigen")]
    services.lab_results_record(actor=coordinator, items=items)
    case_a, case_b = Case.objects.get(person=a), Case.objects.get(person=b)
    assert (case_a.classification, case_b.classification) == ("confirmed", "probable")
    expected = [
        ("positive_result_recorded", a.pk),
        ("cases_changed", (case_a.org_unit_id,)),
        ("case_created", a.pk),
        ("positive_result_recorded", b.pk),
        ("cases_changed", (case_b.org_unit_id,)),
        ("case_created", b.pk),
    ]
    assert sent == expected
    # the same batch again: every item "exists", nothing is published
    services.lab_results_record(actor=coordinator, items=items)
    assert sent == expected


def test_a_probable_case_confirmed_later_is_published_as_confirmed_once(supervisor, people, sent):
    person = people["post_a1"]
    order_for(person, sample_id="S-1", kind="antigen")
    order_for(person, sample_id="S-2", kind="pcr")
    services.lab_results_record(actor=supervisor, items=[lab("S-1", kind="antigen")])
    case = Case.objects.get(person=person)
    assert case.classification == "probable"
    del sent[:]
    services.lab_results_record(actor=supervisor, items=[lab("S-2")])
    # not a first positive any more, not a new case: the case moves up and is confirmed
    assert sent == [("cases_changed", (case.org_unit_id,)), ("case_confirmed", person.pk)]
    case.refresh_from_db()
    assert case.classification == "confirmed"
    services.case_classification_change(
        actor=supervisor, case=case, classification="confirmed", reason="same"
    )
    assert len(sent) == 2  # no change, no event


def test_a_death_is_published_once_and_a_recovery_not_at_all(supervisor, people, sent):
    person = people["post_a1"]
    died = case_for(person)
    recovered = case_for(PersonFactory(org_unit=person.org_unit))
    services.case_outcome_record(actor=supervisor, case=recovered, outcome="recovered", on=TODAY())
    services.case_outcome_record(
        actor=supervisor, case=died, outcome="died", on=TODAY() - dt.timedelta(days=1)
    )
    assert sent == [("case_died", person.pk)]
    with pytest.raises(ValidationFailed):  # closed already: refused, and nothing more is published
        services.case_outcome_record(actor=supervisor, case=died, outcome="died", on=TODAY())
    assert sent == [("case_died", person.pk)]
