import datetime as dt
import uuid

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import TestOrder
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed
from mahalle.registry.models import Person
from mahalle.registry.tests.factories import PersonFactory
from mahalle.tracing import selectors, services
from mahalle.tracing.models import ChainCase, Contact, ContactFollowUp, EventAttendance, TransmissionLink

from .factories import case_for, member_of

TODAY = timezone.localdate


def days(n):
    return TODAY() - dt.timedelta(days=n)


@pytest.fixture
def supervisor(users):
    return users[Role.POST_SUPERVISOR]


@pytest.fixture
def volunteer(users):
    return users[Role.FIELD_VOLUNTEER]


@pytest.fixture
def index_case(people):
    return case_for(people["post_a1"], onset_date=days(3))


def test_household_members_are_listed_once_and_confirmed_or_removed(volunteer, index_case):
    wife, son = member_of(index_case.person), member_of(index_case.person)
    listed = services.contacts_list_household(actor=volunteer, case=index_case)
    assert sorted(c.person_id for c in listed) == sorted([wife.pk, son.pk])
    assert {(c.status, c.source, c.setting, c.last_exposure) for c in listed} == {
        ("listed", "household", "household", TODAY())
    }
    assert {c.follow_up_end for c in listed} == {TODAY() + dt.timedelta(days=14)}
    assert services.contacts_list_household(actor=volunteer, case=index_case) == []
    assert Contact.objects.count() == 2
    assert AuditEvent.objects.filter(object_type="tracing.contact", action="create").count() == 2
    first, second = sorted(listed, key=lambda c: str(c.person_id))
    confirmed = services.contact_confirm(actor=volunteer, contact=first)
    assert (confirmed.status, confirmed.quarantine_start) == ("confirmed", TODAY())
    removed = services.contact_remove(actor=volunteer, contact=second, reason="lives elsewhere")
    assert (removed.status, removed.removed_reason) == ("removed", "lives elsewhere")
    with pytest.raises(ValidationFailed):
        services.contact_remove(actor=volunteer, contact=first, reason=" ")
    # one cluster: the case and both members
    assert len({c.cluster_id for c in Contact.objects.all()} | {ChainCase.objects.get().cluster_id}) == 1


def test_follow_up_period_comes_from_the_setting(volunteer, index_case, settings):
    settings.MAHALLE_TRACING = {"FOLLOW_UP_DAYS": 10}
    contact = services.contact_add(
        actor=volunteer,
        case=index_case,
        national_code=PersonFactory(org_unit=index_case.org_unit).national_code,
        last_exposure=days(1),
        setting="workplace",
    )
    assert contact.follow_up_end == days(1) + dt.timedelta(days=10)


def test_contact_added_by_national_code_mobile_or_name(volunteer, index_case, tree):
    known = PersonFactory(org_unit=tree["post_a2"])
    by_code = services.contact_add(
        actor=volunteer,
        case=index_case,
        national_code=known.national_code,
        last_exposure=days(1),
        setting="workplace",
    )
    assert (by_code.person, by_code.status, by_code.source) == (known, "confirmed", "added")
    # post_a2 is outside the volunteer's post: the contact lives there and is assigned to the volunteer
    assert (by_code.org_path, by_code.assigned_tracer) == (known.org_path, volunteer)
    other = PersonFactory(org_unit=tree["post_a1"], first_name="زهرا", last_name="کریمی")
    by_mobile = services.contact_add(
        actor=volunteer,
        case=index_case,
        mobile=other.mobile,
        first_name="زهرا",
        last_name="كريمي",
        last_exposure=days(2),
        setting="gathering",
    )
    assert (by_mobile.person, by_mobile.assigned_tracer) == (other, None)
    created = services.contact_add(
        actor=volunteer,
        case=index_case,
        first_name="رضا",
        last_name="نوری",
        mobile="09121110000",
        last_exposure=days(2),
        setting="travel",
    )
    person = Person.objects.get(pk=created.person_id)
    assert (person.full_name, person.mobile, person.org_unit) == (
        "رضا نوری",
        "09121110000",
        index_case.org_unit,
    )


