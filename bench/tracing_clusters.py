"""Transmission clusters at national scale: the cluster of a case and a province's cluster statistics, each
beside the raw SQL it issues, in the same run. Prints JSON.

    .venv/bin/python bench/tracing_clusters.py                       # 1,000,000 cases, 3,000,000 contacts
    .venv/bin/python bench/tracing_clusters.py --scale 0.1           # 100,000 cases, 300,000 contacts

Targets (issue 6): the cluster of a case (clusters up to 10,000 nodes) p95 <= 200 ms; the cluster statistics
of a province <= 1 s.

What it does (PostgreSQL):
1. builds, or reuses when it already holds exactly the cases asked for, the database `mahalle_bench_tracing` on
   127.0.0.1:5432 (BENCH_TRACING_PG_URL to change): Django's migrate; an org tree (31 provinces x 14 counties x
   10 health posts); then, with COPY (FK triggers off for the load: session_replication_role = replica), the
   synthetic epidemic: clusters whose sizes follow a Zipf law (a = 1.8) capped so that no cluster exceeds
   10,000 nodes; in each cluster every case after the first was a contact of an earlier case of the cluster
   (contact with became_case, and a transmission link infector -> infectee: generations grow like a random
   recursive tree); the remaining contacts (3 per case in all) are new persons who never became cases; a cluster
   lives in one post, with 10% of its nodes in another post of the county and 2% in another province; one event
   with its attending cases in every cluster of 20 cases or more; every node carries its stored cluster id.
   Persons (one per case and per contact who is not a case) are written too. VACUUM ANALYZE.
2. In-process (Django, the real selectors, a national coordinator): `selectors.cluster_graph` for --samples
   cases drawn half among all cases and half among the cases of the 20 largest clusters; then
   `selectors.clusters_in_unit` for every province (top 50 clusters with their statistics).
3. The baseline, in the same run: the SQL statements each selector call issued (captured once with Django's
   CaptureQueriesContext), executed through a bare psycopg connection and timed (the sum of its statements):
   what the database costs, without Django and Python's assembly of the answer.
The machine is shared: the numbers are indicative.
"""

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import time

import numpy as np
from common import django_setup, ensure_database, machine, percentiles

PG_URL = os.environ.get("BENCH_TRACING_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_tracing")
TARGET_CLUSTER_P95_MS = 200.0
TARGET_PROVINCE_S = 1.0
PROVINCES, COUNTIES, POSTS = 31, 14, 10
MAX_NODES = 10_000
CONTACTS_PER_CASE = 3


def _uuid(prefix: int, i: int) -> str:
    return f"{prefix:08x}{i:024x}"


