import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone

from mahalle.analytics.epi.rt import estimate_rt
from mahalle.analytics.models import RtEstimate
from mahalle.analytics.services import rt_refresh
from mahalle.analytics.tasks import rt_refresh_task
from mahalle.cases.models import Case

from .factories import cases_by_day

TODAY = dt.date(2026, 3, 31)
START = TODAY - dt.timedelta(days=29)  # 30 days of cases
A1 = [1, 0, 2, 3, 2, 4, 5, 3, 6, 8, 7, 9, 12, 10, 11, 13, 12, 9, 10, 8, 7, 6, 6, 5, 4, 4, 3, 2, 2, 1]
A2 = [0, 0, 0, 0, 1, 0, 1, 2, 1, 2, 3, 2, 4, 3, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1, 0, 0, 0]
B1 = [0] * 10 + [2, 1, 3, 2, 4, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10, 9, 11, 10, 12]

pytestmark = pytest.mark.django_db


@pytest.fixture
def epidemic(people):
    cases_by_day(people["post_a1"], START, A1)
    cases_by_day(people["post_a2"], START, A2)
    cases_by_day(people["post_b1"], START, B1)
    return people


def stored(unit):
    return list(RtEstimate.objects.filter(org_unit=unit).order_by("date_end"))


def expected_for(series):
    """EpiEstim on the series from the unit's first case to today (what the service must store)."""
    series = np.asarray(series, dtype=float)
    first = int(np.flatnonzero(series)[0])
    return first, estimate_rt(series[first:])


def assert_stored_equals(unit, series):
    first, result = expected_for(series)
    rows = stored(unit)
    day0 = START + dt.timedelta(days=first)
    assert [r.date_end for r in rows] == [day0 + dt.timedelta(days=int(t) - 1) for t in result.t_end]
    assert [r.date_start for r in rows] == [day0 + dt.timedelta(days=int(t) - 1) for t in result.t_start]
    np.testing.assert_allclose([r.mean for r in rows], result.mean, rtol=1e-12)
    np.testing.assert_allclose([r.std for r in rows], result.std, rtol=1e-12)
    np.testing.assert_allclose([r.lower for r in rows], result.lower, rtol=1e-12)
    np.testing.assert_allclose([r.upper for r in rows], result.upper, rtol=1e-12)
    assert [r.cases for r in rows] == result.cases.astype(int).tolist()
    assert [r.reliable for r in rows] == result.reliable.tolist()


def test_refresh_stores_rt_per_county_and_province_as_epiestim(tree, epidemic):
    summary = rt_refresh(today=TODAY)
    assert summary["units"] == 4  # two provinces, two counties
    a = [x + y for x, y in zip(A1, A2, strict=True)]
    assert_stored_equals(tree["county_a"], a)
    assert_stored_equals(tree["province_a"], a)
    assert_stored_equals(tree["county_b"], B1)
    assert_stored_equals(tree["province_b"], B1)
    assert len(stored(tree["county_a"])) == 30 - 7  # first case on day 1: windows start on days 2..24
    assert len(stored(tree["county_b"])) == 30 - 10 - 7
    assert summary["estimates"] == 2 * 23 + 2 * 13
    assert RtEstimate.objects.filter(org_unit__in=[tree["post_a1"], tree["country"]]).count() == 0
    assert {r.org_path for r in stored(tree["county_a"])} == {tree["county_a"].path}


def test_refresh_is_idempotent_and_replaces_a_units_rows(tree, epidemic):
    rt_refresh(today=TODAY)
    first = [(r.date_end, r.mean) for r in stored(tree["county_a"])]
    rt_refresh(today=TODAY)
    assert [(r.date_end, r.mean) for r in stored(tree["county_a"])] == first
    assert RtEstimate.objects.count() == 2 * 23 + 2 * 13
    cases_by_day(epidemic["post_a1"], TODAY, [20])
    rt_refresh(today=TODAY)
    rows = stored(tree["county_a"])
    assert len(rows) == 23
    assert rows[-1].mean > first[-1][1]
    assert rows[-1].cases == sum(A1[-7:]) + sum(A2[-7:]) + 20


def test_discarded_cases_and_future_or_old_dates_are_not_counted(tree, epidemic):
    cases_by_day(epidemic["post_a1"], START, [50] * 30, classification="discarded")
    cases_by_day(epidemic["post_a1"], TODAY + dt.timedelta(days=1), [40])  # onset after today: a typo
    cases_by_day(epidemic["post_a1"], TODAY - dt.timedelta(days=400), [30])  # before the 365 days kept
    rt_refresh(today=TODAY)
    assert_stored_equals(tree["county_a"], [x + y for x, y in zip(A1, A2, strict=True)])