def test_bad_contacts_are_refused_and_nothing_is_written(volunteer, index_case, tree):
    sick = PersonFactory(org_unit=tree["post_a1"])
    case_for(sick, onset_date=days(5))
    before = (Contact.objects.count(), Person.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed) as himself:
        services.contact_add(
            actor=volunteer, case=index_case, person=index_case.person, last_exposure=days(1), setting="other"
        )
    assert himself.value.errors[0]["field"] == "person"
    with pytest.raises(ValidationFailed) as after_onset:
        services.contact_add(
            actor=volunteer, case=index_case, person=sick, last_exposure=days(2), setting="workplace"
        )
    assert after_onset.value.errors[0]["field"] == "last_exposure"
    assert "after the contact's own onset" in after_onset.value.errors[0]["message"]
    with pytest.raises(ValidationFailed) as future:
        services.contact_add(
            actor=volunteer,
            case=index_case,
            first_name="a",
            last_name="b",
            last_exposure=TODAY() + dt.timedelta(days=1),
            setting="nowhere",
        )
    assert {e["field"] for e in future.value.errors} == {"last_exposure", "setting"}
    with pytest.raises(ValidationFailed) as nameless:
        services.contact_add(actor=volunteer, case=index_case, last_exposure=days(1), setting="other")
    assert nameless.value.errors[0]["field"] == "national_code"
    assert (Contact.objects.count(), Person.objects.count(), AuditEvent.objects.count()) == before


def test_a_case_outside_the_jurisdiction_cannot_be_traced(volunteer, users, people):
    stranger = case_for(people["post_b1"])
    with pytest.raises(PermissionDenied):
        services.contacts_list_household(actor=volunteer, case=stranger)
    with pytest.raises(PermissionDenied):
        services.contacts_list_household(actor=users[Role.PARTNER_STAFF], case=case_for(people["post_a2"]))


def test_a_contact_who_becomes_a_case_keeps_the_link(volunteer, supervisor, index_case):
    member = member_of(index_case.person)
    contact = services.contacts_list_household(actor=volunteer, case=index_case)[0]
    services.contact_confirm(actor=volunteer, contact=contact)
    new_case = case_for(member, onset_date=days(0))
    assert services.contacts_case_created(actor=supervisor, case=new_case) == 1
    contact.refresh_from_db()
    assert contact.became_case == new_case
    link = TransmissionLink.objects.get()
    assert (link.infector, link.infectee, link.source) == (index_case, new_case, "contact")
    assert ChainCase.objects.get(case=new_case).cluster_id == contact.cluster_id
    assert services.contacts_case_created(actor=supervisor, case=new_case) == 0  # idempotent
    graph = selectors.cluster_graph(user=supervisor, case_id=index_case.pk)
    assert graph["stats"]["cases"] == 2 and graph["stats"]["generations"] == 2
    assert graph["stats"]["settings_driving"] == {"household": 1}
    assert sorted(e["kind"] for e in graph["edges"]) == ["contact", "infected"]


def test_loops_in_who_infected_whom_are_refused(supervisor, people, tree):
    a = case_for(people["post_a1"])
    b = case_for(PersonFactory(org_unit=tree["post_a1"]))
    c = case_for(PersonFactory(org_unit=tree["post_a1"]))
    services.transmission_link_create(actor=supervisor, infector=a, infectee=b)
    services.transmission_link_create(actor=supervisor, infector=b, infectee=c)
    with pytest.raises(ValidationFailed) as loop:
        services.transmission_link_create(actor=supervisor, infector=c, infectee=a)
    assert "loop" in loop.value.detail
    with pytest.raises(ValidationFailed):
        services.transmission_link_create(actor=supervisor, infector=a, infectee=a)
    with pytest.raises(Conflict):
        services.transmission_link_create(actor=supervisor, infector=a, infectee=c)
    assert TransmissionLink.objects.count() == 2
    assert len(set(ChainCase.objects.values_list("cluster_id", flat=True))) == 1


