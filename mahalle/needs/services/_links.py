"""Attach and detach: the one place a source record's person changes. Every change is a LinkChange row (so it
can be undone), and the record's need and support follow the person's household. Private to the services."""

import datetime as dt

from django.db import connection
from django.utils import timezone

from mahalle.registry.models import Person

from ..models import HouseholdNeed, LinkChange, NeedSource, SourceRecord, Support


def _by(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _need_and_support(record: SourceRecord, household, *, by, today: dt.date) -> list:
    """The HouseholdNeed and Support (unsaved) a record's need_kind and support give its person's household."""
    common = {
        "household_id": household.pk,
        "org_unit_id": household.org_unit_id,
        "org_path": household.org_path,
        "agency_id": record.agency_id,
        "source_ref": str(record.pk),
        "created_by": by,
        "modified_by": by,
    }
    made = []
    if record.need_kind:
        made.append(
            HouseholdNeed(kind=record.need_kind, source=NeedSource.AGENCY_LIST, noted_on=today, **common)
        )
    if record.support:
        made.append(Support(kind=record.support, start_date=today, **common))
    return made


def _needs_and_supports(record: SourceRecord, person: Person | None) -> None:
    """The record's need and support belong to its person's household: drop what it said before, then add."""
    ref = str(record.pk)
    HouseholdNeed.objects.filter(source=NeedSource.AGENCY_LIST, source_ref=ref).delete()
    Support.objects.filter(agency_id=record.agency_id, source_ref=ref).delete()
    if person is None or person.household_id is None:
        return
    for row in _need_and_support(record, person.household, by=None, today=timezone.localdate()):
        row.save(force_insert=True)


def _attach(
    record: SourceRecord,
    person: Person | None,
    *,
    status: str,
    actor,
    action: str,
    probability: float | None = None,
    reason: str = "",
) -> None:
    before = record.person_id
    record.person = person
    record.link_status = status
    if probability is not None:
        record.match_probability = probability
    record.linked_at = timezone.now() if person is not None else None
    record.modified_by = _by(actor)
    record.save(
        update_fields=[
            "person",
            "link_status",
            "match_probability",
            "linked_at",
            "modified_by",
            "modified_at",
        ]
    )
    if before != (person.pk if person else None):
        LinkChange.objects.create(
            source_record=record,
            from_person_id=before,
            to_person=person,
            action=action,
            by=record.modified_by,
            reason=reason[:500],
        )
        _needs_and_supports(record, person)


def _uuid(value):
    return None if value is None else Person._meta.pk.get_db_prep_value(value, connection)


def _when(value):
    return connection.ops.adapt_datetimefield_value(value)


def _execute_many(sql: str, rows: list) -> None:
    """One prepared UPDATE for many rows (Django's bulk_update builds a CASE per field and row: far slower)."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


def _attach_many(links: list, *, actor) -> None:
    """_attach for many records that had no person (a linkage run): a few bulk statements instead of a handful
    of queries per record. `links`: (record, person, status, action, probability)."""
    if not links:
        return
    by = _by(actor)
    now, today = timezone.now(), timezone.localdate()
    records, changes, needs, supports = [], [], [], []
    for record, person, status, action, probability in links:
        before = record.person_id
        record.person, record.link_status, record.linked_at, record.modified_by = person, status, now, by
        record.modified_at = now
        if probability is not None:
            record.match_probability = probability
        records.append(record)
        if before == person.pk:
            continue
        changes.append(
            LinkChange(source_record=record, from_person_id=before, to_person=person, action=action, by=by)
        )
        if person.household_id is None:
            continue
        for row in _need_and_support(record, person.household, by=by, today=today):
            (needs if isinstance(row, HouseholdNeed) else supports).append(row)
    _execute_many(
        "UPDATE needs_sourcerecord SET person_id = %s, link_status = %s, match_probability = %s, linked_at = %s, "
        "modified_by_id = %s, modified_at = %s WHERE id = %s",
        [
            (
                _uuid(r.person_id),
                r.link_status,
                r.match_probability,
                _when(now),
                by.pk if by else None,
                _when(now),
                _uuid(r.pk),
            )
            for r in records
        ],
    )
    refs = [str(r.pk) for r in records]
    for start in range(0, len(refs), 900):  # what these records said before (nothing, unless relinked)
        HouseholdNeed.objects.filter(
            source=NeedSource.AGENCY_LIST, source_ref__in=refs[start : start + 900]
        ).delete()
        Support.objects.filter(source_ref__in=refs[start : start + 900]).delete()
    LinkChange.objects.bulk_create(changes, batch_size=1000)
    HouseholdNeed.objects.bulk_create(needs, batch_size=1000)
    Support.objects.bulk_create(supports, batch_size=1000)
