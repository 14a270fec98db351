"""The analytics part of the JSON API (thin: parse, call a selector or service, answer).

Rt is aggregate data: the analyst may read it (everywhere); coordinators and administrators read it for the
provinces and counties in and above their units (see analytics.selectors). Other roles: 403; a unit outside
the caller's scope, or unknown: 404.
"""

from ninja import Query, Router, Schema

from mahalle.core.errors import NotFound, PermissionDenied

from . import selectors
from .rules import rt_settings
from .schemas import RtSeriesOut

router = Router(tags=["analytics"])


class RtQuery(Schema):
    org_unit: str


@router.get("/rt", response=RtSeriesOut, summary="Rt of a province or county over time (Cori et al. 2013)")
def rt_series(request, query: Query[RtQuery]):
    """The stored sliding-window estimates of one org unit (`org_unit` = its code, or else its numeric id),
    oldest first: posterior mean, sd, 2.5% and 97.5% quantiles, cases in the window and whether they are
    enough for a reliable estimate (posterior CV ≤ 0.3). Computed by a background task, not on request."""
    user = request.user
    if not selectors.can_see_rt(user=user):
        raise PermissionDenied("your role does not give access to Rt estimates")
    unit = selectors.org_unit_by_key(query.org_unit)
    if unit is None or not selectors.rt_units_visible(user=user).filter(pk=unit.pk).exists():
        raise NotFound("org unit not found (or Rt is not kept for it)")
    estimates = list(selectors.rt_series(unit=unit))
    config = rt_settings()
    return {
        "org_unit": unit,
        "computed_at": estimates[-1].computed_at if estimates else None,
        "method": {
            "name": "Cori et al. 2013 (EpiEstim parametric_si)",
            "si_mean": config["SI_MEAN"],
            "si_sd": config["SI_SD"],
            "window": config["WINDOW"],
            "date": config["DATE"],
            "prior_mean": 5,
            "prior_sd": 5,
        },
        "estimates": estimates,
    }
