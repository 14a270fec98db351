"""Writes of contact tracing: contacts, their daily follow-up, events, who-infected-whom, and cluster upkeep.

Every function is atomic and writes its audit event in the same transaction.

Who may do what (jurisdiction on top):
- list, add, confirm and remove contacts, record their follow-ups, record events and attendees: TRACING_ROLES
  (every role that may write personal data, field volunteers included), on a case they may see;
- assign contacts to a tracer or a tracing team, record who infected whom: CASE_ROLES (supervisors and up).

Quarantine: a confirmed contact is in quarantine at home from confirmation until `follow_up_end` (last exposure
+ MAHALLE_TRACING["FOLLOW_UP_DAYS"], default 14), recorded on the contact and followed through ContactFollowUp
(not cases.Isolation: see docs/tracing.md, "Quarantine").
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import personal_data_paths
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.models import Case, Classification, TestOrder
from mahalle.cases.services import CASE_ROLES, Conflict, test_order_create
from mahalle.core.batch import (
    CONFLICT,
    CREATED,
    EXISTS,
    INVALID,
    RETRY,
    ItemResult,
    item_id_settled,
    uuid_or_none,
)
from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import NotFound, PermissionDenied, ValidationFailed, field_error
from mahalle.core.identifiers import InvalidIdentifier, normalize_mobile, normalize_national_code
from mahalle.core.persian import normalize_text, search_key
from mahalle.registry.models import Person
from mahalle.screening.rules import SYMPTOMS

from .models import (
    ChainCase,
    Closeness,
    Cluster,
    Contact,
    ContactFollowUp,
    Event,
    EventAttendance,
    Setting,
    TransmissionLink,
)

TRACING_ROLES = PERSONAL_DATA_WRITE_ROLES
MAX_ATTENDEES = 20_000
DEFAULTS = {"FOLLOW_UP_DAYS": 14, "SUPERSPREADING_CASES": 5, "MAX_EXPOSURE_AGE_DAYS": 30}


def tracing_setting(name: str) -> int:
    return {**DEFAULTS, **getattr(settings, "MAHALLE_TRACING", {})}[name]


def _today() -> dt.date:
    return timezone.localdate()


def _require(actor, roles, message: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_role(roles):
        raise PermissionDenied(message)


def _in_paths(paths, org_path: str) -> bool:
    return any(org_path.startswith(path) for path in paths)


def _visible(actor, org_path: str) -> bool:
    return _in_paths(personal_data_paths(user=actor), org_path)


def may_trace(actor, contact: Contact) -> bool:
    """The contact's own jurisdiction, its assigned tracer, or the users above its tracing team."""
    paths = personal_data_paths(user=actor)
    if not paths:
        return False
    return (
        _in_paths(paths, contact.org_path)
        or contact.assigned_tracer_id == actor.pk
        or bool(contact.tracing_team_path and _in_paths(paths, contact.tracing_team_path))
    )


# --- clusters (union by size) -------------------------------------------------------------------------------

NODE_MODELS = (ChainCase, Contact, Event, EventAttendance, TransmissionLink)


def _cluster_new() -> uuid.UUID:
    return Cluster.objects.create().pk


def _cluster_size(cluster_id) -> int:
    return sum(model.objects.filter(cluster_id=cluster_id).count() for model in (ChainCase, Contact))


def _clusters_merge(cluster_ids) -> uuid.UUID:
    """Relabel every cluster in `cluster_ids` to the largest of them; return the survivor. The Cluster rows are
    locked in id order, so two merges of overlapping clusters wait for each other instead of crossing."""
    ids = sorted({c for c in cluster_ids if c is not None})
    if not ids:
        return _cluster_new()
    while True:  # lock, and replace the ids merged meanwhile by the cluster they went into
        rows = dict(
            Cluster.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "merged_into")
        )
        stale = {c for c, into in rows.items() if into is not None}
        if not stale:
            break
        ids = sorted((set(ids) - stale) | {rows[c] for c in stale})
    if len(ids) == 1:
        return ids[0]
    sizes = dict.fromkeys(ids, 0)
    for model in (ChainCase, Contact, EventAttendance):
        for row in model.objects.filter(cluster_id__in=ids).values("cluster_id").annotate(n=Count("pk")):
            sizes[row["cluster_id"]] += row["n"]
    survivor = max(ids, key=lambda c: (sizes[c], str(c)))
    losers = [c for c in ids if c != survivor]
    for model in NODE_MODELS:
        model.objects.filter(cluster_id__in=losers).update(cluster_id=survivor)
    Cluster.objects.filter(pk__in=losers).update(merged_into=survivor)
    return survivor


