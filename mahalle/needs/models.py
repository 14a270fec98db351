"""The one registry of need: partner agencies, the needs they and the posts report, who supports whom, and each
household's vulnerability score. Linkage (source records, clusters, review) is added beside these."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mahalle.core.models import JurisdictionalRecord, TimeStamped


class AgencyKind(models.TextChoices):
    RELIEF_COMMITTEE = "relief_committee", _("relief committee")
    FOUNDATION = "foundation", _("foundation")
    RED_CRESCENT = "red_crescent", _("Red Crescent")
    PRIVATE_DONOR = "private_donor", _("private donor")
    HEALTH_POST = "health_post", _("health post")
    GOVERNMENT = "government", _("government body")
    OTHER = "other", _("other")


class Agency(TimeStamped):
    """A partner organisation that lists households it supports or has found in need."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    # Where the agency works; its staff still see only their own users' jurisdiction.
    org_unit = models.ForeignKey("geo.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class AgencyMember(models.Model):
    """A user who works for an agency (partner staff, or a post's staff uploading for the post)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agency_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "user"], name="needs_agency_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.agency_id}"


class NeedKind(models.TextChoices):
    FOOD = "food", _("food")
    HYGIENE = "hygiene", _("hygiene")
    INCOME_LOSS = "income_loss", _("income loss")
    BREADWINNER_DIED = "breadwinner_died", _("breadwinner died")
    MEDICAL_EQUIPMENT = "medical_equipment", _("medical equipment")
    HOUSING = "housing", _("housing")
    OTHER = "other", _("other")


class NeedSource(models.TextChoices):
    AGENCY_LIST = "agency_list", _("agency list")
    SCREENING = "screening", _("screening visit")
    FOLLOW_UP = "follow_up", _("follow-up")
    CASES = "cases", _("cases (death recorded)")
    MANUAL = "manual", _("entered by staff")


class HouseholdNeed(JurisdictionalRecord):
    """One need of one household, as one source reported it. Open until `resolved_on`."""

    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="needs")
    kind = models.CharField(max_length=32, choices=NeedKind.choices)
    source = models.CharField(max_length=16, choices=NeedSource.choices)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="needs")
    noted_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # What reported it (a visit id, a source record id…), so the same report arriving twice is one need.
    source_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-noted_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "kind", "source", "source_ref"], name="needs_household_need_unique"
            ),
        ]
        indexes = [models.Index(fields=["household", "kind"], name="needs_need_household_kind")]


class Support(JurisdictionalRecord):
    """An agency supports a household with something (as listed by the agency or delivered by a program)."""

    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="supports")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="supports")
    kind = models.CharField(max_length=64, help_text="kind of support, e.g. livelihood package, cash")
    description = models.CharField(max_length=300, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    source_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["household", "agency"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "agency", "kind", "source_ref"], name="needs_support_unique"
            ),
        ]


class HouseholdVulnerability(models.Model):
    """A household's transparent vulnerability score, recomputed by needs.services when its inputs change.

    `reasons` lists each component as {"code", "label", "points"}; the score is their sum. Aid eligibility reads
    this table with one join, so a national program never recomputes scores."""

    household = models.OneToOneField(
        "registry.Household", primary_key=True, on_delete=models.CASCADE, related_name="vulnerability"
    )
    org_path = models.CharField(max_length=64, db_index=True, editable=False)
    score = models.PositiveSmallIntegerField(default=0, db_index=True)
    reasons = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.household_id}: {self.score}"
