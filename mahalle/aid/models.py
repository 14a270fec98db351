"""Aid: programs and their cycles, entitlements (frozen once approved), stock (warehouses, items, a ledger),
deliveries with proof, equipment loans and cash payment instructions."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mahalle.core.models import JurisdictionalRecord, JurisdictionQuerySet, TimeStamped


class AidKind(models.TextChoices):
    IN_KIND = "in_kind", _("in-kind item")
    CASH = "cash", _("cash")
    LOAN = "loan", _("equipment loan")
    SERVICE = "service", _("service")


class Cadence(models.TextChoices):
    ONCE = "once", _("one-off")
    WEEKLY = "weekly", _("weekly")
    MONTHLY = "monthly", _("monthly")


class Item(TimeStamped):
    """A kind of thing in stock: a livelihood package, a mask box, an oxygen concentrator."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=32, default="unit")
    indivisible = models.BooleanField(default=True, help_text="counted in whole units only")
    perishable = models.BooleanField(default=False, help_text="lots carry an expiry date")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Program(TimeStamped):
    """A kind of aid given by rule to households, in cycles. `rule` is data (see aid.rules)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=AidKind.choices)
    # What counts as "the same aid" across agencies (double-dipping check), e.g. "livelihood_package".
    category = models.SlugField(max_length=64)
    agency = models.ForeignKey("needs.Agency", on_delete=models.PROTECT, related_name="programs")
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=64, db_index=True, editable=False)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.PROTECT, related_name="programs")
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=1, help_text="per household")
    amount = models.DecimalField(
        max_digits=14, decimal_places=0, default=0, help_text="cash per cycle (rial)"
    )
    rule = models.JSONField(default=dict)
    cadence = models.CharField(max_length=8, choices=Cadence.choices, default=Cadence.ONCE)
    cycles = models.PositiveSmallIntegerField(default=1)
    start_date = models.DateField()

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "name"]

    def __str__(self) -> str:
        return self.name


class Cycle(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("not yet computed")
        RUNNING = "running", _("computing")
        COMPUTED = "computed", _("computed, awaiting approval")
        APPROVED = "approved", _("approved (frozen)")
        FAILED = "failed", _("failed")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="cycle_set")
    number = models.PositiveSmallIntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    households_total = models.PositiveIntegerField(default=0, help_text="households to examine")
    households_done = models.PositiveIntegerField(default=0)
    entitled = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["program", "number"]
        constraints = [models.UniqueConstraint(fields=["program", "number"], name="aid_cycle_unique")]

    def __str__(self) -> str:
        return f"{self.program} #{self.number}"


class Flag(models.TextChoices):
    NONE = "", _("no flag")
    OTHER_PROGRAM = "other_program", _("served by another program of the same kind")
    AGENCY_SUPPORT = "agency_support", _("listed as supported by an agency")


class Decision(models.TextChoices):
    NONE = "", _("undecided")
    KEEP = "keep", _("keep")
    DROP = "drop", _("drop")


class Entitlement(TimeStamped):
    """One household's share of one cycle. Copies what deliveries and payments need, so later registry edits
    never change an approved cycle."""

    id = models.BigAutoField(primary_key=True)
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="entitlements")
    household = models.ForeignKey("registry.Household", on_delete=models.PROTECT, related_name="entitlements")
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+", db_index=False)
    org_path = models.CharField(max_length=64, db_index=True)
    head_name = models.CharField(max_length=200, blank=True)
    head_national_code = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=0, default=0)
    reasons = models.JSONField(default=list)
    flag = models.CharField(max_length=16, choices=Flag.choices, blank=True, default="")
    flag_detail = models.CharField(max_length=300, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["org_path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "household"], name="aid_entitlement_unique"),
        ]
        indexes = [models.Index(fields=["household", "cycle"], name="aid_entitlement_household")]

    def __str__(self) -> str:
        return f"{self.cycle_id}: {self.household_id}"

    @property
    def dropped(self) -> bool:
        return self.decision == Decision.DROP


class Warehouse(TimeStamped):
    """A store of aid at a national, province, county or post level (the level of its org unit)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=64, db_index=True, editable=False)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["org_path", "code"]

    def __str__(self) -> str:
        return self.name