def _person_clusters(person_ids) -> set:
    person_ids = list(person_ids)
    found: set = set()
    for start in range(0, len(person_ids), 2000):
        chunk = person_ids[start : start + 2000]
        for model in (ChainCase, Contact, EventAttendance):
            found |= set(
                model.objects.filter(person_id__in=chunk).values_list("cluster_id", flat=True).distinct()
            )
    return found


def _cluster_current(cluster_id) -> uuid.UUID:
    """Lock the cluster's row and follow `merged_into`: the id returned stays current until the transaction ends
    (a concurrent merge waits for the lock), so a node written with it is never left behind in a merged cluster."""
    while True:
        merged_into = (
            Cluster.objects.select_for_update()
            .filter(pk=cluster_id)
            .values_list("merged_into", flat=True)
            .get()
        )
        if merged_into is None:
            return cluster_id
        cluster_id = merged_into


def _chain_case(case: Case, *, join=()) -> uuid.UUID:
    """The case's cluster (creating its node: merged with every record of the same person), merged with `join`
    clusters. Returns the cluster id, locked for the rest of the transaction."""
    node = ChainCase.objects.filter(case_id=case.pk).first()
    clusters = set(join)
    if node is None:
        cluster = _clusters_merge(clusters | _person_clusters([case.person_id]))
        node, created = ChainCase.objects.get_or_create(
            case_id=case.pk,
            defaults={"person_id": case.person_id, "org_path": case.org_path, "cluster_id": cluster},
        )
        if created:
            return _cluster_current(cluster)
        clusters.add(cluster)  # another request created the node meanwhile: join its cluster
    return _cluster_current(_clusters_merge(clusters | {node.cluster_id}))


# --- contacts -----------------------------------------------------------------------------------------------


def _parse_day(value, field: str, errors: list) -> dt.date | None:
    if value in (None, ""):
        errors.append(field_error(field, "is required"))
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(value)[0]
    except InvalidDate as exc:
        errors.append(field_error(field, str(exc)))
        return None


