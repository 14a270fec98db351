"""Events (a gathering, a place) and who was there: attendees join the event's cluster."""

import uuid

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.models import Case, Classification
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.identifiers import InvalidIdentifier, normalize_national_code
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.registry.models import Person

from ..models import ChainCase, Event, EventAttendance
from ..rules import MAX_ATTENDEES
from ._common import _parse_day, _today
from .clusters import CHUNK, _cluster_new, _clusters_merge, _person_clusters

PERSON_FIELDS = ("pk", "org_unit_id", "org_path", "national_code")


@service
def event_create(*, actor, org_unit, name: str, kind: str, date) -> Event:
    require(actor, Can.TRACE, "your role may not record events")
    if not personal_record_visible(user=actor, org_path=org_unit.path):
        raise PermissionDenied("the org unit is outside your jurisdiction")
    errors: list = []
    name = normalize_text(name)[:200]
    if not name:
        errors.append(field_error("name", "is required"))
    if kind not in Event.Kind.values:
        errors.append(field_error("kind", f"must be one of {', '.join(Event.Kind.values)}"))
    day = _parse_day(date, "date", errors)
    if day is not None and day > _today():
        errors.append(field_error("date", "is in the future"))
    if errors:
        raise ValidationFailed("the event could not be recorded", errors)
    event = Event.objects.create(
        name=name,
        kind=kind,
        date=day,
        cluster_id=_cluster_new(),
        org_unit=org_unit,
        org_path=org_unit.path,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=event, details={"name": name, "date": str(day)})
    return event


def _attendees_found(person_ids, national_codes) -> dict:
    """The registered persons named by id or national code: {pk: row}; every entry that is invalid or not
    registered raises ValidationFailed (all or nothing), naming the entries."""
    errors: list = []
    codes = []
    for index, value in enumerate(national_codes):
        try:
            codes.append(normalize_national_code(value))
        except InvalidIdentifier as exc:
            errors.append(field_error(f"national_codes[{index}]", str(exc)))
    ids = []
    for index, value in enumerate(person_ids):
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            errors.append(field_error(f"person_ids[{index}]", "must be a UUID"))
    persons: dict = {}
    for start in range(0, max(len(ids), len(codes)), CHUNK):
        for row in Person.objects.filter(pk__in=ids[start : start + CHUNK]).values(*PERSON_FIELDS):
            persons[row["pk"]] = row
    by_code: dict = {}
    for start in range(0, len(codes), CHUNK):
        for row in Person.objects.filter(national_code__in=codes[start : start + CHUNK]).values(
            *PERSON_FIELDS
        ):
            by_code[row["national_code"]] = row
            persons[row["pk"]] = row
    missing_ids = [str(i) for i in ids if i not in persons]
    missing_codes = [c for c in codes if c not in by_code]
    if missing_ids:
        errors.append(field_error("person_ids", f"not registered: {', '.join(missing_ids[:20])}"))
    if missing_codes:
        errors.append(field_error("national_codes", f"not registered: {', '.join(missing_codes[:20])}"))
    if errors:
        raise ValidationFailed("the attendees could not be added; nothing was written", errors[:50])
    return persons


@service
def event_attendees_add(*, actor, event: Event, person_ids=(), national_codes=()) -> int:
    """Link everyone who was at the event (persons registered anywhere, by id or national code). All or
    nothing: one unknown or invalid entry refuses the whole list, with the entries named. Written in bulk
    inserts; people already listed are skipped. Returns how many attendances were added."""
    require(actor, Can.TRACE, "your role may not record events")
    if not personal_record_visible(user=actor, org_path=event.org_path):
        raise PermissionDenied("the event is outside your jurisdiction")
    if len(person_ids) + len(national_codes) > MAX_ATTENDEES:
        raise ValidationFailed(
            "too many attendees at once",
            [field_error("attendees", f"at most {MAX_ATTENDEES} in one request; send the rest in another")],
        )
    persons = _attendees_found(person_ids, national_codes)
    event = Event.objects.select_for_update().get(pk=event.pk)
    already = set(EventAttendance.objects.filter(event=event).values_list("person_id", flat=True))
    new_ids = [pk for pk in persons if pk not in already]
    if not new_ids:
        return 0
    cases: dict = {}
    for start in range(0, len(new_ids), CHUNK):
        for case in (
            Case.objects.filter(person_id__in=new_ids[start : start + CHUNK], outcome="")
            .exclude(classification=Classification.DISCARDED)
            .only("pk", "person_id", "org_path")
        ):
            cases[case.person_id] = case
    known = set(
        ChainCase.objects.filter(case_id__in=[c.pk for c in cases.values()]).values_list("pk", flat=True)
    )
    cluster = _clusters_merge(_person_clusters(new_ids) | {event.cluster_id})
    ChainCase.objects.bulk_create(
        [
            ChainCase(case_id=c.pk, person_id=c.person_id, org_path=c.org_path, cluster_id=cluster)
            for c in cases.values()
            if c.pk not in known
        ],
        batch_size=CHUNK,
    )
    rows = [
        EventAttendance(
            id=uuid.uuid4(),
            event=event,
            person_id=pk,
            case=cases.get(pk),
            cluster_id=cluster,
            org_unit_id=persons[pk]["org_unit_id"],
            org_path=persons[pk]["org_path"],
            created_by=actor,
            modified_by=actor,
        )
        for pk in new_ids
    ]
    EventAttendance.objects.bulk_create(rows, batch_size=CHUNK)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="tracing.eventattendance",
        rows=[(str(r.pk), r.org_path) for r in rows],
        details={"event": str(event.pk)},
    )
    return len(rows)
