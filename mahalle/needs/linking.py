"""Linking an agency list to the registry (thin around the pure engine in needs.linkage), the review queue's
decisions, and merges/splits of source records. Every change of a record's person is a LinkChange row, so each
can be undone; every reviewer decision is a ReviewDecision row, never overwritten.

agency_list_link: the engine runs outside any transaction (it only reads a DataFrame export); everything it
leads to (auto links, review pairs, new persons and households, needs and supports, audit) is then written in
ONE transaction. A run stopped half-way (crash, error) leaves the registry exactly as it was.
"""

import json
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mahalle.accounts.models import IMPORT_ROLES, PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.person_record import PERSON_RECORD_COLUMNS
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Household, Person, Relation
from mahalle.registry.services import household_create, person_clean, person_create, person_keys

from .models import (
    AgencyList,
    HouseholdNeed,
    LinkChange,
    LinkStatus,
    NeedSource,
    ReviewDecision,
    ReviewPair,
    SourceRecord,
    Support,
)

DEFAULT_AUTO_LINK = 0.99
DEFAULT_REVIEW = 0.80
# Who may run linkage and decide review pairs: they create registry persons, so write roles with import rights.
LINK_ROLES = IMPORT_ROLES
REVIEW_ROLES = IMPORT_ROLES
ENGINE_COLUMNS = PERSON_RECORD_COLUMNS
LINKED = (LinkStatus.AUTO, LinkStatus.REVIEWED, LinkStatus.NEW)


def thresholds() -> tuple[float, float]:
    """(auto-link, review) from settings.MAHALLE_LINKAGE, with the defaults above."""
    conf = getattr(settings, "MAHALLE_LINKAGE", None) or {}
    return float(conf.get("AUTO_LINK", DEFAULT_AUTO_LINK)), float(conf.get("REVIEW", DEFAULT_REVIEW))


def _require(actor, roles, unit: OrgUnit, what: str) -> None:
    if actor is None or not actor.has_role(roles) or not org_unit_in_jurisdiction(user=actor, unit=unit):
        raise PermissionDenied(f"you may not {what} here")


# --- the candidate export ---------------------------------------------------------------------------------


def candidate_scope(unit: OrgUnit) -> str:
    """The registry persons a list is compared with: those of the list's county (or the whole subtree of a
    province- or country-level list). Persons move between posts of a county; national runs use the CLI."""
    parts = unit.path.split(".")
    return ".".join(parts[: Level.COUNTY + 1]) + "." if unit.level >= Level.COUNTY else unit.path


def _place_names() -> dict[str, str]:
    """path of each province/county -> its Persian name, for the province/county columns of the export."""
    return dict(
        OrgUnit.objects.filter(level__in=[Level.PROVINCE, Level.COUNTY]).values_list("path", "name_fa")
    )


def _place(names: dict, path: str, level: int) -> str:
    return names.get(".".join(path.split(".")[: level + 1]) + ".", "")


def registry_frame(scope_path: str):
    import pandas as pd

    names = _place_names()
    rows = (
        Person.objects.filter(org_path__prefix=scope_path)
        .values_list(
            "id",
            "national_code",
            "first_name",
            "last_name",
            "father_name",
            "birth_date",
            "birth_date_precision",
            "sex",
            "mobile",
            "org_path",
            "household__address",
        )
        .iterator(chunk_size=5000)
    )
    records = []
    for pid, code, first, last, father, birth, precision, sex, mobile, path, address in rows:
        records.append(
            (
                str(pid),
                code or "",
                first,
                last,
                father,
                "" if birth is None else (str(birth.year) if precision == "year" else birth.isoformat()),
                sex,
                mobile,
                _place(names, path, Level.PROVINCE),
                _place(names, path, Level.COUNTY),
                address or "",
            )
        )
    return pd.DataFrame.from_records(records, columns=list(ENGINE_COLUMNS))


