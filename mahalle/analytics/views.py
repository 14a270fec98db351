"""Pages of the analytics area (thin: parse, call a selector or service, render)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils.safestring import mark_safe

from mahalle.core.pages import Pages
from mahalle.geo.models import Level

from . import selectors
from .charts import rt_svg
from .models import RtEstimate
from .rules import rt_settings

pages = Pages("analytics")
CHART_WINDOWS = 120  # the last four months of windows on screen; the API gives the whole series


def _panels(units) -> list[dict]:
    """One chart per unit from the last CHART_WINDOWS estimates of each (one query for all units)."""
    if not units:
        return []
    by_unit: dict[int, list] = {unit.pk: [] for unit in units}
    for row in RtEstimate.objects.filter(org_unit__in=list(by_unit)).order_by("org_unit_id", "date_end"):
        by_unit[row.org_unit_id].append(row)
    panels = []
    for unit in units:
        series = by_unit[unit.pk][-CHART_WINDOWS:]
        latest = series[-1] if series else None
        panels.append(
            {
                "unit": unit,
                "latest": latest,
                "first": series[0] if series else None,
                # numbers and an escaped label only
                "svg": mark_safe(rt_svg(series, label=unit.name_en or unit.code)),  # noqa: S308
            }
        )
    return panels


@pages.get("", name="index")
@login_required
def index(request):
    """Rt per province (and the counties of one province) with its 95% interval, for coordinators and analysts."""
    user = request.user
    if not selectors.can_see_rt(user=user):
        raise PermissionDenied
    visible = selectors.rt_units_visible(user=user)
    provinces = list(visible.filter(level=Level.PROVINCE).order_by("path"))
    chosen = None
    code = request.GET.get("province")
    if code:
        chosen = next((p for p in provinces if p.code == code), None)
        if chosen is None:
            raise Http404("province not found")
    elif len(provinces) == 1:
        chosen = provinces[0]
    counties = (
        list(visible.filter(level=Level.COUNTY, path__startswith=chosen.path).order_by("path"))
        if chosen
        else []
    )
    config = rt_settings()
    return render(
        request,
        "analytics/index.html",
        {
            "province_panels": _panels(provinces),
            "chosen": chosen,
            "county_panels": _panels(counties),
            "config": config,
        },
    )
