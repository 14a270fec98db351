"""The registry's pure rules: how person and household fields are validated and normalised. No database, no
actor: the same answer for the forms, the API, the importer and the needs lists."""

import datetime as dt

from mahalle.core.dates import PRECISION_DAY, InvalidDate, parse_date
from mahalle.core.errors import field_error
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import normalize_digits, normalize_text, search_key

from .models import Relation, Sex

PERSON_TEXT_FIELDS = ("first_name", "last_name", "father_name")
PERSON_FLAG_FIELDS = ("chronic_disease", "disability", "pregnant")


def person_clean(data: dict, *, today: dt.date | None = None) -> tuple[dict, list[dict]]:
    """Validate and normalise person fields. Returns (clean values, field errors); used by forms, API, import."""
    clean: dict = {}
    errors: list[dict] = []
    for name in PERSON_TEXT_FIELDS:
        if name in data:
            value = normalize_text(data[name])
            if len(value) > 100:
                errors.append(field_error(name, "longer than 100 characters"))
            elif any(ch in value for ch in "<>{}"):
                errors.append(field_error(name, "contains characters not allowed in a name (< > { })"))
            clean[name] = value
    for name in ("first_name", "last_name"):
        if name in data and not clean.get(name):
            errors.append(field_error(name, "is required"))
    # Identifiers: normalised when given; given empty, stored as "no value" (NULL for the unique national code).
    identifiers = (("national_code", normalize_national_code, None), ("mobile", normalize_mobile, ""))
    for name, normalize, empty in identifiers:
        if data.get(name) not in (None, ""):
            try:
                clean[name] = normalize(data[name])
            except InvalidIdentifier as exc:
                errors.append(field_error(name, str(exc)))
        elif name in data:
            clean[name] = empty
    if data.get("sex") not in (None, ""):
        sex = normalize_text(data["sex"]).upper()
        sex = {"MALE": "M", "FEMALE": "F", "مرد": "M", "زن": "F", "1": "M", "2": "F"}.get(sex, sex)
        if sex not in Sex.values:
            errors.append(field_error("sex", "must be M or F (مرد / زن)"))
        clean["sex"] = sex
    if data.get("birth_date") not in (None, ""):
        try:
            birth, precision = parse_date(data["birth_date"], allow_year_only=True)
            if birth > (today or dt.date.today()):
                errors.append(field_error("birth_date", "is in the future"))
            elif birth.year < 1880:
                errors.append(field_error("birth_date", "is before 1880"))
            clean["birth_date"], clean["birth_date_precision"] = birth, precision
        except InvalidDate as exc:
            errors.append(field_error("birth_date", str(exc)))
    elif "birth_date" in data:
        clean["birth_date"], clean["birth_date_precision"] = None, PRECISION_DAY
    if data.get("relation_to_head") not in (None, ""):
        if data["relation_to_head"] not in Relation.values:
            errors.append(field_error("relation_to_head", f"must be one of {', '.join(Relation.values)}"))
        clean["relation_to_head"] = data["relation_to_head"]
    for name in PERSON_FLAG_FIELDS:
        if name in data and data[name] is not None:
            clean[name] = bool(data[name])
    return clean, errors


def person_keys(values: dict) -> dict:
    """The search keys of a person's names (core.persian.search_key), stored beside them."""
    return {
        "name_key": search_key(f"{values.get('first_name', '')}{values.get('last_name', '')}")[:200],
        "last_name_key": search_key(values.get("last_name", ""))[:100],
    }


def household_phone(raw: object) -> tuple[str, bool]:
    """A household's phone as stored: a mobile normalised (09…), else its digits; and whether it is a phone
    number at all (a landline with its area code has 8 to 12 digits)."""
    try:
        return normalize_mobile(raw), True
    except InvalidIdentifier:
        digits = normalize_digits(raw)
        return digits, 8 <= len(digits) <= 12
