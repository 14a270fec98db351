"""An agency list linked to the registry through the needs service, end to end, beside the engine alone. JSON.

    .venv/bin/python bench/needs_link.py --registry 200000 --list 10000             # SQLite (a scratch file)
    .venv/bin/python bench/needs_link.py --registry 200000 --list 10000 --postgres  # PostgreSQL

What it does:
1. a scratch database (SQLite under var/bench/, or PostgreSQL `mahalle_bench_needs_link`, BENCH_NEEDS_LINK_PG_URL),
   migrated; one county with --posts health posts; --registry persons in households of four (Persian names from
   small pools, valid national codes, mobiles, birth dates) (not timed);
2. an agency list CSV of --list rows: half are registry persons as an agency writes them (Arabic ي/ك, names split
   or joined, Jalali dates, mobiles with +98, a third without national code), half new people;
3. timed, through the real services: reading the file into SourceRecords (agency_list_read), then
   agency_list_link (export of the county's registry persons, the engine, the one-transaction write that
   auto-links, queues reviews and creates the new persons and households);
4. baseline in the same run: the engine alone (`link_incremental`) on the same two DataFrames — what the service
   adds around it is the rest;
5. checks: every row is linked or queued, and how many of the known matches were auto-linked to the right person.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import bench_org_tree, django_setup, drop_database, machine, scratch_database

PG_URL = os.environ.get(
    "BENCH_NEEDS_LINK_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_needs_link"
)
FIRST_M = ["محمد", "علی", "حسین", "رضا", "مهدی", "محمدرضا", "امیر", "حسن", "عباس", "مصطفی", "جواد", "سعید"]
FIRST_F = ["فاطمه", "زهرا", "مریم", "زینب", "سمیه", "نرگس", "لیلا", "معصومه", "سارا", "الهام", "مهسا"]
LAST = [
    "محمدی",
    "احمدی",
    "حسینی",
    "رضایی",
    "کریمی",
    "موسوی",
    "جعفری",
    "کاظمی",
    "رحیمی",
    "قاسمی",
    "نوری",
    "صادقی",
    "اکبری",
    "هاشمی",
    "عباسی",
    "ابراهیمی",
    "طاهری",
    "یوسفی",
    "شریفی",
    "مرادی",
]


def _code(rng) -> str:
    from mahalle.core.identifiers import national_code_with_check_digit

    return national_code_with_check_digit(f"{rng.randrange(10**9):09d}")


def populate(registry: int, posts: int, rng) -> tuple:
    from django.core.management import call_command
    from django.db import transaction

    from mahalle.accounts.models import Role, User
    from mahalle.geo.models import OrgUnit
    from mahalle.needs.models import Agency
    from mahalle.registry.models import Household, Person
    from mahalle.registry.rules import person_keys

    call_command("migrate", verbosity=0)
    units = bench_org_tree(posts)
    user = User.objects.create(username="bench", role=Role.NATIONAL_COORDINATOR)
    user.org_units.set([OrgUnit.objects.get(code="IR")])
    agency = Agency.objects.create(code="relief", name="کمیته امداد", kind="relief_committee")
    people, codes = [], set()
    batch = 20000
    for start in range(0, registry, batch):
        homes, persons = [], []
        for i in range(start, min(start + batch, registry)):
            if i % 4 == 0:
                unit = units[rng.randrange(posts)]
                home = Household(id=uuid.uuid4(), org_unit_id=unit.pk, org_path=unit.path, address="خیابان")
                homes.append(home)
            sex = rng.choice("MF")
            first = rng.choice(FIRST_M if sex == "M" else FIRST_F)
            last = rng.choice(LAST)
            code = _code(rng)
            while code in codes:
                code = _code(rng)
            codes.add(code)
            person = Person(
                id=uuid.uuid4(),
                org_unit_id=unit.pk,
                org_path=unit.path,
                household_id=home.id,
                national_code=code,
                first_name=first,
                last_name=last,
                father_name=rng.choice(FIRST_M),
                sex=sex,
                birth_date=dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365)),
                mobile=f"09{rng.randrange(10**9):09d}",
                **person_keys({"first_name": first, "last_name": last}),
            )
            persons.append(person)
        with transaction.atomic():
            Household.objects.bulk_create(homes, batch_size=5000)
            Person.objects.bulk_create(persons, batch_size=5000)
        people.extend(persons)
        print(f"registry {len(people):,}", file=sys.stderr)
    return user, agency, units, people, codes


def agency_csv(people, size: int, units, codes, rng) -> tuple[Path, dict]:
    from mahalle.core.dates import to_jalali_str

    truth = {}
    lines = [
        "record_id,national_code,first_name,last_name,father_name,birth_date,sex,mobile,province,county,"
        "address,need_kind,support,post_code"
    ]
    for i in range(size):
        rid = f"A{i}"
        if i % 2 == 0:
            p = rng.choice(people)
            truth[rid] = str(p.id)
            first = p.first_name.replace("ی", "ي").replace("ک", "ك").replace("محمدرضا", "محمد رضا")
            code = "" if i % 6 == 0 else p.national_code
            birth = to_jalali_str(p.birth_date) if i % 4 == 0 else p.birth_date.isoformat()
            post = next(u.code for u in units if u.path == p.org_path)
            lines.append(
                f"{rid},{code},{first},{p.last_name},{p.father_name},{birth},{p.sex},+98{p.mobile[1:]},"
                f",,,food,بسته معیشتی,{post}"
            )
        else:
            code = _code(rng)
            while code in codes:
                code = _code(rng)
            codes.add(code)
            sex = rng.choice("MF")
            lines.append(
                f"{rid},{code},{rng.choice(FIRST_M if sex == 'M' else FIRST_F)},{rng.choice(LAST)}نو,"
                f"{rng.choice(FIRST_M)},{rng.randrange(1950, 2015)},{sex},09{rng.randrange(10**9):09d},,,,"
                f"housing,,{rng.choice(units).code}"
            )
    path = Path(tempfile.mkdtemp(prefix="needs-bench-")) / "list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, truth


def run(registry: int, size: int, posts: int) -> dict:
    from mahalle.geo.models import OrgUnit
    from mahalle.needs import jobs, rules, selectors
    from mahalle.needs.jobs import agency_list_read
    from mahalle.needs.linkage.engine import LinkConfig, link_incremental
    from mahalle.needs.models import SourceRecord
    from mahalle.needs.services import agency_list_create

    rng = random.Random(7)
    started = time.perf_counter()
    user, agency, units, people, codes = populate(registry, posts, rng)
    populate_s = time.perf_counter() - started
    path, truth = agency_csv(people, size, units, codes, rng)
    county = OrgUnit.objects.get(code="C0101")
    agency_list = agency_list_create(actor=user, agency=agency, org_unit=county, file_path=path)

    started = time.perf_counter()
    agency_list = agency_list_read(agency_list_id=agency_list.pk)
    read_s = time.perf_counter() - started

    # the engine alone on the same frames (the baseline), timed apart from the service
    records = list(SourceRecord.objects.filter(agency_list=agency_list).order_by("row_number"))
    started = time.perf_counter()
    new_frame = selectors.records_frame(records)
    registry_frame = selectors.registry_frame(selectors.candidate_scope(county))
    export_s = time.perf_counter() - started
    auto, review = rules.thresholds()
    started = time.perf_counter()
    engine_pairs = link_incremental(
        new_frame, registry_frame, LinkConfig(auto_link_threshold=auto, review_threshold=review)
    )
    engine_s = time.perf_counter() - started

    started = time.perf_counter()
    counts = jobs.agency_list_link(actor=user, agency_list=agency_list)
    link_s = time.perf_counter() - started

    linked = dict(SourceRecord.objects.filter(agency_list=agency_list).values_list("record_id", "person_id"))
    statuses = dict(
        SourceRecord.objects.filter(agency_list=agency_list).values_list("record_id", "link_status")
    )
    known = [rid for rid in truth if statuses.get(rid) in ("auto",)]
    right = sum(1 for rid in known if str(linked[rid]) == truth[rid])
    return {
        "registry_persons": registry,
        "list_rows": size,
        "known_matches": len(truth),
        "populate_s": round(populate_s, 1),
        "read_s": round(read_s, 2),
        "read_rows_per_s": round(size / read_s),
        "link_s": round(link_s, 2),
        "link_counts": counts,
        "auto_linked_known_matches": len(known),
        "auto_linked_to_the_right_person": right,
        "baseline_export_s": round(export_s, 2),
        "baseline_engine_alone_s": round(engine_s, 2),
        "baseline_engine_pairs": len(engine_pairs),
        "service_overhead_s": round(link_s - engine_s, 2),
        "read_plus_link_s": round(read_s + link_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registry", type=int, default=200_000)
    parser.add_argument("--list", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    url = scratch_database(name="needs_link", postgres_url=PG_URL if args.postgres else None)
    django_setup(url)
    try:
        result = run(args.registry, args.list, args.posts)
    finally:
        from django.db import connections

        connections.close_all()
        if args.postgres:
            drop_database(PG_URL)
    result.update({"database": "postgresql" if args.postgres else "sqlite", "machine": machine()})
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
