import datetime as dt

from ninja import Schema


class OrgUnitRef(Schema):
    id: int
    code: str
    level: int
    name_fa: str
    name_en: str


class RtWindowOut(Schema):
    date_start: dt.date
    date_end: dt.date
    mean: float
    std: float
    lower: float
    upper: float
    cases: int
    reliable: bool


class RtSeriesOut(Schema):
    org_unit: OrgUnitRef
    computed_at: dt.datetime | None
    method: dict
    estimates: list[RtWindowOut]
