"""Contact tracing: contacts of a case and their daily follow-up, events, who-infected-whom, and clusters.

The transmission graph: case → case (TransmissionLink, and a contact who became a case), case → contact
(Contact), event → person (EventAttendance). Clusters are its connected components. Each node row stores the
id of its cluster (`cluster_id`, indexed); a new edge between two clusters relabels the smaller one (union by
size), so reading a cluster is one indexed lookup per table, never a graph walk. `ChainCase` holds a case's
cluster (the cases app's table is not this app's to change); a case takes part once it has a contact, a link or
an event. A person is one node: every record of the same person is in the same cluster.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mahalle.core.models import JurisdictionalRecord


class Cluster(models.Model):
    """One connected component. Merged clusters keep their row with `merged_into` set (an old id still
    answers); rows are locked in id order while two clusters merge."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    merged_into = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.id)


class ChainCase(models.Model):
    """A case that takes part in the graph, with its cluster. org_path/person copied from the case."""

    case = models.OneToOneField("cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("registry.Person", on_delete=models.CASCADE, related_name="+")
    org_path = models.CharField(max_length=64, db_index=True)
    cluster_id = models.UUIDField(db_index=True)
    generation = models.PositiveIntegerField(default=0, help_text="links from the first case of its chain")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.case_id} in {self.cluster_id}"


class Setting(models.TextChoices):
    HOUSEHOLD = "household", _("household")
    WORKPLACE = "workplace", _("workplace")
    GATHERING = "gathering", _("gathering")
    HEALTH_CARE = "health_care", _("health care")
    TRAVEL = "travel", _("travel")
    OTHER = "other", _("other")


class Closeness(models.TextChoices):
    CLOSE = "close", _("close (face to face, same room)")
    CASUAL = "casual", _("casual")


class Contact(JurisdictionalRecord):
    """A person exposed to a case. It lives in the CONTACT's post (their post sees and follows them); an
    assigned tracer or tracing team elsewhere sees it too (see selectors.contacts_visible)."""

    class Source(models.TextChoices):
        HOUSEHOLD = "household", _("household member (listed automatically)")
        ADDED = "added", _("added by a tracer")
        EVENT = "event", _("event")

    class Status(models.TextChoices):
        LISTED = "listed", _("listed, to confirm")
        CONFIRMED = "confirmed", _("confirmed contact")
        REMOVED = "removed", _("removed from contacts")

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="contacts")
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="contacts")
    last_exposure = models.DateField()
    setting = models.CharField(max_length=16, choices=Setting.choices)
    closeness = models.CharField(max_length=8, choices=Closeness.choices, default=Closeness.CLOSE)
    source = models.CharField(max_length=12, choices=Source.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    follow_up_end = models.DateField()
    quarantine_start = models.DateField(null=True, blank=True)
    referred_on = models.DateField(null=True, blank=True)
    removed_reason = models.CharField(max_length=200, blank=True)
    event = models.ForeignKey("Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    became_case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="from_contacts"
    )
    assigned_tracer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tracing_team = models.ForeignKey(
        "geo.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tracing_team_path = models.CharField(max_length=64, blank=True, db_index=True)
    cluster_id = models.UUIDField(db_index=True)

    class Meta:
        ordering = ["follow_up_end", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="one_contact_per_case_person")]
        indexes = [
            models.Index(fields=["person"], name="tracing_contact_person"),
            models.Index(fields=["assigned_tracer", "status"], name="tracing_contact_tracer"),
        ]

    def __str__(self) -> str:
        return f"contact {self.person_id} of {self.case_id}"


class ContactFollowUp(JurisdictionalRecord):
    """The daily call to a contact. One a day; the phone's UUID (the pk) makes re-sending a no-op."""

    class Status(models.TextChoices):
        WELL = "well", _("no symptoms")
        SYMPTOMS = "symptoms", _("symptoms")
        UNREACHABLE = "unreachable", _("unreachable")

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="follow_ups")
    date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices)
    symptoms = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "date"], name="one_contact_follow_up_a_day")
        ]

    def __str__(self) -> str:
        return f"follow-up {self.contact_id} {self.date}"


class Event(JurisdictionalRecord):
    """A gathering or place (a wedding, a mosque, a workshop) on a date, in the org unit where it was held."""

    class Kind(models.TextChoices):
        WEDDING = "wedding", _("wedding")
        FUNERAL = "funeral", _("funeral")
        RELIGIOUS = "religious", _("religious gathering")
        WORKPLACE = "workplace", _("workplace")
        OTHER = "other", _("other gathering or place")

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    date = models.DateField()
    cluster_id = models.UUIDField(db_index=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.name} {self.date}"


class EventAttendance(JurisdictionalRecord):
    """A person at an event (in the attendee's post). `case` is their case when they are (or become) one."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendances")
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cluster_id = models.UUIDField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "person"], name="one_attendance_per_person")]
        indexes = [models.Index(fields=["person"], name="tracing_attendance_person")]

    def __str__(self) -> str:
        return f"{self.person_id} at {self.event_id}"


class TransmissionLink(JurisdictionalRecord):
    """Who infected whom: infector case → infectee case (in the infectee's post). A case has one infector at
    most; a loop is refused by the service."""

    class Source(models.TextChoices):
        CONTACT = "contact", _("a contact who became a case")
        MANUAL = "manual", _("recorded by an investigator")

    infector = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    infectee = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    cluster_id = models.UUIDField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["infector"], name="tracing_link_infector")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(infector=models.F("infectee")), name="link_not_self")
        ]

    def __str__(self) -> str:
        return f"{self.infector_id} → {self.infectee_id}"
