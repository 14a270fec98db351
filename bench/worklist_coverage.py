"""A post's morning work list and a province's coverage table through the real HTTP API, at scale, each beside
the raw SQL it issues, in the same run. Prints JSON.

    .venv/bin/python bench/worklist_coverage.py                          # 1,000,000 persons, 5,000,000 visits
    .venv/bin/python bench/worklist_coverage.py --persons 200000 --visits 1000000 --requests 300

Targets: work list p95 < 100 ms; coverage table p95 < 300 ms.

What it does (PostgreSQL):
1. builds, or reuses when it already holds exactly --persons persons and --visits visits, the database
   `mahalle_bench_worklist` on 127.0.0.1:5432 (BENCH_WORKLIST_PG_URL to change): Django's migrate; the synthetic
   population (`mahalle.synth` synth_population_write, COPY); two weeks of activity ending today
   (`mahalle.synth.activity`: one active campaign over every populated county, its visits with every member's
   answers, referrals, test orders and results, cases, isolations and their daily follow-ups, alerts, coverage
   rows; COPY); then the older screening rounds, one every 14 days back in time, each visiting every household
   once (94% screened, 6% absent), as visit rows only (no member answers), COPY-ed until the database holds
   --visits visits; VACUUM ANALYZE;
2. a field volunteer (with an API token) in each of --posts health posts drawn at random among the populated
   ones, and a province coordinator of the province with the most people;
3. a real server process (waitress, 127.0.0.1 only) and, over one keep-alive connection, sequentially:
   a) GET /api/v1/screening/worklist?post=CODE with that post's volunteer's token, cycling over the posts
      (--requests in all);
   b) GET /api/v1/screening/campaigns/{active}/coverage?org_unit=PROVINCE&group=neighborhood with the
      coordinator's token (--requests / 2 times);
   c) the first morning of a round (--no-round-start skips it): the active campaign ended yesterday and a new
      one started today, so every household of the post is still to screen; --requests / 2 work lists; then
      the campaigns are put back;
4. the baselines, in the same run: the SQL statements the selectors issue for the same requests (captured once
   per request with Django's CaptureQueriesContext), executed through a bare psycopg connection, timed per
   request (the sum of its statements); and the selector called in-process.
Every loop is bounded; the server is stopped at the end whatever happens.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import statistics
import sys
import time
import uuid

from common import (
    django_setup,
    ensure_database,
    free_port,
    fresh_database,
    machine,
    percentiles,
    start_server,
    stop_server,
)

PG_URL = os.environ.get("BENCH_WORKLIST_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_worklist")
TARGET_WORKLIST_P95_MS = 100.0
TARGET_COVERAGE_P95_MS = 300.0
ROUND_DAYS = 14


# --- building the data ---------------------------------------------------------------------------------------


def counts() -> tuple[int, int]:
    from mahalle.registry.models import Person
    from mahalle.screening.models import ScreeningVisit

    return Person.objects.count(), ScreeningVisit.objects.count()


def older_rounds(visits_needed: int, before: dt.date, seed: int = 11) -> dict:
    """COPY `visits_needed` visit rows of older screening rounds (each household once per round)."""
    import numpy as np
    from django.db import transaction

    from mahalle.accounts.models import User
    from mahalle.registry.models import Household
    from mahalle.screening.models import Campaign, CampaignArea, ScreeningVisit
    from mahalle.synth.activity import SYNTH_VOLUNTEER
    from mahalle.synth.bulk import rows_insert

    households = list(
        Household.objects.filter(members__isnull=False)
        .distinct()
        .order_by("id")
        .values_list("id", "org_unit_id", "org_path")
    )
    if not households or visits_needed <= 0:
        return {"rounds": 0, "visits": 0}
    active_areas = list(
        CampaignArea.objects.filter(campaign__end_date__gte=before)
        .values_list("org_unit_id", "path")
        .distinct()
    )
    volunteer = User.objects.get(username=SYNTH_VOLUNTEER).pk
    rounds = -(-visits_needed // len(households))
    rng = np.random.default_rng(seed)
    with transaction.atomic():
        campaigns = []
        for r in range(1, rounds + 1):
            start = before - dt.timedelta(days=ROUND_DAYS * r)
            campaigns.append(
                Campaign(
                    id=uuid.UUID(bytes=rng.bytes(16), version=4),
                    name=f"دور قدیمی {r}",
                    start_date=start,
                    end_date=start + dt.timedelta(days=ROUND_DAYS - 1),
                )
            )
        Campaign.objects.bulk_create(campaigns)
        CampaignArea.objects.bulk_create(
            [CampaignArea(campaign=c, org_unit_id=u, path=p) for c in campaigns for u, p in active_areas]
        )

        def rows():
            left = visits_needed
            for campaign in campaigns:
                n = min(left, len(households))
                offsets = rng.integers(0, 10, n).tolist()
                screened = (rng.random(n) < 0.94).tolist()
                raw = rng.bytes(16 * n)
                for k in range(n):
                    hid, post, path = households[k]
                    yield (
                        uuid.UUID(bytes=raw[16 * k : 16 * k + 16], version=4),
                        post,
                        path,
                        hid,
                        campaign.pk,
                        (campaign.start_date + dt.timedelta(days=offsets[k])).isoformat(),
                        volunteer,
                        "screened" if screened[k] else "absent",
                        "[]",
                        "",
                    )
                left -= n

        rows_insert(
            ScreeningVisit,
            [
                "id",
                "org_unit",
                "org_path",
                "household",
                "campaign",
                "visit_date",
                "volunteer",
                "status",
                "needs",
                "note",
            ],
            rows(),
        )
    return {"rounds": rounds, "visits": visits_needed}


def build(persons: int, visits: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from mahalle.synth.activity import activity_simulate
    from mahalle.synth.services import synth_population_write

    timings = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    synth_population_write(persons=persons, seed=1)
    timings["synth_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    activity = activity_simulate(weeks=2, seed=1)
    timings["activity_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    older = older_rounds(visits - activity["visits"], before=dt.date.fromisoformat(activity["start"]))
    timings["older_rounds_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    timings["vacuum_seconds"] = round(time.perf_counter() - started, 1)
    return {
        **timings,
        "activity": {
            k: activity[k]
            for k in ("visits", "member_screenings", "test_orders", "cases", "isolations", "follow_ups")
        },
        "older_rounds": older,
    }


def actors(n_posts: int, seed: int = 5) -> dict:
    """A volunteer (with a token) in each of `n_posts` random populated posts, and a province coordinator."""
    from django.db.models import Count

    from mahalle.accounts.models import ApiToken, Role, User
    from mahalle.geo.models import Level, OrgUnit
    from mahalle.registry.models import Household

    rng = random.Random(seed)
    posts = list(
        OrgUnit.objects.filter(level=Level.POST, pk__in=Household.objects.values("org_unit_id")).order_by(
            "path"
        )
    )
    chosen = sorted(rng.sample(posts, min(n_posts, len(posts))), key=lambda p: p.path)
    tokens = {}
    for post in chosen:
        user, _ = User.objects.get_or_create(
            username=f"bench_vol_{post.code}", defaults={"role": Role.FIELD_VOLUNTEER, "password": "!"}
        )
        user.org_units.set([post])
        secret = ApiToken.new_secret()
        ApiToken.objects.create(user=user, name="bench", prefix=secret[:12], key_hash=ApiToken.hash(secret))
        tokens[post.code] = (user, secret, post)
    by_province = Household.objects.values("org_path").annotate(n=Count("id")).order_by()
    sizes: dict[str, int] = {}
    for row in by_province:
        province = ".".join(row["org_path"].split(".")[:2]) + "."
        sizes[province] = sizes.get(province, 0) + row["n"]
    province = OrgUnit.objects.get(path=max(sorted(sizes), key=sizes.get))
    coordinator, _ = User.objects.get_or_create(
        username="bench_province", defaults={"role": Role.PROVINCE_COORDINATOR, "password": "!"}
    )
    coordinator.org_units.set([province])
    secret = ApiToken.new_secret()
    ApiToken.objects.create(
        user=coordinator, name="bench", prefix=secret[:12], key_hash=ApiToken.hash(secret)
    )
    return {"posts": tokens, "province": (coordinator, secret, province)}


# --- server, timing ------------------------------------------------------------------------------------------


def time_http(port: int, requests: list[tuple[str, str]]) -> tuple[dict, list[dict]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples, answers = [], []
    try:
        for path, secret in requests:
            start = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {secret}", "Host": "127.0.0.1"})
            response = conn.getresponse()
            body = response.read()
            samples.append((time.perf_counter() - start) * 1000)
            answers.append({"status": response.status, "body": body})
    finally:
        conn.close()
    return percentiles(samples), answers


def households_to_screen(answers: list[dict]) -> dict:
    """min / mean / max length of the work lists in these (200) answers."""
    sizes = [len(json.loads(a["body"])["households_to_screen"]) for a in answers]
    return {
        "min": min(sizes) if sizes else 0,
        "mean": round(statistics.fmean(sizes), 1) if sizes else 0,
        "max": max(sizes) if sizes else 0,
    }


def captured(call) -> list[str]:
    """The SQL statements (parameters inlined by the driver) that `call()` issues."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        call()
    return [q["sql"] for q in ctx.captured_queries]


