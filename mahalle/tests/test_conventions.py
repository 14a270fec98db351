"""The house rules that must hold everywhere, checked by discovery rather than by review.

- every public function of every app's services module or package is a `@service` (atomic, audited, probed:
  core.service and core.audit_probe), and one that commits item by item says so;
- the audit probe itself catches a write left without its audit event;
- no API module calls the personal-data gate by hand: it is declared once per router (accounts.gates);
- no module in mahalle/ (migrations aside) is over 800 lines, no function over 120 lines.
"""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

import mahalle
from mahalle.core import audit_probe
from mahalle.core.service import service

ROOT = Path(mahalle.__file__).parent
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 120
ITEM_BY_ITEM_PHRASE = "commits item by item"


def _app_modules():
    return [config for config in apps.get_app_configs() if config.name.startswith("mahalle.")]


def services_modules():
    """Every module of every app's `services` (a module, or a package and its submodules)."""
    found = []
    for config in _app_modules():
        try:
            root = importlib.import_module(f"{config.name}.services")
        except ModuleNotFoundError:
            continue
        found.append(root)
        if hasattr(root, "__path__"):
            for info in pkgutil.walk_packages(root.__path__, prefix=f"{root.__name__}."):
                found.append(importlib.import_module(info.name))
    return found


# The audit write itself: every service calls it inside its own transaction (and the probe makes it fail).
NOT_SERVICES = {"mahalle.audit.services"}


def public_services():
    """(qualified name, function) for every public function defined in a services module."""
    result = []
    for module in services_modules():
        if module.__name__ in NOT_SERVICES:
            continue
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            result.append((f"{module.__name__}.{name}", obj))
    return sorted(result, key=lambda pair: pair[0])


def test_services_are_discovered():
    names = [name for name, _ in public_services()]
    # one per app that writes, at least: the discovery must not silently find nothing
    apps_found = {name.split(".")[1] for name in names}
    assert {
        "registry",
        "screening",
        "cases",
        "tracing",
        "needs",
        "aid",
        "analytics",
        "accounts",
    } <= apps_found


@pytest.mark.parametrize(
    ("name", "func"), public_services(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_every_public_service_is_atomic_and_audited(name, func):
    marker = getattr(func, "mahalle_service", None)
    assert marker is not None, (
        f"{name} is a public function of a services module but not a @service (core.service): it would not be "
        "atomic, nor checked by the audit probe. Decorate it, or make it private (_name) or move it out."
    )
    if marker["item_by_item"]:
        assert ITEM_BY_ITEM_PHRASE in (func.__doc__ or ""), (
            f"{name} commits item by item: its docstring must say so"
        )


def test_unaudited_services_are_few_and_say_why():
    """A service that writes no audit event says why; none of them takes an actor (whose act would need one)."""
    unaudited = {
        name: func.mahalle_service["unaudited"]
        for name, func in public_services()
        if getattr(func, "mahalle_service", {}).get("unaudited")
    }
    for name, reason in unaudited.items():
        assert len(reason) > 20, f"{name}: say why it writes no audit event"
    for name, func in public_services():
        if name in unaudited:
            assert "actor" not in inspect.signature(func).parameters, (
                f"{name} acts for a user: it must be audited"
            )


@pytest.mark.django_db
def test_the_probe_fails_a_service_that_writes_without_its_audit(settings, tree):
    """The probe, on a service that writes a row and then audits it outside its transaction."""
    from mahalle.audit.services import audit_record
    from mahalle.geo.models import OrgUnit

    settings.MAHALLE_AUDIT_PROBE = True

    @service(item_by_item=True)  # "item by item" without a transaction per item: the row stays
    def unit_rename_badly(*, actor, unit_id, name):
        OrgUnit.objects.filter(pk=unit_id).update(name_fa=name)
        audit_record(actor=actor, action="update", object_type="geo.orgunit", object_id=str(unit_id))

    with pytest.raises(AssertionError, match="geo_orgunit"):
        unit_rename_badly(actor=None, unit_id=tree["post_a1"].pk, name="x")

    @service
    def unit_rename(*, actor, unit_id, name):
        OrgUnit.objects.filter(pk=unit_id).update(name_fa=name)
        audit_record(actor=actor, action="update", object_type="geo.orgunit", object_id=str(unit_id))

    unit_rename(actor=None, unit_id=tree["post_a1"].pk, name="y")
    assert OrgUnit.objects.get(pk=tree["post_a1"].pk).name_fa == "y"
    assert audit_probe.probed()[f"{__name__}.{unit_rename.__qualname__}"]["reached"] is True


@pytest.mark.django_db
def test_the_probe_stays_out_of_query_counts(settings, django_assert_max_num_queries, tree):
    from mahalle.geo.models import OrgUnit

    settings.MAHALLE_AUDIT_PROBE = True

    @service
    def unit_touch(*, unit_id):
        OrgUnit.objects.filter(pk=unit_id).update(name_fa="z")

    assert connection.force_debug_cursor is False
    with django_assert_max_num_queries(3):  # savepoint, update, release: no snapshot of every table
        unit_touch(unit_id=tree["post_a1"].pk)


def _api_modules():
    return sorted(path for path in ROOT.rglob("api*.py") if "tests" not in path.parts)


@pytest.mark.parametrize("path", _api_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_endpoint_calls_the_personal_data_gate_by_hand(path):
    tree = ast.parse(path.read_text())
    calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "require_personal_data"
    ]
    assert not calls, (
        f"{path.relative_to(ROOT)} calls require_personal_data on lines {calls}: use personal_data_router"
    )


def _python_files():
    return sorted(path for path in ROOT.rglob("*.py") if "migrations" not in path.parts)


def test_no_module_is_over_800_lines():
    big = {
        str(path.relative_to(ROOT)): n
        for path in _python_files()
        if (n := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert big == {}, f"split these modules (at most {MAX_MODULE_LINES} lines): {big}"


def test_no_function_is_over_120_lines():
    long = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert long == {}, f"split these functions (at most {MAX_FUNCTION_LINES} lines): {long}"
