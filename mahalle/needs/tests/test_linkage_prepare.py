"""Persian-aware preparation: each variant a partner list really contains gives the same key."""

import pandas as pd
import pytest

from mahalle.needs.linkage.prepare import address_parts, birth_parts, name_parts, prepare


def one(**fields) -> pd.Series:
    return prepare(pd.DataFrame([{"record_id": "r1", **fields}])).iloc[0]


@pytest.mark.parametrize(
    ("raw", "key", "title"),
    [
        ("محمدرضا", "محمدرضا", False),
        ("محمد رضا", "محمدرضا", False),
        ("محمد\u200cرضا", "محمدرضا", False),
        ("محمد  \u200c رضا", "محمدرضا", False),
        ("عبد الله", "عبدالله", False),
        ("علي", "علی", False),  # Arabic yeh
        ("كاظم", "کاظم", False),  # Arabic kaf
        ("سید علی", "علی", True),
        ("سيد علي", "علی", True),
        ("سیدعلی", "علی", True),
        ("سیدهادی", "هادی", True),  # سید + هادی, not سیده + ادی
        ("سیده فاطمه", "فاطمه", True),
        ("حاج حسین", "حسین", True),
        ("حاجی حسین", "حسین", True),
        ("میرزا حسن", "حسن", True),
        ("شیخ احمد", "احمد", True),
        ("زهرا سادات", "زهرا", True),
        ("میرحسین", "میرحسین", False),  # a name, not a title
        ("آرش", "ارش", False),  # alef madda folded
        ("", "", False),
    ],
)
def test_name_parts(raw, key, title):
    assert name_parts(raw) == (key, title)


def test_swapped_names_share_the_sorted_key():
    a = one(first_name="علی", last_name="محمدی")
    b = one(first_name="محمدی", last_name="علي")
    assert a["sorted_key"] == b["sorted_key"] == "علی محمدی"
    assert a["first_key"] == b["last_key"] == "علی"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-05-12", ("1990-05-12", 1990, 1369, "day")),
        ("1369/02/22", ("1990-05-12", 1990, 1369, "day")),
        ("۱۳۶۹/۰۲/۲۲", ("1990-05-12", 1990, 1369, "day")),
        ("١٣٦٩/٠٢/٢٢", ("1990-05-12", 1990, 1369, "day")),
        ("12/05/1990", ("1990-05-12", 1990, 1369, "day")),
        ("1990-05-12 00:00:00", ("1990-05-12", 1990, 1369, "day")),
        ("33005", ("1990-05-12", 1990, 1369, "day")),  # Excel serial day number
        ("1369", (None, None, 1369, "year")),  # a Jalali year alone spans two Gregorian years
        ("۱۹۹۰", (None, 1990, None, "year")),
        ("1369/13/40", (None, None, None, None)),
        ("unknown", (None, None, None, None)),
        ("", (None, None, None, None)),
    ],
)
def test_birth_parts(raw, expected):
    assert birth_parts(raw) == expected


def test_birth_year_comparable_across_calendars():
    assert one(birth_date="1369")["by_any"] == 1990
    assert one(birth_date="1990")["by_any"] == 1990
    assert one(birth_date="1990-05-12")["by_any"] == 1990


@pytest.mark.parametrize(
    ("raw", "nc", "valid"),
    [
        ("0012345679", "0012345679", True),
        ("001-234567-9", "0012345679", True),
        ("۰۰۱۲۳۴۵۶۷۹", "0012345679", True),
        ("12345679", "0012345679", True),  # leading zeros dropped by a spreadsheet
        ("0012345678", "0012345678", False),  # one-digit typo: kept, flagged invalid
        ("1111111111", None, False),
        ("12345", None, False),
        ("", None, False),
    ],
)
def test_national_code(raw, nc, valid):
    row = one(national_code=raw)
    assert (row["nc"] if isinstance(row["nc"], str) else None) == nc
    assert bool(row["nc_valid"]) is valid


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "9121234567",
        "0912 123 4567",
        "۰۹۱۲-۱۲۳-۴۵۶۷",
        "+98 (912) 123 45 67",
    ],
)
def test_mobile_formats(raw):
    assert one(mobile=raw)["mobile10"] == "9121234567"


@pytest.mark.parametrize("raw", ["02112345678", "0912123", "", "abc"])
def test_mobile_invalid_is_missing(raw):
    assert one(mobile=raw)["mobile10"] is None


@pytest.mark.parametrize(
    ("raw", "sex"), [("M", "M"), ("male", "M"), ("مرد", "M"), ("F", "F"), ("زن", "F"), ("?", None)]
)
def test_sex(raw, sex):
    assert one(sex=raw)["sex"] == sex


def test_county_father_and_address():
    row = one(county="ري", father_name="علی اکبر", address="تهران، خیابان امام کوچه ۱۲ پلاک 7")
    assert row["county_key"] == "ری"
    assert row["father_key"] == "علیاکبر"
    assert address_parts("خ امام ک12 پ ۷") == ("امام", "12-7")
    assert row["address_numbers"] == "12-7"


def test_bad_rows_never_raise_and_missing_columns_are_allowed():
    df = pd.DataFrame(
        {"record_id": ["a", "b"], "first_name": [None, 123], "birth_date": ["1369/99/99", None]}
    )
    out = prepare(df)
    assert list(out["record_id"]) == ["a", "b"]
    assert out["first_key"].tolist() == [None, "123"]
    assert out["bd"].tolist() == [None, None]


def test_vectorised_check_digit_agrees_with_core_identifiers():
    import random

    from mahalle.core.identifiers import national_code_checksum_ok, national_code_with_check_digit

    rng = random.Random(4)
    codes = [national_code_with_check_digit(f"{rng.randrange(10**9):09d}") for _ in range(300)]
    codes += [f"{rng.randrange(10**10):010d}" for _ in range(300)]
    out = prepare(pd.DataFrame({"record_id": [str(i) for i in range(len(codes))], "national_code": codes}))
    expected = [national_code_checksum_ok(c) and len(set(c)) > 1 for c in codes]
    assert out["nc_valid"].tolist() == expected
    assert sum(expected) >= 300


def test_persian_letters_compared_as_letters_not_bytes():
    """DuckDB's string distances count UTF-8 bytes; the engine's keys must make محمد / محسن far apart."""
    import duckdb

    from mahalle.needs.linkage.engine import _ascii

    a, b = _ascii(pd.Series(["محمد", "محسن"])).tolist()
    jw = duckdb.sql(f"select jaro_winkler_similarity('{a}', '{b}')").fetchall()[0][0]
    assert jw < 0.8
    assert len(a) == 4
