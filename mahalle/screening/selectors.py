"""Reads of the screening side, scoped to the acting user: campaigns, coverage tables, a post's work list, one
visit, and the active risk rules.

Campaigns and coverage are not personal data (an org unit's counts); they are scoped to the user's subtree all
the same. Work lists and visits are personal: only roles that may read personal records, inside their subtree.
"""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery, Sum
from django.utils import timezone

from mahalle.accounts.selectors import (
    org_unit_in_jurisdiction,
    path_within,
    personal_data_paths,
    require_personal_data,
    user_jurisdiction_units,
)
from mahalle.cases.models import Case, Classification, TestOrder, TestResult
from mahalle.cases.selectors import follow_ups_due, referrals_untested
from mahalle.core.errors import NotFound, ValidationFailed, field_error, first_or_not_found
from mahalle.core.persian import normalize_text, to_persian_digits
from mahalle.geo.models import Level, OrgUnit
from mahalle.registry.models import Household, Person

from .models import Campaign, CampaignArea, CampaignCoverage, MemberScreening, ScreeningVisit, VisitStatus
from .rules import DEFAULT_RULES, InvalidRules, validate_rules

# --- risk rules ----------------------------------------------------------------------------------------------

RULES_SETTING = "MAHALLE_SCREENING_RULES"


def active_rules() -> list[dict]:
    """The rule set in force: settings.MAHALLE_SCREENING_RULES if set (validated on every use, so a bad setting
    is an ImproperlyConfigured error naming the rule, never a silently wrong outcome), else DEFAULT_RULES."""
    configured = getattr(settings, RULES_SETTING, None)
    if configured is None:
        return DEFAULT_RULES
    try:
        return validate_rules(configured)
    except InvalidRules as exc:
        raise ImproperlyConfigured(f"{RULES_SETTING}: {exc}") from exc


def rules_source() -> str:
    return "default" if getattr(settings, RULES_SETTING, None) is None else "settings"


# --- campaigns -----------------------------------------------------------------------------------------------


def ancestor_paths(path: str) -> list[str]:
    """The paths of a unit and of every unit above it: "IR.", "IR.07.", "IR.07.0701." for "IR.07.0701."."""
    parts = path.split(".")[:-1]
    return [".".join(parts[: i + 1]) + "." for i in range(len(parts))]


def campaigns_covering(*, path: str, on: dt.date):
    """Campaigns active on `on` whose areas contain the unit at `path`."""
    return Campaign.objects.filter(
        areas__path__in=ancestor_paths(path), start_date__lte=on, end_date__gte=on
    ).distinct()


def _overlapping(paths: list[str]) -> Q:
    """Areas that lie inside one of `paths` or contain one of them."""
    query = Q()
    for path in paths:
        query |= Q(path__prefix=path) | Q(path__in=ancestor_paths(path))
    return query


def campaigns_visible(*, user):
    """Campaigns with an area overlapping the user's jurisdiction (above it, like a national round, or in it)."""
    paths = [unit.path for unit in user_jurisdiction_units(user=user)]
    if not paths:
        return Campaign.objects.none()
    areas = CampaignArea.objects.filter(_overlapping(paths), campaign=OuterRef("pk"))
    return Campaign.objects.filter(Exists(areas)).prefetch_related(
        Prefetch("areas", queryset=CampaignArea.objects.select_related("org_unit").order_by("path"))
    )


def access_campaign(user, campaign_id, *, for_update: bool = False) -> Campaign:
    """A campaign overlapping the user's jurisdiction, else NotFound ("campaign not found")."""
    return first_or_not_found(campaigns_visible(user=user), campaign_id, "campaign", for_update=for_update)


def org_unit_for_user(*, user, code: str, field: str = "org_unit") -> OrgUnit:
    """The unit with this code, if it lies in the user's jurisdiction; otherwise 404 (as if it did not exist)."""
    unit = OrgUnit.objects.filter(code=normalize_text(code)).first()
    if unit is None or not org_unit_in_jurisdiction(user=user, unit=unit):
        raise NotFound("org unit not found", [field_error(field, "no such org unit in your jurisdiction")])
    return unit


