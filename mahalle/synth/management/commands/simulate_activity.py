import sys
import time

from django.core.management.base import CommandError
from tqdm import tqdm

from mahalle.core.dates import parse_date
from mahalle.core.management.base import OperatorCommand
from mahalle.synth.activity import activity_plan, activity_write


def weeks_value(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 52:
        raise ValueError(value)
    return number


class Command(OperatorCommand):
    help = (
        "Generate screening campaigns, visits, referrals, test results, cases, isolations, daily follow-ups and "
        "alerts over the synthetic population from a simple epidemic curve (deterministic for --seed and "
        "--start). The activity ends on today unless --start is given."
    )
    json_help = "print the counts as JSON"

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=weeks_value, default=4, help="how many weeks (1-52, default 4)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--start", help="first day, YYYY-MM-DD (default: so that the last day is today)")
        super().add_arguments(parser)

    def run(self, **options):
        start = None
        if options["start"]:
            try:
                start, _precision = parse_date(options["start"])
            except ValueError as exc:
                raise CommandError(f"--start: {exc}") from exc
        started = time.perf_counter()
        try:
            plan = activity_plan(weeks=options["weeks"], seed=options["seed"], start=start)
            with tqdm(
                total=plan.total_rows(), file=sys.stderr, unit="row", disable=None, desc="activity"
            ) as bar:
                result = activity_write(plan, progress=bar.update)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result["seconds"] = round(time.perf_counter() - started, 2)
        self.write_result(
            result,
            as_json=options["json"],
            plain=f"{result['campaigns']} campaigns, {result['visits']} visits, {result['test_orders']} test "
            f"orders, {result['cases']} cases, {result['isolations']} isolations, {result['follow_ups']} "
            f"follow-ups and {result['alerts']} alerts from {result['start']} to {result['end']} in "
            f"{result['seconds']} s",
        )