def _open_case_of(person_id) -> Case | None:
    return (
        Case.objects.filter(person_id=person_id, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .order_by("-created_at")
        .first()
    )


def person_match(*, national_code: str = "", mobile: str = "", first_name: str = "", last_name: str = ""):
    """Find a registered person (anywhere: a case's contacts may live in another post) by national code, or by
    mobile together with the name. Returns (person or None, field errors)."""
    errors: list = []
    if national_code:
        try:
            code = normalize_national_code(national_code)
        except InvalidIdentifier as exc:
            return None, [field_error("national_code", str(exc))]
        return Person.objects.filter(national_code=code).first(), []
    key = search_key(f"{first_name}{last_name}")
    if mobile:
        try:
            number = normalize_mobile(mobile)
        except InvalidIdentifier as exc:
            return None, [field_error("mobile", str(exc))]
        candidates = list(Person.objects.filter(mobile=number)[:20])
        named = [p for p in candidates if key and p.name_key == key]
        if len(named) == 1:
            return named[0], []
        if len(candidates) == 1 and not key:
            return candidates[0], []
    return None, errors


def _contact_checks(*, case: Case, person: Person, last_exposure, errors: list, field: str = "") -> None:
    prefix = f"{field}." if field else ""
    if person.pk == case.person_id:
        errors.append(field_error(f"{prefix}person", "is the case himself: a case is not his own contact"))
    if last_exposure is None:
        return
    own = _open_case_of(person.pk)
    if own is not None and own.pk != case.pk and own.onset_date and last_exposure > own.onset_date:
        errors.append(
            field_error(
                f"{prefix}last_exposure",
                f"is after the contact's own onset as a case ({own.onset_date}): this case cannot have "
                "infected them; record who infected whom instead",
            )
        )


def _case_for_tracing(actor, case: Case) -> None:
    _require(actor, TRACING_ROLES, "your role may not trace contacts")
    if not _visible(actor, case.org_path):
        raise PermissionDenied("this case is outside your jurisdiction")
    if case.classification == Classification.DISCARDED:
        raise ValidationFailed("the case was discarded", [field_error("case_id", "the case was discarded")])


def _contact_new(
    *, actor, case, person, last_exposure, setting, closeness, source, status, event=None, assign=True
):
    today = _today()
    return Contact(
        id=uuid.uuid4(),
        case=case,
        person=person,
        last_exposure=last_exposure,
        setting=setting,
        closeness=closeness,
        source=source,
        status=status,
        follow_up_end=last_exposure + dt.timedelta(days=tracing_setting("FOLLOW_UP_DAYS")),
        quarantine_start=today if status == Contact.Status.CONFIRMED else None,
        event=event,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        # A contact living outside the tracer's jurisdiction is assigned to the tracer, who may then follow them.
        assigned_tracer=actor
        if assign and actor is not None and not _visible(actor, person.org_path)
        else None,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        modified_by=actor if actor is not None and actor.is_authenticated else None,
    )


@transaction.atomic
def contact_add(
    *,
    actor,
    case: Case,
    last_exposure,
    setting: str,
    closeness: str = Closeness.CLOSE,
    person: Person | None = None,
    national_code: str = "",
    mobile: str = "",
    first_name: str = "",
    last_name: str = "",
    org_unit=None,
    event: Event | None = None,
) -> Contact:
    """Add a contact of a case: the person matched in the registry (by national code, or mobile and name), or
    registered (in `org_unit`, by default the case's post). Confirmed at once; in quarantine until the end of
    follow-up."""
    _case_for_tracing(actor, case)
    errors: list = []
    last_exposure = _parse_day(last_exposure, "last_exposure", errors)
    if last_exposure is not None and last_exposure > _today():
        errors.append(field_error("last_exposure", "is in the future"))
        last_exposure = None
    elif last_exposure is not None and last_exposure < _today() - dt.timedelta(
        days=tracing_setting("MAX_EXPOSURE_AGE_DAYS")
    ):
        errors.append(field_error("last_exposure", "is too long ago to follow up"))
        last_exposure = None
    if setting not in Setting.values:
        errors.append(field_error("setting", f"must be one of {', '.join(Setting.values)}"))
    if closeness not in Closeness.values:
        errors.append(field_error("closeness", f"must be one of {', '.join(Closeness.values)}"))
    if person is None:
        person, match_errors = person_match(
            national_code=national_code, mobile=mobile, first_name=first_name, last_name=last_name
        )
        errors += match_errors
        if person is None and not errors and not (normalize_text(first_name) and normalize_text(last_name)):
            errors.append(
                field_error("national_code", "no registered person matches: give a name to register them")
            )
    if person is not None:
        _contact_checks(case=case, person=person, last_exposure=last_exposure, errors=errors)
    if errors:
        raise ValidationFailed("the contact could not be added", errors)
    if person is None:
        from mahalle.registry.services import person_create

        data = {"first_name": first_name, "last_name": last_name, "mobile": mobile}
        if national_code:
            data["national_code"] = national_code
        person = person_create(actor=actor, org_unit=org_unit or case.org_unit, data=data)
    if Contact.objects.filter(case=case, person=person).exists():
        raise Conflict(
            "this person is already a contact of the case",
            [field_error("person", "is already a contact of this case")],
        )
    contact = _contact_new(
        actor=actor,
        case=case,
        person=person,
        last_exposure=last_exposure,
        setting=setting,
        closeness=closeness,
        source=Contact.Source.EVENT if event else Contact.Source.ADDED,
        status=Contact.Status.CONFIRMED,
        event=event,
    )
    contact.cluster_id = _chain_case(case, join=_person_clusters([person.pk]))
    contact.save(force_insert=True)
    audit_record(
        actor=actor,
        action="create",
        obj=contact,
        details={"case": str(case.pk), "setting": setting, "last_exposure": str(last_exposure)},
    )
    own = _open_case_of(person.pk)
    if own is not None and own.pk != case.pk:
        _contact_became_case(actor=actor, contact=contact, case=own)
    return contact


@transaction.atomic
def contacts_list_household(*, actor, case: Case) -> list[Contact]:
    """List the case's household members (from the registry) as contacts to confirm or remove. Members already
    listed, and members who are cases themselves, are left out. Safe to call again (creates nothing twice).
    The cases side calls `case_created` (below), which does this without the permission checks."""
    _case_for_tracing(actor, case)
    return _household_list(actor=actor, case=case, assign=True)


def _household_list(*, actor, case: Case, assign: bool) -> list[Contact]:
    person = case.person
    if not person.household_id:
        return []
    members = Person.objects.filter(household_id=person.household_id).exclude(pk=person.pk)
    listed = set(Contact.objects.filter(case=case).values_list("person_id", flat=True))
    with_cases = set(
        Case.objects.filter(person__household_id=person.household_id, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .values_list("person_id", flat=True)
    )
    today = _today()  # members share the home: exposed until today (the tracer corrects it on confirming)
    new = [
        _contact_new(
            actor=actor,
            case=case,
            person=member,
            last_exposure=today,
            setting=Setting.HOUSEHOLD,
            closeness=Closeness.CLOSE,
            source=Contact.Source.HOUSEHOLD,
            status=Contact.Status.LISTED,
            assign=assign,
        )
        for member in members
        if member.pk not in listed and member.pk not in with_cases
    ]
    if not new:
        return []
    cluster = _chain_case(case, join=_person_clusters([c.person_id for c in new]))
    for contact in new:
        contact.cluster_id = cluster
    Contact.objects.bulk_create(new)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="tracing.contact",
        rows=[(str(c.pk), c.org_path) for c in new],
        details={"case": str(case.pk), "source": "household"},
    )
    return new


def _contact_for_update(actor, contact: Contact) -> Contact:
    _require(actor, TRACING_ROLES, "your role may not trace contacts")
    if not may_trace(actor, contact):
        raise PermissionDenied("this contact is outside your jurisdiction")
    return Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)


