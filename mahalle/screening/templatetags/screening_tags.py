"""Display helpers of the screening pages: texts given in both languages by the rules and the work list."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from mahalle.screening.models import RiskOutcome, VisitStatus

register = template.Library()


def _persian() -> bool:
    return (get_language() or "fa").startswith("fa")


@register.filter
def reason_text(reason) -> str:
    """A reason ({"fa", "en"} from a rule or the work list's priority) in the active language."""
    if not isinstance(reason, dict):
        return str(reason)
    first, second = ("fa", "en") if _persian() else ("en", "fa")
    return reason.get(first) or reason.get(second) or reason.get("rule") or reason.get("code", "")


@register.filter
def rule_reason(rule) -> str:
    """A rule's reason (reason_fa / reason_en) in the active language."""
    first, second = ("reason_fa", "reason_en") if _persian() else ("reason_en", "reason_fa")
    return rule.get(first) or rule.get(second) or rule.get("id", "")


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


@register.filter
def get_item(mapping, key):
    return mapping.get(key, key) if isinstance(mapping, dict) else key


@register.filter
def visit_status(value) -> str:
    return str(VisitStatus(value).label) if value in VisitStatus.values else (value or "")


@register.filter
def outcome_label(value) -> str:
    return str(RiskOutcome(value).label) if value in RiskOutcome.values else (value or "")


@register.filter
def coverage_group(value) -> str:
    labels = {
        "children": _("the next level down"),
        "county": _("counties"),
        "district": _("districts"),
        "neighborhood": _("neighborhoods"),
        "post": _("health posts"),
    }
    return labels.get(value, value)
