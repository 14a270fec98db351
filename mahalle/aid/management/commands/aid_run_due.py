"""Compute every draft aid cycle whose period has started (run daily from cron or a scheduler). With --inline the
computation runs here with a progress bar; without it each cycle is queued for the task worker."""

import json

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from mahalle.aid import services
from mahalle.aid.models import Cycle


class Command(BaseCommand):
    help = (
        "Compute (or queue) every draft aid cycle whose period has started; new deaths join the next cycle."
    )

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="compute here instead of queueing tasks")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, inline=False, json_output=False, **options):
        json_output = options.get("json", False)
        if not inline:
            queued = services.cycles_due_run()
            result = {"queued": queued}
        else:
            done = []
            with transaction.atomic():
                ids = [
                    c.pk
                    for c in Cycle.objects.select_for_update().filter(
                        status=Cycle.Status.DRAFT, period_start__lte=services.timezone.localdate()
                    )
                ]
                Cycle.objects.filter(pk__in=ids).update(status=Cycle.Status.RUNNING)
            for cycle_id in ids:
                with tqdm(desc=f"cycle {cycle_id}", unit="households", disable=json_output) as bar:
                    cycle = services.cycle_compute(cycle_id=cycle_id, progress=bar.update)
                done.append({"cycle": cycle.pk, "entitled": cycle.entitled, "flagged": cycle.flagged})
            result = {"computed": done}
        if json_output:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(str(result))
