"""Needs pages: per role, per jurisdiction, and the upload → progress → link → review → golden path."""

import datetime as dt

import pytest

from mahalle.accounts.capabilities import PERSONAL_DATA_ROLES, Can, roles_with
from mahalle.accounts.models import Role
from mahalle.needs.models import AgencyList, ReviewPair, SourceRecord
from mahalle.tests.test_jurisdiction_matrix import ROLE_POST, ROLES, VISIBLE

from .factories import AgencyFactory, AgencyListFactory, SourceRecordFactory, csv_upload, member_of, pair_for

REVIEW_ROLES = roles_with(Can.REVIEW_LINKS)


@pytest.fixture
def made(tree, users, people):
    relief = AgencyFactory(code="relief", name="کمیته امداد")
    member_of(relief, users[Role.PARTNER_STAFF])
    result = {}
    for post, person in people.items():
        agency_list = AgencyListFactory(agency=relief, org_unit=tree[post], file_name=f"{post}.csv")
        record = SourceRecordFactory(agency_list=agency_list, record_id=f"R-{post}", first_name="نرگس")
        result[post] = {
            "list": agency_list,
            "record": record,
            "pair": pair_for(record, person),
            "person": person,
        }
    return result


def test_anonymous_is_sent_to_login(client):
    assert client.get("/needs/")["Location"].startswith("/login/?next=/needs/")


@pytest.mark.parametrize("role", ROLES)
def test_index_per_role(client, users, made, role):
    client.force_login(users[role])
    response = client.get("/needs/", HTTP_ACCEPT_LANGUAGE="en")
    if role not in PERSONAL_DATA_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    page = response.content.decode()
    for post in made:
        assert (f"{post}.csv" in page) == (post in VISIBLE[role])
    assert ("Review queue" in page) == (role in REVIEW_ROLES)


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_record_pages_per_role_and_post(client, users, made, role, post):
    client.force_login(users[role])
    one = made[post]
    for url in (
        f"/needs/lists/{one['list'].pk}/",
        f"/needs/lists/{one['list'].pk}/progress/",
        f"/needs/review/{one['pair'].pk}/",
        f"/needs/persons/{one['person'].pk}/",
        f"/needs/households/{one['person'].household_id}/",
        f"/needs/households/{one['person'].household_id}/panel/",
    ):
        response = client.get(url)
        if role not in PERSONAL_DATA_ROLES:
            assert response.status_code == 403, url
        elif post not in VISIBLE[role]:
            assert response.status_code == 404, url
        else:
            assert response.status_code == 200, url


@pytest.mark.parametrize(("role", "post"), ROLE_POST)
def test_review_decision_from_the_page(client, users, made, role, post):
    client.force_login(users[role])
    pair = made[post]["pair"]
    response = client.post(f"/needs/review/{pair.pk}/decide/", {"decision": "same", "reason": "card"})
    pair.refresh_from_db()
    if role in REVIEW_ROLES and post in VISIBLE[role]:
        assert response.status_code == 302
        assert (pair.decision, pair.decided_by) == ("same", users[role])
        return
    assert response.status_code == (404 if role in PERSONAL_DATA_ROLES and post not in VISIBLE[role] else 403)
    assert pair.decision == ""


