from mahalle.core.management.base import ResultCommand
from mahalle.tracing.services import contacts_link_new_cases


class Command(ResultCommand):
    help = (
        "Link contacts and event attendees who have become cases to their case (the transmission chain), for "
        "cases created without the tracing hook. Safe to run again (cron: every few minutes, or after a lab "
        "results import)."
    )

    def handle(self, *args, **options):
        result = contacts_link_new_cases()
        plain = f"{result['cases']} case(s) checked, {result['contacts_linked']} contact(s) linked"
        self.write_result(result, as_json=options["json"], plain=plain)
