"""Small helpers shared by the tracing services (private to this package)."""

import datetime as dt

from django.utils import timezone

from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import field_error


def _today() -> dt.date:
    return timezone.localdate()


def _parse_day(value, field: str, errors: list) -> dt.date | None:
    """A date given as a date or as text (Gregorian or Jalali); None with a field error when missing or bad."""
    if value in (None, ""):
        errors.append(field_error(field, "is required"))
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(value)[0]
    except InvalidDate as exc:
        errors.append(field_error(field, str(exc)))
        return None
