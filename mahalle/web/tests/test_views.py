"""The web shell: sign-in, the dashboard, the header every page carries, the language switch."""

import datetime as dt
import importlib.util
import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from mahalle.core.display import fa_digits, jalali, number

pytestmark = pytest.mark.django_db

HTML_TAG = re.compile(r"<html lang=\"(\w+)\" dir=\"(\w+)\">")


def html_lang_dir(response) -> tuple[str, str]:
    return HTML_TAG.search(response.content.decode()).groups()


def test_anonymous_is_sent_to_login(client, tree):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_login_page_is_persian_rtl_by_default(client, tree):
    response = client.get("/login/")
    assert response.status_code == 200
    assert html_lang_dir(response) == ("fa", "rtl")
    body = response.content.decode()
    assert "<h1>ورود</h1>" in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_login_with_password_then_home(users):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/login/",
        {"username": "field_volunteer", "password": "correct-horse-battery", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_without_csrf_token_is_refused(users):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "field_volunteer", "password": "correct-horse-battery"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_wrong_password_shows_error_not_500(client, users):
    response = client.post("/login/", {"username": "field_volunteer", "password": "wrong-password-1"})
    assert response.status_code == 200
    assert 'class="errors"' in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("role", "role_fa", "home", "households", "persons"),
    [
        ("field_volunteer", "داوطلب سلامت", "post_a1", "۱", "۱"),
        ("post_supervisor", "مسئول پایگاه", "post_a1", "۱", "۱"),
        ("county_coordinator", "هماهنگ‌کننده شهرستان", "county_a", "۲", "۲"),
        ("province_coordinator", "هماهنگ‌کننده استان", "province_a", "۲", "۲"),
        ("national_coordinator", "هماهنگ‌کننده کشوری", "country", "۴", "۴"),
        ("partner_staff", "کارشناس سازمان همکار", "county_a", "۲", "۲"),
        ("analyst", "تحلیلگر", "country", "۴", "۴"),
        ("administrator", "مدیر سامانه", "country", "۴", "۴"),
    ],
)
def test_home_shows_user_role_jurisdiction_and_counts(
    client, users, tree, people, role, role_fa, home, households, persons
):
    user = users[role]
    client.force_login(user)
    body = client.get("/").content.decode()
    assert f'<span class="who">{user.get_full_name()}</span>' in body
    assert f'<span class="role">{role_fa}</span>' in body
    assert f'<span class="units">{tree[home].name_fa}</span>' in body
    assert f'data-count="households">{households}</dd>' in body
    assert f'data-count="persons">{persons}</dd>' in body


def test_analyst_home_has_no_link_to_personal_records(client, users, people):
    client.force_login(users["analyst"])
    body = client.get("/").content.decode()
    assert "/registry/" not in body
    assert "فقط آمار کلی" in body


def test_navigation_shows_areas_and_audit_only_for_audit_roles(client, users):
    client.force_login(users["field_volunteer"])
    body = client.get("/").content.decode()
    assert 'href="/registry/persons/"' in body
    assert "غربالگری" in body
    assert "به‌زودی" in body
    assert 'href="/audit/"' not in body
    client.force_login(users["county_coordinator"])
    assert 'href="/audit/"' in client.get("/").content.decode()


def test_language_switch_changes_lang_dir_and_text(client, users):
    client.force_login(users["field_volunteer"])
    response = client.get("/")
    assert html_lang_dir(response) == ("fa", "rtl")
    assert "<h1>پیشخوان</h1>" in response.content.decode()
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302
    response = client.get("/")
    assert html_lang_dir(response) == ("en", "ltr")
    body = response.content.decode()
    assert "<h1>Dashboard</h1>" in body
    assert "پیشخوان" not in body
    assert '<span class="role">field volunteer</span>' in body
    client.post("/i18n/setlang/", {"language": "fa", "next": "/"})
    assert html_lang_dir(client.get("/")) == ("fa", "rtl")


def test_sign_out_is_a_post_and_ends_the_session(client, users):
    client.force_login(users["field_volunteer"])
    body = client.get("/").content.decode()
    assert 'action="/logout/"' in body
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_static_files_are_served_locally(client, users):
    client.force_login(users["field_volunteer"])
    body = client.get("/").content.decode()
    assert '<script src="/static/htmx/htmx.min.js" defer></script>' in body
    assert '<link rel="stylesheet" href="/static/mahalle/mahalle.css">' in body
    assert "https://" not in body


def test_display_filters_follow_the_active_language():
    day = dt.date(1990, 3, 21)
    with translation.override("fa"):
        assert fa_digits("0912 123") == "۰۹۱۲ ۱۲۳"
        assert jalali(day) == "۱۳۶۹/۰۱/۰۱"
        assert jalali(day, "year") == "۱۳۶۹"
        assert number(12345) == "۱۲٬۳۴۵"
    with translation.override("en"):
        assert fa_digits("0912 123") == "0912 123"
        assert jalali(day) == "1990-03-21"
        assert jalali(day, "year") == "1990"
        assert number(12345) == "12,345"
    assert jalali(None) == ""


def test_compiled_translations_match_the_po_file():
    path = Path(__file__).resolve().parents[2] / "locale" / "compile.py"
    spec = importlib.util.spec_from_file_location("mahalle_locale_compile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
