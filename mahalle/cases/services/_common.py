"""Private helpers of the cases services: dates as the services check them."""

import datetime as dt

from django.utils import timezone

from mahalle.core.dates import InvalidDate, parse_date
from mahalle.core.errors import field_error


def _today() -> dt.date:
    return timezone.localdate()


def _as_date(value, field: str, errors: list) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return parse_date(value)[0]
    except InvalidDate as exc:
        errors.append(field_error(field, str(exc)))
        return None


def _not_future(value: dt.date | None, field: str, errors: list) -> None:
    if value is not None and value > _today():
        errors.append(field_error(field, "is in the future"))
