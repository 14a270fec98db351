"""The daily follow-up of contacts in quarantine: a phone's batch (core.batch drives it); symptoms refer the
contact for a test."""

import datetime as dt

from mahalle.accounts.capabilities import Can, require
from mahalle.audit.services import audit_record
from mahalle.cases.models import TestOrder
from mahalle.cases.rules import SYMPTOMS
from mahalle.cases.services import test_order_create
from mahalle.core.batch import CREATED, Entry, ItemResult, Parent, run_phone_batch, uuid_or_none
from mahalle.core.errors import field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from ..models import Contact, ContactFollowUp
from ..rules import REFERRAL_REASON
from ..selectors import contacts_visible
from ._common import _parse_day, _today

NOT_KNOWN_HERE = "this contact is not known here yet; send the follow-up again later"
ONE_A_DAY = "this contact already has a follow-up on this day"


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


def _same_follow_up(prior: ContactFollowUp, item: dict) -> bool:
    return str(prior.contact_id) == str(item.get("contact_id")) and prior.date == _parse_day(
        item.get("date"), "date", []
    )


@service(item_by_item=True)
def contact_follow_ups_record(*, actor, items: list[dict]) -> list[ItemResult]:
    """Record a phone's batch of contact follow-ups; one ItemResult per item, in order (as cases' follow-ups):
    created / exists (same id again) / conflict (id reused, or the day already has one) / invalid / retry (the
    contact is not known here: not in the actor's jurisdiction nor assigned to them, or not synced yet).
    Symptoms refer the contact for a test (`referrals` counts them).

    The batch commits item by item: each follow-up in its own transaction, with its audit event (core.batch)."""
    require(actor, Can.TRACE, "your role may not record follow-ups")
    contact_ids = {uuid_or_none(item.get("contact_id")) for item in items} - {None}
    contacts = {c.pk: c for c in contacts_visible(user=actor).filter(pk__in=contact_ids)}
    return run_phone_batch(
        items,
        model=ContactFollowUp,
        what="follow-up",
        same=_same_follow_up,
        clean=_clean_follow_up,
        write=lambda entries: _follow_ups_write(actor=actor, entries=entries),
        parent=Parent(field="contact_id", found=contacts, unknown=NOT_KNOWN_HERE),
        one_per_day=ONE_A_DAY,
        item_by_item=True,
    )


def _follow_ups_write(*, actor, entries: list[Entry]) -> None:
    for entry in entries:
        contact, clean = entry.parent, entry.clean
        row = ContactFollowUp.objects.create(
            id=entry.id,
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
        entry.result.status = CREATED
        if clean["status"] == ContactFollowUp.Status.SYMPTOMS and _referral_for_contact(
            actor=actor, contact=contact, day=clean["date"]
        ):
            entry.result.referrals += 1
