"""Daily follow-ups of isolated people, as a phone's batch (or one from the follow-up page)."""

from django.utils import timezone

from mahalle.accounts.capabilities import Can, require
from mahalle.audit.services import audit_record_many
from mahalle.core.batch import CREATED, Entry, ItemResult, Parent, run_phone_batch, uuid_or_none
from mahalle.core.errors import field_error
from mahalle.core.service import service

from ..models import Alert, FollowUp, Isolation
from ..rules import DETERIORATION_SPO2, NEED_KINDS, SPO2_RANGE, SYMPTOMS
from ..selectors import isolations_visible
from ._common import _as_date, _today
from .alert import alert_raise

TAKEN_DAY = "this isolation already has a follow-up on this day"


def _clean_follow_up(raw: dict, isolation: Isolation) -> tuple[dict | None, list]:
    errors: list = []
    day = _as_date(raw.get("date"), "date", errors)
    if day is None and not errors:
        errors.append(field_error("date", "is required"))
    if day is not None:
        if day > _today():
            errors.append(field_error("date", "is in the future"))
        elif day < isolation.start_date:
            errors.append(field_error("date", "is before the isolation started"))
        elif isolation.released_on is not None and day > isolation.released_on:
            errors.append(field_error("date", "is after the person was released from isolation"))
    method = raw.get("method") or FollowUp.Method.CALL
    if method not in FollowUp.Method.values:
        errors.append(field_error("method", "must be call or visit"))
    reached = raw.get("reached", True)
    reached = True if reached is None else bool(reached)
    symptoms = list(dict.fromkeys(raw.get("symptoms") or []))
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        errors.append(field_error("symptoms", f"unknown symptom(s): {', '.join(map(str, unknown))}"))
    spo2 = raw.get("spo2")
    if spo2 is not None and (not isinstance(spo2, int) or not SPO2_RANGE[0] <= spo2 <= SPO2_RANGE[1]):
        errors.append(field_error("spo2", f"must be between {SPO2_RANGE[0]} and {SPO2_RANGE[1]}"))
    needs = list(dict.fromkeys(raw.get("needs") or []))
    if any(n not in NEED_KINDS for n in needs):
        errors.append(field_error("needs", f"must be among {', '.join(NEED_KINDS)}"))
    if not reached and (symptoms or spo2 is not None):
        errors.append(field_error("reached", "a person not reached has no answers"))
    if errors:
        return None, errors
    return {
        "date": day,
        "method": method,
        "reached": reached,
        "symptoms": symptoms,
        "spo2": spo2,
        "needs": needs,
    }, []


def _deterioration(clean: dict, previous_symptoms: set) -> list[str]:
    reasons = []
    if clean["spo2"] is not None and clean["spo2"] < DETERIORATION_SPO2:
        reasons.append(f"SpO2 {clean['spo2']}% (below {DETERIORATION_SPO2}%)")
    if "shortness_of_breath" in clean["symptoms"] and "shortness_of_breath" not in previous_symptoms:
        reasons.append("new shortness of breath")
    return reasons


NOT_KNOWN_HERE = "this isolation is not known here yet; keep the follow-up and send it again later"


@service(item_by_item=True)
def follow_ups_record(*, actor, items: list[dict]) -> list[ItemResult]:
    """Record a phone's batch of daily follow-ups; one `core.batch.ItemResult` per item, in order.

    Each item: id (the phone's UUID), isolation_id, date, method (call/visit), reached, symptoms, spo2, needs.

    - created / exists (the same id again: nothing changes) / conflict (the id was used for another follow-up,
      or the isolation already has a follow-up that day under another id) / invalid (with the errors);
    - retry: the isolation is not known here (yet) — the phone's batch may hold the follow-up of an isolation
      started on another device and not synced yet. Nothing is stored; the phone keeps the item and sends it
      again later. (Chosen over accept-and-link-later: a follow-up without its isolation has no jurisdiction.)

    Deterioration (SpO2 below 93% or new shortness of breath) raises an urgent alert for the supervisor.

    Not one transaction: the accepted items are written together in one transaction, and when a concurrent
    request stored one of them meanwhile, the batch commits item by item, so each item gets its own answer.
    Every stored follow-up's audit event (and its alert's) is written in the transaction that stores it
    (core.batch.run_phone_batch drives the batch).
    """
    require(actor, Can.RECORD_FOLLOW_UPS, "your role may not record follow-ups")
    isolation_ids = {uuid_or_none(item.get("isolation_id")) for item in items} - {None}
    isolations = {
        i.pk: i
        for i in isolations_visible(user=actor).filter(pk__in=isolation_ids).select_related("person")
    }
    return run_phone_batch(
        items,
        model=FollowUp,
        what="follow-up",
        same=_same_follow_up,
        clean=_clean_follow_up,
        write=lambda entries: _write_follow_ups(actor=actor, entries=entries),
        parent=Parent(field="isolation_id", found=isolations, unknown=NOT_KNOWN_HERE),
        one_per_day=TAKEN_DAY,
    )


def _same_follow_up(prior: FollowUp, item: dict) -> bool:
    return str(prior.isolation_id) == str(item.get("isolation_id")) and prior.date == _as_date(
        item.get("date"), "date", []
    )


def _write_follow_ups(*, actor, entries: list[Entry]) -> None:
    """Store accepted follow-ups (inside the transaction run_phone_batch opens), their alerts and audit events."""
    rows = [
        FollowUp(
            id=entry.id,
            isolation=entry.parent,
            date=entry.clean["date"],
            method=entry.clean["method"],
            reached=entry.clean["reached"],
            symptoms=entry.clean["symptoms"],
            spo2=entry.clean["spo2"],
            needs=entry.clean["needs"],
            by=actor,
            org_unit_id=entry.parent.org_unit_id,
            org_path=entry.parent.org_path,
            created_by=actor,
            modified_by=actor,
        )
        for entry in entries
    ]
    FollowUp.objects.bulk_create(rows)
    for entry in entries:
        isolation, clean = entry.parent, entry.clean
        entry.result.status = CREATED
        previous = (
            FollowUp.objects.filter(isolation=isolation, date__lt=clean["date"])
            .order_by("-date")
            .values_list("symptoms", flat=True)
            .first()
        )
        reasons = _deterioration(clean, set(previous or []))
        if reasons:
            entry.result.urgent += 1
            alert_raise(
                actor=actor,
                kind=Alert.Kind.DETERIORATION,
                person=isolation.person,
                isolation=isolation,
                day=clean["date"],
                message=f"deterioration on {clean['date'].isoformat()}: {'; '.join(reasons)}",
            )
    # A follow-up that arrives late closes the day's missed-follow-up alert.
    for entry in entries:
        Alert.objects.filter(
            isolation=entry.parent, kind=Alert.Kind.MISSED_FOLLOW_UP, day=entry.clean["date"], resolved_at=None
        ).update(resolved_at=timezone.now(), resolved_by=actor)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="cases.followup",
        rows=[(str(r.pk), r.org_path) for r in rows],
    )
