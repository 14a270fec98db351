"""Generation layout of a chain graph, computed on the server and drawn as inline SVG (no script, no CDN).

Pure: takes the nodes (key, generation) and edges (source, target) of `selectors.cluster_graph` and returns
coordinates. Each generation is a row; within a row, nodes are ordered by the mean position of their parents
(the barycentre heuristic), which keeps most edges short and uncrossed.
"""

from collections import defaultdict

SPACING_X = 56
SPACING_Y = 96
MARGIN = 40


def generation_layout(nodes: list[dict], edges: list[dict]) -> dict:
    """{"width", "height", "positions": {key: (x, y)}}."""
    rows: dict = defaultdict(list)
    for node in nodes:
        rows[node["generation"]].append(node["key"])
    parents: dict = defaultdict(list)
    for edge in edges:
        parents[edge["target"]].append(edge["source"])
    positions: dict = {}
    widest = max((len(keys) for keys in rows.values()), default=1)
    width = max(widest * SPACING_X + 2 * MARGIN, 320)
    for row_number, generation in enumerate(sorted(rows)):
        order = {key: i for i, key in enumerate(rows[generation])}
        weights = {}
        for key in order:
            xs = [positions[p][0] for p in parents[key] if p in positions]
            weights[key] = (sum(xs) / len(xs) if xs else width / 2, order[key])
        keys = sorted(order, key=weights.__getitem__)
        start = (width - (len(keys) - 1) * SPACING_X) / 2
        y = MARGIN + row_number * SPACING_Y
        for index, key in enumerate(keys):
            positions[key] = (round(start + index * SPACING_X, 1), y)
    height = MARGIN * 2 + max(len(rows) - 1, 0) * SPACING_Y
    return {"width": width, "height": height, "positions": positions}
