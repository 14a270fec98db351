"""Shapes of the org-unit API. The tree is not personal data."""

from ninja import Schema


class OrgUnitOut(Schema):
    code: str
    level: int
    name_fa: str
    name_en: str
    path: str
    parent: str | None = None
    population: int

    @staticmethod
    def resolve_parent(unit) -> str | None:
        # The parent's code is the second-to-last segment of the path: no query per unit.
        codes = unit.path.rstrip(".").split(".")
        return codes[-2] if len(codes) > 1 else None


class OrgUnitDetailOut(OrgUnitOut):
    ancestors: list[OrgUnitOut]
