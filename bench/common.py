"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself).

The scripts are run as `python bench/NAME.py`, so this folder is first on sys.path whatever the current
directory, and `from common import ...` finds this module.
"""

import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Settings read SECRET_KEY from the environment; a fixed one keeps the benches off var/secret_key.
SECRET_KEY = "bench-only-secret-key-not-for-production-use-0123456789"
SERVER_START_SECONDS = 60


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def percentiles(samples_ms: list[float], digits: int = 3) -> dict:
    """n, p50/p95/p99 (nearest rank), mean and max of latencies in milliseconds, rounded to `digits`."""
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], digits)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "mean_ms": round(statistics.fmean(ordered), digits),
        "max_ms": round(ordered[-1], digits),
    }


# --- Django in this process ----------------------------------------------------------------------------------


def django_setup(database_url: str | None = None) -> None:
    """Configure Django in this process; `database_url` None keeps the DATABASE_URL already in the environment."""
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- PostgreSQL databases ------------------------------------------------------------------------------------


def _pg_admin(url: str):
    """An autocommit connection to the server's `postgres` database, and the name of the database in `url`."""
    import psycopg

    base, name = url.rsplit("/", 1)
    return psycopg.connect(f"{base}/postgres", autocommit=True), name


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` unless it exists."""
    from psycopg import sql

    conn, name = _pg_admin(url)
    with conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database named in `url`, if it exists, closing its connections."""
    from psycopg import sql

    conn, name = _pg_admin(url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_database(url: str) -> None:
    """Drop (if need be) and create the PostgreSQL database named in `url`: an empty database."""
    drop_database(url)
    ensure_database(url)


# --- the server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, port: int, threads: int | None = None) -> subprocess.Popen:
    """A waitress process serving Mahalle on 127.0.0.1:`port` (waitress's default threads unless `threads`),
    returned once the port accepts connections; RuntimeError if it exits or is not up within 60 s."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    command = [sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}"]
    if threads is not None:
        command.append(f"--threads={threads}")
    # The server's log goes to a file, not a pipe: nobody reads a pipe while the bench runs, and once it is full
    # (a few hundred warning lines for 4xx answers) every server thread blocks on its next log line.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server; closed with the process)
    server = subprocess.Popen(
        [*command, "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError("the server exited: " + log.read().decode(errors="replace")[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server did not start within {SERVER_START_SECONDS} s")


def stop_server(server: subprocess.Popen) -> None:
    """Terminate a server from start_server; kill it if it has not exited after 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


def scratch_database(*, name: str, postgres_url: str | None) -> str:
    """A fresh, empty database for one benchmark run: `postgres_url` dropped and created again, or (None) the
    SQLite file var/bench/<name>.sqlite3 removed with its WAL files. Returns its DATABASE_URL."""
    if postgres_url:
        fresh_database(postgres_url)
        return postgres_url
    path = Path(ROOT) / "var" / "bench" / f"{name}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def bench_org_tree(posts: int) -> list:
    """A country → province → county → district → neighborhood chain (IR, P01, C0101, D010101, N01010101) and
    `posts` health posts under the neighborhood (S00000, S00001, …). Returns the posts."""
    from mahalle.geo.models import OrgUnit

    parent = None
    for level, code in enumerate(["IR", "P01", "C0101", "D010101", "N01010101"]):
        parent = OrgUnit.objects.create(
            code=code, level=level, name_fa=code, parent=parent, path=OrgUnit.build_path(parent, code)
        )
    return [
        OrgUnit.objects.create(
            code=f"S{i:05d}",
            level=5,
            name_fa=f"S{i}",
            parent=parent,
            path=OrgUnit.build_path(parent, f"S{i:05d}"),
        )
        for i in range(posts)
    ]
