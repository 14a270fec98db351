import datetime as dt
import re

import pytest
from django.urls import reverse

from mahalle.accounts.models import Role
from mahalle.cases.models import Isolation, TestOrder
from mahalle.registry.tests.factories import PersonFactory
from mahalle.screening.coverage import coverage_refresh
from mahalle.screening.models import MemberScreening, ScreeningVisit


@pytest.fixture
def volunteer(client, users):
    client.force_login(users[Role.FIELD_VOLUNTEER])
    return users[Role.FIELD_VOLUNTEER]


@pytest.fixture
def family(tree, people):
    """The household of post a1: its head (30) and an elderly member (70)."""
    head = people["post_a1"]
    head.birth_date = dt.date(1995, 1, 1)
    head.save()
    elder = PersonFactory(org_unit=tree["post_a1"], household=head.household, birth_date=dt.date(1950, 1, 1))
    return head.household, head, elder


def _visit_id(html: str) -> str:
    return re.search(r'name="visit_id" value="([0-9a-f-]{36})"', html).group(1)


def _form_data(visit_id, head, elder, **overrides):
    data = {
        "visit_id": visit_id,
        "visit_date": "",
        "status": "screened",
        "needs": ["food"],
        "note": "",
        f"m-{head.pk}-present": "on",
        f"m-{head.pk}-symptoms": ["fever", "cough"],
        f"m-{head.pk}-onset_date": "",
        f"m-{head.pk}-spo2": "96",
        f"m-{elder.pk}-present": "on",
        f"m-{elder.pk}-spo2": "",
        f"m-{elder.pk}-onset_date": "",
    }
    data.update(overrides)
    return data


def test_the_volunteer_screens_a_household_and_sees_each_outcome_with_its_reasons(
    client, volunteer, family, today, campaign_a
):
    household, head, elder = family
    worklist = client.get(reverse("screening:index"))
    assert worklist.status_code == 200
    form_url = reverse("screening:visit_form", kwargs={"household_id": household.pk})
    assert form_url in worklist.content.decode()

    form = client.get(form_url)
    html = form.content.decode()
    assert form.status_code == 200
    assert (
        f'name="m-{head.pk}-spo2"' in html and f'name="m-{elder.pk}-spo2"' in html
    )  # all members, one screen
    visit_id = _visit_id(html)
    data = _form_data(visit_id, head, elder, visit_date=today.isoformat())
    response = client.post(form_url, data)
    detail_url = reverse("screening:visit_detail", kwargs={"visit_id": visit_id})
    assert (response.status_code, response["Location"]) == (302, detail_url)

    visit = ScreeningVisit.objects.get()
    assert (str(visit.pk), visit.campaign, visit.needs, visit.volunteer) == (
        visit_id,
        campaign_a,
        ["food"],
        volunteer,
    )
    outcomes = dict(MemberScreening.objects.values_list("person_id", "outcome"))
    assert outcomes == {head.pk: "refer", elder.pk: "none"}

    page = client.get(detail_url).content.decode()
    assert "دو علامت یا بیشتر شامل تب، سرفه یا از دست دادن بویایی/چشایی" in page
    client.cookies["django_language"] = "en"
    page = client.get(detail_url).content.decode()
    assert "two or more symptoms including fever, cough or loss of smell/taste" in page
    assert f'data-person="{head.pk}" data-outcome="refer"' in page

    # the household is screened in the campaign: off the work list; the referral waits for its test
    worklist = client.get(reverse("screening:index")).content.decode()
    assert form_url not in worklist
    assert head.full_name in worklist and TestOrder.objects.get().person == head


