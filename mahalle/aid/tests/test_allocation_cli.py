"""`mahalle allocate`: files in, allocation file and JSON summary out, clear errors, no database.

These tests have no `db` fixture: pytest-django fails any test that touches the database, which is how
"the command uses no database" is checked."""

import csv
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mahalle import cli


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return {
        "stock": write(tmp_path / "stock.csv", "warehouse_id,units\nW1,5\nW2,3\n"),
        "need": write(tmp_path / "need.csv", "region_id,need,weight\nA,4,1\nB,4,2\nC,2,1\n"),
        "reach": write(
            tmp_path / "reach.csv", "warehouse_id,region_id,distance_km\nW1,A,10\nW1,B,1\nW2,A,3\nW2,C,2.5\n"
        ),
        "out": str(tmp_path / "allocation.csv"),
    }


def run(capsys, files, *extra, reach=True):
    args = ["--stock", files["stock"], "--need", files["need"], "--out", files["out"], "--json", *extra]
    if reach:
        args += ["--reach", files["reach"]]
    call_command("allocate", *args)
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def read_out(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_round_trip(capsys, files):
    summary, err = run(capsys, files)
    # Equity: 8 units for 10 of need; C (need 2) only via W2, A via W1/W2, B via W1. Floor 3/4: A 3, B 3, C 2.
    assert read_out(files["out"]) == [
        ["warehouse_id", "region_id", "units"],
        ["W1", "A", "2"],
        ["W1", "B", "3"],
        ["W2", "A", "1"],
        ["W2", "C", "2"],
    ]
    assert summary["status"] == "optimal"
    assert summary["min_coverage"] == 0.75
    assert summary["min_coverage_exact"] == "3/4"
    assert summary["weighted_units"] == 11.0
    assert summary["total_distance_km"] == 2 * 10 + 3 * 1 + 1 * 3 + 2 * 2.5
    assert summary["totals"]["allocated"] == 8
    assert summary["totals"]["rows"] == 4
    assert summary["unreachable_regions"] == []
    assert [stage["status"] for stage in summary["stages"].values()] == ["optimal"] * 3
    assert "stage 1 (equity)" in err and "wrote" in err  # progress on stderr, not stdout


def test_without_reach_everything_is_reachable_at_zero_km(capsys, files):
    summary, _ = run(capsys, files, reach=False)
    assert summary["total_distance_km"] == 0.0
    assert summary["min_coverage"] == 0.75


def test_unreachable_regions_are_visible_in_the_json(capsys, files, tmp_path):
    files["reach"] = write(tmp_path / "reach.csv", "warehouse_id,region_id,distance_km\nW1,A,1\nW2,B,1\n")
    summary, _ = run(capsys, files)
    assert summary["unreachable_regions"] == ["C"]
    assert summary["totals"]["need_unreachable"] == 2
    assert summary["min_coverage"] == 0.75  # B: 3 of 4 from W2
    assert summary["min_coverage_including_unreachable"] == 0.0


def test_text_summary_without_json(capsys, files):
    call_command("allocate", "--stock", files["stock"], "--need", files["need"], "--out", files["out"])
    out = capsys.readouterr().out
    assert out.startswith("status optimal; min coverage 0.7500 (3/4)")


def test_greedy_method(capsys, files):
    summary, _ = run(capsys, files, "--method", "greedy")
    assert summary["status"] == "heuristic"


def test_bom_windows_1256_whitespace_and_persian_digits(capsys, files, tmp_path):
    files["stock"] = write(
        tmp_path / "stock.csv", "\ufeff Warehouse_ID ; Units \r\nانبار۱ ; ۵\r\n\r\n", "utf-8"
    )
    files["need"] = write(
        tmp_path / "need.csv", "region_id,need,weight\nپايگاه يك, 4 ,1\nB,2,0.5\n", "cp1256"
    )
    summary, _ = run(capsys, files, reach=False)
    assert read_out(files["out"]) == [
        ["warehouse_id", "region_id", "units"],
        ["انبار1", "B", "2"],
        ["انبار1", "پایگاه یک", "3"],  # Arabic ي/ك read as Persian ی/ک
    ]
    assert summary["min_coverage"] == 0.75


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("stock", "", "stock.csv: the file is empty"),
        ("stock", "warehouse_id,units\n", "stock.csv: the file has a header but no rows"),
        ("stock", "warehouse,units\nW1,5\n", "stock.csv, row 1: the header lacks the column(s) warehouse_id"),
        ("stock", "warehouse_id,units\nW1,5\nW2,-3\n", "stock.csv, row 3, column 'units': '-3' is negative"),
        ("stock", "warehouse_id,units\nW1,2.5\n", "stock.csv, row 2, column 'units': '2.5' is fractional"),
        ("stock", "warehouse_id,units\nW1,five\n", "stock.csv, row 2, column 'units': 'five' is not a number"),
        ("stock", "warehouse_id,units\nW1,\n", "stock.csv, row 2, column 'units': is empty"),
        ("stock", "warehouse_id,units\nW1,1\nW1,2\n", "stock.csv, row 3, column 'warehouse_id': 'W1' appears twice"),
        ("stock", "warehouse_id,units\n,1\n", "stock.csv, row 2, column 'warehouse_id': is empty"),
        ("stock", "warehouse_id,units\nW1,1,extra\n", "stock.csv, row 2: 3 fields but the header has 2 columns"),
        ("stock", 'warehouse_id,units\n"W1,1\n', "stock.csv, row 2: the CSV is malformed"),
        ("need", "region_id,need\nA,4\n", "need.csv, row 1: the header lacks the column(s) weight"),
        ("need", "region_id,need,weight\nA,4,-1\n", "need.csv, row 2, column 'weight': '-1' is negative"),
        ("need", "region_id,need,weight\nA,4,nan\n", "need.csv, row 2, column 'weight': 'nan' is not a number"),
        ("need", "region_id,need,weight\nA,4,1\nA,1,1\n", "need.csv, row 3, column 'region_id': 'A' appears twice"),
        ("need", "region_id,need,weight\nA,1.5,1\n", "need.csv, row 2, column 'need': '1.5' is fractional"),
        ("reach", "warehouse_id,region_id,distance_km\nW9,A,1\n", "reach.csv, row 2, column 'warehouse_id': 'W9' is not a warehouse"),
        ("reach", "warehouse_id,region_id,distance_km\nW1,Z,1\n", "reach.csv, row 2, column 'region_id': 'Z' is not a region"),
        ("reach", "warehouse_id,region_id,distance_km\nW1,A,-1\n", "reach.csv, row 2, column 'distance_km': '-1' is negative"),
        ("reach", "warehouse_id,region_id,distance_km\nW1,A,1\nW1,A,2\n", "reach.csv, row 3, column 'region_id': the pair (W1, A) appears twice"),
        ("reach", "warehouse_id,region_id\nW1,A\n", "reach.csv, row 1: the header lacks the column(s) distance_km"),
    ],
)  # fmt: skip
def test_malformed_input_is_a_clear_error(files, tmp_path, name, content, message):
    files[name] = write(tmp_path / f"{name}.csv", content)
    with pytest.raises(CommandError) as caught:
        call_command(
            "allocate",
            "--stock", files["stock"], "--need", files["need"], "--reach", files["reach"], "--out", files["out"],
        )  # fmt: skip
    assert message in str(caught.value)
    assert not (tmp_path / "allocation.csv").exists()


