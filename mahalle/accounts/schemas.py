"""Shapes of the accounts API."""

import datetime as dt

from ninja import Field, Schema

from mahalle.core.schemas import ShortText
from mahalle.geo.schemas import OrgUnitOut


class MeOut(Schema):
    username: str
    first_name: str
    last_name: str
    role: str
    can_read_personal_data: bool
    units: list[OrgUnitOut]


class TokenIn(Schema):
    name: ShortText = Field(..., min_length=1, description="what the token is for, e.g. the partner system")
    username: ShortText = Field("", description="another user's token (administrators only); empty: your own")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    username: str
    created_at: dt.datetime
    secret: str = Field(..., description="shown once; only its hash is stored")