def test_a_double_submit_stores_one_visit(client, volunteer, family, today, campaign_a):
    household, head, elder = family
    form_url = reverse("screening:visit_form", kwargs={"household_id": household.pk})
    data = _form_data(
        _visit_id(client.get(form_url).content.decode()), head, elder, visit_date=today.isoformat()
    )
    first, second = client.post(form_url, data), client.post(form_url, data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert first["Location"] == second["Location"]
    assert (ScreeningVisit.objects.count(), MemberScreening.objects.count(), TestOrder.objects.count()) == (
        1,
        2,
        1,
    )


def test_a_jalali_date_in_persian_digits_is_accepted(client, volunteer, family, today):
    from mahalle.core.dates import to_jalali_str

    household, head, elder = family
    form_url = reverse("screening:visit_form", kwargs={"household_id": household.pk})
    data = _form_data(
        _visit_id(client.get(form_url).content.decode()), head, elder, visit_date=to_jalali_str(today)
    )
    assert client.post(form_url, data).status_code == 302
    assert ScreeningVisit.objects.get().visit_date == today


def test_bad_input_is_shown_next_to_its_field_and_nothing_is_stored(client, volunteer, family, today):
    household, head, elder = family
    form_url = reverse("screening:visit_form", kwargs={"household_id": household.pk})
    visit_id = _visit_id(client.get(form_url).content.decode())
    client.cookies["django_language"] = "en"
    not_a_number = _form_data(
        visit_id, head, elder, visit_date=today.isoformat(), **{f"m-{head.pk}-spo2": "abc"}
    )
    response = client.post(form_url, not_a_number)
    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(rf'id="field-m-{head.pk}-spo2">.*?Enter a whole number\.', html, re.S)
    out_of_range = _form_data(
        visit_id, head, elder, visit_date=today.isoformat(), **{f"m-{head.pk}-spo2": "120"}
    )
    html = client.post(form_url, out_of_range).content.decode()
    assert re.search(rf'id="field-m-{head.pk}-spo2">.*?must be between 50 and 100', html, re.S)
    bad_dates = _form_data(
        visit_id, head, elder, visit_date="1403/13/01", **{f"m-{elder.pk}-onset_date": "yesterday"}
    )
    html = client.post(form_url, bad_dates).content.decode()
    assert re.search(r'id="field-visit_date">.*?not a date', html, re.S)
    assert re.search(rf'id="field-m-{elder.pk}-onset_date">.*?not a date', html, re.S)
    future = _form_data(visit_id, head, elder, visit_date=(today + dt.timedelta(days=3)).isoformat())
    html = client.post(form_url, future).content.decode()
    assert re.search(r'id="field-visit_date">.*?is in the future', html, re.S)
    absent_with_answers = _form_data(
        visit_id, head, elder, visit_date=today.isoformat(), **{f"m-{head.pk}-present": ""}
    )
    html = client.post(form_url, absent_with_answers).content.decode()
    assert re.search(rf'id="field-m-{head.pk}-present">.*?an absent member has no answers', html, re.S)
    assert ScreeningVisit.objects.count() == 0


def test_an_absent_household_is_recorded_without_answers(client, volunteer, family, today, campaign_a):
    household, head, elder = family
    form_url = reverse("screening:visit_form", kwargs={"household_id": household.pk})
    data = _form_data(
        _visit_id(client.get(form_url).content.decode()), head, elder, visit_date=today.isoformat()
    )
    data["status"] = "absent"
    assert client.post(form_url, data).status_code == 302
    visit = ScreeningVisit.objects.get()
    assert (visit.status, visit.members.count()) == ("absent", 0)
    assert (
        reverse("screening:visit_form", kwargs={"household_id": household.pk})
        in client.get(reverse("screening:index")).content.decode()
    )  # absent stays on the list


def test_a_household_outside_the_post_is_404(client, volunteer, people):
    other = people["post_a2"].household
    form_url = reverse("screening:visit_form", kwargs={"household_id": other.pk})
    assert client.get(form_url).status_code == 404
    assert client.post(form_url, {"visit_id": "x"}).status_code == 404
    assert ScreeningVisit.objects.count() == 0


@pytest.mark.parametrize("role", [Role.ANALYST, Role.PARTNER_STAFF])
def test_roles_that_may_not_write_cannot_open_the_form(client, users, people, role):
    client.force_login(users[role])
    form_url = reverse("screening:visit_form", kwargs={"household_id": people["post_a1"].household_id})
    assert client.get(form_url).status_code == 403
    expected = 403 if role == Role.ANALYST else 200
    assert client.get(reverse("screening:index") + "?post=SA1").status_code == expected


def test_follow_ups_due_link_to_the_follow_up_form(client, volunteer, people, today):
    person = people["post_a1"]
    isolation = Isolation.objects.create(
        person=person,
        setting=Isolation.Setting.HOME,
        start_date=today - dt.timedelta(days=1),
        planned_end_date=today + dt.timedelta(days=9),
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
    )
    html = client.get(reverse("screening:index")).content.decode()
    assert reverse("cases:follow_up", kwargs={"isolation_id": isolation.pk}) in html


def test_a_supervisor_of_several_posts_chooses_one(client, users, tree, people):
    client.force_login(users[Role.COUNTY_COORDINATOR])
    html = client.get(reverse("screening:index")).content.decode()
    assert 'value="SA1"' in html and 'value="SA2"' in html and 'value="SB1"' not in html
    assert client.get(reverse("screening:index") + "?post=SB1").status_code == 404
    assert client.get(reverse("screening:index") + "?post=SA2").status_code == 200


def test_the_coverage_page_drills_down(client, users, tree, people, today, campaign_a):
    coverage_refresh(campaign=campaign_a)
    client.force_login(users[Role.PROVINCE_COORDINATOR])
    url = reverse("screening:coverage")
    assert client.get(url).status_code == 200
    html = client.get(f"{url}?campaign={campaign_a.pk}").content.decode()
    assert 'data-code="CA"' in html and "org_unit=CA" in html
    html = client.get(f"{url}?campaign={campaign_a.pk}&org_unit=NA").content.decode()
    assert 'data-code="SA1"' in html and 'data-code="SA2"' in html
    assert client.get(f"{url}?campaign={campaign_a.pk}&org_unit=PB").status_code == 404
    assert client.get(f"{url}?campaign=not-a-uuid").status_code == 404
    assert client.get(f"{url}?campaign={campaign_a.pk}&org_unit=SA1").status_code == 200
    client.force_login(users[Role.ANALYST])  # aggregates: the analyst sees them too
    assert 'data-code="PA"' in client.get(f"{url}?campaign={campaign_a.pk}").content.decode()


def test_the_rules_page_lists_the_rules_with_their_reasons(client, users):
    client.force_login(users[Role.ANALYST])
    html = client.get(reverse("screening:rules")).content.decode()
    assert 'data-rule="low_spo2"' in html and "اشباع اکسیژن کمتر از ۹۳٪" in html
