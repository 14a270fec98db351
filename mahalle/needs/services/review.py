"""The review queue's decisions, and merges and splits of source records. Every reviewer decision is a
ReviewDecision row, never overwritten; every change of a record's person a LinkChange row (services._links)."""

from django.utils import timezone

from mahalle.accounts.capabilities import Can
from mahalle.audit.services import audit_record
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.core.service import service
from mahalle.registry.models import Person

from ..models import LinkStatus, ReviewDecision, ReviewPair, SourceRecord
from ..selectors import require_here
from ._links import _attach
from ._persons import _new_person


def _locked_pair(pair: ReviewPair) -> ReviewPair:
    return (
        ReviewPair.objects.select_for_update()
        .select_related("source_record", "source_record__org_unit", "person", "person__org_unit")
        .get(pk=pair.pk)
    )


def _audit_review(actor, pair: ReviewPair, *, decision: str, previous: str, reason: str) -> None:
    record = pair.source_record
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


@service
def review_pair_decide(*, actor, pair: ReviewPair, decision: str, reason: str = "") -> ReviewPair:
    """The reviewer's word on a pair: same → the record is linked to the person; different → it is not (and
    when no open candidate is left, a new registry person is made for it). Stored with who/when/why."""
    if decision not in (ReviewPair.Decision.SAME, ReviewPair.Decision.DIFFERENT):
        raise ValidationFailed("unknown decision", [field_error("decision", "must be same or different")])
    pair = _locked_pair(pair)
    record = pair.source_record
    require_here(actor, Can.REVIEW_LINKS, record.org_unit, "review this pair")
    require_here(actor, Can.REVIEW_LINKS, pair.person.org_unit, "review this pair")
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
    _audit_review(actor, pair, decision=decision, previous=previous, reason=reason)
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


@service
def review_pair_undo(*, actor, pair: ReviewPair, reason: str = "") -> ReviewPair:
    """Take back a pair's decision: a new history row (the old ones stay), the pair is open again, and a link
    the decision made is undone (a person created for the record stays in the registry, unlinked from it)."""
    pair = _locked_pair(pair)
    record = pair.source_record
    require_here(actor, Can.REVIEW_LINKS, record.org_unit, "review this pair")
    require_here(actor, Can.REVIEW_LINKS, pair.person.org_unit, "review this pair")
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
    _audit_review(actor, pair, decision="undo", previous=previous, reason=reason)
    return pair


# --- merges and splits ------------------------------------------------------------------------------------


@service
def source_record_split(*, actor, record: SourceRecord, reason: str = "") -> SourceRecord:
    """Detach a record from its person into a person of its own (same household). Undo: relink it."""
    record = (
        SourceRecord.objects.select_for_update(of=("self",))
        .select_related("org_unit", "person")
        .get(pk=record.pk)
    )
    require_here(actor, Can.REVIEW_LINKS, record.org_unit, "split this record")
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


@service
def source_record_relink(*, actor, record: SourceRecord, person: Person, reason: str = "") -> SourceRecord:
    """Link a record to another registry person (a merge, or the undo of a split)."""
    record = SourceRecord.objects.select_for_update().select_related("org_unit").get(pk=record.pk)
    require_here(actor, Can.REVIEW_LINKS, record.org_unit, "relink this record")
    require_here(actor, Can.REVIEW_LINKS, person.org_unit, "relink this record")
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
