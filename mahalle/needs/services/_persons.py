"""Registry persons (and households) for source records nothing matched: one at a time after a reviewer's
"different" or a split, in bulk for a linkage run. Private to the services. They are created through the
registry's services (its checks, and one audit event per person and household whose source is the list)."""

from mahalle.core.errors import ValidationFailed
from mahalle.core.persian import normalize_text
from mahalle.geo.models import Level
from mahalle.registry.models import Household, Person, Relation
from mahalle.registry.rules import person_clean, person_keys
from mahalle.registry.services import household_create, households_create_many, persons_create_many

from ..models import SourceRecord
from ._links import _by


def _source(record: SourceRecord) -> dict:
    """The source on the audit events of the persons and households made for a record: its list."""
    return {"agency_list": record.agency_list_id}


def _person_data(record: SourceRecord) -> dict:
    """What a record says of its person, as the registry's person fields (a name is never empty there)."""
    return {
        "first_name": record.first_name or "-",
        "last_name": record.last_name or "-",
        "father_name": record.father_name,
        "national_code": record.national_code if record.national_code_valid else "",
        "mobile": record.mobile if len(record.mobile) == 11 and record.mobile.startswith("09") else "",
        "sex": record.sex,
    }


def _person(record: SourceRecord, clean: dict, *, unit, household, relation: str, by) -> Person:
    """An unsaved registry person for a record (`clean`: its fields through registry.rules.person_clean); the
    birth date as the list gave it, a year alone keeping its precision."""
    return Person(
        org_unit=unit,
        org_path=unit.path,
        household=household,
        created_by=by,
        modified_by=by,
        relation_to_head=relation,
        birth_date=record.birth_date,
        birth_date_precision=record.birth_date_precision if record.birth_date else "day",
        **clean,
        **person_keys(clean),
    )


def _new_person(
    record: SourceRecord, *, actor, households: dict, household: Household | None = None
) -> Person | None:
    """A registry person (and household) from a record nothing matched. None if it has no health post."""
    if record.national_code_valid:
        existing = (
            Person.objects.select_related("household").filter(national_code=record.national_code).first()
        )
        if existing is not None:  # the same national code: the same person, whatever the model said
            return existing
    unit = record.org_unit
    if unit.level != Level.POST:
        return None
    key = (record.agency_list_id, record.household_ref) if record.household_ref else None
    household = household or (households.get(key) if key else None)
    if household is not None and household.org_unit_id != unit.pk:
        household = None
    relation = Relation.OTHER if household is not None else Relation.HEAD
    if household is None:
        household = household_create(
            actor=actor,
            org_unit=unit,
            address=record.address,
            phone=record.mobile if len(record.mobile) == 11 else "",
            source=_source(record),
        )
        if key:
            households[key] = household
    clean, errors = person_clean(_person_data(record))
    if errors:
        raise ValidationFailed("the person could not be saved", errors)
    person = _person(record, clean, unit=unit, household=household, relation=relation, by=actor)
    persons_create_many(actor=actor, source=_source(record), persons=[person])
    return person


def _new_persons_many(records: list, *, actor, households: dict) -> dict:
    """Registry persons (and households) for many records nothing matched, in bulk, through the registry's
    services: its cleaning (registry.rules.person_clean, person_keys), its write rule (a write role, a health
    post in the actor's jurisdiction), one audit event per person and household. Returns {record pk: Person or
    None (no post, or values the registry refuses)}. A valid national code already registered (or met earlier
    in the batch) is that person."""
    codes = {r.national_code for r in records if r.national_code_valid}
    known = {}
    for start in range(0, len(codes), 900):
        chunk = list(codes)[start : start + 900]
        for person in Person.objects.select_related("household").filter(national_code__in=chunk):
            known[person.national_code] = person
    by = _by(actor)
    result: dict = {}
    new_households, new_persons = [], []
    for record in records:
        if record.national_code_valid and record.national_code in known:
            result[record.pk] = known[record.national_code]
            continue
        unit = record.org_unit
        if unit.level != Level.POST:
            result[record.pk] = None
            continue
        clean, errors = person_clean(_person_data(record))
        if errors:
            result[record.pk] = None
            continue
        key = (record.agency_list_id, record.household_ref) if record.household_ref else None
        household = households.get(key) if key else None
        if household is not None and household.org_unit_id != unit.pk:
            household = None
        head = household is None
        if household is None:
            household = Household(
                org_unit=unit,
                org_path=unit.path,
                address=normalize_text(record.address)[:500],
                phone=clean["mobile"],
                created_by=by,
                modified_by=by,
            )
            new_households.append(household)
            if key:
                households[key] = household
        relation = Relation.HEAD if head else Relation.OTHER
        person = _person(record, clean, unit=unit, household=household, relation=relation, by=by)
        new_persons.append(person)
        if clean.get("national_code"):
            known[clean["national_code"]] = person
        result[record.pk] = person
    if new_persons:
        source = _source(records[0])  # the records of one list
        if new_households:
            households_create_many(actor=actor, source=source, households=new_households)
        persons_create_many(actor=actor, source=source, persons=new_persons)  # and sets the heads
    return result
