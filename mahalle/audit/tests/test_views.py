"""The audit log page: audit roles only, the user's subtree only, filters, pages, and no way to change it."""

import datetime as dt

import jdatetime
import pytest
from django.utils import timezone

from mahalle.audit.models import AuditEvent
from mahalle.audit.services import audit_record

pytestmark = pytest.mark.django_db

ROW = '<td class="nowrap">'


@pytest.fixture
def events(users, people):
    """A read of each post's person by the national coordinator, plus an update in post_a1."""
    actor = users["national_coordinator"]
    reads = {key: audit_record(actor=actor, action="read", obj=person) for key, person in people.items()}
    update = audit_record(actor=users["field_volunteer"], action="update", obj=people["post_a1"])
    return {"reads": reads, "update": update}


@pytest.mark.parametrize("role", ["field_volunteer", "post_supervisor", "partner_staff", "analyst"])
def test_roles_outside_audit_roles_are_refused(client, users, events, role):
    client.force_login(users[role])
    response = client.get("/audit/")
    assert response.status_code == 403
    assert events["update"].object_id not in response.content.decode()


def test_anonymous_is_redirected_to_login(client, events):
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/audit/"


@pytest.mark.parametrize(
    ("role", "posts"),
    [
        ("county_coordinator", {"post_a1", "post_a2"}),
        ("province_coordinator", {"post_a1", "post_a2"}),
        ("national_coordinator", {"post_a1", "post_a2", "post_b1", "post_b2"}),
        ("administrator", {"post_a1", "post_a2", "post_b1", "post_b2"}),
    ],
)
def test_events_are_limited_to_the_subtree(client, users, people, events, role, posts):
    client.force_login(users[role])
    body = client.get("/audit/", {"action": "read"}).content.decode()
    for key, person in people.items():
        assert (str(person.pk) in body) == (key in posts), key
    assert body.count(ROW) == len(posts)


def test_filters_by_actor_action_object_and_date(client, users, people, events):
    client.force_login(users["county_coordinator"])
    target = str(people["post_a1"].pk)
    body = client.get("/audit/", {"actor": "field_volunteer"}).content.decode()
    assert body.count(ROW) == 1
    assert "ویرایش" in body
    body = client.get("/audit/", {"object_type": "registry.person", "object_id": target}).content.decode()
    assert body.count(ROW) == 2
    today = timezone.localdate()
    jalali_today = jdatetime.date.fromgregorian(date=today).strftime("%Y/%m/%d")
    assert client.get("/audit/", {"since": jalali_today}).content.decode().count(ROW) == 3
    assert client.get("/audit/", {"until": jalali_today}).content.decode().count(ROW) == 3
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert client.get("/audit/", {"until": yesterday}).content.decode().count(ROW) == 0
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert client.get("/audit/", {"since": tomorrow}).content.decode().count(ROW) == 0


def test_bad_date_is_a_field_error_not_a_500(client, users, events):
    client.force_login(users["county_coordinator"])
    response = client.get("/audit/", {"since": "1403/13/45"})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()


def test_pages_of_fifty(client, users, people, django_assert_max_num_queries):
    person = people["post_a1"]
    for _ in range(60):
        audit_record(actor=users["field_volunteer"], action="read", obj=person)
    client.force_login(users["county_coordinator"])
    with django_assert_max_num_queries(6):
        first = client.get("/audit/").content.decode()
    assert first.count(ROW) == 50
    assert "page=2" in first
    assert "۶۰ رویداد" in first
    second = client.get("/audit/", {"page": 2}).content.decode()
    assert second.count(ROW) == 10
    assert client.get("/audit/", {"page": "junk"}).status_code == 200


def test_the_log_is_read_only(client, users, events):
    client.force_login(users["administrator"])
    before = AuditEvent.objects.count()
    assert client.post("/audit/", {"action": "delete"}).status_code == 405
    body = client.get("/audit/").content.decode()
    assert 'method="post"' not in body.split("<main")[1]
    assert AuditEvent.objects.count() == before
