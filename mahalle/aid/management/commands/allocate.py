"""`mahalle allocate`: allocate scarce stock from CSV files (no database)."""

import sys
import time

from django.core.management.base import CommandError

from mahalle.aid.optim.allocation import AllocationInputError, allocate, greedy_allocate
from mahalle.aid.optim.files import read_need, read_reach, read_stock, write_allocation
from mahalle.core.management.base import ResultCommand


class Command(ResultCommand):
    help = (
        "Allocate scarce stock from warehouses to regions with HiGHS, lexicographically: (1) maximise the "
        "smallest coverage (allocated ÷ need) over reachable regions with need, (2) then the "
        "vulnerability-weighted units, (3) then minimise the transport distance; integer units, no region over "
        "its need, no warehouse over its stock, only along reach pairs. Files: stock.csv (warehouse_id, units), "
        "need.csv (region_id, need, weight), optional reach.csv (warehouse_id, region_id, distance_km; without "
        "it every warehouse reaches every region at 0 km); UTF-8 or Windows-1256, header row. Writes "
        "warehouse_id, region_id, units (rows with units > 0, sorted). Progress goes to standard error; the "
        "summary to standard output (JSON with --json). Exit status 1 on any input error. Uses no database. "
        "The model: docs/allocation.md."
    )
    json_help = "print the summary as JSON"
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--stock", required=True, metavar="STOCK_CSV", help="warehouse_id, units")
        parser.add_argument("--need", required=True, metavar="NEED_CSV", help="region_id, need, weight")
        parser.add_argument(
            "--reach",
            metavar="REACH_CSV",
            help="warehouse_id, region_id, distance_km (default: every warehouse reaches every region at 0 km)",
        )
        parser.add_argument(
            "--out", required=True, metavar="ALLOCATION_CSV", help="where to write the allocation"
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--method",
            choices=["exact", "mip", "greedy"],
            default="exact",
            help="exact (default: proven optimal, fast); mip (the same optimum by three plain HiGHS MIPs, "
            "for small inputs); greedy (the baseline: by weight, nearest warehouse first; not optimal)",
        )

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            stock = read_stock(options["stock"])
            self.log(f"read {options['stock']}: {len(stock):,} warehouses, {sum(stock.values()):,} units")
            need = read_need(options["need"])
            self.log(
                f"read {options['need']}: {len(need):,} regions, need {sum(n for _, n, _ in need):,} units"
            )
            reach = None
            if options["reach"]:
                reach = read_reach(options["reach"], stock, (region for region, _, _ in need))
                self.log(f"read {options['reach']}: {len(reach):,} reach pairs")
            read_seconds = time.perf_counter() - started
            solve_started = time.perf_counter()
            if options["method"] == "greedy":
                result = greedy_allocate(stock, need, reach)
            else:
                result = allocate(stock, need, reach, method=options["method"], log=self.log)
            solve_seconds = time.perf_counter() - solve_started
            self.log(f"solved: {result.status} in {solve_seconds:.2f} s")
            write_started = time.perf_counter()
            rows = write_allocation(options["out"], result.units)
            write_seconds = time.perf_counter() - write_started
        except AllocationInputError as exc:
            raise CommandError(str(exc)) from exc
        except RuntimeError as exc:  # the solver did not reach optimality
            raise CommandError(f"the solver failed: {exc}") from exc
        self.log(f"wrote {options['out']}: {rows:,} rows in {time.perf_counter() - started:.2f} s in all")
        summary = {
            "status": result.status,
            "method": options["method"],
            "min_coverage": result.min_coverage,
            "weighted_units": result.weighted_units,
            "total_distance_km": result.distance,
            "min_coverage_exact": result.min_coverage_exact,
            "min_coverage_including_unreachable": result.min_coverage_all_regions,
            "totals": result.totals,
            "unreachable_regions": result.unreachable_regions,
            "stages": result.stages,
            "explanation": result.explanation,
            "out": str(options["out"]),
            "seconds": {
                "read": round(read_seconds, 3),
                "solve": round(solve_seconds, 3),
                "write": round(write_seconds, 3),
                "total": round(time.perf_counter() - started, 3),
            },
        }
        headline = (
            f"status {result.status}; min coverage {result.min_coverage:.4f} ({result.min_coverage_exact}); "
            f"weighted units {result.weighted_units:,.2f}; total distance {result.distance:,.1f} km; "
            f"{result.totals['allocated']:,} of {result.totals['stock']:,} units allocated in {rows:,} rows"
        )
        plain = "\n".join([headline, *(f"- {line}" for line in result.explanation)])
        self.write_result(summary, as_json=options["json"], plain=plain)
