"""Alerts: the items on the post supervisor's list (deterioration, urgent referrals, missed follow-ups)."""

import datetime as dt
import uuid

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mahalle.accounts.capabilities import Can, require
from mahalle.accounts.selectors import personal_record_visible
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.core.errors import PermissionDenied
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from ..models import Alert, FollowUp, Isolation


@service
def alert_raise(
    *, actor, kind: str, person, message: str, isolation=None, day: dt.date | None = None
) -> Alert:
    """An item on the post supervisor's list. Not deduplicated here: callers raise once per event (alerts about an
    isolation's day are unique per kind, isolation and day — see the model's constraint)."""
    alert = Alert.objects.create(
        kind=kind,
        person=person,
        isolation=isolation,
        day=day,
        message=message[:500],
        org_unit_id=person.org_unit_id,
        org_path=person.org_path,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, action="create", obj=alert, details={"kind": kind})
    return alert


@service
def alert_resolve(*, actor, alert: Alert, note: str = "") -> Alert:
    require(actor, Can.MANAGE_CASES, "your role may not resolve alerts")
    if not personal_record_visible(user=actor, org_path=alert.org_path):
        raise PermissionDenied("this alert is outside your jurisdiction")
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.resolved_at is not None:
        return alert
    alert.resolved_at, alert.resolved_by = timezone.now(), actor
    alert.save(update_fields=["resolved_at", "resolved_by", "modified_at"])
    audit_record(
        actor=actor,
        action="update",
        obj=alert,
        details={"resolved": True, "note": normalize_text(note)[:500]},
    )
    return alert


@service
def missed_follow_ups_flag(*, day: dt.date) -> int:
    """One MISSED_FOLLOW_UP alert per isolation active on `day` that has no follow-up dated `day`. Idempotent: the
    (kind, isolation, day) constraint makes a second run create nothing. Returns the alerts created."""
    done = FollowUp.objects.filter(isolation=OuterRef("pk"), date=day)
    flagged = Alert.objects.filter(isolation=OuterRef("pk"), kind=Alert.Kind.MISSED_FOLLOW_UP, day=day)
    missing = (
        Isolation.objects.filter(start_date__lte=day)
        .filter(Q(released_on=None) | Q(released_on__gt=day))
        .exclude(Exists(done))
        .exclude(Exists(flagged))
        .values_list("pk", "person_id", "org_unit_id", "org_path")
    )
    alerts = [
        Alert(
            id=uuid.uuid4(),
            kind=Alert.Kind.MISSED_FOLLOW_UP,
            person_id=person_id,
            isolation_id=isolation_id,
            day=day,
            message=f"no follow-up on {day.isoformat()}",
            org_unit_id=org_unit_id,
            org_path=org_path,
        )
        for isolation_id, person_id, org_unit_id, org_path in missing
    ]
    Alert.objects.bulk_create(alerts, batch_size=1000, ignore_conflicts=True)
    created = Alert.objects.filter(pk__in=[a.pk for a in alerts]).values_list("pk", "org_path")
    rows = [(str(pk), path) for pk, path in created]
    audit_record_many(
        actor=None,
        action="create",
        object_type="cases.alert",
        rows=rows,
        details={"kind": "missed_follow_up"},
    )
    return len(rows)
