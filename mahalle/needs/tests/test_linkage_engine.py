"""The linkage engine: metric correctness, incremental linkage, and an accuracy smoke test."""

import json

import pandas as pd
import pytest

from mahalle.needs.linkage.engine import LinkConfig, link_incremental, link_sources
from mahalle.needs.linkage.evaldata import generate_agency_lists
from mahalle.needs.linkage.evaluate import pairwise_scores


def test_pairwise_scores_hand_made_example():
    # Truth: p1 = {a1, b1, c1}, p2 = {a2, b2}, p3 = {a3}  -> 3 + 1 = 4 true pairs.
    # Clusters: {a1, b1}, {c1}, {a2, b2, a3}           -> 1 + 3 = 4 predicted pairs, 2 of them true.
    truth = pd.DataFrame(
        {
            "source": ["a", "b", "c", "a", "b", "a"],
            "record_id": ["1", "1", "1", "2", "2", "3"],
            "person_id": ["p1", "p1", "p1", "p2", "p2", "p3"],
        }
    )
    clusters = truth[["source", "record_id"]].assign(cluster_id=["x", "x", "y", "z", "z", "z"])
    scores = pairwise_scores(clusters, truth)
    assert scores["true_pairs"] == 4
    assert scores["predicted_pairs"] == 4
    assert scores["true_positive_pairs"] == 2
    assert scores["precision"] == 0.5
    assert scores["recall"] == 0.5
    assert scores["f1"] == 0.5


def test_pairwise_scores_all_singletons():
    truth = pd.DataFrame({"source": ["a", "b"], "record_id": ["1", "1"], "person_id": ["p", "p"]})
    clusters = truth[["source", "record_id"]].assign(cluster_id=["x", "y"])
    scores = pairwise_scores(clusters, truth)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 0.0, 0.0)


def person(**kw):
    base = {
        "record_id": "",
        "national_code": "",
        "first_name": "",
        "last_name": "",
        "father_name": "",
        "birth_date": "",
        "sex": "",
        "mobile": "",
        "province": "تهران",
        "county": "تهران",
        "address": "",
    }
    return {**base, **kw}


def test_twins_stay_apart_and_variants_join():
    # Twins: same parents, birth date, phone and address; different first names and no national code.
    home = {
        "last_name": "محمدی",
        "father_name": "علی",
        "birth_date": "1395/03/01",
        "mobile": "09121112233",
        "address": "خیابان امام کوچه 3 پلاک 9",
    }
    a = pd.DataFrame(
        [
            person(record_id="1", first_name="حسن", sex="M", **home),
            person(record_id="2", first_name="حسین", sex="M", **home),
        ]
    )
    b = pd.DataFrame(
        [
            person(
                record_id="9",
                first_name="حسين",
                sex="مرد",
                **{**home, "birth_date": "2016-05-21", "mobile": "+989121112233"},
            )
        ]
    )
    clusters = link_sources({"a": a, "b": b}).clusters.set_index(["source", "record_id"])["cluster_id"]
    assert clusters[("a", "1")] != clusters[("a", "2")]
    assert clusters[("a", "2")] == clusters[("b", "9")]


def test_link_incremental_finds_the_registry_person():
    registry = pd.DataFrame(
        [
            person(
                record_id="uuid-1",
                national_code="0012345679",
                first_name="محمدرضا",
                last_name="کریمی",
                father_name="حسن",
                birth_date="1990-05-12",
                mobile="09121234567",
            ),
            person(
                record_id="uuid-2", first_name="زهرا", last_name="احمدی", father_name="رضا", birth_date="1985"
            ),
        ]
    )
    new = pd.DataFrame(
        [
            person(
                record_id="n1",
                national_code="۰۰۱۲۳۴۵۶۷۸",
                first_name="سید محمد رضا",
                last_name="كريمي",
                father_name="حسن",
                birth_date="۱۳۶۹/۰۲/۲۲",
                mobile="+989121234567",
            ),
            person(
                record_id="n2", first_name="مریم", last_name="حسینی", father_name="جواد", birth_date="1370"
            ),
        ]
    )
    pairs = link_incremental(new, registry)
    assert list(pairs.columns) == ["record_id", "registry_id", "match_probability", "evidence"]
    assert pairs[["record_id", "registry_id"]].values.tolist() == [["n1", "uuid-1"]]
    assert pairs.loc[0, "match_probability"] >= LinkConfig().auto_link_threshold
    evidence = json.loads(pairs.loc[0, "evidence"])
    assert evidence["national_code"]["level"] == "one-digit typo"
    assert evidence["mobile"]["level"] == "Exact match on mobile10"
    assert evidence["birth_date"]["level"] == "same day"


def test_link_incremental_empty_inputs():
    empty = pd.DataFrame(columns=["record_id"])
    assert link_incremental(empty, pd.DataFrame([person(record_id="r")])).empty


@pytest.fixture(scope="module")
def small_eval():
    lists, truth = generate_agency_lists(n_persons=2500, n_agencies=4, seed=11)
    return {k: pd.DataFrame(v) for k, v in lists.items()}, pd.DataFrame(truth)


def test_accuracy_smoke(small_eval):
    """A small generated set (unseen seed): the Persian-aware engine must stay precise and complete."""
    frames, truth = small_eval
    result = link_sources(frames)
    assert len(result.clusters) == len(truth)
    scores = pairwise_scores(result.clusters, truth)
    assert scores["precision"] >= 0.99, scores
    assert scores["recall"] >= 0.98, scores
