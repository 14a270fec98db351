"""Pairwise precision, recall and F1 of a clustering against the truth (pure: pandas)."""

from __future__ import annotations

import pandas as pd


def _pairs(sizes: pd.Series) -> int:
    s = sizes.astype("int64")
    return int((s * (s - 1) // 2).sum())


def pairwise_scores(clusters: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """`clusters` (source, record_id, cluster_id) and `truth` (source, record_id, person_id).

    A pair of records is predicted when they share a cluster and true when they share a person; records
    missing from either side are ignored (and counted in `unmatched_records`).
    """
    keys = ["source", "record_id"]
    c = clusters[[*keys, "cluster_id"]].astype(str)
    t = truth[[*keys, "person_id"]].astype(str)
    merged = c.merge(t, on=keys, how="inner")
    predicted = _pairs(merged.groupby("cluster_id").size())
    true = _pairs(merged.groupby("person_id").size())
    tp = _pairs(merged.groupby(["cluster_id", "person_id"]).size())
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": len(merged),
        "unmatched_records": int(len(c) + len(t) - 2 * len(merged)),
        "true_pairs": true,
        "predicted_pairs": predicted,
        "true_positive_pairs": tp,
        "false_positive_pairs": predicted - tp,
        "false_negative_pairs": true - tp,
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
    }
