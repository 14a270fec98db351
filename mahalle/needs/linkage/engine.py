"""The linkage engine: prepare → splink (predict) → connected components → clusters and review pairs.

Pure (pandas, duckdb, splink, mahalle.core helpers): no Django. Called by the needs app's services and by the
`mahalle link` CLI. See docs/linkage.md for the model, the thresholds and the evidence behind them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from splink import Linker

from . import model as model_mod
from .prepare import prepare

__all__ = ["LinkConfig", "LinkResult", "prepare", "link_sources", "link_incremental", "train_parameters"]

TF_COLUMNS = ("first_key", "last_key", "father_key")
Progress = Callable[[str, float], None] | None


@dataclass
class LinkConfig:
    """Thresholds and model options. Thresholds were chosen on the evaluation set (docs/linkage.md)."""

    auto_link_threshold: float = 0.99
    review_threshold: float = 0.80
    backend: str = "duckdb"  # "spark": build a SparkAPI and pass it as `db_api` (docs/linkage.md)
    parameters_path: str | None = None  # None: the trained parameters shipped with the package
    estimate_u: bool = False  # re-estimate u by random sampling on the input (m stays as trained)
    train: bool = False  # train u and m on the input itself (another population, e.g. FEBRL's)
    prior: float | None = None  # probability that two random records match; None: 1 / number of records
    threads: int | None = None
    memory_limit: str | None = None
    db_api: object | None = None  # an already built splink database API (e.g. SparkAPI)


@dataclass
class LinkResult:
    clusters: pd.DataFrame
    review: pd.DataFrame
    stages: dict[str, float] = field(default_factory=dict)
    pairs_scored: int = 0


def _db_api(config: LinkConfig):
    if config.db_api is not None:
        return config.db_api
    if config.backend != "duckdb":
        raise ValueError(f"backend '{config.backend}': build its splink API yourself and pass it as db_api")
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:")
    if config.threads:
        con.execute(f"SET threads = {int(config.threads)}")
    if config.memory_limit:
        con.execute(f"SET memory_limit = '{config.memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    return DuckDBAPI(connection=con)


def _model_frame(prepared: pd.DataFrame, uid_prefix: str = "") -> pd.DataFrame:
    frame = prepared[[c for c in model_mod.MODEL_COLUMNS if c != "unique_id"]].copy()
    frame.insert(
        0,
        "unique_id",
        [f"{uid_prefix}{i}" for i in range(len(frame))] if uid_prefix else np.arange(len(frame)),
    )
    # Object columns with None are fine for DuckDB; nullable ints become float → cast back in SQL is
    # unnecessary because comparisons only use equality and abs().
    for col in ("by_g", "by_j", "by_any"):
        frame[col] = frame[col].astype("Int64")
    for col in TEXT_KEYS:
        frame[col] = _ascii(frame[col])
    # A column that is empty in every record must still reach the database as text, not as DOUBLE.
    for col in frame.columns:
        if col not in ("unique_id", "nc_valid", "first_known", "by_g", "by_j", "by_any"):
            frame[col] = frame[col].astype("string")
    return frame


# DuckDB's jaro_winkler_similarity and damerau_levenshtein count UTF-8 bytes, not letters: every Persian letter
# is two bytes sharing the first, so محمد and محسن look 87% alike. Keys are therefore spelled one ASCII
# character per Persian letter (a 1:1 code, not a phonetic one) before splink sees them; Latin keys are
# lower case, so upper case and digits are free for the Persian letters.
TEXT_KEYS = tuple(c for c in model_mod.MODEL_COLUMNS if c.endswith(("_key", "_skel")))  # names, county
_PERSIAN_LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
_ASCII_CODE = str.maketrans(dict(zip(_PERSIAN_LETTERS, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", strict=True)))


def _ascii(series: pd.Series) -> pd.Series:
    values = series.astype(object)
    uniques = pd.unique(values[values.notna()])
    return values.map({u: str(u).translate(_ASCII_CODE) for u in uniques}, na_action="ignore")


def _register(db_api, frame: pd.DataFrame, name: str):
    """Give splink a table. On DuckDB, copy the frame into a real table first: splink's own register()
    only puts a view over the pandas frame, which every scan (14 blocking rules, scoring) converts again."""
    con = getattr(db_api, "_con", None)
    if con is None or not hasattr(con, "execute"):
        return db_api.register(frame, dataset_display_name=name)
    con.register(f"{name}_frame", frame)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_frame")  # noqa: S608 - our own names
    con.unregister(f"{name}_frame")
    return db_api.register(name, dataset_display_name=name)


def _quiet():
    logging.getLogger("splink").setLevel(logging.ERROR)


def _labels(parameters: dict | None) -> dict[str, list[str]]:
    if not parameters:
        return {}
    return {k: v.get("labels", []) for k, v in parameters["comparisons"].items()}


def _evidence(df: pd.DataFrame, labels: dict[str, list[str]]) -> list[str]:
    """JSON per pair: each field's comparison level (label) and match weight (log2 Bayes factor)."""
    fields = [c[len("gamma_") :] for c in df.columns if c.startswith("gamma_")]
    out = []
    records = df[[f"gamma_{f}" for f in fields] + [f"mw_{f}" for f in fields]].to_dict("records")
    for rec in records:
        ev = {}
        for f in fields:
            gamma = int(rec[f"gamma_{f}"])
            mw = rec[f"mw_{f}"]
            names = labels.get(f, [])
            # gamma: -1 = missing, else levels counted from the else level (0) up to exact (n-1).
            label = (
                "missing"
                if gamma < 0
                else (names[len(names) - 1 - gamma] if gamma < len(names) else str(gamma))
            )
            ev[f] = {"level": label, "weight": 0.0 if mw is None or math.isnan(mw) else round(float(mw), 2)}
        out.append(json.dumps(ev, ensure_ascii=False))
    return out


