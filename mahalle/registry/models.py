import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mahalle.core.dates import PRECISION_DAY, PRECISION_YEAR, age_on
from mahalle.core.ingest import JobStatus
from mahalle.core.models import JurisdictionalRecord


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class Relation(models.TextChoices):
    HEAD = "head", _("head of household")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")
    SIBLING = "sibling", _("sibling")
    GRANDCHILD = "grandchild", _("grandchild")
    OTHER = "other", _("other relative")


class Household(JurisdictionalRecord):
    # Natural keys are NULL (not "") when absent, so records without one never collide on the unique constraint.
    external_id = models.CharField(  # noqa: DJ001
        max_length=64,
        null=True,
        blank=True,
        help_text="natural key from an import or a partner system",
    )
    address = models.CharField(max_length=500, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    female_headed = models.BooleanField(default=False)
    lost_income = models.BooleanField(default=False, help_text="lost income in the epidemic")

    class Meta:
        ordering = ["org_path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="registry_household_external_id_unique"),
        ]
        indexes = [models.Index(fields=["phone"], name="registry_household_phone")]

    def __str__(self) -> str:
        return self.address or str(self.id)


class Person(JurisdictionalRecord):
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation_to_head = models.CharField(max_length=16, choices=Relation.choices, blank=True)
    national_code = models.CharField(max_length=10, null=True, blank=True)  # noqa: DJ001  (NULL: see Household)
    external_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    father_name = models.CharField(max_length=100, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    birth_date_precision = models.CharField(
        max_length=4,
        choices=[(PRECISION_DAY, PRECISION_DAY), (PRECISION_YEAR, PRECISION_YEAR)],
        default=PRECISION_DAY,
    )
    mobile = models.CharField(max_length=11, blank=True)
    chronic_disease = models.BooleanField(default=False)
    disability = models.BooleanField(default=False)
    pregnant = models.BooleanField(default=False)
    # Search keys: normalised names without spaces/ZWNJ (core.persian.search_key), set by the services.
    name_key = models.CharField(max_length=200, editable=False, default="")
    last_name_key = models.CharField(max_length=100, editable=False, default="")

    class Meta:
        ordering = ["last_name", "first_name"]
        # Only the indexes queries use: every index costs each of the millions of imported rows. Equality
        # lookups get a plain b-tree; name keys are searched by prefix only, so on PostgreSQL they get a
        # varchar_pattern_ops index alone (SQLite ignores opclasses and builds the plain index its range needs).
        constraints = [
            models.UniqueConstraint(fields=["national_code"], name="registry_person_national_code_unique"),
            models.UniqueConstraint(fields=["external_id"], name="registry_person_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["mobile"], name="registry_person_mobile"),
            models.Index(
                fields=["name_key"], name="registry_person_name_key", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["last_name_key"], name="registry_person_last_key", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def age(self, on: dt.date | None = None) -> int | None:
        return age_on(self.birth_date, on or dt.date.today())

    @property
    def over_60(self) -> bool:
        age = self.age()
        return age is not None and age >= 60

    def vulnerability_flags(self) -> list[str]:
        flags = [name for name in ("chronic_disease", "disability", "pregnant") if getattr(self, name)]
        if self.over_60:
            flags.insert(0, "over_60")
        return flags


class ImportJob(models.Model):
    """One bulk import of households or persons: its file, progress, and where to resume."""

    class Kind(models.TextChoices):
        HOUSEHOLDS = "households", _("households")
        PERSONS = "persons", _("persons")

    Status = JobStatus  # the file-ingest job's states (core.ingest)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=1000)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    org_unit = models.ForeignKey(
        "geo.OrgUnit",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the scope: every row must fall inside it",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0, help_text="rows committed; resume starts after them")
    rows_created = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    encoding = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} import {self.file_name} ({self.status})"


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text="line in the file, the header being line 1")
    field = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500)
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["row_number", "id"]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.field} {self.message}"
