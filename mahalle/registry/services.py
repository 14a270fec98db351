"""Every write to the registry. Each is a @service (core.service): atomic, with its audit event in the same
transaction.

Persons are created one way only: `persons_create_many` (person_create, the importer and the needs linkage call
it), with one audit policy: one "create" event per person, object registry.person/<id>, whose details name the
source — {"source": {"entry": "form"}} (a page or the API), {"source": {"import_job": <id>}} (a registry file),
{"source": {"agency_list": <id>}} (a needs list). "Who created person X, when, from which file or list" is then one
audit search: object_type=registry.person, object_id=X, action=create (indexed). Households likewise with
`households_create_many` (object registry.household).
"""

import uuid
from collections.abc import Sequence
from pathlib import Path

from django.db import connection
from django.utils import timezone

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.bulk import BulkInserter, field_names
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.ingest import job_file, upload_stored
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.geo.models import Level, OrgUnit

from .models import Household, ImportJob, Person, Relation
from .rules import household_phone, person_clean, person_keys
from .selectors import may_import

FORM = {"entry": "form"}  # the source of a record typed into a page or sent to the API

_PERSON_FIELDS = field_names(Person)


def _require_write(actor, unit: OrgUnit) -> None:
    if not may(actor, Can.WRITE_PERSONAL) or not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied("you may not write records in this org unit")
    if unit.level != Level.POST:
        raise ValidationFailed(
            "records belong to a health post",
            [field_error("org_unit", "choose a health post (the lowest level)")],
        )


def _require_write_units(actor, units: dict) -> None:
    """_require_write for every org unit of a bulk write ({pk: OrgUnit or None to load}); actor None is the
    server's operator at the console (the import command without --user), who may write anywhere."""
    missing = [pk for pk, unit in units.items() if unit is None]
    if missing:
        units = {**units, **OrgUnit.objects.in_bulk(missing)}
    for unit in units.values():
        if actor is None:
            if unit.level != Level.POST:
                raise ValidationFailed(
                    "records belong to a health post",
                    [field_error("org_unit", "choose a health post (the lowest level)")],
                )
        else:
            _require_write(actor, unit)


