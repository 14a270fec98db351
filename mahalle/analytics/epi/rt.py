"""Time-varying reproduction number by the method of Cori et al. (2013), exactly as EpiEstim's `estimate_R`
computes it for methods "parametric_si" and "non_parametric_si" (pure NumPy/SciPy; no Django).

For incidence I_t = local_t + imported_t (days t = 1..T, 1-based as in EpiEstim) and a discrete serial
interval distribution w (w_0 = 0):

    Lambda_t = sum_{s=1}^{t-1} w_s I_{t-s}                                     (overall infectivity)
    a = a_prior + sum_{t in window} local_t                                    (local cases only)
    b = 1 / (1 / b_prior + sum_{t in window} Lambda_t)                         (local + imported infect)
    R ~ Gamma(shape=a, scale=b): mean a*b, std sqrt(a)*b, 2.5% and 97.5% quantiles.

with a_prior = (mean_prior / std_prior)^2 and b_prior = std_prior^2 / mean_prior (mean 5, sd 5 by default).

EpiEstim details reproduced on purpose (see docs/rt.md):
- every case of the first day is imported (EpiEstim's `process_I` moves local cases of day 1 to imported);
- default windows: t_start = 2, 3, ..., T - window + 1 and t_end = t_start + window - 1;
- the parametric serial interval is `discr_si(0..T-1, mean, sd)` (shifted gamma, shift 1, the closed form of
  the supplement of Cori et al. 2013), padded with one zero, and a given distribution is padded with zeros
  to T + 1 values (or used whole when longer);
- windows ending on or before the mean of the discrete serial interval are not estimated (EpiEstim drops
  those rows);
- a given distribution must have w_0 = 0, no negative value and a sum within 0.01 of 1; it is used as given,
  not normalised (EpiEstim does the same, which is why its Flu2009 numbers are reproduced).

Reliability: EpiEstim warns when the first window holds fewer than ceil(1 / cv_posterior^2 - a_prior) cases
(11 with the defaults: the number needed for a posterior coefficient of variation of cv_posterior). Here the
same rule is applied to every window (cases = local + imported in the window) and such windows are flagged
`reliable = False`, never dropped.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

DEFAULT_SI_MEAN = 4.7
DEFAULT_SI_SD = 2.9
DEFAULT_WINDOW = 7
DEFAULT_MEAN_PRIOR = 5.0
DEFAULT_STD_PRIOR = 5.0
DEFAULT_CV_POSTERIOR = 0.3
SI_SUM_TOLERANCE = 0.01  # EpiEstim's check_si_distr: abs(sum(si_distr) - 1) > 0.01 is an error


class RtInputError(ValueError):
    """Input the estimator cannot use; the message says what and where."""


@dataclass(frozen=True)
class RtResult:
    """Estimates for each window. `t_start`/`t_end` are 1-based day numbers, inclusive, as in EpiEstim.

    For `estimate_rt` the value arrays are 1-D (one per window); for `estimate_rt_many` they are 2-D
    (regions × windows) and `t_start`/`t_end` are shared by all regions.
    """

    t_start: np.ndarray
    t_end: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    lower: np.ndarray  # 2.5% quantile
    upper: np.ndarray  # 97.5% quantile
    cases: np.ndarray  # local + imported cases in the window
    reliable: np.ndarray  # cases >= min_cases
    min_cases: int
    si_distr: np.ndarray
    si_mean: float  # mean and sd of the discrete distribution actually used
    si_sd: float


def discr_si(k, mu: float, sigma: float) -> np.ndarray:
    """EpiEstim's `discr_si`: P(serial interval = k) for a gamma with mean `mu` - 1 and sd `sigma`, shifted by
    one day, discretised with a uniform primary event within the day (Cori et al. 2013, web appendix 11)."""
    if sigma <= 0:
        raise RtInputError(f"the serial interval's standard deviation must be > 0 (got {sigma})")
    if mu <= 1:
        raise RtInputError(f"the serial interval's mean must be > 1 day (got {mu})")
    k = np.asarray(k, dtype=float)
    if np.any(k < 0):
        raise RtInputError("all values in k must be >= 0")
    a = ((mu - 1) / sigma) ** 2
    b = sigma**2 / (mu - 1)

    def cdf(x, shape):
        return stats.gamma.cdf(x, shape, scale=b)

    res = k * cdf(k, a) + (k - 2) * cdf(k - 2, a) - 2 * (k - 1) * cdf(k - 1, a)
    res = res + a * b * (2 * cdf(k - 1, a + 1) - cdf(k - 2, a + 1) - cdf(k, a + 1))
    return np.maximum(res, 0.0)


def check_si_distr(w) -> np.ndarray:
    """Validate a given serial interval distribution (EpiEstim's check_si_distr with sumToOne = "error")."""
    w = np.asarray(w, dtype=float)
    if w.ndim != 1 or w.size < 2:
        raise RtInputError("the serial interval distribution needs at least two values (w[0] = 0, w[1], ...)")
    if not np.all(np.isfinite(w)):
        raise RtInputError("the serial interval distribution has a missing or infinite value")
    if w[0] != 0:
        raise RtInputError(f"the serial interval distribution must have w[0] = 0 (got {w[0]:g})")
    bad = np.flatnonzero(w < 0)
    if bad.size:
        raise RtInputError(
            f"the serial interval distribution has a negative value: w[{bad[0]}] = {w[bad[0]]:g}"
        )
    total = float(w.sum())
    if abs(total - 1) > SI_SUM_TOLERANCE:
        raise RtInputError(
            f"the serial interval distribution must sum to 1 (within {SI_SUM_TOLERANCE}); it sums to {total:.6g}"
        )
    return w


def min_cases_for_cv(cv_posterior: float, mean_prior: float, std_prior: float) -> int:
    """EpiEstim's min_nb_cases_per_time_period: cases needed for a posterior CV of `cv_posterior`."""
    a_prior = (mean_prior / std_prior) ** 2
    return int(math.ceil(1 / cv_posterior**2 - a_prior))


def _as_matrix(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise RtInputError(f"{name} must be a vector or a regions × days matrix")
    if not np.all(np.isfinite(arr)):
        raise RtInputError(f"{name} has a missing or infinite count")
    if np.any(arr < 0):
        region, day = (int(i) for i in np.argwhere(arr < 0)[0])
        raise RtInputError(f"{name} has a negative count (region {region}, day {day + 1})")
    return arr


def estimate_rt_many(
    local,
    imported=None,
    *,
    si_mean: float | None = None,
    si_sd: float | None = None,
    si_distr=None,
    window: int = DEFAULT_WINDOW,
    mean_prior: float = DEFAULT_MEAN_PRIOR,
    std_prior: float = DEFAULT_STD_PRIOR,
    cv_posterior: float = DEFAULT_CV_POSTERIOR,
    t_start=None,
    t_end=None,
) -> RtResult:
    """Rt on sliding windows for every region at once: `local` (and `imported`) are regions × days.

    Give either `si_distr` (non-parametric) or `si_mean`/`si_sd` (parametric; default 4.7/2.9 days).
    `t_start`/`t_end` (1-based, inclusive) override the default sliding windows of `window` days.
    """
    if si_distr is not None and (si_mean is not None or si_sd is not None):
        raise RtInputError("give either a serial interval distribution or its mean and sd, not both")
    if mean_prior <= 0 or std_prior <= 0:
        raise RtInputError("the prior's mean and standard deviation must be > 0")
    if cv_posterior <= 0:
        raise RtInputError("cv_posterior must be > 0")
    local = _as_matrix(local, "local incidence")
    if imported is None:
        imported = np.zeros_like(local)
    else:
        imported = _as_matrix(imported, "imported incidence")
        if imported.shape != local.shape:
            raise RtInputError(
                f"local and imported incidence differ in shape: {local.shape} and {imported.shape}"
            )
        imported = imported.copy()
    local = local.copy()
    n_days = local.shape[1]

    # EpiEstim: all cases of the first time step are imported.
    imported[:, 0] += local[:, 0]
    local[:, 0] = 0
    total = local + imported

    if t_start is None and t_end is None:
        if int(window) != window or window < 1:
            raise RtInputError(f"the window must be a whole number of days >= 1 (got {window})")
        window = int(window)
        if n_days < window + 1:
            raise RtInputError(
                f"{n_days} days of incidence are too few for a {window}-day window: need at least {window + 1}"
            )
        t_start = np.arange(2, n_days - window + 2)
        t_end = t_start + window - 1
    else:
        if t_start is None or t_end is None:
            raise RtInputError("give both t_start and t_end, or neither")
        t_start = np.asarray(t_start, dtype=int)
        t_end = np.asarray(t_end, dtype=int)
        if t_start.shape != t_end.shape or t_start.ndim != 1:
            raise RtInputError("t_start and t_end must be vectors of the same length")
        if np.any(t_start > t_end):
            raise RtInputError("t_start must be <= t_end for every window")
        if np.any((t_start < 2) | (t_start > n_days) | (t_end < 2) | (t_end > n_days)):
            raise RtInputError(f"t_start and t_end must be between 2 and the number of days ({n_days})")

    if si_distr is None:
        w = discr_si(
            np.arange(n_days),
            DEFAULT_SI_MEAN if si_mean is None else si_mean,
            DEFAULT_SI_SD if si_sd is None else si_sd,
        )
    else:
        w = check_si_distr(si_distr).copy()
    if w.size < n_days + 1:
        w = np.concatenate([w, np.zeros(n_days + 1 - w.size)])
    k = np.arange(w.size)
    final_mean_si = float(np.sum(w * k))
    final_sd_si = float(np.sqrt(max(np.sum(w * k**2) - final_mean_si**2, 0.0)))

    # Lambda_t = sum_{s>=1} w_s I_{t-s}: one matrix product with the (upper-triangular) Toeplitz matrix
    # W[u, t] = w[t - u] for t > u, so that (I @ W)[:, t] = sum_u I[:, u] w[t - u].
    ws = w[:n_days]
    idx = np.arange(n_days)
    lag = idx[None, :] - idx[:, None]
    toeplitz = np.where(lag >= 1, ws[np.clip(lag, 0, n_days - 1)], 0.0)
    lam = total @ toeplitz

    # Window sums by cumulative sums (0 prepended so that sum over [s, e] 1-based = c[e] - c[s-1]).
    def window_sums(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
        return c[:, t_end] - c[:, t_start - 1]

    keep = t_end > final_mean_si  # EpiEstim leaves these windows NA and drops them
    t_start, t_end = t_start[keep], t_end[keep]

    a_prior = (mean_prior / std_prior) ** 2
    b_prior = std_prior**2 / mean_prior
    shape = a_prior + window_sums(local)
    scale = 1.0 / (1.0 / b_prior + window_sums(lam))
    cases = window_sums(total)
    min_cases = min_cases_for_cv(cv_posterior, mean_prior, std_prior)
    return RtResult(
        t_start=t_start,
        t_end=t_end,
        mean=shape * scale,
        std=np.sqrt(shape) * scale,
        lower=special.gammaincinv(shape, 0.025) * scale,
        upper=special.gammaincinv(shape, 0.975) * scale,
        cases=cases,
        reliable=cases >= min_cases,
        min_cases=min_cases,
        si_distr=w,
        si_mean=final_mean_si,
        si_sd=final_sd_si,
    )


# The fields of RtResult with one row per region in `estimate_rt_many`.
PER_REGION = ("mean", "std", "lower", "upper", "cases", "reliable")


def estimate_rt(local, imported=None, **options) -> RtResult:
    """Rt for one incidence series (1-D `local`, optional 1-D `imported`). The keyword options (serial interval,
    window, prior, `t_start`/`t_end`) are those of `estimate_rt_many`, with the same defaults."""
    local = np.asarray(local, dtype=float)
    if local.ndim != 1:
        raise RtInputError("estimate_rt takes one series; use estimate_rt_many for a matrix")
    res = estimate_rt_many(
        local, None if imported is None else np.asarray(imported, dtype=float).reshape(1, -1), **options
    )
    return dataclasses.replace(res, **{name: getattr(res, name)[0] for name in PER_REGION})
