"""The analytics part of the jurisdiction matrix (see mahalle/tests/test_jurisdiction_matrix.py).

Rt is aggregate, so its route is NON_PERSONAL; it is still scoped (analytics.selectors): the roles that see
Rt are the coordinators, the analyst and the administrator (others: 403); the analyst sees every province and
county; the others see the provinces and counties in and above their units (out of scope: 404)."""

import datetime as dt

import pytest

from mahalle.accounts.models import Role
from mahalle.analytics.models import RtEstimate
from mahalle.tests.test_jurisdiction_matrix import ROLES, call, snapshot

from .factories import cases_by_day

PERSONAL_ROUTES: dict = {}
NON_PERSONAL_ROUTES = {("GET", "/api/v1/analytics/rt")}

UNITS = ("province_a", "county_a", "province_b", "county_b")
RT_VISIBLE = {
    Role.FIELD_VOLUNTEER: None,  # 403
    Role.POST_SUPERVISOR: None,
    Role.PARTNER_STAFF: None,
    Role.COUNTY_COORDINATOR: {"province_a", "county_a"},
    Role.PROVINCE_COORDINATOR: {"province_a", "county_a"},
    Role.NATIONAL_COORDINATOR: set(UNITS),
    Role.ANALYST: set(UNITS),
    Role.ADMINISTRATOR: set(UNITS),
}


@pytest.fixture
def estimates(tree, people):
    from mahalle.analytics.services import rt_refresh

    start = dt.date(2026, 3, 1)
    for post in ("post_a1", "post_b1"):
        cases_by_day(people[post], start, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    rt_refresh(today=dt.date(2026, 3, 12))
    return tree


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("role", ROLES)
def test_rt_series_by_role_and_unit(client, tokens, estimates, role, unit, django_assert_max_num_queries):
    before = snapshot(RtEstimate)
    key = estimates[unit].code if unit.startswith("province") else str(estimates[unit].pk)  # code or id
    with django_assert_max_num_queries(8):
        response = call(client, tokens[role.value], "GET", f"/api/v1/analytics/rt?org_unit={key}")
    if RT_VISIBLE[role] is None:
        assert response.status_code == 403
        assert response.json()["detail"] == "your role does not give access to Rt estimates"
    elif unit in RT_VISIBLE[role]:
        assert response.status_code == 200
        body = response.json()
        assert body["org_unit"]["code"] == estimates[unit].code
        assert len(body["estimates"]) == 12 - 7  # windows starting on days 2..6
        assert body["estimates"][-1]["date_end"] == "2026-03-12"
        assert body["estimates"][-1]["cases"] == sum(range(6, 13))
    else:
        assert response.status_code == 404
        assert response.json()["detail"] == "org unit not found (or Rt is not kept for it)"
    assert snapshot(RtEstimate) == before


def test_rt_series_refuses_anonymous_callers(client, estimates):
    response = call(client, None, "GET", "/api/v1/analytics/rt?org_unit=PA")
    assert response.status_code == 401


@pytest.mark.parametrize("key", ["IR", "SA1", "NOPE", "999999"])
def test_rt_series_of_units_without_rt_or_unknown_is_404(client, tokens, estimates, key):
    response = call(client, tokens["analyst"], "GET", f"/api/v1/analytics/rt?org_unit={key}")
    assert response.status_code == 404


def test_rt_series_needs_an_org_unit(client, tokens, estimates):
    response = call(client, tokens["analyst"], "GET", "/api/v1/analytics/rt")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("org_unit")


def test_rt_series_content(client, tokens, estimates):
    body = call(client, tokens["analyst"], "GET", "/api/v1/analytics/rt?org_unit=CA").json()
    stored = list(RtEstimate.objects.filter(org_unit=estimates["county_a"]).order_by("date_end"))
    assert [e["mean"] for e in body["estimates"]] == [r.mean for r in stored]
    assert [e["upper"] for e in body["estimates"]] == [r.upper for r in stored]
    assert body["estimates"][0] == {
        "date_start": "2026-03-02",
        "date_end": "2026-03-08",
        "mean": stored[0].mean,
        "std": stored[0].std,
        "lower": stored[0].lower,
        "upper": stored[0].upper,
        "cases": 2 + 3 + 4 + 5 + 6 + 7 + 8,
        "reliable": True,
    }
    assert body["method"]["si_mean"] == 4.7 and body["method"]["window"] == 7


# --- the page ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_rt_page_by_role(client, users, estimates, role):
    client.force_login(users[role.value])
    response = client.get("/analytics/")
    if RT_VISIBLE[role] is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    shown = {p["unit"].code for p in response.context["province_panels"] + response.context["county_panels"]}
    codes = {estimates[u].code for u in RT_VISIBLE[role]}
    if len(RT_VISIBLE[role]) == 4:  # two provinces: none chosen until one is clicked
        assert shown == {"PA", "PB"}
    else:
        assert shown == codes
        assert response.content.decode().count("<svg") == 2


@pytest.mark.parametrize("role", [Role.COUNTY_COORDINATOR, Role.NATIONAL_COORDINATOR])
def test_rt_page_province_drill_down(client, users, estimates, role):
    client.force_login(users[role.value])
    response = client.get("/analytics/?province=PB")
    if role == Role.COUNTY_COORDINATOR:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert [p["unit"].code for p in response.context["county_panels"]] == ["CB"]
    assert response.context["county_panels"][0]["latest"].date_end == dt.date(2026, 3, 12)
    assert response.content.decode().count("<svg") == 3


def test_rt_page_needs_sign_in(client, estimates):
    response = client.get("/analytics/")
    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]
