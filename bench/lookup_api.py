"""Scoped person lookups through the real HTTP API, against a raw SQL baseline in the same run. Prints JSON.

    .venv/bin/python bench/lookup_api.py                      # PostgreSQL 1,000,000 persons, then SQLite 200,000
    .venv/bin/python bench/lookup_api.py --engine postgres --persons 1000000 --lookups 2000
    .venv/bin/python bench/lookup_api.py --engine sqlite --persons 200000

What it does, per engine:
1. builds (or reuses, when it already holds exactly --persons persons) a database: PostgreSQL database
   `mahalle_bench_lookup` on 127.0.0.1:5432 (BENCH_PG_URL to change), or var/bench/lookup_<n>.sqlite3;
   Django's migrate, the reference geography, a tree of 300 health posts under 60 counties, then synthetic
   households and persons generated in Python and bulk-loaded (COPY on PostgreSQL);
2. creates a county coordinator and an API token for them;
3. starts a real server process (waitress, 127.0.0.1 only) and times --lookups scoped lookups by national code
   and by mobile over one keep-alive HTTP connection, sequentially;
4. times, in the same run, the same lookups as the raw SQL the selector issues (directly through the driver) and
   as an in-process selector call, so the HTTP + auth + serialisation cost can be read off.
Every loop is bounded; the server is stopped at the end whatever happens.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import subprocess
import sys
import time
import uuid

from common import (
    ROOT,
    django_setup,
    ensure_database,
    free_port,
    machine,
    percentiles,
    start_server,
    stop_server,
)

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_lookup")
COUNTIES_WITH_POSTS = 60
POSTS_PER_COUNTY = 5
PERSONS_PER_HOUSEHOLD = 4
TARGET_P95_MS = 20.0

FIRST = ["محمد", "علی", "حسین", "رضا", "مهدی", "زهرا", "فاطمه", "مریم", "سارا", "نرگس", "امیر", "حمید"]
FIRST += ["مرتضی", "لیلا", "سمیه", "محمدرضا", "الهام", "یوسف", "نازنین", "کوثر"]
LAST = ["محمدی", "حسینی", "احمدی", "رضایی", "کریمی", "موسوی", "جعفری", "قاسمی", "صادقی", "رحیمی"]
LAST += ["نوری", "کاظمی", "عباسی", "طاهری", "اکبری", "یزدانی", "شریفی", "مرادی", "زارعی", "باقری"]


# --- data ----------------------------------------------------------------------------------------------------


def build_posts() -> list:
    """300 health posts: the first 60 counties each get a district, a neighborhood and 5 posts."""
    from mahalle.geo.models import Level, OrgUnit
    from mahalle.geo.services import geography_load_reference, org_unit_create

    if not OrgUnit.objects.filter(level=Level.COUNTY).exists():
        geography_load_reference()
    posts = list(OrgUnit.objects.filter(level=Level.POST, code__startswith="BP").order_by("code"))
    if len(posts) == COUNTIES_WITH_POSTS * POSTS_PER_COUNTY:
        return posts
    counties = list(OrgUnit.objects.filter(level=Level.COUNTY).order_by("code")[:COUNTIES_WITH_POSTS])
    posts = []
    for c, county in enumerate(counties):
        district = OrgUnit.objects.filter(code=f"BD{c:03d}").first() or org_unit_create(
            code=f"BD{c:03d}", level=Level.DISTRICT, name_fa=f"بخش {c}", parent=county
        )
        hood = OrgUnit.objects.filter(code=f"BN{c:03d}").first() or org_unit_create(
            code=f"BN{c:03d}", level=Level.NEIGHBORHOOD, name_fa=f"محله {c}", parent=district
        )
        for p in range(POSTS_PER_COUNTY):
            code = f"BP{c:03d}{p}"
            posts.append(
                OrgUnit.objects.filter(code=code).first()
                or org_unit_create(code=code, level=Level.POST, name_fa=f"پایگاه {c}-{p}", parent=hood)
            )
    return posts


def national_code(i: int) -> str:
    from mahalle.core.identifiers import national_code_with_check_digit

    return national_code_with_check_digit(f"{100_000_000 + i:09d}")


def mobile(i: int) -> str:
    return f"09{(i * 7_919 + 13) % 1_000_000_000:09d}"


def post_of(i: int, n_posts: int) -> int:
    return i % n_posts


def generate(n_persons: int, posts: list, sqlite: bool):
    """Yield ("household", values) and ("person", values) dicts, in insertion order, deterministically."""
    from mahalle.core.persian import search_key

    rng = random.Random(20260101)
    keys = {(f, ln): (search_key(f + ln)[:200], search_key(ln)[:100]) for f in FIRST for ln in LAST}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    n_posts = len(posts)
    households: dict[int, uuid.UUID] = {}

    def uid(value: uuid.UUID):
        return value.hex if sqlite else value

    for i in range(n_persons):
        post = posts[post_of(i, n_posts)]
        # persons i, i + n_posts, i + 2 n_posts, i + 3 n_posts share a household in the same post
        hh_index = (i // n_posts) // PERSONS_PER_HOUSEHOLD * n_posts + post_of(i, n_posts)
        head = hh_index not in households
        # the columns every row of a post shares (jurisdiction and timestamps)
        stamp = {
            "org_unit_id": post.pk,
            "org_path": post.path,
            "created_at": now,
            "modified_at": now,
            "created_by_id": None,
            "modified_by_id": None,
        }
        if head:
            households[hh_index] = uuid.UUID(int=rng.getrandbits(128), version=4)
            yield (
                "household",
                {
                    "id": uid(households[hh_index]),
                    **stamp,
                    "external_id": None,
                    "address": f"خیابان {i % 97}، کوچه {i % 31}",
                    "phone": mobile(i),
                    "head_id": None,
                    "female_headed": rng.random() < 0.12,
                    "lost_income": rng.random() < 0.3,
                },
            )
        first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
        name_key, last_name_key = keys[(first, last)]
        yield (
            "person",
            {
                "id": uid(uuid.UUID(int=rng.getrandbits(128), version=4)),
                **stamp,
                "household_id": uid(households[hh_index]),
                "relation_to_head": "head" if head else "child",
                "national_code": national_code(i),
                "external_id": None,
                "first_name": first,
                "last_name": last,
                "father_name": FIRST[i % len(FIRST)],
                "sex": "MF"[i % 2],
                "birth_date": dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(32_000)),
                "birth_date_precision": "day",
                "mobile": mobile(i),
                "chronic_disease": rng.random() < 0.1,
                "disability": rng.random() < 0.03,
                "pregnant": False,
                "name_key": name_key,
                "last_name_key": last_name_key,
            },
        )


def columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def load_postgres(n_persons: int, posts: list) -> None:
    from django.db import connection

    from mahalle.registry.models import Household, Person

    person_cols, household_cols = columns(Person), columns(Household)
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection Django holds
    with raw.cursor() as cur:
        cur.execute("TRUNCATE registry_person, registry_household CASCADE")
        # Two passes over the same deterministic stream: one COPY at a time per connection, little memory.
        for table, kind, cols in (
            ("registry_household", "household", household_cols),
            ("registry_person", "person", person_cols),
        ):
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for kind_, values in generate(n_persons, posts, sqlite=False):
                    if kind_ == kind:
                        copy.write_row([values[c] for c in cols])
        cur.execute(
            "UPDATE registry_household h SET head_id = p.id FROM registry_person p "
            "WHERE p.household_id = h.id AND p.relation_to_head = 'head'"
        )
    with raw.cursor() as cur:  # Django keeps the connection in autocommit mode, as VACUUM needs
        cur.execute("VACUUM ANALYZE registry_person")
        cur.execute("VACUUM ANALYZE registry_household")


def load_sqlite(n_persons: int, posts: list) -> None:
    from django.db import connection, transaction

    from mahalle.registry.models import Household, Person

    person_cols, household_cols = columns(Person), columns(Household)

    def adapt(value):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None).isoformat(sep=" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM registry_person")
        cur.execute("DELETE FROM registry_household")
        hh_sql = f"INSERT INTO registry_household ({', '.join(household_cols)}) VALUES ({', '.join(['%s'] * len(household_cols))})"
        p_sql = f"INSERT INTO registry_person ({', '.join(person_cols)}) VALUES ({', '.join(['%s'] * len(person_cols))})"
        hh_rows, p_rows = [], []
        for kind, values in generate(n_persons, posts, sqlite=True):
            if kind == "household":
                hh_rows.append([adapt(values[c]) for c in household_cols])
            else:
                p_rows.append([adapt(values[c]) for c in person_cols])
            if len(p_rows) >= 50_000:
                cur.executemany(hh_sql, hh_rows)
                cur.executemany(p_sql, p_rows)
                hh_rows, p_rows = [], []
        cur.executemany(hh_sql, hh_rows)
        cur.executemany(p_sql, p_rows)
        cur.execute(
            "UPDATE registry_household SET head_id = (SELECT p.id FROM registry_person p "
            "WHERE p.household_id = registry_household.id AND p.relation_to_head = 'head')"
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def prepare(engine: str, n_persons: int) -> tuple[str, dict]:
    if engine == "postgres":
        database_url = PG_URL
        ensure_database(database_url)
    else:
        path = ROOT / "var" / "bench" / f"lookup_{n_persons}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{path}"
    django_setup(database_url)
    from django.core.management import call_command

    from mahalle.registry.models import Household, Person

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    posts = build_posts()
    reused = Person.objects.count() == n_persons
    if not reused:
        (load_postgres if engine == "postgres" else load_sqlite)(n_persons, posts)
    info = {
        "database": database_url.rsplit("@", 1)[-1],
        "persons": Person.objects.count(),
        "households": Household.objects.count(),
        "posts": len(posts),
        "reused": reused,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    return database_url, info


def coordinator_token(county) -> tuple[object, str]:
    from mahalle.accounts.models import Role, User
    from mahalle.accounts.services import api_token_create, user_create

    user = User.objects.filter(username="bench_county_coordinator").first()
    if user is None:
        user = user_create(
            actor=None,
            username="bench_county_coordinator",
            password="bench-password-not-used",
            role=Role.COUNTY_COORDINATOR,
            org_units=[county],
            check_password=False,
        )
    user.org_units.set([county])
    _, secret = api_token_create(actor=user, user=user, name="bench")
    return user, secret


# --- server --------------------------------------------------------------------------------------------------


def time_http(port: int, secret: str, paths: list[str], expect_ids: list[str]) -> tuple[dict, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {secret}", "Host": "127.0.0.1"}
    samples, correct = [], 0
    try:
        for path, expected in zip(paths, expect_ids, strict=True):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            samples.append((time.perf_counter() - start) * 1000)
            if response.status == 200:
                items = json.loads(body)["items"]
                correct += [item["id"] for item in items] == [expected]
    finally:
        conn.close()
    return percentiles(samples), correct


# --- baselines -----------------------------------------------------------------------------------------------


def time_raw_sql(engine: str, database_url: str, statements: list[tuple[str, tuple]]) -> dict:
    """The selector's own SQL, executed through the bare driver on its own connection."""
    samples = []
    if engine == "postgres":
        import psycopg

        with (
            psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn,
            conn.cursor() as cur,
        ):
            for sql, params in statements:
                start = time.perf_counter()
                cur.execute(sql, params)
                cur.fetchall()
                samples.append((time.perf_counter() - start) * 1000)
    else:
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            for sql, params in statements:
                start = time.perf_counter()
                conn.execute(sql.replace("%s", "?"), params).fetchall()
                samples.append((time.perf_counter() - start) * 1000)
        finally:
            conn.close()
    return percentiles(samples)