def test_clusters_merge_when_an_edge_joins_them(supervisor, volunteer, people, tree):
    a = case_for(people["post_a1"])
    b = case_for(PersonFactory(org_unit=tree["post_a1"]))
    shared = PersonFactory(org_unit=tree["post_a1"])
    services.contact_add(
        actor=volunteer, case=a, person=member_of(a.person), last_exposure=days(1), setting="household"
    )
    services.contact_add(
        actor=volunteer, case=b, person=member_of(b.person), last_exposure=days(1), setting="household"
    )
    assert len(set(Contact.objects.values_list("cluster_id", flat=True))) == 2
    # the same person exposed to both cases: one node, so one cluster
    services.contact_add(actor=volunteer, case=a, person=shared, last_exposure=days(1), setting="workplace")
    services.contact_add(actor=volunteer, case=b, person=shared, last_exposure=days(1), setting="workplace")
    clusters = set(Contact.objects.values_list("cluster_id", flat=True)) | set(
        ChainCase.objects.values_list("cluster_id", flat=True)
    )
    assert len(clusters) == 1
    graph = selectors.cluster_graph(user=supervisor, case_id=b.pk)
    assert (graph["stats"]["cases"], graph["stats"]["contacts"]) == (2, 3)


def test_an_event_with_10000_attendees_is_written_in_bulk_or_not_at_all(
    volunteer, users, tree, people, django_assert_max_num_queries
):
    event = services.event_create(
        actor=volunteer, org_unit=tree["post_a1"], name="عروسی", kind="wedding", date=days(4)
    )
    persons = [
        Person(
            id=uuid.uuid4(),
            org_unit=tree["post_a1"],
            org_path=tree["post_a1"].path,
            first_name="م",
            last_name=f"ن{i}",
        )
        for i in range(10_000)
    ]
    Person.objects.bulk_create(persons, batch_size=2000)
    ids = [str(p.pk) for p in persons]
    before = (EventAttendance.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed) as bad:
        services.event_attendees_add(
            actor=volunteer, event=event, person_ids=[*ids, str(uuid.uuid4())], national_codes=["123"]
        )
    assert {e["field"] for e in bad.value.errors} == {"national_codes[0]", "person_ids"}
    assert (EventAttendance.objects.count(), AuditEvent.objects.count()) == before
    sick = case_for(people["post_a2"])
    # bulk: a few hundred inserts of many rows each on SQLite (its 999-variable limit splits them), never 10,000
    with django_assert_max_num_queries(300):
        added = services.event_attendees_add(
            actor=volunteer, event=event, person_ids=ids, national_codes=[people["post_a2"].national_code]
        )
    assert added == 10_001
    assert EventAttendance.objects.filter(case=sick).count() == 1
    assert services.event_attendees_add(actor=volunteer, event=event, person_ids=ids[:10]) == 0
    graph = selectors.cluster_graph(user=users[Role.COUNTY_COORDINATOR], case_id=sick.pk)
    assert graph["stats"]["events"] == 1 and graph["stats"]["size"] == 10_002
    with pytest.raises(ValidationFailed):
        services.event_attendees_add(actor=volunteer, event=event, person_ids=["x"] * 20_001)


def _item(contact, day, status="well", **kw):
    return {
        "id": str(uuid.uuid4()),
        "contact_id": str(contact.pk),
        "date": day.isoformat(),
        "status": status,
        **kw,
    }


def test_follow_ups_once_a_day_with_referral_on_symptoms(volunteer, index_case):
    contact = services.contact_add(
        actor=volunteer,
        case=index_case,
        person=member_of(index_case.person),
        last_exposure=days(3),
        setting="household",
    )
    first = _item(contact, days(1), "unreachable")
    sick = _item(contact, TODAY(), "symptoms", symptoms=["fever"])
    results = services.contact_follow_ups_record(
        actor=volunteer,
        items=[
            first,
            sick,
            _item(contact, TODAY()),  # the same day again
            _item(contact, days(5)),  # before the exposure
            {**_item(contact, days(2), "well"), "symptoms": ["fever"]},
            {**_item(contact, days(2)), "contact_id": str(uuid.uuid4())},
            {"id": "nope", "contact_id": str(contact.pk), "date": "x", "status": "well"},
        ],
    )
    assert [r.status for r in results] == [
        "created",
        "created",
        "conflict",
        "invalid",
        "invalid",
        "retry",
        "invalid",
    ]
    assert results[1].referrals == 1
    order = TestOrder.objects.get(person=contact.person)
    assert (order.status, order.reasons[0]["code"]) == ("ordered", "contact_symptoms")
    again = services.contact_follow_ups_record(
        actor=volunteer, items=[first, _item(contact, days(2), "symptoms", symptoms=["cough"])]
    )
    assert [r.status for r in again] == ["exists", "created"]
    assert TestOrder.objects.count() == 1  # one open referral at a time
    assert ContactFollowUp.objects.count() == 3


