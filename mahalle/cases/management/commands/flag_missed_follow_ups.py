import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone

from mahalle.cases.services import missed_follow_ups_flag
from mahalle.core.management.base import ResultCommand, day_option


class Command(ResultCommand):
    help = (
        "Raise a missed-follow-up alert (on the post supervisor's list) for every isolation that was active on a "
        "day and has no follow-up dated that day. Default day: yesterday in the server's time zone "
        "(TIME_ZONE). Run it once a day, after midnight. Running it again for the same day creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", metavar="YYYY-MM-DD", help="the day to check (default: yesterday)")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        day = day_option(options["day"], "--day", default=timezone.localdate() - dt.timedelta(days=1))
        if day > timezone.localdate():
            raise CommandError(f"--day {day.isoformat()} is in the future")
        created = missed_follow_ups_flag(day=day)
        self.write_result(
            {"day": day.isoformat(), "alerts_created": created},
            as_json=options["json"],
            plain=f"{day.isoformat()}: {created} missed follow-up alert(s) raised",
        )
