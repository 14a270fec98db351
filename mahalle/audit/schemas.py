"""Shapes of the audit API."""

import datetime as dt

from ninja import Field, Schema

from mahalle.core.schemas import Code, ShortText

from .models import AuditAction


class AuditFilters(Schema):
    actor: ShortText = Field("", description="username of the actor")
    action: AuditAction | None = None
    object_type: Code = Field("", description='e.g. "registry.person"')
    object_id: Code = ""
    since: dt.datetime | None = Field(None, description="inclusive; ISO 8601")
    until: dt.datetime | None = Field(None, description="exclusive; ISO 8601")


class AuditEventOut(Schema):
    id: int
    at: dt.datetime
    actor_username: str
    action: str
    object_type: str
    object_id: str
    org_unit: str | None = Field(None, alias="org_unit.code")
    org_path: str
    ip_address: str | None
    details: dict
