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
    org_unit = models.ForeignKey(
        "geo.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class AgencyMember(models.Model):
    """A user who works for an agency (partner staff, or a post's staff uploading for the post)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agency_memberships"
    )

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


# --- agency lists, source records, linkage and review ------------------------------------------------------


class AgencyList(TimeStamped):
    """One upload of an agency's list (CSV/XLSX in the person-record format plus need_kind and support): its
    file, the progress of reading it into SourceRecords, and the state of its linkage to the registry."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class LinkStatus(models.TextChoices):
        NOT_LINKED = "not_linked", _("not linked yet")
        LINKING = "linking", _("linking")
        LINKED = "linked", _("linked")
        FAILED = "failed", _("linkage failed")

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="lists")
    org_unit = models.ForeignKey(
        "geo.OrgUnit",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the scope: every row falls inside it",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=1000)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    encoding = models.CharField(max_length=32, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(
        default=0, help_text="rows committed; a resumed run starts after them"
    )
    rows_created = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    link_status = models.CharField(max_length=16, choices=LinkStatus.choices, default=LinkStatus.NOT_LINKED)
    link_message = models.TextField(blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    link_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.agency_id}: {self.file_name} ({self.status})"


class AgencyListRowError(models.Model):
    """A problem with one row. `kept` rows were stored anyway (a bad mobile does not lose the person); the
    others were not, and their values as received are kept here in `raw`: nothing is thrown away."""

    agency_list = models.ForeignKey(AgencyList, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text="line in the file, the header being line 1")
    field = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500)
    value = models.CharField(max_length=200, blank=True)
    kept = models.BooleanField(default=False, help_text="the row was stored despite this problem")
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["row_number", "id"]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.field} {self.message}"


class LinkStatus(models.TextChoices):
    PENDING = "pending", _("not linked yet")
    AUTO = "auto", _("linked automatically")
    REVIEW = "review", _("pending review")
    REVIEWED = "reviewed", _("linked by a reviewer")
    NEW = "new", _("new registry person")
    UNPLACED = "unplaced", _("new, but no health post to register it in")


class SourceRecord(JurisdictionalRecord):
    """One row of an agency's list as received (`raw`) and cleaned, and the registry person it is linked to.

    The natural key is (agency, record_id): the same row uploaded again is the same record."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="source_records")
    agency_list = models.ForeignKey(AgencyList, on_delete=models.PROTECT, related_name="records")
    record_id = models.CharField(max_length=64)
    row_number = models.PositiveIntegerField(default=0)
    raw = models.JSONField(default=dict)
    national_code = models.CharField(max_length=16, blank=True)
    national_code_valid = models.BooleanField(default=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    father_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    birth_date_precision = models.CharField(max_length=4, default="day")
    sex = models.CharField(max_length=1, blank=True)
    mobile = models.CharField(max_length=16, blank=True)
    province = models.CharField(max_length=100, blank=True)
    county = models.CharField(max_length=100, blank=True)
    address = models.CharField(max_length=500, blank=True)
    household_ref = models.CharField(max_length=64, blank=True)
    need_kind = models.CharField(max_length=32, choices=NeedKind.choices, blank=True)
    support = models.CharField(max_length=64, blank=True)
    person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="source_records"
    )
    link_status = models.CharField(max_length=16, choices=LinkStatus.choices, default=LinkStatus.PENDING)
    match_probability = models.FloatField(null=True, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agency_list", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "record_id"], name="needs_source_record_natural_key"),
        ]
        indexes = [models.Index(fields=["agency_list", "link_status"], name="needs_source_list_status")]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.record_id}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ReviewPair(TimeStamped):
    """A source record and a registry person the linkage model is unsure about, for a reviewer to decide.

    `decision` is the reviewer's current word ('' while open); every decision and undo is also a
    ReviewDecision row. A later automatic run never changes a pair with a decision."""

    class Decision(models.TextChoices):
        OPEN = "", _("open")
        SAME = "same", _("same person")
        DIFFERENT = "different", _("different people")

    source_record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="review_pairs")
    person = models.ForeignKey("registry.Person", on_delete=models.CASCADE, related_name="review_pairs")
    org_path = models.CharField(max_length=64, db_index=True, editable=False, help_text="the source record's")
    match_probability = models.FloatField()
    evidence = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-match_probability", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source_record", "person"], name="needs_review_pair_unique"),
        ]
        indexes = [models.Index(fields=["decision", "org_path"], name="needs_review_open")]

    def __str__(self) -> str:
        return f"{self.source_record_id} ~ {self.person_id} ({self.match_probability:.3f})"


class ReviewDecision(models.Model):
    """The history of a pair: every decision and every undo, who, when and why. Never updated."""

    pair = models.ForeignKey(ReviewPair, on_delete=models.CASCADE, related_name="history")
    decision = models.CharField(max_length=16, help_text="same, different, or undo")
    previous = models.CharField(max_length=16, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.pair_id}: {self.decision}"


class LinkChange(models.Model):
    """Every change of the person a source record is linked to (link, review, merge, split): the history that
    makes merges and splits reversible."""

    source_record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="link_changes")
    from_person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, help_text="auto, new, reviewed, unlinked, merge, split")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.source_record_id}: {self.action}"
