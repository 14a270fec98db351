import datetime as dt
import uuid

from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases.models import Alert, Case, FollowUp, Isolation, TestOrder
from mahalle.tests.test_jurisdiction_matrix import call

from .factories import isolation_for, order_for, place_in

TODAY = timezone.localdate


def test_lab_results_batch_over_http(client, tokens, people):
    order_for(people["post_a1"], sample_id="A-1", kind="pcr")
    TestOrder.objects.update(sampled_on=None)
    items = [
        {"sample_id": "A-1", "kind": "PCR", "result": "مثبت", "result_date": "۱۴۰۳/۰۱/۱۵"},
        {"sample_id": "ZZ", "kind": "pcr", "result": "negative", "result_date": "2024-01-01"},
        {"sample_id": "A-1", "kind": "pcr", "result": "positive", "result_date": "not a date"},
    ]
    response = call(
        client, tokens[Role.POST_SUPERVISOR], "POST", "/api/v1/cases/lab-results", {"items": items}
    )
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "invalid", "invalid"]
    assert body["counts"] == {"created": 1, "invalid": 2}
    assert body["results"][2]["errors"] == [
        {
            "field": "result_date",
            "message": "'not a date' is not a date (expected YYYY-MM-DD or Jalali YYYY/MM/DD)",
        }
    ]
    assert Case.objects.get().classification == "confirmed"
    assert Case.objects.get().person.test_orders.get().result_date == dt.date(2024, 4, 3)


def test_lab_results_need_a_well_formed_body(client, tokens):
    response = call(
        client, tokens[Role.POST_SUPERVISOR], "POST", "/api/v1/cases/lab-results", {"items": [{}]}
    )
    assert response.status_code == 422
    assert {"field": "items.0.sample_id", "message": "Field required"} in response.json()["errors"]


def test_full_place_answers_422_with_the_reason(client, tokens, people, tree):
    place = place_in(tree["post_a1"], capacity=1, occupied=1, name="خوابگاه")
    body = {
        "person_id": str(people["post_a1"].pk),
        "setting": "facility",
        "place_id": str(place.pk),
        "start_date": TODAY().isoformat(),
    }
    response = call(client, tokens[Role.POST_SUPERVISOR], "POST", "/api/v1/cases/isolations", body)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "the quarantine place is full",
        "errors": [{"field": "place_id", "message": "'خوابگاه' is full: 1 of 1 places taken"}],
    }
    assert Isolation.objects.count() == 0


def test_second_isolation_is_409(client, tokens, people):
    isolation_for(people["post_a1"])
    body = {"person_id": str(people["post_a1"].pk), "setting": "home", "start_date": TODAY().isoformat()}
    response = call(client, tokens[Role.POST_SUPERVISOR], "POST", "/api/v1/cases/isolations", body)
    assert response.status_code == 409
    assert response.json()["detail"] == "the person is already in isolation"


def test_follow_up_batch_over_http_resend_and_alert(client, tokens, people):
    isolation = isolation_for(people["post_a1"])
    item = {"id": str(uuid.uuid4()), "isolation_id": str(isolation.pk), "date": str(TODAY()), "spo2": 91}
    bad = {**item, "id": str(uuid.uuid4()), "date": str(TODAY() - dt.timedelta(days=1)), "spo2": 30}
    path = "/api/v1/cases/follow-ups/batch"
    first = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", path, {"items": [item, bad]})
    again = call(client, tokens[Role.FIELD_VOLUNTEER], "POST", path, {"items": [item]})
    assert [r["status"] for r in first.json()["results"]] == ["created", "invalid"]
    assert first.json()["results"][1]["errors"] == [
        {"field": "spo2", "message": "must be between 50 and 100"}
    ]
    assert again.json()["results"] == [{"id": item["id"], "status": "exists", "errors": []}]
    assert FollowUp.objects.count() == 1
    assert Alert.objects.get().kind == "deterioration"


def test_case_detail_carries_the_history(client, tokens, people):
    order_for(people["post_a1"], sample_id="H-1", kind="pcr")
    call(
        client,
        tokens[Role.POST_SUPERVISOR],
        "POST",
        "/api/v1/cases/lab-results",
        {"items": [{"sample_id": "H-1", "kind": "pcr", "result": "positive", "result_date": str(TODAY())}]},
    )
    case = Case.objects.get()
    response = call(
        client,
        tokens[Role.COUNTY_COORDINATOR],
        "POST",
        f"/api/v1/cases/{case.pk}/classification",
        {"classification": "discarded", "reason": "false positive, lab confirmed"},
    )
    assert response.status_code == 200
    detail = call(client, tokens[Role.POST_SUPERVISOR], "GET", f"/api/v1/cases/{case.pk}").json()
    assert [(c["actor"], c["old_value"], c["new_value"], c["reason"]) for c in detail["changes"]] == [
        ("post_supervisor", "", "confirmed", "PCR result of sample H-1: positive PCR"),
        ("county_coordinator", "confirmed", "discarded", "false positive, lab confirmed"),
    ]
