"""Registry pages: jurisdiction (outside is 404), the analyst's lack of personal pages, tolerant search,
escaping, Persian/English display, and forms that show field errors and store nothing on bad input."""

import datetime as dt

import pytest
from django.utils.html import escape

from mahalle.audit.models import AuditEvent
from mahalle.registry.models import Person
from mahalle.registry.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def detail_url(person) -> str:
    return f"/registry/persons/{person.pk}/"


def household_url(household) -> str:
    return f"/registry/households/{household.pk}/"


def reads_of(obj) -> int:
    return AuditEvent.objects.filter(action="read", object_id=str(obj.pk)).count()


# --- who sees what -----------------------------------------------------------------------------------


def test_anonymous_is_redirected_to_login_from_every_page(client, people):
    person = people["post_a1"]
    for url in (
        "/registry/persons/?q=x",
        detail_url(person),
        f"{detail_url(person)}edit/",
        household_url(person.household),
        "/registry/persons/new/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next=/registry/"), url
    assert AuditEvent.objects.count() == 0


def test_volunteer_gets_404_for_a_person_of_another_post(client, users, people):
    other = people["post_a2"]
    client.force_login(users["field_volunteer"])
    response = client.get(detail_url(other))
    assert response.status_code == 404
    body = response.content.decode()
    assert other.last_name not in body
    assert other.national_code not in body
    assert "خارج از حوزه شماست" in body
    assert reads_of(other) == 0
    assert client.get(household_url(other.household)).status_code == 404
    assert client.get(f"{detail_url(other)}edit/").status_code == 404


def test_volunteer_sees_own_person_and_the_read_is_audited_once(client, users, people):
    person = people["post_a1"]
    client.force_login(users["field_volunteer"])
    response = client.get(detail_url(person))
    assert response.status_code == 200
    assert f"<h1>{person.full_name}</h1>" in response.content.decode()
    event = AuditEvent.objects.get(action="read", object_id=str(person.pk))
    assert event.actor == users["field_volunteer"]
    assert event.object_type == "registry.person"
    assert event.org_path == person.org_path


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("post_supervisor", {"post_a1"}, {"post_a2", "post_b1", "post_b2"}),
        ("county_coordinator", {"post_a1", "post_a2"}, {"post_b1", "post_b2"}),
        ("province_coordinator", {"post_a1", "post_a2"}, {"post_b1", "post_b2"}),
        ("partner_staff", {"post_a1", "post_a2"}, {"post_b1", "post_b2"}),
        ("national_coordinator", {"post_a1", "post_a2", "post_b1", "post_b2"}, set()),
        ("administrator", {"post_a1", "post_a2", "post_b1", "post_b2"}, set()),
    ],
)
def test_roles_see_their_subtree_only(client, users, people, role, visible, hidden):
    client.force_login(users[role])
    for key in visible:
        assert client.get(detail_url(people[key])).status_code == 200, key
        assert client.get(household_url(people[key].household)).status_code == 200, key
    for key in hidden:
        assert client.get(detail_url(people[key])).status_code == 404, key
        assert client.get(household_url(people[key].household)).status_code == 404, key


