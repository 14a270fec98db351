"""Compute every draft aid cycle whose period has started (run daily from cron or a scheduler). With --inline the
computation runs here with a progress bar; without it each cycle is queued for the task worker."""

from tqdm import tqdm

from mahalle.aid import services
from mahalle.core.management.base import ResultCommand


class Command(ResultCommand):
    help = (
        "Compute (or queue) every draft aid cycle whose period has started; new deaths join the next cycle."
    )

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="compute here instead of queueing tasks")
        super().add_arguments(parser)

    def handle(self, *args, inline=False, json_output=False, **options):
        json_output = options.get("json", False)
        if not inline:
            queued = services.cycles_due_run()
            result = {"queued": queued}
        else:
            done = []
            for cycle_id in services.cycles_due_run(queue=False):
                with tqdm(desc=f"cycle {cycle_id}", unit="households", disable=json_output) as bar:
                    cycle = services.cycle_compute(cycle_id=cycle_id, progress=bar.update)
                done.append({"cycle": cycle.pk, "entitled": cycle.entitled, "flagged": cycle.flagged})
            result = {"computed": done}
        self.write_result(result, as_json=json_output, plain=str(result))