def test_work_lists(volunteer, index_case, supervisor):
    today = TODAY()
    make = lambda n, exposure: services.contact_add(  # noqa: E731
        actor=volunteer,
        case=index_case,
        person=member_of(index_case.person),
        last_exposure=exposure,
        setting="household",
    )
    to_call, unreachable, ending = make(0, days(2)), make(1, days(3)), make(2, days(14))
    done = make(3, days(1))
    services.contact_follow_ups_record(
        actor=volunteer,
        items=[
            _item(unreachable, days(2), "unreachable"),
            _item(unreachable, days(1), "unreachable"),
            _item(done, today),
        ],
    )
    assert set(selectors.contacts_to_call(user=volunteer, on=today)) == {to_call, unreachable, ending}
    assert list(selectors.contacts_unreachable(user=volunteer, on=today)) == [unreachable]
    assert list(selectors.contacts_ending(user=volunteer, on=today)) == [ending]
    assert list(selectors.contacts_to_call(user=volunteer, on=today, mine=True)) == []


def test_assigned_tracer_sees_and_follows_a_contact_outside_their_post(users, people, tree):
    supervisor_b = users[Role.NATIONAL_COORDINATOR]
    case_b = case_for(people["post_b1"])
    contact = services.contact_add(
        actor=supervisor_b,
        case=case_b,
        person=member_of(people["post_b1"]),
        last_exposure=days(1),
        setting="household",
    )
    volunteer = users[Role.FIELD_VOLUNTEER]
    assert not selectors.contacts_visible(user=volunteer).exists()
    services.contact_assign(actor=supervisor_b, contact=contact, tracer=volunteer)
    assert list(selectors.contacts_visible(user=volunteer)) == [contact]
    assert list(selectors.contacts_visible(user=users[Role.POST_SUPERVISOR])) == []
    result = services.contact_follow_ups_record(actor=volunteer, items=[_item(contact, TODAY())])
    assert result[0].status == "created"
    with pytest.raises(PermissionDenied):  # the tracer may not reassign
        services.contact_assign(actor=users[Role.POST_SUPERVISOR], contact=contact, tracer=None)
    services.contact_assign(actor=supervisor_b, contact=contact, team=tree["county_a"])
    county = users[Role.COUNTY_COORDINATOR]
    assert list(selectors.contacts_visible(user=county)) == [contact]
    assert list(selectors.contacts_visible(user=volunteer)) == []


def test_cluster_graph_anonymises_nodes_outside_the_jurisdiction(users, people, tree):
    national = users[Role.NATIONAL_COORDINATOR]
    a = case_for(people["post_a1"])
    b = case_for(people["post_b1"])
    services.transmission_link_create(actor=national, infector=a, infectee=b)
    graph = selectors.cluster_graph(user=users[Role.POST_SUPERVISOR], case_id=a.pk)
    hidden = [n for n in graph["nodes"] if not n["visible"]]
    assert len(hidden) == 1
    assert (hidden[0]["label"], hidden[0]["person_id"], hidden[0]["case_id"]) == ("", None, None)
    assert str(b.pk) not in str(graph) and str(people["post_b1"].pk) not in str(graph)
    assert people["post_b1"].last_name not in str(graph)
    full = selectors.cluster_graph(user=national, case_id=b.pk)
    assert all(n["visible"] for n in full["nodes"]) and full["stats"]["generations"] == 2


