"""Reads of the org-unit tree. The tree itself is not personal data; it is visible to every signed-in user."""

from .models import Level, OrgUnit


def org_unit_subtree(*, unit: OrgUnit):
    return OrgUnit.objects.within(unit)


def org_unit_ancestors(*, unit: OrgUnit):
    """The unit's ancestors from the root down, read from its path in one query."""
    codes = unit.path.rstrip(".").split(".")[:-1]
    return OrgUnit.objects.filter(code__in=codes).order_by("level")


def org_unit_children(*, unit: OrgUnit | None):
    if unit is None:
        return OrgUnit.objects.filter(level=Level.COUNTRY)
    return OrgUnit.objects.filter(parent=unit).order_by("code")


def posts_within(*, unit: OrgUnit):
    return OrgUnit.objects.within(unit).filter(level=Level.POST)
