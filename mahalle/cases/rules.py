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

from mahalle.core.persian import normalize_text

SUSPECTED, PROBABLE, CONFIRMED, DISCARDED = "suspected", "probable", "confirmed", "discarded"

# --- the clinical and field vocabularies (owned here, the lowest app that needs them) -----------------------

# Symptoms asked in screening visits, isolation follow-ups and contact follow-ups.
SYMPTOMS = (
    "fever",
    "cough",
    "shortness_of_breath",
    "loss_of_smell_taste",
    "sore_throat",
    "fatigue",
    "diarrhoea",
)
# The needs a volunteer may tick in a screening visit or a follow-up: the field's words, not the needs
# registry's kinds (needs.rules.FIELD_NEEDS maps each word to a needs.models.NeedKind; "medicine" becomes
# OTHER with the word as its note).
NEED_KINDS = ("food", "hygiene", "income", "medical_equipment", "housing", "medicine", "other")
SPO2_RANGE = (50, 100)  # a pulse oximeter's reading outside this is a typing error
DETERIORATION_SPO2 = 93  # below this a follow-up raises an urgent alert

# Automatic changes (from lab results) only move a case up this scale; moving down takes a supervisor's reason.
RANK = {DISCARDED: 0, SUSPECTED: 1, PROBABLE: 2, CONFIRMED: 3}

# The words labs use for a test's kind and result → the stored values.
KIND_WORDS = {
    "pcr": "pcr",
    "rt-pcr": "pcr",
    "rtpcr": "pcr",
    "antigen": "antigen",
    "ag": "antigen",
    "rat": "antigen",
    "rapid antigen": "antigen",
    "rapid_antigen": "antigen",
    "آنتی‌ژن": "antigen",
}
RESULT_WORDS = {
    "positive": "positive",
    "pos": "positive",
    "+": "positive",
    "مثبت": "positive",
    "negative": "negative",
    "neg": "negative",
    "-": "negative",
    "منفی": "negative",
    "inconclusive": "inconclusive",
    "invalid": "inconclusive",
    "نامشخص": "inconclusive",
}


def normalize_sample_id(value) -> str:
    """A lab's sample id as stored and matched: normalized digits and letters, no spaces, upper case."""
    return normalize_text(value).replace(" ", "").upper()


def lab_word(value, words: dict) -> str:
    """The stored value for a lab's word (KIND_WORDS, RESULT_WORDS), or "" when the word is unknown."""
    return words.get(normalize_text(value).lower(), "")


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