def _uuid_text(value) -> str:
    """A UUID as audit events show it (dashed), from a UUID or its 32 hex digits."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _create_many(model, *, actor, source: dict, instances: Sequence, rows: Sequence[list]) -> int:
    """The one bulk creation of registry records (persons, households): check the actor against every org unit,
    insert, and write one "create" audit event per record with its source and org unit."""
    if instances and rows:
        raise ValueError("give instances or rows, not both")
    if instances:
        _require_write_units(actor, {o.org_unit_id: o.org_unit for o in instances})
        model.objects.bulk_create(instances, batch_size=1000)
        created = [(str(o.pk), o.org_path, o.org_unit_id) for o in instances]
    else:
        fields = field_names(model)
        at_id, at_unit, at_path = (fields.index(name) for name in ("id", "org_unit_id", "org_path"))
        _require_write_units(actor, dict.fromkeys({row[at_unit] for row in rows}))
        BulkInserter(model).insert(list(rows))
        created = [(_uuid_text(row[at_id]), row[at_path], row[at_unit]) for row in rows]
    audit_record_many(
        actor=actor, action="create", object_type=model._meta.label_lower, rows=created, details={"source": source}
    )
    return len(created)


def _heads_set(heads: list[tuple]) -> None:
    """A household whose head is not set gets the first of these persons ((person id, household id)) that is
    its head; setting it modifies the household."""
    first: dict = {}
    for person_id, household_id in heads:
        first.setdefault(str(household_id), (person_id, household_id))
    if not first:
        return
    meta = Household._meta
    now = meta.get_field("modified_at").get_db_prep_value(timezone.now(), connection)

    def db(value):
        return meta.pk.get_db_prep_value(
            value if isinstance(value, uuid.UUID) else uuid.UUID(value), connection
        )

    quote = connection.ops.quote_name
    table, pk, head, modified = (
        quote(meta.db_table),
        quote(meta.pk.column),
        quote(meta.get_field("head").column),
        quote(meta.get_field("modified_at").column),
    )
    sql = f"UPDATE {table} SET {head} = %s, {modified} = %s WHERE {pk} = %s AND {head} IS NULL"  # noqa: S608
    values = [(db(person), now, db(household)) for person, household in first.values()]
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            cursor.executemany(sql, values[start : start + 5000])


@service
def persons_create_many(
    *, actor, source: dict, persons: Sequence[Person] = (), rows: Sequence[list] = ()
) -> int:
    """Create persons: the only path that does. Returns how many were created.

    Give either `persons`, unsaved Person instances already cleaned (rules.person_clean) with their search keys
    (rules.person_keys) and their households saved; or `rows`, each Person's concrete fields in
    `core.bulk.field_names(Person)` order as the driver takes them (the importer, which never builds instances).
    `source` says where they come from ({"entry": "form"}, {"import_job": id}, {"agency_list": id}); it goes on
    each person's audit event.

    Checked: the actor may write personal records in every person's org unit, which is a health post (actor None
    is the server's operator at the console). Written with the persons: a person whose relation is "head" becomes
    the head of their household if it has none yet; one "create" audit event per person."""
    count = _create_many(Person, actor=actor, source=source, instances=persons, rows=rows)
    if persons:
        heads = [
            (p.pk, p.household_id) for p in persons if p.relation_to_head == Relation.HEAD and p.household_id
        ]
        now = timezone.now()
        for person in persons:  # the instances follow their rows
            household = person.household if person.household_id else None
            if (
                person.relation_to_head == Relation.HEAD
                and household is not None
                and household.head_id is None
            ):
                household.head, household.modified_at = person, now
    else:
        at_id, at_household, at_relation = (
            _PERSON_FIELDS.index(name) for name in ("id", "household_id", "relation_to_head")
        )
        heads = [
            (row[at_id], row[at_household])
            for row in rows
            if row[at_relation] == Relation.HEAD and row[at_household] is not None
        ]
    _heads_set(heads)
    return count


@service
def households_create_many(
    *, actor, source: dict, households: Sequence[Household] = (), rows: Sequence[list] = ()
) -> int:
    """Create households, as persons_create_many creates persons (the same checks, the same audit policy: one
    "create" event per household with its `source`). `households`: unsaved instances with no head yet (a head is
    set when their persons are created); or `rows` in `core.bulk.field_names(Household)` order."""
    return _create_many(Household, actor=actor, source=source, instances=households, rows=rows)


@service
def person_create(
    *,
    actor,
    org_unit: OrgUnit,
    data: dict,
    household: Household | None = None,
    person_id: uuid.UUID | None = None,
    source: dict | None = None,
) -> Person:
    """Register a person. `person_id` is the client's own UUID (idempotency key), if it sent one; `source` goes on
    the audit event (default: a form)."""
    _require_write(actor, org_unit)
    clean, errors = person_clean({"first_name": "", "last_name": "", **data})
    if clean.get("national_code") and Person.objects.filter(national_code=clean["national_code"]).exists():
        errors.append(field_error("national_code", "a person with this national code is already registered"))
    if household is not None and household.org_unit_id != org_unit.pk:
        errors.append(field_error("household", "the household belongs to another health post"))
    if errors:
        raise ValidationFailed("the person could not be saved", errors)
    person = Person(
        id=person_id or uuid.uuid4(),
        org_unit=org_unit,
        org_path=org_unit.path,
        household=household,
        created_by=actor,
        modified_by=actor,
        **clean,
        **person_keys(clean),
    )
    persons_create_many(actor=actor, source=source or FORM, persons=[person])
    return person


@service
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


@service
def household_create(
    *,
    actor,
    org_unit: OrgUnit,
    address: str = "",
    phone: str = "",
    female_headed: bool = False,
    lost_income: bool = False,
    external_id: str | None = None,
    source: dict | None = None,
) -> Household:
    _require_write(actor, org_unit)
    errors = []
    phone_clean = ""
    if phone:
        phone_clean, valid = household_phone(phone)
        if not valid:
            errors.append(field_error("phone", "is not a phone number"))
    if external_id and Household.objects.filter(external_id=external_id).exists():
        errors.append(field_error("external_id", "a household with this id already exists"))
    if errors:
        raise ValidationFailed("the household could not be saved", errors)
    household = Household(
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
    households_create_many(actor=actor, source=source or FORM, households=[household])
    return household


@service
def import_job_create(
    *, actor, kind: str, org_unit: OrgUnit, file_path: str | Path, file_name: str = "", file_sha: str = ""
) -> ImportJob:
    """Register an import of `file_path` into `org_unit`'s subtree; registry.imports.import_job_run does the work.

    `actor` None is the server's operator at the console (the CLI without --user)."""
    if kind not in ImportJob.Kind.values:
        raise ValidationFailed("unknown import kind", [field_error("kind", "must be households or persons")])
    if not may_import(actor=actor, org_unit=org_unit):
        raise PermissionDenied("you may not import records into this org unit")
    job = ImportJob.objects.create(
        kind=kind,
        **job_file(file_path, file_name=file_name, file_sha=file_sha),
        org_unit=org_unit,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="create",
        obj=job,
        org_unit=org_unit,
        details={"kind": kind, "file": job.file_name, "sha256": job.file_sha256},
    )
    return job


@service
def import_job_upload(*, actor, kind: str, org_unit_code: str, upload) -> ImportJob:
    """An uploaded file: check the org unit, the kind and the actor, store the file (core.ingest.upload_stored:
    UploadTooLarge over the byte limit) and create its job. tasks.import_job_submit queues the run."""
    org_unit = OrgUnit.objects.filter(code=normalize_text(org_unit_code)).first()
    if org_unit is None:
        raise ValidationFailed("unknown org unit", [field_error("org_unit", "no org unit has this code")])
    if kind not in ImportJob.Kind.values:
        raise ValidationFailed("unknown import kind", [field_error("kind", "must be households or persons")])
    if not may_import(actor=actor, org_unit=org_unit):
        raise PermissionDenied("you may not import records into this org unit")
    return import_job_create(actor=actor, kind=kind, org_unit=org_unit, **upload_stored(upload))
