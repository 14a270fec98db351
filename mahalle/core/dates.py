"""Dates: Gregorian in storage, Jalali on screen, either accepted on input."""

import datetime as dt
import re

import jdatetime

from .persian import normalize_text, to_persian_digits


class InvalidDate(ValueError):
    pass


PRECISION_DAY = "day"
PRECISION_YEAR = "year"
_FULL = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_FULL_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")
# Jalali years in use for living people run ~1280-1420; Gregorian ~1900-2040. The ranges do not overlap.
JALALI_MAX_YEAR = 1500


def parse_date(value: object, *, allow_year_only: bool = False) -> tuple[dt.date, str]:
    """Parse Gregorian YYYY-MM-DD, Jalali YYYY/MM/DD, or (if allowed) a year alone, in any digits.

    The calendar is told by the year: below 1500 it is Jalali. Returns (gregorian date, precision).
    A year alone becomes the first day of that year in its calendar, with precision "year".
    """
    if isinstance(value, dt.datetime):
        return value.date(), PRECISION_DAY
    if isinstance(value, dt.date):
        return value, PRECISION_DAY
    text = normalize_text(value).replace(" ", "")
    if not text:
        raise InvalidDate("date is empty")
    if text.endswith("T00:00:00") or text.endswith(" 00:00:00"):
        text = text[:10]
    match = _FULL.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _FULL_DMY.match(text)
        if match:
            day, month, year = (int(g) for g in match.groups())
        elif allow_year_only and _YEAR.match(text):
            year = int(text)
            try:
                if year < JALALI_MAX_YEAR:
                    return jdatetime.date(year, 1, 1).togregorian(), PRECISION_YEAR
                return dt.date(year, 1, 1), PRECISION_YEAR
            except ValueError as exc:
                raise InvalidDate(f"year {year} is out of range") from exc
        else:
            raise InvalidDate(f"'{value}' is not a date (expected YYYY-MM-DD or Jalali YYYY/MM/DD)")
    try:
        if year < JALALI_MAX_YEAR:
            return jdatetime.date(year, month, day).togregorian(), PRECISION_DAY
        return dt.date(year, month, day), PRECISION_DAY
    except ValueError as exc:
        raise InvalidDate(f"'{value}' is not a valid calendar date") from exc


def to_jalali_str(
    value: dt.date | dt.datetime | None, *, persian_digits: bool = True, precision: str = PRECISION_DAY
) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        jd = jdatetime.datetime.fromgregorian(datetime=value)
        text = jd.strftime("%Y/%m/%d %H:%M")
    else:
        jd = jdatetime.date.fromgregorian(date=value)
        text = str(jd.year) if precision == PRECISION_YEAR else jd.strftime("%Y/%m/%d")
    return to_persian_digits(text) if persian_digits else text


def age_on(birth_date: dt.date | None, on: dt.date) -> int | None:
    if birth_date is None:
        return None
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