def records_frame(records):
    """The records to link, in the engine's input format. A record without province/county gets those of its
    org unit (the list was uploaded for that place), so they compare with the registry's."""
    import pandas as pd

    names = _place_names()
    return pd.DataFrame.from_records(
        [
            (
                str(r.pk),
                r.national_code,
                r.first_name,
                r.last_name,
                r.father_name,
                ""
                if r.birth_date is None
                else (
                    str(r.birth_date.year) if r.birth_date_precision == "year" else r.birth_date.isoformat()
                ),
                r.sex,
                r.mobile,
                r.province or _place(names, r.org_path, Level.PROVINCE),
                r.county or _place(names, r.org_path, Level.COUNTY),
                r.address,
            )
            for r in records
        ],
        columns=list(ENGINE_COLUMNS),
    )


def _engine_pairs(new, registry, auto: float, review: float):
    from .linkage.engine import LinkConfig, link_incremental

    if len(new) == 0 or len(registry) == 0:
        return []
    config = LinkConfig(auto_link_threshold=auto, review_threshold=review)
    frame = link_incremental(new, registry, config)
    return [
        (str(row.record_id), str(row.registry_id), float(row.match_probability), _evidence(row.evidence))
        for row in frame.itertuples(index=False)
    ]


def _evidence(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "{}")
    except (TypeError, ValueError):
        return {"raw": str(value)[:500]}
    return parsed if isinstance(parsed, dict) else {"fields": parsed}


# --- attach / detach: the one place a record's person changes ------------------------------------------------


def _needs_and_supports(record: SourceRecord, person: Person | None) -> None:
    """The record's need and support belong to its person's household: drop what it said before, then add."""
    ref = str(record.pk)
    HouseholdNeed.objects.filter(source=NeedSource.AGENCY_LIST, source_ref=ref).delete()
    Support.objects.filter(agency_id=record.agency_id, source_ref=ref).delete()
    if person is None or person.household_id is None:
        return
    household = person.household
    common = {
        "household": household,
        "org_unit_id": household.org_unit_id,
        "org_path": household.org_path,
        "agency_id": record.agency_id,
        "source_ref": ref,
    }
    if record.need_kind:
        HouseholdNeed.objects.create(
            kind=record.need_kind, source=NeedSource.AGENCY_LIST, noted_on=timezone.localdate(), **common
        )
    if record.support:
        Support.objects.create(kind=record.support, start_date=timezone.localdate(), **common)


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
    record.modified_by = actor if actor is not None and actor.is_authenticated else None
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
        )
        if key:
            households[key] = household
    data = {
        "first_name": record.first_name or "-",
        "last_name": record.last_name or "-",
        "father_name": record.father_name,
        "national_code": record.national_code if record.national_code_valid else "",
        "mobile": record.mobile if len(record.mobile) == 11 and record.mobile.startswith("09") else "",
        "sex": record.sex,
        "birth_date": record.birth_date.isoformat() if record.birth_date else "",
        "relation_to_head": relation,
    }
    person = person_create(actor=actor, org_unit=unit, data=data, household=household)
    if record.birth_date and record.birth_date_precision == "year":
        Person.objects.filter(pk=person.pk).update(birth_date_precision="year")
    return person


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
    by = actor if actor is not None and actor.is_authenticated else None
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
        household = person.household if person.household_id else None
        if household is None:
            continue
        common = {
            "household_id": household.pk,
            "org_unit_id": household.org_unit_id,
            "org_path": household.org_path,
            "agency_id": record.agency_id,
            "source_ref": str(record.pk),
        }
        if record.need_kind:
            needs.append(
                HouseholdNeed(
                    kind=record.need_kind,
                    source=NeedSource.AGENCY_LIST,
                    noted_on=today,
                    created_by=by,
                    modified_by=by,
                    **common,
                )
            )
        if record.support:
            supports.append(
                Support(kind=record.support, start_date=today, created_by=by, modified_by=by, **common)
            )
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


