"""The upload API: /api/v1/registry/imports/ (tasks run inline: settings_test uses the ImmediateBackend)."""

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mahalle.accounts.models import Role
from mahalle.registry.models import ImportJob, Person
from mahalle.registry.tests.test_import import person_row, write_csv

URL = "/api/v1/registry/imports/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, user, content: bytes, *, kind="persons", org_unit="IR", name="persons.csv"):
    client.force_login(user)
    return client.post(
        URL, {"kind": kind, "org_unit": org_unit, "file": SimpleUploadedFile(name, content, "text/csv")}
    )


def persons_csv(tmp_path, rows) -> bytes:
    return Path(write_csv(tmp_path / "upload.csv", rows)).read_bytes()


def test_upload_runs_the_import_and_reports_progress_and_errors(
    client, tree, users, media, tmp_path, django_capture_on_commit_callbacks
):
    content = persons_csv(tmp_path, [person_row(1), person_row(2, national_code="123"), person_row(3)])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(client, users[Role.NATIONAL_COORDINATOR], content)
    assert response.status_code == 202
    assert len(callbacks) == 1
    job_id = response.json()["id"]
    stored = media / "imports" / f"{hashlib.sha256(content).hexdigest()}.csv"
    assert stored.read_bytes() == content
    job = ImportJob.objects.get(pk=job_id)
    assert (job.file_name, job.file_path, job.created_by) == (
        "persons.csv",
        str(stored),
        users["national_coordinator"],
    )

    body = client.get(f"{URL}{job_id}").json()
    assert {
        k: body[k] for k in ("status", "rows_done", "total_rows", "percent", "rows_created", "rows_invalid")
    } == {
        "status": "done",
        "rows_done": 3,
        "total_rows": 3,
        "percent": 100.0,
        "rows_created": 2,
        "rows_invalid": 1,
    }
    errors = client.get(f"{URL}{job_id}/errors").json()
    assert errors == {
        "count": 1,
        "items": [
            {
                "row_number": 3,
                "field": "national_code",
                "message": "national code must have 10 digits, got 3",
                "value": "123",
            }
        ],
    }
    assert Person.objects.count() == 2


def test_volunteer_may_not_upload(client, tree, users, media, tmp_path):
    response = upload(
        client, users[Role.FIELD_VOLUNTEER], persons_csv(tmp_path, [person_row(1)]), org_unit="SA1"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "you may not import records into this org unit"
    assert (ImportJob.objects.count(), Person.objects.count()) == (0, 0)
    assert not (media / "imports").exists()


def test_province_coordinator_may_not_upload_for_another_province(client, tree, users, media, tmp_path):
    response = upload(
        client, users[Role.PROVINCE_COORDINATOR], persons_csv(tmp_path, [person_row(1)]), org_unit="PB"
    )
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


def test_upload_over_the_limit_is_413(client, tree, users, media, settings, tmp_path):
    settings.MAHALLE_MAX_IMPORT_BYTES = 50
    response = upload(client, users[Role.NATIONAL_COORDINATOR], persons_csv(tmp_path, [person_row(1)]))
    assert response.status_code == 413
    assert response.json()["detail"].startswith("the file is ")
    assert response.json()["detail"].endswith("over the limit of 50 bytes")
    assert ImportJob.objects.count() == 0
    assert not (media / "imports").exists() or list((media / "imports").iterdir()) == []


def test_unknown_org_unit_and_kind_are_422(client, tree, users, media, tmp_path):
    content = persons_csv(tmp_path, [person_row(1)])
    response = upload(client, users[Role.NATIONAL_COORDINATOR], content, org_unit="NOPE")
    assert (response.status_code, response.json()["errors"]) == (
        422,
        [{"field": "org_unit", "message": "no org unit has this code"}],
    )
    response = upload(client, users[Role.NATIONAL_COORDINATOR], content, kind="cars")
    assert (response.status_code, response.json()["errors"]) == (
        422,
        [{"field": "kind", "message": "must be households or persons"}],
    )


def test_a_job_outside_the_users_jurisdiction_is_404(
    client, tree, users, media, tmp_path, django_capture_on_commit_callbacks
):
    content = persons_csv(tmp_path, [person_row(1, post_code="SB1")])
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(client, users[Role.NATIONAL_COORDINATOR], content, org_unit="PB").json()["id"]
    client.force_login(users[Role.PROVINCE_COORDINATOR])
    assert client.get(f"{URL}{job_id}").status_code == 404
    assert client.get(f"{URL}{job_id}/errors").status_code == 404
    client.force_login(users[Role.ANALYST])  # aggregate-only role: no jobs at all
    assert client.get(f"{URL}{job_id}").status_code == 404
    client.force_login(users[Role.ADMINISTRATOR])
    assert client.get(f"{URL}{job_id}").json()["rows_created"] == 1


def test_anonymous_is_401(client, tree):
    assert client.get(f"{URL}1").status_code == 401