def time_selector(user, kind: str, values: list[str]) -> dict:
    from mahalle.registry.selectors import person_search

    samples = []
    for value in values:
        start = time.perf_counter()
        list(person_search(user=user, **{kind: value}, limit=200))
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


# --- main ----------------------------------------------------------------------------------------------------


def run_engine(engine: str, n_persons: int, n_lookups: int) -> dict:
    database_url, info = prepare(engine, n_persons)
    from mahalle.accounts.selectors import personal_data_paths
    from mahalle.geo.models import OrgUnit
    from mahalle.registry.selectors import person_search

    posts = list(OrgUnit.objects.filter(level=5, code__startswith="BP").order_by("code"))
    county = posts[0].parent.parent.parent
    user, secret = coordinator_token(county)
    user.refresh_from_db()
    in_county = [i for i, post in enumerate(posts) if post.path.startswith(county.path)]
    info["coordinator_subtree_persons"] = sum(
        1 for i in range(n_persons) if post_of(i, len(posts)) in in_county
    )
    info["coordinator_paths"] = personal_data_paths(user=user)

    rng = random.Random(7)
    candidates = [i for i in range(n_persons) if post_of(i, len(posts)) in in_county]
    picks = [candidates[rng.randrange(len(candidates))] for _ in range(n_lookups)]
    from mahalle.registry.models import Person

    id_by_code = dict(
        Person.objects.filter(national_code__in=[national_code(i) for i in picks]).values_list(
            "national_code", "id"
        )
    )
    result = {"engine": engine, "data": info, "lookups": n_lookups, "target_p95_ms": TARGET_P95_MS}

    port = free_port()
    server = start_server(database_url, port)
    try:
        warm = [f"/api/v1/registry/persons?national_code={national_code(i)}" for i in picks[:50]]
        time_http(port, secret, warm, [str(id_by_code[national_code(i)]) for i in picks[:50]])
        for kind, value_of in (("national_code", national_code), ("mobile", mobile)):
            values = [value_of(i) for i in picks]
            expected = [str(id_by_code[national_code(i)]) for i in picks]
            stats, correct = time_http(
                port, secret, [f"/api/v1/registry/persons?{kind}={v}" for v in values], expected
            )
            statements = [
                person_search(user=user, **{kind: v}, limit=200).query.sql_with_params() for v in values
            ]
            result[kind] = {
                "http_api": {**stats, "correct_answers": correct},
                "selector_in_process": time_selector(user, kind, values),
                "raw_sql": time_raw_sql(engine, database_url, statements),
                "meets_target": stats["p95_ms"] < TARGET_P95_MS,
            }
    finally:
        stop_server(server)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--persons", type=int, default=None, help="default 1,000,000 (PostgreSQL), 200,000 (SQLite)"
    )
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    if args.engine != "both":
        n = args.persons or (1_000_000 if args.engine == "postgres" else 200_000)
        print(
            json.dumps({"machine": machine(), **run_engine(args.engine, n, args.lookups)}, ensure_ascii=False)
        )
        return 0
    # Each engine in its own process: Django is configured once per process.
    results = []
    for engine in ("postgres", "sqlite"):
        cmd = [sys.executable, __file__, "--engine", engine, "--lookups", str(args.lookups)]
        if args.persons:
            cmd += ["--persons", str(args.persons)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
        if done.returncode != 0:
            print(done.stderr[-4000:], file=sys.stderr)
            return done.returncode
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps({"machine": machine(), "runs": results}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
