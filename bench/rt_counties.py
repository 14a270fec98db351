"""Rt for every county at once (vectorised) beside a plain per-county Python loop, in the same run. Prints JSON.

    .venv/bin/python bench/rt_counties.py                     # 430 counties × 365 days, the issue's target
    .venv/bin/python bench/rt_counties.py --counties 100 --days 180 --repeat 5

Target: all ~430 counties over 365 days in ≤ 2 s (vectorised).

What it does (no database, no Django: the engine is pure NumPy/SciPy):
1. synthetic daily incidence per county: a deterministic random-walk Rt drives a renewal process (Poisson),
   seeded by a few imported cases; capped at 500 cases a day per county;
2. `estimate_rt_many` on the counties × days matrix (sliding 7-day windows, parametric serial interval
   4.7/2.9 days, EpiEstim's defaults otherwise): the best of --repeat runs, and the first run (cold);
3. baseline A, "python_loop": the same estimate written as EpiEstim's R code is, one county at a time in
   plain Python (infectivity Lambda_t by a loop over the serial interval, window sums by a loop, the gamma
   quantiles by scipy per window) — what a straightforward port does;
4. baseline B, "per_county_engine": `estimate_rt` (the vectorised engine) called once per county in a loop;
5. checks the three agree (max absolute difference of the posterior mean and the 97.5% quantile).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine  # noqa: E402

from mahalle.analytics.epi.rt import discr_si, estimate_rt, estimate_rt_many  # noqa: E402


def synthetic_incidence(counties: int, days: int, seed: int = 2026) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = discr_si(np.arange(days), 4.7, 2.9)
    local = np.zeros((counties, days))
    imported = np.zeros((counties, days))
    imported[:, 0] = rng.integers(2, 30, counties)
    imported[:, 1:] = rng.poisson(0.2, (counties, days - 1))
    log_r = np.log(1.4) + np.cumsum(rng.normal(0, 0.03, (counties, days)), axis=1)
    log_r -= np.linspace(0, 0.5, days)[None, :]  # control measures bring it down over the year
    for t in range(1, days):
        total = local[:, :t] + imported[:, :t]
        lam = total[:, ::-1] @ w[1 : t + 1]
        local[:, t] = rng.poisson(np.minimum(np.exp(log_r[:, t]) * lam, 500))
    return local, imported


def rt_python_loop(local, imported, si_mean, si_sd, window, mean_prior=5.0, std_prior=5.0):
    """EpiEstim's estimate_R_func for one county, written as plainly as its R code (1-based days)."""
    days = len(local)
    loc, imp = list(local), list(imported)
    imp[0] += loc[0]
    loc[0] = 0
    total = [a + b for a, b in zip(loc, imp, strict=True)]
    w = list(discr_si(np.arange(days), si_mean, si_sd)) + [0.0]
    mean_si = sum(k * p for k, p in enumerate(w))
    lam = [0.0] * days
    for t in range(1, days):
        lam[t] = sum(w[s] * total[t - s] for s in range(1, t + 1))
    a_prior = (mean_prior / std_prior) ** 2
    b_prior = std_prior**2 / mean_prior
    out = []
    for t_start in range(2, days - window + 2):
        t_end = t_start + window - 1
        if t_end <= mean_si:
            continue
        shape = a_prior + sum(loc[t_start - 1 : t_end])
        scale = 1 / (1 / b_prior + sum(lam[t_start - 1 : t_end]))
        out.append(
            (
                shape * scale,
                math.sqrt(shape) * scale,
                stats.gamma.ppf(0.025, shape, scale=scale),
                stats.gamma.ppf(0.975, shape, scale=scale),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=430)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--loop-counties",
        type=int,
        default=None,
        help="time the plain Python loop on this many counties and scale up (default: all)",
    )
    args = parser.parse_args()

    local, imported = synthetic_incidence(args.counties, args.days)
    opts = {"si_mean": 4.7, "si_sd": 2.9, "window": args.window}

    runs = []
    for _ in range(max(args.repeat, 1)):
        t0 = time.perf_counter()
        many = estimate_rt_many(local, imported, **opts)
        runs.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    per_county = [estimate_rt(local[i], imported[i], **opts) for i in range(args.counties)]
    per_county_s = time.perf_counter() - t0

    loop_n = args.loop_counties or args.counties
    t0 = time.perf_counter()
    plain = [rt_python_loop(local[i], imported[i], **opts) for i in range(loop_n)]
    loop_s = time.perf_counter() - t0
    loop_all_s = loop_s * args.counties / loop_n

    plain_arr = np.array(plain)  # loop_n × windows × 4
    diff_plain = max(
        float(np.max(np.abs(plain_arr[:, :, 0] - many.mean[:loop_n]))),
        float(np.max(np.abs(plain_arr[:, :, 3] - many.upper[:loop_n]))),
    )
    diff_engine = max(float(np.max(np.abs(per_county[i].mean - many.mean[i]))) for i in range(args.counties))
    best = min(runs)
    print(
        json.dumps(
            {
                "benchmark": "rt_counties",
                "machine": machine(),
                "counties": args.counties,
                "days": args.days,
                "window": args.window,
                "windows_per_county": int(many.mean.shape[1]),
                "cases": int(local.sum() + imported.sum()),
                "vectorised_s": {"best": round(best, 4), "first": round(runs[0], 4), "runs": len(runs)},
                "target_s": 2.0,
                "target_met": best <= 2.0,
                "baseline_python_loop_s": round(loop_all_s, 3),
                "baseline_python_loop_counties_timed": loop_n,
                "baseline_per_county_engine_s": round(per_county_s, 4),
                "speedup_vs_python_loop": round(loop_all_s / best, 1),
                "speedup_vs_per_county_engine": round(per_county_s / best, 1),
                "max_abs_diff_vs_python_loop": diff_plain,
                "max_abs_diff_vs_per_county_engine": diff_engine,
                "unreliable_windows_share": round(float(1 - many.reliable.mean()), 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
