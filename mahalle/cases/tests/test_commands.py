import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mahalle import cli
from mahalle.cases.models import Alert, Case, FollowUp, TestOrder

from .factories import isolation_for, order_for


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


def test_flag_missed_follow_ups_defaults_to_yesterday_and_is_idempotent(users, people, capsys):
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    missed = isolation_for(people["post_a1"], start_date=today - dt.timedelta(days=3))
    done = isolation_for(people["post_a2"], start_date=today - dt.timedelta(days=3))
    isolation_for(people["post_b1"], start_date=today)  # not yet isolated yesterday
    FollowUp.objects.create(
        isolation=done,
        date=yesterday,
        method="call",
        by=users["field_volunteer"],
        org_unit_id=done.org_unit_id,
        org_path=done.org_path,
    )
    call_command("flag_missed_follow_ups", "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("flag_missed_follow_ups", "--json")
    second = json.loads(capsys.readouterr().out)
    assert first == {"day": yesterday.isoformat(), "alerts_created": 1}
    assert second == {"day": yesterday.isoformat(), "alerts_created": 0}
    alert = Alert.objects.get()
    assert (alert.kind, alert.isolation, alert.day) == ("missed_follow_up", missed, yesterday)
    day = (today - dt.timedelta(days=2)).isoformat()
    call_command("flag_missed_follow_ups", "--day", day)
    assert capsys.readouterr().out == f"{day}: 2 missed follow-up alert(s) raised\n"
    assert Alert.objects.count() == 3


def test_flag_missed_follow_ups_refuses_a_bad_or_future_day(db):
    with pytest.raises(CommandError, match="--day must be a date as YYYY-MM-DD, not '1403/02/01x'"):
        call_command("flag_missed_follow_ups", "--day", "1403/02/01x")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match=f"--day {tomorrow} is in the future"):
        call_command("flag_missed_follow_ups", "--day", tomorrow)


def test_cli_maps_the_subcommand(db, capsys):
    assert cli.SUBCOMMANDS["flag-missed-follow-ups"][0] == "flag_missed_follow_ups"
    assert cli.main(["flag-missed-follow-ups", "--day", "2024-01-02", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"day": "2024-01-02", "alerts_created": 0}
