import datetime as dt

from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases.models import Alert, FollowUp, TestOrder

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