def test_analyst_never_gets_a_personal_page(client, users, people):
    person = people["post_a1"]
    client.force_login(users["analyst"])
    for url in (
        f"/registry/persons/?q={person.national_code}",
        detail_url(person),
        f"{detail_url(person)}edit/",
        household_url(person.household),
        "/registry/persons/new/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert person.last_name not in response.content.decode()
    response = client.post("/registry/persons/new/", {"first_name": "الف", "last_name": "ب"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 0
    assert Person.objects.count() == 4


def test_partner_staff_reads_but_may_not_write(client, users, people):
    person = people["post_a1"]
    client.force_login(users["partner_staff"])
    body = client.get(detail_url(person)).content.decode()
    assert "/edit/" not in body
    assert client.get(f"{detail_url(person)}edit/").status_code == 403
    assert client.get("/registry/persons/new/").status_code == 403


# --- search ------------------------------------------------------------------------------------------


@pytest.fixture
def karimi(tree):
    # ZWNJ inside the first name, Persian yeh and keheh in the last name.
    return PersonFactory(
        org_unit=tree["post_a1"], first_name="محمد\u200cرضا", last_name="کریمی", national_code="0012345679"
    )


@pytest.mark.parametrize(
    "query",
    [
        "كريمي",  # Arabic kaf and yeh
        "محمد رضا كريمي",  # a space where the ZWNJ was, Arabic letters
        "محمدرضا کریمی",  # no separator at all
        "محمد\u200cرضا کریمی",  # as stored
        "۰۰۱۲۳۴۵۶۷۹",  # national code in Persian digits
    ],
)
def test_search_is_tolerant_to_letters_spacing_zwnj_and_digits(client, users, karimi, query):
    client.force_login(users["field_volunteer"])
    response = client.get("/registry/persons/", {"q": query})
    assert response.status_code == 200
    body = response.content.decode()
    assert detail_url(karimi) in body
    assert "۱ نفر یافت شد" in body


def test_search_lists_nobody_outside_the_jurisdiction(client, users, tree, karimi):
    outsider = PersonFactory(org_unit=tree["post_b1"], first_name="محمدرضا", last_name="کریمی")
    client.force_login(users["field_volunteer"])
    body = client.get("/registry/persons/", {"q": "کریمی"}).content.decode()
    assert detail_url(karimi) in body
    assert detail_url(outsider) not in body


def test_search_without_match_says_so(client, users, karimi):
    client.force_login(users["field_volunteer"])
    body = client.get("/registry/persons/", {"q": "ناموجود"}).content.decode()
    assert "کسی با این مشخصات یافت نشد" in body
    assert 'class="result"' not in body


def test_search_answers_htmx_with_the_results_fragment_only(client, users, karimi):
    client.force_login(users["field_volunteer"])
    response = client.get("/registry/persons/", {"q": "کریمی"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert detail_url(karimi) in body
    assert "HX-Request" in response["Vary"]
    full = client.get("/registry/persons/", {"q": "کریمی"}).content.decode()
    assert "<html" in full
    assert 'hx-get="/registry/persons/"' in full


@pytest.mark.parametrize(
    "query", ["<>", "%", "_", "'; drop table", "۰۹۱۲", "x" * 500, "\u200c", "0012345678"]
)
def test_odd_search_input_is_answered_not_crashed(client, users, karimi, query):
    client.force_login(users["field_volunteer"])
    response = client.get("/registry/persons/", {"q": query})
    assert response.status_code == 200
    assert detail_url(karimi) not in response.content.decode()


def test_unknown_person_is_404(client, users, people):
    client.force_login(users["national_coordinator"])
    assert client.get("/registry/persons/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/registry/persons/not-a-uuid/").status_code == 404


def test_search_page_query_count_is_bounded(client, users, tree, django_assert_max_num_queries):
    for n in range(30):
        PersonFactory(org_unit=tree["post_a1"], last_name=f"کریمی{n}", chronic_disease=n % 2 == 0)
    client.force_login(users["field_volunteer"])
    with django_assert_max_num_queries(4):
        response = client.get("/registry/persons/", {"q": "کریمی"})
    assert response.content.decode().count('class="result"') == 30


# --- display -----------------------------------------------------------------------------------------


def test_html_in_a_name_is_escaped(client, users, tree):
    evil = PersonFactory(org_unit=tree["post_a1"], first_name="<script>alert(1)</script>", last_name="کریمی")
    client.force_login(users["field_volunteer"])
    for url in (detail_url(evil), "/registry/persons/?q=کریمی", household_url(evil.household)):
        body = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body, url
        assert escape("<script>alert(1)</script>") in body, url


def test_dates_are_jalali_in_persian_and_gregorian_in_english(client, users, tree):
    person = PersonFactory(
        org_unit=tree["post_a1"], birth_date=dt.date(1990, 3, 21), chronic_disease=True, pregnant=True
    )
    client.force_login(users["field_volunteer"])
    body = client.get(detail_url(person)).content.decode()
    assert "۱۳۶۹/۰۱/۰۱" in body
    assert "1990-03-21" not in body
    assert '<li class="badge badge-chronic_disease">بیماری زمینه‌ای</li>' in body
    assert '<li class="badge badge-pregnant">باردار</li>' in body
    assert (
        f'<span dir="ltr">{person.national_code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))}</span>'
        in body
    )
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = client.get(detail_url(person)).content.decode()
    assert "1990-03-21" in body
    assert "۱۳۶۹" not in body
    assert '<li class="badge badge-chronic_disease">chronic disease</li>' in body
    assert f'<span dir="ltr">{person.national_code}</span>' in body


def test_household_page_lists_its_members(client, users, people, tree):
    head = people["post_a1"]
    spouse = PersonFactory(
        org_unit=tree["post_a1"], household=head.household, relation_to_head="spouse", first_name="زهرا"
    )
    client.force_login(users["field_volunteer"])
    body = client.get(household_url(head.household)).content.decode()
    assert detail_url(head) in body
    assert detail_url(spouse) in body
    assert "همسر" in body
    assert reads_of(head.household) == 1


# --- forms -------------------------------------------------------------------------------------------

VALID = {
    "first_name": "علی",
    "last_name": "رضایی",
    "father_name": "حسن",
    "national_code": "0012345679",
    "mobile": "۰۹۱۲۱۲۳۴۵۶۷",
    "sex": "M",
    "birth_date": "۱۳۶۹/۰۱/۰۱",
    "relation_to_head": "head",
    "chronic_disease": "on",
}


def test_create_person_with_a_jalali_birth_date(client, users, tree):
    client.force_login(users["field_volunteer"])
    form = client.get("/registry/persons/new/").content.decode()
    assert f'<option value="{tree["post_a1"].pk}" selected>' in form
    response = client.post("/registry/persons/new/", {**VALID, "post": tree["post_a1"].pk})
    person = Person.objects.get(national_code="0012345679")
    assert response.status_code == 302
    assert response["Location"] == detail_url(person)
    assert person.birth_date == dt.date(1990, 3, 21)
    assert person.mobile == "09121234567"
    assert person.chronic_disease is True
    assert person.org_path == tree["post_a1"].path
    assert AuditEvent.objects.filter(action="create", object_id=str(person.pk)).count() == 1


def test_create_accepts_a_gregorian_date_too(client, users, tree):
    client.force_login(users["field_volunteer"])
    client.post("/registry/persons/new/", {**VALID, "birth_date": "1990-03-21", "post": tree["post_a1"].pk})
    assert Person.objects.get(national_code="0012345679").birth_date == dt.date(1990, 3, 21)


def test_bad_input_shows_field_errors_and_stores_nothing(client, users, tree, people):
    client.force_login(users["field_volunteer"])
    response = client.post(
        "/registry/persons/new/",
        {
            **VALID,
            "post": tree["post_a1"].pk,
            "first_name": "",
            "national_code": "0012345678",
            "birth_date": "1369/13/40",
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    first = body.split('id="field-first_name"')[1].split('id="field-last_name"')[0]
    assert "الزامی است" in first
    code = body.split('id="field-national_code"')[1].split('id="field-mobile"')[0]
    assert 'class="field-error"' in code
    birth = body.split('id="field-birth_date"')[1].split('id="field-relation_to_head"')[0]
    assert 'class="field-error"' in birth
    assert Person.objects.count() == 4
    assert AuditEvent.objects.count() == 0


def test_create_refuses_a_post_outside_the_jurisdiction(client, users, tree, people):
    client.force_login(users["field_volunteer"])
    response = client.post("/registry/persons/new/", {**VALID, "post": tree["post_b1"].pk})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'class="field-error"' in body.split('id="field-post"')[1].split('id="field-first_name"')[0]
    assert Person.objects.count() == 4


def test_duplicate_national_code_is_a_field_error(client, users, tree, people):
    client.force_login(users["field_volunteer"])
    existing = people["post_a1"].national_code
    response = client.post(
        "/registry/persons/new/", {**VALID, "national_code": existing, "post": tree["post_a1"].pk}
    )
    assert response.status_code == 422
    assert "فردی با این کد ملی قبلاً ثبت شده است" in response.content.decode()
    assert Person.objects.count() == 4


def test_add_member_to_a_household(client, users, people):
    household = people["post_a1"].household
    client.force_login(users["field_volunteer"])
    page = client.get(f"/registry/persons/new/?household={household.pk}").content.decode()
    assert 'id="field-post"' not in page
    response = client.post(
        f"/registry/persons/new/?household={household.pk}", {**VALID, "relation_to_head": "child"}
    )
    assert response.status_code == 302
    member = Person.objects.get(national_code="0012345679")
    assert member.household == household
    assert member.org_path == household.org_path


def test_coordinator_chooses_among_posts_and_types_a_code_when_there_are_many(
    client, users, tree, monkeypatch
):
    client.force_login(users["county_coordinator"])
    form = client.get("/registry/persons/new/").content.decode()
    assert f'<option value="{tree["post_a1"].pk}">' in form
    assert f'<option value="{tree["post_a2"].pk}">' in form
    assert f'value="{tree["post_b1"].pk}"' not in form
    monkeypatch.setattr("mahalle.registry.forms.POST_SELECT_LIMIT", 1)
    form = client.get("/registry/persons/new/").content.decode()
    assert '<input type="text" name="post"' in form
    assert client.post("/registry/persons/new/", {**VALID, "post": "SB1"}).status_code == 422
    assert not Person.objects.filter(national_code="0012345679").exists()
    response = client.post("/registry/persons/new/", {**VALID, "post": "SA2"})
    assert response.status_code == 302
    assert Person.objects.get(national_code="0012345679").org_unit == tree["post_a2"]


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_bad_or_foreign_household_parameter_is_404(client, users, people, value):
    client.force_login(users["field_volunteer"])
    assert client.get(f"/registry/persons/new/?household={value}").status_code == 404
    foreign = people["post_a2"].household.pk
    assert client.get(f"/registry/persons/new/?household={foreign}").status_code == 404


def test_edit_person(client, users, people):
    person = people["post_a1"]
    client.force_login(users["field_volunteer"])
    page = client.get(f"{detail_url(person)}edit/").content.decode()
    assert f'value="{person.first_name}"' in page
    data = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "national_code": person.national_code,
        "mobile": "09127654321",
        "birth_date": "1990",
        "disability": "on",
    }
    response = client.post(f"{detail_url(person)}edit/", data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.mobile == "09127654321"
    assert person.disability is True
    assert person.birth_date == dt.date(1990, 1, 1)
    assert person.birth_date_precision == "year"
    update = AuditEvent.objects.get(action="update", object_id=str(person.pk))
    assert update.details["changed"]["mobile"][1] == "09127654321"


def test_edit_with_bad_input_changes_nothing(client, users, people):
    person = people["post_a1"]
    before = (person.first_name, person.last_name, person.mobile)
    client.force_login(users["field_volunteer"])
    response = client.post(f"{detail_url(person)}edit/", {"first_name": "x", "last_name": "", "mobile": "12"})
    assert response.status_code == 422
    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.mobile) == before
    assert not AuditEvent.objects.filter(action="update").exists()
