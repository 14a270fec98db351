import datetime as dt
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from mahalle.accounts.models import Role
from mahalle.audit.models import AuditEvent
from mahalle.cases.models import FollowUp, Isolation, TestOrder
from mahalle.core.dates import to_jalali_str
from mahalle.registry.tests.factories import HouseholdFactory, PersonFactory
from mahalle.screening.models import Campaign, CampaignCoverage, MemberScreening, ScreeningVisit
from mahalle.screening.rules import DEFAULT_RULES
from mahalle.tests.test_jurisdiction_matrix import call, snapshot

from .conftest import visit_json

BATCH = "/api/v1/field/batch"


def isolation_of(person, today):
    return Isolation.objects.create(
        person=person,
        setting=Isolation.Setting.HOME,
        start_date=today - dt.timedelta(days=2),
        planned_end_date=today + dt.timedelta(days=8),
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
    )


# --- the field batch ---------------------------------------------------------------------------------------------


def test_a_batch_with_malformed_items_stores_the_valid_ones_and_answers_each(
    client, tokens, people, today, campaign_a
):
    person = people["post_a1"]
    good = visit_json(person, today, campaign_a, symptoms=["fever", "cough"])
    jalali = {**visit_json(person, today), "visit_date": to_jalali_str(today)}  # Persian digits
    bad_uuid = {**visit_json(person, today), "id": "not-a-uuid"}
    bad_date = {**visit_json(person, today), "visit_date": "1403/13/40"}
    bad_spo2 = visit_json(person, today, spo2=120)
    no_household = visit_json(person, today)
    del no_household["household_id"]
    bad_member = visit_json(person, today)
    bad_member["members"][0]["person_id"] = "123"
    items = [good, jalali, bad_uuid, bad_date, bad_spo2, "not an object", no_household, bad_member]
    response = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": items})
    assert response.status_code == 200
    body = response.json()
    assert body["follow_ups"] == []
    answers = body["visits"]

    def answer(item_id, status, errors=(), referrals=0):
        return {"id": item_id, "status": status, "errors": list(errors), "referrals": referrals, "urgent": 0}

    assert answers == [
        answer(good["id"], "created", referrals=1),
        answer(jalali["id"], "created"),
        answer("not-a-uuid", "invalid", [{"field": "id", "message": "is not a valid UUID"}]),
        answer(
            bad_date["id"],
            "invalid",
            [{"field": "visit_date", "message": "'1403/13/40' is not a valid calendar date"}],
        ),
        answer(
            bad_spo2["id"], "invalid", [{"field": "members[0].spo2", "message": "must be between 50 and 100"}]
        ),
        answer("", "invalid", [{"field": "item", "message": "must be a JSON object"}]),
        answer(no_household["id"], "invalid", [{"field": "household_id", "message": "is required"}]),
        answer(
            bad_member["id"], "invalid", [{"field": "members[0].person_id", "message": "is not a valid UUID"}]
        ),
    ]
    stored = ScreeningVisit.objects.order_by("created_at")
    assert {str(v.pk) for v in stored} == {good["id"], jalali["id"]}
    assert ScreeningVisit.objects.get(pk=jalali["id"]).visit_date == today
    assert TestOrder.objects.get().person == person


def test_resending_the_same_batch_creates_nothing(client, tokens, people, today, campaign_a):
    person = people["post_a1"]
    items = [visit_json(person, today, campaign_a, symptoms=["fever", "cough"]), visit_json(person, today)]
    first = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": items}).json()
    before = (
        snapshot(ScreeningVisit),
        snapshot(MemberScreening),
        snapshot(TestOrder),
        snapshot(CampaignCoverage),
    )
    events = AuditEvent.objects.count()
    again = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": items}).json()
    assert [a["status"] for a in first["visits"]] == ["created", "created"]
    assert [(a["id"], a["status"], a["errors"]) for a in again["visits"]] == [
        (items[0]["id"], "exists", []),
        (items[1]["id"], "exists", []),
    ]
    assert (
        snapshot(ScreeningVisit),
        snapshot(MemberScreening),
        snapshot(TestOrder),
        snapshot(CampaignCoverage),
    ) == before
    assert AuditEvent.objects.count() == events


