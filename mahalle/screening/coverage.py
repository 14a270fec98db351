"""The campaigns' coverage rollup (CampaignCoverage): one row per (campaign, post) with households registered and
screened, persons screened, referrals and positives. Read by the coverage tables, never computed from visits on
a request.

Upkeep, not services: counts derived from records that are audited where they are written. A visits batch adds
its counts inside its own transaction (`coverage_count_visits`, from screening.services); a positive test result
adds one inside the lab result's transaction (`coverage_record_positive`, through the cases event seam); the
background task recomputes a campaign's rows from the records (`coverage_refresh`, screening.tasks).
"""

import datetime as dt
from collections import Counter

from django.db import transaction
from django.db.models import Count, F, Q

from mahalle.cases.models import TestOrder, TestResult
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Household

from .models import Campaign, CampaignCoverage, MemberScreening, RiskOutcome, ScreeningVisit, VisitStatus


def _prior_screenings(screened: list, member_rows: list, batch_ids: set) -> tuple[set, set]:
    """(campaign, household) pairs screened before this batch, and (campaign, person) pairs screened before."""
    campaign_ids = {v.campaign_id for v in screened}
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
    return prior_households, prior_people


def coverage_count_visits(*, visits: list, member_rows: list, referrals_by_visit: dict) -> None:
    """Add a batch of visits (just written, in the caller's transaction) to the campaigns' coverage rows: first
    screened visit of a household, first screening of a person, and referrals, per (campaign, post)."""
    screened = [v for v in visits if v.campaign_id and v.status == VisitStatus.SCREENED]
    if not screened:
        return
    prior_households, prior_people = _prior_screenings(screened, member_rows, {v.pk for v in visits})
    increments: dict[tuple, Counter] = {}
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
