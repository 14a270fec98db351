"""The epidemic the synthetic activity follows, and each person's course in it (NumPy; no database).

A chain-binomial SEIR per county (latent 4 days, infectious 7 days), R0 drawn per county, with transmission
falling by 60% around the middle of the period, seeded PRE_DAYS days before the start; an infected person is
symptomatic more often when older, severe more often when old or chronically ill, and some of the severe die.
Days are indices: 0 is PRE_DAYS days before the activity's first day.
"""

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from mahalle.cases.rules import SYMPTOMS

PRE_DAYS = 21  # the epidemic starts this many days before the first campaign
LATENT_DAYS, INFECTIOUS_DAYS = 4, 7
SYMPTOM_P = {  # among the symptomatic
    "fever": 0.70,
    "cough": 0.60,
    "shortness_of_breath": 0.12,
    "loss_of_smell_taste": 0.35,
    "sore_throat": 0.30,
    "fatigue": 0.50,
    "diarrhoea": 0.12,
}
NEVER = 10**6  # the day index of what does not happen (no infection, no death)


@dataclass
class People:
    """The persons in households, ordered by (org path, household, id), as parallel columns."""

    ids: list
    hh_of: list
    post_of: list
    path_of: list
    births: list
    pregnant: list
    county_path: np.ndarray
    age: np.ndarray  # years on the start day (30 when the birth date is unknown)
    chronic: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def county_epidemic(rng, n: int, days: int, mid: int) -> np.ndarray:
    """New infections per day for a county of `n` people: a chain-binomial SEIR; transmission falls by 60%
    around day `mid` (a logistic step)."""
    r0 = rng.uniform(1.4, 2.2)
    seeded = max(3, int(n * rng.uniform(0.0005, 0.002)))
    s, e, i = n - seeded, seeded, 0
    new = np.zeros(days, dtype=np.int64)
    new[0] = seeded
    for d in range(1, days):
        beta = r0 / INFECTIOUS_DAYS * (1 - 0.6 / (1 + math.exp(-(d - mid) / 4)))
        infected = rng.binomial(s, 1 - math.exp(-beta * i / n)) if n and i else 0
        onset = rng.binomial(e, 1 / LATENT_DAYS)
        removed = rng.binomial(i, 1 / INFECTIOUS_DAYS)
        s, e, i = s - infected, e + infected - onset, i + onset - removed
        new[d] = infected
    return new


class Course:
    """The epidemic and each person's course in it, by day index (0 = PRE_DAYS days before the start): who is
    infected when, who has which symptoms from when to when, who is severe, who dies when."""

    def __init__(self, rng: np.random.Generator, people: People, *, weeks: int, start: dt.date):
        n, age, chronic = len(people), people.age, people.chronic
        self.start = start
        self.days = days = PRE_DAYS + 7 * weeks
        self.old = old = age >= 60
        inf_day = np.full(n, NEVER, dtype=np.int64)
        self.counties = sorted(set(people.county_path.tolist()))
        self.county_members = {c: np.flatnonzero(people.county_path == c) for c in self.counties}
        for c in self.counties:
            members = self.county_members[c]
            new = county_epidemic(rng, len(members), days, PRE_DAYS + 7 * weeks // 2)
            total = min(int(new.sum()), len(members))
            chosen = rng.permutation(members)[:total]
            inf_day[chosen] = np.repeat(np.arange(days), new)[:total]
        self.inf_day = inf_day
        self.infected = infected = inf_day < NEVER
        self.symptomatic = symptomatic = infected & (rng.random(n) < np.where(old, 0.8, 0.55))
        self.onset = inf_day + rng.integers(2, 9, n)
        self.duration = rng.integers(5, 14, n)
        sym_p = np.array([SYMPTOM_P[s] for s in SYMPTOMS])
        sym_mask = rng.random((n, len(SYMPTOMS))) < sym_p
        sob = SYMPTOMS.index("shortness_of_breath")
        sym_mask[:, sob] |= (old | chronic) & (rng.random(n) < 0.25)
        sym_mask[~symptomatic] = False
        empty = symptomatic & ~sym_mask.any(axis=1)
        sym_mask[empty, SYMPTOMS.index("fever")] = True
        self.sym_mask = sym_mask
        self.severe = severe = symptomatic & (rng.random(n) < 0.03 + 0.12 * old + 0.08 * chronic)
        dies = severe & (rng.random(n) < 0.08 + 0.15 * old + 0.2 * (age >= 70))
        self.death_day = np.where(dies, self.onset + rng.integers(8, 21, n), NEVER)
        self.contact = rng.random(n) < np.where(infected, 0.5, 0.03)
        self._symptom_sets: dict[int, list[str]] = {}

    def day_date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day) - PRE_DAYS)

    def symptoms_on(self, i: int, day: int) -> list[str]:
        if self.symptomatic[i] and self.onset[i] <= day <= self.onset[i] + self.duration[i]:
            if i not in self._symptom_sets:
                self._symptom_sets[i] = [s for k, s in enumerate(SYMPTOMS) if self.sym_mask[i, k]]
            return self._symptom_sets[i]
        return []

    def spo2_on(self, i: int, day: int, measured: bool) -> int | None:
        if not measured:
            return None
        if self.severe[i] and self.onset[i] + 3 <= day <= self.onset[i] + self.duration[i]:
            return int(85 + (i * 7 + day) % 8)
        return int(94 + (i * 3 + day) % 6)