def test_an_urgent_referral_is_counted_in_the_answer(client, tokens, people, today):
    item = visit_json(people["post_a1"], today, spo2=88)
    answer = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": [item]}).json()["visits"][0]
    assert (answer["status"], answer["referrals"], answer["urgent"]) == ("created", 1, 1)
    assert MemberScreening.objects.get().reasons[0]["rule"] == "low_spo2"


def test_more_than_500_items_is_refused_whole(client, tokens, people, today):
    items = [visit_json(people["post_a1"], today) for _ in range(501)]
    response = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": items})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["visits"]
    assert ScreeningVisit.objects.count() == 0


def test_a_body_that_is_not_lists_is_a_422(client, tokens, people):
    response = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": "nope"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "visits"


def test_an_empty_batch_answers_empty_lists(client, tokens, people):
    response = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {})
    assert (response.status_code, response.json()) == (200, {"visits": [], "follow_ups": []})


@pytest.mark.parametrize("role", [Role.ANALYST, Role.PARTNER_STAFF])
def test_roles_that_may_not_write_are_refused_the_whole_batch(client, tokens, people, today, role):
    response = call(client, tokens[role], "POST", BATCH, {"visits": [visit_json(people["post_a1"], today)]})
    assert response.status_code == 403
    assert ScreeningVisit.objects.count() == 0


def test_follow_ups_go_to_the_cases_service_with_per_item_answers(client, tokens, people, today):
    person = people["post_a1"]
    isolation = isolation_of(person, today)
    good = {
        "id": str(uuid.uuid4()),
        "isolation_id": str(isolation.pk),
        "date": today.isoformat(),
        "method": "call",
        "reached": True,
        "symptoms": ["cough"],
        "spo2": 97,
        "needs": [],
    }
    bad_method = {**good, "id": str(uuid.uuid4()), "method": "letter"}
    missing_reached = {k: v for k, v in good.items() if k != "reached"} | {"id": str(uuid.uuid4())}
    body = {"follow_ups": [good, bad_method, missing_reached]}
    answers = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, body).json()["follow_ups"]
    assert [(a["id"], a["status"], a["errors"]) for a in answers] == [
        (good["id"], "created", []),
        (bad_method["id"], "invalid", [{"field": "method", "message": "Input should be 'call' or 'visit'"}]),
        (missing_reached["id"], "invalid", [{"field": "reached", "message": "is required"}]),
    ]
    assert list(FollowUp.objects.values_list("isolation_id", "spo2")) == [(isolation.pk, 97)]
    again = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"follow_ups": [good]}).json()
    assert again["follow_ups"][0]["status"] == "exists"
    assert FollowUp.objects.count() == 1


def test_follow_ups_are_answered_retry_while_the_cases_service_cannot_record_them(
    client, tokens, people, today, monkeypatch
):
    def not_ready(*, actor, items):
        raise NotImplementedError

    monkeypatch.setattr("mahalle.screening.api.follow_ups_record", not_ready)
    item = {
        "id": str(uuid.uuid4()),
        "isolation_id": str(uuid.uuid4()),
        "date": today.isoformat(),
        "method": "visit",
        "reached": False,
    }
    answers = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"follow_ups": [item]}).json()
    assert answers["follow_ups"] == [
        {
            "id": item["id"],
            "status": "retry",
            "errors": [
                {
                    "field": "id",
                    "message": "follow-ups cannot be recorded by this server yet; send this item again later",
                }
            ],
            "referrals": 0,
            "urgent": 0,
        }
    ]


def test_a_batch_of_100_takes_a_bounded_number_of_queries(
    client, tokens, tree, today, campaign_a, django_assert_max_num_queries
):
    people = [PersonFactory(org_unit=tree["post_a1"]) for _ in range(100)]
    items = [visit_json(p, today, campaign_a) for p in people]
    with django_assert_max_num_queries(20):
        response = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": items})
    assert [a["status"] for a in response.json()["visits"]] == ["created"] * 100
    assert CampaignCoverage.objects.get(post=tree["post_a1"]).households_screened == 100


