from types import SimpleNamespace

from mahalle.analytics.charts import rt_svg


def point(mean, lower, upper, reliable=True):
    return SimpleNamespace(mean=mean, lower=lower, upper=upper, reliable=reliable)


def test_rt_svg_draws_line_band_reference_and_unreliable_dots():
    svg = rt_svg(
        [point(2.0, 1.0, 3.0, False), point(1.5, 1.0, 2.0), point(0.5, 0.2, 0.9, False)], label="<b>"
    )
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert 'aria-label="&lt;b&gt;"' in svg  # the label is escaped
    assert svg.count("<polygon") == 1 and svg.count("<polyline") == 1
    assert svg.count("<circle") == 2  # the two unreliable windows
    # the line: x from 24 to 616, y of R = 2 at the top of a 0..3 scale is 24 + (132 / 3)
    assert 'points="24.0,68.0 320.0,90.0 616.0,134.0"' in svg


def test_rt_svg_clips_huge_intervals_and_handles_empty_series():
    assert rt_svg([]) == ""
    svg = rt_svg([point(12.0, 3.0, 40.0)])
    assert 'points="320.0,24.0"' in svg  # clipped to the top (R = 5)
