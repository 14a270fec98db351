"""Synthetic activity over the synthetic population: an epidemic, the screening rounds that look for it, and
everything that follows (test orders and results, cases, isolation, daily follow-ups, alerts, coverage).

Deterministic for a seed, a start date and the persons in the database. Everything is planned in memory first
(NumPy for the epidemic, plain loops for the records) and then written in one transaction with bulk inserts
(COPY on PostgreSQL, executemany on SQLite: `synth.bulk.rows_insert`), with one audit event per run. The
risk outcomes come from the real screening rules (`screening.rules.score_member`) and the case classifications
from the real case rules (`cases.rules.classify`), so the data shows what the system would have decided.

The model, kept simple on purpose:
- an epidemic per county (`epidemic.py`): a chain-binomial SEIR (latent 4 days, infectious 7 days), R0 drawn
  per county, with transmission falling by 60% around the middle of the period (the response works), seeded 3
  weeks before the start with a few infections; who gets infected on a day is a random draw among the county's
  people;
- an infected person is symptomatic more often when older; symptoms start 2-8 days after infection and last 5-13
  days (fever, cough, fatigue, loss of smell/taste ... with realistic frequencies; shortness of breath more often
  in the old and the chronically ill); a few become severe (SpO2 85-92 from day 3), more among the old and the
  chronically ill; some of the severe die, more among the old. Others have a mild symptom now and then;
- screening rounds of 14 days over every populated county (at most two campaigns): each household is visited
  once in the round's first 10 days; absent (9%) or refusing (3%) households are visited again 2-4 days later,
  up to three times; 85% of members are at home; SpO2 is measured for 35% (80% of the symptomatic);
- each referral (the rules' outcome is not "no action") becomes a test order: sampled within 0-2 days (5%
  never), PCR (65%) or rapid antigen, result 1-3 days later (antigen the same day), positive with a
  sensitivity of 90% (PCR) / 70% (antigen) while infected, 1% false positives; urgent referrals raise an alert;
- every referred person gets one case: suspected at the referral, then classified by the case rules from all
  their results; confirmed and probable cases are isolated (at home, or in one of a few quarantine places of
  the biggest counties while a place is free) until the rules' planned end, or death;
- every day of an isolation before today has a follow-up (call or visit; 8% missed: an alert for the post
  supervisor); a follow-up with SpO2 below 93% or new shortness of breath raises a deterioration alert;
- coverage rows are recomputed from the records (`coverage_refresh`) at the end.
"""

import datetime as dt
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mahalle.accounts.models import Role, User
from mahalle.analytics.services import rt_refresh
from mahalle.audit.services import audit_record
from mahalle.cases.models import (
    Alert,
    Case,
    CaseChange,
    Classification,
    FollowUp,
    Isolation,
    Outcome,
    QuarantinePlace,
    TestKind,
    TestOrder,
    TestResult,
)
from mahalle.cases.rules import NEED_KINDS, TestEvidence, classify, planned_isolation_end
from mahalle.core.dates import age_on
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Person
from mahalle.screening.coverage import coverage_refresh
from mahalle.screening.models import (
    Campaign,
    CampaignArea,
    MemberScreening,
    RiskOutcome,
    ScreeningVisit,
    VisitStatus,
)
from mahalle.screening.rules import MemberAnswers, score_member

from .bulk import rows_insert
from .epidemic import NEVER, PRE_DAYS, Course, People

SYNTH_VOLUNTEER = "synth-volunteer"
ROUND_DAYS = 14
MAX_CAMPAIGNS = 2
MILD = ("sore_throat", "cough", "fatigue", "fever", "diarrhoea")
LABS = ("آزمایشگاه مرجع سلامت", "آزمایشگاه دانشگاه علوم پزشکی", "آزمایشگاه بیمارستان امام خمینی")

