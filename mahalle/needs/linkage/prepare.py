"""Persian-aware preparation of person records for linkage (pure: pandas + mahalle.core helpers).

Accuracy is won here. Each raw column becomes one or more comparison keys:

- names: the shared normaliser (ی/ي, ک/ك, ZWNJ, spacing, digits, diacritics), titles (سید، حاج، میر…)
  stripped into a flag, compound names joined (محمد رضا = محمدرضا = محمد‌رضا), alef/hamza variants folded;
  a sorted first+last key catches swapped first/last names; a consonant skeleton helps blocking on typos;
- birth date: Gregorian, Jalali or a year alone, in any digits (and Excel serial numbers) -> Gregorian and
  Jalali years, the ISO date only when the day is known, and the precision;
- national code: digits only (Persian digits, separators, dropped leading zeros), check-digit flag;
- mobile: every format (+98, 0098, 98, 0, none) -> 10 digits 9xxxxxxxxx;
- sex, county/province keys, address tokens.

Values repeat a lot (names, dates), so each function runs once per distinct value and is mapped back: a
million records prepare in seconds. Nothing here raises on a bad value: it becomes NULL (None).
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import jdatetime
import numpy as np
import pandas as pd

from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.names import COMMON_FEMALE_NAMES, COMMON_MALE_NAMES
from mahalle.core.persian import DIGITS_TO_ASCII, normalize_text, search_key
from mahalle.core.person_record import PERSON_RECORD_COLUMNS

RECORD_COLUMNS = list(PERSON_RECORD_COLUMNS)
PREPARED_COLUMNS = [
    "nc",
    "nc_valid",
    "first_key",
    "last_key",
    "father_key",
    "full_key",
    "sorted_key",
    "first_skel",
    "last_skel",
    "first_known",
    "has_title",
    "bd",
    "by_g",
    "by_j",
    "by_any",
    "bd_precision",
    "mobile10",
    "sex",
    "county_key",
    "province_key",
    "address_tokens",
    "address_numbers",
]

# Titles written before a name (as a separate word) and honorifics written after it.
LEADING_TITLES = {
    "سید",
    "سیده",
    "سیدہ",
    "حاج",
    "حاجی",
    "حاجیه",
    "میر",
    "شیخ",
    "میرزا",
    "کربلایی",
    "کبلایی",
    "کربلائی",
    "مشهدی",
    "مشتی",
    "دکتر",
    "مهندس",
    "استاد",
    "آقای",
    "اقای",
    "خانم",
    "بانو",
}
TRAILING_TITLES = {"سادات", "آقا", "اقا", "خانم", "بیگم"}
# Titles written joined to the name (سیدعلی, حاجعلی is rare; سید/سیده are the common ones).
JOINED_TITLES = ("سیده", "سید", "حاجی", "حاج")
_KEY_FOLD = str.maketrans({"آ": "ا", "أ": "ا", "إ": "ا", "ٱ": "ا", "ؤ": "و", "ئ": "ی", "ء": ""})
_SKELETON_DROP = str.maketrans({"ا": "", "و": "", "ی": "", "ه": "", "ع": "", "ء": ""})
_NON_LETTER = re.compile(r"[^\w]", re.UNICODE)
_DIGITS_ONLY = re.compile(r"\D")


# Very common given names (Faker's lists below miss some of them).
COMMON_FIRST_NAMES = [*COMMON_MALE_NAMES, "هادی", "هاشم", "مرتضی", *COMMON_FEMALE_NAMES]


def _known_first_names() -> frozenset[str]:
    """Known given names: to tell سیدهادی = سید + هادی from سیده + ادی, and two names from a typo.

    A one-letter difference between two *known* names (حسن / حسین) is two people, not a typo.
    Deployments can extend the list with a national register of given names.
    """
    try:
        from faker.providers.person.fa_IR import Provider

        names = [*Provider.first_names_male, *Provider.first_names_female]
    except ImportError:  # pragma: no cover - faker is a project dependency
        names = []
    return frozenset(_fold(search_key(n)) for n in [*names, *COMMON_FIRST_NAMES])


def _fold(key: str) -> str:
    return key.translate(_KEY_FOLD)


_KNOWN = _known_first_names()
_LEADING = frozenset(_fold(t) for t in LEADING_TITLES)
_TRAILING = frozenset(_fold(t) for t in TRAILING_TITLES)


def name_parts(value: object) -> tuple[str, bool]:
    """(key, had_title): the name's matching key without titles, and whether a title was written."""
    text = normalize_text(value)
    if not text:
        return "", False
    tokens = [t for t in re.split(r"[\s\u200c\-_.,،]+", text) if t]
    title = False
    while len(tokens) > 1 and _fold(tokens[0]) in _LEADING:
        tokens.pop(0)
        title = True
    while len(tokens) > 1 and _fold(tokens[-1]) in _TRAILING:
        tokens.pop()
        title = True
    key = _fold(_NON_LETTER.sub("", "".join(tokens)).lower())
    for joined in JOINED_TITLES:
        rest = key[len(joined) :]
        if key.startswith(joined) and len(rest) >= 2:
            # سیدهادی: "سیده"+"ادی" is wrong when "هادی" is a known name and "ادی" is not.
            if joined == "سیده" and rest not in _KNOWN and ("ه" + rest) in _KNOWN:
                continue
            key, title = rest, True
            break
    return key, title