def _copy(cursor, table: str, columns: list[str], rows, label: str) -> int:
    """COPY rows (tuples of text, None for NULL) in chunks of 200,000 lines."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    count = 0
    with cursor.copy(sql) as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
            buffer.write("\n")
            count += 1
            if count % 200_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    print(f"  {label}: {count:,} rows", file=sys.stderr, flush=True)
    return count


def _cluster_sizes(cases: int, rng) -> list[int]:
    max_cases = MAX_NODES // (CONTACTS_PER_CASE + 1)
    sizes, total = [], 0
    while total < cases:
        size = int(min(rng.zipf(1.8), max_cases, cases - total))
        sizes.append(size)
        total += size
    # a few clusters at the cap, so that the 10,000-node case is measured
    for i in range(min(5, len(sizes))):
        take = min(max_cases - sizes[i], sum(sizes[5:]) - len(sizes[5:]))
        sizes[i] += take
        j = len(sizes) - 1
        while take > 0 and j >= 5:
            give = min(take, sizes[j] - 1)
            sizes[j] -= give
            take -= give
            j -= 1
    return sizes


def build(cases_wanted: int, seed: int) -> dict:
    import psycopg
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    rng = np.random.default_rng(seed)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    conn = psycopg.connect(PG_URL.replace("postgres://", "postgresql://"), autocommit=False)
    cur = conn.cursor()
    cur.execute("SET session_replication_role = replica")
    stamp = now.isoformat()
    # the org tree
    units, posts = [], []
    unit_id = 0

    def unit(code, level, parent, path):
        nonlocal unit_id
        unit_id += 1
        units.append((unit_id, code, level, f"واحد {code}", code, parent, path, 0))
        return unit_id

    root = unit("IR", 0, None, "IR.")
    provinces = []
    for p in range(PROVINCES):
        ppath = f"IR.P{p:02d}."
        pid = unit(f"P{p:02d}", 1, root, ppath)
        provinces.append((pid, f"P{p:02d}", ppath))
        for c in range(COUNTIES):
            cpath = f"{ppath}P{p:02d}C{c:02d}."
            cid = unit(f"P{p:02d}C{c:02d}", 2, pid, cpath)
            dpath = f"{cpath}P{p:02d}C{c:02d}D."
            did = unit(f"P{p:02d}C{c:02d}D", 3, cid, dpath)
            npath = f"{dpath}P{p:02d}C{c:02d}N."
            nid = unit(f"P{p:02d}C{c:02d}N", 4, did, npath)
            for s in range(POSTS):
                code = f"P{p:02d}C{c:02d}S{s:02d}"
                posts.append((unit(code, 5, nid, f"{npath}{code}."), f"{npath}{code}."))
    _copy(
        cur,
        "geo_orgunit",
        ["id", "code", "level", "name_fa", "name_en", "parent_id", "path", "population"],
        units,
        "org units",
    )
    cur.execute("SELECT setval(pg_get_serial_sequence('geo_orgunit', 'id'), %s)", [unit_id])
    sizes = _cluster_sizes(cases_wanted, rng)
    n_posts = len(posts)
    posts_per_county = POSTS
    extra_total = CONTACTS_PER_CASE * cases_wanted - (cases_wanted - len(sizes))
    extra_per_case = extra_total / cases_wanted
    persons, case_rows, chain_rows, contact_rows, link_rows, cluster_rows = [], [], [], [], [], []
    event_rows, attendance_rows = [], []
    person_n = case_n = contact_n = link_n = event_n = 0

    def place(home: int) -> int:
        r = rng.random()
        if r < 0.02:
            return int(rng.integers(n_posts))
        if r < 0.12:
            return home - home % posts_per_county + int(rng.integers(posts_per_county))
        return home

    def person(post: int) -> str:
        nonlocal person_n
        person_n += 1
        pid = _uuid(1, person_n)
        unit_pk, path = posts[post]
        persons.append(
            (
                pid,
                unit_pk,
                path,
                stamp,
                stamp,
                "م",
                f"ن{person_n}",
                "",
                "",
                "day",
                "",
                "f",
                "f",
                "f",
                f"من{person_n}",
                f"ن{person_n}",
                "",
            )
        )
        return pid

    for cluster_index, size in enumerate(sizes):
        cluster = _uuid(9, cluster_index + 1)
        cluster_rows.append((cluster, stamp))
        home = int(rng.integers(n_posts))
        created = [now - dt.timedelta(days=int(d)) for d in rng.integers(0, 60, size)]
        created.sort()
        ids, gens = [], []
        for i in range(size):
            post = place(home)
            case_n += 1
            cid = _uuid(2, case_n)
            pid = person(post)
            unit_pk, path = posts[post]
            classification = "confirmed" if rng.random() < 0.8 else "probable"
            outcome = "recovered" if rng.random() < 0.3 else ("died" if rng.random() < 0.01 else "")
            case_rows.append(
                (
                    cid,
                    unit_pk,
                    path,
                    created[i].isoformat(),
                    stamp,
                    pid,
                    classification,
                    (created[i].date() - dt.timedelta(days=2)).isoformat(),
                    "f",
                    "f",
                    outcome,
                )
            )
            j = int(rng.integers(i)) if i > 0 else -1
            gens.append(gens[j] + 1 if i > 0 else 0)
            chain_rows.append((cid, pid, path, cluster, created[i].isoformat(), gens[i]))
            ids.append((cid, pid, unit_pk, path))
            if i > 0:
                infector = ids[j][0]
                exposure = (created[i].date() - dt.timedelta(days=3)).isoformat()
                contact_n += 1
                contact_rows.append(
                    (
                        _uuid(3, contact_n),
                        unit_pk,
                        path,
                        created[i].isoformat(),
                        stamp,
                        infector,
                        pid,
                        exposure,
                        "household" if rng.random() < 0.5 else "workplace",
                        "close",
                        "added",
                        "confirmed",
                        (created[i].date() + dt.timedelta(days=11)).isoformat(),
                        cid,
                        "",
                        cluster,
                    )
                )
                link_n += 1
                link_rows.append(
                    (
                        _uuid(4, link_n),
                        unit_pk,
                        path,
                        created[i].isoformat(),
                        stamp,
                        infector,
                        cid,
                        "contact",
                        cluster,
                    )
                )
        for cid, _pid, _unit_pk, _path in ids:
            for _ in range(int(rng.poisson(extra_per_case))):
                post = place(home)
                unit_pk, path = posts[post]
                pid = person(post)
                exposure = today - dt.timedelta(days=int(rng.integers(0, 20)))
                contact_n += 1
                contact_rows.append(
                    (
                        _uuid(3, contact_n),
                        unit_pk,
                        path,
                        stamp,
                        stamp,
                        cid,
                        pid,
                        exposure.isoformat(),
                        ["household", "workplace", "gathering", "other"][int(rng.integers(4))],
                        "close",
                        "added",
                        "confirmed",
                        (exposure + dt.timedelta(days=14)).isoformat(),
                        None,
                        "",
                        cluster,
                    )
                )
        if size >= 20:
            event_n += 1
            eid = _uuid(5, event_n)
            unit_pk, path = posts[home]
            event_rows.append(
                (
                    eid,
                    unit_pk,
                    path,
                    stamp,
                    stamp,
                    f"عروسی {event_n}",
                    "wedding",
                    (today - dt.timedelta(days=30)).isoformat(),
                    cluster,
                )
            )
            for k, (cid, pid, unit_pk, path) in enumerate(ids[: min(size, 40)]):
                attendance_rows.append(
                    (_uuid(6, event_n * 100 + k), unit_pk, path, stamp, stamp, eid, pid, cid, cluster)
                )
        if len(persons) >= 400_000 or cluster_index == len(sizes) - 1:
            _flush(
                cur,
                persons,
                case_rows,
                chain_rows,
                contact_rows,
                link_rows,
                cluster_rows,
                event_rows,
                attendance_rows,
            )
    conn.commit()
    cur.execute("SET session_replication_role = origin")
    conn.commit()
    conn.autocommit = True
    print("  VACUUM ANALYZE", file=sys.stderr, flush=True)
    conn.execute("VACUUM ANALYZE")
    conn.close()
    return {
        "cases": case_n,
        "contacts": contact_n,
        "persons": person_n,
        "links": link_n,
        "events": event_n,
        "clusters": len(sizes),
        "largest_cluster_cases": max(sizes),
    }


def _flush(cur, persons, cases, chains, contacts, links, clusters, events, attendances) -> None:
    _copy(
        cur,
        "registry_person",
        [
            "id",
            "org_unit_id",
            "org_path",
            "created_at",
            "modified_at",
            "first_name",
            "last_name",
            "father_name",
            "sex",
            "birth_date_precision",
            "mobile",
            "chronic_disease",
            "disability",
            "pregnant",
            "name_key",
            "last_name_key",
            "relation_to_head",
        ],
        persons,
        "persons",
    )
    _copy(cur, "tracing_cluster", ["id", "created_at"], clusters, "clusters")
    _copy(
        cur,
        "cases_case",
        [
            "id",
            "org_unit_id",
            "org_path",
            "created_at",
            "modified_at",
            "person_id",
            "classification",
            "onset_date",
            "epi_link",
            "hospitalised",
            "outcome",
        ],
        cases,
        "cases",
    )
    _copy(
        cur,
        "tracing_chaincase",
        ["case_id", "person_id", "org_path", "cluster_id", "created_at", "generation"],
        chains,
        "chain cases",
    )
    _copy(
        cur,
        "tracing_contact",
        [
            "id",
            "org_unit_id",
            "org_path",
            "created_at",
            "modified_at",
            "case_id",
            "person_id",
            "last_exposure",
            "setting",
            "closeness",
            "source",
            "status",
            "follow_up_end",
            "became_case_id",
            "removed_reason",
            "cluster_id",
            "tracing_team_path",
        ],
        ((*row, "") for row in contacts),
        "contacts",
    )
    _copy(
        cur,
        "tracing_transmissionlink",
        [
            "id",
            "org_unit_id",
            "org_path",
            "created_at",
            "modified_at",
            "infector_id",
            "infectee_id",
            "source",
            "cluster_id",
        ],
        links,
        "links",
    )
    _copy(
        cur,
        "tracing_event",
        ["id", "org_unit_id", "org_path", "created_at", "modified_at", "name", "kind", "date", "cluster_id"],
        events,
        "events",
    )
    _copy(
        cur,
        "tracing_eventattendance",
        [
            "id",
            "org_unit_id",
            "org_path",
            "created_at",
            "modified_at",
            "event_id",
            "person_id",
            "case_id",
            "cluster_id",
        ],
        attendances,
        "attendances",
    )
    for rows in (persons, cases, chains, contacts, links, clusters, events, attendances):
        rows.clear()


def _time_raw(conn, queries) -> float:
    start = time.perf_counter()
    for sql in queries:
        conn.execute(sql).fetchall()
    return (time.perf_counter() - start) * 1000


def measure(samples: int, seed: int) -> dict:
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mahalle.accounts.models import Role, User
    from mahalle.geo.models import OrgUnit
    from mahalle.tracing import selectors

    user, _ = User.objects.get_or_create(
        username="bench-national", defaults={"role": Role.NATIONAL_COORDINATOR}
    )
    user.org_units.set([OrgUnit.objects.get(code="IR")])
    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_case")
        n_cases = cursor.fetchone()[0]
        cursor.execute(
            "SELECT cluster_id FROM tracing_chaincase GROUP BY cluster_id ORDER BY count(*) DESC LIMIT 20"
        )
        big = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT case_id FROM tracing_chaincase WHERE cluster_id = ANY(%s)", [big])
        big_cases = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT case_id FROM tracing_chaincase TABLESAMPLE SYSTEM (1) LIMIT %s", [samples])
        any_cases = [row[0] for row in cursor.fetchall()]
    picks = [rng.choice(any_cases) for _ in range(samples // 2)] + [
        rng.choice(big_cases) for _ in range(samples // 2)
    ]
    rng.shuffle(picks)
    raw = psycopg.connect(PG_URL.replace("postgres://", "postgresql://"), autocommit=True)
    for case_id in picks[:5]:  # warm the caches
        selectors.cluster_graph(user=user, case_id=case_id)
    graph_ms, raw_ms, nodes = [], [], []
    for case_id in picks:
        start = time.perf_counter()
        graph = selectors.cluster_graph(user=user, case_id=case_id)
        graph_ms.append((time.perf_counter() - start) * 1000)
        nodes.append(len(graph["nodes"]))
        with CaptureQueriesContext(connection) as captured:
            selectors.cluster_graph(user=user, case_id=case_id)
        raw_ms.append(_time_raw(raw, [q["sql"] for q in captured.captured_queries if q["sql"]]))
    provinces = list(OrgUnit.objects.filter(level=1).order_by("code"))
    province_s, province_raw_s, clusters_seen = [], [], []
    for unit in provinces:
        start = time.perf_counter()
        result = selectors.clusters_in_unit(user=user, unit=unit)
        province_s.append(time.perf_counter() - start)
        clusters_seen.append(result["clusters_total"])
        with CaptureQueriesContext(connection) as captured:
            selectors.clusters_in_unit(user=user, unit=unit)
        province_raw_s.append(_time_raw(raw, [q["sql"] for q in captured.captured_queries]) / 1000)
    raw.close()
    graph_stats = percentiles(graph_ms)
    province_stats = percentiles([s * 1000 for s in province_s])
    return {
        "cases_in_database": n_cases,
        "cluster_of_a_case": {
            **graph_stats,
            "nodes_median": sorted(nodes)[len(nodes) // 2],
            "nodes_max": max(nodes),
            "target_p95_ms": TARGET_CLUSTER_P95_MS,
            "meets_target": graph_stats["p95_ms"] <= TARGET_CLUSTER_P95_MS,
            "baseline_raw_sql": percentiles(raw_ms),
        },
        "province_statistics": {
            **province_stats,
            "provinces": len(provinces),
            "clusters_per_province_median": sorted(clusters_seen)[len(clusters_seen) // 2],
            "target_max_s": TARGET_PROVINCE_S,
            "meets_target": province_stats["max_ms"] <= TARGET_PROVINCE_S * 1000,
            "baseline_raw_sql": percentiles([s * 1000 for s in province_raw_s]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000,000 cases (default 1)")
    parser.add_argument("--samples", type=int, default=200, help="cluster-of-a-case calls (default 200)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database again")
    args = parser.parse_args()
    cases = int(1_000_000 * args.scale)
    from common import fresh_database

    if args.rebuild:
        fresh_database(PG_URL)
    else:
        ensure_database(PG_URL)
    django_setup(PG_URL)
    from django.db import connection

    built = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('cases_case')")
        exists = cursor.fetchone()[0] is not None
        count = 0
        if exists:
            cursor.execute("SELECT count(*) FROM cases_case")
            count = cursor.fetchone()[0]
    started = time.perf_counter()
    if count != cases:
        if count:
            connection.close()
            fresh_database(PG_URL)
        print(f"building {cases:,} cases ...", file=sys.stderr, flush=True)
        built = build(cases, args.seed)
    build_s = round(time.perf_counter() - started, 1)
    result = {
        "benchmark": "tracing_clusters",
        "machine": {**machine(), "note": "2 cores shared with other work: indicative numbers"},
        "database": "PostgreSQL " + connection.cursor().connection.info.server_version.__str__(),
        "scale": args.scale,
        "built": built,
        "build_seconds": build_s if built else 0,
        **measure(args.samples, args.seed),
    }
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
