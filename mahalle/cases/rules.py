"""Case classification and isolation periods: pure functions, configurable through settings by the services.

Classification follows the WHO case definitions in the simplified form a health post can apply:
- confirmed: a positive PCR, or a positive rapid antigen test in someone with symptoms or an epidemiological link
  (WHO accepts an antigen test as confirmation under those conditions);
- probable: symptoms and an epidemiological link to a confirmed case, or a positive antigen test alone;
- suspected: symptoms meeting the screening criteria (a referral);
- discarded: a negative PCR in a suspected case with no epidemiological link and no later positive test.
"""

import datetime as dt
from dataclasses import dataclass

SUSPECTED, PROBABLE, CONFIRMED, DISCARDED = "suspected", "probable", "confirmed", "discarded"


@dataclass(frozen=True)
class TestEvidence:
    kind: str  # "pcr" | "antigen"
    result: str  # "positive" | "negative" | "inconclusive"


def classify(*, symptomatic: bool, epi_link: bool, tests: list[TestEvidence]) -> tuple[str, str]:
    """Return (classification, reason in plain words)."""
    if any(t.kind == "pcr" and t.result == "positive" for t in tests):
        return CONFIRMED, "positive PCR"
    antigen_positive = any(t.kind == "antigen" and t.result == "positive" for t in tests)
    if antigen_positive and (symptomatic or epi_link):
        return CONFIRMED, "positive antigen test with symptoms or an epidemiological link"
    if antigen_positive:
        return PROBABLE, "positive antigen test"
    if symptomatic and epi_link:
        return PROBABLE, "symptoms and an epidemiological link to a confirmed case"
    if any(t.kind == "pcr" and t.result == "negative" for t in tests) and not epi_link:
        return DISCARDED, "negative PCR and no epidemiological link"
    return SUSPECTED, "symptoms meeting the screening criteria"


@dataclass(frozen=True)
class IsolationPolicy:
    days_after_onset: int = 10
    symptom_free_days: int = 3
    days_without_onset: int = 10  # asymptomatic: counted from the test or the start


def planned_isolation_end(
    *,
    start: dt.date,
    onset: dt.date | None,
    last_symptom_day: dt.date | None,
    policy: IsolationPolicy = IsolationPolicy(),
) -> dt.date:
    """The later of `onset + days_after_onset` and `last symptom + symptom_free_days` (WHO's rule)."""
    if onset is None:
        candidates = [start + dt.timedelta(days=policy.days_without_onset)]
    else:
        candidates = [onset + dt.timedelta(days=policy.days_after_onset)]
    if last_symptom_day is not None:
        candidates.append(last_symptom_day + dt.timedelta(days=policy.symptom_free_days))
    return max(max(candidates), start)