# The columns of the planned rows, per model (the tuples are in this order).
_JURISDICTION = ["id", "org_unit", "org_path"]
VISIT_COLUMNS = [
    *_JURISDICTION,
    *("household", "campaign", "visit_date", "volunteer", "status", "needs", "note", "created_by"),
]
MEMBER_COLUMNS = [
    *("id", "visit", "person", "org_path", "present", "symptoms", "onset_date", "spo2", "known_contact"),
    *("outcome", "reasons"),
]
ORDER_COLUMNS = [
    *_JURISDICTION,
    *("person", "member_screening", "urgent", "reasons", "status", "kind", "sample_id", "lab", "result"),
    *("result_date", "created_at", "created_by", "sampled_on"),
]
CASE_COLUMNS = [
    *_JURISDICTION,
    *("person", "classification", "onset_date", "epi_link", "hospitalised", "outcome", "outcome_date"),
    *("created_at", "created_by", "hospitalised_on"),
]
ISOLATION_COLUMNS = [
    *_JURISDICTION,
    *("person", "case", "setting", "place", "start_date", "planned_end_date", "released_on", "release_reason"),
    *("created_by", "onset_date", "last_symptom_date"),
]
FOLLOW_UP_COLUMNS = [
    *_JURISDICTION,
    *("isolation", "date", "method", "reached", "symptoms", "spo2", "needs", "by", "created_at"),
]
ALERT_COLUMNS = [
    *_JURISDICTION,
    *("kind", "person", "isolation", "message", "created_at", "resolved_at", "resolved_by", "day"),
]


class ActivityExists(ValueError):
    pass


@dataclass
class Plan:
    """Rows to insert, per model, as tuples in the order of `names`."""

    start: dt.date
    end: dt.date
    seed: int
    campaigns: list[Campaign] = field(default_factory=list)
    areas: list[CampaignArea] = field(default_factory=list)
    places: list[QuarantinePlace] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)  # (case id, field, old, new, reason)
    rows: list = field(default_factory=list)  # [(model, field names, [tuples])], in insertion order
    summary: dict = field(default_factory=dict)

    def total_rows(self) -> int:
        return sum(len(r) for _, _, r in self.rows)


