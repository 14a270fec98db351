"""Geography helpers for reach: province adjacency from shared borders, great-circle distances. Pure."""

import math
from collections import defaultdict

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km; works on floats or NumPy arrays."""
    import numpy as np

    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def _rings(geometry: dict):
    if geometry["type"] == "Polygon":
        yield from geometry["coordinates"]
    elif geometry["type"] == "MultiPolygon":
        for polygon in geometry["coordinates"]:
            yield from polygon
    else:
        raise ValueError(f"unsupported geometry type {geometry['type']!r}")


def _edge_km(a, b) -> float:
    return float(haversine_km(a[0], a[1], b[0], b[1]))


def shared_borders(collection: dict, key: str, digits: int = 4) -> dict[tuple[str, str], float]:
    """{(code_a, code_b): shared border in km} for every pair of features whose polygons share at least one
    boundary segment (same two vertices, after rounding to `digits` decimals). Both orders are listed.

    This relies on a topologically consistent layer (neighbours' borders drawn with the same vertices), as
    data/iran/provinces.geojson is (mapshaper keeps shared borders identical); features meeting only at a
    point are not neighbours."""
    owners: dict[tuple, set[str]] = defaultdict(set)
    length: dict[tuple, float] = {}
    for feature in collection["features"]:
        code = str(feature["properties"][key])
        for ring in _rings(feature["geometry"]):
            points = [(round(x, digits), round(y, digits)) for x, y, *_ in ring]
            for a, b in zip(points, points[1:], strict=False):
                if a == b:
                    continue
                edge = (a, b) if a < b else (b, a)
                owners[edge].add(code)
                length.setdefault(edge, _edge_km(a, b))
    borders: dict[tuple[str, str], float] = defaultdict(float)
    for edge, codes in owners.items():
        if len(codes) < 2:
            continue
        for a in codes:
            for b in codes:
                if a != b:
                    borders[(a, b)] += length[edge]
    return {pair: round(km, 1) for pair, km in sorted(borders.items()) if not math.isnan(km)}
