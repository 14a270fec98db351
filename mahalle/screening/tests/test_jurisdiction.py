"""The screening part of the jurisdiction matrix: every screening route × every role × a record (or unit)
inside and outside the caller's subtree. Gathered by mahalle/tests/test_jurisdiction_matrix.py."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.models import Role
from mahalle.accounts.tests.factories import ROLE_HOME
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import TestOrder
from mahalle.screening.models import Campaign, CampaignArea, CampaignCoverage, MemberScreening, ScreeningVisit
from mahalle.screening.services import campaign_create
from mahalle.tests.test_jurisdiction_matrix import POSTS, ROLE_POST, ROLES, VISIBLE, call, snapshot

PERSONAL_ROUTES = {
    ("POST", "/api/v1/field/batch"): "test_field_batch",
    ("GET", "/api/v1/screening/worklist"): "test_worklist",
}
# Campaigns, coverage (counts per org unit) and the rules expose no personal record; they are still scoped to
# the caller's subtree, which the tests below check as well.
NON_PERSONAL_ROUTES = {
    ("POST", "/api/v1/screening/campaigns"),
    ("GET", "/api/v1/screening/campaigns"),
    ("GET", "/api/v1/screening/campaigns/{campaign_id}"),
    ("GET", "/api/v1/screening/campaigns/{campaign_id}/coverage"),
    ("GET", "/api/v1/screening/rules"),
}

ALL_ROUTES = sorted(set(PERSONAL_ROUTES) | NON_PERSONAL_ROUTES)
CAMPAIGN_ROLES = PERSONAL_DATA_WRITE_ROLES - {Role.FIELD_VOLUNTEER}


def _inside(tree, role, key) -> bool:
    """Whether the unit `key` lies in the subtree of the role's home unit (aggregates: every role)."""
    return tree[key].is_within(tree[ROLE_HOME[role]])


def _written():
    return (
        snapshot(ScreeningVisit),
        snapshot(MemberScreening),
        snapshot(TestOrder),
        snapshot(CampaignCoverage),
        snapshot(Campaign),
        snapshot(CampaignArea),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def national_campaign(users, tree):
    today = timezone.localdate()
    return campaign_create(
        actor=users[Role.NATIONAL_COORDINATOR],
        name="national",
        start_date=today - dt.timedelta(days=5),
        end_date=today + dt.timedelta(days=5),
        org_units=[tree["country"]],
    )


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_every_screening_route_refuses_anonymous_callers(client, people, route):
    method, path = route
    before = _written()
    response = call(
        client,
        None,
        method,
        path.replace("{campaign_id}", str(uuid.uuid4())),
        {} if method == "POST" else None,
    )
    assert response.status_code == 401
    assert _written() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_field_batch(client, tokens, people, role, post):
    person = people[post]
    item = {
        "id": str(uuid.uuid4()),
        "household_id": str(person.household_id),
        "visit_date": timezone.localdate().isoformat(),
        "status": "screened",
        "members": [{"person_id": str(person.pk), "symptoms": ["fever", "cough"]}],
    }
    before = _written()
    response = call(client, tokens[role], "POST", "/api/v1/field/batch", {"visits": [item]})
    if role not in PERSONAL_DATA_WRITE_ROLES:  # analyst, partner staff: the whole batch is refused
        assert response.status_code == 403
        assert _written() == before
        return
    assert response.status_code == 200
    answer = response.json()["visits"][0]
    if post in VISIBLE[role]:
        assert (answer["status"], answer["referrals"]) == ("created", 1)
        visit = ScreeningVisit.objects.get()
        assert (str(visit.pk), visit.volunteer.username, visit.org_path) == (
            item["id"],
            role,
            person.org_path,
        )
        return
    assert answer == {
        "id": item["id"],
        "status": "invalid",
        "errors": [{"field": "household_id", "message": "no such household in your jurisdiction"}],
        "referrals": 0,
        "urgent": 0,
    }
    assert _written() == before
    assert person.national_code not in response.content.decode()


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_worklist(client, tokens, tree, people, national_campaign, role, post):
    response = call(client, tokens[role], "GET", f"/api/v1/screening/worklist?post={tree[post].code}")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
    elif post not in VISIBLE[role]:
        assert response.status_code == 404
        assert response.json()["errors"] == [
            {"field": "post", "message": "no such org unit in your jurisdiction"}
        ]
    else:
        assert response.status_code == 200
        body = response.json()
        assert [h["household_id"] for h in body["households_to_screen"]] == [str(people[post].household_id)]
        assert body["campaign"]["id"] == str(national_campaign.pk)
        return
    assert people[post].household.address not in response.content.decode()


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_campaign_create(client, tokens, tree, people, role, post):
    before = _written()
    body = {
        "name": "دور",
        "start_date": "2024-08-01",
        "end_date": "2024-08-10",
        "org_units": [tree[post].code],
    }
    response = call(client, tokens[role], "POST", "/api/v1/screening/campaigns", body)
    if role in CAMPAIGN_ROLES and post in VISIBLE[role]:
        assert response.status_code == 201
        campaign = Campaign.objects.get()
        assert (str(campaign.pk), campaign.created_by.username) == (response.json()["id"], role)
        return
    assert response.status_code == 403
    assert _written() == before


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_campaign_detail_and_coverage(client, tokens, users, tree, people, role, post):
    today = timezone.localdate()
    hood = "neighborhood_" + post[5]
    campaign = campaign_create(
        actor=users[Role.ADMINISTRATOR],
        name="post round",
        start_date=today,
        end_date=today,
        org_units=[tree[post]],
    )
    detail = call(client, tokens[role], "GET", f"/api/v1/screening/campaigns/{campaign.pk}")
    coverage = call(
        client,
        tokens[role],
        "GET",
        f"/api/v1/screening/campaigns/{campaign.pk}/coverage?org_unit={tree[hood].code}",
    )
    if _inside(tree, role, post):
        assert (detail.status_code, detail.json()["id"]) == (200, str(campaign.pk))
    else:
        assert detail.status_code == 404
    if _inside(tree, role, hood):
        assert coverage.status_code == 200
        rows = [(r["code"], r["covered"]) for r in coverage.json()["rows"]]
        side = post[5]
        assert rows == [
            (tree[f"post_{side}1"].code, post.endswith("1")),
            (tree[f"post_{side}2"].code, post.endswith("2")),
        ]
    else:
        assert coverage.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_campaign_list(client, tokens, users, tree, people, role):
    campaigns = {
        post: campaign_create(
            actor=users[Role.ADMINISTRATOR],
            name=post,
            start_date=timezone.localdate(),
            end_date=timezone.localdate(),
            org_units=[tree[post]],
        )
        for post in POSTS
    }
    response = call(client, tokens[role], "GET", "/api/v1/screening/campaigns")
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["items"]} == {
        str(c.pk) for post, c in campaigns.items() if _inside(tree, role, post)
    }


@pytest.mark.parametrize("role", ROLES)
def test_rules(client, tokens, role):
    response = call(client, tokens[role], "GET", "/api/v1/screening/rules")
    assert (response.status_code, response.json()["source"]) == (200, "default")
