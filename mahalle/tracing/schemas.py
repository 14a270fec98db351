"""Request and response shapes of the tracing API. Parsing only: the rules live in tracing.services."""

import datetime as dt
import uuid

from ninja import Field, Schema

from mahalle.cases.schemas import BatchOut
from mahalle.core.schemas import Page, ShortText, Text

__all__ = ["BatchOut", "Page"]


class ContactOut(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    phone: str
    org_unit: str = Field(..., alias="org_unit.code")
    last_exposure: dt.date
    setting: str
    closeness: str
    source: str
    status: str
    follow_up_end: dt.date
    quarantine_start: dt.date | None
    referred_on: dt.date | None
    became_case_id: uuid.UUID | None
    assigned_tracer: str | None

    @staticmethod
    def resolve_person_name(obj) -> str:
        return obj.person.full_name

    @staticmethod
    def resolve_phone(obj) -> str:
        return obj.person.mobile

    @staticmethod
    def resolve_assigned_tracer(obj) -> str | None:
        return obj.assigned_tracer.username if obj.assigned_tracer_id else None


class ContactIn(Schema):
    national_code: ShortText = ""
    mobile: ShortText = ""
    first_name: ShortText = ""
    last_name: ShortText = ""
    person_id: uuid.UUID | None = Field(None, description="a registered person you may see")
    org_unit: ShortText = Field("", description="where to register a new person (default: the case's post)")
    last_exposure: ShortText = Field(..., description="YYYY-MM-DD (or Jalali YYYY/MM/DD)")
    setting: ShortText
    closeness: ShortText = "close"
    event_id: uuid.UUID | None = None


class RemoveIn(Schema):
    reason: Text


class AssignIn(Schema):
    tracer: ShortText = Field("", description="username of the tracer (empty: no tracer)")
    team: ShortText = Field("", description="org unit code of the tracing team (empty: no team)")


class ContactFollowUpIn(Schema):
    id: ShortText = Field(..., description="the phone's UUID for this follow-up")
    contact_id: ShortText
    date: ShortText = Field(..., description="YYYY-MM-DD (or Jalali YYYY/MM/DD)")
    status: ShortText = Field(..., description="well | symptoms | unreachable")
    symptoms: list[ShortText] = Field(default_factory=list, max_length=20)
    note: Text = ""


class ContactFollowUpsIn(Schema):
    items: list[ContactFollowUpIn] = Field(..., max_length=500)


class EventIn(Schema):
    org_unit: ShortText
    name: Text
    kind: ShortText
    date: ShortText


class EventOut(Schema):
    id: uuid.UUID
    org_unit: str = Field(..., alias="org_unit.code")
    name: str
    kind: str
    date: dt.date


class AttendeesIn(Schema):
    person_ids: list[ShortText] = Field(default_factory=list, max_length=20_000)
    national_codes: list[ShortText] = Field(default_factory=list, max_length=20_000)


class AttendeesOut(Schema):
    added: int


class LinkIn(Schema):
    infector_id: uuid.UUID
    infectee_id: uuid.UUID


class LinkOut(Schema):
    id: uuid.UUID
    infector_id: uuid.UUID
    infectee_id: uuid.UUID
    source: str


class NodeOut(Schema):
    key: str
    kind: str
    classification: str
    outcome: str
    generation: int
    visible: bool
    label: str
    person_id: str | None
    case_id: str | None
    is_index: bool
    superspreading: bool = False
    linked_cases: int = 0


class EdgeOut(Schema):
    source: str
    target: str
    kind: str
    setting: str = ""


class ClusterOut(Schema):
    cluster_id: str | None
    stats: dict
    nodes: list[NodeOut]
    edges: list[EdgeOut]


class ClusterStatsOut(Schema):
    cluster_id: str
    size: int
    cases: int
    contacts: int
    events: int
    attendees: int
    growth_7d: int
    generations: int
    settings_driving: dict[str, int]
    posts: int
    superspreading_events: list[dict]
    case_id: str | None


class ClustersOut(Schema):
    org_unit: str
    clusters_total: int
    cases_in_clusters: int
    contacts: int
    clusters: list[ClusterStatsOut]


class HouseholdListedOut(Schema):
    listed: int
    contacts: list[ContactOut]
