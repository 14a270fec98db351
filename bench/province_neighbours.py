"""Derive data/iran/province_neighbours.csv from data/iran/provinces.geojson (provinces that share a border
segment are neighbours) and print a JSON summary. Run: .venv/bin/python bench/province_neighbours.py"""

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mahalle.aid.optim.geography import shared_borders  # noqa: E402

DATA = ROOT / "data" / "iran"


def main() -> None:
    collection = json.loads((DATA / "provinces.geojson").read_text(encoding="utf-8"))
    names = {f["properties"]["province_code"]: f["properties"]["name_en"] for f in collection["features"]}
    borders = shared_borders(collection, "province_code")
    out = DATA / "province_neighbours.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["province_code", "neighbour_code", "province_name_en", "neighbour_name_en", "shared_border_km"]
        )
        for (a, b), km in borders.items():
            writer.writerow([a, b, names[a], names[b], f"{km:.1f}"])
    degree = {code: sum(1 for a, _ in borders if a == code) for code in names}
    print(
        json.dumps(
            {
                "file": str(out.relative_to(ROOT)),
                "provinces": len(names),
                "pairs": len(borders) // 2,
                "rows": len(borders),
                "min_neighbours": min(degree.values()),
                "max_neighbours": max(degree.values()),
                "mean_neighbours": round(sum(degree.values()) / len(degree), 2),
                "isolated": [names[c] for c, d in degree.items() if d == 0],
            }
        )
    )


if __name__ == "__main__":
    main()
