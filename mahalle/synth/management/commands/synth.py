import sys
import time
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from mahalle.core.management.base import OperatorCommand
from mahalle.synth.geography import geography_generate_full
from mahalle.synth.people import synth_population_csv
from mahalle.synth.services import synth_population_write


def positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(OperatorCommand):
    help = (
        "Generate a deterministic synthetic population (same --persons and --seed give the same people). "
        "Without --csv the persons, their households and the health posts they need go into the database; "
        "with --csv FILE they are written to that person-record CSV instead, and the database is not touched."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--persons", type=positive, default=100_000, help="how many people (default 100000)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--csv", type=Path, metavar="FILE", help="write a person-record CSV instead of the DB"
        )
        parser.add_argument(
            "--full-geography",
            action="store_true",
            help="also create every district, neighborhood and post of the country at real scale (~54,000 posts)",
        )
        super().add_arguments(parser)

    def run(self, **options):
        started = time.perf_counter()
        bar = tqdm(total=options["persons"], file=sys.stderr, unit="person", disable=None, desc="synth")
        try:
            if options["csv"]:
                if options["full_geography"]:
                    raise CommandError(
                        "--full-geography builds the database tree; it cannot be used with --csv"
                    )
                result = synth_population_csv(
                    persons=options["persons"], seed=options["seed"], path=options["csv"], progress=bar.update
                )
            elif options["persons"] == 0 and options["full_geography"]:
                result = geography_generate_full()
            else:
                result = synth_population_write(
                    persons=options["persons"],
                    seed=options["seed"],
                    full_geography=options["full_geography"],
                    progress=bar.update,
                )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        result["seconds"] = round(time.perf_counter() - started, 2)
        self.write_result(
            result,
            as_json=options["json"],
            plain=f"{result.get('persons', 0)} persons in {result.get('households', 0)} households written to "
            f"{result.get('csv') or 'the database'} in {result['seconds']} s",
        )
