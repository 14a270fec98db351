"""Request and response shapes of the aid API. Parsing only: the rules live in aid.services."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from mahalle.core.schemas import BatchOut, Page, ShortText, Text

__all__ = ["BatchOut", "Page"]


class ProgramIn(Schema):
    code: str = Field(..., pattern=r"^[a-z0-9-_]{1,40}$")
    name: ShortText
    kind: Literal["in_kind", "cash", "loan", "service"]
    category: str = Field(..., pattern=r"^[a-z0-9-_]{1,64}$")
    agency: ShortText = Field(..., description="the funding agency's code (needs registry)")
    org_unit: ShortText
    rule: dict = Field(default_factory=dict)
    start_date: dt.date
    cadence: Literal["once", "weekly", "monthly"] = "once"
    cycles: int = Field(1, ge=1, le=120)
    item: ShortText | None = Field(None, description="item code (in-kind and loan programs)")
    quantity: Decimal = Decimal(1)
    amount: Decimal = Decimal(0)


class CycleOut(Schema):
    id: int
    number: int
    period_start: dt.date
    period_end: dt.date
    status: str
    households_total: int
    households_done: int
    entitled: int
    flagged: int
    message: str


class ProgramOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    category: str
    agency: str
    org_unit: str
    item: str | None = None
    quantity: Decimal
    amount: Decimal
    rule: dict
    rule_text: list[str]
    cadence: str
    cycles: list[CycleOut]


class CycleDetailOut(CycleOut):
    program: str
    coverage: dict[str, int]


class EntitlementOut(Schema):
    id: int
    cycle_id: int
    household_id: uuid.UUID
    org_unit: str
    head_name: str
    quantity: Decimal
    amount: Decimal
    reasons: list[dict]
    flag: str
    flag_detail: str
    decision: str
    delivered: bool


class DecisionIn(Schema):
    decision: Literal["keep", "drop"]
    note: Text = ""


class DeliveryIn(Schema):
    id: uuid.UUID = Field(..., description="the phone's UUID for this delivery (re-sending it is a no-op)")
    entitlement_id: int
    proof: Literal["code", "supervisor"] = Field(
        ..., description="signature/photo proofs are uploaded on the page"
    )
    code: str = Field("", max_length=12)


class DeliveryOut(Schema):
    id: uuid.UUID
    entitlement_id: int
    quantity: Decimal
    proof: str
    delivered_at: dt.datetime
    created: bool


class CodeSentOut(Schema):
    sent_to: str
    expires_at: dt.datetime


class StockLevelOut(Schema):
    warehouse: str = Field(..., alias="warehouse.code")
    item: str = Field(..., alias="item.code")
    lot: str
    expiry: dt.date | None
    quantity: Decimal


class StockMoveIn(Schema):
    kind: Literal["receipt", "transfer", "loss", "adjust"]
    warehouse: ShortText
    item: ShortText
    quantity: Decimal = Field(..., description="for adjust: the quantity counted")
    lot: str = Field("", max_length=40)
    expiry: dt.date | None = None
    target: ShortText | None = Field(None, description="transfers: the receiving warehouse's code")
    note: Text = Field("", description="receipts: the source; losses and adjustments: the reason")


class StockMoveOut(Schema):
    ok: bool
    reference: str = ""


class LoanIn(Schema):
    serial: ShortText
    person_id: uuid.UUID
    days: int = Field(14, ge=1, le=180)


class LoanOut(Schema):
    id: uuid.UUID
    serial: str
    person_id: uuid.UUID
    lent_on: dt.date
    due_on: dt.date
    returned_on: dt.date | None
    overdue: bool


class ReturnIn(Schema):
    on: dt.date | None = None


class PaymentResultIn(Schema):
    reference: str = Field(..., max_length=40)
    status: ShortText
    paid_on: str = Field("", max_length=20)
    note: Text = ""


class PaymentResultsIn(Schema):
    items: list[PaymentResultIn] = Field(..., max_length=10000)
