"""A synthetic population, sampled with NumPy: no Django here, so it is fast and easy to test.

Same inputs (county counts, seed, reference date, codes already taken) -> the same population, bit for bit.
Nobody in it is a real person: names are drawn independently from Faker's fa_IR lists and national codes are
random serials completed with their check digit.

How a county's people are made (census first, households second, so the age/sex structure is the census's):
1. every person's sex and 5-year age group is drawn from the county's 2016 census table;
2. adults marry with an age- and sex-specific probability; married men and women are paired by age rank
   (men are older on average because women marry younger, which gives the usual age gap);
3. couples and some unmarried adults (older singles, widows, young people living alone) head households;
4. children join a couple whose wife is 16-45 years older, a few join a single mother; most unmarried young
   adults still live with their parents; some over-60s live with a grown-up child as "parent".
"""

import csv
import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mahalle.core.synthetic import (
    FEMALE_CDF,
    FEMALE_NAMES,
    LAST_CDF,
    LAST_NAMES,
    MALE_CDF,
    MALE_NAMES,
    MOBILE_PREFIXES,
    STREETS,
)

REFERENCE_DATE = dt.date(2026, 1, 1)  # ages are drawn as of this day, so output does not depend on today
PEOPLE_PER_POST = 1500

REL_HEAD, REL_SPOUSE, REL_CHILD, REL_PARENT = 0, 1, 2, 3
RELATION_VALUES = np.array(["head", "spouse", "child", "parent"], dtype=object)
SEX_VALUES = np.array(["M", "F"], dtype=object)
MALE, FEMALE = 0, 1


# Names, streets and mobile prefixes come from core/synthetic.py (shared with the linkage evaluation data).
def _draw(rng: np.random.Generator, values: np.ndarray, cdf: np.ndarray, size: int) -> np.ndarray:
    return values[np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(values) - 1)]


# --- census -------------------------------------------------------------------------------------------
def _group_bounds(label: str) -> tuple[int, int]:
    label = label.strip()
    if label.startswith(">"):
        low = int(label[1:])
        return low, low + 5
    low, high = label.split("-")
    return int(low), int(high) + 1


@dataclass
class Census:
    """Per county: a (groups x 2) table of (male, female) counts; `bounds` are each group's [low, high) ages."""

    bounds: np.ndarray
    tables: dict[str, np.ndarray]


def census_load(path: Path) -> Census:
    rows: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.setdefault(row["county_code"], {})[_group_bounds(row["age_group"])] = (
                int(row["male"]),
                int(row["female"]),
            )
    bounds = sorted({b for table in rows.values() for b in table})
    tables = {code: np.array([t.get(b, (0, 0)) for b in bounds], dtype=float) for code, t in rows.items()}
    return Census(bounds=np.array(bounds, dtype=float), tables=tables)


def allocate(total: int, weights) -> np.ndarray:
    """Split `total` in proportion to `weights` (largest remainder): deterministic, sums exactly to total."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.lexsort((np.arange(len(weights)), -(exact - counts)))
        counts[order[:short]] += 1
    return counts


# --- the population -------------------------------------------------------------------------------------
@dataclass
class Population:
    """Column arrays, one entry per person / per household, persons grouped by household (head first)."""

    county_codes: list[str]  # counties with people, in order
    posts_needed: dict[str, int]  # county code -> number of posts the households fill
    # households
    hh_county: np.ndarray  # index into county_codes
    hh_post: np.ndarray  # post number (0-based) within its county
    hh_address: np.ndarray
    hh_post_code: np.ndarray
    hh_lost_income: np.ndarray
    hh_head: np.ndarray  # index of the head person
    # persons
    household: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    age: np.ndarray  # years (float) on the reference date
    birth_date: np.ndarray  # "YYYY-MM-DD" strings
    national_code: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    father_name: np.ndarray
    mobile: np.ndarray
    chronic_disease: np.ndarray
    disability: np.ndarray
    pregnant: np.ndarray
    seed: int = 0
    _uuid_rng: np.random.Generator | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.sex)

    @property
    def n_households(self) -> int:
        return len(self.hh_county)

    def uuids(self, n: int) -> list[uuid.UUID]:
        """The next `n` deterministic UUIDs (version 4 layout) from the population's own random stream."""
        raw = self._uuid_rng.bytes(16 * n)
        return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * n, 16)]


