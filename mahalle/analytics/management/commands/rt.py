import sys

from django.core.management.base import CommandError

from mahalle.analytics.epi.incidence_csv import read_incidence_csv, read_si_distr_csv, write_rt_csv
from mahalle.analytics.epi.rt import (
    DEFAULT_MEAN_PRIOR,
    DEFAULT_SI_MEAN,
    DEFAULT_SI_SD,
    DEFAULT_STD_PRIOR,
    DEFAULT_WINDOW,
    RtInputError,
    estimate_rt,
)
from mahalle.core.management.base import ResultCommand


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return value


class Command(ResultCommand):
    help = (
        "Estimate the time-varying reproduction number Rt on sliding windows by the method of Cori et al. "
        "(2013), exactly as EpiEstim's estimate_R (gamma prior mean 5, sd 5; posterior mean, sd, 2.5% and "
        "97.5% quantiles). INCIDENCE.csv has the columns date, local[, imported] (one row per day; missing days "
        "count as 0 cases, unsorted rows are sorted, a repeated date is an error). The serial interval is a "
        f"discretised shifted gamma (--si-mean/--si-sd, default {DEFAULT_SI_MEAN}/{DEFAULT_SI_SD} days) or a "
        "given distribution (--si-distr W.csv, one column w with w[0] = 0, summing to 1). Writes one row per "
        "window: date_start, date_end, mean, std, lower, upper. Uses no database."
    )
    json_help = "print a JSON summary (with reliability per window)"
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "incidence", metavar="INCIDENCE.csv", help="daily incidence: date, local[, imported]"
        )
        parser.add_argument("--out", required=True, metavar="RT.csv", help="where to write the estimates")
        parser.add_argument(
            "--si-mean",
            type=float,
            metavar="M",
            help=f"serial interval mean, days (default {DEFAULT_SI_MEAN})",
        )
        parser.add_argument(
            "--si-sd", type=float, metavar="S", help=f"serial interval sd, days (default {DEFAULT_SI_SD})"
        )
        parser.add_argument(
            "--si-distr", metavar="W.csv", help="a given serial interval distribution (column w)"
        )
        parser.add_argument(
            "--window",
            type=_positive_int,
            default=DEFAULT_WINDOW,
            help=f"window length in days (default {DEFAULT_WINDOW})",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        if options["si_distr"] and (options["si_mean"] is not None or options["si_sd"] is not None):
            raise CommandError("give either --si-distr or --si-mean/--si-sd, not both")
        try:
            incidence = read_incidence_csv(options["incidence"])
            if options["si_distr"]:
                si = {"method": "non_parametric_si", "file": options["si_distr"]}
                result = estimate_rt(
                    incidence.local,
                    incidence.imported,
                    si_distr=read_si_distr_csv(options["si_distr"]),
                    window=options["window"],
                )
            else:
                mean = DEFAULT_SI_MEAN if options["si_mean"] is None else options["si_mean"]
                sd = DEFAULT_SI_SD if options["si_sd"] is None else options["si_sd"]
                si = {"method": "parametric_si", "mean": mean, "sd": sd}
                result = estimate_rt(
                    incidence.local, incidence.imported, si_mean=mean, si_sd=sd, window=options["window"]
                )
        except RtInputError as exc:
            raise CommandError(str(exc)) from exc
        try:
            rows = write_rt_csv(options["out"], incidence.dates, result)
        except OSError as exc:
            raise CommandError(f"{options['out']}: cannot write ({exc.strerror or exc})") from exc
        for note in incidence.notes:
            sys.stderr.write(f"note: {note}\n")
        unreliable = [
            incidence.dates[int(end) - 1].isoformat()
            for end, ok in zip(result.t_end, result.reliable, strict=True)
            if not ok
        ]
        summary = {
            "input": options["incidence"],
            "output": options["out"],
            "days": len(incidence.dates),
            "first_date": incidence.dates[0].isoformat(),
            "last_date": incidence.dates[-1].isoformat(),
            "cases": {"local": int(incidence.local.sum()), "imported": int(incidence.imported.sum())},
            "window": options["window"],
            "windows": rows,
            "serial_interval": {
                **si,
                "discrete_mean": round(result.si_mean, 6),
                "discrete_sd": round(result.si_sd, 6),
            },
            "prior": {"mean": DEFAULT_MEAN_PRIOR, "sd": DEFAULT_STD_PRIOR},
            "min_cases_reliable": result.min_cases,
            "unreliable_windows": len(unreliable),
            "reliable": [
                {
                    "date_end": incidence.dates[int(end) - 1].isoformat(),
                    "cases": int(cases),
                    "reliable": bool(ok),
                }
                for end, cases, ok in zip(result.t_end, result.cases, result.reliable, strict=True)
            ],
            "filled_dates": [d.isoformat() for d in incidence.filled_dates],
            "sorted_rows": incidence.sorted_rows,
            "notes": incidence.notes,
        }
        self.write_result(
            summary,
            as_json=options["json"],
            plain=f"{rows} windows of {options['window']} days written to {options['out']} "
            f"({len(incidence.dates)} days, {len(unreliable)} window(s) with fewer than {result.min_cases} cases: "
            "unreliable)",
        )