def skeleton(key: str) -> str:
    """Consonant skeleton of a key: long vowels and ع/ه dropped (typos hit them most); for blocking."""
    return key.translate(_SKELETON_DROP) if key else ""


def _excel_serial(text: str) -> dt.date | None:
    if text.isdigit() and 5 <= len(text) <= 5 and 10000 <= int(text) <= 60000:
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    return None


_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


@functools.lru_cache(maxsize=200_000)
def _day(year: int, month: int, day: int) -> tuple[str | None, int | None, int | None, str | None]:
    """A full date (Jalali when the year is below 1500) -> (iso, Gregorian year, Jalali year, "day")."""
    try:
        if year < 1500:
            date = jdatetime.date(year, month, day).togregorian()
            return date.isoformat(), date.year, year, "day"
        date = dt.date(year, month, day)
    except ValueError:
        return None, None, None, None
    return date.isoformat(), date.year, jdatetime.date.fromgregorian(date=date).year, "day"


def birth_parts(value: object) -> tuple[str | None, int | None, int | None, str | None]:
    """(iso date or None, Gregorian year, Jalali year, precision) of a birth date in any accepted form."""
    text = str(value).translate(DIGITS_TO_ASCII).strip() if value is not None else ""
    match = _YMD.match(text)
    if match:  # the common case, without the general parser
        return _day(*(int(g) for g in match.groups()))
    text = normalize_text(text).strip()
    if not text:
        return None, None, None, None
    if len(text) > 10 and (" " in text or "T" in text):
        text = re.split(r"[ T]", text, maxsplit=1)[0]
    serial = _excel_serial(text)
    try:
        if serial is not None:
            date, precision = serial, "day"
        else:
            date, precision = parse_date(text, allow_year_only=True)
    except (InvalidDate, ValueError, OverflowError):
        return None, None, None, None
    if precision == "day":
        jy = jdatetime.date.fromgregorian(date=date).year
        return date.isoformat(), date.year, jy, "day"
    year = int(re.sub(r"\D", "", text))
    if year < 1500:  # a Jalali year spans two Gregorian years: only the Jalali year is known
        return None, None, year, "year"
    return None, year, None, "year"


