"""Screening ingestion through the real HTTP batch endpoint, beside a raw COPY of the same rows. Prints JSON.

    .venv/bin/python bench/screening_ingest.py                                # 20,000 visits, 200,000 persons
    .venv/bin/python bench/screening_ingest.py --visits 5000 --persons 50000 --clients 2

What it does (PostgreSQL only; the goal is >= 2,000 visits/s end to end on 2 cores):
1. a fresh database `mahalle_bench_screening` on 127.0.0.1:5432 (BENCH_SCREENING_PG_URL to change), created and
   dropped here (--keep keeps it); Django's migrate; a synthetic population (`mahalle.synth`,
   synth_population_write) of --persons persons; one campaign over every populated county, active today
   (created with the campaign service);
2. --clients field volunteers, each placed in every --clients-th health post, with an API token each; for each
   one, the visits of households in its posts (one visit per household, dated within the campaign's last two
   weeks, all members answered: 85% present, 4% with symptoms, SpO2 for 60%, so about one visit in ten has a
   referral, which creates its test order and, if urgent, an alert), encoded beforehand as JSON batches of
   --batch visits;
3. a real server process (`python -m waitress --threads=8 config.wsgi:application`, 127.0.0.1 only; --servers
   starts more, each client sticks to one) and --clients client threads, each posting its batches one after the
   other over one keep-alive connection; visits/s = visits / wall time from the first request to the last
   answer; checks that every item was answered "created", that the database holds exactly --visits visits, and
   that sending one batch again creates nothing (every item "exists", same count);
4. in the same run, the raw baseline: the visit and member rows Mahalle stored, read back, the tables truncated,
   then written again with a bare psycopg COPY (write_row) in one transaction, into the same tables with the
   same indexes: an upper bound, not a rival implementation.
Every loop is bounded; the servers are stopped at the end whatever happens.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid

from common import (
    django_setup,
    drop_database,
    free_port,
    fresh_database,
    machine,
    percentiles,
    start_server,
    stop_server,
)

PG_URL = os.environ.get(
    "BENCH_SCREENING_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_screening"
)
TARGET_VISITS_PER_S = 2000


# --- data ----------------------------------------------------------------------------------------------------


def prepare(persons: int, clients: int) -> dict:
    """Schema, population, campaign, one volunteer (and token) per client. Returns what the run needs."""
    from django.core.management import call_command

    from mahalle.accounts.models import Role
    from mahalle.accounts.services import api_token_create, user_create
    from mahalle.geo.models import Level, OrgUnit
    from mahalle.registry.models import Household
    from mahalle.screening.services import campaign_create
    from mahalle.synth.services import synth_population_write

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - started
    started = time.perf_counter()
    synth = synth_population_write(persons=persons, seed=1)
    synth_s = time.perf_counter() - started
    posts = list(
        OrgUnit.objects.filter(level=Level.POST, pk__in=Household.objects.values("org_unit_id")).order_by(
            "path"
        )
    )
    counties = sorted({".".join(p.path.split(".")[:3]) + "." for p in posts})
    country = OrgUnit.objects.get(level=Level.COUNTRY)
    coordinator = user_create(
        actor=None,
        username="bench_national",
        password="-",
        role=Role.NATIONAL_COORDINATOR,
        org_units=[country],
        check_password=False,
    )
    today = dt.date.today()
    campaign = campaign_create(
        actor=coordinator,
        name="Bench round",
        start_date=today - dt.timedelta(days=13),
        end_date=today + dt.timedelta(days=14),
        org_units=list(OrgUnit.objects.filter(path__in=counties)),
    )
    volunteers = []
    for c in range(clients):
        mine = posts[c::clients]
        user = user_create(
            actor=None,
            username=f"bench_volunteer_{c}",
            password="-",
            role=Role.FIELD_VOLUNTEER,
            org_units=mine,
            check_password=False,
        )
        volunteers.append(
            (user, api_token_create(actor=user, user=user, name="bench")[1], {p.pk for p in mine})
        )
    return {
        "campaign": campaign,
        "volunteers": volunteers,
        "info": {
            "persons": synth["persons"],
            "households": synth["households"],
            "posts": len(posts),
            "counties": len(counties),
            "migrate_seconds": round(migrate_s, 1),
            "synth_seconds": round(synth_s, 1),
        },
    }


def build_batches(n_visits: int, batch: int, campaign, volunteers) -> tuple[list[list[bytes]], int]:
    """Per client, its batches as JSON bytes; one visit per household, round-robin over the clients."""
    from mahalle.registry.models import Household, Person
    from mahalle.screening.rules import SYMPTOMS

    rng = random.Random(20261123)
    members: dict = {}
    for pid, hid in (
        Person.objects.filter(household__isnull=False)
        .order_by("household_id", "id")
        .values_list("id", "household_id")
    ):
        members.setdefault(hid, []).append(str(pid))
    by_client: list[list[dict]] = [[] for _ in volunteers]
    households = list(Household.objects.order_by("id").values_list("id", "org_unit_id"))
    rng.shuffle(households)
    owner = {post: c for c, (_, _, posts) in enumerate(volunteers) for post in posts}
    total = 0
    today = dt.date.today()
    for hid, post in households:
        if total >= n_visits:
            break
        if hid not in members:
            continue
        visit_date = today - dt.timedelta(days=rng.randrange(14))
        answers = []
        for pid in members[hid]:
            present = rng.random() < 0.85
            member = {"person_id": pid, "present": present, "symptoms": [], "known_contact": False}
            if present:
                if rng.random() < 0.04:
                    member["symptoms"] = rng.sample(SYMPTOMS, rng.randint(1, 3))
                    member["onset_date"] = (visit_date - dt.timedelta(days=rng.randrange(4))).isoformat()
                if rng.random() < 0.6:
                    member["spo2"] = rng.randint(88, 92) if rng.random() < 0.01 else rng.randint(94, 99)
                member["known_contact"] = rng.random() < 0.03
            answers.append(member)
        by_client[owner[post]].append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "household_id": str(hid),
                "visit_date": visit_date.isoformat(),
                "status": "screened",
                "campaign_id": str(campaign.pk),
                "needs": ["food"] if rng.random() < 0.05 else [],
                "note": "",
                "members": answers,
            }
        )
        total += 1
    return [
        [
            json.dumps({"visits": visits[i : i + batch], "follow_ups": []}).encode()
            for i in range(0, len(visits), batch)
        ]
        for visits in by_client
    ], total


# --- server and clients --------------------------------------------------------------------------------------


def post(conn: http.client.HTTPConnection, secret: str, body: bytes) -> tuple[int, dict]:
    conn.request(
        "POST",
        "/api/v1/field/batch",
        body=body,
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Host": "127.0.0.1",
        },
    )
    response = conn.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else {}


def run_clients(ports: list[int], volunteers, batches: list[list[bytes]]) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    http_errors: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        secret = volunteers[index][1]
        conn = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=120)
        try:
            for body in batches[index]:
                start = time.perf_counter()
                status, answer = post(conn, secret, body)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        http_errors.append(f"{status}: {str(answer)[:300]}")
                        continue
                    for item in answer["visits"]:
                        statuses[item["status"]] = statuses.get(item["status"], 0) + 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(batches))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=3600)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "statuses": statuses,
        "http_errors": http_errors[:5],
        "batch_latency": percentiles(latencies),
    }


# --- raw baseline --------------------------------------------------------------------------------------------


def raw_copy(n_visits: int) -> dict:
    """Read the stored visit and member rows, truncate, COPY them back with the bare driver (one transaction)."""
    from django.db import connection, models

    from mahalle.screening.models import MemberScreening, ScreeningVisit

    tables = []
    connection.ensure_connection()
    raw = connection.connection
    for model in (ScreeningVisit, MemberScreening):
        fields = model._meta.concrete_fields
        select = ", ".join(
            f"{f.column}::text" if isinstance(f, models.JSONField) else f.column for f in fields
        )
        with raw.cursor() as cur:
            cur.execute(f"SELECT {select} FROM {model._meta.db_table}")  # noqa: S608
            tables.append((model._meta.db_table, [f.column for f in fields], cur.fetchall()))
    with raw.cursor() as cur:
        cur.execute("TRUNCATE screening_screeningvisit, screening_memberscreening CASCADE")
    started = time.perf_counter()
    with raw.transaction(), raw.cursor() as cur:
        for table, columns, rows in tables:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    seconds = time.perf_counter() - started
    with raw.cursor() as cur:
        cur.execute("SELECT count(*) FROM screening_screeningvisit")
        visits = cur.fetchone()[0]
    return {
        "visits": visits,
        "member_rows": len(tables[1][2]),
        "seconds": round(seconds, 2),
        "visits_per_s": round(n_visits / seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--servers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per server (default 8)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not 1 <= args.clients <= 32 or not 1 <= args.servers <= 8 or not 1 <= args.batch <= 500:
        parser.error("--clients 1-32, --servers 1-8, --batch 1-500")

    fresh_database(PG_URL)
    try:
        django_setup(PG_URL)
        from mahalle.cases.models import Alert, TestOrder
        from mahalle.screening.models import CampaignCoverage, MemberScreening, ScreeningVisit

        ready = prepare(args.persons, args.clients)
        batches, total = build_batches(args.visits, args.batch, ready["campaign"], ready["volunteers"])
        if total < args.visits:
            print(f"only {total} households with members: sending {total} visits", file=sys.stderr)
        ports = [free_port() for _ in range(args.servers)]
        servers = []
        try:
            servers = [start_server(PG_URL, port, args.threads) for port in ports]
            # warm up each server (imports, first connection) outside the timing
            for i, port in enumerate(ports):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                post(
                    conn,
                    ready["volunteers"][i % len(ready["volunteers"])][1],
                    b'{"visits": [], "follow_ups": []}',
                )
                conn.close()
            http_run = run_clients(ports, ready["volunteers"], batches)
            stored = ScreeningVisit.objects.count()
            members = MemberScreening.objects.count()
            orders = TestOrder.objects.count()
            alerts = Alert.objects.count()
            coverage = sum(CampaignCoverage.objects.values_list("households_screened", flat=True))
            conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=60)
            status, again = post(conn, ready["volunteers"][0][1], batches[0][0])
            conn.close()
            resend = {
                "http_status": status,
                "items": len(again.get("visits", [])),
                "all_exists": all(item["status"] == "exists" for item in again.get("visits", [])),
                "visits_after": ScreeningVisit.objects.count(),
            }
        finally:
            for server in servers:
                stop_server(server)
        rate = total / http_run["seconds"]
        baseline = raw_copy(total)
        report = {
            "benchmark": "screening_ingest",
            "machine": machine(),
            "database": PG_URL.rsplit("@", 1)[-1],
            "data": ready["info"],
            "visits": total,
            "batch": args.batch,
            "clients": args.clients,
            "servers": args.servers,
            "server_threads": args.threads,
            "http": {
                "seconds": round(http_run["seconds"], 2),
                "visits_per_s": round(rate),
                "item_statuses": http_run["statuses"],
                "http_errors": http_run["http_errors"],
                "batch_latency": http_run["batch_latency"],
            },
            "stored": {
                "visits": stored,
                "member_screenings": members,
                "test_orders": orders,
                "alerts": alerts,
                "coverage_households_screened": coverage,
                "exactly_n_visits": stored == total,
            },
            "resend_one_batch": {
                **resend,
                "creates_nothing": resend["all_exists"] and resend["visits_after"] == stored,
            },
            "raw_copy": baseline,
            "ratio_http_to_raw": round(rate / baseline["visits_per_s"], 3),
            "target_visits_per_s": TARGET_VISITS_PER_S,
            "meets_target": rate >= TARGET_VISITS_PER_S,
        }
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(PG_URL)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    ok = report["stored"]["exactly_n_visits"] and report["resend_one_batch"]["creates_nothing"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