# --- campaigns ---------------------------------------------------------------------------------------------------


def test_a_coordinator_creates_a_campaign_with_jalali_dates(
    client, tokens, tree, django_capture_on_commit_callbacks
):
    body = {"name": "دور ۴", "start_date": "۱۴۰۳/۰۵/۰۱", "end_date": "1403/05/20", "org_units": ["CA"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, tokens[Role.COUNTY_COORDINATOR], "POST", "/api/v1/screening/campaigns", body)
    assert response.status_code == 201, response.json()
    out = response.json()
    campaign = Campaign.objects.get()
    assert (out["id"], out["name"], out["start_date"], out["end_date"]) == (
        str(campaign.pk),
        "دور 4",
        "2024-07-22",
        "2024-08-10",
    )
    assert [a["code"] for a in out["areas"]] == ["CA"]
    # the coverage rows were built by the background task (run inline in tests): one per post of county a
    assert sorted(CampaignCoverage.objects.values_list("post__code", flat=True)) == ["SA1", "SA2"]


def test_campaign_errors_are_named(client, tokens, tree):
    body = {"name": "x", "start_date": "2024-08-10", "end_date": "2024-08-01", "org_units": ["CA", "NOPE"]}
    response = call(client, tokens[Role.COUNTY_COORDINATOR], "POST", "/api/v1/screening/campaigns", body)
    assert (response.status_code, response.json()["errors"]) == (
        422,
        [{"field": "org_units", "message": "unknown org unit(s): NOPE"}],
    )
    body = {**body, "org_units": ["CA"], "start_date": "2024-02-30"}
    response = call(client, tokens[Role.COUNTY_COORDINATOR], "POST", "/api/v1/screening/campaigns", body)
    assert (response.status_code, response.json()["errors"]) == (
        422,
        [{"field": "start_date", "message": "'2024-02-30' is not a valid calendar date"}],
    )
    assert Campaign.objects.count() == 0


def test_campaign_list_and_detail_follow_the_jurisdiction(client, tokens, campaign_a, campaign_b):
    volunteer = tokens[Role.FIELD_VOLUNTEER]  # post a1
    listed = call(client, volunteer, "GET", "/api/v1/screening/campaigns").json()
    assert (listed["count"], [c["id"] for c in listed["items"]]) == (1, [str(campaign_a.pk)])
    assert call(client, volunteer, "GET", f"/api/v1/screening/campaigns/{campaign_b.pk}").status_code == 404
    national = call(client, tokens[Role.NATIONAL_COORDINATOR], "GET", "/api/v1/screening/campaigns").json()
    assert {c["id"] for c in national["items"]} == {str(campaign_a.pk), str(campaign_b.pk)}
    detail = call(client, volunteer, "GET", f"/api/v1/screening/campaigns/{campaign_a.pk}").json()
    assert (detail["name"], detail["active"]) == ("دور 3", True)


# --- coverage ----------------------------------------------------------------------------------------------------


@pytest.fixture
def screened(client, tokens, tree, people, today, campaign_a, users):
    """Two more households in post a2 (three in all there); a1 and one of a2 screened, one referral in a2."""
    for _ in range(2):
        PersonFactory(org_unit=tree["post_a2"])
    from mahalle.screening.coverage import coverage_refresh

    coverage_refresh(campaign=campaign_a)
    a1, a2 = people["post_a1"], people["post_a2"]
    items = [
        visit_json(a1, today, campaign_a),
        visit_json(a2, today, campaign_a, symptoms=["fever", "cough"]),
    ]
    response = call(client, tokens[Role.COUNTY_COORDINATOR], "POST", BATCH, {"visits": items})
    assert [a["status"] for a in response.json()["visits"]] == ["created", "created"]


def _rows(response):
    return [
        (
            r["code"],
            r["households_registered"],
            r["households_screened"],
            r["persons_screened"],
            r["referrals"],
            r["coverage"],
        )
        for r in response.json()["rows"]
    ]


def test_coverage_rows_are_the_child_units(client, tokens, tree, campaign_a, screened):
    url = f"/api/v1/screening/campaigns/{campaign_a.pk}/coverage"
    province = call(client, tokens[Role.PROVINCE_COORDINATOR], "GET", f"{url}?org_unit=PA")
    assert province.status_code == 200
    assert _rows(province) == [("CA", 4, 2, 2, 1, 0.5)]
    assert province.json()["total"] == {
        "households_registered": 4,
        "households_screened": 2,
        "persons_screened": 2,
        "referrals": 1,
        "positives": 0,
        "coverage": 0.5,
    }
    posts = call(client, tokens[Role.COUNTY_COORDINATOR], "GET", f"{url}?org_unit=CA&group=post")
    assert _rows(posts) == [("SA1", 1, 1, 1, 0, 1.0), ("SA2", 3, 1, 1, 1, 0.3333)]
    hoods = call(client, tokens[Role.COUNTY_COORDINATOR], "GET", f"{url}?org_unit=CA&group=neighborhood")
    assert _rows(hoods) == [("NA", 4, 2, 2, 1, 0.5)]
    national = call(client, tokens[Role.NATIONAL_COORDINATOR], "GET", f"{url}?org_unit=IR")
    assert [(r["code"], r["households_screened"], r["covered"]) for r in national.json()["rows"]] == [
        ("PA", 2, True),
        ("PB", 0, False),
    ]
    analyst = call(client, tokens[Role.ANALYST], "GET", f"{url}?org_unit=IR&group=district")
    assert _rows(analyst) == [("DA", 4, 2, 2, 1, 0.5), ("DB", 0, 0, 0, 0, None)]


def test_coverage_is_scoped_and_validated(client, tokens, tree, campaign_a, screened):
    url = f"/api/v1/screening/campaigns/{campaign_a.pk}/coverage"
    county = tokens[Role.COUNTY_COORDINATOR]
    assert call(client, county, "GET", f"{url}?org_unit=PA").status_code == 404  # above the jurisdiction
    assert call(client, county, "GET", f"{url}?org_unit=CB").status_code == 404  # beside it
    assert call(client, county, "GET", f"{url}?org_unit=NOPE").status_code == 404
    bad_group = call(client, county, "GET", f"{url}?org_unit=CA&group=province")
    assert (bad_group.status_code, bad_group.json()["errors"]) == (
        422,
        [{"field": "group", "message": "must be one of children, county, district, neighborhood, post"}],
    )
    post = call(client, county, "GET", f"{url}?org_unit=SA1")
    assert (post.status_code, post.json()["errors"]) == (
        422,
        [{"field": "group", "message": "'children' is not below the level of SA1"}],
    )
    default = call(client, county, "GET", url)  # the user's own unit
    assert (default.json()["org_unit"]["code"], _rows(default)) == ("CA", [("DA", 4, 2, 2, 1, 0.5)])
    other = call(client, county, "GET", f"/api/v1/screening/campaigns/{uuid.uuid4()}/coverage")
    assert other.status_code == 404


def test_coverage_reads_the_rollup_in_a_bounded_number_of_queries(
    client, tokens, campaign_a, screened, django_assert_max_num_queries
):
    url = f"/api/v1/screening/campaigns/{campaign_a.pk}/coverage?org_unit=IR&group=post"
    with django_assert_max_num_queries(9) as context:
        response = call(client, tokens[Role.NATIONAL_COORDINATOR], "GET", url)
    assert len(response.json()["rows"]) == 4
    assert not any("screening_screeningvisit" in q["sql"] for q in context.captured_queries)


# --- work list ---------------------------------------------------------------------------------------------------


def _household(tree, *, ages=(30,), female_headed=False, **flags):
    """A household in post a1 with members of these ages; the first is the head."""
    household = HouseholdFactory(org_unit=tree["post_a1"], female_headed=female_headed)
    today = dt.date.today()
    members = [
        PersonFactory(
            org_unit=tree["post_a1"],
            household=household,
            birth_date=today.replace(year=today.year - age),
            **flags,
        )
        for age in ages
    ]
    household.head = members[0]
    household.save()
    return household, members


def test_worklist_orders_households_by_a_transparent_priority(
    client, tokens, tree, users, today, campaign_a, django_assert_max_num_queries
):
    plain, _ = _household(tree, ages=(30,))
    elderly, _ = _household(tree, ages=(70, 65))
    female, _ = _household(tree, ages=(40,), female_headed=True)
    contact, contact_members = _household(tree, ages=(25,))
    done, done_members = _household(tree, ages=(90, 91, 92))
    absent, _ = _household(tree, ages=(35,))
    volunteer = tokens[Role.FIELD_VOLUNTEER]
    items = [
        # screened in the campaign: off the list
        {
            **visit_json(done_members[0], today, campaign_a),
            "members": [{"person_id": str(p.pk)} for p in done_members],
        },
        # screened outside the campaign 5 days ago, with a known contact: first on the list
        visit_json(contact_members[0], today - dt.timedelta(days=20), known_contact=True),
        {
            **visit_json(contact_members[0], today - dt.timedelta(days=5), known_contact=True),
            "status": "screened",
        },
        # nobody at home yesterday: stays on the list
        {
            **visit_json(absent.head, today - dt.timedelta(days=1), campaign_a),
            "status": "absent",
            "members": [],
        },
    ]
    answers = call(client, volunteer, "POST", BATCH, {"visits": items}).json()["visits"]
    assert [a["status"] for a in answers] == ["created"] * 4
    with django_assert_max_num_queries(10):
        response = call(client, volunteer, "GET", "/api/v1/screening/worklist")
    assert response.status_code == 200
    body = response.json()
    assert (body["post"], body["campaign"]["id"]) == ("SA1", str(campaign_a.pk))
    listed = [(h["household_id"], h["priority"]) for h in body["households_to_screen"]]
    assert listed == [
        (str(contact.pk), 10_005),
        (str(elderly.pk), 299),
        (str(female.pk), 199),
        (str(plain.pk), 99),
        (str(absent.pk), 1),
    ]
    first = body["households_to_screen"][0]
    assert [r["code"] for r in first["priority_reasons"]] == ["known_contact", "days_since_last_visit"]
    assert (first["last_visit_date"], first["last_visit_status"], first["members_count"]) == (
        (today - dt.timedelta(days=5)).isoformat(),
        "screened",
        1,
    )
    second = body["households_to_screen"][1]
    assert (second["vulnerable_members_count"], second["priority_reasons"][0]) == (
        2,
        {
            "code": "vulnerable_members",
            "en": "2 vulnerable member(s)",
            "fa": "۲ عضو آسیب‌پذیر",
            "count": 2,
            "days": None,
        },
    )
    assert body["households_to_screen"][4]["last_visit_status"] == "absent"


def test_worklist_lists_follow_ups_due_and_untested_referrals(
    client, tokens, tree, people, today, campaign_a
):
    person = people["post_a1"]
    isolation = isolation_of(person, today)
    isolation_of(people["post_a2"], today)  # another post: not on a1's list
    volunteer = tokens[Role.FIELD_VOLUNTEER]
    call(client, volunteer, "POST", BATCH, {"visits": [visit_json(person, today, campaign_a, spo2=85)]})
    body = call(client, volunteer, "GET", f"/api/v1/screening/worklist?post=SA1&on={today}").json()
    assert [f["isolation_id"] for f in body["follow_ups_due"]] == [str(isolation.pk)]
    assert [(r["person_id"], r["urgent"], r["reasons"][0]["rule"]) for r in body["referrals_untested"]] == [
        (str(person.pk), True, "low_spo2")
    ]
    assert body["households_to_screen"] == []  # the only household was screened


def test_worklist_without_an_active_campaign_has_nothing_to_screen(client, tokens, people):
    body = call(client, tokens[Role.FIELD_VOLUNTEER], "GET", "/api/v1/screening/worklist").json()
    assert (body["campaign"], body["campaigns"], body["households_to_screen"]) == (None, [], [])


def test_worklist_post_errors(client, tokens, people, campaign_a):
    supervisor_of_county = tokens[Role.COUNTY_COORDINATOR]
    missing = call(client, supervisor_of_county, "GET", "/api/v1/screening/worklist")
    assert (missing.status_code, missing.json()["errors"]) == (
        422,
        [{"field": "post", "message": "is required: the code of a health post"}],
    )
    not_a_post = call(client, supervisor_of_county, "GET", "/api/v1/screening/worklist?post=NA")
    assert (not_a_post.status_code, not_a_post.json()["errors"]) == (
        422,
        [{"field": "post", "message": "NA is not a health post"}],
    )
    bad_date = call(client, supervisor_of_county, "GET", "/api/v1/screening/worklist?post=SA2&on=yesterday")
    assert bad_date.status_code == 422
    assert call(client, supervisor_of_county, "GET", "/api/v1/screening/worklist?post=SB1").status_code == 404
    jalali = call(client, supervisor_of_county, "GET", "/api/v1/screening/worklist?post=SA2&on=1403/05/12")
    assert (jalali.status_code, jalali.json()["on"]) == (200, "2024-08-02")


# --- rules -------------------------------------------------------------------------------------------------------


def test_rules_lists_the_defaults(client, tokens):
    body = call(client, tokens[Role.ANALYST], "GET", "/api/v1/screening/rules").json()
    assert body["source"] == "default"
    assert [r["id"] for r in body["rules"]] == [r["id"] for r in DEFAULT_RULES]
    assert body["rules"][0]["reason_en"] == "SpO2 below 93%"


CUSTOM_RULES = [
    {
        "id": "any_fever",
        "outcome": "refer",
        "all": [{"symptom": "fever"}],
        "reason_fa": "تب",
        "reason_en": "fever",
    }
]


@override_settings(MAHALLE_SCREENING_RULES=CUSTOM_RULES)
def test_rules_from_settings_are_listed_and_applied(client, tokens, people, today):
    body = call(client, tokens[Role.POST_SUPERVISOR], "GET", "/api/v1/screening/rules").json()
    assert (body["source"], [r["id"] for r in body["rules"]]) == ("settings", ["any_fever"])
    item = visit_json(people["post_a1"], today, symptoms=["fever"], spo2=80)  # low SpO2 is no rule here
    call(client, tokens[Role.FIELD_VOLUNTEER], "POST", BATCH, {"visits": [item]})
    member = MemberScreening.objects.get()
    assert (member.outcome, member.reasons) == ("refer", [{"rule": "any_fever", "fa": "تب", "en": "fever"}])


@override_settings(MAHALLE_SCREENING_RULES=[{**CUSTOM_RULES[0], "all": [{"spo2_below": "93"}]}])
def test_invalid_rules_in_settings_are_a_configuration_error(people, users, today):
    from mahalle.screening.selectors import active_rules

    with pytest.raises(
        ImproperlyConfigured, match="MAHALLE_SCREENING_RULES: rule any_fever: spo2_below must be"
    ):
        active_rules()


def test_worklist_sends_only_the_top_of_a_long_list_and_says_how_long_it_is(
    client, tokens, tree, campaign_a, monkeypatch
):
    from mahalle.screening import selectors

    monkeypatch.setattr(selectors, "LIST_LIMIT", 2)
    _household(tree, ages=(30,))
    elderly, _ = _household(tree, ages=(70, 65))
    _household(tree, ages=(40,))
    body = call(client, tokens[Role.FIELD_VOLUNTEER], "GET", "/api/v1/screening/worklist").json()
    assert body["households_to_screen_total"] == 3
    assert len(body["households_to_screen"]) == 2
    assert body["households_to_screen"][0]["household_id"] == str(elderly.pk)