def _linker(db_api, tables, parameters: dict | None, prior: float):
    _quiet()
    settings = model_mod.settings(parameters=parameters, prior=prior)
    return Linker(tables, settings, log_level=None)


def link_sources(
    frames: dict[str, pd.DataFrame], config: LinkConfig | None = None, progress: Progress = None
) -> LinkResult:
    """Link records of several sources (and duplicates within a source) into clusters of one person.

    `frames`: source name → raw person records (the person-record columns; strings). Returns every input
    record once with its cluster, and the review pairs (between the review and auto-link thresholds, not
    already in the same cluster).
    """
    config = config or LinkConfig()
    stages: dict[str, float] = {}
    t = time.perf_counter()

    def stage(name: str, fraction: float) -> None:
        nonlocal t
        now = time.perf_counter()
        stages[name] = round(now - t, 3)
        t = now
        if progress:
            progress(name, fraction)

    parts = []
    for source, frame in frames.items():
        p = prepare(frame)
        p["source"] = source
        parts.append(p)
    prepared = pd.concat(parts, ignore_index=True) if parts else prepare(pd.DataFrame(columns=["record_id"]))
    n = len(prepared)
    stage("prepare", 0.2)

    ids = prepared[["source", "record_id"]].copy()
    if n < 2:
        clusters = ids.assign(cluster_id=[f"c{i}" for i in range(n)], match_probability=np.nan)
        return LinkResult(clusters=clusters, review=_empty_review(), stages=stages)

    parameters = None if config.train else model_mod.load_parameters(config.parameters_path)
    prior = config.prior or min(0.5, 1.0 / max(n - 1, 1))
    db_api = _db_api(config)
    table = _register(db_api, _model_frame(prepared), "records")
    linker = _linker(db_api, table, parameters, prior)
    if parameters is None or config.estimate_u:
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        if parameters is None:
            _train_m(linker)
            # The same fixed levels, floors and neutral levels as the shipped model, then score with them.
            parameters = model_mod.parameters_from_model(linker.misc.save_model_to_json())
            linker = _linker(db_api, table, parameters, prior)
    stage("train", 0.35)

    predictions = linker.inference.predict(threshold_match_probability=config.review_threshold)
    scored = predictions.as_pandas_dataframe()
    stage("predict", 0.75)

    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=config.auto_link_threshold
    )
    cl = clustered.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    stage("cluster", 0.9)

    uid = cl["unique_id"].astype(np.int64).to_numpy()
    cluster_of = np.empty(n, dtype=np.int64)
    cluster_of[uid] = cl["cluster_id"].astype(np.int64).to_numpy()
    clusters, review = _assemble(ids, cluster_of, scored, config, _labels(parameters))
    for obj in (predictions, clustered, table):
        with contextlib.suppress(Exception):  # cleanup of temporary tables is best effort
            obj.drop_table_from_database_and_remove_from_cache()
    stage("assemble", 1.0)
    return LinkResult(clusters=clusters, review=review, stages=stages, pairs_scored=len(scored))


def _empty_review() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["source_l", "record_id_l", "source_r", "record_id_r", "match_probability", "evidence"]
    )


def _assemble(ids: pd.DataFrame, cluster_of: np.ndarray, scored: pd.DataFrame, config: LinkConfig, labels):
    n = len(ids)
    # Stable cluster ids: clusters numbered in order of their first record (input order).
    _, first_idx, inverse = np.unique(cluster_of, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_idx))
    cluster_num = order[inverse]
    best = np.full(n, np.nan)
    if len(scored):
        il = scored["unique_id_l"].astype(np.int64).to_numpy()
        ir = scored["unique_id_r"].astype(np.int64).to_numpy()
        p = scored["match_probability"].to_numpy()
        linked = (p >= config.auto_link_threshold) & (cluster_num[il] == cluster_num[ir])
        for side in (il, ir):
            s = pd.Series(p[linked]).groupby(side[linked]).max()
            idx = s.index.to_numpy()
            best[idx] = np.fmax(best[idx], s.to_numpy())
    width = max(6, len(str(int(cluster_num.max()) + 1)) if n else 6)
    clusters = ids.assign(
        cluster_id=[f"c{int(c) + 1:0{width}d}" for c in cluster_num],
        match_probability=np.round(best, 6),
    )
    if not len(scored):
        return clusters, _empty_review()
    between = (p < config.auto_link_threshold) & (cluster_num[il] != cluster_num[ir])
    rv = scored.loc[between].copy()
    if not len(rv):
        return clusters, _empty_review()
    il, ir = il[between], ir[between]
    review = pd.DataFrame(
        {
            "source_l": ids["source"].to_numpy()[il],
            "record_id_l": ids["record_id"].to_numpy()[il],
            "source_r": ids["source"].to_numpy()[ir],
            "record_id_r": ids["record_id"].to_numpy()[ir],
            "match_probability": rv["match_probability"].round(6).to_numpy(),
            "evidence": _evidence(rv, labels),
        }
    ).sort_values("match_probability", ascending=False, ignore_index=True)
    return clusters, review