# --- coverage ------------------------------------------------------------------------------------------------

COVERAGE_GROUPS = {
    "children": None,
    "county": Level.COUNTY,
    "district": Level.DISTRICT,
    "neighborhood": Level.NEIGHBORHOOD,
    "post": Level.POST,
}
COVERAGE_COUNTS = (
    "households_registered",
    "households_screened",
    "persons_screened",
    "referrals",
    "positives",
)


def _coverage_ratio(counts: dict) -> float | None:
    registered = counts["households_registered"]
    return round(counts["households_screened"] / registered, 4) if registered else None


def coverage_table(*, user, campaign: Campaign, org_unit: OrgUnit, group: str = "children") -> dict:
    """One row per unit at the grouping level under `org_unit`, summed from the campaign's coverage rows.

    The rows are per health post; each is grouped under its ancestor at the chosen level by following the
    post's parent links in the same SQL (post → neighborhood → district → …), so one GROUP BY over the
    coverage rows inside the unit's path range answers the table. Units without coverage rows show zeros;
    `covered` tells whether the campaign's areas reach the unit at all.
    """
    if group not in COVERAGE_GROUPS:
        raise ValidationFailed(
            "the request is not valid", [field_error("group", f"must be one of {', '.join(COVERAGE_GROUPS)}")]
        )
    level = org_unit.level + 1 if group == "children" else COVERAGE_GROUPS[group]
    if level <= org_unit.level or level > Level.POST:
        raise ValidationFailed(
            "the request is not valid",
            [field_error("group", f"'{group}' is not below the level of {org_unit.code}")],
        )
    units = list(OrgUnit.objects.within(org_unit).filter(level=level).order_by("path"))
    key = "post" + "__parent" * (Level.POST - level)
    sums = {
        row[key]: {name: row[f"sum_{name}"] or 0 for name in COVERAGE_COUNTS}
        for row in CampaignCoverage.objects.filter(campaign=campaign, post_path__prefix=org_unit.path)
        .values(key)
        .annotate(**{f"sum_{name}": Sum(name) for name in COVERAGE_COUNTS})
        .order_by()
    }
    area_paths = [area.path for area in campaign.areas.all()]
    zero = dict.fromkeys(COVERAGE_COUNTS, 0)
    rows, total = [], dict(zero)
    for unit in units:
        counts = sums.get(unit.pk, zero)
        for name in COVERAGE_COUNTS:
            total[name] += counts[name]
        rows.append(
            {
                "code": unit.code,
                "name_fa": unit.name_fa,
                "name_en": unit.name_en,
                "level": unit.level,
                "covered": path_within(unit.path, area_paths)
                or any(path_within(p, [unit.path]) for p in area_paths),
                **counts,
                "coverage": _coverage_ratio(counts),
            }
        )
    return {
        "campaign": campaign,
        "org_unit": org_unit,
        "level": level,
        "rows": rows,
        "total": {**total, "coverage": _coverage_ratio(total)},
    }


# --- the work list -------------------------------------------------------------------------------------------

RECENT_DAYS = 14
LIST_LIMIT = 200
VULNERABLE_AGE = 60


def worklist_post(*, user, code: str | None) -> OrgUnit:
    """The health post whose work list is asked for: the code given, or the user's only post."""
    require_personal_data(user=user)
    if not code:
        units = user_jurisdiction_units(user=user)
        if len(units) == 1 and units[0].level == Level.POST:
            return units[0]
        raise ValidationFailed(
            "choose a health post", [field_error("post", "is required: the code of a health post")]
        )
    unit = org_unit_for_user(user=user, code=code, field="post")
    if unit.level != Level.POST:
        raise ValidationFailed(
            "choose a health post", [field_error("post", f"{unit.code} is not a health post")]
        )
    return unit


def _years_before(on: dt.date, years: int) -> dt.date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