def _new_persons_many(records: list, *, actor, households: dict) -> dict:
    """Registry persons (and households) for many records nothing matched, in bulk: the registry's own cleaning
    (registry.services.person_clean, person_keys), its write rule (a write role, a health post in the actor's
    jurisdiction), one audit event per person and household. Returns {record pk: Person or None (no post, or
    values the registry refuses)}. A valid national code already registered (or met earlier in the batch) is
    that person."""
    codes = {r.national_code for r in records if r.national_code_valid}
    known = {}
    for start in range(0, len(codes), 900):
        chunk = list(codes)[start : start + 900]
        for person in Person.objects.select_related("household").filter(national_code__in=chunk):
            known[person.national_code] = person
    allowed: dict = {}
    by = actor if actor is not None and actor.is_authenticated else None
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
        if unit.pk not in allowed:
            allowed[unit.pk] = (
                actor is not None
                and actor.has_role(PERSONAL_DATA_WRITE_ROLES)
                and (org_unit_in_jurisdiction(user=actor, unit=unit))
            )
        if not allowed[unit.pk]:
            raise PermissionDenied("you may not write records in this org unit")
        clean, errors = person_clean(
            {
                "first_name": record.first_name or "-",
                "last_name": record.last_name or "-",
                "father_name": record.father_name,
                "national_code": record.national_code if record.national_code_valid else "",
                "mobile": record.mobile
                if len(record.mobile) == 11 and record.mobile.startswith("09")
                else "",
                "sex": record.sex,
            }
        )
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
        person = Person(
            org_unit=unit,
            org_path=unit.path,
            household=household,
            created_by=by,
            modified_by=by,
            relation_to_head=Relation.HEAD if head else Relation.OTHER,
            birth_date=record.birth_date,
            birth_date_precision=record.birth_date_precision if record.birth_date else "day",
            **clean,
            **person_keys(clean),
        )
        if head:
            household.head = person
        new_persons.append(person)
        if clean.get("national_code"):
            known[clean["national_code"]] = person
        result[record.pk] = person
    heads = [(h, h.head) for h in new_households]
    for household in new_households:
        household.head = None  # inserted first; the head is set once the persons exist
    Household.objects.bulk_create(new_households, batch_size=1000)
    for person in new_persons:
        person.household_id = person.household.pk
    Person.objects.bulk_create(new_persons, batch_size=1000)
    for household, person in heads:
        household.head = person
    _execute_many(
        "UPDATE registry_household SET head_id = %s WHERE id = %s",
        [(_uuid(person.pk), _uuid(household.pk)) for household, person in heads],
    )
    audit_record_many(
        actor=actor,
        action="create",
        object_type="registry.household",
        rows=[(str(h.pk), h.org_path) for h in new_households],
        details={"by": "linkage"},
    )
    audit_record_many(
        actor=actor,
        action="create",
        object_type="registry.person",
        rows=[(str(p.pk), p.org_path) for p in new_persons],
        details={"by": "linkage"},
    )
    return result


# --- the linkage run --------------------------------------------------------------------------------------


@transaction.atomic
def agency_list_link_request(*, actor, agency_list: AgencyList) -> AgencyList:
    """Queue a linkage run of the list (the button and the API): checked now, marked 'linking' (the list page
    polls while it is), run by the task worker once this is committed."""
    from .tasks import link_agency_list

    _require(actor, LINK_ROLES, agency_list.org_unit, "link this list")
    if agency_list.status != AgencyList.Status.DONE:
        raise ValidationFailed("the list is not read yet", [field_error("status", "wait until it is done")])
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKING, link_message=""
    )
    audit_record(
        actor=actor,
        action="link",
        obj=agency_list,
        org_unit=agency_list.org_unit,
        details={"requested": True},
    )
    list_id, actor_id = agency_list.pk, actor.pk
    transaction.on_commit(lambda: link_agency_list.enqueue(list_id, actor_id))
    agency_list.refresh_from_db()
    return agency_list


