"""The shell's template library, `{% load mahalle_tags %}` in every page: the navigation and the display filters.

The formatting itself (digits, numbers, Jalali dates) lives in `mahalle.core.display`, which imports no app,
so forms and pages of any app can call it directly.
"""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mahalle.accounts.capabilities import Can, may
from mahalle.core import display

register = template.Library()

register.filter("fa_digits", display.fa_digits, is_safe=True)
register.filter("number", display.number, is_safe=True)
register.filter("jalali", display.jalali)

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
AREA_CAPABILITIES = {"analytics": Can.READ_REPORTS}

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
    if may(user, Can.READ_AUDIT):
        areas.append(("audit", _("Audit log"), "audit:search"))
    personal = may(user, Can.READ_PERSONAL)
    for key, label, url_name in areas:
        if key in PERSONAL_AREAS and not personal:
            continue  # the analyst's role has no personal-record pages at all
        if key in AREA_CAPABILITIES and not may(user, AREA_CAPABILITIES[key]):
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


@register.filter
def audit_action(value: str) -> str:
    return display.AUDIT_ACTION_LABELS.get(value, value)