def _reason(code: str, en: str, fa: str, **values) -> dict:
    return {"code": code, "en": en, "fa": fa, **values}


def _priority(
    *, recent_case: bool, contact: bool, vulnerable: int, female_headed: bool, last: dt.date | None, on
) -> tuple[int, list[dict]]:
    """A transparent score, compared as (recent case or contact, vulnerability, days since last visit):
    10,000 for a recent case or contact in the household, 100 per vulnerable member (and for a female head),
    one per day since the last visit (99 if never visited), each part capped so a lower one never outweighs a
    higher one. The reasons list every part that counted."""
    reasons = []
    if recent_case:
        reasons.append(
            _reason("recent_case", "a case in the household (last 14 days)", "بیمار در خانوار (۱۴ روز اخیر)")
        )
    if contact:
        reasons.append(
            _reason(
                "known_contact",
                "a member in contact with a case (last 14 days)",
                "تماس یکی از اعضا با بیمار (۱۴ روز اخیر)",
            )
        )
    if vulnerable:
        reasons.append(
            _reason(
                "vulnerable_members",
                f"{vulnerable} vulnerable member(s)",
                f"{to_persian_digits(vulnerable)} عضو آسیب‌پذیر",
                count=vulnerable,
            )
        )
    if female_headed:
        reasons.append(_reason("female_headed", "female-headed household", "خانوار زن‌سرپرست"))
    if last is None:
        days = 99
        reasons.append(_reason("never_visited", "never visited", "تاکنون بازدید نشده"))
    else:
        days = max(0, min(99, (on - last).days))
        reasons.append(
            _reason(
                "days_since_last_visit",
                f"{(on - last).days} day(s) since the last visit",
                f"{to_persian_digits((on - last).days)} روز از آخرین بازدید",
                days=(on - last).days,
            )
        )
    score = 10_000 * (recent_case or contact) + 100 * min(vulnerable + female_headed, 99) + days
    return score, reasons


def _households_to_screen(*, user, post: OrgUnit, campaign_ids: list, on: dt.date) -> list[dict]:
    since = on - dt.timedelta(days=RECENT_DAYS)
    paths = personal_data_paths(user=user)
    visits = ScreeningVisit.objects.filter(household=OuterRef("pk"), visit_date__lte=on).order_by(
        "-visit_date", "-created_at"
    )
    screened = ScreeningVisit.objects.filter(
        household=OuterRef("pk"), status=VisitStatus.SCREENED, campaign_id__in=campaign_ids
    )
    contact = MemberScreening.objects.filter(
        visit__household=OuterRef("pk"),
        visit__visit_date__gte=since,
        visit__visit_date__lte=on,
        known_contact=True,
    )
    households = list(
        Household.objects.within_any(paths)
        .filter(org_path=post.path)
        .exclude(Exists(screened))
        .annotate(
            last_visit_date=Subquery(visits.values("visit_date")[:1]),
            last_visit_status=Subquery(visits.values("status")[:1]),
            contact=Exists(contact),
        )
        .select_related("head")
        .only("id", "address", "phone", "female_headed", "head__first_name", "head__last_name")
        .order_by()
    )
    if not households:
        return []
    members = {
        row["household_id"]: row
        for row in Person.objects.within_any(paths)
        .filter(org_path=post.path, household__isnull=False)
        .values("household_id")
        .annotate(
            members=Count("id"),
            vulnerable=Count(
                "id",
                filter=Q(birth_date__lte=_years_before(on, VULNERABLE_AGE))
                | Q(chronic_disease=True)
                | Q(disability=True)
                | Q(pregnant=True),
            ),
        )
        .order_by()
    }
    recent_cases = set(
        Case.objects.filter(org_path=post.path, person__household__isnull=False)
        .exclude(classification=Classification.DISCARDED)
        .filter(Q(onset_date__gte=since) | Q(created_at__date__gte=since))
        .values_list("person__household", flat=True)
        .order_by()
        .union(
            TestOrder.objects.filter(
                org_path=post.path, result=TestResult.POSITIVE, result_date__gte=since, result_date__lte=on
            )
            .values_list("person__household", flat=True)
            .order_by()
        )
    )
    items = []
    for household in households:
        counts = members.get(household.pk, {"members": 0, "vulnerable": 0})
        score, reasons = _priority(
            recent_case=household.pk in recent_cases,
            contact=household.contact,
            vulnerable=counts["vulnerable"],
            female_headed=household.female_headed,
            last=household.last_visit_date,
            on=on,
        )
        head = household.head
        items.append(
            {
                "household_id": household.pk,
                "address": household.address,
                "phone": household.phone,
                "head_name": head.full_name if head is not None else "",
                "members_count": counts["members"],
                "vulnerable_members_count": counts["vulnerable"],
                "female_headed": household.female_headed,
                "last_visit_date": household.last_visit_date,
                "last_visit_status": household.last_visit_status or "",
                "priority": score,
                "priority_reasons": reasons,
            }
        )
    items.sort(key=lambda item: (-item["priority"], str(item["household_id"])))
    return items