def test_without_onset_the_day_recorded_counts(tree, people):
    recorded = timezone.make_aware(dt.datetime(2026, 3, 20, 10, 0))
    for i, n in enumerate([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]):
        made = cases_by_day(people["post_b2"], START, [n])
        Case.objects.filter(pk__in=[c.pk for c in made]).update(
            onset_date=None, created_at=recorded + dt.timedelta(days=i)
        )
    rt_refresh(today=TODAY)
    series = [0] * 18 + [3, 4, 5, 6, 7, 8, 9, 10, 11, 12] + [0, 0]  # 20 March is day 19 of the 30
    assert_stored_equals(tree["county_b"], series)


def test_report_date_setting_counts_by_the_day_recorded(tree, people, settings):
    settings.MAHALLE_RT = {"DATE": "report"}
    recorded = timezone.make_aware(dt.datetime(2026, 3, 20, 10, 0))
    for i, n in enumerate([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]):
        made = cases_by_day(people["post_b2"], START, [n])  # onset on START: ignored under "report"
        Case.objects.filter(pk__in=[c.pk for c in made]).update(created_at=recorded + dt.timedelta(days=i))
    rt_refresh(today=TODAY)
    assert_stored_equals(tree["county_b"], [0] * 18 + [3, 4, 5, 6, 7, 8, 9, 10, 11, 12] + [0, 0])
    settings.MAHALLE_RT = {"DATE": "onset"}
    rt_refresh(today=TODAY)
    assert_stored_equals(tree["county_b"], [75] + [0] * 29)


def test_refresh_of_some_units_leaves_the_others(tree, epidemic):
    rt_refresh(today=TODAY)
    before_b = [(r.pk, r.mean) for r in stored(tree["county_b"])]
    cases_by_day(epidemic["post_a2"], TODAY, [15])
    cases_by_day(epidemic["post_b2"], TODAY, [15])
    summary = rt_refresh(org_unit_ids=[tree["post_a2"].pk], today=TODAY)
    assert summary["units"] == 2  # county_a and province_a
    assert [(r.pk, r.mean) for r in stored(tree["county_b"])] == before_b
    assert stored(tree["county_a"])[-1].cases == sum(A1[-7:]) + sum(A2[-7:]) + 15


def test_units_without_cases_get_no_rows(tree, people):
    assert rt_refresh(today=TODAY) == {
        "units": 4,
        "estimates": 0,
        "first_day": (TODAY - dt.timedelta(days=364)).isoformat(),
        "last_day": TODAY.isoformat(),
    }
    assert RtEstimate.objects.count() == 0


def test_task_calls_the_service(tree, people):
    start = timezone.localdate() - dt.timedelta(days=29)  # the task runs for today
    cases_by_day(people["post_b1"], start, B1)
    cases_by_day(people["post_a1"], start, A1)
    result = rt_refresh_task.enqueue(org_unit_ids=[tree["post_b1"].pk])
    assert result.return_value["units"] == 2
    rows = stored(tree["county_b"])
    assert rows[0].date_start == start + dt.timedelta(days=11)  # the day after county b's first cases
    assert rows[-1].date_end == timezone.localdate()
    assert len(rows) == 13
    assert stored(tree["county_a"]) == []


def test_refresh_after_commit_merges_the_calls_of_one_transaction(
    tree, epidemic, django_capture_on_commit_callbacks, monkeypatch
):
    from django.db import transaction

    from mahalle.analytics import tasks

    enqueued = []
    fake = SimpleNamespace(enqueue=lambda **kwargs: enqueued.append(kwargs))
    monkeypatch.setattr(tasks, "rt_refresh_task", fake)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tasks.rt_refresh_after_commit(org_unit_ids=[tree["post_a1"].pk])
        tasks.rt_refresh_after_commit(org_unit_ids=[tree["post_a2"].pk, tree["post_a1"].pk])
        assert enqueued == []  # nothing before the commit
    assert enqueued == [{"org_unit_ids": sorted([tree["post_a1"].pk, tree["post_a2"].pk])}]


def test_refresh_after_commit_runs_the_task(tree, people, django_capture_on_commit_callbacks):
    from mahalle.analytics.tasks import rt_refresh_after_commit

    cases_by_day(people["post_b2"], timezone.localdate() - dt.timedelta(days=29), B1)
    with django_capture_on_commit_callbacks(execute=True):
        rt_refresh_after_commit(org_unit_ids=[tree["post_b2"].pk])
    assert stored(tree["county_b"])[-1].date_end == timezone.localdate()
    assert len(stored(tree["province_b"])) == 13 and stored(tree["county_a"]) == []


def test_rt_refresh_command(tree, people, capsys):
    import json

    from django.core.management import call_command
    from django.core.management.base import CommandError

    cases_by_day(people["post_a1"], timezone.localdate() - dt.timedelta(days=29), A1)
    call_command("rt_refresh", "--org-unit", "CA", "--json")
    assert json.loads(capsys.readouterr().out)["units"] == 2
    assert len(stored(tree["county_a"])) == 23
    with pytest.raises(CommandError, match="unknown org unit code\\(s\\): NOPE"):
        call_command("rt_refresh", "--org-unit", "NOPE")
