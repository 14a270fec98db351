"""Risk scoring: transparent, configurable rules that turn one member's answers into an outcome.

Pure Python (no Django). A rule is data, e.g.

    {"id": "low_spo2", "outcome": "urgent", "all": [{"spo2_below": 93}],
     "reason_fa": "اشباع اکسیژن زیر ۹۳٪", "reason_en": "SpO2 below 93%"}

A rule matches when every condition in `all` holds (and, if given, at least one in `any`). The outcome is the
most severe of the matching rules; the reasons of every matching rule are kept, so a volunteer and a supervisor
see exactly why. Operators change rules in settings (MAHALLE_SCREENING_RULES) without code changes.
"""

from dataclasses import dataclass, field

from mahalle.cases.rules import SYMPTOMS  # the clinical vocabulary is the cases app's (pure Python too)

NO_ACTION = "none"
REFER = "refer"
URGENT = "urgent"
SEVERITY = {NO_ACTION: 0, REFER: 1, URGENT: 2}


@dataclass(frozen=True)
class MemberAnswers:
    symptoms: frozenset[str] = frozenset()
    spo2: int | None = None
    age: int | None = None
    chronic_disease: bool = False
    pregnant: bool = False
    known_contact: bool = False


@dataclass
class RiskOutcome:
    outcome: str = NO_ACTION
    reasons: list[dict] = field(default_factory=list)  # [{"rule", "fa", "en"}]


DEFAULT_RULES: list[dict] = [
    {
        "id": "low_spo2",
        "outcome": URGENT,
        "all": [{"spo2_below": 93}],
        "reason_fa": "اشباع اکسیژن کمتر از ۹۳٪",
        "reason_en": "SpO2 below 93%",
    },
    {
        "id": "breathless_over_60",
        "outcome": URGENT,
        "all": [{"symptom": "shortness_of_breath"}, {"age_at_least": 60}],
        "reason_fa": "تنگی نفس در فرد بالای ۶۰ سال",
        "reason_en": "shortness of breath, aged 60 or over",
    },
    {
        "id": "breathless_chronic",
        "outcome": URGENT,
        "all": [{"symptom": "shortness_of_breath"}, {"flag": "chronic_disease"}],
        "reason_fa": "تنگی نفس در فرد دارای بیماری زمینه‌ای",
        "reason_en": "shortness of breath with a chronic disease",
    },
    {
        "id": "breathless",
        "outcome": REFER,
        "all": [{"symptom": "shortness_of_breath"}],
        "reason_fa": "تنگی نفس",
        "reason_en": "shortness of breath",
    },
    {
        "id": "fever_or_cough_plus",
        "outcome": REFER,
        "all": [{"min_symptoms": 2}],
        "any": [{"symptom": "fever"}, {"symptom": "cough"}, {"symptom": "loss_of_smell_taste"}],
        "reason_fa": "دو علامت یا بیشتر شامل تب، سرفه یا از دست دادن بویایی/چشایی",
        "reason_en": "two or more symptoms including fever, cough or loss of smell/taste",
    },
    {
        "id": "smell_taste",
        "outcome": REFER,
        "all": [{"symptom": "loss_of_smell_taste"}],
        "reason_fa": "از دست دادن بویایی یا چشایی",
        "reason_en": "loss of smell or taste",
    },
    {
        "id": "contact_with_symptom",
        "outcome": REFER,
        "all": [{"known_contact": True}, {"min_symptoms": 1}],
        "reason_fa": "تماس با بیمار و داشتن علامت",
        "reason_en": "contact with a case and a symptom",
    },
]

_CONDITION_KEYS = {"symptom", "min_symptoms", "spo2_below", "age_at_least", "flag", "known_contact"}


class InvalidRules(ValueError):
    pass


_FLAGS = {"chronic_disease", "pregnant", "known_contact"}


def _check_value(name: str, cond: dict) -> None:
    ((key, value),) = cond.items()
    if key == "symptom" and value not in SYMPTOMS:
        raise InvalidRules(f"rule {name}: unknown symptom {value!r}")
    if key == "flag" and value not in _FLAGS:
        raise InvalidRules(f"rule {name}: unknown flag {value!r} (one of {', '.join(sorted(_FLAGS))})")
    if key == "known_contact" and not isinstance(value, bool):
        raise InvalidRules(f"rule {name}: known_contact must be true or false")
    if key in ("min_symptoms", "spo2_below", "age_at_least") and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise InvalidRules(f"rule {name}: {key} must be a whole number")


def validate_rules(rules: list[dict]) -> list[dict]:
    """Check a rule set; raises InvalidRules naming the rule and the problem."""
    if not isinstance(rules, list | tuple) or not all(isinstance(rule, dict) for rule in rules):
        raise InvalidRules("rules must be a list of dicts")
    seen = set()
    for index, rule in enumerate(rules):
        name = rule.get("id") or f"#{index}"
        if not rule.get("id") or name in seen:
            raise InvalidRules(f"rule {name}: needs a unique id")
        seen.add(name)
        if rule.get("outcome") not in (REFER, URGENT):
            raise InvalidRules(f"rule {name}: outcome must be '{REFER}' or '{URGENT}'")
        if not rule.get("all") and not rule.get("any"):
            raise InvalidRules(f"rule {name}: needs conditions in 'all' or 'any'")
        for cond in [*rule.get("all", []), *rule.get("any", [])]:
            if not isinstance(cond, dict) or len(cond) != 1 or next(iter(cond)) not in _CONDITION_KEYS:
                raise InvalidRules(f"rule {name}: unknown condition {cond!r}")
            _check_value(name, cond)
        for key in ("reason_fa", "reason_en"):
            if not isinstance(rule.get(key), str) or not rule[key].strip():
                raise InvalidRules(f"rule {name}: needs {key}, the reason shown to volunteers")
    return rules


def _holds(cond: dict, answers: MemberAnswers) -> bool:
    ((key, value),) = cond.items()
    if key == "symptom":
        return value in answers.symptoms
    if key == "min_symptoms":
        return len(answers.symptoms) >= value
    if key == "spo2_below":
        return answers.spo2 is not None and answers.spo2 < value
    if key == "age_at_least":
        return answers.age is not None and answers.age >= value
    if key == "flag":
        return bool(getattr(answers, value, False))
    if key == "known_contact":
        return answers.known_contact is bool(value)
    return False


def score_member(answers: MemberAnswers, rules: list[dict] | None = None) -> RiskOutcome:
    result = RiskOutcome()
    for rule in DEFAULT_RULES if rules is None else rules:
        if not all(_holds(c, answers) for c in rule.get("all", [])):
            continue
        if rule.get("any") and not any(_holds(c, answers) for c in rule["any"]):
            continue
        result.reasons.append(
            {"rule": rule["id"], "fa": rule.get("reason_fa", ""), "en": rule.get("reason_en", "")}
        )
        if SEVERITY[rule["outcome"]] > SEVERITY[result.outcome]:
            result.outcome = rule["outcome"]
    return result
