"""Every write to the registry. Each is atomic and writes its audit event in the same transaction."""

import datetime as dt
import uuid

from django.db import transaction

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record
from mahalle.core.dates import PRECISION_DAY, InvalidDate, parse_date
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import normalize_digits, normalize_text, search_key
from mahalle.geo.models import Level, OrgUnit

from .models import Household, Person, Relation, Sex

PERSON_TEXT_FIELDS = ("first_name", "last_name", "father_name")
PERSON_FLAG_FIELDS = ("chronic_disease", "disability", "pregnant")


def _require_write(actor, unit: OrgUnit) -> None:
    if not actor.has_role(PERSONAL_DATA_WRITE_ROLES) or not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied("you may not write records in this org unit")
    if unit.level != Level.POST:
        raise ValidationFailed(
            "records belong to a health post",
            [field_error("org_unit", "choose a health post (the lowest level)")],
        )


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
    if data.get("national_code") not in (None, ""):
        try:
            clean["national_code"] = normalize_national_code(data["national_code"])
        except InvalidIdentifier as exc:
            errors.append(field_error("national_code", str(exc)))
    elif "national_code" in data:
        clean["national_code"] = None
    if data.get("mobile") not in (None, ""):
        try:
            clean["mobile"] = normalize_mobile(data["mobile"])
        except InvalidIdentifier as exc:
            errors.append(field_error("mobile", str(exc)))
    elif "mobile" in data:
        clean["mobile"] = ""
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
    return {
        "name_key": search_key(f"{values.get('first_name', '')}{values.get('last_name', '')}")[:200],
        "last_name_key": search_key(values.get("last_name", ""))[:100],
    }


@transaction.atomic
def person_create(*, actor, org_unit: OrgUnit, data: dict, household: Household | None = None,
                  person_id: uuid.UUID | None = None) -> Person:
    """Register a person. `person_id` is the client's own UUID (idempotency key), if it sent one."""
    _require_write(actor, org_unit)
    clean, errors = person_clean({"first_name": "", "last_name": "", **data})
    if clean.get("national_code") and Person.objects.filter(national_code=clean["national_code"]).exists():
        errors.append(field_error("national_code", "a person with this national code is already registered"))
    if household is not None and household.org_unit_id != org_unit.pk:
        errors.append(field_error("household", "the household belongs to another health post"))
    if errors:
        raise ValidationFailed("the person could not be saved", errors)
    person = Person.objects.create(
        id=person_id or uuid.uuid4(),
        org_unit=org_unit,
        org_path=org_unit.path,
        household=household,
        created_by=actor,
        modified_by=actor,
        **clean,
        **person_keys(clean),
    )
    if household is not None and clean.get("relation_to_head") == Relation.HEAD and household.head_id is None:
        household.head = person
        household.save(update_fields=["head", "modified_at"])
    audit_record(actor=actor, action="create", obj=person)
    return person


@transaction.atomic
def person_update(*, actor, person: Person, data: dict) -> Person:
    person = Person.objects.select_for_update().get(pk=person.pk)
    _require_write(actor, person.org_unit)
    clean, errors = person_clean(data)
    code = clean.get("national_code")
    if code and Person.objects.filter(national_code=code).exclude(pk=person.pk).exists():
        errors.append(field_error("national_code", "a person with this national code is already registered"))
    if errors:
        raise ValidationFailed("the person could not be saved", errors)
    changed = {k: [str(getattr(person, k)), str(v)] for k, v in clean.items() if getattr(person, k) != v}
    for key, value in {
        **clean,
        **person_keys({"first_name": person.first_name, "last_name": person.last_name, **clean}),
    }.items():
        setattr(person, key, value)
    person.modified_by = actor
    person.save()
    audit_record(actor=actor, action="update", obj=person, details={"changed": changed})
    return person


@transaction.atomic
def household_create(
    *,
    actor,
    org_unit: OrgUnit,
    address: str = "",
    phone: str = "",
    female_headed: bool = False,
    lost_income: bool = False,
    external_id: str | None = None,
) -> Household:
    _require_write(actor, org_unit)
    errors = []
    phone_clean = ""
    if phone:
        try:
            phone_clean = normalize_mobile(phone)
        except InvalidIdentifier:
            phone_clean = normalize_digits(phone)
            if not 8 <= len(phone_clean) <= 12:
                errors.append(field_error("phone", "is not a phone number"))
    if external_id and Household.objects.filter(external_id=external_id).exists():
        errors.append(field_error("external_id", "a household with this id already exists"))
    if errors:
        raise ValidationFailed("the household could not be saved", errors)
    household = Household.objects.create(
        org_unit=org_unit,
        org_path=org_unit.path,
        address=normalize_text(address)[:500],
        phone=phone_clean,
        female_headed=female_headed,
        lost_income=lost_income,
        external_id=external_id or None,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=household)
    return household