def test_clusters_in_a_unit_with_statistics(users, people, tree, settings):
    settings.MAHALLE_TRACING = {"SUPERSPREADING_CASES": 2}
    national = users[Role.NATIONAL_COORDINATOR]
    a, b = case_for(people["post_a1"]), case_for(people["post_a2"])
    c = case_for(people["post_b1"])
    services.transmission_link_create(actor=national, infector=a, infectee=b)
    event = services.event_create(
        actor=national, org_unit=tree["post_a1"], name="مسجد", kind="religious", date=days(3)
    )
    services.event_attendees_add(actor=national, event=event, person_ids=[str(a.person_id), str(b.person_id)])
    services.contact_add(
        actor=national, case=c, person=member_of(c.person), last_exposure=days(1), setting="household"
    )
    result = selectors.clusters_in_unit(user=national, unit=tree["province_a"])
    assert result["clusters_total"] == 1
    (cluster,) = result["clusters"]
    assert (cluster["cases"], cluster["contacts"], cluster["events"], cluster["attendees"]) == (2, 0, 1, 2)
    assert (cluster["generations"], cluster["posts"], cluster["growth_7d"]) == (2, 2, 2)
    assert [e["name"] for e in cluster["superspreading_events"]] == ["مسجد"]
    country = selectors.clusters_in_unit(user=national, unit=tree["country"])
    assert country["clusters_total"] == 2 and country["cases_in_clusters"] == 3


def test_the_case_created_hook_links_and_lists_without_permission_checks(supervisor, index_case):
    member = member_of(index_case.person)
    (contact,) = services.contacts_list_household(actor=supervisor, case=index_case)
    sister = member_of(index_case.person)
    new_case = case_for(member)
    # no actor (a lab import): the contact is linked, the new case's household listed (its other case left out)
    assert services.case_created(actor=None, case=new_case) == {"linked": 1, "listed": 1}
    contact.refresh_from_db()
    assert contact.became_case == new_case
    assert list(Contact.objects.filter(case=new_case).values_list("person_id", "assigned_tracer")) == [
        (sister.pk, None)
    ]
    assert services.case_created(actor=None, case=new_case) == {"linked": 0, "listed": 0}


def test_generations_are_kept_when_a_chain_is_linked_under_another(supervisor, people, tree):
    a, b, c, d = [case_for(PersonFactory(org_unit=tree["post_a1"])) for _ in range(4)]
    services.transmission_link_create(actor=supervisor, infector=c, infectee=d)  # c → d
    services.transmission_link_create(actor=supervisor, infector=a, infectee=b)  # a → b
    services.transmission_link_create(actor=supervisor, infector=b, infectee=c)  # a → b → c → d
    generations = dict(ChainCase.objects.values_list("case_id", "generation"))
    assert [generations[x.pk] for x in (a, b, c, d)] == [0, 1, 2, 3]
    (cluster,) = selectors.clusters_in_unit(user=supervisor, unit=tree["post_a1"])["clusters"]
    assert (cluster["cases"], cluster["generations"]) == (4, 4)


def test_a_positive_lab_result_links_the_contact_through_the_cases_hook(supervisor, index_case):
    from mahalle.cases.services import lab_results_record
    from mahalle.cases.tests.factories import order_for

    member = member_of(index_case.person)
    (contact,) = services.contacts_list_household(actor=supervisor, case=index_case)
    order_for(member, sample_id="S-HOOK", kind="pcr")
    (result,) = lab_results_record(
        actor=supervisor,
        items=[
            {"sample_id": "S-HOOK", "kind": "pcr", "result": "positive", "result_date": TODAY().isoformat()}
        ],
    )
    assert result.status == "created"
    contact.refresh_from_db()
    assert contact.became_case is not None and contact.became_case.person == member
    assert TransmissionLink.objects.get().infectee == contact.became_case


def test_confirming_a_suspected_case_by_hand_lists_its_household(supervisor, people):
    from mahalle.cases.services import case_classification_change

    case = case_for(people["post_a1"], classification="suspected", onset_date=days(2))
    wife = member_of(case.person)
    assert not Contact.objects.exists()
    case_classification_change(actor=supervisor, case=case, classification="confirmed", reason="PCR by phone")
    assert list(Contact.objects.values_list("person_id", "source")) == [(wife.pk, "household")]
    assert ChainCase.objects.get().case_id == case.pk