def test_review_queue_page_and_pair_side_by_side(client, users, made):
    client.force_login(users[Role.COUNTY_COORDINATOR])
    queue = client.get("/needs/review/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert queue.count("/needs/review/") >= 2 and "نرگس" in queue
    pair = made["post_a1"]["pair"]
    ReviewPair.objects.filter(pk=pair.pk).update(evidence={"first_name": {"level": "exact", "weight": 3.5}})
    page = client.get(f"/needs/review/{pair.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "exact (3.5)" in page and made["post_a1"]["person"].last_name in page and "نرگس" in page
    client.post(f"/needs/review/{pair.pk}/decide/", {"decision": "different", "reason": "other father"})
    page = client.get(f"/needs/review/{pair.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Undo the decision" in page and "other father" in page


def test_upload_page_then_progress(client, users, tree, made):
    client.force_login(users[Role.PARTNER_STAFF])
    form = client.get("/needs/lists/upload/", HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200 and "کمیته امداد" in form.content.decode()
    response = client.post(
        "/needs/lists/upload/",
        {
            "agency": "relief",
            "org_unit": tree["post_a2"].code,
            "file": csv_upload(["U1,,سارا,نوری,,,,,,,,food,,"]),
        },
    )
    created = AgencyList.objects.exclude(pk__in=[m["list"].pk for m in made.values()]).get()
    assert response["Location"] == f"/needs/lists/{created.pk}/"
    progress = client.get(f"/needs/lists/{created.pk}/progress/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'hx-trigger="every 2s"' in progress  # still pending: the fragment polls (the task runs on commit)


def test_volunteer_may_not_upload(client, users):
    client.force_login(users[Role.FIELD_VOLUNTEER])
    assert client.get("/needs/lists/upload/").status_code == 403


def test_golden_page_shows_every_source_and_splits(client, users, made):
    one = made["post_a1"]
    SourceRecord.objects.filter(pk=one["record"].pk).update(person=one["person"], link_status="auto")
    second = SourceRecordFactory(
        agency_list=one["list"], record_id="R-2", person=one["person"], link_status="auto"
    )
    client.force_login(users[Role.COUNTY_COORDINATOR])
    page = client.get(f"/needs/persons/{one['person'].pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "R-post_a1" in page and "R-2" in page and "split off" in page
    response = client.post(f"/needs/records/{second.pk}/split/", {"reason": ""})
    second.refresh_from_db()
    assert second.person != one["person"]
    assert response["Location"] == f"/needs/persons/{second.person_id}/"


def test_supports_page_for_partner_staff(client, users, made, people):
    from .factories import support_for

    one = made["post_a1"]
    SourceRecord.objects.filter(pk=one["record"].pk).update(person=one["person"])
    household = one["person"].household
    support_for(household, one["list"].agency)
    support_for(household, AgencyFactory(code="crescent", name="هلال احمر"), kind="بسته بهداشتی")
    client.force_login(users[Role.PARTNER_STAFF])
    page = client.get("/needs/supports/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "هلال احمر" in page and "بسته بهداشتی" in page and "R-post_a1" in page
    assert one["person"].national_code not in page


def test_link_button_queues_the_run_and_the_page_polls(
    client, users, made, django_capture_on_commit_callbacks
):
    one = made["post_a1"]["list"]
    client.force_login(users[Role.POST_SUPERVISOR])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(f"/needs/lists/{one.pk}/link/")
    assert (response.status_code, len(queued)) == (302, 1)
    one.refresh_from_db()
    assert one.link_status == "linking"
    page = client.get(f"/needs/lists/{one.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'hx-trigger="every 2s"' in page and "Link to the registry" not in page


def test_partner_staff_may_not_link(client, users, made):
    one = made["post_a1"]["list"]
    client.force_login(users[Role.PARTNER_STAFF])
    assert client.post(f"/needs/lists/{one.pk}/link/").status_code == 403
    one.refresh_from_db()
    assert one.link_status == "not_linked"


def test_household_panel_shows_score_reasons_needs_and_supports(client, users, made):
    from mahalle.needs.models import HouseholdNeed
    from mahalle.needs.services import household_vulnerability_refresh
    from mahalle.registry.models import Household

    from .factories import support_for

    person = made["post_a1"]["person"]
    Household.objects.filter(pk=person.household_id).update(female_headed=True)
    HouseholdNeed.objects.create(
        household=person.household,
        org_unit=person.org_unit,
        org_path=person.org_path,
        kind="housing",
        source="manual",
        noted_on=dt.date(2026, 11, 1),
    )
    support_for(person.household, made["post_a1"]["list"].agency, kind="کارت هدیه")
    household_vulnerability_refresh(household_ids=[person.household_id])
    client.force_login(users[Role.FIELD_VOLUNTEER])
    page = client.get(f"/needs/households/{person.household_id}/panel/", HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "female-headed household (1): +3" in text and "kinds of need still open (1): +1" in text
    assert "housing" in text and "کارت هدیه" in text and "کمیته امداد" in text
