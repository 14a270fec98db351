"""What synthetic persons are made of: Persian names with Zipf weights, street names, mobile prefixes.

Shared by the synthetic population (`mahalle.synth.population`) and the linkage evaluation data
(`mahalle.needs.linkage.evaldata`). Pure: NumPy and Faker's fa_IR word lists, no Django, so a pure engine may
import it. Nobody drawn from these lists is a real person.
"""

import numpy as np
from faker.providers.person.fa_IR import Provider as FaIrNames

from .names import COMMON_FEMALE_NAMES, COMMON_MALE_NAMES
from .persian import normalize_text

# Very common names first (they get the largest Zipf weights; the given names are in core/names.py), then
# Faker's fa_IR lists.
COMMON_LAST = [
    "محمدی",
    "حسینی",
    "احمدی",
    "رضایی",
    "موسوی",
    "کریمی",
    "جعفری",
    "رحیمی",
    "حیدری",
    "قاسمی",
    "صادقی",
    "هاشمی",
    "اکبری",
    "کاظمی",
    "ابراهیمی",
    "نوروزی",
    "سلیمانی",
    "عباسی",
    "مرادی",
    "رستمی",
]
STREETS = [
    "امام",
    "خمینی",
    "آزادی",
    "انقلاب",
    "ولیعصر",
    "شریعتی",
    "فردوسی",
    "حافظ",
    "سعدی",
    "مطهری",
    "طالقانی",
    "بهشتی",
    "جمهوری",
    "کارگر",
    "ستارخان",
    "نیایش",
    "بهار",
    "گلستان",
    "سپاه",
    "ملت",
    "امیرکبیر",
    "مدرس",
    "باهنر",
    "رجایی",
    "کشاورز",
]
MOBILE_PREFIXES = np.array(
    [
        "0912",
        "0913",
        "0915",
        "0916",
        "0917",
        "0919",
        "0935",
        "0936",
        "0937",
        "0938",
        "0939",
        "0901",
        "0902",
        "0990",
    ],
    dtype=object,
)


def name_list(common: list[str], faker_names) -> tuple[np.ndarray, np.ndarray]:
    """Distinct normalised names with Zipf weights (rank r gets 1/r^0.9): frequent names are frequent."""
    names: list[str] = []
    for name in [*common, *faker_names]:
        name = normalize_text(name)
        if name and name not in names:
            names.append(name)
    weights = 1.0 / np.arange(1, len(names) + 1) ** 0.9
    return np.array(names, dtype=object), np.cumsum(weights) / weights.sum()


MALE_NAMES, MALE_CDF = name_list(COMMON_MALE_NAMES, FaIrNames.first_names_male)
FEMALE_NAMES, FEMALE_CDF = name_list(COMMON_FEMALE_NAMES, FaIrNames.first_names_female)
LAST_NAMES, LAST_CDF = name_list(COMMON_LAST, FaIrNames.last_names)
# (names, cumulative weights) by sex, and for surnames
GIVEN_NAMES = {"M": (MALE_NAMES, MALE_CDF), "F": (FEMALE_NAMES, FEMALE_CDF)}
SURNAMES = (LAST_NAMES, LAST_CDF)
