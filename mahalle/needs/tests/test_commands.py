import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mahalle.accounts.models import Role
from mahalle.needs.models import HouseholdNeed, HouseholdVulnerability
from mahalle.screening.models import ScreeningVisit


def test_needs_catch_up_command(people, users, capsys):
    household = people["post_a1"].household
    ScreeningVisit.objects.create(
        household=household,
        org_unit_id=household.org_unit_id,
        org_path=household.org_path,
        visit_date=timezone.localdate(),
        volunteer=users[Role.FIELD_VOLUNTEER],
        status="screened",
        needs=["food"],
    )
    since = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    call_command("needs_catch_up", "--since", since, "--json")
    assert json.loads(capsys.readouterr().out) == {
        "since": since,
        "visits": 1,
        "follow_ups": 0,
        "deaths": 0,
        "needs_created": 1,
        "households_scored": 1,
    }
    call_command("needs_catch_up", "--since", since)
    assert "0 need(s) recorded from 1 visit(s)" in capsys.readouterr().out
    assert HouseholdNeed.objects.count() == 1


def test_needs_catch_up_refuses_a_bad_date():
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("needs_catch_up", "--since", "yesterday")


def test_vulnerability_refresh_command(people, capsys):
    call_command("vulnerability_refresh", "--json")
    assert json.loads(capsys.readouterr().out)["households"] == 4
    assert HouseholdVulnerability.objects.count() == 4
