"""Entitlement computation of one program cycle over N households, beside a raw INSERT … SELECT. Prints JSON.

    .venv/bin/python bench/aid_entitlements.py --households 1000000                  # SQLite (a scratch file)
    .venv/bin/python bench/aid_entitlements.py --households 1000000 --postgres       # PostgreSQL

What it does:
1. a scratch database (SQLite file under var/bench/, or PostgreSQL `mahalle_bench_aid` on 127.0.0.1:5432,
   BENCH_AID_PG_URL to change), migrated; an org tree of one province, --posts health posts; --households
   households spread over the posts, each with a vulnerability score (0–10, uniform) and, for 40 %, an open
   "food" need (not timed: bulk inserts);
2. a program over the whole country, rule {"need_kinds": ["food"], "min_score": 3} (≈ 28 % of households qualify),
   its cycle computed by the real service `aid.services.cycle_compute` (batched reads, bulk inserts with the
   reasons of each household, progress saved per batch, then the double-dipping UPDATEs): households/s examined
   and entitlements/s written, wall time;
3. in the same run, the baseline: one raw `INSERT INTO aid_entitlement … SELECT` of the same households into a
   second cycle (constant reasons, no progress, no flags): the floor the database itself sets;
4. checks that both wrote the same households.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid

from common import bench_org_tree, django_setup, drop_database, machine, scratch_database

PG_URL = os.environ.get("BENCH_AID_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_aid")


def populate(households: int, posts: int, seed: int = 1) -> dict:
    from django.core.management import call_command
    from django.db import transaction

    from mahalle.geo.models import OrgUnit
    from mahalle.needs.models import Agency, HouseholdNeed, HouseholdVulnerability
    from mahalle.registry.models import Household

    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    started = time.perf_counter()
    units = bench_org_tree(posts)
    batch = 20000
    today = dt.date(2026, 11, 1)
    for start in range(0, households, batch):
        rows, scores, needs = [], [], []
        for _ in range(min(batch, households - start)):
            unit = units[rng.randrange(posts)]
            household = Household(
                id=uuid.uuid4(), org_unit_id=unit.pk, org_path=unit.path, phone="09120000000"
            )
            rows.append(household)
            scores.append(
                HouseholdVulnerability(
                    household_id=household.id, org_path=unit.path, score=rng.randint(0, 10)
                )
            )
            if rng.random() < 0.4:
                needs.append(
                    HouseholdNeed(
                        household_id=household.id,
                        org_unit_id=unit.pk,
                        org_path=unit.path,
                        kind="food",
                        source="manual",
                        noted_on=today - dt.timedelta(days=10),
                    )
                )
        with transaction.atomic():
            Household.objects.bulk_create(rows, batch_size=5000)
            HouseholdVulnerability.objects.bulk_create(scores, batch_size=5000)
            HouseholdNeed.objects.bulk_create(needs, batch_size=5000)
        print(f"populated {start + len(rows):,}", file=sys.stderr)
    agency = Agency.objects.create(code="bench", name="bench", kind="other")
    return {
        "root": OrgUnit.objects.get(code="IR"),
        "agency": agency,
        "populate_s": time.perf_counter() - started,
    }


def run(households: int, posts: int) -> dict:
    from django.db import connection

    from mahalle.aid import services
    from mahalle.aid.models import Cycle, Entitlement, Program

    made = populate(households, posts)
    root = made["root"]
    program = Program.objects.create(
        code="bench",
        name="bench",
        kind="in_kind",
        category="bench",
        agency=made["agency"],
        org_unit=root,
        org_path=root.path,
        item=None,
        quantity=1,
        rule={"need_kinds": ["food"], "min_score": 3},
        start_date=dt.date(2026, 11, 1),
    )
    cycle = Cycle.objects.create(
        program=program,
        number=1,
        period_start=dt.date(2026, 11, 1),
        period_end=dt.date(2026, 11, 30),
        status="running",
    )
    done = [0]
    started = time.perf_counter()
    cycle = services.cycle_compute(cycle_id=cycle.pk, progress=lambda n: done.__setitem__(0, done[0] + n))
    compute_s = time.perf_counter() - started
    assert cycle.status == "computed", cycle.message

    baseline_cycle = Cycle.objects.create(
        program=program,
        number=2,
        period_start=dt.date(2026, 12, 1),
        period_end=dt.date(2026, 12, 31),
        status="computed",
    )
    now = "CURRENT_TIMESTAMP"
    sql = f"""
        INSERT INTO aid_entitlement (created_at, modified_at, cycle_id, household_id, org_unit_id, org_path,
            head_name, head_national_code, phone, quantity, amount, reasons, flag, flag_detail, decision)
        SELECT {now}, {now}, %s, h.id, h.org_unit_id, h.org_path, '', '', h.phone, 1, 0, '[]', '', '', ''
        FROM registry_household h JOIN needs_householdvulnerability v ON v.household_id = h.id
        WHERE v.score >= 3 AND EXISTS (
            SELECT 1 FROM needs_householdneed n WHERE n.household_id = h.id AND n.kind = 'food'
            AND n.noted_on <= %s AND (n.resolved_on IS NULL OR n.resolved_on >= %s))
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [baseline_cycle.pk, dt.date(2026, 12, 31), dt.date(2026, 12, 1)])
    baseline_s = time.perf_counter() - started
    mine = set(Entitlement.objects.filter(cycle=cycle).values_list("household_id", flat=True))
    theirs = set(Entitlement.objects.filter(cycle=baseline_cycle).values_list("household_id", flat=True))
    return {
        "households": households,
        "posts": posts,
        "entitled": cycle.entitled,
        "progress_reported": done[0],
        "same_households_as_baseline": mine == theirs,
        "populate_s": round(made["populate_s"], 1),
        "compute_s": round(compute_s, 2),
        "households_per_s": round(households / compute_s),
        "entitlements_per_s": round(cycle.entitled / compute_s),
        "baseline_insert_select_s": round(baseline_s, 2),
        "baseline_entitlements_per_s": round(len(theirs) / baseline_s) if baseline_s else None,
        "ratio_to_baseline": round(compute_s / baseline_s, 2) if baseline_s else None,
        "extrapolated_10M_households_s": round(compute_s * 10_000_000 / households),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    url = scratch_database(name="aid_entitlements", postgres_url=PG_URL if args.postgres else None)
    django_setup(url)
    try:
        result = run(args.households, args.posts)
    finally:
        from django.db import connections

        connections.close_all()
        if args.postgres and not args.keep:
            drop_database(PG_URL)
    result.update({"database": "postgresql" if args.postgres else "sqlite", "machine": machine()})
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
