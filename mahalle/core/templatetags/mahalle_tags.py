"""Display helpers for the web shell: digits and calendars follow the active language."""

import datetime as dt

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mahalle.accounts.models import AUDIT_ROLES, REPORT_ROLES
from mahalle.core.dates import PRECISION_DAY, PRECISION_YEAR, to_jalali_str
from mahalle.core.persian import to_persian_digits

register = template.Library()


def persian_ui() -> bool:
    return (get_language() or "fa").startswith("fa")


@register.filter(is_safe=True)
def fa_digits(value):
    """Persian digits in the Persian UI, the value unchanged (as text) otherwise. Adds no markup."""
    if value is None:
        return ""
    return to_persian_digits(value) if persian_ui() else str(value)


@register.filter(is_safe=True)
def number(value):
    """An integer with thousands separators, in the digits of the active language."""
    if value in (None, ""):
        return ""
    try:
        text = f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)
    return to_persian_digits(text.replace(",", "\u066c")) if persian_ui() else text


@register.filter
def jalali(value, precision=PRECISION_DAY):
    """A date (or datetime) as Jalali with Persian digits in Persian, as ISO Gregorian in English.

    `precision` "year" shows the year alone (birth dates known only to the year).
    """
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        if persian_ui():
            return to_jalali_str(value)
        return value.strftime("%Y-%m-%d %H:%M")
    if not isinstance(value, dt.date):
        return str(value)
    if persian_ui():
        return to_jalali_str(value, precision=precision or PRECISION_DAY)
    return str(value.year) if precision == PRECISION_YEAR else value.isoformat()


# The areas of the platform, in the order of the navigation. An area whose page is not routed yet shows as
# "coming soon"; it lights up by itself once its app adds the URL name.
NAV_AREAS = [
    ("registry", _("Registry"), "registry:person_search"),
    ("screening", _("Screening"), "screening:index"),
    ("cases", _("Cases"), "cases:index"),
    ("tracing", _("Contact tracing"), "tracing:index"),
    ("needs", _("Needs"), "needs:index"),
    ("aid", _("Aid"), "aid:index"),
    ("capacity", _("Capacity"), "capacity:index"),
    ("volunteers", _("Volunteers"), "volunteers:index"),
    ("analytics", _("Reports"), "analytics:index"),
]

# Areas made of personal records only; roles without personal data access do not see them.
PERSONAL_AREAS = frozenset({"registry", "needs"})
# Areas only some roles may open; the others do not see them in the navigation.
AREA_ROLES = {"analytics": REPORT_ROLES}

VULNERABILITY_LABELS = {
    "over_60": _("over 60"),
    "chronic_disease": _("chronic disease"),
    "disability": _("disability"),
    "pregnant": _("pregnant"),
}


@register.inclusion_tag("includes/nav.html", takes_context=True)
def shell_nav(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    current = match.namespace if match else ""
    items = []
    areas = list(NAV_AREAS)
    if user is not None and user.has_role(AUDIT_ROLES):
        areas.append(("audit", _("Audit log"), "audit:search"))
    personal = user is not None and user.is_authenticated and user.can_read_personal_data
    for key, label, url_name in areas:
        if key in PERSONAL_AREAS and not personal:
            continue  # the analyst's role has no personal-record pages at all
        if key in AREA_ROLES and not (
            user is not None and user.is_authenticated and user.has_role(AREA_ROLES[key])
        ):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            url = ""
        items.append({"key": key, "label": label, "url": url, "current": key == current})
    return {"items": items}


@register.filter
def vulnerability_label(flag: str) -> str:
    return VULNERABILITY_LABELS.get(flag, flag)


@register.filter
def unit_name(unit) -> str:
    """An org unit's name in the active language."""
    if unit is None:
        return ""
    return unit.name((get_language() or "fa")[:2])


AUDIT_ACTION_LABELS = {
    "create": _("created"),
    "update": _("updated"),
    "delete": _("deleted"),
    "read": _("read"),
    "export": _("exported"),
    "import": _("imported"),
    "login": _("signed in"),
}


@register.filter
def audit_action(value: str) -> str:
    return AUDIT_ACTION_LABELS.get(value, value)
