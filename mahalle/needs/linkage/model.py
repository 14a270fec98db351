"""The splink model: comparisons, blocking rules and the trained parameters (pure: splink, no backend).

Comparisons and blocking rules are written with splink's creators (or ANSI SQL), so the same definitions
run on DuckDB locally and on Spark at national scale: splink renders each creator in the backend's dialect
when the Linker is built. The trained m/u probabilities are stored separately (parameters.json next to this
file) as plain lists, one per comparison, and applied with `.configure(...)`, so they are dialect-free too.
"""

from __future__ import annotations

import json
from pathlib import Path

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from .prepare import PREPARED_COLUMNS

PARAMETERS_PATH = Path(__file__).with_name("parameters.json")
NC_BOTH_VALID = "both valid, different"
FIRST_DIFFERENT = "different, not confirmed by national code"
SWAPPED = "first/last swapped"
FIRST_DIFFERENT_SAME_NC = "different, same national code"
# Levels that carry no evidence of their own (weight 0): a swap is counted once, under first_name; a different
# first name beside an equal national code leaves the decision to the national code's own weight.
NEUTRAL_LEVELS = [("last_name", SWAPPED), ("first_name", FIRST_DIFFERENT_SAME_NC)]
EXTENDS = "one name extends the other"
TWO_NAMES = "two different known names"
# Levels whose m is set, not learned ("sensible priors"): two valid national codes that differ are two people
# unless a list copied someone else's code; a different first name without a national code to confirm is a
# sibling or a twin, not the same person.
FIXED_M = {
    ("national_code", NC_BOTH_VALID): 1e-4,
    ("first_name", FIRST_DIFFERENT): 1e-13,
    ("first_name", EXTENDS): 1e-9,
    ("first_name", TWO_NAMES): 1e-13,
}

# Which prepared columns splink needs (and keeps for evidence): all but the title flag and the province key,
# which no comparison or blocking rule reads.
MODEL_COLUMNS = ["unique_id", *(c for c in PREPARED_COLUMNS if c not in ("has_title", "province_key"))]


def _null(*cols: str) -> cll.CustomLevel:
    cond = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
    return cll.CustomLevel(cond, label_for_charts="missing").configure(is_null_level=True)


def comparisons() -> list:
    """The field comparisons, in a fixed order (the stored parameters follow it)."""
    national_code = cl.CustomComparison(
        output_column_name="national_code",
        comparison_levels=[
            _null("nc"),
            cll.ExactMatchLevel("nc"),
            # The check digit catches every one-digit substitution, so two codes one edit apart are one
            # person's code with a typo on one side (not two valid codes).
            cll.DamerauLevenshteinLevel("nc", 1).configure(label_for_charts="one-digit typo"),
            cll.CustomLevel("nc_valid_l AND nc_valid_r", label_for_charts=NC_BOTH_VALID),
            cll.ElseLevel(),
        ],
    )

    def name(col: str, other: str, out: str) -> cl.CustomComparison:
        levels = [
            _null(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=True),
            cll.CustomLevel(f"{col}_l = {other}_r AND {other}_l = {col}_r", label_for_charts=SWAPPED),
            # محمد vs محمدمهدی: two brothers' names, not a typo (one is the other plus a compound part).
            cll.CustomLevel(
                f"(length({col}_l) >= length({col}_r) + 3 AND substr({col}_l, 1, length({col}_r)) = {col}_r) OR "
                f"(length({col}_r) >= length({col}_l) + 3 AND substr({col}_r, 1, length({col}_l)) = {col}_l)",
                label_for_charts=EXTENDS,
            ),
        ]
        if col == "first_key":
            levels.append(
                cll.CustomLevel(
                    "first_known_l AND first_known_r AND (nc_l IS NULL OR nc_r IS NULL OR nc_l <> nc_r)",
                    label_for_charts=TWO_NAMES,
                )
            )
        levels += [
            cll.DamerauLevenshteinLevel(col, 1).configure(label_for_charts="one-letter typo"),
            cll.JaroWinklerLevel(col, 0.92),
            cll.JaroWinklerLevel(col, 0.85),
        ]
        if col == "first_key":
            # Twins and siblings share everything but the first name (and the national code, often missing):
            # a different first name is only tolerated when the national code confirms the person.
            levels.append(cll.CustomLevel("nc_l = nc_r", label_for_charts=FIRST_DIFFERENT_SAME_NC))
            levels.append(cll.ElseLevel().configure(label_for_charts=FIRST_DIFFERENT))
        else:
            levels.append(cll.ElseLevel())
        return cl.CustomComparison(output_column_name=out, comparison_levels=levels)

    father = cl.CustomComparison(
        output_column_name="father_name",
        comparison_levels=[
            _null("father_key"),
            cll.ExactMatchLevel("father_key", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("father_key", 0.90),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.CustomLevel(
                "(bd_l IS NULL AND by_g_l IS NULL AND by_j_l IS NULL) OR "
                "(bd_r IS NULL AND by_g_r IS NULL AND by_j_r IS NULL)",
                label_for_charts="missing",
            ).configure(is_null_level=True),
            cll.CustomLevel("bd_l = bd_r", label_for_charts="same day"),
            cll.DamerauLevenshteinLevel("bd", 1).configure(label_for_charts="one-digit typo in the date"),
            cll.CustomLevel(
                "(bd_l IS NULL OR bd_r IS NULL) AND (by_g_l = by_g_r OR by_j_l = by_j_r)",
                label_for_charts="same year (one side year only)",
            ),
            cll.CustomLevel(
                "(bd_l IS NULL OR bd_r IS NULL) AND abs(by_any_l - by_any_r) <= 1",
                label_for_charts="year within 1 (one side year only)",
            ),
            cll.CustomLevel("by_g_l = by_g_r", label_for_charts="same year, different day"),
            cll.CustomLevel("abs(by_any_l - by_any_r) <= 1", label_for_charts="year within 1"),
            cll.ElseLevel(),
        ],
    )
    mobile = cl.CustomComparison(
        output_column_name="mobile",
        comparison_levels=[_null("mobile10"), cll.ExactMatchLevel("mobile10"), cll.ElseLevel()],
    )
    sex = cl.CustomComparison(
        output_column_name="sex",
        comparison_levels=[_null("sex"), cll.ExactMatchLevel("sex"), cll.ElseLevel()],
    )
    county = cl.CustomComparison(
        output_column_name="county",
        comparison_levels=[_null("county_key"), cll.ExactMatchLevel("county_key"), cll.ElseLevel()],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            _null("address_numbers"),
            cll.CustomLevel(
                "address_numbers_l = address_numbers_r AND address_tokens_l = address_tokens_r",
                label_for_charts="same address",
            ),
            cll.ExactMatchLevel("address_numbers").configure(label_for_charts="same house numbers"),
            cll.ElseLevel(),
        ],
    )
    return [
        national_code,
        name("first_key", "last_key", "first_name"),
        name("last_key", "first_key", "last_name"),
        father,
        birth,
        mobile,
        sex,
        county,
        address,
    ]


