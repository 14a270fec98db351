import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mahalle.needs.intake import needs_catch_up


class Command(BaseCommand):
    help = (
        "Record as household needs what screening visits and follow-ups noticed, and the death of a household's "
        "head (breadwinner), since a day (default: 7 days ago); then rescore the households touched. Safe to run "
        "again: each report is one need (its source_ref is unique)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day to scan (default: 7 days ago)")
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")

    def handle(self, *args, **options):
        if options["since"]:
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since must be a date as YYYY-MM-DD, not '{options['since']}'") from exc
        else:
            since = timezone.localdate() - dt.timedelta(days=7)
        counts = needs_catch_up(since=since)
        if options["json"]:
            self.stdout.write(json.dumps({"since": since.isoformat(), **counts}))
        else:
            self.stdout.write(
                f"since {since.isoformat()}: {counts['needs_created']} need(s) recorded from {counts['visits']} "
                f"visit(s), {counts['follow_ups']} follow-up(s), {counts['deaths']} breadwinner death(s); "
                f"{counts['households_scored']} household(s) rescored"
            )
