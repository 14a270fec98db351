"""Background work of the health side. Tasks take plain values, are idempotent and call one service."""

import datetime as dt

from django_tasks import task

from .services import missed_follow_ups_flag


@task()
def flag_missed_follow_ups(day: str) -> int:
    """Raise one missed-follow-up alert per isolation with no follow-up on `day` (ISO date). Run it once a day
    for the day before (or at the end of the day); running it again creates nothing."""
    return missed_follow_ups_flag(day=dt.date.fromisoformat(day))
