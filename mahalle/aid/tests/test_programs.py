"""Programs, cycles and entitlements: rules, computation, double-dipping, approval (frozen), 12-month support."""

import datetime as dt
from io import StringIO

import pytest
from django.utils import translation

from mahalle.accounts.models import Role
from mahalle.aid import rules, services
from mahalle.aid.models import Cycle, Entitlement, PaymentInstruction, Program
from mahalle.audit.models import AuditEvent
from mahalle.cases.services import case_outcome_record
from mahalle.cases.tests.factories import case_for
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed
from mahalle.needs.models import Support
from mahalle.registry.tests.factories import PersonFactory

from .factories import AgencyFactory, ItemFactory, need_for, program_in, score_for

START = dt.date(2026, 11, 1)


def run(cycle, actor, capture):
    with capture(execute=True):
        services.cycle_run_request(actor=actor, cycle=cycle)
    cycle.refresh_from_db()
    return cycle


def test_rule_is_checked_and_described():
    with pytest.raises(ValidationFailed) as exc:
        rules.rule_clean({"need_kinds": ["caviar"], "min_score": -1, "colour": "red"})
    assert sorted(e["field"] for e in exc.value.errors) == [
        "rule.colour",
        "rule.min_score",
        "rule.need_kinds",
    ]
    rule = rules.rule_clean({"need_kinds": ["food"], "min_score": 5, "breadwinner_died": True})
    assert rule == {
        "need_kinds": ["food"],
        "min_score": 5,
        "breadwinner_died": True,
        "death_within_days": 365,
    }
    with translation.override("en"):
        described = rules.rule_describe(rule)
    assert described == [
        "has an open need of kind: food (needs registry)",
        "vulnerability score at least 5 (needs registry)",
        "the head of household died of the disease within 365 days before the cycle (cases)",
    ]
    assert rules.rule_describe({}) == ["every household in the program's area"]


def test_program_create_makes_its_cycles_and_is_audited(tree, users):
    coordinator = users[Role.PROVINCE_COORDINATOR]
    program = services.program_create(
        actor=coordinator,
        code="bereaved",
        name="حمایت یک‌ساله",
        kind="cash",
        category="cash_support",
        agency=AgencyFactory(),
        org_unit=tree["province_a"],
        rule={"breadwinner_died": True},
        start_date=START,
        cadence="monthly",
        cycles=12,
        amount=50_000_000,
    )
    periods = [(c.period_start, c.period_end) for c in program.cycle_set.order_by("number")]
    assert len(periods) == 12
    assert periods[0] == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert periods[11] == (dt.date(2027, 10, 1), dt.date(2027, 10, 31))
    assert (
        AuditEvent.objects.get(action="create", object_id=str(program.pk)).actor_username
        == coordinator.username
    )


def test_program_create_leaves_nothing_when_its_audit_write_fails(tree, users, monkeypatch):
    """The program, its cycles and its audit event land together or not at all (the decorator once sat on the
    wrong function, and a failed audit write left the program and its cycles unaudited)."""

    def audit_write_fails(**kwargs):
        raise RuntimeError("the audit write failed")

    monkeypatch.setattr(AuditEvent.objects, "create", audit_write_fails)
    before = (Program.objects.count(), Cycle.objects.count(), AuditEvent.objects.count())
    with pytest.raises(RuntimeError, match="audit write failed"):
        services.program_create(
            actor=users[Role.PROVINCE_COORDINATOR],
            code="unaudited",
            name="x",
            kind="cash",
            category="cash_support",
            agency=AgencyFactory(),
            org_unit=tree["province_a"],
            rule={},
            start_date=START,
            cadence="monthly",
            cycles=3,
            amount=1000,
        )
    assert not Program.objects.filter(code="unaudited").exists()
    assert (Program.objects.count(), Cycle.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        (Role.FIELD_VOLUNTEER, "post_a1"),
        (Role.ANALYST, "country"),
        (Role.PROVINCE_COORDINATOR, "province_b"),
    ],
)
def test_program_create_refused(tree, users, role, unit):
    with pytest.raises(PermissionDenied):
        services.program_create(
            actor=users[role],
            code="x",
            name="x",
            kind="service",
            category="hot_meal",
            agency=AgencyFactory(),
            org_unit=tree[unit],
            rule={},
            start_date=START,
        )
    assert Program.objects.count() == 0


