import datetime as dt

import pytest
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.cases.models import TestOrder
from mahalle.registry.tests.factories import PersonFactory
from mahalle.tracing import services
from mahalle.tracing.models import Contact, ContactFollowUp

from .factories import case_for, contact_for, member_of

TODAY = timezone.localdate


@pytest.fixture
def cases(people):
    return {
        post: case_for(person, onset_date=TODAY() - dt.timedelta(days=2)) for post, person in people.items()
    }


def test_anonymous_is_sent_to_login_and_the_analyst_refused_personal_pages(client, users, cases):
    assert client.get("/tracing/")["Location"].startswith("/login/?next=/tracing/")
    client.force_login(users[Role.ANALYST])
    assert client.get("/tracing/").status_code == 403
    assert client.get(f"/tracing/cases/{cases['post_a1'].pk}/contacts/").status_code == 403
    assert client.get(f"/tracing/cases/{cases['post_a1'].pk}/cluster/").status_code == 403
    assert client.get("/tracing/clusters/").status_code == 200  # aggregates only


def test_work_list_shows_the_post_only(client, users, cases):
    mine = contact_for(cases["post_a1"], member_of(cases["post_a1"].person))
    other = contact_for(cases["post_b1"], member_of(cases["post_b1"].person))
    client.force_login(users[Role.FIELD_VOLUNTEER])
    response = client.get("/tracing/", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert mine.person.full_name in body and other.person.last_name not in body
    assert f"/tracing/contacts/{mine.pk}/follow-up/" in body
    assert 'aria-current="page"' in body


@pytest.mark.parametrize(
    ("role", "post", "status"),
    [
        (Role.FIELD_VOLUNTEER, "post_a1", 200),
        (Role.FIELD_VOLUNTEER, "post_a2", 404),
        (Role.COUNTY_COORDINATOR, "post_a2", 200),
        (Role.COUNTY_COORDINATOR, "post_b1", 404),
        (Role.PARTNER_STAFF, "post_a1", 200),
        (Role.NATIONAL_COORDINATOR, "post_b2", 200),
    ],
)
def test_case_contacts_page_by_role(client, users, cases, role, post, status):
    contact = contact_for(cases[post], member_of(cases[post].person))
    client.force_login(users[role])
    response = client.get(f"/tracing/cases/{cases[post].pk}/contacts/")
    assert response.status_code == status
    body = response.content.decode()
    assert (contact.person.full_name in body) == (status == 200)
    assert ('id="add"' in body) == (status == 200 and role != Role.PARTNER_STAFF)


def test_tracer_adds_lists_confirms_and_removes_contacts_on_the_phone(client, users, cases, tree):
    case = cases["post_a1"]
    wife = member_of(case.person)
    known = PersonFactory(org_unit=tree["post_a1"])
    client.force_login(users[Role.FIELD_VOLUNTEER])
    url = f"/tracing/cases/{case.pk}/contacts/"
    bad = client.post(
        url, {"national_code": known.national_code, "last_exposure": "", "setting": "workplace"}
    )
    assert bad.status_code == 422 and Contact.objects.count() == 0
    himself = client.post(
        url,
        {
            "national_code": case.person.national_code,
            "last_exposure": TODAY().isoformat(),
            "setting": "other",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert himself.status_code == 422
    assert "is the case himself" in himself.content.decode()
    added = client.post(
        url,
        {"national_code": known.national_code, "last_exposure": TODAY().isoformat(), "setting": "workplace"},
    )
    assert added.status_code == 302
    assert Contact.objects.get().person == known
    assert client.post(f"/tracing/cases/{case.pk}/contacts/household/").status_code == 302
    listed = Contact.objects.get(person=wife)
    assert listed.status == "listed"
    client.post(f"/tracing/contacts/{listed.pk}/confirm/", {"next": url})
    listed.refresh_from_db()
    assert listed.status == "confirmed"
    response = client.post(
        f"/tracing/contacts/{listed.pk}/remove/", {"reason": "moved away", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/tracing/"
    listed.refresh_from_db()
    assert (listed.status, listed.removed_reason) == ("removed", "moved away")


def test_partner_staff_may_read_but_not_add(client, users, cases):
    client.force_login(users[Role.PARTNER_STAFF])
    response = client.post(
        f"/tracing/cases/{cases['post_a1'].pk}/contacts/",
        {"first_name": "a", "last_name": "b", "last_exposure": TODAY().isoformat(), "setting": "other"},
    )
    assert response.status_code == 403
    assert Contact.objects.count() == 0


def test_follow_up_form_refers_a_contact_with_symptoms(client, users, cases):
    contact = contact_for(cases["post_a1"], member_of(cases["post_a1"].person))
    stranger = contact_for(cases["post_b1"], member_of(cases["post_b1"].person))
    client.force_login(users[Role.FIELD_VOLUNTEER])
    assert client.get(f"/tracing/contacts/{stranger.pk}/follow-up/").status_code == 404
    page = client.get(f"/tracing/contacts/{contact.pk}/follow-up/")
    assert page.status_code == 200
    form_id = page.context["form"]["id"].value()
    bad = client.post(f"/tracing/contacts/{contact.pk}/follow-up/", {"id": form_id, "status": "symptoms"})
    assert bad.status_code == 422 and ContactFollowUp.objects.count() == 0
    data = {"id": form_id, "status": "symptoms", "symptoms": ["fever", "cough"]}
    assert client.post(f"/tracing/contacts/{contact.pk}/follow-up/", data).status_code == 302
    assert client.post(f"/tracing/contacts/{contact.pk}/follow-up/", data).status_code == 302  # double tap
    assert ContactFollowUp.objects.get().symptoms == ["fever", "cough"]
    assert TestOrder.objects.get().person == contact.person


def test_chain_view_draws_the_cluster_and_hides_people_outside(client, users, cases):
    national = users[Role.NATIONAL_COORDINATOR]
    services.transmission_link_create(actor=national, infector=cases["post_a1"], infectee=cases["post_b1"])
    contact = services.contact_add(
        actor=national,
        case=cases["post_a1"],
        person=member_of(cases["post_a1"].person),
        last_exposure=TODAY(),
        setting="household",
    )
    client.force_login(users[Role.POST_SUPERVISOR])
    response = client.get(f"/tracing/cases/{cases['post_a1'].pk}/cluster/", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and body.count("<circle") >= 3
    assert contact.person.full_name in body
    b_person = cases["post_b1"].person
    assert (
        b_person.last_name not in body
        and str(b_person.pk) not in body
        and str(cases["post_b1"].pk) not in body
    )
    assert "a person outside your area" in body
    assert client.get(f"/tracing/cases/{cases['post_b1'].pk}/cluster/").status_code == 404
    client.force_login(national)
    full = client.get(f"/tracing/cases/{cases['post_b1'].pk}/cluster/").content.decode()
    assert b_person.full_name in full and "a person outside your area" not in full


def test_clusters_page_for_a_coordinator(client, users, cases, tree):
    national = users[Role.NATIONAL_COORDINATOR]
    services.transmission_link_create(actor=national, infector=cases["post_a1"], infectee=cases["post_a2"])
    client.force_login(users[Role.COUNTY_COORDINATOR])
    response = client.get("/tracing/clusters/")
    assert response.status_code == 200
    assert response.context["result"]["clusters"][0]["cases"] == 2
    assert f"/tracing/cases/{cases['post_a1'].pk}/cluster/" in response.content.decode()
    assert client.get(f"/tracing/clusters/?org_unit={tree['province_b'].code}").status_code == 404
