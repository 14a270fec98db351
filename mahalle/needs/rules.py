"""The needs registry's own rules, with no query in them: linkage thresholds, the agency-list columns and need
words, the field forms' need words, and the vulnerability points. Services, selectors and pages read them here."""

from django.conf import settings
from django.utils.translation import gettext_noop

from mahalle.core.person_record import PERSON_RECORD_COLUMNS

from .models import LinkStatus, NeedKind

# --- linkage ----------------------------------------------------------------------------------------------

DEFAULT_AUTO_LINK = 0.99
DEFAULT_REVIEW = 0.80
ENGINE_COLUMNS = PERSON_RECORD_COLUMNS
# A record in one of these states has its person; a linkage run leaves it alone.
LINKED = (LinkStatus.AUTO, LinkStatus.REVIEWED, LinkStatus.NEW)


def thresholds() -> tuple[float, float]:
    """(auto-link, review) from settings.MAHALLE_LINKAGE, with the defaults above."""
    conf = getattr(settings, "MAHALLE_LINKAGE", None) or {}
    return float(conf.get("AUTO_LINK", DEFAULT_AUTO_LINK)), float(conf.get("REVIEW", DEFAULT_REVIEW))


# --- agency lists -----------------------------------------------------------------------------------------

DEFAULT_MAX_ROWS = 1_000_000
LIST_COLUMNS = (*PERSON_RECORD_COLUMNS, "need_kind", "support", "household_ref", "post_code")
NEED_WORDS = {
    **{kind.value: kind.value for kind in NeedKind},
    **{str(kind.label): kind.value for kind in NeedKind},
    "income": NeedKind.INCOME_LOSS,
    "غذا": NeedKind.FOOD,
    "معیشتی": NeedKind.FOOD,
    "بسته معیشتی": NeedKind.FOOD,
    "بهداشتی": NeedKind.HYGIENE,
    "بسته بهداشتی": NeedKind.HYGIENE,
    "از دست دادن درآمد": NeedKind.INCOME_LOSS,
    "بیکاری": NeedKind.INCOME_LOSS,
    "فوت سرپرست": NeedKind.BREADWINNER_DIED,
    "تجهیزات پزشکی": NeedKind.MEDICAL_EQUIPMENT,
    "اکسیژن ساز": NeedKind.MEDICAL_EQUIPMENT,
    "مسکن": NeedKind.HOUSING,
    "سایر": NeedKind.OTHER,
}


def max_rows() -> int:
    return int(getattr(settings, "MAHALLE_AGENCY_LIST_MAX_ROWS", DEFAULT_MAX_ROWS))


# --- needs from the health side ---------------------------------------------------------------------------

# The screening/follow-up forms' need words → the registry's need kinds.
FIELD_NEEDS = {
    "food": NeedKind.FOOD,
    "hygiene": NeedKind.HYGIENE,
    "income": NeedKind.INCOME_LOSS,
    "income_loss": NeedKind.INCOME_LOSS,
    "medical_equipment": NeedKind.MEDICAL_EQUIPMENT,
    "housing": NeedKind.HOUSING,
    "breadwinner_died": NeedKind.BREADWINNER_DIED,
}

# --- the vulnerability score ------------------------------------------------------------------------------

MEMBER_CAP = 3
# code: (label, points per occurrence)
POINTS = {
    "over_60": (gettext_noop("members aged 60 or more"), 2),
    "chronic_disease": (gettext_noop("members with a chronic disease"), 2),
    "disability": (gettext_noop("members with a disability"), 3),
    "pregnant": (gettext_noop("pregnant members"), 2),
    "female_headed": (gettext_noop("female-headed household"), 3),
    "lost_income": (gettext_noop("lost income in the epidemic"), 3),
    "active_case": (gettext_noop("members with an ongoing suspected or probable case"), 1),
    "confirmed_case": (gettext_noop("members with an ongoing confirmed case"), 2),
    "death": (gettext_noop("members who died of the disease"), 5),
    "breadwinner_died": (gettext_noop("the breadwinner died"), 5),
    "open_need": (gettext_noop("kinds of need still open"), 1),
}


def vulnerability_reason(code: str, count: int, cap: int | None = MEMBER_CAP) -> dict | None:
    """One component of the score: `count` occurrences of `code` (counted up to `cap`), or None for none."""
    if not count:
        return None
    label, points = POINTS[code]
    counted = min(count, cap) if cap else count
    return {"code": code, "label": label, "count": count, "points": points * counted}
