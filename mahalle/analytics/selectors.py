"""Reads of the analytics area, scoped to the acting user.

Rt is aggregate (no person in it), so it is not scoped by `personal_data_paths` (which gives the analyst
nothing). The rule, decided here and nowhere else:
- the roles that see Rt: county, province and national coordinators, analysts and administrators (capability Can.READ_REPORTS);
  others get 403;
- an analyst sees every province and county (aggregate statistics are the analyst's work);
- everyone else sees the provinces and counties inside their own units, and the ones their units lie in (a
  county coordinator sees their county and its province: the region around them, not its neighbours);
- a unit outside that is answered as not found (404), like a unit that does not exist.
"""

from django.db.models import Q, QuerySet

from mahalle.accounts.capabilities import Can, may
from mahalle.accounts.models import Role
from mahalle.accounts.selectors import user_jurisdiction_units
from mahalle.geo.models import PATH_SEPARATOR, Level, OrgUnit

from .models import RtEstimate

RT_LEVELS = (Level.PROVINCE, Level.COUNTY)


def can_see_rt(*, user) -> bool:
    return may(user, Can.READ_REPORTS)


def ancestor_paths(path: str) -> list[str]:
    parts = path.split(PATH_SEPARATOR)[:-1]
    return [PATH_SEPARATOR.join(parts[:i]) + PATH_SEPARATOR for i in range(1, len(parts))]


def rt_units_visible(*, user) -> QuerySet[OrgUnit]:
    """The provinces and counties whose Rt this user may see (see the module docstring)."""
    units = OrgUnit.objects.filter(level__in=RT_LEVELS)
    if not can_see_rt(user=user):
        return units.none()
    if user.role == Role.ANALYST:
        return units
    own = user_jurisdiction_units(user=user)
    if not own:
        return units.none()
    query = Q(path__in={p for unit in own for p in ancestor_paths(unit.path)})
    for unit in own:
        query |= Q(path__startswith=unit.path)
    return units.filter(query)


def org_unit_by_key(key: str) -> OrgUnit | None:
    """An org unit by its code, or else by its numeric id."""
    key = (key or "").strip()
    found = OrgUnit.objects.filter(code=key).first()
    if found is None and key.isdigit():
        found = OrgUnit.objects.filter(pk=int(key)).first()
    return found


def rt_series(*, unit: OrgUnit) -> QuerySet[RtEstimate]:
    """Every stored window of one unit, oldest first (the caller has checked visibility)."""
    return RtEstimate.objects.filter(org_unit=unit).order_by("date_end")