def agency_list_link(*, actor, agency_list: AgencyList, pairs_hook=None) -> dict:
    """Link the list's unlinked records to the registry. Returns the counts. `pairs_hook(pairs)` (tests) sees
    the engine's answer before it is written."""
    _require(actor, LINK_ROLES, agency_list.org_unit, "link this list")
    if agency_list.status != AgencyList.Status.DONE:
        raise ValidationFailed("the list is not read yet", [field_error("status", "wait until it is done")])
    auto, review = thresholds()
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKING, link_message=""
    )
    try:
        records = list(
            SourceRecord.objects.filter(agency_list=agency_list)
            .exclude(link_status__in=LINKED)
            .select_related("org_unit")
            .order_by("row_number")
        )
        pairs = _engine_pairs(
            records_frame(records), registry_frame(candidate_scope(agency_list.org_unit)), auto, review
        )
        if pairs_hook:
            pairs = pairs_hook(pairs)
        counts = _link_write(
            actor=actor, agency_list=agency_list, records=records, pairs=pairs, auto=auto, review=review
        )
    except Exception as exc:
        AgencyList.objects.filter(pk=agency_list.pk).update(
            link_status=AgencyList.LinkStatus.FAILED,
            link_message=f"{exc.__class__.__name__}: {exc}"[:2000] + " — nothing was changed; run it again",
        )
        raise
    agency_list.refresh_from_db()
    return counts


@transaction.atomic
def _link_write(
    *, actor, agency_list: AgencyList, records: list, pairs: list, auto: float, review: float
) -> dict:
    # One run writes at a time; a record another run linked meanwhile is left as that run left it.
    AgencyList.objects.select_for_update().filter(pk=agency_list.pk).first()
    still = set(
        SourceRecord.objects.filter(pk__in=[r.pk for r in records])
        .exclude(link_status__in=LINKED)
        .values_list("pk", flat=True)
    )
    records = [r for r in records if r.pk in still]
    by_record: dict = defaultdict(list)
    for record_id, person_id, probability, evidence in pairs:
        if probability >= review:
            by_record[record_id].append((probability, person_id, evidence))
    decided = defaultdict(dict)
    for record_id, person_id, decision in (
        ReviewPair.objects.filter(source_record__in=[r.pk for r in records])
        .exclude(decision="")
        .values_list("source_record_id", "person_id", "decision")
    ):
        decided[str(record_id)][str(person_id)] = decision
    person_ids = {pid for candidates in by_record.values() for _, pid, _ in candidates}
    persons = Person.objects.select_related("household").in_bulk(list(person_ids))
    persons = {str(k): v for k, v in persons.items()}
    counts = {"records": len(records), "auto": 0, "review": 0, "new": 0, "unplaced": 0, "kept_by_reviewer": 0}
    households: dict = {}
    later: list = []
    links: list = []
    for record in records:
        key = str(record.pk)
        human = decided.get(key, {})
        candidates = sorted(
            (c for c in by_record.get(key, []) if c[1] in persons and c[1] not in human), reverse=True
        )
        if any(decision == ReviewPair.Decision.SAME for decision in human.values()):
            counts["kept_by_reviewer"] += 1  # a reviewer said "same": a later run never undoes that
            continue
        if candidates and candidates[0][0] >= auto and (len(candidates) == 1 or candidates[1][0] < auto):
            probability, person_id, _evidence = candidates[0]
            links.append((record, persons[person_id], LinkStatus.AUTO, "auto", probability))
            if record.household_ref and persons[person_id].household_id:
                households.setdefault((agency_list.pk, record.household_ref), persons[person_id].household)
            counts["auto"] += 1
        elif candidates:
            for probability, person_id, evidence in candidates:
                pair, created = ReviewPair.objects.get_or_create(
                    source_record=record,
                    person=persons[person_id],
                    defaults={
                        "org_path": record.org_path,
                        "match_probability": probability,
                        "evidence": evidence,
                    },
                )
                if not created and pair.decision == "":
                    pair.match_probability, pair.evidence = probability, evidence
                    pair.save(update_fields=["match_probability", "evidence", "modified_at"])
            record.link_status, record.match_probability = LinkStatus.REVIEW, candidates[0][0]
            record.save(update_fields=["link_status", "match_probability", "modified_at"])
            counts["review"] += 1
        else:
            later.append(record)
    # new persons last, so they can join households found by their list-mates' links
    made = _new_persons_many(later, actor=actor, households=households)
    unplaced = []
    for record in later:
        person = made[record.pk]
        if person is None:  # no health post to register it in (or values the registry refuses): it waits
            record.link_status = LinkStatus.UNPLACED
            unplaced.append(record)
            counts["unplaced"] += 1
            continue
        links.append((record, person, LinkStatus.NEW, "new", None))
        counts["new"] += 1
    for start in range(0, len(unplaced), 900):
        SourceRecord.objects.filter(pk__in=[r.pk for r in unplaced[start : start + 900]]).update(
            link_status=LinkStatus.UNPLACED
        )
    _attach_many(links, actor=actor)
    AgencyList.objects.filter(pk=agency_list.pk).update(
        link_status=AgencyList.LinkStatus.LINKED,
        linked_at=timezone.now(),
        link_counts=counts,
        link_message="",
    )
    audit_record(
        actor=actor,
        action="link",
        obj=agency_list,
        org_unit=agency_list.org_unit,
        details={"counts": counts, "auto_link": auto, "review": review},
    )
    return counts


