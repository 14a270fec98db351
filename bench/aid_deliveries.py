"""Delivery recording through the real HTTP API under concurrent clients, against PostgreSQL. Prints JSON.

    .venv/bin/python bench/aid_deliveries.py                          # 20 clients, 10 posts, 400 households a post
    .venv/bin/python bench/aid_deliveries.py --clients 20 --posts 10 --households 200

What it does (PostgreSQL only; the goal is >= 500 deliveries/s with zero double deliveries):
1. a fresh database `mahalle_bench_aid_deliveries` on 127.0.0.1:5432 (BENCH_AID_DELIVERIES_PG_URL to change),
   migrated; --posts health posts, each with --households households, a warehouse holding exactly one package per
   household, and two post supervisors with an API token each (so two phones per post: --clients = 2 × --posts);
   an approved cycle of an in-kind program with one entitlement per household (written with the services);
2. a real server process (waitress, --threads threads) and --clients client threads, each over one keep-alive
   connection; BOTH clients of a post submit a delivery for EVERY entitlement of the post (each with its own
   UUID, in a different order), so every entitlement is raced for by two phones: exactly one must get 201 and the
   other 409. deliveries/s = recorded deliveries / wall time from the first request to the last answer;
3. checks, in the same run: recorded deliveries = entitlements; 409s = entitlements; no entitlement delivered
   twice; every stock level is zero (never negative); the ledger sums equal the levels (balanced);
4. the baseline, in the same run: the same number of single-row INSERTs of a delivery-like row (with a stock
   UPDATE … SET quantity = quantity − 1) over one psycopg connection, no HTTP and no checks: the floor of the
   database work.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid

from common import (
    bench_org_tree,
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
    "BENCH_AID_DELIVERIES_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_aid_deliveries"
)
TARGET_PER_S = 500


def prepare(posts: int, households: int) -> dict:
    import datetime as dt

    from django.core.management import call_command

    from mahalle.accounts.models import Role
    from mahalle.accounts.services import api_token_create, user_create
    from mahalle.aid import services
    from mahalle.aid.models import Cycle, Entitlement, Item, Warehouse
    from mahalle.geo.models import OrgUnit
    from mahalle.needs.models import Agency
    from mahalle.registry.models import Household

    call_command("migrate", verbosity=0)
    bench_org_tree(0)
    parent = OrgUnit.objects.get(code="N01010101")
    password = uuid.uuid4().hex
    admin = user_create(
        actor=None,
        username="bench-admin",
        password=password,
        role=Role.ADMINISTRATOR,
        org_units=[OrgUnit.objects.get(code="IR")],
    )
    item = Item.objects.create(code="food", name="food package")
    agency = Agency.objects.create(code="bench", name="bench", kind="other")
    program = services.program_create(
        actor=admin,
        code="bench",
        name="bench",
        kind="in_kind",
        category="food",
        agency=agency,
        org_unit=OrgUnit.objects.get(code="IR"),
        rule={},
        start_date=dt.date(2026, 11, 1),
        item=item,
    )
    tokens, by_post = [], {}
    for i in range(posts):
        unit = OrgUnit.objects.create(
            code=f"S{i:04d}",
            level=5,
            name_fa=f"S{i}",
            parent=parent,
            path=OrgUnit.build_path(parent, f"S{i:04d}"),
        )
        Household.objects.bulk_create(
            [Household(org_unit=unit, org_path=unit.path, phone="09120000000") for _ in range(households)]
        )
        warehouse = Warehouse.objects.create(
            code=f"wh-{i}", name=f"wh-{i}", org_unit=unit, org_path=unit.path
        )
        services.stock_receive(
            actor=admin, warehouse=warehouse, item=item, quantity=households, source="bench"
        )
        for phone in range(2):
            user = user_create(
                actor=admin,
                username=f"sup-{i}-{phone}",
                password=password,
                role=Role.POST_SUPERVISOR,
                org_units=[unit],
            )
            tokens.append((i, api_token_create(actor=admin, user=user, name="bench")[1]))
        by_post[i] = unit.path
    cycle = program.cycle_set.get()
    services.cycle_run_request(actor=admin, cycle=cycle)  # tasks run inline here (TASKS_BACKEND below)
    services.cycle_approve(actor=admin, cycle=Cycle.objects.get(pk=cycle.pk))
    entitlements: dict[int, list[int]] = {i: [] for i in by_post}
    path_to_post = {path: i for i, path in by_post.items()}
    for pk, path in Entitlement.objects.filter(cycle=cycle).values_list("pk", "org_path"):
        entitlements[path_to_post[path]].append(pk)
    return {
        "tokens": tokens,
        "entitlements": entitlements,
        "total": sum(len(v) for v in entitlements.values()),
    }


def client_run(port: int, token: str, ids: list[int], seed: int, out: dict, barrier) -> None:
    order = list(ids)
    random.Random(seed).shuffle(order)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, statuses = [], {}
    barrier.wait(timeout=60)
    for entitlement_id in order:
        body = json.dumps({"id": str(uuid.uuid4()), "entitlement_id": entitlement_id, "proof": "supervisor"})
        started = time.perf_counter()
        conn.request("POST", "/api/v1/aid/deliveries", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    conn.close()
    out["latencies"] = latencies
    out["statuses"] = statuses
    out["end"] = time.perf_counter()


def checks(total: int) -> dict:
    from django.db.models import Count, Sum

    from mahalle.aid.models import Delivery, StockLevel, StockMove

    deliveries = Delivery.objects.count()
    doubled = Delivery.objects.values("entitlement_id").annotate(n=Count("id")).filter(n__gt=1).count()
    levels = {(lv.warehouse_id, lv.item_id, lv.lot): lv.quantity for lv in StockLevel.objects.all()}
    ledger = {
        (r["warehouse_id"], r["item_id"], r["lot"]): r["q"]
        for r in StockMove.objects.values("warehouse_id", "item_id", "lot").annotate(q=Sum("quantity"))
    }
    return {
        "deliveries_recorded": deliveries,
        "every_entitlement_delivered_once": deliveries == total and doubled == 0,
        "double_deliveries": doubled,
        "negative_levels": sum(1 for q in levels.values() if q < 0),
        "levels_all_zero": all(q == 0 for q in levels.values()),
        "ledger_balanced": levels == ledger,
    }


def baseline(url: str, n: int) -> float:
    """n single-row INSERTs of a delivery-like row plus a stock decrement each, one connection, autocommit."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_delivery (id uuid PRIMARY KEY, entitlement_id bigint UNIQUE, at timestamptz)"
        )
        conn.execute("CREATE TABLE bench_level (id int PRIMARY KEY, quantity int CHECK (quantity >= 0))")
        conn.execute("INSERT INTO bench_level VALUES (1, %s)", [n])
        started = time.perf_counter()
        for i in range(n):
            with conn.transaction():
                conn.execute("UPDATE bench_level SET quantity = quantity - 1 WHERE id = 1")
                conn.execute("INSERT INTO bench_delivery VALUES (%s, %s, now())", [uuid.uuid4(), i])
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--households", type=int, default=400, help="households (entitlements) per post")
    parser.add_argument("--threads", type=int, default=8, help="server threads")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    fresh_database(PG_URL)
    os.environ["TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    django_setup(PG_URL)
    server = None
    try:
        made = prepare(args.posts, args.households)
        from django.db import connections

        connections.close_all()
        port = free_port()
        server = start_server(PG_URL, port, threads=args.threads)
        barrier = threading.Barrier(len(made["tokens"]) + 1)
        outs = [{} for _ in made["tokens"]]
        threads = [
            threading.Thread(
                target=client_run,
                args=(port, token, made["entitlements"][post], n, outs[n], barrier),
                daemon=True,
            )
            for n, (post, token) in enumerate(made["tokens"])
        ]
        for thread in threads:
            thread.start()
        barrier.wait(timeout=60)
        started = time.perf_counter()
        for thread in threads:
            thread.join(timeout=1800)
        wall = max(out.get("end", time.perf_counter()) for out in outs) - started
        statuses: dict = {}
        for out in outs:
            for status, count in out.get("statuses", {}).items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        latencies = [ms for out in outs for ms in out.get("latencies", [])]
        result = {
            "clients": len(made["tokens"]),
            "posts": args.posts,
            "entitlements": made["total"],
            "requests": len(latencies),
            "statuses": statuses,
            "wall_s": round(wall, 2),
            "deliveries_per_s": round(statuses.get("201", 0) / wall, 1),
            "requests_per_s": round(len(latencies) / wall, 1),
            "latency": percentiles(latencies),
            "target_deliveries_per_s": TARGET_PER_S,
            **checks(made["total"]),
        }
        result["refused_as_second"] = statuses.get("409", 0) == made["total"]
        base = baseline(PG_URL, made["total"])
        result["baseline_raw_sql_s"] = round(base, 2)
        result["baseline_deliveries_per_s"] = round(made["total"] / base, 1)
    finally:
        if server is not None:
            stop_server(server)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(PG_URL)
    result["server_threads"] = args.threads
    result["machine"] = machine()
    print(json.dumps(result, indent=2))
    ok = (
        result["every_entitlement_delivered_once"]
        and result["ledger_balanced"]
        and result["refused_as_second"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
