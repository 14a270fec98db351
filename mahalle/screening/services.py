"""Writes of the screening side: campaigns and visits (one, or a phone's whole batch).

A phone sends many visits at once and may send the same batch again when it never saw the answer. Each visit
carries the phone's UUID: a visit already stored with that UUID is answered "exists" and nothing changes. The
batch is validated item by item (invalid items are answered with their errors, valid ones are stored), and
the valid ones are written together, so a batch of 100 costs a handful of queries rather than hundreds
(core.batch drives it). The campaigns' coverage rollup is kept by screening.coverage.
"""

import datetime as dt

from django.utils import timezone

from mahalle.accounts.capabilities import Can, may, require
from mahalle.accounts.selectors import org_unit_in_jurisdiction, path_within
from mahalle.audit.services import audit_record, audit_record_many
from mahalle.cases.rules import NEED_KINDS, SPO2_RANGE, SYMPTOMS
from mahalle.cases.services import test_orders_create_for_referrals
from mahalle.core.batch import CREATED, Entry, ItemResult, run_phone_batch
from mahalle.core.dates import age_on
from mahalle.core.errors import PermissionDenied, ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit
from mahalle.registry.models import Household, Person

from .coverage import coverage_count_visits
from .models import (
    Campaign,
    CampaignArea,
    MemberScreening,
    RiskOutcome,
    ScreeningVisit,
    VisitStatus,
)
from .rules import MemberAnswers, score_member
from .selectors import active_rules


