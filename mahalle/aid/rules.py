"""Eligibility rules as data: validated, described in words for a coordinator, turned into one queryset.

A rule is a JSON object; every condition present must hold (AND):
- "need_kinds": ["food", "hygiene", …]  an open need (needs.HouseholdNeed) of one of these kinds in the period;
- "min_score": 5                          needs.HouseholdVulnerability.score ≥ 5;
- "breadwinner_died": true                the head of household died of the disease: a cases.Case with outcome
                                          "died" of a member whose relation is "head" (or the household's head),
                                          or an open needs.HouseholdNeed of kind "breadwinner_died";
  "death_within_days": 365                … with the death (or that need) dated at most this many days before
                                          the cycle's period starts (12-month support; default 365);
- "regions": ["PA", …]                    households in the subtree of one of these org units (default: the
                                          program's org unit).
"""

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.db.models import Exists, OuterRef, Q, Subquery

from mahalle.cases.models import Case, Outcome
from mahalle.core.errors import ValidationFailed, field_error
from mahalle.needs.models import HouseholdNeed, NeedKind

from .models import Cadence

KEYS = {"need_kinds", "min_score", "breadwinner_died", "death_within_days", "regions"}
DEFAULT_DEATH_WITHIN_DAYS = 365


def cycle_periods(*, cadence: str, cycles: int, start: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The (first day, last day) of each cycle of a program: one month once, or `cycles` weeks or months."""
    if cadence == Cadence.ONCE:
        return [(start, start + relativedelta(months=1) - dt.timedelta(days=1))]
    step = relativedelta(weeks=1) if cadence == Cadence.WEEKLY else relativedelta(months=1)
    return [(start + step * i, start + step * (i + 1) - dt.timedelta(days=1)) for i in range(cycles)]


def rule_clean(rule: dict, *, region_codes_known=None) -> dict:
    """The rule with known keys and checked values, or ValidationFailed naming each bad field."""
    if not isinstance(rule, dict):
        raise ValidationFailed(
            "the eligibility rule is not valid", [field_error("rule", "must be an object")]
        )
    errors = [field_error(f"rule.{key}", "unknown condition") for key in sorted(set(rule) - KEYS)]
    clean: dict = {}
    kinds = rule.get("need_kinds")
    if kinds not in (None, []):
        if not isinstance(kinds, list) or any(k not in NeedKind.values for k in kinds):
            errors.append(field_error("rule.need_kinds", f"must be a list of: {', '.join(NeedKind.values)}"))
        else:
            clean["need_kinds"] = sorted(set(kinds))
    score = rule.get("min_score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 1000:
            errors.append(field_error("rule.min_score", "must be a whole number from 0 to 1000"))
        else:
            clean["min_score"] = score
    if rule.get("breadwinner_died"):
        clean["breadwinner_died"] = True
        days = rule.get("death_within_days", DEFAULT_DEATH_WITHIN_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
            errors.append(field_error("rule.death_within_days", "must be a whole number of days (1–3660)"))
        else:
            clean["death_within_days"] = days
    regions = rule.get("regions")
    if regions not in (None, []):
        if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
            errors.append(field_error("rule.regions", "must be a list of org unit codes"))
        elif region_codes_known is not None and (unknown := sorted(set(regions) - set(region_codes_known))):
            errors.append(field_error("rule.regions", f"unknown org units: {', '.join(unknown)}"))
        else:
            clean["regions"] = sorted(set(regions))
    if errors:
        raise ValidationFailed("the eligibility rule is not valid", errors)
    return clean


def rule_describe(rule: dict, *, gettext=lambda s: s) -> list[str]:
    """The rule in plain sentences, one per condition (what rule, which data)."""
    _ = gettext
    lines = []
    if rule.get("need_kinds"):
        labels = [str(NeedKind(k).label) for k in rule["need_kinds"]]
        lines.append(_("has an open need of kind: %(kinds)s (needs registry)") % {"kinds": ", ".join(labels)})
    if rule.get("min_score") is not None:
        lines.append(
            _("vulnerability score at least %(score)s (needs registry)") % {"score": rule["min_score"]}
        )
    if rule.get("breadwinner_died"):
        lines.append(
            _("the head of household died of the disease within %(days)s days before the cycle (cases)")
            % {"days": rule.get("death_within_days", DEFAULT_DEATH_WITHIN_DAYS)}
        )
    if rule.get("regions"):
        lines.append(_("lives in: %(regions)s") % {"regions": ", ".join(rule["regions"])})
    if not lines:
        lines.append(_("every household in the program's area"))
    return lines


def _open_needs(kinds, start: dt.date, end: dt.date):
    return HouseholdNeed.objects.filter(household=OuterRef("pk"), kind__in=kinds, noted_on__lte=end).filter(
        Q(resolved_on=None) | Q(resolved_on__gte=start)
    )


def death_cases(*, since: dt.date, until: dt.date):
    """Deaths of heads of household (outcome died), dated in [since, until], correlated to the household."""
    return Case.objects.filter(outcome=Outcome.DIED, outcome_date__gte=since, outcome_date__lte=until).filter(
        Q(person__household=OuterRef("pk"), person__relation_to_head="head")
        | Q(person_id=OuterRef("head_id"))
    )


def eligible_households(households, rule: dict, *, period_start: dt.date, period_end: dt.date):
    """`households` (a Household queryset) narrowed to those the rule admits, annotated with `death_date` when
    the rule is about deaths. Regions are applied by the caller (they decide the scope)."""
    if rule.get("need_kinds"):
        households = households.filter(Exists(_open_needs(rule["need_kinds"], period_start, period_end)))
    if rule.get("min_score") is not None:
        households = households.filter(vulnerability__score__gte=rule["min_score"])
    if rule.get("breadwinner_died"):
        since = period_start - dt.timedelta(days=rule.get("death_within_days", DEFAULT_DEATH_WITHIN_DAYS))
        deaths = death_cases(since=since, until=period_end)
        death_need = _open_needs([NeedKind.BREADWINNER_DIED], period_start, period_end).filter(
            noted_on__gte=since
        )
        households = households.filter(Exists(deaths) | Exists(death_need)).annotate(
            death_date=Subquery(deaths.order_by("outcome_date").values("outcome_date")[:1]),
            death_need_date=Subquery(death_need.order_by("noted_on").values("noted_on")[:1]),
        )
    return households
