import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mahalle.cases.services import missed_follow_ups_flag


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--day must be a date as YYYY-MM-DD, not '{value}'") from exc


class Command(BaseCommand):
    help = (
        "Raise a missed-follow-up alert (on the post supervisor's list) for every isolation that was active on a "
        "day and has no follow-up dated that day. Default day: yesterday in the server's time zone "
        "(TIME_ZONE). Run it once a day, after midnight. Running it again for the same day creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", metavar="YYYY-MM-DD", help="the day to check (default: yesterday)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        day = _day(options["day"]) if options["day"] else timezone.localdate() - dt.timedelta(days=1)
        if day > timezone.localdate():
            raise CommandError(f"--day {day.isoformat()} is in the future")
        created = missed_follow_ups_flag(day=day)
        if options["json"]:
            self.stdout.write(json.dumps({"day": day.isoformat(), "alerts_created": created}))
        else:
            self.stdout.write(f"{day.isoformat()}: {created} missed follow-up alert(s) raised")
