"""Display formatting that follows the active language: digits, thousands separators, Jalali dates.

Pure helpers (no app is imported); the web shell's `mahalle_tags` library registers them as template filters,
and forms and pages of any app may call them directly.
"""

import datetime as dt

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mahalle.core.dates import PRECISION_DAY, PRECISION_YEAR, to_jalali_str
from mahalle.core.persian import to_persian_digits


def persian_ui() -> bool:
    return (get_language() or "fa").startswith("fa")


def fa_digits(value):
    """Persian digits in the Persian UI, the value unchanged (as text) otherwise. Adds no markup."""
    if value is None:
        return ""
    return to_persian_digits(value) if persian_ui() else str(value)


def number(value):
    """An integer with thousands separators, in the digits of the active language."""
    if value in (None, ""):
        return ""
    try:
        text = f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)
    return to_persian_digits(text.replace(",", "\u066c")) if persian_ui() else text


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


# The audit log's actions as the pages name them (the audit search form and the `audit_action` filter).
AUDIT_ACTION_LABELS = {
    "create": _("created"),
    "update": _("updated"),
    "delete": _("deleted"),
    "read": _("read"),
    "export": _("exported"),
    "import": _("imported"),
    "login": _("signed in"),
}
