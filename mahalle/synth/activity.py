"""Synthetic activity over the synthetic population: an epidemic, the screening rounds that look for it, and
everything that follows (test orders and results, cases, isolation, daily follow-ups, alerts, coverage).

Deterministic for a seed, a start date and the persons in the database. Everything is planned in memory first
(NumPy for the epidemic, plain loops for the records) and then written in one transaction with bulk inserts
(COPY on PostgreSQL, executemany on SQLite: `synth.services._insert_rows`), with one audit event per run. The
risk outcomes come from the real screening rules (`screening.rules.score_member`) and the case classifications
from the real case rules (`cases.rules.classify`), so the data shows what the system would have decided.

The model, kept simple on purpose:
- an epidemic per county: a chain-binomial SEIR (latent 4 days, infectious 7 days), R0 drawn per county, with
  transmission falling by 60% around the middle of the period (the response works), seeded 3 weeks before the
  start with a few infections; who gets infected on a day is a random draw among the county's people;
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
from mahalle.cases.rules import TestEvidence, classify, planned_isolation_end
from mahalle.core.dates import age_on
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Person
from mahalle.screening.models import (
    Campaign,
    CampaignArea,
    MemberScreening,
    RiskOutcome,
    ScreeningVisit,
    VisitStatus,
)
from mahalle.screening.rules import SYMPTOMS, MemberAnswers, score_member
from mahalle.screening.services import NEED_KINDS, coverage_refresh

from .services import _insert_rows

SYNTH_VOLUNTEER = "synth-volunteer"
ROUND_DAYS = 14
MAX_CAMPAIGNS = 2
PRE_DAYS = 21  # the epidemic starts this many days before the first campaign
LATENT_DAYS, INFECTIOUS_DAYS = 4, 7
SYMPTOM_P = {  # among the symptomatic
    "fever": 0.70,
    "cough": 0.60,
    "shortness_of_breath": 0.12,
    "loss_of_smell_taste": 0.35,
    "sore_throat": 0.30,
    "fatigue": 0.50,
    "diarrhoea": 0.12,
}
MILD = ("sore_throat", "cough", "fatigue", "fever", "diarrhoea")
LABS = ("آزمایشگاه مرجع سلامت", "آزمایشگاه دانشگاه علوم پزشکی", "آزمایشگاه بیمارستان امام خمینی")


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


def _epidemic(rng, n: int, days: int, mid: int) -> np.ndarray:
    """New infections per day for a county of `n` people: a chain-binomial SEIR; transmission falls by 60%
    around day `mid` (a logistic step)."""
    r0 = rng.uniform(1.4, 2.2)
    seeded = max(3, int(n * rng.uniform(0.0005, 0.002)))
    s, e, i = n - seeded, seeded, 0
    new = np.zeros(days, dtype=np.int64)
    new[0] = seeded
    for d in range(1, days):
        beta = r0 / INFECTIOUS_DAYS * (1 - 0.6 / (1 + math.exp(-(d - mid) / 4)))
        infected = rng.binomial(s, 1 - math.exp(-beta * i / n)) if n and i else 0
        onset = rng.binomial(e, 1 / LATENT_DAYS)
        removed = rng.binomial(i, 1 / INFECTIOUS_DAYS)
        s, e, i = s - infected, e + infected - onset, i + onset - removed
        new[d] = infected
    return new


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
    new_id = _Ids(id_rng)
    plan = Plan(start=start, end=end, seed=seed)

    people = list(
        Person.objects.filter(household__isnull=False)
        .order_by("org_path", "household_id", "id")
        .values_list(
            "id", "household_id", "org_unit_id", "org_path", "birth_date", "chronic_disease", "pregnant"
        )
    )
    n = len(people)
    if not n:
        raise ValueError("the registry has no persons in households: run `mahalle synth` first")
    ids = [p[0] for p in people]
    if Campaign.objects.filter(
        pk=uuid.UUID(bytes=np.random.default_rng(seeds[1]).bytes(16), version=4)
    ).exists():
        raise ActivityExists(f"activity for seed {seed} starting {start} is already in the database")
    hh_of = [p[1] for p in people]
    post_of = [p[2] for p in people]
    path_of = [p[3] for p in people]
    county_path = np.array([".".join(p.split(".")[:3]) + "." for p in path_of], dtype=object)
    age = np.array([age_on(p[4], start) if p[4] else 30 for p in people], dtype=np.int64)
    chronic = np.array([p[5] for p in people], dtype=bool)
    pregnant = [p[6] for p in people]
    births = [p[4] for p in people]
    old = age >= 60

    # --- the epidemic -------------------------------------------------------------------------------------
    days = PRE_DAYS + 7 * weeks  # day index 0 = start - PRE_DAYS
    never = 10**6
    inf_day = np.full(n, never, dtype=np.int64)
    counties = sorted(set(county_path.tolist()))
    county_members = {c: np.flatnonzero(county_path == c) for c in counties}
    for c in counties:
        members = county_members[c]
        new = _epidemic(rng, len(members), days, PRE_DAYS + 7 * weeks // 2)
        total = min(int(new.sum()), len(members))
        chosen = rng.permutation(members)[:total]
        inf_day[chosen] = np.repeat(np.arange(days), new)[:total]
    infected = inf_day < never
    symptomatic = infected & (rng.random(n) < np.where(old, 0.8, 0.55))
    onset = inf_day + rng.integers(2, 9, n)
    duration = rng.integers(5, 14, n)
    sym_p = np.array([SYMPTOM_P[s] for s in SYMPTOMS])
    sym_mask = rng.random((n, len(SYMPTOMS))) < sym_p
    sob = SYMPTOMS.index("shortness_of_breath")
    sym_mask[:, sob] |= (old | chronic) & (rng.random(n) < 0.25)
    sym_mask[~symptomatic] = False
    empty = symptomatic & ~sym_mask.any(axis=1)
    sym_mask[empty, SYMPTOMS.index("fever")] = True
    severe = symptomatic & (rng.random(n) < 0.03 + 0.12 * old + 0.08 * chronic)
    dies = severe & (rng.random(n) < 0.08 + 0.15 * old + 0.2 * (age >= 70))
    death_day = np.where(dies, onset + rng.integers(8, 21, n), never)
    contact = rng.random(n) < np.where(infected, 0.5, 0.03)
    symptom_sets = {}

    def day_date(day: int) -> dt.date:
        return start + dt.timedelta(days=int(day) - PRE_DAYS)

    def symptoms_on(i: int, day: int) -> list[str]:
        if symptomatic[i] and onset[i] <= day <= onset[i] + duration[i]:
            if i not in symptom_sets:
                symptom_sets[i] = [s for k, s in enumerate(SYMPTOMS) if sym_mask[i, k]]
            return symptom_sets[i]
        return []

    def spo2_on(i: int, day: int, measured: bool) -> int | None:
        if not measured:
            return None
        if severe[i] and onset[i] + 3 <= day <= onset[i] + duration[i]:
            return int(85 + (i * 7 + day) % 8)
        return int(94 + (i * 3 + day) % 6)

    # --- campaigns ---------------------------------------------------------------------------------------
    county_units = {u.path: u for u in OrgUnit.objects.filter(level=Level.COUNTY, path__in=counties)}
    n_campaigns = min(MAX_CAMPAIGNS, math.ceil(7 * weeks / ROUND_DAYS))
    rounds = []
    for r in range(n_campaigns):
        c_start = start + dt.timedelta(days=r * ROUND_DAYS)
        c_end = end if r == n_campaigns - 1 else c_start + dt.timedelta(days=ROUND_DAYS - 1)
        campaign = Campaign(
            id=new_id(),
            name=f"دور {r + 1} غربالگری خانه‌به‌خانه (شبیه‌سازی، بذر {seed})",
            start_date=c_start,
            end_date=c_end,
        )
        plan.campaigns.append(campaign)
        plan.areas += [CampaignArea(campaign=campaign, org_unit=county_units[c], path=c) for c in counties]
        rounds.append((campaign, (c_start - start).days + PRE_DAYS, (c_end - start).days + PRE_DAYS))

    # --- visits and member answers -------------------------------------------------------------------------
    households: dict = {}
    for i, h in enumerate(hh_of):
        households.setdefault(h, []).append(i)
    volunteer_by_post, synthetic = _volunteers(set(post_of), recorder)
    score_cache: dict = {}
    visits, members, orders, alerts = [], [], [], []
    referrals_by_person: dict[int, list[tuple]] = defaultdict(list)
    last_day = PRE_DAYS + 7 * weeks - 1
    for campaign, first, last in rounds:
        span = max(1, min(10, last - first + 1))
        for h, member_idx in households.items():
            post = post_of[member_idx[0]]
            volunteer = volunteer_by_post.get(post, synthetic.pk)
            day = first + int(rng.integers(0, span))
            for _attempt in range(3):
                u = rng.random()
                status = (
                    VisitStatus.SCREENED
                    if u < 0.88
                    else VisitStatus.ABSENT
                    if u < 0.97
                    else VisitStatus.REFUSED
                )
                vid, visit_date = new_id(), day_date(day)
                needs = [NEED_KINDS[int(rng.integers(0, len(NEED_KINDS)))]] if rng.random() < 0.05 else []
                visits.append(
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
                        synthetic.pk,
                    )
                )
                if status == VisitStatus.SCREENED:
                    for i in member_idx:
                        present = death_day[i] > day and rng.random() < 0.85
                        symptoms = symptoms_on(i, day) if present else []
                        onset_date = day_date(onset[i]) if symptoms else None
                        if present and not symptoms and rng.random() < 0.02:
                            symptoms = sorted({MILD[int(k)] for k in rng.integers(0, len(MILD), 2)})
                            onset_date = day_date(day - int(rng.integers(0, 4)))
                        measured = present and rng.random() < (0.8 if symptoms else 0.35)
                        spo2 = spo2_on(i, day, measured)
                        known = bool(present and contact[i])
                        if present:
                            answers = MemberAnswers(
                                symptoms=frozenset(symptoms),
                                spo2=spo2,
                                age=age_on(births[i], visit_date) if births[i] else int(age[i]),
                                chronic_disease=bool(chronic[i]),
                                pregnant=bool(pregnant[i]),
                                known_contact=known,
                            )
                            score = score_cache.get(answers)
                            if score is None:
                                score = score_cache[answers] = score_member(answers, rules)
                            outcome, reasons = score.outcome, score.reasons
                        else:
                            outcome, reasons = RiskOutcome.NONE.value, []
                        mid = new_id()
                        members.append(
                            (
                                mid,
                                vid,
                                ids[i],
                                path_of[i],
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
                            referrals_by_person[i].append((day, mid, outcome, reasons, bool(symptoms), known))
                    break
                if status == VisitStatus.REFUSED and rng.random() < 0.5:
                    break
                day += int(rng.integers(2, 5))
                if day > last:
                    break

    # --- test orders, cases ------------------------------------------------------------------------------
    def stamp(day: int, hour: int = 10):
        moment = dt.datetime.combine(day_date(day), dt.time(hour), tzinfo=dt.UTC)
        return connection.ops.adapt_datetimefield_value(moment)

    sample_no = 0
    # People who already have an open case or an active isolation (an earlier run) keep them: no second one.
    open_cases = set(
        Case.objects.filter(outcome="")
        .exclude(classification=Classification.DISCARDED)
        .values_list("person_id", flat=True)
    )
    isolated = set(Isolation.objects.filter(released_on=None).values_list("person_id", flat=True))
    cases, isolations_plan = [], []
    for i in sorted(referrals_by_person):
        evidence, first_positive = [], None
        for day, mid, outcome, reasons, _symptoms, _known in referrals_by_person[i]:
            urgent = outcome == RiskOutcome.URGENT
            oid = new_id()
            sample_day = day + int(rng.choice(3, p=[0.5, 0.35, 0.15]))
            kind = TestKind.PCR if rng.random() < 0.65 else TestKind.ANTIGEN
            result_day = sample_day + (int(rng.integers(1, 4)) if kind == TestKind.PCR else 0)
            status, sample_id, lab, result, result_date = TestOrder.Status.ORDERED, None, "", "", None
            if rng.random() >= 0.05 and sample_day <= last_day:
                sample_no += 1
                status = TestOrder.Status.SAMPLED
                sample_id = f"SYN{seed}-{start:%y%m%d}-{sample_no:06d}"
                lab = LABS[sample_no % len(LABS)]
                if result_day <= last_day:
                    detectable = inf_day[i] + 2 <= sample_day <= onset[i] + duration[i] + 7
                    sensitivity = 0.9 if kind == TestKind.PCR else 0.7
                    positive = rng.random() < (sensitivity if detectable else 0.01)
                    result = TestResult.POSITIVE if positive else TestResult.NEGATIVE
                    status, result_date = TestOrder.Status.RESULTED, day_date(result_day).isoformat()
                    evidence.append(TestEvidence(kind=kind.value, result=result.value))
                    if positive and first_positive is None:
                        first_positive = result_day
            orders.append(
                (
                    oid,
                    post_of[i],
                    path_of[i],
                    ids[i],
                    mid,
                    urgent,
                    _json(reasons),
                    status.value,
                    kind.value,
                    sample_id,
                    lab,
                    result and result.value,
                    result_date,
                    stamp(day, 12),
                    synthetic.pk,
                    day_date(sample_day).isoformat() if sample_id else None,
                )
            )
            if urgent:
                alerts.append(
                    (
                        new_id(),
                        post_of[i],
                        path_of[i],
                        Alert.Kind.URGENT_REFERRAL.value,
                        ids[i],
                        None,
                        "; ".join(r.get("en", "") for r in reasons)[:500],
                        stamp(day, 12),
                        *(_resolved(day, last_day, stamp, synthetic.pk)),
                        None,
                    )
                )
        if ids[i] in open_cases:
            continue
        first_day, *_, known = referrals_by_person[i][0]
        symptomatic_any = any(r[4] for r in referrals_by_person[i])
        classification, why = classify(symptomatic=symptomatic_any, epi_link=known, tests=evidence)
        case_id = new_id()
        plan.changes.append(
            (case_id, "classification", "", Classification.SUSPECTED.value, "referral from screening")
        )
        if classification != Classification.SUSPECTED:
            plan.changes.append(
                (case_id, "classification", Classification.SUSPECTED.value, classification, why)
            )
        case_onset = onset[i] if symptomatic[i] and onset[i] <= first_day + 1 else None
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
        cases.append(case)
        if classification in (Classification.CONFIRMED, Classification.PROBABLE) and ids[i] not in isolated:
            iso_start = first_positive if first_positive is not None else first_day
            case["hospitalised"] = bool(severe[i] and rng.random() < 0.6)
            iso_start = max(iso_start, first_day)
            if case["hospitalised"]:
                case["hospitalised_on"] = day_date(iso_start).isoformat()
            isolations_plan.append((case, iso_start))

    # --- isolation, quarantine places, follow-ups -----------------------------------------------------------
    biggest = sorted(counties, key=lambda c: (-len(county_members[c]), c))[:4]
    for c in biggest:
        unit = county_units[c]
        plan.places.append(
            QuarantinePlace(
                id=new_id(),
                org_unit=unit,
                org_path=unit.path,
                name=f"قرنطینه‌گاه {unit.name_fa}",
                capacity=max(2, len(county_members[c]) // 400),
            )
        )
    place_of_county = {p.org_path: p for p in plan.places}
    stays: dict = defaultdict(list)  # place id -> [last day (exclusive)]
    isolations, follow_ups = [], []
    for case, s in sorted(isolations_plan, key=lambda x: (x[1], x[0]["i"])):
        i = case["i"]
        onset_d = day_date(onset[i]) if symptomatic[i] else None
        last_symptom = day_date(onset[i] + duration[i]) if symptomatic[i] else None
        planned = planned_isolation_end(start=day_date(s), onset=onset_d, last_symptom_day=last_symptom)
        planned_day = (planned - start).days + PRE_DAYS
        release_day, reason = None, ""
        if death_day[i] <= last_day and death_day[i] <= planned_day:
            release_day, reason = max(int(death_day[i]), s), "died"
            case["outcome"], case["outcome_date"] = Outcome.DIED.value, day_date(release_day)
        elif planned_day <= last_day:
            release_day, reason = planned_day, "isolation period completed"
            case["outcome"], case["outcome_date"] = Outcome.RECOVERED.value, planned
        stay_end = release_day if release_day is not None else never
        place = place_of_county.get(county_path[i])
        setting = Isolation.Setting.HOME
        if place is not None and rng.random() < 0.3:
            active = [e for e in stays[place.pk] if e > s]
            if len(active) < place.capacity:
                setting = Isolation.Setting.FACILITY
                stays[place.pk] = [*active, stay_end]
                if release_day is None:
                    place.occupied += 1
        if setting == Isolation.Setting.HOME:
            place = None
        iso_id = new_id()
        isolations.append(
            (
                iso_id,
                post_of[i],
                path_of[i],
                ids[i],
                case["id"],
                setting.value,
                place and place.pk,
                day_date(s).isoformat(),
                planned.isoformat(),
                day_date(release_day).isoformat() if release_day is not None else None,
                reason,
                synthetic.pk,
                onset_d and onset_d.isoformat(),
                last_symptom and last_symptom.isoformat(),
            )
        )
        # one follow-up per day from the start to the day before the release (today's are still due)
        volunteer = volunteer_by_post.get(post_of[i], synthetic.pk)
        deteriorated, had_sob = False, False
        for day in range(s, min(release_day if release_day is not None else last_day, last_day)):
            if rng.random() < 0.08:
                alerts.append(
                    (
                        new_id(),
                        post_of[i],
                        path_of[i],
                        Alert.Kind.MISSED_FOLLOW_UP.value,
                        ids[i],
                        iso_id,
                        f"no follow-up on {day_date(day).isoformat()}",
                        stamp(day + 1, 8),
                        *(_resolved(day + 1, last_day, stamp, synthetic.pk)),
                        day_date(day).isoformat(),
                    )
                )
                continue
            reached = rng.random() < 0.95
            symptoms = symptoms_on(i, day) if reached else []
            spo2 = spo2_on(i, day, reached and rng.random() < 0.6)
            follow_ups.append(
                (
                    new_id(),
                    post_of[i],
                    path_of[i],
                    iso_id,
                    day_date(day).isoformat(),
                    FollowUp.Method.CALL.value if rng.random() < 0.7 else FollowUp.Method.VISIT.value,
                    reached,
                    _json(symptoms),
                    spo2,
                    _json([]),
                    volunteer,
                    stamp(day, 11),
                )
            )
            sob_now = "shortness_of_breath" in symptoms
            if not deteriorated and ((spo2 is not None and spo2 < 93) or (sob_now and not had_sob)):
                deteriorated = True
                why = f"SpO2 {spo2}%" if spo2 is not None and spo2 < 93 else "new shortness of breath"
                alerts.append(
                    (
                        new_id(),
                        post_of[i],
                        path_of[i],
                        Alert.Kind.DETERIORATION.value,
                        ids[i],
                        iso_id,
                        f"deterioration on {day_date(day).isoformat()}: {why}",
                        stamp(day, 11),
                        *(_resolved(day, last_day, stamp, synthetic.pk)),
                        day_date(day).isoformat(),
                    )
                )
            had_sob = had_sob or sob_now

    case_rows = [
        (
            c["id"],
            post_of[c["i"]],
            path_of[c["i"]],
            ids[c["i"]],
            c["classification"],
            day_date(c["onset"]).isoformat() if c["onset"] is not None else None,
            c["epi_link"],
            c["hospitalised"],
            c["outcome"],
            c["outcome_date"].isoformat() if c["outcome_date"] else None,
            stamp(c["day"], 12),
            synthetic.pk,
            c["hospitalised_on"],
        )
        for c in cases
    ]
    jur = ["id", "org_unit", "org_path"]
    iso_names = [
        *jur,
        "person",
        "case",
        "setting",
        "place",
        "start_date",
        "planned_end_date",
        "released_on",
        "release_reason",
        "created_by",
        "onset_date",
        "last_symptom_date",
    ]
    alert_names = [
        *jur,
        *("kind", "person", "isolation", "message", "created_at", "resolved_at", "resolved_by", "day"),
    ]
    # A NULL foreign key is left out of the column list (it gets its default), so each group is uniform.
    plan.rows = [
        (
            ScreeningVisit,
            [
                *jur,
                "household",
                "campaign",
                "visit_date",
                "volunteer",
                "status",
                "needs",
                "note",
                "created_by",
            ],
            visits,
        ),
        (
            MemberScreening,
            [
                "id",
                "visit",
                "person",
                "org_path",
                "present",
                "symptoms",
                "onset_date",
                "spo2",
                "known_contact",
                "outcome",
                "reasons",
            ],
            members,
        ),
        (
            TestOrder,
            [
                *jur,
                "person",
                "member_screening",
                "urgent",
                "reasons",
                "status",
                "kind",
                "sample_id",
                "lab",
                "result",
                "result_date",
                "created_at",
                "created_by",
                "sampled_on",
            ],
            orders,
        ),
        (
            Case,
            [
                *jur,
                "person",
                "classification",
                "onset_date",
                "epi_link",
                "hospitalised",
                "outcome",
                "outcome_date",
                "created_at",
                "created_by",
                "hospitalised_on",
            ],
            case_rows,
        ),
        (Isolation, iso_names, [r for r in isolations if r[6] is not None]),
        (
            Isolation,
            [n for n in iso_names if n != "place"],
            [r[:6] + r[7:] for r in isolations if r[6] is None],
        ),
        (
            FollowUp,
            [*jur, "isolation", "date", "method", "reached", "symptoms", "spo2", "needs", "by", "created_at"],
            follow_ups,
        ),
        (Alert, alert_names, [r for r in alerts if r[5] is not None]),
        (
            Alert,
            [n for n in alert_names if n != "isolation"],
            [r[:5] + r[6:] for r in alerts if r[5] is None],
        ),
    ]
    status_counts = defaultdict(int)
    for v in visits:
        status_counts[v[7]] += 1
    plan.summary = {
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "persons": n,
        "households": len(households),
        "counties": len(counties),
        "infected": int(infected.sum()),
        "campaigns": len(plan.campaigns),
        "visits": len(visits),
        "visits_by_status": dict(sorted(status_counts.items())),
        "member_screenings": len(members),
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
        "follow_ups": len(follow_ups),
        "alerts": len(alerts),
    }
    return plan


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
        _insert_rows(model, names, rows, progress=progress)
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