@transaction.atomic
def contact_confirm(*, actor, contact: Contact) -> Contact:
    """A listed contact is confirmed: quarantine at home starts today, daily follow-up until the end."""
    contact = _contact_for_update(actor, contact)
    if contact.status == Contact.Status.CONFIRMED:
        return contact
    contact.status, contact.quarantine_start, contact.modified_by = (
        Contact.Status.CONFIRMED,
        _today(),
        actor,
    )
    contact.removed_reason = ""
    contact.save(update_fields=["status", "quarantine_start", "removed_reason", "modified_by", "modified_at"])
    audit_record(actor=actor, action="update", obj=contact, details={"status": "confirmed"})
    return contact


@transaction.atomic
def contact_remove(*, actor, contact: Contact, reason: str) -> Contact:
    """Not a contact after all (not exposed, wrongly listed): kept, with the reason, off every work list."""
    contact = _contact_for_update(actor, contact)
    reason = normalize_text(reason)[:200]
    if not reason:
        raise ValidationFailed("the contact could not be removed", [field_error("reason", "is required")])
    if contact.status == Contact.Status.REMOVED:
        return contact
    old = contact.status
    contact.status, contact.removed_reason, contact.modified_by = Contact.Status.REMOVED, reason, actor
    contact.save(update_fields=["status", "removed_reason", "modified_by", "modified_at"])
    audit_record(
        actor=actor, action="update", obj=contact, details={"status": [old, "removed"], "reason": reason}
    )
    return contact


