import datetime as dt

from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases.models import Alert, FollowUp, Isolation, QuarantinePlace, TestOrder

from .factories import case_for, isolation_for, order_for, place_in

TODAY = timezone.localdate


def test_anonymous_is_sent_to_login_and_the_analyst_refused(client, users):
    assert client.get("/cases/")["Location"].startswith("/login/?next=/cases/")
    client.force_login(users[Role.ANALYST])
    assert client.get("/cases/").status_code == 403


def test_supervisor_list_shows_alerts_referrals_isolations_and_places(client, users, people, tree):
    person, stranger = people["post_a1"], people["post_b1"]
    order_for(person, urgent=True)
    isolation_for(
        person, start_date=TODAY() - dt.timedelta(days=2), planned_end_date=TODAY() + dt.timedelta(days=7)
    )
    isolation_for(stranger)
    place_in(tree["county_a"], capacity=20, occupied=5, name="هتل امید")
    Alert.objects.create(
        kind="deterioration",
        person=person,
        message="SpO2 90",
        org_unit=person.org_unit,
        org_path=person.org_path,
    )
    client.force_login(users[Role.POST_SUPERVISOR])
    response = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count(person.full_name) == 4  # alert, follow-up due, referral, isolation
    assert stranger.last_name not in body
    assert "هتل امید" in body and "SpO2 90" in body
    assert 'aria-current="page"' in body


def test_volunteer_records_a_follow_up_on_the_form(client, users, people):
    isolation = isolation_for(people["post_a1"])
    client.force_login(users[Role.FIELD_VOLUNTEER])
    page = client.get(f"/cases/isolations/{isolation.pk}/follow-up/")
    assert page.status_code == 200
    form_id = page.context["form"]["id"].value()
    data = {
        "id": form_id,
        "method": "call",
        "reached": "yes",
        "symptoms": ["shortness_of_breath"],
        "spo2": "95",
    }
    bad = client.post(f"/cases/isolations/{isolation.pk}/follow-up/", {**data, "spo2": "120"})
    assert bad.status_code == 422
    assert "must be between 50 and 100" in bad.content.decode()
    assert FollowUp.objects.count() == 0
    ok = client.post(f"/cases/isolations/{isolation.pk}/follow-up/", data)
    again = client.post(f"/cases/isolations/{isolation.pk}/follow-up/", data)  # a double tap
    assert (ok.status_code, again.status_code) == (302, 302)
    follow_up = FollowUp.objects.get()
    assert (follow_up.symptoms, follow_up.spo2, follow_up.by) == (
        ["shortness_of_breath"],
        95,
        users["field_volunteer"],
    )
    assert Alert.objects.get().kind == "deterioration"


def test_follow_up_form_of_another_post_is_404(client, users, people):
    isolation = isolation_for(people["post_b1"])
    client.force_login(users[Role.FIELD_VOLUNTEER])
    assert client.get(f"/cases/isolations/{isolation.pk}/follow-up/").status_code == 404


def test_sample_then_result_from_the_supervisor_list(client, users, people):
    order = order_for(people["post_a1"])
    client.force_login(users[Role.POST_SUPERVISOR])
    client.post(f"/cases/test-orders/{order.pk}/sample/", {"sample_id": "p-9", "kind": "pcr", "lab": ""})
    client.post(f"/cases/test-orders/{order.pk}/result/", {"result": "positive", "result_date": str(TODAY())})
    order.refresh_from_db()
    assert (order.sample_id, order.status, order.result) == ("P-9", TestOrder.Status.RESULTED, "positive")
    case = order.person.cases.get()
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "PCR result of sample P-9: positive PCR" in page.content.decode()