def test_program_create_bad_input(tree, users):
    with pytest.raises(ValidationFailed) as exc:
        services.program_create(
            actor=users[Role.NATIONAL_COORDINATOR],
            code="x",
            name="x",
            kind="cash",
            category="c",
            agency=AgencyFactory(),
            org_unit=tree["country"],
            rule={"regions": ["NOPE"]},
            start_date=START,
        )
    assert exc.value.errors == [{"field": "amount", "message": "a cash program pays an amount above zero"}]
    with pytest.raises(ValidationFailed) as exc:
        services.program_create(
            actor=users[Role.NATIONAL_COORDINATOR],
            code="x",
            name="x",
            kind="service",
            category="c",
            agency=AgencyFactory(),
            org_unit=tree["country"],
            rule={"regions": ["NOPE"]},
            start_date=START,
        )
    assert exc.value.errors == [{"field": "rule.regions", "message": "unknown org units: NOPE"}]


def test_cycle_run_computes_entitlements_with_reasons(tree, users, django_capture_on_commit_callbacks):
    people = [PersonFactory(org_unit=tree[post]) for post in ("post_a1", "post_a1", "post_a2", "post_b1")]
    households = [p.household for p in people]
    for person in people:
        person.household.head = person
        person.household.save()
    need_for(households[0], "food")
    need_for(households[1], "food")
    need_for(households[2], "hygiene")  # other kind
    need_for(households[3], "food")  # outside the program's area
    need_for(households[1], "food", resolved_on=dt.date(2026, 10, 20), ref="old")  # resolved: not a reason
    score_for(households[0], 7)
    score_for(households[1], 3)  # below the minimum
    program = program_in(tree["province_a"], rule={"need_kinds": ["food"], "min_score": 5}, quantity=2)
    cycle = run(program.cycle_set.get(), users[Role.PROVINCE_COORDINATOR], django_capture_on_commit_callbacks)
    assert (cycle.status, cycle.households_total, cycle.households_done, cycle.entitled) == (
        "computed",
        1,
        1,
        1,
    )
    entitlement = Entitlement.objects.get()
    person = people[0]
    assert (entitlement.household, entitlement.quantity, entitlement.phone, entitlement.head_name) == (
        households[0],
        2,
        person.mobile,
        f"{person.first_name} {person.last_name}",
    )
    assert entitlement.reasons == [
        {"code": "need", "kind": "food"},
        {"code": "score", "score": 7, "min": 5},
        {"code": "area", "path": households[0].org_path},
    ]


def test_cycle_run_twice_is_a_clear_error(tree, users, django_capture_on_commit_callbacks):
    program = program_in(tree["province_a"])
    cycle = run(program.cycle_set.get(), users[Role.PROVINCE_COORDINATOR], django_capture_on_commit_callbacks)
    with pytest.raises(Conflict) as exc:
        services.cycle_run_request(actor=users[Role.PROVINCE_COORDINATOR], cycle=cycle)
    assert exc.value.detail == "cycle 1 of this program is already computed, awaiting approval"
    assert exc.value.status_code == 409