@transaction.atomic
def contact_assign(*, actor, contact: Contact, tracer=None, team=None) -> Contact:
    """Assign a contact to a tracer and/or a tracing team (possibly outside the contact's post). The contact's
    own post keeps seeing it; the tracer, and the users over the team's unit, see it too."""
    _require(actor, CASE_ROLES, "your role may not assign contacts")
    if not _visible(actor, contact.org_path):
        raise PermissionDenied("this contact is outside your jurisdiction")
    contact = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
    errors = []
    if tracer is not None and not tracer.has_role(TRACING_ROLES):
        errors.append(field_error("tracer", "this user's role may not trace contacts"))
    if errors:
        raise ValidationFailed("the contact could not be assigned", errors)
    contact.assigned_tracer = tracer
    contact.tracing_team = team
    contact.tracing_team_path = team.path if team is not None else ""
    contact.modified_by = actor
    contact.save(
        update_fields=["assigned_tracer", "tracing_team", "tracing_team_path", "modified_by", "modified_at"]
    )
    audit_record(
        actor=actor,
        action="update",
        obj=contact,
        details={"tracer": getattr(tracer, "username", ""), "team": getattr(team, "code", "")},
    )
    return contact


# --- a contact becomes a case: the chain --------------------------------------------------------------------


def _would_loop(infector_id, infectee_id) -> bool:
    """True when infectee is infector's ancestor (or infector itself): walking up from the infector."""
    seen = set()
    current = infector_id
    while current is not None and current not in seen:
        if current == infectee_id:
            return True
        seen.add(current)
        current = (
            TransmissionLink.objects.filter(infectee_id=current).values_list("infector_id", flat=True).first()
        )
    return False


def _link_create(*, actor, infector: Case, infectee: Case, source: str) -> TransmissionLink:
    cluster = _chain_case(infector)
    cluster = _chain_case(infectee, join={cluster})
    link = TransmissionLink.objects.create(
        infector=infector,
        infectee=infectee,
        source=source,
        cluster_id=cluster,
        org_unit_id=infectee.org_unit_id,
        org_path=infectee.org_path,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, action="create", obj=link, details={"infector": str(infector.pk)})
    _generations_shift(infector=infector, infectee=infectee)
    return link


def _generations_shift(*, infector: Case, infectee: Case) -> None:
    """The infectee (and everyone it infected) now sits one generation below the infector."""
    base = ChainCase.objects.filter(case_id=infector.pk).values_list("generation", flat=True).get()
    old = ChainCase.objects.filter(case_id=infectee.pk).values_list("generation", flat=True).get()
    delta = base + 1 - old
    if delta == 0:
        return
    subtree, frontier = [infectee.pk], [infectee.pk]
    while frontier:  # no loops (refused on the way in), so this ends
        frontier = list(
            TransmissionLink.objects.filter(infector_id__in=frontier).values_list("infectee_id", flat=True)
        )
        subtree += frontier
    for start in range(0, len(subtree), 2000):
        ChainCase.objects.filter(case_id__in=subtree[start : start + 2000]).update(
            generation=F("generation") + delta
        )


def _contact_became_case(*, actor, contact: Contact, case: Case) -> None:
    contact.became_case = case
    contact.save(update_fields=["became_case", "modified_at"])
    audit_record(actor=actor, action="update", obj=contact, details={"became_case": str(case.pk)})
    _chain_case(case, join={contact.cluster_id})
    if (
        not TransmissionLink.objects.filter(infectee=case).exists()
        and contact.case_id != case.pk
        and not _would_loop(contact.case_id, case.pk)
    ):
        _link_create(
            actor=actor, infector=contact.case, infectee=case, source=TransmissionLink.Source.CONTACT
        )


