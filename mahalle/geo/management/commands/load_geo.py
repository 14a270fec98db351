import json

from django.core.management.base import BaseCommand

from mahalle.geo.services import geography_load_reference


class Command(BaseCommand):
    help = "Load Iran's provinces and counties (2016 census) into the org-unit tree. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        result = geography_load_reference()
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"loaded {result['provinces']} provinces, {result['counties']} counties")