def worklist(*, user, post: OrgUnit, on: dt.date | None = None) -> dict:
    """A post's morning work list: households still to screen in the active campaign(s), by priority; the
    follow-ups due on `on`; referrals not yet tested. A bounded number of queries whatever the data size."""
    on = on or timezone.localdate()
    campaigns = list(campaigns_covering(path=post.path, on=on).order_by("-start_date", "name"))
    to_screen = (
        _households_to_screen(user=user, post=post, campaign_ids=[c.pk for c in campaigns], on=on)
        if campaigns
        else []
    )
    follow_ups = [
        {
            "isolation_id": isolation.pk,
            "person_id": isolation.person_id,
            "person_name": isolation.person.full_name,
            "household_id": isolation.person.household_id,
            "address": isolation.person.household.address if isolation.person.household_id else "",
            "mobile": isolation.person.mobile,
            "setting": isolation.setting,
            "start_date": isolation.start_date,
            "planned_end_date": isolation.planned_end_date,
        }
        for isolation in follow_ups_due(user=user, on=on).filter(org_path=post.path)[:LIST_LIMIT]
    ]
    referrals = [
        {
            "test_order_id": order.pk,
            "person_id": order.person_id,
            "person_name": order.person.full_name,
            "urgent": order.urgent,
            "status": order.status,
            "reasons": order.reasons,
            "referred_at": order.created_at,
        }
        for order in referrals_untested(user=user).filter(org_path=post.path)[:LIST_LIMIT]
    ]
    return {
        "post": post,
        "on": on,
        "campaign": campaigns[0] if campaigns else None,
        "campaigns": campaigns,
        # The top of the list by priority: more than a morning's work is never sent to a phone.
        "households_to_screen": to_screen[:LIST_LIMIT],
        "households_to_screen_total": len(to_screen),
        "follow_ups_due": follow_ups,
        "referrals_untested": referrals,
    }


# --- visits --------------------------------------------------------------------------------------------------


def visits_visible(*, user):
    return ScreeningVisit.objects.within_any(personal_data_paths(user=user))


def access_visit(user, visit_id, *, for_update: bool = False) -> ScreeningVisit:
    """A visit inside the user's jurisdiction (with its household, campaign and members' answers), else NotFound
    ("visit not found")."""
    visits = visits_visible(user=user)
    if not for_update:
        visits = visits.select_related("household", "campaign", "org_unit").prefetch_related(
            Prefetch(
                "members",
                queryset=MemberScreening.objects.select_related("person").order_by(
                    "person__birth_date", "id"
                ),
            )
        )
    return first_or_not_found(visits, visit_id, "visit", for_update=for_update)


def household_for_screening(*, user, household_id) -> tuple[Household, list[Person]]:
    households = Household.objects.within_any(personal_data_paths(user=user)).select_related(
        "org_unit", "head"
    )
    household = first_or_not_found(households, household_id, "household")
    return household, list(household.members.order_by("birth_date", "id"))