def link_incremental(
    new: pd.DataFrame, registry: pd.DataFrame, config: LinkConfig | None = None, progress: Progress = None
) -> pd.DataFrame:
    """Candidate registry persons for each new record (pairs above the review threshold).

    `new` and `registry` are raw person records (registry `record_id` = the registry person's id) or the
    output of `prepare()` (detected by its `nc` column; pass prepared registries to save time). Returns
    columns record_id, registry_id, match_probability, evidence; a new record with no row is a new person.
    The model is not retrained: the shipped parameters score the pairs.
    """
    config = config or LinkConfig()
    cols = ["record_id", "registry_id", "match_probability", "evidence"]
    new_p = new if "nc" in new.columns else prepare(new)
    reg_p = registry if "nc" in registry.columns else prepare(registry)
    if progress:
        progress("prepare", 0.3)
    if not len(new_p) or not len(reg_p):
        return pd.DataFrame(columns=cols)
    parameters = model_mod.load_parameters(config.parameters_path)
    if parameters is None:
        raise RuntimeError("no trained parameters: run train_parameters() first")
    prior = config.prior or min(0.5, 1.0 / max(len(reg_p), 1))
    db_api = _db_api(config)
    left = _register(db_api, _model_frame(new_p, "n"), "new_records")
    right = _register(db_api, _model_frame(reg_p, "r"), "registry")
    linker = _linker(db_api, right, parameters, prior)
    for col in TF_COLUMNS:  # term frequencies of the registry (predict_between needs them registered)
        linker.table_management.compute_tf_table(col)
    predictions = linker.inference.predict_between(
        left, right, threshold_match_probability=config.review_threshold, warning_mode="never"
    )
    scored = predictions.as_pandas_dataframe()
    if progress:
        progress("predict", 0.9)
    if not len(scored):
        return pd.DataFrame(columns=cols)
    # predict_between keeps the roles but splink may order a pair's ids either way: normalise.
    l_is_new = scored["unique_id_l"].astype(str).str.startswith("n")
    new_uid = (
        scored["unique_id_l"].where(l_is_new, scored["unique_id_r"]).astype(str).str[1:].astype(np.int64)
    )
    reg_uid = (
        scored["unique_id_r"].where(l_is_new, scored["unique_id_l"]).astype(str).str[1:].astype(np.int64)
    )
    out = pd.DataFrame(
        {
            "record_id": new_p["record_id"].to_numpy()[new_uid.to_numpy()],
            "registry_id": reg_p["record_id"].to_numpy()[reg_uid.to_numpy()],
            "match_probability": scored["match_probability"].round(6).to_numpy(),
            "evidence": _evidence(scored, _labels(parameters)),
        }
    )
    out = out.sort_values(["record_id", "match_probability"], ascending=[True, False], ignore_index=True)
    if progress:
        progress("done", 1.0)
    return out.drop_duplicates(["record_id", "registry_id"], ignore_index=True)


def _train_m(linker) -> None:
    """m by expectation maximisation on complementary blocks (each frees the other's fields).

    first_name's levels read the national code and both names, so a third block on neither trains them; a
    block that finds no pairs in this data (no father's names, say) is passed over for the next one.
    """
    from splink import block_on
    from splink.internals.exceptions import EMTrainingException

    sessions = [
        [("nc",)],
        [("first_key", "last_key", "by_any")],
        [("bd", "father_key"), ("bd", "county_key"), ("bd", "address_numbers")],
    ]
    for alternatives in sessions:
        for columns in alternatives:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*columns), record_sample_proportion=1.0
                )
                break
            except EMTrainingException:
                continue


def train_parameters(frames: dict[str, pd.DataFrame], out: str | Path | None = None, config=None) -> dict:
    """Train u (random sampling) and m (EM on blocks) on `frames`; write parameters JSON; return it."""
    config = config or LinkConfig()
    parts = []
    for source, frame in frames.items():
        p = prepare(frame)
        p["source"] = source
        parts.append(p)
    prepared = pd.concat(parts, ignore_index=True)
    db_api = _db_api(config)
    table = _register(db_api, _model_frame(prepared), "records")
    linker = _linker(db_api, table, None, 1.0 / len(prepared))
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    _train_m(linker)
    params = model_mod.parameters_from_model(linker.misc.save_model_to_json())
    Path(out or model_mod.PARAMETERS_PATH).write_text(
        json.dumps(params, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return params
