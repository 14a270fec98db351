"""`mahalle rt` end to end: files in, files out, through mahalle.cli.main as a user runs it."""

import csv
import json
from pathlib import Path

import pytest

from mahalle.cli import main

DATA = Path(__file__).parent / "data"


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def assert_output_matches(out: Path, reference: str):
    got = read_rows(out)
    want = read_rows(DATA / reference)
    assert list(got[0].keys()) == ["date_start", "date_end", "mean", "std", "lower", "upper"]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g["date_start"], g["date_end"]) == (w["date_start"], w["date_end"])
        for col, ref in [("mean", "mean"), ("std", "std"), ("lower", "q0025"), ("upper", "q0975")]:
            assert round(float(g[col]), 4) == round(float(w[ref]), 4), (g["date_end"], col)


def flu2009_local_csv(tmp_path: Path) -> Path:
    """Flu2009 in the CLI's own format: date, local, imported (the first case imported, as EpiEstim reads it)."""
    rows = read_rows(DATA / "flu2009_incidence.csv")
    lines = ["date,local,imported"]
    for i, row in enumerate(rows):
        lines.append(f"{row['date']},{0 if i == 0 else row['I']},{row['I'] if i == 0 else 0}")
    return write(tmp_path / "flu.csv", "\n".join(lines) + "\n")


def test_flu2009_given_distribution_reproduces_epiestim(tmp_path, capsys):
    out = tmp_path / "rt.csv"
    code = main(
        [
            "rt",
            str(flu2009_local_csv(tmp_path)),
            "--out",
            str(out),
            "--si-distr",
            str(DATA / "flu2009_si_distr.csv"),
        ]
    )
    assert code == 0
    assert_output_matches(out, "epiestim_example1_non_parametric_si.csv")
    assert "25 windows of 7 days" in capsys.readouterr().out


def test_flu2009_parametric_reproduces_epiestim(tmp_path):
    out = tmp_path / "rt.csv"
    code = main(
        [
            "rt",
            str(flu2009_local_csv(tmp_path)),
            "--out",
            str(out),
            "--si-mean",
            "2.6",
            "--si-sd",
            "1.5",
            "--window",
            "7",
        ]
    )
    assert code == 0
    assert_output_matches(out, "epiestim_example3_parametric_si.csv")


def test_total_column_i_is_read_as_epiestim_reads_a_total(tmp_path):
    out = tmp_path / "rt.csv"
    code = main(
        ["rt", str(DATA / "flu2009_incidence.csv"), "--out", str(out), "--si-mean", "2.6", "--si-sd", "1.5"]
    )
    assert code == 0
    assert_output_matches(out, "epiestim_example3_parametric_si.csv")


