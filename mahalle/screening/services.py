"""Writes of the screening side: campaigns, visits (one or a phone's whole batch) and coverage.

A phone sends many visits at once and may send the same batch again when it never saw the answer. Each visit
carries the phone's UUID: a visit already stored with that UUID is answered "exists" and nothing changes. The
batch is validated item by item (invalid items are answered with their errors, valid ones are stored), and
the valid ones are written together, so a batch of 100 costs a handful of queries rather than hundreds.
"""

import datetime as dt
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.accounts.selectors import org_unit_in_jurisdiction
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.services import test_orders_create_for_referrals
from mahalle.core.batch import ItemResult, item_id_settled
from mahalle.core.dates import age_on
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.geo.models import OrgUnit
from mahalle.registry.models import Household, Person

from .models import (
    Campaign,
    CampaignArea,
    CampaignCoverage,
    MemberScreening,
    RiskOutcome,
    ScreeningVisit,
    VisitStatus,
)
from .rules import SYMPTOMS, MemberAnswers, score_member
from .selectors import active_rules, campaigns_covering  # noqa: F401  (campaigns_covering: re-exported)

NEED_KINDS = ("food", "hygiene", "income", "medical_equipment", "housing", "medicine", "other")
SPO2_RANGE = (50, 100)


def _require_field_role(actor) -> None:
    if not actor.has_role(PERSONAL_DATA_WRITE_ROLES):
        raise PermissionDenied("your role may not record screening visits")


@transaction.atomic
def campaign_create(
    *, actor, name: str, start_date: dt.date, end_date: dt.date, org_units: list[OrgUnit]
) -> Campaign:
    errors = []
    if not normalize_text(name):
        errors.append(field_error("name", "is required"))
    if end_date < start_date:
        errors.append(field_error("end_date", "is before the start date"))
    if not org_units:
        errors.append(field_error("org_units", "choose at least one org unit"))
    if errors:
        raise ValidationFailed("the campaign could not be created", errors)
    if not actor.has_role(PERSONAL_DATA_WRITE_ROLES - {"field_volunteer"}) or not all(
        org_unit_in_jurisdiction(user=actor, unit=u) for u in org_units
    ):
        raise PermissionDenied("you may only create campaigns inside your jurisdiction")
    campaign = Campaign.objects.create(
        name=normalize_text(name),
        start_date=start_date,
        end_date=end_date,
        created_by=actor,
        modified_by=actor,
    )
    CampaignArea.objects.bulk_create(
        [CampaignArea(campaign=campaign, org_unit=u, path=u.path) for u in org_units]
    )
    audit_record(
        actor=actor,
        action="create",
        obj=campaign,
        org_unit=org_units[0],
        details={"areas": [u.code for u in org_units]},
    )
    transaction.on_commit(lambda: _enqueue_coverage_refresh(campaign.pk))
    return campaign


def _enqueue_coverage_refresh(campaign_id) -> None:
    from .tasks import refresh_campaign_coverage

    refresh_campaign_coverage.enqueue(str(campaign_id))


def _clean_member(
    raw: dict, index: int, household_people: dict, visit_date: dt.date
) -> tuple[dict | None, list]:
    where = f"members[{index}]"
    errors = []
    person = household_people.get(str(raw.get("person_id")))
    if person is None:
        return None, [field_error(f"{where}.person_id", "is not a member of this household")]
    symptoms = list(dict.fromkeys(raw.get("symptoms") or []))
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        errors.append(field_error(f"{where}.symptoms", f"unknown symptom(s): {', '.join(map(str, unknown))}"))
    onset = raw.get("onset_date")
    if onset is not None and onset > visit_date:
        errors.append(field_error(f"{where}.onset_date", "is after the visit date"))
    spo2 = raw.get("spo2")
    if spo2 is not None and not SPO2_RANGE[0] <= spo2 <= SPO2_RANGE[1]:
        errors.append(field_error(f"{where}.spo2", f"must be between {SPO2_RANGE[0]} and {SPO2_RANGE[1]}"))
    present = raw.get("present", True)
    if not present and (symptoms or spo2 is not None):
        errors.append(field_error(f"{where}.present", "an absent member has no answers"))
    if errors:
        return None, errors
    return {
        "person": person,
        "present": present,
        "symptoms": symptoms,
        "onset_date": onset,
        "spo2": spo2,
        "known_contact": bool(raw.get("known_contact")),
    }, []