def test_case_page_of_another_post_is_404(client, users, people):
    case = case_for(people["post_b1"])
    client.force_login(users[Role.POST_SUPERVISOR])
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    response = client.post(
        f"/cases/{case.pk}/classification/", {"classification": "discarded", "reason": "x"}
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.classification == "confirmed"


# --- the case page's isolation, hospitalisation and outcome forms ---------------------------------------------


def _start(client, case, **data):
    values = {"isolation-setting": "home", "isolation-start_date": str(TODAY())}
    values.update({f"isolation-{key}": value for key, value in data.items()})
    return client.post(f"/cases/{case.pk}/isolation/", values, HTTP_ACCEPT_LANGUAGE="en")


def test_supervisor_sees_the_forms_and_places_with_free_places(client, users, people, tree):
    case = case_for(people["post_a1"])
    place_in(tree["county_a"], capacity=3, occupied=1, name="هتل امید")
    place_in(tree["county_a"], capacity=1, occupied=1, name="خوابگاه")
    place_in(tree["county_b"], capacity=9, name="دور")  # does not serve post_a1
    client.force_login(users[Role.POST_SUPERVISOR])
    body = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="start-isolation"' in body and 'id="hospitalisation"' in body and 'id="outcome"' in body
    assert 'id="release"' not in body
    assert "هتل امید — 2 of 3 places free" in body
    assert "خوابگاه — full" in body
    assert "دور" not in body
    assert f'name="isolation-start_date" value="{TODAY().isoformat()}"' in body


def test_volunteer_sees_no_forms_and_is_refused_on_post(client, users, people, tree):
    case = case_for(people["post_a1"])
    client.force_login(users[Role.FIELD_VOLUNTEER])
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="start-isolation"' not in body and 'id="outcome"' not in body
    assert _start(client, case).status_code == 403
    assert (
        client.post(
            f"/cases/{case.pk}/outcome/", {"outcome-outcome": "died", "outcome-on": str(TODAY())}
        ).status_code
        == 403
    )
    assert Isolation.objects.count() == 0
    case.refresh_from_db()
    assert case.outcome == ""


def test_outsider_gets_404_and_analyst_403_on_every_form(client, users, people):
    case = case_for(people["post_b1"])
    routes = ["isolation/", "isolation/release/", "hospitalisation/", "outcome/"]
    client.force_login(users[Role.POST_SUPERVISOR])  # post_a1's supervisor; the case is in post_b1
    assert [client.post(f"/cases/{case.pk}/{route}", {}).status_code for route in routes] == [404] * 4
    client.force_login(users[Role.ANALYST])
    assert [client.post(f"/cases/{case.pk}/{route}", {}).status_code for route in routes] == [403] * 4
    client.force_login(users[Role.PARTNER_STAFF])  # reads personal data, the services refuse its writes
    assert client.get(f"/cases/{case_for(people['post_a1']).pk}/").status_code == 200
    assert Isolation.objects.count() == 0


def test_full_place_shows_the_error_next_to_the_field_and_stores_nothing(client, users, people, tree):
    case = case_for(people["post_a1"])
    full = place_in(tree["county_a"], capacity=1, occupied=1, name="خوابگاه")
    client.force_login(users[Role.POST_SUPERVISOR])
    response = _start(client, case, setting="facility", place=str(full.pk))
    body = response.content.decode()
    assert response.status_code == 422
    assert "&#x27;خوابگاه&#x27; is full: 1 of 1 places taken" in body
    assert 'class="field invalid" id="field-isolation-place"' in body
    assert Isolation.objects.count() == 0
    full.refresh_from_db()
    assert full.occupied == 1


def test_future_dates_and_missing_place_are_422_not_500(client, users, people):
    case = case_for(people["post_a1"])
    client.force_login(users[Role.POST_SUPERVISOR])
    future = str(TODAY() + dt.timedelta(days=3))
    response = _start(client, case, start_date=future)
    assert response.status_code == 422
    assert response.context["isolation_form"].errors == {"start_date": ["is in the future"]}
    response = _start(client, case, setting="facility")
    assert response.status_code == 422
    assert response.context["isolation_form"].errors == {
        "place": ["is required for isolation in a quarantine place"]
    }
    response = client.post(
        f"/cases/{case.pk}/hospitalisation/", {"hospitalisation-on": future}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 422
    assert response.context["hospitalisation_form"].errors == {"on": ["is in the future"]}
    response = client.post(
        f"/cases/{case.pk}/outcome/", {"outcome-outcome": "died", "outcome-on": "not a date"}
    )
    assert response.status_code == 422 and "on" in response.context["outcome_form"].errors
    assert Isolation.objects.count() == 0
    case.refresh_from_db()
    assert (case.hospitalised, case.outcome) == (False, "")


def test_start_then_release_frees_the_place(client, users, people, tree):
    case = case_for(people["post_a1"], onset_date=TODAY() - dt.timedelta(days=4))
    place = place_in(tree["county_a"], capacity=2, occupied=1, name="هتل امید")
    client.force_login(users[Role.POST_SUPERVISOR])
    response = _start(client, case, setting="facility", place=str(place.pk))
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    isolation = Isolation.objects.get()
    place.refresh_from_db()
    assert (isolation.place, isolation.case, isolation.onset_date, place.occupied) == (
        place,
        case,
        TODAY() - dt.timedelta(days=4),
        2,
    )
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.context["active"] == isolation
    assert page.context["active"].days_left == (isolation.planned_end_date - TODAY()).days
    body = page.content.decode()
    assert 'id="release"' in body and 'id="start-isolation"' not in body
    early = client.post(
        f"/cases/{case.pk}/isolation/release/",
        {"release-on": str(isolation.start_date - dt.timedelta(days=1)), "release-reason": ""},
    )
    assert early.status_code == 422
    assert early.context["release_form"].errors == {"on": ["is before the isolation started"]}
    response = client.post(
        f"/cases/{case.pk}/isolation/release/", {"release-on": str(TODAY()), "release-reason": "recovered"}
    )
    assert response.status_code == 302
    isolation.refresh_from_db()
    place.refresh_from_db()
    assert (isolation.released_on, isolation.release_reason, place.occupied) == (TODAY(), "recovered", 1)
    again = client.post(f"/cases/{case.pk}/isolation/release/", {"release-on": str(TODAY())})
    assert again.status_code == 422
    assert again.context["release_form"].errors == {"__all__": ["این فرد در جداسازی نیست"]}  # Persian UI


def test_hospitalisation_then_death_recorded_with_its_case_changes(client, users, people, tree):
    person = people["post_a1"]
    case = case_for(person)
    place = place_in(tree["county_a"], capacity=2, occupied=1)
    isolation_for(person, case=case, place=place, start_date=TODAY() - dt.timedelta(days=3))
    client.force_login(users[Role.COUNTY_COORDINATOR])
    day = TODAY() - dt.timedelta(days=1)
    response = client.post(
        f"/cases/{case.pk}/hospitalisation/", {"hospitalisation-on": str(day), "hospitalisation-reason": ""}
    )
    assert response.status_code == 302
    response = client.post(
        f"/cases/{case.pk}/outcome/",
        {"outcome-outcome": "died", "outcome-on": str(TODAY()), "outcome-reason": "در بیمارستان"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    place.refresh_from_db()
    assert (case.hospitalised_on, case.outcome, case.outcome_date) == (day, "died", TODAY())
    changes = list(case.changes.values_list("field", "old_value", "new_value", "reason", "actor__username"))
    assert changes == [
        ("hospitalised", "no", "yes", "admitted to hospital", "county_coordinator"),
        ("outcome", "", "died", "در بیمارستان", "county_coordinator"),
    ]
    assert Isolation.objects.get().release_reason == "died"
    assert place.occupied == 0
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="outcome"' not in body and 'id="hospitalisation"' not in body


# --- quarantine places page ------------------------------------------------------------------------------------


def test_coordinator_creates_a_place_and_sees_occupancy(client, users, tree):
    place_in(tree["county_a"], capacity=5, occupied=5, name="پر")
    client.force_login(users[Role.COUNTY_COORDINATOR])
    response = client.post(
        "/cases/places/",
        {"org_unit": tree["district_a"].code, "name": "  هتل   امید ", "capacity": "12"},
    )
    assert response.status_code == 302 and response["Location"] == "/cases/places/"
    created = QuarantinePlace.objects.get(name="هتل امید")
    assert (created.org_unit, created.org_path, created.capacity, created.occupied) == (
        tree["district_a"],
        tree["district_a"].path,
        12,
        0,
    )
    page = client.get("/cases/places/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert [(p.name, p.occupied, p.free) for p in page.context["places"]] == [
        ("پر", 5, 0),
        ("هتل امید", 0, 12),
    ]
    assert 'id="create-place"' in page.content.decode()


def test_place_outside_jurisdiction_or_bad_capacity_is_422_and_nothing_stored(client, users, tree):
    client.force_login(users[Role.COUNTY_COORDINATOR])
    outside = client.post("/cases/places/", {"org_unit": tree["county_b"].code, "name": "x", "capacity": "3"})
    unknown = client.post("/cases/places/", {"org_unit": "NOPE", "name": "x", "capacity": "3"})
    zero = client.post("/cases/places/", {"org_unit": tree["county_a"].code, "name": "x", "capacity": "0"})
    assert (outside.status_code, unknown.status_code, zero.status_code) == (422, 422, 422)
    message = ["در حوزه شما واحدی با این کد نیست"]  # "no org unit has this code in your jurisdiction", Persian UI
    assert outside.context["form"].errors == {"org_unit": message}
    assert unknown.context["form"].errors == {"org_unit": message}
    assert list(zero.context["form"].errors) == ["capacity"]
    assert QuarantinePlace.objects.count() == 0


def test_places_page_by_role(client, users, tree):
    place_in(tree["county_b"], name="دور")
    client.force_login(users[Role.POST_SUPERVISOR])  # sees the list, may not create
    page = client.get("/cases/places/")
    assert page.status_code == 200 and page.context["places"] == []
    assert 'id="create-place"' not in page.content.decode()
    data = {"org_unit": tree["post_a1"].code, "name": "x", "capacity": "3"}
    assert client.post("/cases/places/", data).status_code == 403
    for role in (Role.FIELD_VOLUNTEER, Role.ANALYST, Role.PARTNER_STAFF):
        client.force_login(users[role])
        assert (
            client.get("/cases/places/").status_code,
            client.post("/cases/places/", data).status_code,
        ) == (
            403,
            403,
        )
    assert QuarantinePlace.objects.count() == 1
    client.force_login(users[Role.POST_SUPERVISOR])
    assert 'href="/cases/places/"' in client.get("/cases/").content.decode()
