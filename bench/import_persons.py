"""Bulk import of persons: Mahalle's import (the real service path of `mahalle import persons FILE`) against a raw
driver baseline in the same run, on SQLite and PostgreSQL. Prints JSON.

    .venv/bin/python bench/import_persons.py                          # 1,000,000 persons, both databases
    .venv/bin/python bench/import_persons.py --persons 200000 --engine sqlite

What it does:
1. writes N synthetic persons to a UTF-8 CSV in the person-record format (national codes with valid check digits,
   Persian names, birth dates mixed: 70% Gregorian, 20% Jalali (half in Persian digits), 10% year only;
   300 health posts);
2. per engine, in a child process, on a fresh database (PostgreSQL `mahalle_bench_import` on 127.0.0.1:5432,
   created and dropped here, BENCH_IMPORT_PG_URL to change; SQLite in a temporary folder): Django's migrate, an
   org tree of 300 posts, then
   a) Mahalle: import_job_create + import_job_run on the file, timed end to end (hashing, the pre-scan, reading,
      person_clean on every row, natural-key lookups, bulk insert, audit event and progress per batch);
   b) the raw baseline: the rows Mahalle stored, read back as the driver's values (so exactly the same rows), the
      table emptied (TRUNCATE / DELETE + VACUUM), then inserted again in one transaction with the bare driver:
      psycopg COPY (write_row) or sqlite3 executemany (WAL, synchronous=NORMAL, foreign_keys=ON as Django's
      connection), into the same table with the same indexes and constraints. No validation, no key lookups, one
      commit: an upper bound, not a rival implementation.
   ratio = Mahalle persons/s ÷ raw persons/s.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, django_setup, drop_database, fresh_database, machine

PG_URL = os.environ.get("BENCH_IMPORT_PG_URL", "postgres://postgres@127.0.0.1:5432/mahalle_bench_import")
POSTS = 300

FIRST_M = [
    "محمد",
    "علی",
    "حسین",
    "رضا",
    "مهدی",
    "امیر",
    "حمید",
    "مرتضی",
    "محمدرضا",
    "یوسف",
    "ابوالفضل",
    "سجاد",
]
FIRST_F = [
    "زهرا",
    "فاطمه",
    "مریم",
    "سارا",
    "نرگس",
    "لیلا",
    "سمیه",
    "الهام",
    "نازنین",
    "کوثر",
    "معصومه",
    "مهسا",
]
LAST = ["محمدی", "حسینی", "احمدی", "رضایی", "کریمی", "موسوی", "جعفری", "قاسمی", "صادقی", "رحیمی", "نوری"]
LAST += ["کاظمی", "عباسی", "طاهری", "اکبری", "یزدانی", "شریفی", "مرادی", "زارعی", "باقری", "حیدری", "ملکی"]
LAST += ["نجفی", "سلیمانی", "میرزایی", "خسروی", "امیری", "فرهادی", "بهرامی", "قربانی", "اسدی", "کرمانی"]
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def write_persons_csv(path: Path, n: int, seed: int = 7) -> None:
    sys.path.insert(0, str(ROOT))
    import jdatetime

    from mahalle.core.identifiers import national_code_with_check_digit

    rng = random.Random(seed)
    header = "record_id,national_code,first_name,last_name,father_name,birth_date,sex,mobile,province,county,"
    header += "address,post_code\n"
    lines = [header]
    with path.open("w", encoding="utf-8", newline="") as handle:
        for i in range(n):
            male = rng.random() < 0.5
            first = rng.choice(FIRST_M if male else FIRST_F)
            year, month, day = rng.randint(1935, 2024), rng.randint(1, 12), rng.randint(1, 28)
            kind = rng.random()
            if kind < 0.7:
                birth = f"{year:04d}-{month:02d}-{day:02d}"
            elif kind < 0.9:
                j = jdatetime.date.fromgregorian(year=year, month=month, day=day)
                birth = f"{j.year}/{j.month:02d}/{j.day:02d}"
                if kind < 0.8:
                    birth = birth.translate(PERSIAN_DIGITS)
            else:
                birth = str(year)
            code = national_code_with_check_digit(f"{10_000_000 + i * 7:09d}")
            lines.append(
                f"S{i},{code},{first},{rng.choice(LAST)},{rng.choice(FIRST_M)},{birth},{'M' if male else 'F'},"
                f"0912{rng.randrange(10_000_000):07d},تهران,تهران,,P{rng.randrange(POSTS):03d}\n"
            )
            if len(lines) >= 10_000:
                handle.write("".join(lines))
                lines = []
        handle.write("".join(lines))


# --- the child process: one engine ---------------------------------------------------------------------------


def child(engine: str, csv_path: str, batch_size: int | None, reader: str | None) -> dict:
    django_setup()  # DATABASE_URL comes from run_engine
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from mahalle.geo.models import Level, OrgUnit
    from mahalle.registry.imports import import_job_run
    from mahalle.registry.models import Person
    from mahalle.registry.services import import_job_create

    call_command("migrate", verbosity=0)
    country = OrgUnit.objects.create(code="IR", level=Level.COUNTRY, name_fa="ایران", path="IR.")
    parent = country
    for level, code in ((Level.PROVINCE, "B23"), (Level.COUNTY, "B2301"), (Level.DISTRICT, "B2301-1")):
        parent = OrgUnit.objects.create(
            code=code, level=level, name_fa=code, parent=parent, path=OrgUnit.build_path(parent, code)
        )
    hood = OrgUnit.objects.create(
        code="B-N",
        level=Level.NEIGHBORHOOD,
        name_fa="محله",
        parent=parent,
        path=OrgUnit.build_path(parent, "B-N"),
    )
    OrgUnit.objects.bulk_create(
        OrgUnit(
            code=f"P{i:03d}",
            level=Level.POST,
            name_fa=f"پایگاه {i}",
            parent=hood,
            path=OrgUnit.build_path(hood, f"P{i:03d}"),
        )
        for i in range(POSTS)
    )

    started = time.perf_counter()
    job = import_job_create(actor=None, kind="persons", org_unit=country, file_path=csv_path)
    job = import_job_run(job_id=job.pk, batch_size=batch_size, reader=reader)
    mahalle_s = time.perf_counter() - started
    assert job.status == "done", job.message
    stored = Person.objects.count()

    fields = [f.column for f in Person._meta.concrete_fields]
    columns = ", ".join(fields)
    table = Person._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {table}")
            rows = cursor.fetchall()
            cursor.execute(f"TRUNCATE {table} CASCADE")
        raw_conn = connection.connection
        started = time.perf_counter()
        with (
            transaction.atomic(),
            raw_conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        raw_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            raw_count = cursor.fetchone()[0]
    else:
        import sqlite3

        db_path = connection.settings_dict["NAME"]
        connection.close()
        raw = sqlite3.connect(db_path, isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA foreign_keys=ON")  # as Django's connection has it: the same checks on each insert
        rows = raw.execute(f"SELECT {columns} FROM {table}").fetchall()
        raw.execute(f"DELETE FROM {table}")
        raw.execute("VACUUM")
        placeholders = ", ".join("?" * len(fields))
        started = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
        raw.execute("COMMIT")
        raw_s = time.perf_counter() - started
        raw_count = raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        raw.close()
    return {
        "engine": engine,
        "rows": job.rows_done,
        "created": job.rows_created,
        "invalid": job.rows_invalid,
        "stored": stored,
        "raw_stored": raw_count,
        "batch_size": batch_size or settings.MAHALLE_IMPORT_BATCH_SIZE,
        "reader": reader or getattr(settings, "MAHALLE_IMPORT_READER", "process"),
        "mahalle_seconds": round(mahalle_s, 2),
        "mahalle_persons_per_s": round(job.rows_created / mahalle_s),
        "raw_seconds": round(raw_s, 2),
        "raw_persons_per_s": round(raw_count / raw_s),
        "ratio": round((job.rows_created / mahalle_s) / (raw_count / raw_s), 3),
    }


def run_engine(
    engine: str, csv_path: Path, batch_size: int | None, reader: str | None, workdir: Path
) -> dict:
    env = dict(os.environ)
    if engine == "postgres":
        fresh_database(PG_URL)
        env["DATABASE_URL"] = PG_URL
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench_import.sqlite3'}"
    env["MAHALLE_VAR_DIR"] = str(workdir / "var")
    try:
        command = [sys.executable, __file__, "--child", engine, "--csv", str(csv_path)]
        if batch_size:
            command += ["--batch-size", str(batch_size)]
        if reader:
            command += ["--reader", reader]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, check=False)
        if result.returncode != 0:
            return {"engine": engine, "error": result.stderr[-3000:]}
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        if engine == "postgres":
            drop_database(PG_URL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--batch-size", type=int, default=None, help="default: MAHALLE_IMPORT_BATCH_SIZE")
    parser.add_argument(
        "--reader",
        choices=["process", "inline"],
        default=None,
        help="default: MAHALLE_IMPORT_READER or process",
    )
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.csv, args.batch_size, args.reader)))
        return 0
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory(prefix="mahalle-bench-import-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "persons.csv"
        started = time.perf_counter()
        write_persons_csv(csv_path, args.persons)
        report = {
            "benchmark": "import_persons",
            "persons": args.persons,
            "csv_bytes": csv_path.stat().st_size,
            "csv_seconds": round(time.perf_counter() - started, 1),
            "machine": machine(),
            "results": [
                run_engine(engine, csv_path, args.batch_size, args.reader, workdir) for engine in engines
            ],
        }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if all("error" not in r for r in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
