"""Synthetic Persian agency lists with known truth, for evaluating linkage (pure: numpy + random).

A population of households (shared last name, address, phone; children carry the father's first name as
their father's name), twins (same birth date, same parents), and namesakes (محمد محمدی in one county, told
apart only by father's name, birth date and national code). Each agency lists its own overlapping subset of
people with its own kinds and rates of error; some people are listed twice by the same agency.
Names come from mahalle.core.synthetic (Faker's fa_IR lists with Zipf weights: common names are common), as
the synthetic population's do.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import jdatetime

from mahalle.core.identifiers import national_code_with_check_digit
from mahalle.core.persian import to_persian_digits
from mahalle.core.person_record import PERSON_RECORD_COLUMNS
from mahalle.core.synthetic import GIVEN_NAMES, MOBILE_PREFIXES, STREETS, SURNAMES

COUNTIES = [
    ("تهران", "تهران"),
    ("تهران", "ری"),
    ("تهران", "اسلامشهر"),
    ("خراسان رضوی", "مشهد"),
    ("اصفهان", "اصفهان"),
    ("فارس", "شیراز"),
    ("آذربایجان شرقی", "تبریز"),
    ("البرز", "کرج"),
    ("قم", "قم"),
    ("خوزستان", "اهواز"),
]
COMPOUND_PREFIXES = ("محمد", "علی", "امیر", "ابو", "عبد", "فاطمه", "زهرا", "غلام", "حسین", "مهدی")
LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
RECORD_COLUMNS = list(PERSON_RECORD_COLUMNS)  # the files it writes: the person-record format, in order


@dataclass
class AgencyProfile:
    name: str
    coverage: float  # share of households it lists
    date_style: str  # "jalali", "gregorian", "mixed"
    persian_digits: float = 0.0
    arabic_letters: float = 0.0
    compound_split: float = 0.0
    titles: float = 0.0
    swap: float = 0.0
    typo: float = 0.0
    year_only: float = 0.0
    nc_missing: float = 0.0
    nc_typo: float = 0.0
    nc_format: float = 0.0
    mobile_missing: float = 0.0
    father_missing: float = 0.0
    date_missing: float = 0.0
    date_typo: float = 0.0
    sex_missing: float = 0.0
    duplicate: float = 0.0
    mobile_other: float = 0.05  # lists another number of the person (old SIM, household phone)
    moved: float = 0.01  # listed in another county


PROFILES = [
    AgencyProfile(
        "relief_committee",
        0.55,
        "jalali",
        persian_digits=0.5,
        arabic_letters=0.05,
        compound_split=0.3,
        titles=0.05,
        typo=0.02,
        nc_missing=0.02,
        nc_typo=0.01,
        nc_format=0.3,
        mobile_missing=0.1,
        father_missing=0.02,
        date_typo=0.01,
        duplicate=0.03,
    ),
    AgencyProfile(
        "foundation",
        0.45,
        "mixed",
        persian_digits=0.3,
        arabic_letters=0.3,
        compound_split=0.4,
        titles=0.15,
        swap=0.02,
        typo=0.04,
        year_only=0.2,
        nc_missing=0.1,
        nc_typo=0.03,
        nc_format=0.2,
        mobile_missing=0.2,
        father_missing=0.1,
        date_missing=0.03,
        date_typo=0.02,
        duplicate=0.04,
    ),
    AgencyProfile(
        "red_crescent",
        0.40,
        "gregorian",
        arabic_letters=0.1,
        compound_split=0.2,
        titles=0.05,
        swap=0.05,
        typo=0.05,
        year_only=0.05,
        nc_missing=0.05,
        nc_typo=0.02,
        mobile_missing=0.15,
        father_missing=0.2,
        date_missing=0.02,
        date_typo=0.02,
        sex_missing=0.1,
        duplicate=0.02,
    ),
    AgencyProfile(
        "donors",
        0.30,
        "mixed",
        persian_digits=0.6,
        arabic_letters=0.4,
        compound_split=0.5,
        titles=0.2,
        swap=0.04,
        typo=0.07,
        year_only=0.3,
        nc_missing=0.3,
        nc_typo=0.04,
        nc_format=0.4,
        mobile_missing=0.25,
        father_missing=0.3,
        date_missing=0.08,
        date_typo=0.03,
        sex_missing=0.3,
        duplicate=0.05,
    ),
]


PREFIXES = {"relief_committee": "REL", "foundation": "FND", "red_crescent": "RCS", "donors": "DON"}


def _draw(rng: random.Random, names, cdf) -> str:
    return str(names[min(bisect.bisect_right(cdf, rng.random()), len(names) - 1)])


def _random_mobile(rng: random.Random) -> str:
    return str(rng.choice(list(MOBILE_PREFIXES))) + f"{rng.randrange(10**7):07d}"


def generate_population(n_persons: int, seed: int = 1) -> list[dict]:
    """Persons with person_id, household fields, and true values (Gregorian birth dates)."""
    rng = random.Random(seed)
    persons: list[dict] = []
    used_codes: set[str] = set()
    ref = dt.date(2026, 1, 1)

    def code() -> str:
        while True:
            c = national_code_with_check_digit(f"{rng.randrange(0, 10**9):09d}")
            if c not in used_codes and len(set(c)) > 1:
                used_codes.add(c)
                return c

    def born(age_lo: int, age_hi: int) -> dt.date:
        return ref - dt.timedelta(days=rng.randrange(age_lo * 365, age_hi * 365 + 1))

    hh = 0
    common_first = ["محمد", "علی", "حسین", "فاطمه", "زهرا"]
    common_last = ["محمدی", "حسینی", "احمدی", "رضایی"]
    while len(persons) < n_persons:
        hh += 1
        province, county = COUNTIES[min(int(rng.paretovariate(1.2)) - 1, len(COUNTIES) - 1)]
        # Namesakes: a share of households carry the most common surnames.
        last = rng.choice(common_last) if rng.random() < 0.15 else _draw(rng, *SURNAMES)
        address = (
            f"{county} خیابان {rng.choice(STREETS)} کوچه {rng.randrange(1, 40)} پلاک {rng.randrange(1, 200)}"
        )
        phone = _random_mobile(rng)
        head_first = rng.choice(common_first[:3]) if rng.random() < 0.2 else _draw(rng, *GIVEN_NAMES["M"])
        head = {
            "first": head_first,
            "last": last,
            "father": _draw(rng, *GIVEN_NAMES["M"]),
            "sex": "M",
            "birth": born(25, 75),
            "mobile": phone,
        }
        members = [head]
        if rng.random() < 0.8:
            members.append(
                {
                    "first": _draw(rng, *GIVEN_NAMES["F"]),
                    "last": _draw(rng, *SURNAMES),
                    "father": _draw(rng, *GIVEN_NAMES["M"]),
                    "sex": "F",
                    "birth": born(20, 70),
                    "mobile": _random_mobile(rng) if rng.random() < 0.7 else phone,
                }
            )
        n_children = rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])
        for _ in range(n_children):
            sex = rng.choice("MF")
            first = _draw(rng, *GIVEN_NAMES[sex])
            if rng.random() < 0.15:
                first = rng.choice(common_first[:3] if sex == "M" else common_first[3:])
            while any(m["first"] == first for m in members):  # parents do not give two children one name
                first = _draw(rng, *GIVEN_NAMES[sex])
            child = {
                "first": first,
                "last": last,
                "father": head_first,
                "sex": sex,
                "birth": born(0, 24),
                "mobile": _random_mobile(rng) if rng.random() < 0.4 else phone,
            }
            members.append(child)
            if rng.random() < 0.04:  # twins: same birth date, same parents, different first name
                twin_sex = rng.choice("MF")
                twin_first = first
                while any(m["first"] == twin_first for m in members):
                    twin_first = _draw(rng, *GIVEN_NAMES[twin_sex])
                members.append({**child, "first": twin_first, "sex": twin_sex, "mobile": phone})
        for m in members:
            m.update(
                person_id=f"p{len(persons) + 1}",
                household=hh,
                province=province,
                county=county,
                address=address,
                national_code=code(),
            )
            persons.append(m)
            if len(persons) >= n_persons:
                break
    return persons


def _split_compound(rng: random.Random, name: str) -> str:
    for prefix in COMPOUND_PREFIXES:
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            return prefix + rng.choice([" ", "\u200c"]) + name[len(prefix) :]
    return name


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 3:
        return name
    i = rng.randrange(1, len(name))
    kind = rng.random()
    if kind < 0.35:
        return name[:i] + rng.choice(LETTERS) + name[i + 1 :]
    if kind < 0.6:
        return name[:i] + name[i + 1 :]
    if kind < 0.8:
        return name[:i] + rng.choice("اوی") + name[i:]
    j = min(i + 1, len(name) - 1)
    chars = list(name)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _arabic(name: str) -> str:
    return name.replace("ی", "ي").replace("ک", "ك")


def _render_name(rng: random.Random, p: AgencyProfile, name: str) -> str:
    if rng.random() < p.compound_split:
        name = _split_compound(rng, name)
    if rng.random() < p.typo:
        name = _typo(rng, name)
    if rng.random() < p.arabic_letters:
        name = _arabic(name)
    return name


def _digits(rng: random.Random, p: AgencyProfile, text: str) -> str:
    return to_persian_digits(text) if rng.random() < p.persian_digits else text


def _render_date(rng: random.Random, p: AgencyProfile, date: dt.date) -> str:
    if rng.random() < p.date_missing:
        return ""
    if rng.random() < p.date_typo:  # a one-digit slip in the day
        date = date + dt.timedelta(days=rng.choice([-10, -1, 1, 10]))
    jalali = p.date_style == "jalali" or (p.date_style == "mixed" and rng.random() < 0.5)
    jd = jdatetime.date.fromgregorian(date=date)
    if rng.random() < p.year_only:
        text = str(jd.year) if jalali else str(date.year)
    elif jalali:
        text = f"{jd.year:04d}/{jd.month:02d}/{jd.day:02d}"
    else:
        text = date.isoformat()
    return _digits(rng, p, text)


def _render_code(rng: random.Random, p: AgencyProfile, code: str) -> str:
    if rng.random() < p.nc_missing:
        return ""
    if rng.random() < p.nc_typo:
        i = rng.randrange(10)
        if rng.random() < 0.7:
            code = code[:i] + str((int(code[i]) + rng.randrange(1, 10)) % 10) + code[i + 1 :]
        else:
            j = min(i + 1, 9)
            chars = list(code)
            chars[i], chars[j] = chars[j], chars[i]
            code = "".join(chars)
    if rng.random() < p.nc_format:
        code = rng.choice(
            [f"{code[:3]}-{code[3:9]}-{code[9]}", code.lstrip("0") or code, f"{code[:3]} {code[3:]}"]
        )
    return _digits(rng, p, code)


def _render_mobile(rng: random.Random, p: AgencyProfile, mobile: str) -> str:
    if rng.random() < p.mobile_missing:
        return ""
    if rng.random() < p.mobile_other:
        mobile = _random_mobile(rng)
    rest = mobile[1:]
    text = rng.choice(
        [mobile, "+98" + rest, "0098" + rest, "98" + rest, rest, f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}"]
    )
    return _digits(rng, p, text)


def _render_address(rng: random.Random, p: AgencyProfile, address: str) -> str:
    if rng.random() < p.mobile_missing / 2:
        return ""
    if rng.random() < 0.3:
        address = address.replace("خیابان ", "خ ").replace("کوچه ", "ک ").replace("پلاک ", "پ ")
    if rng.random() < 0.2:
        address = address.split(" ", 1)[1]  # without the city
    if rng.random() < p.typo:
        address = _typo(rng, address)
    return _digits(rng, p, address)


def render_record(rng: random.Random, p: AgencyProfile, person: dict, record_id: str) -> dict:
    first = _render_name(rng, p, person["first"])
    last = _render_name(rng, p, person["last"])
    if rng.random() < p.titles:
        title = rng.choice(["سید", "حاج"] if person["sex"] == "M" else ["سیده", "حاجیه"])
        first = f"{title} {first}"
    if rng.random() < p.swap:
        first, last = last, first
    father = "" if rng.random() < p.father_missing else _render_name(rng, p, person["father"])
    province, county = person["province"], person["county"]
    if rng.random() < p.moved:
        province, county = rng.choice(COUNTIES)
    sex = (
        ""
        if rng.random() < p.sex_missing
        else rng.choice([person["sex"], "مرد" if person["sex"] == "M" else "زن"])
    )
    return {
        "record_id": record_id,
        "national_code": _render_code(rng, p, person["national_code"]),
        "first_name": first,
        "last_name": last,
        "father_name": father,
        "birth_date": _render_date(rng, p, person["birth"]),
        "sex": sex,
        "mobile": _render_mobile(rng, p, person["mobile"]),
        "province": province,
        "county": _arabic(county) if rng.random() < p.arabic_letters else county,
        "address": _render_address(rng, p, person["address"]),
    }


def generate_agency_lists(
    n_persons: int = 10000, n_agencies: int = 4, seed: int = 1
) -> tuple[dict[str, list[dict]], list[dict]]:
    """(agency name → records, truth rows {source, record_id, person_id})."""
    persons = generate_population(n_persons, seed)
    rng = random.Random(seed + 1000)
    households: dict[int, list[dict]] = {}
    for person in persons:
        households.setdefault(person["household"], []).append(person)
    lists: dict[str, list[dict]] = {}
    truth: list[dict] = []
    profiles = [PROFILES[i % len(PROFILES)] for i in range(n_agencies)]
    for k, profile in enumerate(profiles):
        name = profile.name if k < len(PROFILES) else f"{profile.name}_{k}"
        records = []
        for members in households.values():
            if rng.random() >= profile.coverage:
                continue
            for person in members:
                if rng.random() < 0.15:  # not every member is listed
                    continue
                copies = 2 if rng.random() < profile.duplicate else 1
                for _ in range(copies):
                    rid = f"{PREFIXES.get(profile.name, 'AG')}{k + 1}-{len(records) + 1:07d}"
                    records.append(render_record(rng, profile, person, rid))
                    truth.append({"source": name, "record_id": rid, "person_id": person["person_id"]})
        rng.shuffle(records)
        lists[name] = records
    return lists, truth


def write_eval_data(out: Path, n_persons: int = 10000, n_agencies: int = 4, seed: int = 1) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    lists, truth = generate_agency_lists(n_persons, n_agencies, seed)
    for name, records in lists.items():
        with open(out / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RECORD_COLUMNS)
            writer.writeheader()
            writer.writerows(records)
    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["source", "record_id", "person_id"])
        writer.writeheader()
        writer.writerows(truth)
    return {"persons": n_persons, "records": len(truth), "files": {k: len(v) for k, v in lists.items()}}
