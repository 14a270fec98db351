"""Writes to the org-unit tree: loading the reference geography and creating units."""

import csv
from pathlib import Path

from django.conf import settings

from mahalle.core.errors import ValidationFailed, field_error
from mahalle.core.persian import normalize_text
from mahalle.core.service import service

from .models import PATH_SEPARATOR, Level, OrgUnit

DATA_DIR = Path(settings.BASE_DIR) / "data" / "iran"
COUNTRY_CODE = "IR"


@service(unaudited="the org-unit tree is built by the reference loader, synth and tests; no actor")
def org_unit_create(
    *, code: str, level: int, name_fa: str, parent: OrgUnit | None, name_en: str = "", population: int = 0
) -> OrgUnit:
    code = normalize_text(code)
    if not code or PATH_SEPARATOR in code:
        raise ValidationFailed(
            "invalid org unit code", [field_error("code", "must be non-empty, without '.'")]
        )
    if (parent is None) != (level == Level.COUNTRY) or (parent is not None and parent.level != level - 1):
        raise ValidationFailed("invalid parent", [field_error("parent", "a unit's parent is one level up")])
    return OrgUnit.objects.create(
        code=code,
        level=level,
        name_fa=normalize_text(name_fa),
        name_en=name_en.strip(),
        parent=parent,
        path=OrgUnit.build_path(parent, code),
        population=population,
    )


@service(unaudited="reference geography from the project's data folder; no actor and no personal data")
def geography_load_reference(*, data_dir: Path = DATA_DIR) -> dict:
    """Load the country, its 31 provinces and 429 counties (2016 census) from the project's data folder.

    Idempotent: units that exist (by code) are updated in place, never duplicated.
    """
    country, _ = OrgUnit.objects.update_or_create(
        code=COUNTRY_CODE,
        defaults={
            "level": Level.COUNTRY,
            "name_fa": "ایران",
            "name_en": "Iran",
            "parent": None,
            "path": COUNTRY_CODE + PATH_SEPARATOR,
        },
    )
    provinces: dict[str, OrgUnit] = {}
    total = 0
    with open(data_dir / "provinces.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = row["province_code"]
            provinces[code] = _reference_unit(row, code, Level.PROVINCE, country)
            total += int(row["population_2016"])
    counties = 0
    with open(data_dir / "counties_2016.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            _reference_unit(row, row["county_code"], Level.COUNTY, provinces[row["province_code"]])
            counties += 1
    OrgUnit.objects.filter(pk=country.pk).update(population=total)
    return {"provinces": len(provinces), "counties": counties, "population": total}


def _reference_unit(row: dict, code: str, level: Level, parent: OrgUnit) -> OrgUnit:
    """The unit `code` of a reference CSV row (name_fa, name_en, population_2016), created or updated in place."""
    unit, _ = OrgUnit.objects.update_or_create(
        code=code,
        defaults={
            "level": level,
            "name_fa": normalize_text(row["name_fa"]),
            "name_en": row["name_en"],
            "parent": parent,
            "path": OrgUnit.build_path(parent, code),
            "population": int(row["population_2016"]),
        },
    )
    return unit
