"""Needs that arrive from the health side: needs noticed in screening visits and daily follow-ups, and the death
of a household's head (breadwinner). Each report is one HouseholdNeed per kind with its source_ref (the visit,
follow-up or case id), so the same report arriving twice — from the hook and from the catch-up — is one need.

Hooks the screening and cases services can call in their own transaction (`needs_record_from_visit`,
`needs_record_from_follow_up`, `needs_record_from_death`), and `needs_catch_up(since=…)` that scans recent
records (the daily task and the `needs_catch_up` command)."""

import datetime as dt

from mahalle.audit.services import audit_record
from mahalle.cases.models import Case, FollowUp, Outcome
from mahalle.core.service import service
from mahalle.registry.models import Relation
from mahalle.screening.models import ScreeningVisit

from ..models import HouseholdNeed, NeedKind, NeedSource
from ..rules import FIELD_NEEDS
from .vulnerability import household_vulnerability_refresh


def _needs_for(household, words, *, source: str, ref: str, on: dt.date) -> list[HouseholdNeed]:
    made = {}
    for word in words or []:
        kind = FIELD_NEEDS.get(str(word), NeedKind.OTHER)
        note = "" if kind != NeedKind.OTHER else str(word)[:500]
        made.setdefault(
            kind,
            HouseholdNeed(
                household_id=household.pk,
                org_unit_id=household.org_unit_id,
                org_path=household.org_path,
                kind=kind,
                source=source,
                noted_on=on,
                source_ref=ref[:64],
                note=note,
            ),
        )
    return list(made.values())


def _save(actor, needs: list[HouseholdNeed], *, what: str, ref: str, household) -> int:
    if not needs:
        return 0
    before = HouseholdNeed.objects.filter(source=needs[0].source, source_ref=ref).count()
    HouseholdNeed.objects.bulk_create(needs, ignore_conflicts=True)
    created = HouseholdNeed.objects.filter(source=needs[0].source, source_ref=ref).count() - before
    if created:
        audit_record(
            actor=actor,
            action="create",
            object_type="needs.householdneed",
            object_id=ref,
            org_path=household.org_path,
            details={"from": what, "kinds": [n.kind for n in needs]},
        )
        household_vulnerability_refresh(household_ids=[household.pk])
    return created


@service
def needs_record_from_visit(*, actor, visit) -> int:
    """The needs a screening visit noticed (visit.needs); returns how many were new."""
    household = visit.household
    needs = _needs_for(
        household, visit.needs, source=NeedSource.SCREENING, ref=str(visit.pk), on=visit.visit_date
    )
    return _save(actor, needs, what="screening visit", ref=str(visit.pk), household=household)


@service
def needs_record_from_follow_up(*, actor, follow_up) -> int:
    household = follow_up.isolation.person.household
    if household is None:
        return 0
    needs = _needs_for(
        household, follow_up.needs, source=NeedSource.FOLLOW_UP, ref=str(follow_up.pk), on=follow_up.date
    )
    return _save(actor, needs, what="follow-up", ref=str(follow_up.pk), household=household)


def _is_head(person) -> bool:
    household = person.household
    return household is not None and (
        household.head_id == person.pk or person.relation_to_head == Relation.HEAD
    )


@service
def needs_record_from_death(*, actor, case) -> int:
    """A case that ended in death: if the person headed a household, the household lost its breadwinner."""
    if case.outcome != Outcome.DIED:
        return 0
    person = case.person
    household = person.household
    if household is None:
        return 0
    if not _is_head(person):
        household_vulnerability_refresh(household_ids=[household.pk])  # a death still scores
        return 0
    needs = _needs_for(
        household,
        ["breadwinner_died"],
        source=NeedSource.CASES,
        ref=str(case.pk),
        on=case.outcome_date or case.modified_at.date(),
    )
    return _save(actor, needs, what="death of the head of household", ref=str(case.pk), household=household)


def _noting_needs(records, household: str):
    """The `records` (visits or follow-ups) that noted needs, with their `household` relation, read in chunks."""
    return records.exclude(needs=[]).select_related(household).iterator(chunk_size=2000)


def _reports(since: dt.date):
    """What visits, follow-ups and deaths since `since` report: (what it counts as, household, need words,
    source, ref, date). A death counts (and reports a need) only when the person headed the household."""
    visits = _noting_needs(ScreeningVisit.objects.filter(visit_date__gte=since), "household")
    for visit in visits:
        yield "visits", visit.household, visit.needs, NeedSource.SCREENING, visit.pk, visit.visit_date
    follow_ups = _noting_needs(FollowUp.objects.filter(date__gte=since), "isolation__person__household")
    for f in follow_ups:
        yield "follow_ups", f.isolation.person.household, f.needs, NeedSource.FOLLOW_UP, f.pk, f.date
    deaths = Case.objects.filter(outcome=Outcome.DIED, outcome_date__gte=since).select_related(
        "person__household"
    )
    for case in deaths.iterator(chunk_size=2000):
        head = case.person.household is not None and _is_head(case.person)
        words = ["breadwinner_died"] if head else []
        yield (
            "deaths" if head else "",
            case.person.household,
            words,
            NeedSource.CASES,
            case.pk,
            case.outcome_date,
        )


@service
def needs_catch_up(*, since: dt.date, actor=None) -> dict:
    """Scan visits, follow-ups and deaths since `since` and record their needs; idempotent. Returns counts.
    One transaction: the needs it creates and their audit event are committed together."""
    counts = {"visits": 0, "follow_ups": 0, "deaths": 0, "needs_created": 0}
    touched: set = set()
    batch: list[HouseholdNeed] = []

    def flush():
        if batch:
            before = HouseholdNeed.objects.count()
            HouseholdNeed.objects.bulk_create(batch, ignore_conflicts=True, batch_size=1000)
            counts["needs_created"] += HouseholdNeed.objects.count() - before
            batch.clear()

    for counted, household, words, source, ref, on in _reports(since):
        if household is None:
            continue
        touched.add(household.pk)
        if counted:
            counts[counted] += 1
        batch += _needs_for(household, words, source=source, ref=str(ref), on=on)
        if len(batch) >= 5000:
            flush()
    flush()
    if counts["needs_created"]:
        audit_record(
            actor=actor,
            action="create",
            object_type="needs.householdneed",
            object_id="catch-up",
            details={"since": since.isoformat(), **counts},
        )
    household_vulnerability_refresh(household_ids=touched) if touched else None
    counts["households_scored"] = len(touched)
    return counts
