"""Test settings: the same file, with fast hashing and tasks run inline. DATABASE_URL picks the database."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    # One test database per run, so concurrent runs on one server (developers, CI) never collide; under
    # pytest-xdist each worker is its own process and pytest-django adds its id: test_mahalle_<pid>_gw0, _gw1.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

import tempfile  # noqa: E402

MEDIA_ROOT = tempfile.mkdtemp(prefix="mahalle-test-media-")

# Every @service is probed: its first calls in a test process are run once more with the audit write failing,
# and the test fails if anything stayed written (mahalle/core/audit_probe.py).
MAHALLE_AUDIT_PROBE = True
