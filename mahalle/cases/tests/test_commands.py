import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mahalle.cases.models import Case, TestOrder

from .factories import order_for


def test_lab_results_file_twice_changes_nothing_the_second_time(tmp_path, users, people, capsys):
    order_for(people["post_a1"], sample_id="F-1", kind="pcr")
    order_for(people["post_a2"], sample_id="F-2", kind="antigen")
    TestOrder.objects.update(sampled_on=None)
    path = tmp_path / "results.csv"
    path.write_text(
        "sample_id,kind,result,result_date,lab\nF-1,pcr,positive,2024-05-01,مركزي\nF-2,antigen,منفي,1403/02/12,\nX-9,pcr,positive,2024-05-01,\n",
        encoding="cp1256",
    )
    call_command("import_lab_results", str(path), "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("import_lab_results", str(path), "--json", "--user", "county_coordinator")
    second = json.loads(capsys.readouterr().out)
    assert first["counts"] == {"created": 2, "invalid": 1}
    assert first["errors"] == [
        {
            "row": 4,
            "sample_id": "X-9",
            "status": "invalid",
            "errors": [
                {"field": "sample_id", "message": "no test order has this sample id in your jurisdiction"}
            ],
        }
    ]
    assert second["counts"] == {"exists": 2, "invalid": 1}
    assert TestOrder.objects.get(sample_id="F-1").lab == "مرکزی"
    assert Case.objects.get().person == people["post_a1"]


def test_a_file_without_the_needed_columns_fails(tmp_path, users):
    path = tmp_path / "results.csv"
    path.write_text("sample,result\nF-1,positive\n")
    with pytest.raises(CommandError, match="the header lacks the column"):
        call_command("import_lab_results", str(path))