def test_whole_units_written_as_decimals_are_accepted(capsys, files, tmp_path):
    files["stock"] = write(tmp_path / "stock.csv", "warehouse_id,units\nW1,5.0\nW2,3\n")
    summary, _ = run(capsys, files)
    assert summary["totals"]["stock"] == 8


def test_missing_file_and_unwritable_output(files, tmp_path):
    with pytest.raises(CommandError, match="nothing.csv: the file cannot be read"):
        call_command(
            "allocate",
            "--stock",
            str(tmp_path / "nothing.csv"),
            "--need",
            files["need"],
            "--out",
            files["out"],
        )
    with pytest.raises(CommandError, match="the folder .* does not exist"):
        call_command(
            "allocate",
            "--stock",
            files["stock"],
            "--need",
            files["need"],
            "--out",
            str(tmp_path / "no" / "a.csv"),
        )


def test_console_script_exit_status(files, tmp_path, capsys):
    args = ["allocate", "--stock", files["stock"], "--need", files["need"], "--out", files["out"], "--json"]
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "optimal"
    bad = write(tmp_path / "bad.csv", "warehouse_id,units\nW1,-1\n")
    assert cli.main(["allocate", "--stock", bad, "--need", files["need"], "--out", files["out"]]) != 0
    assert "bad.csv, row 2, column 'units'" in capsys.readouterr().err
