"""Writes of the health side: test orders, lab results, cases, isolation, follow-ups and alerts.

Every function is atomic and writes its audit event in the same transaction.
"""

from django.db import transaction

from mahalle.audit.services import audit_record

from .models import Alert, TestOrder


@transaction.atomic
def test_order_create_for_referral(*, actor, member_screening) -> TestOrder:
    """A referral from screening becomes a test order (one per screened member; re-recording changes nothing)."""
    existing = TestOrder.objects.filter(member_screening=member_screening).first()
    if existing is not None:
        return existing
    person = member_screening.person
    order = TestOrder.objects.create(
        person=person,
        member_screening=member_screening,
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        urgent=member_screening.outcome == "urgent",
        reasons=member_screening.reasons,
        created_by=actor,
        modified_by=actor,
    )
    audit_record(actor=actor, action="create", obj=order, details={"urgent": order.urgent})
    if order.urgent:
        alert_raise(
            actor=actor,
            kind=Alert.Kind.URGENT_REFERRAL,
            person=person,
            message="; ".join(r.get("en", "") for r in member_screening.reasons),
        )
    return order


def alert_raise(*, actor, kind: str, person, message: str, isolation=None) -> Alert:
    """An item on the post supervisor's list. Not deduplicated here: callers raise once per event."""
    alert = Alert.objects.create(
        kind=kind,
        person=person,
        isolation=isolation,
        message=message[:500],
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, action="create", obj=alert, details={"kind": kind})
    return alert


def follow_ups_record(*, actor, items: list[dict]) -> list:
    """Record a phone's batch of daily follow-ups; one `core.batch.ItemResult` per item, in order.

    Each item: id (the phone's UUID), isolation_id, date, method (call/visit), reached, symptoms, spo2, needs.
    Re-sending an item is answered "exists" and changes nothing. Implemented with the rest of the isolation
    machinery (issue #3).
    """
    raise NotImplementedError
