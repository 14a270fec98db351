import json

from django.core.management.base import BaseCommand

from mahalle.tracing.services import contacts_link_new_cases


class Command(BaseCommand):
    help = (
        "Link contacts and event attendees who have become cases to their case (the transmission chain), for "
        "cases created without the tracing hook. Safe to run again (cron: every few minutes, or after a lab "
        "results import)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        result = contacts_link_new_cases()
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"{result['cases']} case(s) checked, {result['contacts_linked']} contact(s) linked"
            )