def time_raw(database_url: str, per_request: list[list[str]]) -> dict:
    import psycopg

    samples = []
    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        for statements in per_request:
            start = time.perf_counter()
            for sql in statements:
                cur = conn.execute(sql)
                if cur.description is not None:
                    cur.fetchall()
            samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def time_inprocess(calls) -> dict:
    samples = []
    for call in calls:
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def round_start(port: int, posts, requests, active) -> dict:
    """The first morning of a round: every household of the post still to screen. The active campaign is ended
    yesterday and a new one (no visit yet) starts today over the same areas, for this measurement only; both
    are put back afterwards."""
    from mahalle.screening import selectors
    from mahalle.screening.models import Campaign, CampaignArea

    today = dt.date.today()
    end = active.end_date
    fresh = Campaign.objects.create(
        name="Bench fresh round", start_date=today, end_date=today + dt.timedelta(days=13)
    )
    try:
        CampaignArea.objects.bulk_create(
            [CampaignArea(campaign=fresh, org_unit_id=a.org_unit_id, path=a.path) for a in active.areas.all()]
        )
        Campaign.objects.filter(pk=active.pk).update(end_date=today - dt.timedelta(days=1))
        time_http(port, [(f"/api/v1/screening/worklist?post={p.code}", s) for _, s, p in posts[:20]])
        stats, answers = time_http(
            port, [(f"/api/v1/screening/worklist?post={p.code}", s) for _, s, p in requests]
        )
        ok = [a for a in answers if a["status"] == 200]
        sql_by_post = {
            post.code: captured(
                lambda user=user, post=post: selectors.worklist(user=user, post=post, on=today)
            )
            for user, _, post in posts
        }
        return {
            "http_api": {**stats, "ok_answers": len(ok)},
            "raw_sql": time_raw(PG_URL, [sql_by_post[p.code] for _, _, p in requests]),
            "households_to_screen_per_post": households_to_screen(ok[: len(posts)]),
            "target_p95_ms": TARGET_WORKLIST_P95_MS,
            "meets_target": stats["p95_ms"] < TARGET_WORKLIST_P95_MS,
        }
    finally:
        Campaign.objects.filter(pk=active.pk).update(end_date=end)
        CampaignArea.objects.filter(campaign=fresh).delete()
        fresh.delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=5_000_000)
    parser.add_argument(
        "--posts", type=int, default=100, help="posts whose work lists are timed (default 100)"
    )
    parser.add_argument("--requests", type=int, default=1000, help="work-list requests (coverage: half)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database even if it fits")
    parser.add_argument(
        "--no-round-start",
        dest="round_start",
        action="store_false",
        help="skip the first-morning-of-a-round work lists (every household still to screen)",
    )
    args = parser.parse_args()
    if not 1 <= args.posts <= 2000 or not 10 <= args.requests <= 100_000:
        parser.error("--posts 1-2000, --requests 10-100000")

    ensure_database(PG_URL)
    django_setup(PG_URL)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    have = counts()
    reused = have == (args.persons, args.visits) and not args.rebuild
    built = None
    if not reused:
        from django.db import connections

        connections.close_all()
        fresh_database(PG_URL)
        built = build(args.persons, args.visits)
        have = counts()
    data = {
        "database": PG_URL.rsplit("@", 1)[-1],
        "persons": have[0],
        "visits": have[1],
        "reused": reused,
        "build_seconds": round(time.perf_counter() - started, 1),
        **({"build": built} if built else {}),
    }
    from mahalle.cases.models import FollowUp, Isolation, TestOrder
    from mahalle.registry.models import Household
    from mahalle.screening import selectors
    from mahalle.screening.models import Campaign, CampaignCoverage, MemberScreening

    data.update(
        households=Household.objects.count(),
        member_screenings=MemberScreening.objects.count(),
        test_orders=TestOrder.objects.count(),
        isolations=Isolation.objects.count(),
        follow_ups=FollowUp.objects.count(),
        coverage_rows=CampaignCoverage.objects.count(),
    )
    who = actors(args.posts)
    today = dt.date.today()
    active = (
        Campaign.objects.filter(start_date__lte=today, end_date__gte=today).order_by("-start_date").first()
    )
    posts = list(who["posts"].values())
    coordinator, coordinator_secret, province = who["province"]
    work_requests = [posts[i % len(posts)] for i in range(args.requests)]
    coverage_n = max(10, args.requests // 2)
    coverage_path = (
        f"/api/v1/screening/campaigns/{active.pk}/coverage?org_unit={province.code}&group=neighborhood"
    )

    # Baselines first (they also warm the database cache as much as the HTTP run would).
    def worklist_call(user, post):
        return lambda: selectors.worklist(user=user, post=post, on=today)

    def coverage_call():
        return selectors.coverage_table(
            user=coordinator, campaign=active, org_unit=province, group="neighborhood"
        )

    sql_by_post = {post.code: captured(worklist_call(user, post)) for user, _, post in posts}
    coverage_sql = captured(coverage_call)
    result = {
        "benchmark": "worklist_coverage",
        "machine": machine(),
        "data": data,
        "posts": len(posts),
        "province": {"code": province.code, "name_en": province.name_en},
        "active_campaign": str(active.pk),
    }
    port = free_port()
    server = start_server(PG_URL, port)
    try:
        warm = [(f"/api/v1/screening/worklist?post={p.code}", s) for _, s, p in posts[:20]]
        time_http(port, warm + [(coverage_path, coordinator_secret)] * 5)
        stats, answers = time_http(
            port, [(f"/api/v1/screening/worklist?post={p.code}", s) for _, s, p in work_requests]
        )
        ok = [a for a in answers if a["status"] == 200]
        result["worklist"] = {
            "http_api": {**stats, "ok_answers": len(ok)},
            "selector_in_process": time_inprocess([worklist_call(u, p) for u, _, p in work_requests]),
            "raw_sql": time_raw(PG_URL, [sql_by_post[p.code] for _, _, p in work_requests]),
            "statements_per_request": statistics.fmean(len(s) for s in sql_by_post.values()),
            "households_to_screen_per_post": households_to_screen(ok[: len(posts)]),
            "target_p95_ms": TARGET_WORKLIST_P95_MS,
            "meets_target": stats["p95_ms"] < TARGET_WORKLIST_P95_MS,
        }
        if args.round_start:
            result["worklist_round_start"] = round_start(
                port, posts, work_requests[: args.requests // 2], active
            )
        stats, answers = time_http(port, [(coverage_path, coordinator_secret)] * coverage_n)
        ok = [a for a in answers if a["status"] == 200]
        rows = len(json.loads(ok[0]["body"])["rows"]) if ok else 0
        result["coverage"] = {
            "http_api": {**stats, "ok_answers": len(ok), "rows": rows},
            "selector_in_process": time_inprocess([coverage_call] * coverage_n),
            "raw_sql": time_raw(PG_URL, [coverage_sql] * coverage_n),
            "statements_per_request": len(coverage_sql),
            "target_p95_ms": TARGET_COVERAGE_P95_MS,
            "meets_target": stats["p95_ms"] < TARGET_COVERAGE_P95_MS,
        }
    finally:
        stop_server(server)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
