"""Org-unit tree API: any signed-in user may browse it (it is not personal data)."""

from django.shortcuts import get_object_or_404
from ninja import Router

from mahalle.core.schemas import Code

from . import selectors
from .models import OrgUnit
from .schemas import OrgUnitDetailOut, OrgUnitOut

router = Router(tags=["geo"])


@router.get("/", response=list[OrgUnitOut], summary="Children of an org unit (the root without `parent`)")
def org_unit_list(request, parent: Code = ""):
    unit = get_object_or_404(OrgUnit, code=parent.strip()) if parent else None
    return selectors.org_unit_children(unit=unit)


@router.get(
    "/{code}", response=OrgUnitDetailOut, summary="One org unit with its ancestors from the root down"
)
def org_unit_get(request, code: Code):
    unit = get_object_or_404(OrgUnit, code=code)
    unit.ancestors = list(selectors.org_unit_ancestors(unit=unit))
    return unit