def screening_visits_record(*, actor, items: list[dict], rules: list[dict] | None = None) -> list[ItemResult]:
    """Record a phone's batch of screening visits. Returns one result per item, in order.

    Each item: id (UUID), household_id, visit_date, status (screened/absent/refused), campaign_id (optional),
    needs (list), note, members: [{person_id, present, symptoms, onset_date, spo2, known_contact}].
    """
    _require_field_role(actor)
    if rules is None:
        rules = active_rules()
    today = timezone.localdate()
    results = [ItemResult(id=str(item.get("id"))) for item in items]
    ids = [str(item.get("id")) for item in items]

    existing = {
        str(v.pk): v
        for v in ScreeningVisit.objects.filter(pk__in=ids).only("id", "household_id", "visit_date")
    }
    households = {
        str(h.pk): h
        for h in Household.objects.filter(pk__in={str(i.get("household_id")) for i in items}).select_related(
            "org_unit"
        )
    }
    people_by_household: dict[str, dict[str, Person]] = {}
    for person in Person.objects.filter(household_id__in=list(households)).only(
        "id", "household_id", "org_unit_id", "org_path", "birth_date", "chronic_disease", "pregnant"
    ):
        people_by_household.setdefault(str(person.household_id), {})[str(person.pk)] = person
    campaigns = {
        str(c.pk): c
        for c in Campaign.objects.filter(
            pk__in={str(i["campaign_id"]) for i in items if i.get("campaign_id")}
        ).prefetch_related("areas")
    }

    accepted: list[tuple[int, dict, Household, list[dict]]] = []
    seen_in_batch: set[str] = set()
    for index, item in enumerate(items):
        result, vid = results[index], ids[index]
        if item_id_settled(
            result,
            vid,
            existing=existing,
            seen=seen_in_batch,
            what="visit",
            same=lambda prior, item=item: str(prior.household_id) == str(item.get("household_id"))
            and prior.visit_date == item.get("visit_date"),
        ):
            continue
        errors = []
        household = households.get(str(item.get("household_id")))
        if household is None or not org_unit_in_jurisdiction(user=actor, unit=household.org_unit):
            errors.append(field_error("household_id", "no such household in your jurisdiction"))
        visit_date = item.get("visit_date")
        if visit_date is None:
            errors.append(field_error("visit_date", "is required"))
        elif visit_date > today:
            errors.append(field_error("visit_date", "is in the future"))
        elif visit_date < today - dt.timedelta(days=365):
            errors.append(field_error("visit_date", "is more than a year ago"))
        status = item.get("status")
        if status not in VisitStatus.values:
            errors.append(field_error("status", f"must be one of {', '.join(VisitStatus.values)}"))
        needs = list(dict.fromkeys(item.get("needs") or []))
        if any(n not in NEED_KINDS for n in needs):
            errors.append(field_error("needs", f"must be among {', '.join(NEED_KINDS)}"))
        campaign = campaigns.get(str(item.get("campaign_id"))) if item.get("campaign_id") else None
        if item.get("campaign_id") and campaign is None:
            errors.append(field_error("campaign_id", "no such campaign"))
        elif campaign is not None and household is not None and visit_date is not None:
            if not any(household.org_path.startswith(a.path) for a in campaign.areas.all()):
                errors.append(field_error("campaign_id", "the campaign does not cover this household's post"))
            elif not campaign.start_date <= visit_date <= campaign.end_date:
                errors.append(field_error("visit_date", "is outside the campaign's dates"))
        members: list[dict] = []
        raw_members = item.get("members") or []
        if household is not None and visit_date is not None and not errors:
            people = people_by_household.get(str(household.pk), {})
            seen_people = set()
            for m_index, raw in enumerate(raw_members):
                member, m_errors = _clean_member(raw, m_index, people, visit_date)
                if member is not None and member["person"].pk in seen_people:
                    m_errors = [field_error(f"members[{m_index}].person_id", "appears twice in this visit")]
                errors.extend(m_errors)
                if member is not None and not m_errors:
                    seen_people.add(member["person"].pk)
                    members.append(member)
            if status == VisitStatus.SCREENED and not raw_members:
                errors.append(field_error("members", "a screened household needs its members' answers"))
            if status != VisitStatus.SCREENED and raw_members:
                errors.append(field_error("members", "an absent or refusing household has no answers"))
        if errors:
            result.status, result.errors = "invalid", errors
            continue
        accepted.append((index, {**item, "needs": needs, "campaign": campaign}, household, members))

    if accepted:
        try:
            _write_visits(actor=actor, accepted=accepted, results=results, rules=rules)
        except IntegrityError:
            # Another request stored one of these ids in the meantime: fall back to one visit at a time, so
            # each item gets its own answer and the rest of the batch is not lost.
            for entry in accepted:
                try:
                    _write_visits(actor=actor, accepted=[entry], results=results, rules=rules)
                except IntegrityError:
                    results[entry[0]].status = "exists"
    return results