# --- review decisions -------------------------------------------------------------------------------------


def _locked_pair(pair: ReviewPair) -> ReviewPair:
    return (
        ReviewPair.objects.select_for_update()
        .select_related("source_record", "source_record__org_unit", "person", "person__org_unit")
        .get(pk=pair.pk)
    )


@transaction.atomic
def review_pair_decide(*, actor, pair: ReviewPair, decision: str, reason: str = "") -> ReviewPair:
    """The reviewer's word on a pair: same → the record is linked to the person; different → it is not (and
    when no open candidate is left, a new registry person is made for it). Stored with who/when/why."""
    if decision not in (ReviewPair.Decision.SAME, ReviewPair.Decision.DIFFERENT):
        raise ValidationFailed("unknown decision", [field_error("decision", "must be same or different")])
    pair = _locked_pair(pair)
    record = pair.source_record
    _require(actor, REVIEW_ROLES, record.org_unit, "review this pair")
    _require(actor, REVIEW_ROLES, pair.person.org_unit, "review this pair")
    if pair.decision == decision:
        return pair
    previous = pair.decision
    pair.decision, pair.decided_by, pair.decided_at, pair.reason = (
        decision,
        actor,
        timezone.now(),
        reason[:500],
    )
    pair.save(update_fields=["decision", "decided_by", "decided_at", "reason", "modified_at"])
    ReviewDecision.objects.create(
        pair=pair, decision=decision, previous=previous, by=actor, reason=reason[:500]
    )
    if decision == ReviewPair.Decision.SAME:
        _attach(
            record,
            pair.person,
            status=LinkStatus.REVIEWED,
            actor=actor,
            action="reviewed",
            probability=pair.match_probability,
            reason=reason,
        )
    else:
        if record.person_id == pair.person_id:
            _attach(record, None, status=LinkStatus.REVIEW, actor=actor, action="unlinked", reason=reason)
        _settle(record, actor=actor)
    audit_record(
        actor=actor,
        action="review",
        obj=record,
        org_unit=record.org_unit,
        details={
            "pair": pair.pk,
            "person": str(pair.person_id),
            "decision": decision,
            "previous": previous,
            "reason": reason[:500],
        },
    )
    return pair


def _settle(record: SourceRecord, *, actor) -> None:
    """After a 'different': a record with no open candidate and no person becomes a new registry person."""
    if record.person_id is not None or record.review_pairs.filter(decision="").exists():
        return
    person = _new_person(record, actor=actor, households={})
    if person is None:
        record.link_status = LinkStatus.UNPLACED
        record.save(update_fields=["link_status", "modified_at"])
        return
    _attach(record, person, status=LinkStatus.NEW, actor=actor, action="new", reason="no candidate left")