def test_json_summary_reports_reliability(tmp_path, capsys):
    out = tmp_path / "rt.csv"
    code = main(
        [
            "rt",
            str(flu2009_local_csv(tmp_path)),
            "--out",
            str(out),
            "--si-distr",
            str(DATA / "flu2009_si_distr.csv"),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["windows"] == 25
    assert summary["days"] == 32
    assert summary["cases"] == {"local": 128, "imported": 1}
    assert summary["min_cases_reliable"] == 11
    assert summary["unreliable_windows"] == 6
    assert summary["reliable"][0] == {"date_end": "2009-05-04", "cases": 17, "reliable": True}
    assert summary["reliable"][-1] == {"date_end": "2009-05-28", "cases": 4, "reliable": False}
    assert summary["serial_interval"]["discrete_mean"] == 2.596
    assert summary["filled_dates"] == [] and summary["sorted_rows"] is False


def test_gaps_are_filled_with_zero_and_unsorted_rows_sorted(tmp_path, capsys):
    full = tmp_path / "full.csv"
    write(
        full,
        "date,local,imported\n"
        + "".join(
            f"2024-03-{d:02d},{c},{1 if d == 1 else 0}\n"
            for d, c in zip(range(1, 16), [0, 2, 0, 4, 5, 3, 0, 6, 7, 8, 0, 9, 6, 5, 4], strict=True)
        ),
    )
    gappy = tmp_path / "gappy.csv"  # the zero days left out, the rest shuffled, Persian digits on one row
    write(
        gappy,
        "date,local,imported\n2024-03-09,7,0\n2024-03-01,0,1\n2024-03-02,2,0\n2024-03-04,4,0\n"
        "2024-03-05,5,0\n2024-03-06,3,0\n2024-03-08,6,0\n2024-03-10,۸,0\n2024-03-12,9,0\n2024-03-13,6,0\n"
        "2024-03-14,5,0\n2024-03-15,4,0\n",
    )
    assert main(["rt", str(full), "--out", str(tmp_path / "a.csv"), "--window", "5"]) == 0
    capsys.readouterr()
    assert main(["rt", str(gappy), "--out", str(tmp_path / "b.csv"), "--window", "5", "--json"]) == 0
    captured = capsys.readouterr()
    assert read_rows(tmp_path / "a.csv") == read_rows(tmp_path / "b.csv")
    summary = json.loads(captured.out)
    assert summary["filled_dates"] == ["2024-03-03", "2024-03-07", "2024-03-11"]
    assert summary["sorted_rows"] is True
    assert "3 missing date(s) between 2024-03-01 and 2024-03-15 counted as 0 cases" in captured.err
    assert "sorted by date" in captured.err


def test_window_changes_the_rows(tmp_path):
    out = tmp_path / "rt.csv"
    assert main(["rt", str(flu2009_local_csv(tmp_path)), "--out", str(out), "--window", "14"]) == 0
    rows = read_rows(out)
    assert len(rows) == 18  # t_start 2..19
    assert (rows[0]["date_start"], rows[0]["date_end"]) == ("2009-04-28", "2009-05-11")


@pytest.mark.parametrize(
    "incidence, extra, message",
    [
        ("date,local\n2024-01-01,1\n2024-01-02,-3\n", [], "line 3: column 'local': negative count -3"),
        ("date,local\n2024-01-01,1\n2024-01-02,abc\n", [], "line 3: column 'local': 'abc' is not a number"),
        (
            "date,local\n2024-01-01,1\n2024-01-02,2.5\n",
            [],
            "line 3: column 'local': 2.5 is not a whole number",
        ),
        ("date,local\n2024-01-01,1\n2024-01-02,\n", [], "line 3: column 'local' is empty"),
        ("date,local\n2024-01-01,1\n2024-01-01,2\n", [], "line 3: the date 2024-01-01 is already on line 2"),
        ("date,local\n2024-01-01,1\n2024-13-40,2\n", [], "line 3: column 'date'"),
        ("day,local\n2024-01-01,1\n", [], "the header has no 'date' column"),
        ("date,cases\n2024-01-01,1\n", [], "the header has no 'local' column"),
        ("date,local,imported\n2024-01-01,1,x\n", [], "line 2: column 'imported': 'x' is not a number"),
        ("", [], "the file is empty"),
        ("date,I\n2024-01-01,1\n2024-01-02,-2\n", [], "line 3: column 'I': negative count -2"),
        ("date,local,I\n2024-01-01,1,1\n", [], "give either 'local' (with 'imported') or 'i', not both"),
        ("date,local\n", [], "no data rows"),
        (
            "date,local\n2024-01-01,1\n2024-01-02,2\n",
            [],
            "2 days of incidence are too few for a 7-day window",
        ),
        ("date,local\n2024-01-01,1\n", ["--si-mean", "3", "--si-distr", "w.csv"], "not both"),
        (
            "date,local\n" + "".join(f"2024-01-{d:02d},1\n" for d in range(1, 11)),
            ["--si-mean", "0.5"],
            "mean must be > 1 day",
        ),
    ],
)
def test_bad_incidence_fails_with_a_clear_message_and_writes_nothing(
    tmp_path, capsys, incidence, extra, message
):
    path = write(tmp_path / "inc.csv", incidence)
    out = tmp_path / "rt.csv"
    code = main(["rt", str(path), "--out", str(out), *extra])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "w, message",
    [
        ("w\n0.1\n0.5\n0.4\n", "must have w[0] = 0 (got 0.1)"),
        ("w\n0\n0.5\n0.4\n", "must sum to 1 (within 0.01); it sums to 0.9"),
        ("w\n0\n0.5\n-0.1\n0.6\n", "line 4: negative probability -0.1"),
        ("w\n0\nhalf\n", "line 3: 'half' is not a number"),
        ("p\n0\n1\n", "the header has no 'w' column"),
        ("w\n0\n", "needs at least two values"),
    ],
)
def test_bad_serial_interval_file_fails(tmp_path, capsys, w, message):
    out = tmp_path / "rt.csv"
    wfile = write(tmp_path / "w.csv", w)
    code = main(["rt", str(flu2009_local_csv(tmp_path)), "--out", str(out), "--si-distr", str(wfile)])
    assert code == 1
    err = capsys.readouterr().err
    assert message in err
    assert str(wfile) in err
    assert not out.exists()


def test_missing_input_file_and_bad_window(tmp_path, capsys):
    assert main(["rt", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert (
        main(["rt", str(flu2009_local_csv(tmp_path)), "--out", str(tmp_path / "o.csv"), "--window", "0"]) == 2
    )
    assert "must be at least 1 day" in capsys.readouterr().err


def test_unwritable_output_fails_cleanly(tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "rt.csv"
    assert main(["rt", str(flu2009_local_csv(tmp_path)), "--out", str(out)]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert not out.parent.exists()


def test_rt_command_uses_no_database(tmp_path):
    # no django_db mark: pytest-django makes any database access raise here
    assert main(["rt", str(flu2009_local_csv(tmp_path)), "--out", str(tmp_path / "o.csv")]) == 0


def test_imported_column_reproduces_epiestim_example_2(tmp_path):
    import datetime as dt

    rows = read_rows(DATA / "epiestim_example2_incidence.csv")  # days 0..26, given here as dates
    day0 = dt.date(2024, 1, 1)
    lines = ["date,local,imported"] + [
        f"{day0 + dt.timedelta(days=int(r['day']))},{r['local']},{r['imported']}" for r in rows
    ]
    incidence = write(tmp_path / "inc.csv", "\n".join(lines) + "\n")
    out = tmp_path / "rt.csv"
    assert main(["rt", str(incidence), "--out", str(out), "--si-mean", "2.6", "--si-sd", "1.5"]) == 0
    got = read_rows(out)
    want = read_rows(DATA / "epiestim_example2_imported_parametric_si.csv")
    assert len(got) == len(want) == 20
    for g, w in zip(got, want, strict=True):
        assert g["date_start"] == str(day0 + dt.timedelta(days=int(w["t_start"]) - 1))
        assert g["date_end"] == str(day0 + dt.timedelta(days=int(w["t_end"]) - 1))
        for col, ref in [("mean", "mean"), ("std", "std"), ("lower", "q0025"), ("upper", "q0975")]:
            assert round(float(g[col]), 4) == round(float(w[ref]), 4)