# Probability of being married, by sex, for ages 18-24, 25-29, 30-39, 40-59, 60-69, 70+.
_MARRIED_AGES = np.array([18, 25, 30, 40, 60, 70])
_MARRIED_P = np.array([[0.10, 0.45, 0.82, 0.93, 0.90, 0.80], [0.38, 0.68, 0.82, 0.84, 0.62, 0.38]])
# Chronic disease by age (20, 40, 50, 60, 70): rises with age.
_CHRONIC_AGES = np.array([0, 20, 40, 50, 60, 70])
_CHRONIC_P = np.array([0.02, 0.06, 0.15, 0.28, 0.42, 0.55])


def _attach(rng, dep_age, anchor_age, lo_gap, hi_gap) -> np.ndarray:
    """For each dependant, a random anchor whose age is dep_age+lo_gap .. dep_age+hi_gap (index), or -1."""
    if len(anchor_age) == 0 or len(dep_age) == 0:
        return np.full(len(dep_age), -1, dtype=np.int64)
    order = np.argsort(anchor_age, kind="stable")
    sorted_age = anchor_age[order]
    lo = np.searchsorted(sorted_age, dep_age + lo_gap, side="left")
    hi = np.searchsorted(sorted_age, dep_age + hi_gap, side="right")
    pick = lo + np.floor(rng.random(len(dep_age)) * (hi - lo)).astype(np.int64)
    return np.where(hi > lo, order[np.minimum(pick, len(order) - 1)], -1)


