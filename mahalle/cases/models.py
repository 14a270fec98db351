import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mahalle.core.models import JurisdictionalRecord, JurisdictionQuerySet, TimeStamped


class TestKind(models.TextChoices):
    PCR = "pcr", _("PCR")
    ANTIGEN = "antigen", _("rapid antigen")


class TestResult(models.TextChoices):
    POSITIVE = "positive", _("positive")
    NEGATIVE = "negative", _("negative")
    INCONCLUSIVE = "inconclusive", _("inconclusive")


class TestOrder(JurisdictionalRecord):
    """A referral for testing. The lab's sample id is the key results arrive by."""

    __test__ = False  # not a pytest test class, despite its name

    class Status(models.TextChoices):
        ORDERED = "ordered", _("referred, not yet sampled")
        SAMPLED = "sampled", _("sampled")
        RESULTED = "resulted", _("resulted")
        CANCELLED = "cancelled", _("cancelled")

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="test_orders")
    member_screening = models.OneToOneField(
        "screening.MemberScreening",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="test_order",
    )
    urgent = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ORDERED)
    kind = models.CharField(max_length=16, choices=TestKind.choices, blank=True)
    sample_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    sampled_on = models.DateField(null=True, blank=True)
    lab = models.CharField(max_length=200, blank=True)
    result = models.CharField(max_length=16, choices=TestResult.choices, blank=True)
    result_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "org_path"])]

    def __str__(self) -> str:
        return f"test {self.person_id} {self.status}"


class Classification(models.TextChoices):
    SUSPECTED = "suspected", _("suspected")
    PROBABLE = "probable", _("probable")
    CONFIRMED = "confirmed", _("confirmed")
    DISCARDED = "discarded", _("discarded")


class Outcome(models.TextChoices):
    NONE = "", _("ongoing")
    RECOVERED = "recovered", _("recovered")
    DIED = "died", _("died")


class Case(JurisdictionalRecord):
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="cases")
    classification = models.CharField(max_length=16, choices=Classification.choices)
    onset_date = models.DateField(null=True, blank=True)
    epi_link = models.BooleanField(default=False, help_text="known contact with a confirmed case")
    hospitalised = models.BooleanField(default=False)
    hospitalised_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    outcome_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=~models.Q(classification="discarded") & models.Q(outcome=""),
                name="one_open_case_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.person_id} {self.classification}"


class CaseChange(models.Model):
    """Every change of a case's classification or outcome: who, when, from what, to what, why."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=32)
    old_value = models.CharField(max_length=32, blank=True)
    new_value = models.CharField(max_length=32)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.field}: {self.old_value} → {self.new_value}"


class QuarantinePlace(TimeStamped):
    """A designated facility with a fixed number of places; `occupied` changes only under a row lock."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(max_length=200)
    capacity = models.PositiveIntegerField()
    occupied = models.PositiveIntegerField(default=0)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(occupied__lte=models.F("capacity")),
                name="quarantine_place_not_over_capacity",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def free(self) -> int:
        return max(self.capacity - self.occupied, 0)


class Isolation(JurisdictionalRecord):
    class Setting(models.TextChoices):
        HOME = "home", _("at home")
        FACILITY = "facility", _("quarantine place")

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="isolations")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="isolations")
    setting = models.CharField(max_length=16, choices=Setting.choices)
    place = models.ForeignKey(
        QuarantinePlace, null=True, blank=True, on_delete=models.PROTECT, related_name="isolations"
    )
    start_date = models.DateField()
    onset_date = models.DateField(null=True, blank=True)
    last_symptom_date = models.DateField(null=True, blank=True)
    planned_end_date = models.DateField()
    released_on = models.DateField(null=True, blank=True)
    release_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(released_on=None),
                name="one_active_isolation_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"isolation {self.person_id} {self.start_date}"


class FollowUp(JurisdictionalRecord):
    """The daily call or visit to an isolated person. One a day; the phone's UUID makes re-sending a no-op."""

    class Method(models.TextChoices):
        CALL = "call", _("phone call")
        VISIT = "visit", _("visit")

    isolation = models.ForeignKey(Isolation, on_delete=models.PROTECT, related_name="follow_ups")
    date = models.DateField()
    method = models.CharField(max_length=8, choices=Method.choices)
    reached = models.BooleanField(default=True)
    symptoms = models.JSONField(default=list, blank=True)
    spo2 = models.PositiveSmallIntegerField(null=True, blank=True)
    needs = models.JSONField(default=list, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["isolation", "date"], name="one_follow_up_a_day")]

    def __str__(self) -> str:
        return f"follow-up {self.isolation_id} {self.date}"


class Alert(JurisdictionalRecord):
    class Kind(models.TextChoices):
        DETERIORATION = "deterioration", _("deterioration")
        MISSED_FOLLOW_UP = "missed_follow_up", _("missed follow-up")
        URGENT_REFERRAL = "urgent_referral", _("urgent referral")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="alerts")
    isolation = models.ForeignKey(
        Isolation, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    message = models.CharField(max_length=500)
    day = models.DateField(null=True, blank=True, help_text="the day an isolation's alert is about")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["resolved_at", "-created_at"]
        constraints = [
            # A task run twice, or a follow-up re-sent, never raises the same alert twice.
            models.UniqueConstraint(
                fields=["kind", "isolation", "day"],
                condition=models.Q(day__isnull=False),
                name="one_alert_per_isolation_kind_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.person_id}"
