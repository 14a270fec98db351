"""A case's contacts: add one (matched in the registry, or registered), list the household, confirm, remove,
assign to a tracer or a tracing team."""

import datetime as dt
import uuid

from mahalle.accounts.capabilities import Can, may, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.models import Case, Classification
from mahalle.core.errors import Conflict, PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.registry.models import Person
from mahalle.registry.services import person_create

from ..models import Closeness, Contact, Event, Setting
from ..rules import tracing_setting
from ..selectors import contacts_visible, open_case_of, person_match
from ._common import _parse_day, _today
from .chains import _contact_became_case
from .clusters import _chain_case, _person_clusters


def _contact_checks(*, case: Case, person: Person, last_exposure, errors: list, field: str = "") -> None:
    prefix = f"{field}." if field else ""
    if person.pk == case.person_id:
        errors.append(field_error(f"{prefix}person", "is the case himself: a case is not his own contact"))
    if last_exposure is None:
        return
    own = open_case_of(person.pk)
    if own is not None and own.pk != case.pk and own.onset_date and last_exposure > own.onset_date:
        errors.append(
            field_error(
                f"{prefix}last_exposure",
                f"is after the contact's own onset as a case ({own.onset_date}): this case cannot have "
                "infected them; record who infected whom instead",
            )
        )


def _case_for_tracing(actor, case: Case) -> None:
    require(actor, Can.TRACE, "your role may not trace contacts")
    if not personal_record_visible(user=actor, org_path=case.org_path):
        raise PermissionDenied("this case is outside your jurisdiction")
    if case.classification == Classification.DISCARDED:
        raise ValidationFailed("the case was discarded", [field_error("case_id", "the case was discarded")])


def _contact_new(
    *, actor, case, person, last_exposure, setting, closeness, source, status, event=None, assign=True
):
    today = _today()
    signed_in = actor is not None and actor.is_authenticated
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
        if assign and actor is not None and not personal_record_visible(user=actor, org_path=person.org_path)
        else None,
        created_by=actor if signed_in else None,
        modified_by=actor if signed_in else None,
    )


def _exposure_and_kind_errors(*, last_exposure, setting: str, closeness: str, errors: list):
    """The last exposure (parsed: not in the future, not too long ago to follow up), setting and closeness."""
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
    return last_exposure


@service
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
    last_exposure = _exposure_and_kind_errors(
        last_exposure=last_exposure, setting=setting, closeness=closeness, errors=errors
    )
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
    own = open_case_of(person.pk)
    if own is not None and own.pk != case.pk:
        _contact_became_case(actor=actor, contact=contact, case=own)
    return contact


@service
def contacts_list_household(*, actor, case: Case) -> list[Contact]:
    """List the case's household members (from the registry) as contacts to confirm or remove. Members already
    listed, and members who are cases themselves, are left out. Safe to call again (creates nothing twice).
    The cases side calls `case_created` (hooks.py), which does this without the permission checks."""
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
    """The contact, locked, if the actor may trace it (the one visibility rule: selectors.contacts_visible)."""
    require(actor, Can.TRACE, "your role may not trace contacts")
    locked = contacts_visible(user=actor).select_for_update(of=("self",)).filter(pk=contact.pk).first()
    if locked is None:
        raise PermissionDenied("this contact is outside your jurisdiction")
    return locked


@service
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


@service
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


@service
def contact_assign(*, actor, contact: Contact, tracer=None, team=None) -> Contact:
    """Assign a contact to a tracer and/or a tracing team (possibly outside the contact's post). The contact's
    own post keeps seeing it; the tracer, and the users over the team's unit, see it too."""
    require(actor, Can.ASSIGN_TRACING, "your role may not assign contacts")
    if not personal_record_visible(user=actor, org_path=contact.org_path):
        raise PermissionDenied("this contact is outside your jurisdiction")
    contact = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
    if tracer is not None and not may(tracer, Can.TRACE):
        raise ValidationFailed(
            "the contact could not be assigned",
            [field_error("tracer", "this user's role may not trace contacts")],
        )
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
