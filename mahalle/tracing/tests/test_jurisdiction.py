"""The tracing part of the jurisdiction matrix (see mahalle/tests/test_jurisdiction_matrix.py): every route ×
every role × a record in each post.

Expected answers: a role without personal data (analyst) → 403; a record outside what the caller may see →
404 (batches: the item is answered "retry", as unknown); a role that may not do the write → 403; else success.
A denied call changes nothing. Cluster statistics are aggregates: every role may read them for a unit inside
its jurisdiction (the analyst without the link to a case), anything else is 404. The exception — a contact
assigned to a tracer outside the contact's post — is tested at the end."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, PERSONAL_DATA_WRITE_ROLES, Can, roles_with
from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import Case
from mahalle.registry.models import Person
from mahalle.registry.tests.factories import PersonFactory
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE, call, snapshot
from mahalle.tracing import services
from mahalle.tracing.models import (
    ChainCase,
    Contact,
    ContactFollowUp,
    Event,
    EventAttendance,
    TransmissionLink,
)
from mahalle.tracing.services.clusters import _cluster_new

from .factories import case_for, contact_for, member_of

PERSONAL_ROUTES = {
    ("GET", "/api/v1/tracing/contacts"): "test_work_list_shows_exactly_the_jurisdiction",
    ("GET", "/api/v1/tracing/cases/{case_id}/contacts"): "test_case_contacts",
    ("POST", "/api/v1/tracing/cases/{case_id}/contacts"): "test_contact_add",
    ("POST", "/api/v1/tracing/cases/{case_id}/contacts/household"): "test_household_listing",
    ("POST", "/api/v1/tracing/contacts/{contact_id}/confirm"): "test_writes_on_a_contact",
    ("POST", "/api/v1/tracing/contacts/{contact_id}/remove"): "test_writes_on_a_contact",
    ("POST", "/api/v1/tracing/contacts/{contact_id}/assign"): "test_writes_on_a_contact",
    ("POST", "/api/v1/tracing/follow-ups/batch"): "test_follow_ups_batch",
    ("POST", "/api/v1/tracing/events"): "test_event_create",
    ("POST", "/api/v1/tracing/events/{event_id}/attendees"): "test_event_attendees",
    ("POST", "/api/v1/tracing/links"): "test_link_create",
    ("GET", "/api/v1/tracing/cases/{case_id}/cluster"): "test_case_cluster",
    ("GET", "/api/v1/tracing/clusters"): "test_cluster_statistics",
}
NON_PERSONAL_ROUTES: set = set()

TODAY = timezone.localdate
MODELS = (Contact, ContactFollowUp, Event, EventAttendance, TransmissionLink, ChainCase, Person)


def state():
    return [snapshot(model) for model in MODELS]


@pytest.fixture
def records(people, tree, users):
    """In every post: a case, a confirmed contact (in follow-up), a listed household member, an event."""
    made = {}
    for post in POSTS:
        person = people[post]
        case = case_for(person, onset_date=TODAY() - dt.timedelta(days=3))
        made[post] = {
            "case": case,
            "contact": contact_for(case, member_of(person)),
            "listed": contact_for(case, member_of(person), status=Contact.Status.LISTED, source="household"),
            "event": Event.objects.create(
                name=f"event {post}",
                kind="wedding",
                date=TODAY() - dt.timedelta(days=4),
                cluster_id=_cluster_new(),
                org_unit=tree[post],
                org_path=tree[post].path,
            ),
        }
    return made


def _expected_write(role, post, roles=PERSONAL_DATA_WRITE_ROLES):
    """None when the write should succeed, else the status code."""
    if role not in PERSONAL_DATA_ROLES:
        return 403
    if post not in VISIBLE[role]:
        return 404
    if role not in roles:
        return 403
    return None


@pytest.mark.parametrize("work_list", ["today", "confirm"])
@pytest.mark.parametrize("role", ROLES)
def test_work_list_shows_exactly_the_jurisdiction(
    client, tokens, records, role, work_list, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = call(client, tokens[role], "GET", f"/api/v1/tracing/contacts?list={work_list}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    key = "contact" if work_list == "today" else "listed"
    body = response.json()
    assert {item["id"] for item in body["items"]} == {str(records[p][key].pk) for p in VISIBLE[role]}
    assert body["count"] == len(VISIBLE[role])


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_case_contacts(client, tokens, records, role, post):
    case = records[post]["case"]
    response = call(client, tokens[role], "GET", f"/api/v1/tracing/cases/{case.pk}/contacts")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
        assert response.json() == {"detail": "case not found", "errors": []}
    else:
        assert response.status_code == 200
        assert {i["id"] for i in response.json()["items"]} == {
            str(records[post]["contact"].pk),
            str(records[post]["listed"].pk),
        }
        return
    assert records[post]["contact"].person.last_name not in response.content.decode()


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_contact_add(client, tree, tokens, records, role, post):
    stranger = PersonFactory(org_unit=tree[post])
    before = state()
    body = {
        "national_code": stranger.national_code,
        "last_exposure": (TODAY() - dt.timedelta(days=1)).isoformat(),
        "setting": "workplace",
    }
    response = call(
        client, tokens[role], "POST", f"/api/v1/tracing/cases/{records[post]['case'].pk}/contacts", body
    )
    expected = _expected_write(role, post)
    if expected is None:
        assert response.status_code == 201, response.content
        contact = Contact.objects.get(pk=response.json()["id"])
        assert (contact.person, contact.case, contact.created_by.username) == (
            stranger,
            records[post]["case"],
            role,
        )
        assert AuditEvent.objects.filter(action="create", object_id=str(contact.pk)).count() == 1
        return
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_household_listing(client, tokens, records, role, post):
    extra = member_of(records[post]["case"].person)
    before = state()
    response = call(
        client, tokens[role], "POST", f"/api/v1/tracing/cases/{records[post]['case'].pk}/contacts/household"
    )
    expected = _expected_write(role, post)
    if expected is None:
        assert response.status_code == 200
        assert response.json()["listed"] == 1
        assert [c["person_id"] for c in response.json()["contacts"]] == [str(extra.pk)]
        return
    assert response.status_code == expected
    assert state() == before


WRITES = {
    "confirm": ("/api/v1/tracing/contacts/{}/confirm", {}, PERSONAL_DATA_WRITE_ROLES),
    "remove": ("/api/v1/tracing/contacts/{}/remove", {"reason": "not exposed"}, PERSONAL_DATA_WRITE_ROLES),
    "assign": (
        "/api/v1/tracing/contacts/{}/assign",
        {"tracer": "field_volunteer"},
        roles_with(Can.ASSIGN_TRACING),
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_writes_on_a_contact(client, tokens, records, role, post, write):
    path, body, roles = WRITES[write]
    contact = records[post]["listed"]
    before = state()
    response = call(client, tokens[role], "POST", path.format(contact.pk), body)
    expected = _expected_write(role, post, roles)
    if expected is None:
        assert response.status_code == 200, response.content
        assert state() != before
        return
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_follow_ups_batch(client, tokens, records, role, post):
    before = state()
    item = {
        "id": str(uuid.uuid4()),
        "contact_id": str(records[post]["contact"].pk),
        "date": str(TODAY()),
        "status": "well",
    }
    response = call(client, tokens[role], "POST", "/api/v1/tracing/follow-ups/batch", {"items": [item]})
    if role not in PERSONAL_DATA_WRITE_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 200
        assert response.json()["results"][0]["status"] == "retry"
    else:
        assert response.json()["results"] == [{"id": item["id"], "status": "created", "errors": []}]
        return
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_event_create(client, tree, tokens, records, role, post):
    before = state()
    body = {"org_unit": tree[post].code, "name": "مسجد جامع", "kind": "religious", "date": str(TODAY())}
    response = call(client, tokens[role], "POST", "/api/v1/tracing/events", body)
    if role in PERSONAL_DATA_WRITE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        assert Event.objects.get(pk=response.json()["id"]).org_unit == tree[post]
        return
    assert response.status_code == 403
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_event_attendees(client, tokens, records, people, role, post):
    before = state()
    body = {"national_codes": [people[post].national_code]}
    response = call(
        client, tokens[role], "POST", f"/api/v1/tracing/events/{records[post]['event'].pk}/attendees", body
    )
    expected = _expected_write(role, post)
    if expected is None:
        assert response.json() == {"added": 1}
        assert EventAttendance.objects.get().case == records[post]["case"]
        return
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_link_create(client, tree, tokens, records, role, post):
    infectee = case_for(PersonFactory(org_unit=tree[post]))
    before = state()
    body = {"infector_id": str(records[post]["case"].pk), "infectee_id": str(infectee.pk)}
    response = call(client, tokens[role], "POST", "/api/v1/tracing/links", body)
    expected = _expected_write(role, post, roles_with(Can.ASSIGN_TRACING))
    if expected is None:
        assert response.status_code == 201
        assert TransmissionLink.objects.get().infectee == infectee
        return
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_case_cluster(client, tokens, records, role, post):
    case = records[post]["case"]
    services.contacts_case_created(actor=None, case=case_for(records[post]["contact"].person))
    response = call(client, tokens[role], "GET", f"/api/v1/tracing/cases/{case.pk}/cluster")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        body = response.json()
        assert body["stats"]["cases"] == 2
        assert {n["label"] for n in body["nodes"] if n["kind"] == "case"} == {
            case.person.full_name,
            records[post]["contact"].person.full_name,
        }
        return
    assert case.person.last_name not in response.content.decode()


@pytest.mark.parametrize("unit", ["post_a1", "post_b1", "province_a", "country"])
@pytest.mark.parametrize("role", ROLES)
def test_cluster_statistics(client, tree, tokens, users, records, role, unit):
    for post in POSTS:
        services.contacts_case_created(actor=None, case=case_for(records[post]["contact"].person))
    response = call(client, tokens[role], "GET", f"/api/v1/tracing/clusters?org_unit={tree[unit].code}")
    inside = tree[unit].path.startswith(users[role].org_units.get().path)
    if not inside:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    body = response.json()
    posts = [p for p in POSTS if tree[p].path.startswith(tree[unit].path)]
    assert body["clusters_total"] == len(posts)
    assert sorted(c["cases"] for c in body["clusters"]) == [2] * len(posts)
    # the link to a case: one the caller may open, in a post they see; none for a cluster they cannot open
    opened = [c["case_id"] for c in body["clusters"] if c["case_id"] is not None]
    units = sorted(Case.objects.get(pk=case_id).org_unit.code for case_id in opened)
    assert units == sorted(tree[p].code for p in posts if p in VISIBLE[role])


# --- the exception: a contact assigned to a tracer outside its post ------------------------------------------


def test_assigned_tracer_sees_and_follows_only_the_assigned_contact(client, tokens, users, records):
    contact = records["post_b1"]["contact"]
    volunteer, other_post_b = records["post_b1"]["listed"], records["post_b2"]["contact"]
    services.contact_assign(
        actor=users[Role.NATIONAL_COORDINATOR], contact=contact, tracer=users[Role.FIELD_VOLUNTEER]
    )
    secret = tokens[Role.FIELD_VOLUNTEER]
    listing = call(client, secret, "GET", "/api/v1/tracing/contacts?list=today&mine=true").json()
    assert [i["id"] for i in listing["items"]] == [str(contact.pk)]
    item = {
        "id": str(uuid.uuid4()),
        "contact_id": str(contact.pk),
        "date": str(TODAY()),
        "status": "unreachable",
    }
    answer = call(client, secret, "POST", "/api/v1/tracing/follow-ups/batch", {"items": [item]}).json()
    assert answer["results"][0]["status"] == "created"
    # the rest of post_b1 stays out of reach: the listed member of the same case, the case itself, post_b2
    assert call(client, secret, "POST", f"/api/v1/tracing/contacts/{volunteer.pk}/confirm").status_code == 404
    assert call(client, secret, "GET", f"/api/v1/tracing/cases/{contact.case_id}/contacts").status_code == 404
    assert call(client, secret, "GET", f"/api/v1/tracing/cases/{contact.case_id}/cluster").status_code == 404
    assert (
        call(
            client, secret, "POST", f"/api/v1/tracing/contacts/{other_post_b.pk}/remove", {"reason": "x"}
        ).status_code
        == 404
    )
    # the supervisor of the tracer's own post does not see it; the contact's own post still does
    assert (
        call(client, tokens[Role.POST_SUPERVISOR], "GET", "/api/v1/tracing/contacts?list=ending").json()[
            "items"
        ]
        == []
    )
    national = call(
        client, tokens[Role.NATIONAL_COORDINATOR], "GET", "/api/v1/tracing/contacts?list=today"
    ).json()
    assert str(contact.pk) not in {i["id"] for i in national["items"]}  # followed up today
    assert Contact.objects.get(pk=contact.pk).follow_ups.get().status == "unreachable"