@transaction.atomic
def contacts_case_created(*, actor, case: Case) -> int:
    """The hook for the cases side: a person became a case. Their contact records keep the link (became_case:
    the chain), the case joins their cluster, the index case of their latest exposure becomes the infector
    (unless an infector is recorded already or it would make a loop), event attendances point at the case.
    Idempotent; returns how many contacts were linked."""
    if case.classification == Classification.DISCARDED:
        return 0
    contacts = list(
        Contact.objects.filter(person_id=case.person_id, became_case=None)
        .exclude(status=Contact.Status.REMOVED)
        .exclude(case=case)
        .select_related("case")
        .order_by("-last_exposure", "id")
    )
    for contact in contacts:
        _contact_became_case(actor=actor, contact=contact, case=case)
    attendances = EventAttendance.objects.filter(person_id=case.person_id, case=None)
    if attendances.exists():
        _chain_case(case, join=set(attendances.values_list("cluster_id", flat=True)))
        attendances.update(case=case)
    return len(contacts)


@transaction.atomic
def transmission_link_create(*, actor, infector: Case, infectee: Case) -> TransmissionLink:
    """An investigator records who infected whom. Refused: a case infecting itself, a second infector for the
    same case, and a loop (the infectee is already an ancestor of the infector)."""
    _require(actor, CASE_ROLES, "your role may not record who infected whom")
    for case in (infector, infectee):
        if not _visible(actor, case.org_path):
            raise PermissionDenied("this case is outside your jurisdiction")
    if infector.pk == infectee.pk:
        raise ValidationFailed(
            "the link could not be recorded", [field_error("infectee_id", "a case cannot infect itself")]
        )
    existing = TransmissionLink.objects.filter(infectee=infectee).first()
    if existing is not None:
        if existing.infector_id == infector.pk:
            return existing
        raise Conflict(
            "this case already has an infector",
            [field_error("infectee_id", "already has an infector recorded; a case has one")],
        )
    if _would_loop(infector.pk, infectee.pk):
        raise ValidationFailed(
            "the link would make a loop in who infected whom",
            [field_error("infectee_id", "is already an ancestor of the infector in the chain: a loop")],
        )
    try:
        with transaction.atomic():
            return _link_create(
                actor=actor, infector=infector, infectee=infectee, source=TransmissionLink.Source.MANUAL
            )
    except IntegrityError as exc:
        raise Conflict(
            "this case already has an infector", [field_error("infectee_id", "already has an infector")]
        ) from exc


# --- events -------------------------------------------------------------------------------------------------


@transaction.atomic
def event_create(*, actor, org_unit, name: str, kind: str, date) -> Event:
    _require(actor, TRACING_ROLES, "your role may not record events")
    if not _visible(actor, org_unit.path):
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