@transaction.atomic
def review_pair_undo(*, actor, pair: ReviewPair, reason: str = "") -> ReviewPair:
    """Take back a pair's decision: a new history row (the old ones stay), the pair is open again, and a link
    the decision made is undone (a person created for the record stays in the registry, unlinked from it)."""
    pair = _locked_pair(pair)
    record = pair.source_record
    _require(actor, REVIEW_ROLES, record.org_unit, "review this pair")
    _require(actor, REVIEW_ROLES, pair.person.org_unit, "review this pair")
    if pair.decision == "":
        raise ValidationFailed("the pair has no decision to undo", [field_error("decision", "already open")])
    previous = pair.decision
    pair.decision, pair.decided_by, pair.decided_at, pair.reason = "", actor, timezone.now(), reason[:500]
    pair.save(update_fields=["decision", "decided_by", "decided_at", "reason", "modified_at"])
    ReviewDecision.objects.create(
        pair=pair, decision="undo", previous=previous, by=actor, reason=reason[:500]
    )
    if (previous == ReviewPair.Decision.SAME and record.person_id == pair.person_id) or (
        previous == ReviewPair.Decision.DIFFERENT and record.link_status == LinkStatus.NEW
    ):
        _attach(
            record, None, status=LinkStatus.REVIEW, actor=actor, action="unlinked", reason=reason or "undo"
        )
    elif record.person_id is None:
        record.link_status = LinkStatus.REVIEW
        record.save(update_fields=["link_status", "modified_at"])
    audit_record(
        actor=actor,
        action="review",
        obj=record,
        org_unit=record.org_unit,
        details={
            "pair": pair.pk,
            "person": str(pair.person_id),
            "decision": "undo",
            "previous": previous,
            "reason": reason[:500],
        },
    )
    return pair


# --- merges and splits ------------------------------------------------------------------------------------


@transaction.atomic
def source_record_split(*, actor, record: SourceRecord, reason: str = "") -> SourceRecord:
    """Detach a record from its person into a person of its own (same household). Undo: relink it."""
    record = (
        SourceRecord.objects.select_for_update(of=("self",))
        .select_related("org_unit", "person")
        .get(pk=record.pk)
    )
    _require(actor, REVIEW_ROLES, record.org_unit, "split this record")
    if record.person_id is None:
        raise ValidationFailed("the record is not linked", [field_error("person", "nothing to split from")])
    old = record.person
    # The split-off person stays in the household (namesakes in one family are the usual case); a household
    # change is the registry's own edit.
    record.national_code_valid = record.national_code_valid and record.national_code != old.national_code
    person = _new_person(record, actor=actor, households={}, household=old.household)
    if person is None or person.pk == old.pk:
        raise ValidationFailed(
            "the record cannot be a person of its own",
            [field_error("record", "it has no health post, or it shares the person's national code")],
        )
    _attach(record, person, status=LinkStatus.REVIEWED, actor=actor, action="split", reason=reason)
    ReviewPair.objects.filter(source_record=record, person=old, decision="").update(
        decision=ReviewPair.Decision.DIFFERENT,
        decided_by=actor,
        decided_at=timezone.now(),
        reason=reason[:500],
    )
    audit_record(
        actor=actor,
        action="split",
        obj=record,
        org_unit=record.org_unit,
        details={"from": str(old.pk), "to": str(person.pk), "reason": reason[:500]},
    )
    return record


@transaction.atomic
def source_record_relink(*, actor, record: SourceRecord, person: Person, reason: str = "") -> SourceRecord:
    """Link a record to another registry person (a merge, or the undo of a split)."""
    record = SourceRecord.objects.select_for_update().select_related("org_unit").get(pk=record.pk)
    _require(actor, REVIEW_ROLES, record.org_unit, "relink this record")
    _require(actor, REVIEW_ROLES, person.org_unit, "relink this record")
    if record.person_id == person.pk:
        return record
    old = record.person_id
    _attach(record, person, status=LinkStatus.REVIEWED, actor=actor, action="merge", reason=reason)
    audit_record(
        actor=actor,
        action="merge",
        obj=record,
        org_unit=record.org_unit,
        details={"from": str(old) if old else None, "to": str(person.pk), "reason": reason[:500]},
    )
    return record


def household_of(person: Person) -> Household | None:
    return person.household