def _county_households(rng, age: np.ndarray, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group one county's people into households: returns (household number, relation, head index per hh)."""
    n = len(age)
    idx = np.arange(n)
    household = np.full(n, -1, dtype=np.int64)
    relation = np.full(n, REL_CHILD, dtype=np.int64)
    adult = age >= 18
    band = np.clip(np.searchsorted(_MARRIED_AGES, age, side="right") - 1, 0, len(_MARRIED_AGES) - 1)
    married = adult & (rng.random(n) < _MARRIED_P[sex, band])
    men, women = idx[married & (sex == MALE)], idx[married & (sex == FEMALE)]
    k = min(len(men), len(women))
    men = np.sort(rng.choice(men, k, replace=False)) if len(men) > k else men
    women = np.sort(rng.choice(women, k, replace=False)) if len(women) > k else women
    men, women = men[np.argsort(age[men], kind="stable")], women[np.argsort(age[women], kind="stable")]
    paired = np.zeros(n, dtype=bool)
    paired[men] = paired[women] = True
    household[men] = household[women] = np.arange(k)
    relation[men], relation[women] = REL_HEAD, REL_SPOUSE
    heads = list(men)
    wife_age = age[women]

    single = adult & ~paired
    u = rng.random(n)
    stays_home = single & (((age < 35) & (u < 0.92)) | ((age >= 35) & (age < 60) & (u < 0.4)))
    with_child = single & (age >= 60) & (u < 0.55)
    # Dependants that find a couple of the right age join it; the others (and the remaining singles) head a household.
    child_of = np.where(stays_home, _attach(rng, age, wife_age, 18, 42), -1)
    parent_of = np.where(with_child, _attach(rng, age, age[men], -45, -20), -1)
    own_head = single & (child_of < 0) & (parent_of < 0)
    single_heads = idx[own_head]
    household[single_heads] = k + np.arange(len(single_heads))
    relation[single_heads] = REL_HEAD
    heads += list(single_heads)
    household[child_of >= 0] = child_of[child_of >= 0]
    parent_rows = parent_of >= 0
    household[parent_rows] = parent_of[parent_rows]
    relation[parent_rows] = REL_PARENT

    if not heads:  # a county with only children: the oldest one heads the household
        oldest = int(np.argmax(age))
        household[oldest], relation[oldest] = 0, REL_HEAD
        heads = [oldest]
    kids = idx[household < 0]
    home = _attach(rng, age[kids], wife_age, 16, 45)
    mothers = single_heads[sex[single_heads] == FEMALE]
    single_mother = (rng.random(len(kids)) < 0.10) | (home < 0)
    with_mother = _attach(rng, age[kids], age[mothers], 17, 48)
    if len(mothers):
        mother_hh = k + np.searchsorted(single_heads, mothers[np.maximum(with_mother, 0)])
        home = np.where(single_mother & (with_mother >= 0), mother_hh, home)
    home = np.where(home < 0, rng.integers(0, len(heads), len(kids)), home)
    household[kids] = home
    return household, relation, np.array(heads, dtype=np.int64)


def _national_codes(rng, n: int, prefixes: list[int], taken: dict[int, np.ndarray]) -> np.ndarray:
    """`n` distinct valid codes: 3-digit prefix (the county's), 6 random serial digits, the check digit."""
    chunks, need = [], n
    for prefix in prefixes:
        used = taken.get(prefix, np.empty(0, dtype=np.int64))
        free = 10**6 - len(used)
        take = min(need, int(free * 0.9))
        if take <= 0:
            continue
        draw = rng.choice(10**6, size=min(take + len(used), 10**6), replace=False)
        if len(used):
            draw = draw[~np.isin(draw, used)]
        chunks.append(prefix * 10**6 + draw[:take])
        need -= take
        if need == 0:
            break
    if need:
        raise ValueError(f"not enough free national codes for {n} people in one county")
    nine = np.concatenate(chunks)
    digits = (nine[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    rest = (digits * np.arange(10, 1, -1)).sum(axis=1) % 11
    check = np.where(rest < 2, rest, 11 - rest)
    return np.char.zfill((nine * 10 + check).astype(str), 10).astype(object)


def county_code_prefixes(county_index: int, n_counties: int) -> list[int]:
    """Three-digit code prefixes reserved for a county (repeated digits like 111 are never used)."""
    pool = [p for p in range(1, 1000) if p % 111 != 0]
    return [pool[i] for i in range(county_index, len(pool), n_counties)]


def _names(name_rng, household, relation, sex, hh_head) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, last, father's) names: a surname per household (the father's), first names by sex, Zipf-weighted;
    a child's father's name is the head's first name (or, in a household headed by a woman, a drawn one)."""
    n, n_hh = len(sex), len(hh_head)
    first = np.where(
        sex == MALE, _draw(name_rng, MALE_NAMES, MALE_CDF, n), _draw(name_rng, FEMALE_NAMES, FEMALE_CDF, n)
    )
    own_last = _draw(name_rng, LAST_NAMES, LAST_CDF, n)
    hh_last = _draw(name_rng, LAST_NAMES, LAST_CDF, n_hh)
    absent_father = _draw(name_rng, MALE_NAMES, MALE_CDF, n_hh)
    father = _draw(name_rng, MALE_NAMES, MALE_CDF, n)
    head_male = sex[hh_head] == MALE
    takes_family_name = (relation == REL_CHILD) | ((relation != REL_SPOUSE) & (sex == MALE))
    last = np.where(takes_family_name, hh_last[household], own_last)
    children = relation == REL_CHILD
    father = np.where(
        children, np.where(head_male[household], first[hh_head][household], absent_father[household]), father
    )
    return first, last, father


def population_generate(
    *,
    county_counts: dict[str, int],
    census: Census,
    seed: int,
    county_names: dict[str, str] | None = None,
    county_prefixes: dict[str, list[int]] | None = None,
    taken_codes: dict[int, np.ndarray] | None = None,
    reference_date: dt.date = REFERENCE_DATE,
    progress=None,
) -> Population:
    """Generate everyone. `county_counts` maps county code -> persons (see `allocate`); counties in that order."""
    seeds = np.random.SeedSequence(seed).spawn(3)
    rng, name_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    codes = [c for c, n in county_counts.items() if n > 0]
    county_names = county_names or {}
    county_prefixes = county_prefixes or {}
    taken_codes = taken_codes or {}
    parts: dict[str, list] = {
        k: []
        for k in ("county", "household", "relation", "sex", "age", "nc", "hh_post", "hh_head", "hh_county")
    }
    posts_needed: dict[str, int] = {}
    hh_offset = person_offset = 0
    for ci, code in enumerate(codes):
        n = int(county_counts[code])
        table = census.tables[code]
        cells = rng.choice(table.size, size=n, p=(table / table.sum()).ravel())
        group, sex = cells // 2, cells % 2
        age = census.bounds[group, 0] + rng.random(n) * (census.bounds[group, 1] - census.bounds[group, 0])
        household, relation, heads = _county_households(rng, age, sex)
        # Persons grouped by household, head first, then spouse, children (eldest first), parents.
        order = np.lexsort((-age, relation, household))
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        n_hh = len(heads)
        posts = max(1, math.ceil(n / PEOPLE_PER_POST))
        posts_needed[code] = posts
        parts["county"].append(np.full(n, ci))
        parts["household"].append(household[order] + hh_offset)
        parts["relation"].append(relation[order])
        parts["sex"].append(sex[order])
        parts["age"].append(age[order])
        parts["hh_head"].append(inverse[heads] + person_offset)
        parts["hh_county"].append(np.full(n_hh, ci))
        parts["hh_post"].append(np.arange(n_hh) * posts // n_hh)
        prefixes = county_prefixes.get(code) or county_code_prefixes(ci, len(codes))
        parts["nc"].append(_national_codes(rng, n, prefixes, taken_codes))
        hh_offset += n_hh
        person_offset += n
        if progress is not None:
            progress(n)

    def cat(key, dtype=np.int64):
        return np.concatenate(parts[key]) if parts[key] else np.empty(0, dtype=dtype)

    household, relation, sex, age = cat("household"), cat("relation"), cat("sex"), cat("age", float)
    hh_head, hh_county = cat("hh_head"), cat("hh_county")
    n, n_hh = len(sex), len(hh_head)

    first, last, father = _names(name_rng, household, relation, sex, hh_head)

    # Birth dates, contact numbers, vulnerability flags.
    days = np.floor(age * 365.2425).astype("timedelta64[D]")
    birth = np.datetime_as_string(np.datetime64(reference_date, "D") - days, unit="D").astype(object)
    mobile_digits = np.char.zfill(name_rng.integers(0, 10**7, n).astype(str), 7).astype(object)
    mobile = MOBILE_PREFIXES[name_rng.integers(0, len(MOBILE_PREFIXES), n)] + mobile_digits
    mobile = np.where((age >= 15) & (name_rng.random(n) < 0.95), mobile, "")
    flags_rng = np.random.default_rng(seeds[2])
    chronic = flags_rng.random(n) < _CHRONIC_P[np.searchsorted(_CHRONIC_AGES, age, side="right") - 1]
    disability = flags_rng.random(n) < np.where(age >= 60, 0.035, 0.012)
    pregnant = (
        (sex == FEMALE) & (relation == REL_SPOUSE) & (age >= 18) & (age < 45) & (flags_rng.random(n) < 0.06)
    )
    lost_income = flags_rng.random(n_hh) < 0.20
    street = np.array(STREETS, dtype=object)[flags_rng.integers(0, len(STREETS), n_hh)]
    alley, plate = flags_rng.integers(1, 40, n_hh), flags_rng.integers(1, 200, n_hh)
    address = np.array(
        [
            f"{county_names.get(codes[c], '')}، خیابان {s}، کوچه {a}، پلاک {p}".lstrip("، ")
            for c, s, a, p in zip(
                hh_county.tolist(), street.tolist(), alley.tolist(), plate.tolist(), strict=True
            )
        ],
        dtype=object,
    )
    post_code = np.char.zfill(flags_rng.integers(10**9, 10**10, n_hh).astype(str), 10).astype(object)
    return Population(
        county_codes=codes,
        posts_needed=posts_needed,
        hh_county=hh_county,
        hh_post=cat("hh_post"),
        hh_address=address,
        hh_post_code=post_code,
        hh_lost_income=lost_income,
        hh_head=hh_head,
        household=household,
        relation=relation,
        sex=sex,
        age=age,
        birth_date=birth,
        national_code=np.concatenate(parts["nc"]) if parts["nc"] else np.empty(0, dtype=object),
        first_name=first,
        last_name=last,
        father_name=father,
        mobile=mobile,
        chronic_disease=chronic,
        disability=disability,
        pregnant=pregnant,
        seed=seed,
        _uuid_rng=np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3]),
    )