class StockLevel(models.Model):
    """What a warehouse holds of one lot of one item. Changed only with F() under a row lock."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="levels")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="levels")
    lot = models.CharField(max_length=40, blank=True, default="")
    expiry = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, default=0)

    class Meta:
        ordering = ["warehouse", "item", "expiry", "lot"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "item", "lot"], name="aid_stock_level_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="aid_stock_never_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse_id}/{self.item_id}/{self.lot}: {self.quantity}"


class StockMove(models.Model):
    """One line of the stock ledger; `quantity` is signed (+ in, − out). Sum per level = the level."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("receipt")
        TRANSFER_OUT = "transfer_out", _("transfer out")
        TRANSFER_IN = "transfer_in", _("transfer in")
        ISSUE = "issue", _("issue (delivery)")
        LOSS = "loss", _("loss")
        ADJUST = "adjust", _("adjustment")

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="moves")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="moves")
    lot = models.CharField(max_length=40, blank=True, default="")
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    reference = models.CharField(
        max_length=64, blank=True, help_text="transfer, delivery or receipt reference"
    )
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["warehouse", "item", "kind", "at"], name="aid_move_wh_item")]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.item_id}@{self.warehouse_id}"


class TransferOrder(TimeStamped):
    """An approved move of stock (or of available equipment units) between warehouses, e.g. from an allocation
    proposal; executing it writes the ledger (or moves the units)."""

    class Status(models.TextChoices):
        ORDERED = "ordered", _("ordered")
        DONE = "done", _("done")

    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="orders_out")
    target = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="orders_in")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ORDERED)
    reason = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} {self.item_id}: {self.source_id} → {self.target_id}"


class Proof(models.TextChoices):
    CODE = "code", _("one-time code sent to the household")
    SIGNATURE = "signature", _("signature or photo")
    SUPERVISOR = "supervisor", _("supervisor's confirmation")


class Delivery(TimeStamped):
    """The one delivery of an entitlement. Its id is the phone's UUID: re-sending is a no-op."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.OneToOneField(Entitlement, on_delete=models.PROTECT, related_name="delivery")
    org_unit = models.ForeignKey("geo.OrgUnit", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=64, db_index=True)
    warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    proof = models.CharField(max_length=12, choices=Proof.choices)
    proof_file = models.FileField(upload_to="aid/proofs/%Y/%m/", blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    delivered_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["-delivered_at"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.entitlement_id}"


class DeliveryCode(models.Model):
    """A one-time code sent to the household's mobile; only its hash is kept."""

    entitlement = models.ForeignKey(Entitlement, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    sent_to = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"code for {self.entitlement_id}"


class EquipmentUnit(TimeStamped):
    """One serial-numbered piece of equipment (an oxygen concentrator)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        LENT = "lent", _("lent")
        CLEANING = "cleaning", _("returned, to be cleaned")
        RETIRED = "retired", _("retired")

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="units")
    serial = models.CharField(max_length=64, unique=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="units")
    org_path = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AVAILABLE)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["serial"]

    def __str__(self) -> str:
        return self.serial


class Loan(JurisdictionalRecord):
    """A unit lent to a patient at home, until it comes back."""

    unit = models.ForeignKey(EquipmentUnit, on_delete=models.PROTECT, related_name="loans")
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="aid_loans")
    lent_on = models.DateField()
    due_on = models.DateField()
    returned_on = models.DateField(null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["due_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"], condition=models.Q(returned_on=None), name="aid_one_open_loan_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} → {self.person_id}"


class PaymentInstruction(models.Model):
    """One cash payment the paying agency is asked to make; its reference is how results come back."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        PAID = "paid", _("paid")
        FAILED = "failed", _("failed")

    entitlement = models.OneToOneField(Entitlement, on_delete=models.PROTECT, related_name="payment")
    reference = models.CharField(max_length=40, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    paid_on = models.DateField(null=True, blank=True)
    result_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["reference"]

    def __str__(self) -> str:
        return self.reference
