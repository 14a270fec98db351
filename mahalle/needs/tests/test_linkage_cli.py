"""The standalone CLIs: `mahalle link`, `link-eval-data`, `link-evaluate` (no database)."""

import csv
import json
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

HEADER = (
    "record_id,national_code,first_name,last_name,father_name,birth_date,sex,mobile,province,county,address\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def link(*files, **opts) -> tuple[pd.DataFrame, dict]:
    out = Path(files[0]).parent / "clusters.csv"
    stdout = StringIO()
    call_command(
        "link_records",
        *[str(f) for f in files],
        out=str(out),
        json=True,
        stdout=stdout,
        stderr=StringIO(),
        **opts,
    )
    return pd.read_csv(out, dtype=str, keep_default_na=False), json.loads(stdout.getvalue())


@pytest.fixture
def lists(tmp_path):
    a = write(
        tmp_path / "relief.csv",
        HEADER
        + "a1,0012345679,محمد رضا,محمدی,علی,1369/02/22,M,09121234567,تهران,تهران,خیابان امام کوچه 12 پلاک 7\n"
        + "a2,,فاطمه,احمدی,حسن,1375,F,,تهران,تهران,\n"
        + "a3,4444444444,زهرا,کریمی,مهدی,1380/01/01,F,09350000000,فارس,شیراز,\n",
    )
    b = write(
        tmp_path / "donors.csv",
        "\ufeff"
        + HEADER.replace("\n", ",note\n")
        + "b1,۰۰۱-۲۳۴۵۶۷-۹,سيد محمدرضا,محمدي,علي,1990-05-12,مرد,+98 912 123 4567,تهران,تهران,خ امام ک ۱۲ پ ۷,x\n"
        + "b2,0098765432,علی,رضایی,حسین,1360,M,,تهران,ری,,y\n",
    )
    return a, b


def test_link_every_record_once_with_exact_columns(lists):
    clusters, summary = link(*lists)
    assert list(clusters.columns) == ["source", "record_id", "cluster_id", "match_probability"]
    assert sorted(zip(clusters.source, clusters.record_id, strict=True)) == [
        ("donors", "b1"),
        ("donors", "b2"),
        ("relief", "a1"),
        ("relief", "a2"),
        ("relief", "a3"),
    ]
    by_id = clusters.set_index("record_id")
    assert by_id.loc["a1", "cluster_id"] == by_id.loc["b1", "cluster_id"]
    assert float(by_id.loc["a1", "match_probability"]) >= 0.99
    assert len(set(clusters.cluster_id)) == 4
    assert by_id.loc["a2", "match_probability"] == ""  # alone in its cluster: empty
    assert summary["records"] == 5
    assert summary["sources"] == {"relief": 3, "donors": 2}
    assert summary["clusters"] == 4
    assert summary["clusters_with_several_records"] == 1
    assert set(summary["seconds"]) >= {"read", "prepare", "train", "predict", "cluster", "write"}


def test_link_windows_1256_and_missing_columns(tmp_path):
    a = write(
        tmp_path / "a.csv", "record_id,first_name,last_name,birth_date\n1,علي,محمدي,1369/02/22\n", "cp1256"
    )
    b = write(tmp_path / "b.csv", "record_id;first_name;last_name;birth_date\n1;علی;محمدی;1990-05-12\n")
    clusters, summary = link(a, b)
    assert len(clusters) == 2
    assert summary["missing_columns"]["a"] == [
        "national_code",
        "father_name",
        "sex",
        "mobile",
        "province",
        "county",
        "address",
    ]


def test_link_skips_empty_rows_and_reports_them(tmp_path):
    a = write(tmp_path / "a.csv", HEADER + "1,,علی,محمدی,,,,,,,\n2,,,,,,,,,,\n,,حسن,رضایی,,,,,,,\n")
    b = write(tmp_path / "b.csv", HEADER + "1,,علی,محمدی,,,,,,,\n")
    clusters, summary = link(a, b)
    assert sorted(zip(clusters.source, clusters.record_id, strict=True)) == [("a", "1"), ("b", "1")]
    assert summary["skipped_rows"] == {
        "a": [{"row": 3, "reason": "every person field is empty"}, {"row": 4, "reason": "record_id is empty"}]
    }


def test_link_duplicate_record_id_is_an_error_and_writes_nothing(tmp_path):
    a = write(tmp_path / "a.csv", HEADER + "1,,علی,محمدی,,,,,,,\n1,,حسن,رضایی,,,,,,,\n")
    with pytest.raises(CommandError, match="record_id used more than once"):
        call_command("link_records", str(a), out=str(tmp_path / "out.csv"), stderr=StringIO())
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("first_name,last_name\nعلی,محمدی\n", "no record_id column"), ("", "the file is empty")],
)
def test_link_bad_files(tmp_path, content, message):
    a = write(tmp_path / "a.csv", content)
    with pytest.raises(CommandError, match=message):
        call_command("link_records", str(a), out=str(tmp_path / "out.csv"), stderr=StringIO())


def test_link_same_stem_twice_is_an_error(tmp_path):
    (tmp_path / "x").mkdir()
    a = write(tmp_path / "a.csv", HEADER)
    b = write(tmp_path / "x" / "a.csv", HEADER)
    with pytest.raises(CommandError, match="same name"):
        call_command("link_records", str(a), str(b), out=str(tmp_path / "out.csv"), stderr=StringIO())


def test_link_review_out(lists, tmp_path):
    review = tmp_path / "review.csv"
    link(*lists, review_out=str(review))
    with open(review, encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == [
            "source_l",
            "record_id_l",
            "source_r",
            "record_id_r",
            "match_probability",
            "evidence",
        ]


def test_eval_data_and_evaluate_round_trip(tmp_path):
    out = tmp_path / "eval"
    stdout = StringIO()
    call_command("link_eval_data", out=str(out), persons=300, agencies=3, seed=5, json=True, stdout=stdout)
    summary = json.loads(stdout.getvalue())
    files = sorted(p.name for p in out.iterdir())
    assert files == ["foundation.csv", "red_crescent.csv", "relief_committee.csv", "truth.csv"]
    truth = pd.read_csv(out / "truth.csv", dtype=str)
    assert len(truth) == summary["records"]
    assert truth.groupby("source").size().to_dict() == summary["files"]
    # Perfect clusters score 1.0.
    perfect = truth.rename(columns={"person_id": "cluster_id"})
    perfect.to_csv(tmp_path / "perfect.csv", index=False)
    stdout = StringIO()
    call_command(
        "link_evaluate",
        clusters=str(tmp_path / "perfect.csv"),
        truth=str(out / "truth.csv"),
        json=True,
        stdout=stdout,
    )
    scores = json.loads(stdout.getvalue())
    assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 1.0, 1.0)


def test_eval_data_is_deterministic(tmp_path):
    call_command("link_eval_data", out=str(tmp_path / "x"), persons=200, seed=9, stdout=StringIO())
    call_command("link_eval_data", out=str(tmp_path / "y"), persons=200, seed=9, stdout=StringIO())
    for name in ("relief_committee.csv", "truth.csv"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes()


def test_evaluate_needs_inputs():
    with pytest.raises(CommandError, match="--clusters and --truth"):
        call_command("link_evaluate", stdout=StringIO())
