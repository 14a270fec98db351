from mahalle.core.management.base import ResultCommand
from mahalle.geo.services import geography_load_reference


class Command(ResultCommand):
    help = "Load Iran's provinces and counties (2016 census) into the org-unit tree. Safe to re-run."

    def handle(self, *args, **options):
        result = geography_load_reference()
        plain = f"loaded {result['provinces']} provinces, {result['counties']} counties"
        self.write_result(result, as_json=options["json"], plain=plain)
