import datetime as dt

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.audit.services import audit_record

EVENTS = "/api/v1/audit/events"


@pytest.fixture
def coordinator(client, users):
    client.force_login(users[Role.COUNTY_COORDINATOR])
    return client


@pytest.fixture
def events(users, people):
    admin, volunteer = users[Role.ADMINISTRATOR], users[Role.FIELD_VOLUNTEER]
    return [
        audit_record(actor=volunteer, action="read", obj=people["post_a1"]),
        audit_record(actor=admin, action="update", obj=people["post_a2"]),
        audit_record(actor=admin, action="update", obj=people["post_a1"].household),
        audit_record(actor=admin, action="update", obj=people["post_b1"]),
    ]


def ids(response):
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["items"]]


def test_newest_first_and_only_the_subtree(coordinator, events, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = coordinator.get(EVENTS)
    assert ids(response) == [events[2].pk, events[1].pk, events[0].pk]
    assert response.json()["count"] == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=field_volunteer", [0]),
        ("action=update", [2, 1]),
        ("object_type=registry.household", [2]),
        ("actor=administrator&object_type=registry.person", [1]),
    ],
)
def test_filters(coordinator, events, query, expected):
    assert ids(coordinator.get(f"{EVENTS}?{query}")) == [events[i].pk for i in expected]


def test_object_id_filter(coordinator, events, people):
    assert ids(coordinator.get(f"{EVENTS}?object_id={people['post_a1'].pk}")) == [events[0].pk]
    assert ids(coordinator.get(f"{EVENTS}?object_id={people['post_b1'].pk}")) == []


def test_time_window(coordinator, events):
    now = timezone.now()
    hour_ago = (now - dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    in_an_hour = (now + dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    all_three = [events[2].pk, events[1].pk, events[0].pk]
    assert ids(coordinator.get(f"{EVENTS}?since={hour_ago}")) == all_three
    assert ids(coordinator.get(f"{EVENTS}?since={hour_ago}&until={in_an_hour}")) == all_three
    assert ids(coordinator.get(f"{EVENTS}?since={in_an_hour}")) == []
    assert ids(coordinator.get(f"{EVENTS}?until={hour_ago}")) == []
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()  # a date alone means its midnight
    assert ids(coordinator.get(f"{EVENTS}?since={yesterday}")) == all_three


@pytest.mark.parametrize("query", ["action=dance", "since=yesterday", "limit=0", "object_id=%00"])
def test_bad_filters_are_422(coordinator, events, query):
    response = coordinator.get(f"{EVENTS}?{query}")
    assert response.status_code == 422
    assert response.json()["detail"] == "the request is not valid"


@pytest.mark.parametrize(
    "role", [Role.FIELD_VOLUNTEER, Role.POST_SUPERVISOR, Role.PARTNER_STAFF, Role.ANALYST]
)
def test_other_roles_are_403(client, users, events, role):
    client.force_login(users[role])
    response = client.get(EVENTS)
    assert response.status_code == 403
    assert response.json()["detail"] == "the audit log is open to coordinators and administrators only"
