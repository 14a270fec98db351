"""Server-side SVG charts (no JavaScript, no CDN): Rt as a line with its 95% credible interval as a band."""

from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 24
Y_CAP = 5.0  # intervals above this are clipped: early windows can reach 20+ and would flatten the rest


def rt_svg(points, *, label: str = "") -> str:
    """`points`: objects with date_end, mean, lower, upper, reliable, oldest first. Returns an <svg> element.

    The band is the 2.5%–97.5% interval, the line the posterior mean; unreliable windows (too few cases) are
    drawn as hollow grey dots on a dashed line, the dashed horizontal line is R = 1."""
    points = list(points)
    if not points:
        return ""
    n = len(points)
    top = min(max(max(p.upper for p in points), 2.0), Y_CAP)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * min(max(v, 0.0), top) / top

    band = [f"{x(i):.1f},{y(p.upper):.1f}" for i, p in enumerate(points)]
    band += [f"{x(i):.1f},{y(p.lower):.1f}" for i, p in reversed(list(enumerate(points)))]
    line = " ".join(f"{x(i):.1f},{y(p.mean):.1f}" for i, p in enumerate(points))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(p.mean):.1f}" r="2.5" class="rt-unreliable"/>'
        for i, p in enumerate(points)
        if not p.reliable
    )
    one = y(1.0)
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" class="rt-chart" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f'<polygon points="{" ".join(band)}" class="rt-band" fill="#9ecae1" fill-opacity="0.5"/>'
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{one:.1f}" y2="{one:.1f}" stroke="#c0392b" stroke-dasharray="4 3"/>'
        f'<text x="2" y="{one + 4:.1f}" font-size="11" fill="#c0392b">1</text>'
        f'<text x="2" y="{PAD:.1f}" font-size="11" fill="#555">{top:g}</text>'
        f'<polyline points="{line}" fill="none" stroke="#08519c" stroke-width="2"/>'
        f'<g fill="#fff" stroke="#888">{dots}</g>'
        "</svg>"
    )
