"""The operator commands: createuser, token, synth, and the demo's setup (no servers started)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from mahalle.accounts.models import ApiToken, Role, User
from mahalle.cli import main
from mahalle.geo.models import Level
from mahalle.registry.models import Person
from mahalle.synth.demo import DEMO_PASSWORD, demo_setup

pytestmark = pytest.mark.django_db


def test_createuser_creates_a_user_in_its_units(tree, capsys):
    call_command(
        "create_user",
        "mina",
        "--role",
        "county_coordinator",
        "--org-unit",
        "CA",
        "--org-unit",
        "CB",
        "--password",
        "a-long-enough-pass",
        "--json",
    )
    result = json.loads(capsys.readouterr().out)
    user = User.objects.get(username="mina")
    assert result == {
        "id": user.pk,
        "username": "mina",
        "role": "county_coordinator",
        "org_units": ["CA", "CB"],
    }
    assert user.role == Role.COUNTY_COORDINATOR
    assert sorted(user.org_units.values_list("code", flat=True)) == ["CA", "CB"]
    assert user.check_password("a-long-enough-pass")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "king", "--org-unit", "CA"], "unknown role 'king'"),
        (["--role", "analyst", "--org-unit", "NOPE"], "unknown org unit code(s): NOPE"),
        (["--role", "analyst", "--org-unit", "CA", "--password", "short"], "password"),
    ],
)
def test_createuser_refuses_bad_input(tree, args, message):
    extra = [] if "--password" in args else ["--password", "a-long-enough-pass"]
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("create_user", "mina", *args, *extra)
    assert not User.objects.filter(username="mina").exists()


def test_createuser_refuses_a_taken_username(users):
    with pytest.raises(CommandError, match="this username is taken"):
        call_command(
            "create_user", "analyst", "--role", "analyst", "--org-unit", "IR", "--password", "x" * 12
        )


def test_console_script_exits_non_zero_with_a_clear_message(tree, capsys, monkeypatch):
    # run_from_argv closes every connection when it ends; the test's transaction needs its connection.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    code = main(
        ["createuser", "mina", "--role", "king", "--org-unit", "CA", "--password", "a-long-enough-pass"]
    )
    assert code == 1
    assert "unknown role 'king'" in capsys.readouterr().err
    assert main(["token", "ghost", "--name", "x"]) == 1
    assert "unknown user 'ghost'" in capsys.readouterr().err


def test_token_prints_the_secret_once_and_stores_its_hash(users, capsys):
    call_command("create_token", "partner_staff", "--name", "red crescent", "--json")
    result = json.loads(capsys.readouterr().out)
    token = ApiToken.objects.get(pk=result["id"])
    assert token.user == users["partner_staff"]
    assert token.name == "red crescent"
    assert token.key_hash == ApiToken.hash(result["token"])
    assert result["token"] not in token.key_hash


def test_token_refuses_unknown_user_and_empty_name(users):
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        call_command("create_token", "ghost", "--name", "x")
    with pytest.raises(CommandError, match="--name must not be empty"):
        call_command("create_token", "analyst", "--name", "  ")
    assert ApiToken.objects.count() == 0


def test_synth_command_reports_json(capsys):
    call_command("synth", "--persons", "300", "--seed", "4", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["persons"] == 300
    assert Person.objects.count() == 300


def test_demo_setup_is_idempotent_and_places_users_sensibly():
    first = demo_setup(persons=1500, seed=1)
    second = demo_setup(persons=1500, seed=1)
    assert first["synth"]["persons"] == 1500
    assert second["synth"] is None
    assert Person.objects.count() == 1500
    assert User.objects.count() == 8
    assert sorted(User.objects.values_list("role", flat=True)) == sorted(Role.values)
    assert [r["password"] for r in first["users"]] == [DEMO_PASSWORD] * 8
    volunteer = User.objects.get(username="volunteer").org_units.get()
    assert volunteer.level == Level.POST
    assert Person.objects.filter(org_unit=volunteer).exists()
    homes = {u.username: u.org_units.get() for u in User.objects.all()}
    county = homes["county"]
    assert county.level == Level.COUNTY and volunteer.is_within(county)
    assert homes["partner"] == county
    assert homes["province"] == county.parent
    assert homes["supervisor"] == volunteer
    assert {homes[n].code for n in ("national", "analyst", "admin")} == {"IR"}
    assert User.objects.get(username="admin").check_password(DEMO_PASSWORD)


def test_demo_command_setup_only_prints_the_users_table(capsys):
    call_command("demo", "--persons", "200", "--setup-only")
    out = capsys.readouterr().out
    assert "volunteer" in out and "field_volunteer" in out and DEMO_PASSWORD in out
    assert "demo ready" in out
