"""Writes of the analytics area: the Rt roll-up per province and county.

Rt is derived data (recomputed from the cases, never edited), so its refresh writes no audit event; the
cases it counts are audited where they are written.
"""

import datetime as dt

import numpy as np
from django.db.models import Count, DateField
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from mahalle.cases.models import Case, Classification
from mahalle.core.service import service
from mahalle.geo.models import OrgUnit

from .epi.rt import estimate_rt_many
from .models import RtEstimate
from .rules import rt_settings
from .selectors import RT_LEVELS, ancestor_paths

BULK_BATCH = 2000


def _target_units(org_unit_ids) -> list[OrgUnit]:
    units = OrgUnit.objects.filter(level__in=RT_LEVELS)
    if org_unit_ids is None:
        return list(units.order_by("path"))
    given = list(OrgUnit.objects.filter(pk__in=list(org_unit_ids)).values_list("path", flat=True))
    paths = {p for path in given for p in [path, *ancestor_paths(path)]}
    return list(units.filter(path__in=paths).order_by("path"))


def _daily_counts(
    units: list[OrgUnit], start: dt.date, end: dt.date, date_rule: str, every_unit: bool
) -> np.ndarray:
    """Cases per unit (rows, in `units` order) and day (columns, start..end), discarded cases excluded."""
    n_days = (end - start).days + 1
    counts = np.zeros((len(units), n_days))
    index = {unit.path: i for i, unit in enumerate(units)}
    reported = TruncDate("created_at")
    day = Coalesce("onset_date", reported, output_field=DateField()) if date_rule == "onset" else reported
    cases = Case.objects.exclude(classification=Classification.DISCARDED)
    if not every_unit:
        cases = cases.within_any(unit.path for unit in units)
    cases = (
        cases.annotate(day=day)
        .filter(day__gte=start, day__lte=end)
        .values("org_path", "day")
        .annotate(n=Count("pk"))
    )
    for row in cases:
        column = (row["day"] - start).days
        for path in [row["org_path"], *ancestor_paths(row["org_path"])]:
            i = index.get(path)
            if i is not None:
                counts[i, column] += row["n"]
    return counts


@service(unaudited="derived data recomputed from the audited cases; no actor and no personal data")
def rt_refresh(*, org_unit_ids=None, today: dt.date | None = None) -> dict:
    """Recompute and store Rt for every province and county (or, given `org_unit_ids`, for the provinces
    and counties among those units and above them — pass a case's post to refresh its county and province).

    Cases are counted by onset date (else the day recorded) or by the day recorded, per MAHALLE_RT["DATE"];
    discarded cases are left out. The Case model has no "imported" flag, so every case is local (EpiEstim's
    rule still applies: nothing precedes a unit's first cases, so windows start the day after them).
    All units are estimated in one vectorised call. Idempotent: each unit's rows are replaced.
    """
    config = rt_settings()
    today = today or timezone.localdate()
    units = _target_units(org_unit_ids)
    window = int(config["WINDOW"])
    start = today - dt.timedelta(days=int(config["HISTORY_DAYS"]) - 1)
    start = min(start, today - dt.timedelta(days=window))  # at least window + 1 days
    counts = (
        _daily_counts(units, start, today, config["DATE"], org_unit_ids is None)
        if units
        else np.zeros((0, 0))
    )
    now = timezone.now()
    rows: list[RtEstimate] = []
    if units and counts.any():
        result = estimate_rt_many(counts, si_mean=config["SI_MEAN"], si_sd=config["SI_SD"], window=window)
        dates = [start + dt.timedelta(days=i) for i in range(counts.shape[1])]
        for i, unit in enumerate(units):
            nonzero = np.flatnonzero(counts[i])
            if nonzero.size == 0:
                continue
            first = int(nonzero[0])  # 0-based day of the unit's first case
            # as EpiEstim on the series starting at the first case: windows start after it, end after the mean SI
            valid = (result.t_start - 1 > first) & (result.t_end - first > result.si_mean)
            for j in np.flatnonzero(valid):
                rows.append(
                    RtEstimate(
                        org_unit=unit,
                        org_path=unit.path,
                        date_start=dates[int(result.t_start[j]) - 1],
                        date_end=dates[int(result.t_end[j]) - 1],
                        mean=float(result.mean[i, j]),
                        std=float(result.std[i, j]),
                        lower=float(result.lower[i, j]),
                        upper=float(result.upper[i, j]),
                        cases=int(result.cases[i, j]),
                        reliable=bool(result.reliable[i, j]),
                        computed_at=now,
                    )
                )
    RtEstimate.objects.filter(org_unit__in=[unit.pk for unit in units]).delete()
    RtEstimate.objects.bulk_create(rows, batch_size=BULK_BATCH)
    return {
        "units": len(units),
        "estimates": len(rows),
        "first_day": start.isoformat(),
        "last_day": today.isoformat(),
    }
