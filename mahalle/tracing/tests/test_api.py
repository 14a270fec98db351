import datetime as dt
import uuid

from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.core.dates import to_jalali_str
from mahalle.registry.tests.factories import PersonFactory
from mahalle.tests.test_jurisdiction_matrix import call
from mahalle.tracing.models import Contact, ContactFollowUp, TransmissionLink

from .factories import case_for, member_of

TODAY = timezone.localdate


def test_a_loop_is_a_clear_422_and_writes_nothing(client, tokens, people, tree):
    a, b = case_for(people["post_a1"]), case_for(PersonFactory(org_unit=tree["post_a1"]))
    secret = tokens[Role.POST_SUPERVISOR]
    body = {"infector_id": str(a.pk), "infectee_id": str(b.pk)}
    assert call(client, secret, "POST", "/api/v1/tracing/links", body).status_code == 201
    back = call(
        client, secret, "POST", "/api/v1/tracing/links", {"infector_id": str(b.pk), "infectee_id": str(a.pk)}
    )
    assert back.status_code == 422
    assert back.json() == {
        "detail": "the link would make a loop in who infected whom",
        "errors": [
            {"field": "infectee_id", "message": "is already an ancestor of the infector in the chain: a loop"}
        ],
    }
    assert TransmissionLink.objects.count() == 1


def test_contact_add_answers_and_errors(client, tokens, people):
    case = case_for(people["post_a1"], onset_date=TODAY() - dt.timedelta(days=2))
    member = member_of(people["post_a1"])
    secret = tokens[Role.FIELD_VOLUNTEER]
    url = f"/api/v1/tracing/cases/{case.pk}/contacts"
    yesterday = TODAY() - dt.timedelta(days=1)
    # a Jalali date in Persian digits is accepted
    body = {
        "national_code": member.national_code,
        "last_exposure": to_jalali_str(yesterday),
        "setting": "household",
    }
    created = call(client, secret, "POST", url, body)
    assert created.status_code == 201, created.content
    assert (created.json()["last_exposure"], created.json()["follow_up_end"]) == (
        str(yesterday),
        str(yesterday + dt.timedelta(days=14)),
    )
    again = call(client, secret, "POST", url, body)
    assert again.status_code == 409
    himself = call(client, secret, "POST", url, {**body, "national_code": people["post_a1"].national_code})
    assert himself.status_code == 422
    assert himself.json()["errors"][0]["field"] == "person"
    assert Contact.objects.count() == 1
    bad_list = call(client, secret, "GET", "/api/v1/tracing/contacts?list=everything")
    assert bad_list.status_code == 422


def test_follow_ups_batch_is_idempotent(client, tokens, people):
    case = case_for(people["post_a1"])
    secret = tokens[Role.FIELD_VOLUNTEER]
    contact = call(
        client,
        secret,
        "POST",
        f"/api/v1/tracing/cases/{case.pk}/contacts",
        {
            "national_code": member_of(people["post_a1"]).national_code,
            "last_exposure": str(TODAY()),
            "setting": "other",
        },
    ).json()
    item = {
        "id": str(uuid.uuid4()),
        "contact_id": contact["id"],
        "date": str(TODAY()),
        "status": "unreachable",
    }
    first = call(client, secret, "POST", "/api/v1/tracing/follow-ups/batch", {"items": [item]}).json()
    second = call(client, secret, "POST", "/api/v1/tracing/follow-ups/batch", {"items": [item]}).json()
    assert (first["counts"], second["counts"]) == ({"created": 1}, {"exists": 1})
    assert ContactFollowUp.objects.count() == 1
