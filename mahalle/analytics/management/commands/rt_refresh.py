from django.core.management.base import CommandError

from mahalle.analytics.services import rt_refresh
from mahalle.core.management.base import ResultCommand
from mahalle.geo.models import OrgUnit


class Command(ResultCommand):
    help = (
        "Recompute the stored Rt of every province and county (or of the given org units' provinces and counties) "
        "from the cases. Run it daily (cron) so the windows move on even on days without new cases; new cases "
        "trigger it by themselves."
    )
    json_help = "print the summary as JSON"

    def add_arguments(self, parser):
        parser.add_argument("--org-unit", action="append", metavar="CODE", help="only this unit (repeatable)")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        ids = None
        if options["org_unit"]:
            found = dict(OrgUnit.objects.filter(code__in=options["org_unit"]).values_list("code", "pk"))
            missing = [code for code in options["org_unit"] if code not in found]
            if missing:
                raise CommandError(f"unknown org unit code(s): {', '.join(missing)}")
            ids = list(found.values())
        summary = rt_refresh(org_unit_ids=ids)
        self.write_result(
            summary,
            as_json=options["json"],
            plain=f"Rt refreshed for {summary['units']} provinces and counties: {summary['estimates']} windows "
            f"({summary['first_day']} … {summary['last_day']})",
        )