@transaction.atomic
def _write_visits(*, actor, accepted, results: list[ItemResult], rules) -> None:
    visits, member_rows = [], []
    for _index, item, household, members in accepted:
        visit = ScreeningVisit(
            id=item["id"],
            household=household,
            campaign=item["campaign"],
            visit_date=item["visit_date"],
            volunteer=actor,
            status=item["status"],
            needs=item["needs"],
            note=normalize_text(item.get("note"))[:1000],
            org_unit_id=household.org_unit_id,
            org_path=household.org_path,
            created_by=actor,
            modified_by=actor,
        )
        visits.append(visit)
        for member in members:
            person = member["person"]
            score = (
                score_member(
                    MemberAnswers(
                        symptoms=frozenset(member["symptoms"]),
                        spo2=member["spo2"],
                        age=age_on(person.birth_date, item["visit_date"]),
                        chronic_disease=person.chronic_disease,
                        pregnant=person.pregnant,
                        known_contact=member["known_contact"],
                    ),
                    rules,
                )
                if member["present"]
                else None
            )
            member_rows.append(
                MemberScreening(
                    visit=visit,
                    person=person,
                    org_path=household.org_path,
                    present=member["present"],
                    symptoms=member["symptoms"],
                    onset_date=member["onset_date"],
                    spo2=member["spo2"],
                    known_contact=member["known_contact"],
                    outcome=score.outcome if score else RiskOutcome.NONE,
                    reasons=score.reasons if score else [],
                )
            )
    ScreeningVisit.objects.bulk_create(visits)
    MemberScreening.objects.bulk_create(member_rows)

    by_visit = {}
    for row in member_rows:
        by_visit.setdefault(row.visit_id, []).append(row)
    referred = []
    for index, item, _household, _ in accepted:
        result = results[index]
        result.status = "created"
        for row in by_visit.get(item["id"], []):
            if row.outcome != RiskOutcome.NONE:
                referred.append(row)
                result.referrals += 1
                result.urgent += row.outcome == RiskOutcome.URGENT
    if referred:
        test_orders_create_for_referrals(actor=actor, member_screenings=referred)
    _coverage_count_visits(visits=visits, member_rows=member_rows, results=results, accepted=accepted)
    audit_record_many(
        actor=actor,
        action="create",
        object_type="screening.screeningvisit",
        rows=[(str(v.pk), v.org_path) for v in visits],
    )


