import datetime as dt

from django.utils import timezone

from mahalle.core.management.base import ResultCommand, day_option
from mahalle.needs.services import needs_catch_up


class Command(ResultCommand):
    help = (
        "Record as household needs what screening visits and follow-ups noticed, and the death of a household's "
        "head (breadwinner), since a day (default: 7 days ago); then rescore the households touched. Safe to run "
        "again: each report is one need (its source_ref is unique)."
    )
    json_help = "print the counts as JSON"

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day to scan (default: 7 days ago)")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        since = day_option(options["since"], "--since", default=timezone.localdate() - dt.timedelta(days=7))
        counts = needs_catch_up(since=since)
        self.write_result(
            {"since": since.isoformat(), **counts},
            as_json=options["json"],
            plain=f"since {since.isoformat()}: {counts['needs_created']} need(s) recorded from {counts['visits']} "
            f"visit(s), {counts['follow_ups']} follow-up(s), {counts['deaths']} breadwinner death(s); "
            f"{counts['households_scored']} household(s) rescored",
        )