def blocking_rules() -> list:
    """Candidate pairs: any one rule suffices, so a record with errors in some fields is still compared."""
    # Each rule was kept for the true pairs only it finds on the evaluation set, and sized on a million
    # records (docs/linkage.md): rules on common names alone (محمد محمدی, one birth year) explode.
    return [
        block_on("nc"),
        block_on("mobile10"),
        block_on("sorted_key", "bd"),
        block_on("sorted_key", "father_key", "by_any"),
        block_on("sorted_key", "by_any", "county_key", "sex"),
        block_on("first_key", "father_key", "last_skel", "by_any"),
        block_on("first_skel", "last_skel", "father_key", "by_any"),
        block_on("last_key", "father_key", "bd"),
        block_on("bd", "last_skel"),
        block_on("bd", "first_skel"),
        block_on("bd", "county_key", "sex"),
        block_on("sorted_key", "address_numbers"),
        block_on("father_key", "address_numbers"),
        block_on("first_skel", "address_numbers"),
    ]


def load_parameters(path: str | Path | None = None) -> dict | None:
    path = Path(path) if path else PARAMETERS_PATH
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def settings(
    *, parameters: dict | None = None, prior: float = 1e-5, retain_columns: bool = True
) -> SettingsCreator:
    """The splink settings; `parameters` (from parameters.json) sets trained m/u on every comparison."""
    comps = comparisons()
    if parameters:
        for comp in comps:
            p = parameters["comparisons"].get(comp._output_column_name)
            if p:
                comp.configure(m_probabilities=p["m"], u_probabilities=p["u"])
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comps,
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=prior,
        retain_matching_columns=retain_columns,
        retain_intermediate_calculation_columns=retain_columns,
        additional_columns_to_retain=[],
    )


# Real lists hold errors a synthetic training set may not: no level's m may fall below this floor, so a
# person whose mobile changed or whose sex was mis-keyed is not ruled out by one field alone.
M_FLOOR = {"national_code": 0.003, "mobile": 0.05, "sex": 0.005, "county": 0.01, "birth_date": 0.002}
DEFAULT_M_FLOOR = 0.001


def _floor(values: list, floor: float) -> list[float]:
    vals = [max(float(v) if v is not None else 0.0, floor) for v in values]
    total = sum(vals)
    return [v / total for v in vals]


def parameters_from_model(model: dict) -> dict:
    """m/u lists (null level excluded, in level order) per comparison, from splink's model JSON dict."""
    out = {}
    for comp in model["comparisons"]:
        name = comp["output_column_name"]
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        labels = [lv.get("label_for_charts", "") for lv in levels]
        m = _floor([lv.get("m_probability") for lv in levels], M_FLOOR.get(name, DEFAULT_M_FLOOR))
        u = _floor([lv.get("u_probability") for lv in levels], 1e-7)
        fixed = {i: FIXED_M[(name, label)] for i, label in enumerate(labels) if (name, label) in FIXED_M}
        for neutral_name, neutral_label in NEUTRAL_LEVELS:  # weight 0: m = u
            if name == neutral_name and neutral_label in labels:
                fixed[labels.index(neutral_label)] = u[labels.index(neutral_label)]
        if fixed:
            free = sum(v for i, v in enumerate(m) if i not in fixed)
            rest = 1.0 - sum(fixed.values())
            m = [fixed[i] if i in fixed else v * rest / free for i, v in enumerate(m)]
        out[name] = {"labels": labels, "m": m, "u": u}
    return {"comparisons": out}
