"""The one number style (resnet_viz.numbers, issue 32), against hand-written expectations."""

import math

import pytest

from resnet_viz import numbers as N


@pytest.mark.parametrize("v, text", [
    (0, "0"), (1, "1"), (0.0169, "0.0169"), (687.0, "687"), (12.96, "13"), (41300, "4.13×10⁴"),
    (4.17e9, "4.17×10⁹"), (6e-6, "6×10⁻⁶"), (-2.5e-5, "−2.5×10⁻⁵"), (1e5, "10⁵"), (99999, "10⁵"),
    (-0.5, "−0.5"), (None, "—"), (math.nan, "—"), (math.inf, "overflow"), (-math.inf, "−overflow"),
])
def test_num(v, text):
    assert N.num(v) == text


def test_percentages_points_ratios_and_counts():
    assert N.pct(0.953) == "95.3 %" and N.pct(math.nan) == "—"
    assert N.points(0.148 - 0.998) == "−85.0 points" and N.points(0.01) == "+1.0 point"
    assert N.points(0.004) == "+0.4 points"
    assert N.times(60.2) == "×60" and N.times(1.63) == "×1.6" and N.times(41300) == "×4.1×10⁴"
    assert N.count(1, "seed") == "one seed" and N.count(3, "net") == "three nets"
    assert N.count(1437, "image") == "1,437 images" and N.count(0, "block") == "no blocks"
    assert N.count(2, "basis", "bases") == "two bases"
