"""The cases part of the jurisdiction matrix: every route × every role × a record in each post.

Expected answers: a role without personal data (analyst) → 403; a record outside the caller's subtree → 404
(batches: the item is answered as unknown); a role that may not do the write → 403; else success. A denied call
changes nothing."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, PERSONAL_DATA_WRITE_ROLES, Can, roles_with
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import Alert, Case, FollowUp, Isolation, QuarantinePlace, TestOrder
from mahalle.cases.services import alert_raise
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE, call, snapshot

from .factories import case_for, isolation_for, order_for

CASE_ROLES = roles_with(Can.MANAGE_CASES)
PLACE_ROLES = roles_with(Can.CREATE_PLACES)

PERSONAL_ROUTES = {
    ("POST", "/api/v1/cases/lab-results"): "test_lab_results",
    ("GET", "/api/v1/cases/test-orders"): "test_lists_show_exactly_the_jurisdiction",
    ("POST", "/api/v1/cases/test-orders/{order_id}/sample"): "test_writes_on_a_record",
    ("GET", "/api/v1/cases/isolations"): "test_lists_show_exactly_the_jurisdiction",
    ("POST", "/api/v1/cases/isolations"): "test_isolation_start",
    ("POST", "/api/v1/cases/isolations/{isolation_id}/release"): "test_writes_on_a_record",
    ("GET", "/api/v1/cases/quarantine-places"): "test_lists_show_exactly_the_jurisdiction",
    ("POST", "/api/v1/cases/quarantine-places"): "test_quarantine_place_create",
    ("POST", "/api/v1/cases/follow-ups/batch"): "test_follow_ups_batch",
    ("GET", "/api/v1/cases/follow-ups/due"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/cases/alerts"): "test_lists_show_exactly_the_jurisdiction",
    ("POST", "/api/v1/cases/alerts/{alert_id}/resolve"): "test_writes_on_a_record",
    ("GET", "/api/v1/cases/"): "test_lists_show_exactly_the_jurisdiction",
    ("GET", "/api/v1/cases/{case_id}"): "test_case_detail",
    ("POST", "/api/v1/cases/{case_id}/classification"): "test_writes_on_a_record",
    ("POST", "/api/v1/cases/{case_id}/hospitalisation"): "test_writes_on_a_record",
    ("POST", "/api/v1/cases/{case_id}/outcome"): "test_writes_on_a_record",
}
NON_PERSONAL_ROUTES: set = set()

TODAY = timezone.localdate
MODELS = (TestOrder, Case, Isolation, FollowUp, Alert, QuarantinePlace)


def state():
    return [snapshot(model) for model in MODELS]


@pytest.fixture
def records(people, tree, users):
    """In every post: a sampled test order, a case, an isolation (in a place of that post), an open alert."""
    from .factories import place_in

    made = {}
    for post in POSTS:
        person = people[post]
        place = place_in(tree[post], capacity=5, occupied=1, name=f"place {post}")
        made[post] = {
            "order": order_for(person, sample_id=f"S-{post}", kind="pcr"),
            "case": case_for(person, classification="suspected", onset_date=TODAY() - dt.timedelta(days=3)),
            "isolation": isolation_for(person, place=place, start_date=TODAY() - dt.timedelta(days=2)),
            "place": place,
            "alert": alert_raise(actor=None, kind="deterioration", person=person, message="SpO2 90"),
        }
    return made


LISTS = {
    "/api/v1/cases/test-orders": "order",
    "/api/v1/cases/isolations": "isolation",
    "/api/v1/cases/quarantine-places": "place",
    "/api/v1/cases/follow-ups/due": "isolation",
    "/api/v1/cases/alerts": "alert",
    "/api/v1/cases/": "case",
}


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_exactly_the_jurisdiction(
    client, tokens, records, role, path, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = call(client, tokens[role], "GET", path)
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    body = response.json()
    key = "isolation_id" if path.endswith("/due") else "id"
    assert {item[key] for item in body["items"]} == {str(records[p][LISTS[path]].pk) for p in VISIBLE[role]}
    assert body["count"] == len(VISIBLE[role])


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_case_detail(client, tokens, records, role, post):
    case = records[post]["case"]
    reads = AuditEvent.objects.filter(action="read").count()
    response = call(client, tokens[role], "GET", f"/api/v1/cases/{case.pk}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
        assert response.json() == {"detail": "case not found", "errors": []}
    else:
        assert response.status_code == 200
        assert (response.json()["id"], response.json()["classification"]) == (str(case.pk), "suspected")
        assert AuditEvent.objects.get(action="read", object_id=str(case.pk)).actor_username == role
        return
    assert case.person.last_name not in response.content.decode()
    assert AuditEvent.objects.filter(action="read").count() == reads


WRITES = {
    "sample": ("order", "/api/v1/cases/test-orders/{}/sample", {"sample_id": "NEW-1", "kind": "pcr"}),
    "release": ("isolation", "/api/v1/cases/isolations/{}/release", {"on": "TODAY"}),
    "resolve": ("alert", "/api/v1/cases/alerts/{}/resolve", {}),
    "classification": (
        "case",
        "/api/v1/cases/{}/classification",
        {"classification": "probable", "reason": "r"},
    ),
    "hospitalisation": ("case", "/api/v1/cases/{}/hospitalisation", {"on": "TODAY"}),
    "outcome": ("case", "/api/v1/cases/{}/outcome", {"outcome": "recovered", "on": "TODAY"}),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_writes_on_a_record(client, tokens, records, role, post, write):
    kind, path, body = WRITES[write]
    body = {k: TODAY().isoformat() if v == "TODAY" else v for k, v in body.items()}
    before = state()
    response = call(client, tokens[role], "POST", path.format(records[post][kind].pk), body)
    if role not in PERSONAL_DATA_ROLES:
        expected = 403
    elif post not in VISIBLE[role]:
        expected = 404
    elif role not in CASE_ROLES:
        expected = 403
    else:
        assert response.status_code == 200, response.content
        assert state() != before
        return
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_isolation_start(client, tokens, records, people, role, post):
    person = people[post]
    Isolation.objects.filter(person=person).update(released_on=TODAY())
    before = state()
    body = {"person_id": str(person.pk), "setting": "home", "start_date": TODAY().isoformat()}
    response = call(client, tokens[role], "POST", "/api/v1/cases/isolations", body)
    if role in CASE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        assert Isolation.objects.get(pk=response.json()["id"]).person == person
        return
    expected = 404 if role in PERSONAL_DATA_ROLES and post not in VISIBLE[role] else 403
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_quarantine_place_create(client, tree, tokens, role, post):
    before = snapshot(QuarantinePlace)
    body = {"org_unit": tree[post].code, "name": "هتل", "capacity": 10}
    response = call(client, tokens[role], "POST", "/api/v1/cases/quarantine-places", body)
    if role in PLACE_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        assert (response.json()["free"], response.json()["org_unit"]) == (10, tree[post].code)
        return
    assert response.status_code == 403
    assert snapshot(QuarantinePlace) == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_lab_results(client, tokens, records, role, post):
    before = state()
    item = {"sample_id": f"S-{post}", "kind": "pcr", "result": "positive", "result_date": TODAY().isoformat()}
    response = call(client, tokens[role], "POST", "/api/v1/cases/lab-results", {"items": [item]})
    if role not in CASE_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 200
        assert response.json()["results"] == [
            {
                "id": f"S-{post}".upper(),
                "status": "invalid",
                "errors": [
                    {"field": "sample_id", "message": "no test order has this sample id in your jurisdiction"}
                ],
            }
        ]
    else:
        assert response.json()["results"][0]["status"] == "created"
        assert TestOrder.objects.get(sample_id=f"S-{post}".upper()).result == "positive"
        return
    assert state() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_follow_ups_batch(client, tokens, records, role, post):
    before = state()
    item = {"id": str(uuid.uuid4()), "isolation_id": str(records[post]["isolation"].pk), "date": str(TODAY())}
    response = call(client, tokens[role], "POST", "/api/v1/cases/follow-ups/batch", {"items": [item]})
    if role not in PERSONAL_DATA_WRITE_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 200
        assert response.json()["results"][0]["status"] == "retry"
    else:
        assert response.json()["results"] == [{"id": item["id"], "status": "created", "errors": []}]
        return
    assert state() == before
