from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    COUNTRY = 0, _("country")
    PROVINCE = 1, _("province")
    COUNTY = 2, _("county")
    DISTRICT = 3, _("district")
    NEIGHBORHOOD = 4, _("neighborhood")
    POST = 5, _("health post")


PATH_SEPARATOR = "."


class OrgUnitQuerySet(models.QuerySet):
    def within(self, unit: "OrgUnit") -> "OrgUnitQuerySet":
        """The unit and everything under it: one indexed prefix range on `path`, never a tree walk."""
        return self.filter(path__prefix=unit.path)


class OrgUnit(models.Model):
    """One node of country → province → county → district → neighborhood → health post.

    `path` is the materialized path: the codes from the root down, each followed by ".", e.g.
    "IR.07.0701.0701-03.0701-03-012.0701-03-012-02.". A subtree is every path with that prefix.
    """

    code = models.CharField(max_length=40, unique=True)
    level = models.PositiveSmallIntegerField(choices=Level.choices, db_index=True)
    name_fa = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, unique=True, editable=False)
    population = models.PositiveIntegerField(default=0)

    objects = OrgUnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(code__contains=PATH_SEPARATOR), name="orgunit_code_no_dot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_fa} ({self.get_level_display()})"

    def name(self, language: str = "fa") -> str:
        return self.name_en if language == "en" and self.name_en else self.name_fa

    def is_within(self, other: "OrgUnit") -> bool:
        return self.path.startswith(other.path)

    @staticmethod
    def build_path(parent: "OrgUnit | None", code: str) -> str:
        return (parent.path if parent else "") + code + PATH_SEPARATOR
