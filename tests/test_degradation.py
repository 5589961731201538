"""He et al. 2016, Fig. 1 at toy scale: deeper plain nets train worse, residual twins do not."""

import math

from resnet_viz.degradation import DEFAULT_EPOCHS, DEFAULT_WIDTH, degradation_study, summarize
from resnet_viz.train import TrainConfig, net_config_for


def test_deep_plain_net_degrades_and_its_residual_twin_does_not():
    calls = []
    points = degradation_study(net_config_for("digits", width=DEFAULT_WIDTH), TrainConfig(epochs=DEFAULT_EPOCHS),
                               depths=(27, 3), seeds=(0,), callback=lambda i, n, label: calls.append((i, n)))
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    loss = {(p.depth, p.skip): p.train_loss for p in points}
    assert all(math.isfinite(v) for v in loss.values())
    # Degradation: the 56-layer plain net ends with a much higher *training* loss than the 8-layer one ...
    assert loss[(27, False)] > 5 * loss[(3, False)]
    # ... while its residual twin at the same depth trains far better.
    assert loss[(27, True)] < 0.5 * loss[(27, False)]
    s = summarize(points)
    assert s["plain"]["depth"] == [3, 27] and s["plain"]["layers"] == [8, 56]
    assert s["plain"]["min"][1] == s["plain"]["max"][1] == s["plain"]["mean"][1] == loss[(27, False)]
