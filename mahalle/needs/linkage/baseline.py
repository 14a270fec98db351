"""A plain splink setup with basic cleaning only: the baseline the Persian-aware engine is measured against.

Basic cleaning = trim, lower case, separators out of national codes and mobiles. No Persian normalisation (ی/ي,
ک/ك, ZWNJ, digits), no titles, no compound names, no calendar conversion. Standard splink comparisons,
trained on the input itself (u by random sampling, m by EM on two blocks), connected components.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from .prepare import RECORD_COLUMNS


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    df = frame.copy()
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    record_id = df["record_id"].fillna("").astype(str)
    df = df[RECORD_COLUMNS].fillna("").astype(str).apply(lambda s: s.str.strip().str.lower())
    df["record_id"] = record_id.str.strip()
    for col in ("national_code", "mobile"):
        df[col] = df[col].str.replace(r"[\s\-+.]", "", regex=True)
    return df.replace("", None)


def _clean_careful(frame: pd.DataFrame) -> pd.DataFrame:
    """The shared normaliser and identifier/date parsing, but none of the Persian-aware matching keys."""
    from mahalle.core.persian import search_key

    from .prepare import birth_parts, mobile_parts, national_code_parts

    df = _clean(frame).fillna("")
    for col in ("first_name", "last_name", "father_name", "county"):
        df[col] = df[col].map(search_key)
    df["national_code"] = national_code_parts(df["national_code"])[0]
    df["mobile"] = mobile_parts(df["mobile"])
    df["birth_date"] = df["birth_date"].map(lambda v: birth_parts(v)[0])
    return df.replace("", None)


def link_baseline(
    frames: dict[str, pd.DataFrame], threshold: float = 0.99, careful: bool = False
) -> pd.DataFrame:
    """clusters (source, record_id, cluster_id) of the plain setup (careful: normalised and parsed fields)."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    clean = _clean_careful if careful else _clean
    parts = [clean(f).assign(source=s) for s, f in frames.items()]
    data = pd.concat(parts, ignore_index=True)
    ids = data[["source", "record_id"]].copy()
    model = data.drop(columns=["source", "record_id"]).astype("string")
    model.insert(0, "unique_id", np.arange(len(model)))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ExactMatch("national_code"),
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.NameComparison("father_name"),
            cl.LevenshteinAtThresholds("birth_date", [1, 2]),
            cl.ExactMatch("mobile"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("county"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("national_code"),
            block_on("mobile"),
            block_on("first_name", "last_name", "birth_date"),
            block_on("last_name", "birth_date"),
        ],
        probability_two_random_records_match=1.0 / max(len(model), 2),
    )
    db_api = DuckDBAPI()
    table = db_api.register(model, dataset_display_name="baseline")
    linker = Linker(table, settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    sample = min(1.0, 300_000 / max(len(model), 1))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("national_code"), record_sample_proportion=sample
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name", "birth_date"), record_sample_proportion=sample
    )
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    cdf = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    cluster_of = np.empty(len(ids), dtype=object)
    cluster_of[cdf["unique_id"].astype(np.int64).to_numpy()] = cdf["cluster_id"].astype(str).to_numpy()
    return ids.assign(cluster_id=cluster_of)