def test_approval_freezes_the_list(tree, users, people, django_capture_on_commit_callbacks):
    coordinator = users[Role.PROVINCE_COORDINATOR]
    program = program_in(tree["province_a"], kind="cash", amount=1000, code="cash")
    cycle = run(program.cycle_set.get(), coordinator, django_capture_on_commit_callbacks)
    assert cycle.entitled == 2  # the people of post_a1 and post_a2
    with pytest.raises(PermissionDenied):
        services.cycle_approve(actor=users[Role.POST_SUPERVISOR], cycle=cycle)
    with pytest.raises(PermissionDenied):
        services.cycle_approve(actor=users[Role.ANALYST], cycle=cycle)
    assert Cycle.objects.get(pk=cycle.pk).status == "computed"
    services.cycle_approve(actor=coordinator, cycle=cycle)
    event = AuditEvent.objects.get(action="approve")
    assert (event.actor_username, event.details["entitled"], event.details["payments"]) == (
        coordinator.username,
        2,
        2,
    )
    before = sorted(Entitlement.objects.values_list("household_id", "phone", "head_name", "amount"))
    person = people["post_a1"]
    person.mobile, person.first_name = "09990000000", "تغییر"
    person.save()
    for post in ("post_a1", "post_a2"):  # registry edits and a need after approval change nothing here
        need_for(people[post].household, "food")
    assert sorted(Entitlement.objects.values_list("household_id", "phone", "head_name", "amount")) == before
    assert sorted(PaymentInstruction.objects.values_list("reference", flat=True)) == sorted(
        f"cash-1-{pk}" for pk in Entitlement.objects.values_list("pk", flat=True)
    )
    with pytest.raises(Conflict):
        services.cycle_run_request(actor=coordinator, cycle=cycle)


def test_double_dipping_is_flagged_and_decided(tree, users, people, django_capture_on_commit_callbacks):
    coordinator = users[Role.NATIONAL_COORDINATOR]
    red_crescent = AgencyFactory(name="هلال احمر")
    first = program_in(tree["country"], category="livelihood_package", agency=red_crescent)
    run(first.cycle_set.get(), coordinator, django_capture_on_commit_callbacks)
    Support.objects.create(
        household=people["post_b2"].household,
        agency=AgencyFactory(name="کمیته امداد"),
        kind="livelihood package",
        org_unit=tree["post_b2"],
        org_path=tree["post_b2"].path,
        start_date=dt.date(2026, 10, 1),
    )
    # first program's household in post_b1 dropped there: no longer served by it
    Entitlement.objects.filter(cycle__program=first, household=people["post_b1"].household).update(
        decision="drop"
    )
    Entitlement.objects.filter(cycle__program=first, household=people["post_b2"].household).delete()
    second = program_in(tree["country"], category="livelihood_package")
    cycle = run(second.cycle_set.get(), coordinator, django_capture_on_commit_callbacks)
    flags = {e.household_id: (e.flag, e.flag_detail) for e in cycle.entitlements.all()}
    assert flags == {
        people["post_a1"].household_id: ("other_program", first.name),
        people["post_a2"].household_id: ("other_program", first.name),
        people["post_b1"].household_id: ("", ""),
        people["post_b2"].household_id: ("agency_support", "کمیته امداد"),
    }
    assert cycle.flagged == 3
    with pytest.raises(ValidationFailed) as exc:
        services.cycle_approve(actor=coordinator, cycle=cycle)
    assert exc.value.errors == [
        {"field": "flags", "message": "3 flagged households have no keep/drop decision"}
    ]
    flagged = list(cycle.entitlements.exclude(flag="").order_by("org_path"))
    services.entitlement_decide(actor=coordinator, entitlement=flagged[0], decision="drop", note="served")
    for e in flagged[1:]:
        services.entitlement_decide(actor=coordinator, entitlement=e, decision="keep")
    with pytest.raises(ValidationFailed):
        services.entitlement_decide(actor=coordinator, entitlement=flagged[0], decision="maybe")
    services.cycle_approve(actor=coordinator, cycle=cycle)
    assert Cycle.objects.get(pk=cycle.pk).status == "approved"
    event = AuditEvent.objects.get(action="decide", object_id=str(flagged[0].pk))
    assert event.details == {"flag": "other_program", "from": "", "to": "drop", "note": "served"}
    with pytest.raises(Conflict):  # frozen: no decision changes after approval
        services.entitlement_decide(actor=coordinator, entitlement=flagged[0], decision="keep")
    # a program of another category never flags
    third = program_in(tree["country"], category="hygiene_package")
    assert run(third.cycle_set.get(), coordinator, django_capture_on_commit_callbacks).flagged == 0