def _coverage_count_visits(*, visits, member_rows, results, accepted) -> None:
    """Add this batch to the campaigns' coverage rows: first screened visit of a household, first screening of
    a person, and referrals, per (campaign, post)."""
    screened = [v for v in visits if v.campaign_id and v.status == VisitStatus.SCREENED]
    if not screened:
        return
    campaign_ids = {v.campaign_id for v in screened}
    batch_ids = {v.pk for v in visits}
    prior_households = set(
        ScreeningVisit.objects.filter(
            campaign_id__in=campaign_ids,
            status=VisitStatus.SCREENED,
            household_id__in={v.household_id for v in screened},
        )
        .exclude(pk__in=batch_ids)
        .values_list("campaign_id", "household_id")
    )
    # Through the person_id index first, then the visits by primary key: a join filtered on the campaign lets
    # the planner hash every visit of the campaign, which grows with the campaign (millions of rows).
    earlier = list(
        MemberScreening.objects.filter(person_id__in={m.person_id for m in member_rows}, present=True)
        .exclude(visit_id__in=batch_ids)
        .values_list("visit_id", "person_id")
    )
    campaign_of = dict(
        ScreeningVisit.objects.filter(
            pk__in={visit_id for visit_id, _ in earlier}, campaign_id__in=campaign_ids
        ).values_list("pk", "campaign_id")
    )
    prior_people = {(campaign_of[v], p) for v, p in earlier if v in campaign_of}
    increments: dict[tuple, Counter] = {}
    referrals_by_visit = {item["id"]: results[index].referrals for index, item, _, _ in accepted}
    visit_by_id = {v.pk: v for v in screened}
    for visit in screened:
        key = (visit.campaign_id, visit.org_unit_id, visit.org_path)
        counts = increments.setdefault(key, Counter())
        if (visit.campaign_id, visit.household_id) not in prior_households:
            prior_households.add((visit.campaign_id, visit.household_id))
            counts["households_screened"] += 1
        counts["referrals"] += referrals_by_visit.get(visit.pk, 0)
    for row in member_rows:
        visit = visit_by_id.get(row.visit_id)
        if visit is None or not row.present or (visit.campaign_id, row.person_id) in prior_people:
            continue
        prior_people.add((visit.campaign_id, row.person_id))
        increments[(visit.campaign_id, visit.org_unit_id, visit.org_path)]["persons_screened"] += 1
    CampaignCoverage.objects.bulk_create(
        [CampaignCoverage(campaign_id=c, post_id=p, post_path=path) for c, p, path in increments],
        ignore_conflicts=True,
    )
    for (campaign_id, post_id, _), counts in sorted(
        increments.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
    ):
        CampaignCoverage.objects.filter(campaign_id=campaign_id, post_id=post_id).update(
            **{name: F(name) + value for name, value in counts.items()}
        )


def coverage_record_positive(*, person, on: dt.date) -> None:
    """A positive result for someone screened in a campaign counts as a positive of that campaign's post."""
    campaign_ids = set(
        MemberScreening.objects.filter(
            person=person, visit__campaign__isnull=False, visit__campaign__start_date__lte=on
        ).values_list("visit__campaign_id", flat=True)
    )
    for campaign_id in sorted(campaign_ids, key=str):
        CampaignCoverage.objects.filter(campaign_id=campaign_id, post_id=person.org_unit_id).update(
            positives=F("positives") + 1
        )


@transaction.atomic
def coverage_refresh(*, campaign: Campaign) -> int:
    """Recompute a campaign's coverage rows from the records. Idempotent; run by a background task."""
    from django.db.models import Count, Q

    from mahalle.cases.models import TestOrder, TestResult
    from mahalle.geo.models import Level

    rows = {}
    for area in campaign.areas.all():
        for post in OrgUnit.objects.within(area.org_unit).filter(level=Level.POST).only("id", "path"):
            rows[post.pk] = CampaignCoverage(campaign=campaign, post=post, post_path=post.path)
    for row in (
        Household.objects.filter(org_unit_id__in=list(rows)).values("org_unit_id").annotate(n=Count("id"))
    ):
        rows[row["org_unit_id"]].households_registered = row["n"]
    visits = ScreeningVisit.objects.filter(campaign=campaign, status=VisitStatus.SCREENED)
    for row in visits.values("org_unit_id").annotate(n=Count("household_id", distinct=True)):
        if row["org_unit_id"] in rows:
            rows[row["org_unit_id"]].households_screened = row["n"]
    members = MemberScreening.objects.filter(visit__campaign=campaign, present=True)
    for row in members.values("visit__org_unit_id").annotate(
        n=Count("person_id", distinct=True), r=Count("id", filter=~Q(outcome=RiskOutcome.NONE))
    ):
        if row["visit__org_unit_id"] in rows:
            rows[row["visit__org_unit_id"]].persons_screened = row["n"]
            rows[row["visit__org_unit_id"]].referrals = row["r"]
    positives = TestOrder.objects.filter(
        member_screening__visit__campaign=campaign, result=TestResult.POSITIVE
    )
    for row in positives.values("org_unit_id").annotate(n=Count("person_id", distinct=True)):
        if row["org_unit_id"] in rows:
            rows[row["org_unit_id"]].positives = row["n"]
    CampaignCoverage.objects.filter(campaign=campaign).delete()
    CampaignCoverage.objects.bulk_create(rows.values(), batch_size=2000)
    return len(rows)
