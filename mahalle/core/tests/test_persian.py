import datetime as dt

import pytest

from mahalle.core.dates import PRECISION_YEAR, InvalidDate, parse_date, to_jalali_str
from mahalle.core.identifiers import (
    InvalidIdentifier,
    national_code_with_check_digit,
    normalize_mobile,
    normalize_national_code,
)
from mahalle.core.persian import ZWNJ, normalize_text, search_key, to_persian_digits


def test_arabic_letters_become_persian():
    assert normalize_text("علي كريمي") == "علی کریمی"


def test_tatweel_diacritics_and_spacing_are_removed():
    assert normalize_text("  مُحَمّـــد   رضا ") == "محمد رضا"


def test_zwnj_runs_and_zwnj_beside_spaces_are_unified():
    assert normalize_text(f"می{ZWNJ}{ZWNJ}خواهم") == f"می{ZWNJ}خواهم"
    assert normalize_text(f"خانه {ZWNJ} ها") == "خانه ها"


def test_digits_become_ascii():
    assert normalize_text("۱۲۳٤٥٦") == "123456"
    assert to_persian_digits("1403/01/02") == "۱۴۰۳/۰۱/۰۲"


@pytest.mark.parametrize("variant", ["محمدرضا", "محمد رضا", f"محمد{ZWNJ}رضا", "محمد  رضا", "محمد رضا"])
def test_search_key_ignores_spacing_zwnj_and_arabic_yeh(variant):
    assert search_key(variant) == "محمدرضا"


def test_valid_national_code_in_any_digits_and_separators():
    code = national_code_with_check_digit("001234567")
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert normalize_national_code(f"{persian[:3]}-{persian[3:9]}-{persian[9]}") == code
    assert normalize_national_code(code.lstrip("0")) == code  # leading zeros lost by a spreadsheet


@pytest.mark.parametrize(
    "bad,reason",
    [("1234567890", "check digit"), ("1111111111", "repeated"), ("12345", "10 digits"), ("", "empty")],
)
def test_invalid_national_codes_say_why(bad, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        normalize_national_code(bad)


@pytest.mark.parametrize(
    "raw", ["09121234567", "+989121234567", "00989121234567", "989121234567", "9121234567", "۰۹۱۲ ۱۲۳ ۴۵۶۷"]
)
def test_mobile_formats(raw):
    assert normalize_mobile(raw) == "09121234567"


def test_mobile_rejects_landline():
    with pytest.raises(InvalidIdentifier):
        normalize_mobile("02188776655")


def test_dates_in_either_calendar_and_year_only():
    assert parse_date("2020-03-20") == (dt.date(2020, 3, 20), "day")
    assert parse_date("1399/01/01") == (dt.date(2020, 3, 20), "day")
    assert parse_date("۱۳۹۹/۰۱/۰۱") == (dt.date(2020, 3, 20), "day")
    assert parse_date("1360", allow_year_only=True) == (dt.date(1981, 3, 21), PRECISION_YEAR)
    assert to_jalali_str(dt.date(2020, 3, 20)) == "۱۳۹۹/۰۱/۰۱"


@pytest.mark.parametrize("bad", ["1399/13/01", "2020-02-30", "yesterday", "1360"])
def test_bad_dates_are_refused(bad):
    with pytest.raises(InvalidDate):
        parse_date(bad)