def test_twelve_month_support_starts_by_itself_after_a_death(tree, users, django_capture_on_commit_callbacks):
    """The cases side records the death of a household head; the next monthly cycle includes the family."""
    coordinator = users[Role.PROVINCE_COORDINATOR]
    head = PersonFactory(org_unit=tree["post_a1"])
    head.household.head = head
    head.household.save()
    spouse = PersonFactory(org_unit=tree["post_a1"], household=head.household, relation_to_head="spouse")
    other = PersonFactory(org_unit=tree["post_a2"])  # a spouse who died: not the head
    other.relation_to_head = "spouse"
    other.save()
    program = program_in(
        tree["province_a"],
        kind="cash",
        amount=1000,
        cadence="monthly",
        cycles=12,
        start=dt.date(2026, 10, 1),
        rule={"breadwinner_died": True, "death_within_days": 365},
        category="bereaved_support",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.cycles_due_run(today=dt.date(2026, 10, 1)) == [program.cycle_set.get(number=1).pk]
    first = program.cycle_set.get(number=1)
    assert (first.status, first.entitled) == ("computed", 0)
    services.cycle_approve(actor=coordinator, cycle=first)

    for person in (head, other):
        case_outcome_record(
            actor=users[Role.POST_SUPERVISOR] if person is head else coordinator,
            case=case_for(person, onset_date=dt.date(2026, 10, 5)),
            outcome="died",
            on=dt.date(2026, 10, 20),
        )
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.cycles_due_run(today=dt.date(2026, 11, 1))
    second = program.cycle_set.get(number=2)
    assert queued == [second.pk]
    second.refresh_from_db()
    assert (second.status, second.entitled) == ("computed", 1)
    entitlement = second.entitlements.get()
    assert (entitlement.household, entitlement.amount) == (head.household, 1000)
    assert entitlement.reasons == [
        {"code": "breadwinner_died", "date": "2026-10-20", "source": "case"},
        {"code": "area", "path": head.org_path},
    ]
    assert spouse.household == head.household
    with django_capture_on_commit_callbacks(execute=True):  # the schedule again: nothing more to run
        assert services.cycles_due_run(today=dt.date(2026, 11, 2)) == []
    # a death reported through the needs registry also counts
    widow = PersonFactory(org_unit=tree["post_a2"])
    widow.household.head = None
    widow.household.save()
    need_for(widow.household, "breadwinner_died", noted_on=dt.date(2026, 11, 10), source="cases")
    with django_capture_on_commit_callbacks(execute=True):
        services.cycles_due_run(today=dt.date(2026, 12, 1))
    third = program.cycle_set.get(number=3)
    assert sorted(third.entitlements.values_list("household_id", flat=True)) == sorted(
        [head.household_id, widow.household_id]
    )
    assert third.entitlements.get(household=widow.household).reasons == [
        {"code": "breadwinner_died", "date": "2026-11-10", "source": "need"},
        {"code": "area", "path": widow.org_path},
    ]


def test_in_kind_program_needs_an_item(tree, users):
    with pytest.raises(ValidationFailed) as exc:
        services.program_create(
            actor=users[Role.NATIONAL_COORDINATOR],
            code="x",
            name="x",
            kind="in_kind",
            category="c",
            agency=AgencyFactory(),
            org_unit=tree["country"],
            rule={},
            start_date=START,
        )
    assert exc.value.errors == [{"field": "item", "message": "an in-kind or loan program names its item"}]
    program = services.program_create(
        actor=users[Role.NATIONAL_COORDINATOR],
        code="x",
        name="x",
        kind="in_kind",
        category="c",
        agency=AgencyFactory(),
        org_unit=tree["country"],
        rule={},
        start_date=START,
        item=ItemFactory(),
        quantity=3,
    )
    assert (program.quantity, program.cycle_set.count()) == (3, 1)


def test_run_due_command_computes_inline(tree, people):
    import json

    from django.core.management import call_command

    program = program_in(tree["province_a"], start=dt.date(2020, 1, 1))
    out = StringIO()
    call_command("aid_run_due", "--inline", "--json", stdout=out)
    cycle = program.cycle_set.get()
    assert json.loads(out.getvalue()) == {"computed": [{"cycle": cycle.pk, "entitled": 2, "flagged": 0}]}
    out = StringIO()
    call_command("aid_run_due", "--inline", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"computed": []}
