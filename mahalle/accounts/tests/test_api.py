import pytest

from mahalle.accounts.models import ApiToken, Role
from mahalle.accounts.tests.factories import UserFactory
from mahalle.audit.models import AuditEvent


def login(client, user):
    client.force_login(user)
    return client


def test_me(client, users, tree):
    response = login(client, users[Role.COUNTY_COORDINATOR]).get("/api/v1/accounts/me")
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["role"], body["can_read_personal_data"]) == (
        "county_coordinator",
        "county_coordinator",
        True,
    )
    assert [u["code"] for u in body["units"]] == [tree["county_a"].code]


def test_me_for_the_analyst(client, users):
    body = login(client, users[Role.ANALYST]).get("/api/v1/accounts/me").json()
    assert (body["role"], body["can_read_personal_data"]) == ("analyst", False)


def test_token_for_yourself_is_shown_once_and_works(client, users):
    volunteer = users[Role.FIELD_VOLUNTEER]
    response = login(client, volunteer).post(
        "/api/v1/accounts/tokens", data={"name": "phone"}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get(pk=body["id"])
    assert (token.user, token.name, token.key_hash) == (volunteer, "phone", ApiToken.hash(body["secret"]))
    assert body["secret"] not in str(list(ApiToken.objects.values()))
    assert AuditEvent.objects.filter(action="create", object_type="accounts.apitoken").count() == 1
    client.logout()
    me = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {body['secret']}")
    assert me.json()["username"] == volunteer.username


def test_administrator_creates_a_token_for_a_user_in_their_subtree(client, users, tree):
    partner = UserFactory(role=Role.PARTNER_STAFF, username="partner2", units=[tree["county_b"]])
    response = login(client, users[Role.ADMINISTRATOR]).post(
        "/api/v1/accounts/tokens",
        data={"name": "feed", "username": "partner2"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert ApiToken.objects.get(pk=response.json()["id"]).user == partner


def test_administrator_of_a_province_cannot_reach_another_province(client, tree):
    admin = UserFactory(role=Role.ADMINISTRATOR, username="admin_a", units=[tree["province_a"]])
    UserFactory(role=Role.FIELD_VOLUNTEER, username="vol_b", units=[tree["post_b1"]])
    response = login(client, admin).post(
        "/api/v1/accounts/tokens", data={"name": "x", "username": "vol_b"}, content_type="application/json"
    )
    assert (response.status_code, response.json()["detail"]) == (404, "user not found")
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMINISTRATOR])
def test_only_administrators_create_tokens_for_others(client, users, role):
    response = login(client, users[role]).post(
        "/api/v1/accounts/tokens",
        data={"name": "x", "username": Role.FIELD_VOLUNTEER if role != Role.FIELD_VOLUNTEER else "analyst"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "a\x00"}, {"name": "x" * 101}])
def test_token_bad_input(client, users, body):
    response = login(client, users[Role.FIELD_VOLUNTEER]).post(
        "/api/v1/accounts/tokens", data=body, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    assert ApiToken.objects.count() == 0