@service
def campaign_create(
    *, actor, name: str, start_date: dt.date, end_date: dt.date, org_units: list[OrgUnit]
) -> Campaign:
    """A campaign over org units of the actor's jurisdiction (Can.MANAGE_CAMPAIGNS). Its coverage rows are built
    by a background task once it is committed (the API queues it: screening.tasks)."""
    errors = []
    if not normalize_text(name):
        errors.append(field_error("name", "is required"))
    if end_date < start_date:
        errors.append(field_error("end_date", "is before the start date"))
    if not org_units:
        errors.append(field_error("org_units", "choose at least one org unit"))
    if errors:
        raise ValidationFailed("the campaign could not be created", errors)
    if not may(actor, Can.MANAGE_CAMPAIGNS) or not all(
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
    return campaign


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


def _clean_members(item: dict, status, people: dict, visit_date: dt.date, errors: list) -> list[dict]:
    """The members' answers of a visit (each member once); their errors are added to `errors`."""
    members: list[dict] = []
    raw_members = item.get("members") or []
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
    return members


class _VisitCleaner:
    """Validates one visit of a batch against what the batch refers to (households, their people, campaigns),
    looked up once for the whole batch."""

    def __init__(self, actor, items: list[dict]):
        self.actor = actor
        self.today = timezone.localdate()
        self.households = {
            str(h.pk): h
            for h in Household.objects.filter(
                pk__in={str(i.get("household_id")) for i in items}
            ).select_related("org_unit")
        }
        self.people: dict[str, dict[str, Person]] = {}
        for person in Person.objects.filter(household_id__in=list(self.households)).only(
            "id", "household_id", "org_unit_id", "org_path", "birth_date", "chronic_disease", "pregnant"
        ):
            self.people.setdefault(str(person.household_id), {})[str(person.pk)] = person
        self.campaigns = {
            str(c.pk): c
            for c in Campaign.objects.filter(
                pk__in={str(i["campaign_id"]) for i in items if i.get("campaign_id")}
            ).prefetch_related("areas")
        }

    def _campaign(self, item, household, visit_date, errors: list):
        campaign = self.campaigns.get(str(item.get("campaign_id"))) if item.get("campaign_id") else None
        if item.get("campaign_id") and campaign is None:
            errors.append(field_error("campaign_id", "no such campaign"))
        elif campaign is not None and household is not None and visit_date is not None:
            if not path_within(household.org_path, [a.path for a in campaign.areas.all()]):
                errors.append(field_error("campaign_id", "the campaign does not cover this household's post"))
            elif not campaign.start_date <= visit_date <= campaign.end_date:
                errors.append(field_error("visit_date", "is outside the campaign's dates"))
        return campaign

    def __call__(self, item: dict, _parent=None) -> tuple[dict | None, list]:
        errors = []
        household = self.households.get(str(item.get("household_id")))
        if household is None or not org_unit_in_jurisdiction(user=self.actor, unit=household.org_unit):
            errors.append(field_error("household_id", "no such household in your jurisdiction"))
        visit_date = item.get("visit_date")
        if visit_date is None:
            errors.append(field_error("visit_date", "is required"))
        elif visit_date > self.today:
            errors.append(field_error("visit_date", "is in the future"))
        elif visit_date < self.today - dt.timedelta(days=365):
            errors.append(field_error("visit_date", "is more than a year ago"))
        status = item.get("status")
        if status not in VisitStatus.values:
            errors.append(field_error("status", f"must be one of {', '.join(VisitStatus.values)}"))
        needs = list(dict.fromkeys(item.get("needs") or []))
        if any(n not in NEED_KINDS for n in needs):
            errors.append(field_error("needs", f"must be among {', '.join(NEED_KINDS)}"))
        campaign = self._campaign(item, household, visit_date, errors)
        members: list[dict] = []
        if household is not None and visit_date is not None and not errors:
            people = self.people.get(str(household.pk), {})
            members = _clean_members(item, status, people, visit_date, errors)
        if errors:
            return None, errors
        return {**item, "needs": needs, "campaign": campaign, "household": household, "members": members}, []


def _same_visit(prior: ScreeningVisit, item: dict) -> bool:
    return str(prior.household_id) == str(item.get("household_id")) and prior.visit_date == item.get(
        "visit_date"
    )


@service(item_by_item=True)
def screening_visits_record(*, actor, items: list[dict], rules: list[dict] | None = None) -> list[ItemResult]:
    """Record a phone's batch of screening visits. Returns one result per item, in order.

    Each item: id (UUID), household_id, visit_date, status (screened/absent/refused), campaign_id (optional),
    needs (list), note, members: [{person_id, present, symptoms, onset_date, spo2, known_contact}].

    The batch commits item by item: the valid visits are written together in one transaction with their audit
    events, and when another request stored one of them meanwhile, one visit at a time (core.batch).
    """
    require(actor, Can.WRITE_PERSONAL, "your role may not record screening visits")
    if rules is None:
        rules = active_rules()
    return run_phone_batch(
        items,
        model=ScreeningVisit,
        what="visit",
        same=_same_visit,
        clean=_VisitCleaner(actor, items),
        write=lambda entries: _write_visits(actor=actor, entries=entries, rules=rules),
    )


def _member_row(visit: ScreeningVisit, member: dict, household: Household, rules) -> MemberScreening:
    person = member["person"]
    score = (
        score_member(
            MemberAnswers(
                symptoms=frozenset(member["symptoms"]),
                spo2=member["spo2"],
                age=age_on(person.birth_date, visit.visit_date),
                chronic_disease=person.chronic_disease,
                pregnant=person.pregnant,
                known_contact=member["known_contact"],
            ),
            rules,
        )
        if member["present"]
        else None
    )
    return MemberScreening(
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


def _write_visits(*, actor, entries: list[Entry], rules) -> None:
    visits, member_rows = [], []
    for entry in entries:
        item, household = entry.clean, entry.clean["household"]
        visit = ScreeningVisit(
            id=entry.id,
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
        member_rows += [_member_row(visit, member, household, rules) for member in item["members"]]
    ScreeningVisit.objects.bulk_create(visits)
    MemberScreening.objects.bulk_create(member_rows)

    by_visit = {}
    for row in member_rows:
        by_visit.setdefault(row.visit_id, []).append(row)
    referred = []
    for entry in entries:
        result = entry.result
        result.status = CREATED
        for row in by_visit.get(entry.id, []):
            if row.outcome != RiskOutcome.NONE:
                referred.append(row)
                result.referrals += 1
                result.urgent += row.outcome == RiskOutcome.URGENT
    if referred:
        test_orders_create_for_referrals(actor=actor, member_screenings=referred)
    coverage_count_visits(
        visits=visits,
        member_rows=member_rows,
        referrals_by_visit={entry.id: entry.result.referrals for entry in entries},
    )
    audit_record_many(
        actor=actor,
        action="create",
        object_type="screening.screeningvisit",
        rows=[(str(v.pk), v.org_path) for v in visits],
    )