def national_code_parts(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    digits = (
        series.fillna("")
        .astype(str)
        .str.translate(DIGITS_TO_ASCII)
        .str.replace(_DIGITS_ONLY, "", regex=True)
    )
    short = digits.str.len().isin([8, 9])
    digits = digits.where(~short, digits.str.zfill(10))
    ok_len = digits.str.len() == 10
    nc = digits.where(ok_len & ~digits.str.fullmatch(r"(\d)\1{9}").fillna(False), None)
    # Check digits for all codes at once: (sum of digit_i * (10 - i)) % 11, as identifiers.py does it.
    present = nc.notna().to_numpy()
    valid = np.zeros(len(nc), dtype=bool)
    if present.any():
        codes = np.frombuffer("".join(nc[present]).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
        total = (codes[:, :9].astype(np.int64) * np.arange(10, 1, -1)).sum(axis=1) % 11
        check = codes[:, 9]
        valid[present] = np.where(total < 2, check == total, check == 11 - total)
    return nc, pd.Series(valid, index=nc.index)


def mobile_parts(series: pd.Series) -> pd.Series:
    digits = (
        series.fillna("")
        .astype(str)
        .str.translate(DIGITS_TO_ASCII)
        .str.replace(_DIGITS_ONLY, "", regex=True)
    )
    n = digits.str.len()
    out = digits.copy()
    out = out.mask((n == 14) & digits.str.startswith("0098"), digits.str[4:])
    out = out.mask((n == 12) & digits.str.startswith("98"), digits.str[2:])
    out = out.mask((n == 11) & digits.str.startswith("0"), digits.str[1:])
    return out.where((out.str.len() == 10) & out.str.startswith("9"), None)


_SEX = {
    "m": "M",
    "male": "M",
    "man": "M",
    "1": "M",
    "مرد": "M",
    "مذکر": "M",
    "پسر": "M",
    "f": "F",
    "female": "F",
    "woman": "F",
    "2": "F",
    "زن": "F",
    "مونث": "F",
    "دختر": "F",
}


def sex_key(value: object) -> str | None:
    return _SEX.get(search_key(value)) if value is not None else None


# Words every address has (street, alley, plaque…) and their abbreviations: noise for matching.
ADDRESS_STOPWORDS = {
    "خیابان",
    "خ",
    "کوچه",
    "ک",
    "کوی",
    "پلاک",
    "پ",
    "بن",
    "بست",
    "بنبست",
    "میدان",
    "م",
    "بلوار",
    "بل",
    "طبقه",
    "ط",
    "واحد",
    "نبش",
    "جنب",
    "روبروی",
    "انتهای",
    "استان",
    "شهرستان",
    "شهر",
    "کد",
    "پستی",
    "و",
}
_ADDRESS_STOP = frozenset(_fold(w) for w in ADDRESS_STOPWORDS)


# One translate for addresses (they are nearly all distinct, so this runs per record): the normaliser's
# letter and digit maps and the key folding at once.
_ADDRESS_TABLE = str.maketrans(
    {
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        **{chr(0x0660 + i): str(i) for i in range(10)},
        "\u064a": "ی",
        "\u0649": "ی",
        "\u0643": "ک",
        "\u06c0": "ه",
        "\u0629": "ه",
        "آ": "ا",
        "أ": "ا",
        "إ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ئ": "ی",
        "ء": "",
        "\u200c": "",
        "\u0640": "",
    }
)
_ADDRESS_TOKENS = re.compile(r"\d+|[^\W\d_]+")


def address_parts(value: object) -> tuple[str | None, str | None]:
    """(sorted distinct word tokens without address boilerplate, the house numbers in order)."""
    if value is None:
        return None, None
    # Split letters from digits too ("پلاک12"), then drop boilerplate words.
    raw = _ADDRESS_TOKENS.findall(str(value).translate(_ADDRESS_TABLE).lower())
    if not raw:
        return None, None
    words = sorted({t for t in raw if not t.isdigit() and t not in _ADDRESS_STOP})
    numbers = [t.lstrip("0") or "0" for t in raw if t.isdigit()]
    return (" ".join(words) or None), ("-".join(numbers) or None)


def _map_unique(series: pd.Series, func) -> pd.Series:
    """Apply `func` once per distinct value (names and dates repeat), map back."""
    codes, uniques = pd.factorize(series.fillna("").astype(str))
    results = np.empty(len(uniques), dtype=object)
    results[:] = [func(u) for u in uniques]
    return pd.Series(results[codes] if len(codes) else results[:0], index=series.index, dtype=object)


def _map_unique_parts(series: pd.Series, func, names: list[str]) -> pd.DataFrame:
    """Like _map_unique for a function returning a tuple: one column per part."""
    codes, uniques = pd.factorize(series.fillna("").astype(str))
    parts = (
        pd.DataFrame([func(u) for u in uniques], columns=names)
        if len(uniques)
        else pd.DataFrame(columns=names)
    )
    taken = parts.iloc[codes].reset_index(drop=True) if len(codes) else parts.iloc[:0]
    taken.index = series.index
    return taken


def _none_if_empty(series: pd.Series) -> pd.Series:
    return series.where(series.astype(bool), None)


def _as_text(series: pd.Series) -> pd.Series:
    """Strings as given; numbers a spreadsheet turned into floats (123.0) back to their digits."""
    if series.dtype.kind == "f":
        whole = series.notna() & (series % 1 == 0)
        text = series.astype(object).where(series.notna(), "")
        return (
            text.where(~whole, series[whole].astype("int64").astype(str))
            .astype(str)
            .where(series.notna() | ~whole, "")
        )
    if series.dtype.kind in "iub":
        return series.astype(str)
    return series.astype(object).where(series.notna(), "").astype(str)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Cleaned comparison columns for raw person records; keeps `record_id` and `source` (if present)."""
    raw = df.copy()
    for col in RECORD_COLUMNS:
        raw[col] = _as_text(raw[col]) if col in raw.columns else ""
    if not len(raw):
        columns = ["record_id", *(["source"] if "source" in raw.columns else []), *PREPARED_COLUMNS]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.DataFrame(index=raw.index)
    out["record_id"] = raw["record_id"].fillna("").astype(str)
    if "source" in raw.columns:
        out["source"] = raw["source"].fillna("").astype(str)
    out["nc"], out["nc_valid"] = national_code_parts(raw["national_code"])

    names = {}
    for col in ("first_name", "last_name", "father_name"):
        parts = _map_unique_parts(raw[col], name_parts, ["key", "title"])
        names[col] = parts["key"].astype(object)
        names[col + "_title"] = parts["title"].astype(bool)
    first, last = names["first_name"], names["last_name"]
    out["first_key"] = _none_if_empty(first)
    out["last_key"] = _none_if_empty(last)
    out["father_key"] = _none_if_empty(names["father_name"])
    out["full_key"] = _none_if_empty(first + last)
    lo = np.where(first.to_numpy() <= last.to_numpy(), first, last)
    hi = np.where(first.to_numpy() <= last.to_numpy(), last, first)
    out["sorted_key"] = _none_if_empty(
        pd.Series(lo, index=raw.index) + " " + pd.Series(hi, index=raw.index)
    ).where(first.astype(bool) & last.astype(bool), None)
    out["first_known"] = first.isin(_KNOWN)
    out["first_skel"] = _none_if_empty(_map_unique(first, skeleton))
    out["last_skel"] = _none_if_empty(_map_unique(last, skeleton))
    out["has_title"] = names["first_name_title"] | names["last_name_title"]

    births = _map_unique_parts(raw["birth_date"], birth_parts, ["bd", "by_g", "by_j", "precision"])
    out["bd"] = births["bd"].astype(object)
    out["by_g"] = pd.array(births["by_g"], dtype="Int64")
    out["by_j"] = pd.array(births["by_j"], dtype="Int64")
    # One comparable year: the Gregorian year, or the Gregorian year in which most of the Jalali year falls.
    out["by_any"] = out["by_g"].fillna(out["by_j"] + 621)
    out["bd_precision"] = births["precision"].astype(object)

    out["mobile10"] = mobile_parts(raw["mobile"])
    out["sex"] = _map_unique(raw["sex"], sex_key)
    out["county_key"] = _none_if_empty(_map_unique(raw["county"], lambda v: _fold(search_key(v))))
    out["province_key"] = _none_if_empty(_map_unique(raw["province"], lambda v: _fold(search_key(v))))
    addresses = _map_unique_parts(raw["address"], address_parts, ["tokens", "numbers"])
    out["address_tokens"] = addresses["tokens"].astype(object)
    out["address_numbers"] = addresses["numbers"].astype(object)
    return out