@transaction.atomic
def event_attendees_add(*, actor, event: Event, person_ids=(), national_codes=()) -> int:
    """Link everyone who was at the event (persons registered anywhere, by id or national code). All or
    nothing: one unknown or invalid entry refuses the whole list, with the entries named. Written in bulk
    inserts; people already listed are skipped. Returns how many attendances were added."""
    _require(actor, TRACING_ROLES, "your role may not record events")
    if not _visible(actor, event.org_path):
        raise PermissionDenied("the event is outside your jurisdiction")
    total = len(person_ids) + len(national_codes)
    if total > MAX_ATTENDEES:
        raise ValidationFailed(
            "too many attendees at once",
            [field_error("attendees", f"at most {MAX_ATTENDEES} in one request; send the rest in another")],
        )
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
    for start in range(0, max(len(ids), len(codes)), 2000):
        for row in Person.objects.filter(pk__in=ids[start : start + 2000]).values(
            "pk", "org_unit_id", "org_path", "national_code"
        ):
            persons[row["pk"]] = row
    by_code: dict = {}
    for start in range(0, len(codes), 2000):
        for row in Person.objects.filter(national_code__in=codes[start : start + 2000]).values(
            "pk", "org_unit_id", "org_path", "national_code"
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
    event = Event.objects.select_for_update().get(pk=event.pk)
    already = set(EventAttendance.objects.filter(event=event).values_list("person_id", flat=True))
    new_ids = [pk for pk in persons if pk not in already]
    if not new_ids:
        return 0
    cases: dict = {}
    for start in range(0, len(new_ids), 2000):
        for case in (
            Case.objects.filter(person_id__in=new_ids[start : start + 2000], outcome="")
            .exclude(classification=Classification.DISCARDED)
            .only("pk", "person_id", "org_path")
        ):
            cases[case.person_id] = case
    known = set(
        ChainCase.objects.filter(case_id__in=[c.pk for c in cases.values()]).values_list("pk", flat=True)
    )
    nodes_new = [c for c in cases.values() if c.pk not in known]
    cluster = _clusters_merge(_person_clusters(new_ids) | {event.cluster_id})
    ChainCase.objects.bulk_create(
        [
            ChainCase(case_id=c.pk, person_id=c.person_id, org_path=c.org_path, cluster_id=cluster)
            for c in nodes_new
        ],
        batch_size=2000,
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
    EventAttendance.objects.bulk_create(rows, batch_size=2000)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="tracing.eventattendance",
        rows=[(str(r.pk), r.org_path) for r in rows],
        details={"event": str(event.pk)},
    )
    return len(rows)


# --- daily follow-up of contacts ----------------------------------------------------------------------------

REFERRAL_REASON = {"code": "contact_symptoms", "en": "contact of a case with symptoms", "fa": "تماس با علامت"}


def _referral_for_contact(*, actor, contact: Contact, day: dt.date) -> bool:
    """A contact with symptoms is referred for a test (cases.services.test_order_create: one open test order per
    person at a time). Returns whether a new order was made."""
    if TestOrder.objects.filter(
        person_id=contact.person_id, status__in=[TestOrder.Status.ORDERED, TestOrder.Status.SAMPLED]
    ).exists():
        return False
    test_order_create(actor=actor, person=contact.person, reasons=[REFERRAL_REASON])
    Contact.objects.filter(pk=contact.pk).update(referred_on=day)
    return True


def _clean_follow_up(raw: dict, contact: Contact) -> tuple[dict | None, list]:
    errors: list = []
    day = _parse_day(raw.get("date"), "date", errors)
    if day is not None:
        if day > _today():
            errors.append(field_error("date", "is in the future"))
        elif day < contact.last_exposure:
            errors.append(field_error("date", "is before the last exposure"))
        elif day > contact.follow_up_end:
            errors.append(field_error("date", "is after the end of the contact's follow-up"))
    if contact.status == Contact.Status.REMOVED:
        errors.append(field_error("contact_id", "the contact was removed"))
    status = raw.get("status")
    if status not in ContactFollowUp.Status.values:
        errors.append(field_error("status", f"must be one of {', '.join(ContactFollowUp.Status.values)}"))
    symptoms = list(dict.fromkeys(raw.get("symptoms") or []))
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        errors.append(field_error("symptoms", f"unknown symptom(s): {', '.join(map(str, unknown))}"))
    if status == ContactFollowUp.Status.SYMPTOMS and not symptoms:
        errors.append(field_error("symptoms", "name at least one symptom"))
    if status in (ContactFollowUp.Status.WELL, ContactFollowUp.Status.UNREACHABLE) and symptoms:
        errors.append(field_error("symptoms", "only with the status 'symptoms'"))
    if errors:
        return None, errors
    return {
        "date": day,
        "status": status,
        "symptoms": symptoms,
        "note": normalize_text(raw.get("note"))[:500],
    }, []


def contact_follow_ups_record(*, actor, items: list[dict]) -> list[ItemResult]:
    """Record a phone's batch of contact follow-ups; one ItemResult per item, in order (as cases' follow-ups):
    created / exists (same id again) / conflict (id reused, or the day already has one) / invalid / retry (the
    contact is not known here: not in the actor's jurisdiction nor assigned to them, or not synced yet).
    Symptoms refer the contact for a test (`referrals` counts them)."""
    _require(actor, TRACING_ROLES, "your role may not record follow-ups")
    results = [ItemResult(id=str(item.get("id"))) for item in items]
    ids = [uuid_or_none(item.get("id")) for item in items]
    existing = {f.pk: f for f in ContactFollowUp.objects.filter(pk__in=[i for i in ids if i])}
    contact_ids = {uuid_or_none(item.get("contact_id")) for item in items} - {None}
    from .selectors import contacts_visible  # selectors import this module's helpers

    contacts = {c.pk: c for c in contacts_visible(user=actor).filter(pk__in=contact_ids)}
    taken = set(
        ContactFollowUp.objects.filter(contact_id__in=list(contacts)).values_list("contact_id", "date")
    )
    seen: set = set()
    for index, item in enumerate(items):
        result, fid = results[index], ids[index]
        if item_id_settled(
            result,
            fid,
            existing=existing,
            seen=seen,
            what="follow-up",
            same=lambda prior, item=item: str(prior.contact_id) == str(item.get("contact_id"))
            and prior.date == _parse_day(item.get("date"), "date", []),
        ):
            continue
        try:
            contact = contacts.get(uuid.UUID(str(item.get("contact_id"))))
        except ValueError:
            result.status, result.errors = INVALID, [field_error("contact_id", "must be a UUID")]
            continue
        if contact is None:
            result.status = RETRY
            result.errors = [
                field_error(
                    "contact_id", "this contact is not known here yet; send the follow-up again later"
                )
            ]
            continue
        clean, errors = _clean_follow_up(item, contact)
        if errors:
            result.status, result.errors = INVALID, errors
            continue
        if (contact.pk, clean["date"]) in taken:
            result.status = CONFLICT
            result.errors = [field_error("date", "this contact already has a follow-up on this day")]
            continue
        taken.add((contact.pk, clean["date"]))
        try:
            with transaction.atomic():
                _follow_up_write(actor=actor, fid=fid, contact=contact, clean=clean, result=result)
        except IntegrityError:
            stored = ContactFollowUp.objects.filter(pk=fid).exists()
            result.status = EXISTS if stored else CONFLICT
            if not stored:
                result.errors = [field_error("date", "this contact already has a follow-up on this day")]
    return results


def _follow_up_write(*, actor, fid, contact: Contact, clean: dict, result: ItemResult) -> None:
    row = ContactFollowUp.objects.create(
        id=fid,
        contact=contact,
        date=clean["date"],
        status=clean["status"],
        symptoms=clean["symptoms"],
        note=clean["note"],
        by=actor,
        org_unit_id=contact.org_unit_id,
        org_path=contact.org_path,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=row, details={"status": clean["status"]})
    result.status = CREATED
    if clean["status"] == ContactFollowUp.Status.SYMPTOMS and _referral_for_contact(
        actor=actor, contact=contact, day=clean["date"]
    ):
        result.referrals += 1


def contact_get_or_404(queryset, pk) -> Contact:
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise NotFound("contact not found")
    return found


def contacts_link_new_cases(*, actor=None) -> dict:
    """Catch-up for cases created without the hook (lab imports, older data): every open case whose person is
    an unlinked contact or event attendee goes through `contacts_case_created`. Idempotent. Returns counts."""
    person_ids = set(
        Contact.objects.filter(became_case=None)
        .exclude(status=Contact.Status.REMOVED)
        .values_list("person_id", flat=True)
    ) | set(EventAttendance.objects.filter(case=None).values_list("person_id", flat=True))
    cases = (
        Case.objects.filter(person_id__in=person_ids, outcome="")
        .exclude(classification=Classification.DISCARDED)
        .order_by("created_at", "pk")
    )
    linked = seen = 0
    for case in cases.iterator(chunk_size=500):
        seen += 1
        linked += contacts_case_created(actor=actor, case=case)
    return {"cases": seen, "contacts_linked": linked}


@transaction.atomic
def case_created(*, actor, case: Case) -> dict:
    """THE hook for the cases side: call it (inside the same transaction) when a case is created, and again when
    a case is confirmed. A system action: no permission check on the actor (who may be a lab's account or None;
    it is recorded in the audit events). It links the person's contact records and event attendances to the case
    (the chain) and lists the case's household members as contacts to confirm. Idempotent."""
    if case.classification == Classification.DISCARDED:
        return {"linked": 0, "listed": 0}
    linked = contacts_case_created(actor=actor, case=case)
    listed = _household_list(actor=actor, case=case, assign=False)
    return {"linked": linked, "listed": len(listed)}
