"""The answer to one item of a phone's batch (visits, follow-ups): what became of it and why."""

from dataclasses import dataclass, field

CREATED, EXISTS, INVALID, CONFLICT, RETRY = "created", "exists", "invalid", "conflict", "retry"


@dataclass
class ItemResult:
    id: str
    status: str = "pending"  # then CREATED | EXISTS | INVALID | CONFLICT | RETRY
    errors: list[dict] = field(default_factory=list)
    referrals: int = 0
    urgent: int = 0