class _Ids:
    """Deterministic UUIDs from the run's own random stream."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.rng.bytes(16), version=4)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _volunteers(post_ids, fallback: User | None = None) -> tuple[dict[int, int], User]:
    """Who records a post's visits: a field volunteer placed in the post, else `fallback`, else the (inactive)
    synthetic volunteer, created the first time."""
    synthetic = fallback or User.objects.filter(username=SYNTH_VOLUNTEER).first()
    if synthetic is None:
        synthetic = User(username=SYNTH_VOLUNTEER, role=Role.FIELD_VOLUNTEER, is_active=False)
        synthetic.set_unusable_password()
        synthetic.save()
    by_post = {}
    through = User.org_units.through.objects.filter(
        orgunit_id__in=list(post_ids), user__role=Role.FIELD_VOLUNTEER, user__is_active=True
    ).order_by("user_id")
    for row in through.values("orgunit_id", "user_id"):
        by_post.setdefault(row["orgunit_id"], row["user_id"])
    return by_post, synthetic


def activity_plan(
    *, weeks: int, seed: int, start: dt.date | None = None, rules=None, recorder: User | None = None
) -> Plan:
    """Plan the activity from the population in the database. Writes nothing but, the first time, the inactive
    synthetic volunteer user the visits of posts without a volunteer are recorded by (unless `recorder` is
    given: then that user records them)."""
    if weeks < 1:
        raise ValueError("--weeks must be at least 1")
    today = timezone.localdate()
    start = start or today - dt.timedelta(days=7 * weeks - 1)
    end = start + dt.timedelta(days=7 * weeks - 1)
    if end > today:
        raise ValueError(f"the activity would end on {end}, after today ({today}): choose an earlier --start")
    rules = rules if rules is not None else getattr(settings, "MAHALLE_SCREENING_RULES", None)
    seeds = np.random.SeedSequence([seed, start.toordinal()]).spawn(4)
    rng, id_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    plan = Plan(start=start, end=end, seed=seed)
    people = _people_load(start)
    if Campaign.objects.filter(
        pk=uuid.UUID(bytes=np.random.default_rng(seeds[1]).bytes(16), version=4)
    ).exists():
        raise ActivityExists(f"activity for seed {seed} starting {start} is already in the database")
    course = Course(rng, people, weeks=weeks, start=start)
    simulation = _Simulation(plan, rng, _Ids(id_rng), people, course, weeks=weeks, rules=rules)
    simulation.campaigns_plan()
    simulation.visits_plan(recorder)
    simulation.cases_plan()
    simulation.isolations_plan()
    plan.rows = simulation.rows()
    plan.summary = simulation.summary()
    return plan


def _people_load(start: dt.date) -> People:
    people = list(
        Person.objects.filter(household__isnull=False)
        .order_by("org_path", "household_id", "id")
        .values_list(
            "id", "household_id", "org_unit_id", "org_path", "birth_date", "chronic_disease", "pregnant"
        )
    )
    if not people:
        raise ValueError("the registry has no persons in households: run `mahalle synth` first")
    path_of = [p[3] for p in people]
    return People(
        ids=[p[0] for p in people],
        hh_of=[p[1] for p in people],
        post_of=[p[2] for p in people],
        path_of=path_of,
        births=[p[4] for p in people],
        pregnant=[p[6] for p in people],
        county_path=np.array([".".join(p.split(".")[:3]) + "." for p in path_of], dtype=object),
        age=np.array([age_on(p[4], start) if p[4] else 30 for p in people], dtype=np.int64),
        chronic=np.array([p[5] for p in people], dtype=bool),
    )


class _Simulation:
    """The records that follow from the course of the epidemic, planned step by step in a fixed order (the
    steps share one random stream, so the order is part of the output): campaigns, visits and member answers,
    test orders and cases, isolations and their follow-ups; then the plan's rows and summary."""

    def __init__(self, plan: Plan, rng, new_id: _Ids, people: People, course: Course, *, weeks: int, rules):
        self.plan, self.rng, self.new_id, self.rules = plan, rng, new_id, rules
        self.people, self.course, self.weeks = people, course, weeks
        self.last_day = PRE_DAYS + 7 * weeks - 1
        self.visits, self.members, self.orders, self.alerts = [], [], [], []
        self.cases, self.isolations, self.follow_ups = [], [], []
        self.to_isolate: list[tuple[dict, int]] = []  # (case, first day of isolation)
        self.referrals_by_person: dict[int, list[tuple]] = defaultdict(list)
        self.score_cache: dict = {}

    def stamp(self, day: int, hour: int = 10):
        moment = dt.datetime.combine(self.course.day_date(day), dt.time(hour), tzinfo=dt.UTC)
        return connection.ops.adapt_datetimefield_value(moment)

    # --- campaigns -----------------------------------------------------------------------------------------
    def campaigns_plan(self) -> None:
        plan, counties, start = self.plan, self.course.counties, self.plan.start
        self.county_units = {u.path: u for u in OrgUnit.objects.filter(level=Level.COUNTY, path__in=counties)}
        n_campaigns = min(MAX_CAMPAIGNS, math.ceil(7 * self.weeks / ROUND_DAYS))
        self.rounds = []
        for r in range(n_campaigns):
            c_start = start + dt.timedelta(days=r * ROUND_DAYS)
            c_end = plan.end if r == n_campaigns - 1 else c_start + dt.timedelta(days=ROUND_DAYS - 1)
            campaign = Campaign(
                id=self.new_id(),
                name=f"دور {r + 1} غربالگری خانه‌به‌خانه (شبیه‌سازی، بذر {plan.seed})",
                start_date=c_start,
                end_date=c_end,
            )
            plan.campaigns.append(campaign)
            plan.areas += [
                CampaignArea(campaign=campaign, org_unit=self.county_units[c], path=c) for c in counties
            ]
            self.rounds.append((campaign, (c_start - start).days + PRE_DAYS, (c_end - start).days + PRE_DAYS))

    # --- visits and member answers -------------------------------------------------------------------------
    def visits_plan(self, recorder: User | None) -> None:
        self.households: dict = {}
        for i, h in enumerate(self.people.hh_of):
            self.households.setdefault(h, []).append(i)
        self.volunteer_by_post, self.synthetic = _volunteers(set(self.people.post_of), recorder)
        for campaign, first, last in self.rounds:
            span = max(1, min(10, last - first + 1))
            for h, member_idx in self.households.items():
                self._household_visit(campaign, first, last, span, h, member_idx)

    def _household_visit(self, campaign, first: int, last: int, span: int, h, member_idx: list[int]) -> None:
        """A household's visits in a round: the first on a random day of its first 10 days, again 2-4 days
        after an absence or (half the time) a refusal, up to three times."""
        rng, post_of, path_of = self.rng, self.people.post_of, self.people.path_of
        post = post_of[member_idx[0]]
        volunteer = self.volunteer_by_post.get(post, self.synthetic.pk)
        day = first + int(rng.integers(0, span))
        for _attempt in range(3):
            u = rng.random()
            status = (
                VisitStatus.SCREENED if u < 0.88 else VisitStatus.ABSENT if u < 0.97 else VisitStatus.REFUSED
            )
            vid, visit_date = self.new_id(), self.course.day_date(day)
            needs = [NEED_KINDS[int(rng.integers(0, len(NEED_KINDS)))]] if rng.random() < 0.05 else []
            self.visits.append(
                (
                    vid,
                    post,
                    path_of[member_idx[0]],
                    h,
                    campaign.pk,
                    visit_date.isoformat(),
                    volunteer,
                    status.value,
                    _json(needs),
                    "",
                    self.synthetic.pk,
                )
            )
            if status == VisitStatus.SCREENED:
                for i in member_idx:
                    self._member_screen(i, vid, day, visit_date)
                break
            if status == VisitStatus.REFUSED and rng.random() < 0.5:
                break
            day += int(rng.integers(2, 5))
            if day > last:
                break

    def _member_screen(self, i: int, vid, day: int, visit_date: dt.date) -> None:
        """One member's answers at a screened visit, scored by the real screening rules; a referral is kept."""
        rng, course, people = self.rng, self.course, self.people
        present = course.death_day[i] > day and rng.random() < 0.85
        symptoms = course.symptoms_on(i, day) if present else []
        onset_date = course.day_date(course.onset[i]) if symptoms else None
        if present and not symptoms and rng.random() < 0.02:
            symptoms = sorted({MILD[int(k)] for k in rng.integers(0, len(MILD), 2)})
            onset_date = course.day_date(day - int(rng.integers(0, 4)))
        measured = present and rng.random() < (0.8 if symptoms else 0.35)
        spo2 = course.spo2_on(i, day, measured)
        known = bool(present and course.contact[i])
        if present:
            births = people.births
            answers = MemberAnswers(
                symptoms=frozenset(symptoms),
                spo2=spo2,
                age=age_on(births[i], visit_date) if births[i] else int(people.age[i]),
                chronic_disease=bool(people.chronic[i]),
                pregnant=bool(people.pregnant[i]),
                known_contact=known,
            )
            score = self.score_cache.get(answers)
            if score is None:
                score = self.score_cache[answers] = score_member(answers, self.rules)
            outcome, reasons = score.outcome, score.reasons
        else:
            outcome, reasons = RiskOutcome.NONE.value, []
        mid = self.new_id()
        self.members.append(
            (
                mid,
                vid,
                people.ids[i],
                people.path_of[i],
                present,
                _json(symptoms),
                onset_date.isoformat() if onset_date else None,
                spo2,
                known,
                outcome,
                _json(reasons),
            )
        )
        if outcome != RiskOutcome.NONE:
            self.referrals_by_person[i].append((day, mid, outcome, reasons, bool(symptoms), known))

    # --- test orders, cases --------------------------------------------------------------------------------
    def cases_plan(self) -> None:
        # People who already have an open case or an active isolation (an earlier run) keep them: no second one.
        open_cases = set(
            Case.objects.filter(outcome="")
            .exclude(classification=Classification.DISCARDED)
            .values_list("person_id", flat=True)
        )
        isolated = set(Isolation.objects.filter(released_on=None).values_list("person_id", flat=True))
        self.sample_no = 0
        for i in sorted(self.referrals_by_person):
            evidence, first_positive = [], None
            for day, mid, outcome, reasons, _symptoms, _known in self.referrals_by_person[i]:
                positive_day = self._test_order(i, day, mid, outcome, reasons, evidence)
                if positive_day is not None and first_positive is None:
                    first_positive = positive_day
            if self.people.ids[i] not in open_cases:
                self._case_open(i, evidence, first_positive, isolated=self.people.ids[i] in isolated)

    def _test_order(self, i: int, day: int, mid, outcome, reasons, evidence: list) -> int | None:
        """A referral's test order (sampled, resulted, as far as the period goes), and its urgent-referral
        alert. Appends the result to `evidence`; returns the result's day when it is positive."""
        rng, last_day, people, course = self.rng, self.last_day, self.people, self.course
        positive_day = None
        urgent = outcome == RiskOutcome.URGENT
        oid = self.new_id()
        sample_day = day + int(rng.choice(3, p=[0.5, 0.35, 0.15]))
        kind = TestKind.PCR if rng.random() < 0.65 else TestKind.ANTIGEN
        result_day = sample_day + (int(rng.integers(1, 4)) if kind == TestKind.PCR else 0)
        status, sample_id, lab, result, result_date = TestOrder.Status.ORDERED, None, "", "", None
        if rng.random() >= 0.05 and sample_day <= last_day:
            self.sample_no += 1
            status = TestOrder.Status.SAMPLED
            sample_id = f"SYN{self.plan.seed}-{self.plan.start:%y%m%d}-{self.sample_no:06d}"
            lab = LABS[self.sample_no % len(LABS)]
            if result_day <= last_day:
                detectable = course.inf_day[i] + 2 <= sample_day <= course.onset[i] + course.duration[i] + 7
                sensitivity = 0.9 if kind == TestKind.PCR else 0.7
                positive = rng.random() < (sensitivity if detectable else 0.01)
                result = TestResult.POSITIVE if positive else TestResult.NEGATIVE
                status, result_date = TestOrder.Status.RESULTED, course.day_date(result_day).isoformat()
                evidence.append(TestEvidence(kind=kind.value, result=result.value))
                if positive:
                    positive_day = result_day
        self.orders.append(
            (
                oid,
                people.post_of[i],
                people.path_of[i],
                people.ids[i],
                mid,
                urgent,
                _json(reasons),
                status.value,
                kind.value,
                sample_id,
                lab,
                result and result.value,
                result_date,
                self.stamp(day, 12),
                self.synthetic.pk,
                course.day_date(sample_day).isoformat() if sample_id else None,
            )
        )
        if urgent:
            self._alert(
                i, Alert.Kind.URGENT_REFERRAL, None, "; ".join(r.get("en", "") for r in reasons)[:500], day, 12
            )
        return positive_day

    def _alert(self, i: int, kind, iso_id, message: str, day: int, hour: int, on: int | None = None) -> None:
        """An alert raised on `day` at `hour` (resolved by the next morning unless it is recent); `on` is the
        day it is about (a follow-up's day), if any."""
        people = self.people
        self.alerts.append(
            (
                self.new_id(),
                people.post_of[i],
                people.path_of[i],
                kind.value,
                people.ids[i],
                iso_id,
                message,
                self.stamp(day, hour),
                *(_resolved(day, self.last_day, self.stamp, self.synthetic.pk)),
                self.course.day_date(on).isoformat() if on is not None else None,
            )
        )

    def _case_open(self, i: int, evidence: list, first_positive: int | None, *, isolated: bool) -> None:
        """A referred person's case: suspected at the first referral, then classified by the case rules; a
        confirmed or probable case not already isolated is to be isolated."""
        course = self.course
        first_day, *_, known = self.referrals_by_person[i][0]
        symptomatic_any = any(r[4] for r in self.referrals_by_person[i])
        classification, why = classify(symptomatic=symptomatic_any, epi_link=known, tests=evidence)
        case_id = self.new_id()
        self.plan.changes.append(
            (case_id, "classification", "", Classification.SUSPECTED.value, "referral from screening")
        )
        if classification != Classification.SUSPECTED:
            self.plan.changes.append(
                (case_id, "classification", Classification.SUSPECTED.value, classification, why)
            )
        case_onset = course.onset[i] if course.symptomatic[i] and course.onset[i] <= first_day + 1 else None
        case = {
            "id": case_id,
            "i": i,
            "classification": classification,
            "onset": case_onset,
            "epi_link": known,
            "hospitalised": False,
            "hospitalised_on": None,
            "outcome": "",
            "outcome_date": None,
            "day": first_day,
        }
        self.cases.append(case)
        if classification in (Classification.CONFIRMED, Classification.PROBABLE) and not isolated:
            iso_start = first_positive if first_positive is not None else first_day
            case["hospitalised"] = bool(course.severe[i] and self.rng.random() < 0.6)
            iso_start = max(iso_start, first_day)
            if case["hospitalised"]:
                case["hospitalised_on"] = course.day_date(iso_start).isoformat()
            self.to_isolate.append((case, iso_start))

    # --- isolation, quarantine places, follow-ups ------------------------------------------------------------
    def isolations_plan(self) -> None:
        course = self.course
        biggest = sorted(course.counties, key=lambda c: (-len(course.county_members[c]), c))[:4]
        for c in biggest:
            unit = self.county_units[c]
            self.plan.places.append(
                QuarantinePlace(
                    id=self.new_id(),
                    org_unit=unit,
                    org_path=unit.path,
                    name=f"قرنطینه‌گاه {unit.name_fa}",
                    capacity=max(2, len(course.county_members[c]) // 400),
                )
            )
        self.place_of_county = {p.org_path: p for p in self.plan.places}
        self.stays: dict = defaultdict(list)  # place id -> [last day (exclusive)]
        for case, s in sorted(self.to_isolate, key=lambda x: (x[1], x[0]["i"])):
            iso_id, release_day = self._isolation(case, s)
            self._follow_ups(case["i"], iso_id, s, release_day)

    def _isolation(self, case: dict, s: int) -> tuple:
        """A case's isolation from day `s` until the rules' planned end or death (the case's outcome), at home
        or in its county's quarantine place while there is room. Returns (isolation id, release day or None)."""
        course, people, last_day = self.course, self.people, self.last_day
        i = case["i"]
        onset_d = course.day_date(course.onset[i]) if course.symptomatic[i] else None
        last_symptom = course.day_date(course.onset[i] + course.duration[i]) if course.symptomatic[i] else None
        planned = planned_isolation_end(start=course.day_date(s), onset=onset_d, last_symptom_day=last_symptom)
        planned_day = (planned - self.plan.start).days + PRE_DAYS
        release_day, reason = None, ""
        if course.death_day[i] <= last_day and course.death_day[i] <= planned_day:
            release_day, reason = max(int(course.death_day[i]), s), "died"
            case["outcome"], case["outcome_date"] = Outcome.DIED.value, course.day_date(release_day)
        elif planned_day <= last_day:
            release_day, reason = planned_day, "isolation period completed"
            case["outcome"], case["outcome_date"] = Outcome.RECOVERED.value, planned
        stay_end = release_day if release_day is not None else NEVER
        place = self.place_of_county.get(people.county_path[i])
        setting = Isolation.Setting.HOME
        if place is not None and self.rng.random() < 0.3:
            active = [e for e in self.stays[place.pk] if e > s]
            if len(active) < place.capacity:
                setting = Isolation.Setting.FACILITY
                self.stays[place.pk] = [*active, stay_end]
                if release_day is None:
                    place.occupied += 1
        if setting == Isolation.Setting.HOME:
            place = None
        iso_id = self.new_id()
        self.isolations.append(
            (
                iso_id,
                people.post_of[i],
                people.path_of[i],
                people.ids[i],
                case["id"],
                setting.value,
                place and place.pk,
                course.day_date(s).isoformat(),
                planned.isoformat(),
                course.day_date(release_day).isoformat() if release_day is not None else None,
                reason,
                self.synthetic.pk,
                onset_d and onset_d.isoformat(),
                last_symptom and last_symptom.isoformat(),
            )
        )
        return iso_id, release_day

    def _follow_ups(self, i: int, iso_id, s: int, release_day: int | None) -> None:
        """One follow-up per day from the start to the day before the release (today's are still due): 8%
        missed (an alert), the first deterioration (SpO2 below 93% or new shortness of breath) alerted."""
        rng, course, people, last_day = self.rng, self.course, self.people, self.last_day
        volunteer = self.volunteer_by_post.get(people.post_of[i], self.synthetic.pk)
        deteriorated, had_sob = False, False
        for day in range(s, min(release_day if release_day is not None else last_day, last_day)):
            if rng.random() < 0.08:
                message = f"no follow-up on {course.day_date(day).isoformat()}"
                self._alert(i, Alert.Kind.MISSED_FOLLOW_UP, iso_id, message, day + 1, 8, on=day)
                continue
            reached = rng.random() < 0.95
            symptoms = course.symptoms_on(i, day) if reached else []
            spo2 = course.spo2_on(i, day, reached and rng.random() < 0.6)
            self.follow_ups.append(
                (
                    self.new_id(),
                    people.post_of[i],
                    people.path_of[i],
                    iso_id,
                    course.day_date(day).isoformat(),
                    FollowUp.Method.CALL.value if rng.random() < 0.7 else FollowUp.Method.VISIT.value,
                    reached,
                    _json(symptoms),
                    spo2,
                    _json([]),
                    volunteer,
                    self.stamp(day, 11),
                )
            )
            sob_now = "shortness_of_breath" in symptoms
            if not deteriorated and ((spo2 is not None and spo2 < 93) or (sob_now and not had_sob)):
                deteriorated = True
                why = f"SpO2 {spo2}%" if spo2 is not None and spo2 < 93 else "new shortness of breath"
                message = f"deterioration on {course.day_date(day).isoformat()}: {why}"
                self._alert(i, Alert.Kind.DETERIORATION, iso_id, message, day, 11, on=day)
            had_sob = had_sob or sob_now

    # --- the plan's rows and summary -------------------------------------------------------------------------
    def rows(self) -> list:
        """[(model, field names, [tuples])] in insertion order. A NULL foreign key is left out of the column
        list (it gets its default), so each group is uniform."""
        people, course = self.people, self.course
        case_rows = [
            (
                c["id"],
                people.post_of[c["i"]],
                people.path_of[c["i"]],
                people.ids[c["i"]],
                c["classification"],
                course.day_date(c["onset"]).isoformat() if c["onset"] is not None else None,
                c["epi_link"],
                c["hospitalised"],
                c["outcome"],
                c["outcome_date"].isoformat() if c["outcome_date"] else None,
                self.stamp(c["day"], 12),
                self.synthetic.pk,
                c["hospitalised_on"],
            )
            for c in self.cases
        ]
        isolations, alerts = self.isolations, self.alerts
        return [
            (ScreeningVisit, VISIT_COLUMNS, self.visits),
            (MemberScreening, MEMBER_COLUMNS, self.members),
            (TestOrder, ORDER_COLUMNS, self.orders),
            (Case, CASE_COLUMNS, case_rows),
            (Isolation, ISOLATION_COLUMNS, [r for r in isolations if r[6] is not None]),
            (
                Isolation,
                [n for n in ISOLATION_COLUMNS if n != "place"],
                [r[:6] + r[7:] for r in isolations if r[6] is None],
            ),
            (FollowUp, FOLLOW_UP_COLUMNS, self.follow_ups),
            (Alert, ALERT_COLUMNS, [r for r in alerts if r[5] is not None]),
            (
                Alert,
                [n for n in ALERT_COLUMNS if n != "isolation"],
                [r[:5] + r[6:] for r in alerts if r[5] is None],
            ),
        ]

    def summary(self) -> dict:
        plan, orders, cases, isolations = self.plan, self.orders, self.cases, self.isolations
        status_counts = defaultdict(int)
        for v in self.visits:
            status_counts[v[7]] += 1
        return {
            "seed": plan.seed,
            "start": plan.start.isoformat(),
            "end": plan.end.isoformat(),
            "persons": len(self.people),
            "households": len(self.households),
            "counties": len(self.course.counties),
            "infected": int(self.course.infected.sum()),
            "campaigns": len(plan.campaigns),
            "visits": len(self.visits),
            "visits_by_status": dict(sorted(status_counts.items())),
            "member_screenings": len(self.members),
            "referrals": len(orders),
            "urgent_referrals": sum(1 for o in orders if o[5]),
            "test_orders": len(orders),
            "positive_results": sum(1 for o in orders if o[11] == TestResult.POSITIVE),
            "cases": len(cases),
            "cases_by_classification": dict(
                sorted((k, sum(1 for c in cases if c["classification"] == k)) for k in Classification.values)
            ),
            "deaths": sum(1 for c in cases if c["outcome"] == Outcome.DIED),
            "quarantine_places": len(plan.places),
            "isolations": len(isolations),
            "isolations_in_places": sum(1 for r in isolations if r[6] is not None),
            "follow_ups": len(self.follow_ups),
            "alerts": len(self.alerts),
        }


def _resolved(day: int, last_day: int, stamp, user_id) -> tuple:
    """Alerts older than two days have been dealt with by the supervisor; newer ones are still open."""
    if day + 2 <= last_day:
        return stamp(day + 1, 9), user_id
    return None, None


@transaction.atomic
def activity_write(plan: Plan, *, progress: Callable[[int], None] | None = None) -> dict:
    """Insert a plan's rows (bulk), recompute the campaigns' coverage and record one audit event."""
    Campaign.objects.bulk_create(plan.campaigns)
    CampaignArea.objects.bulk_create(plan.areas, batch_size=2000)
    QuarantinePlace.objects.bulk_create(plan.places)
    for model, names, rows in plan.rows:
        rows_insert(model, names, rows, progress=progress)
        if model is Case:
            CaseChange.objects.bulk_create(
                [
                    CaseChange(case_id=c, field=f, old_value=o, new_value=v, reason=r)
                    for c, f, o, v, r in plan.changes
                ],
                batch_size=2000,
            )
    coverage_rows = sum(coverage_refresh(campaign=c) for c in plan.campaigns)
    rt = rt_refresh()
    summary = {**plan.summary, "coverage_rows": coverage_rows, "rt_estimates": rt["estimates"]}
    audit_record(actor=None, action="create", object_type="synth.activity", details=summary)
    return summary


@transaction.atomic
def activity_simulate(
    *,
    weeks: int,
    seed: int,
    start: dt.date | None = None,
    recorder: User | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    plan = activity_plan(weeks=weeks, seed=seed, start=start, recorder=recorder)
    return activity_write(plan, progress=progress)
