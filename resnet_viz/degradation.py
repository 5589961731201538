"""The degradation experiment of He et al. 2016 (Fig. 1) at toy scale.

Plain nets and their residual twins at several depths, trained with the same step
budget over several seeds; the final training loss (eval mode, whole train set)
against depth. Degradation: the deeper plain net ends with a *higher training*
loss than the shallower one (not overfitting: it is the training loss), while
the residual twin does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .models import NetConfig
from .train import Progress, TrainConfig, train

DEFAULT_DEPTHS = (3, 9, 27)
DEFAULT_SEEDS = (0, 1, 2)
# A lighter budget than the default pair, so 3 depths x 2 nets x 3 seeds stays brief.
DEFAULT_WIDTH = 8
DEFAULT_EPOCHS = 4


@dataclass(frozen=True)
class DegradationPoint:
    """One trained net of the study."""

    depth: int
    layers: int
    skip: bool
    seed: int
    train_loss: float
    test_accuracy: float
    diverged: bool


def degradation_study(base: NetConfig, cfg: TrainConfig, depths=DEFAULT_DEPTHS, seeds=DEFAULT_SEEDS,
                      callback: Callable[[int, int, str], None] | None = None) -> list[DegradationPoint]:
    """Train plain and residual nets at each depth for each seed (He et al. 2016, Fig. 1).

    `base` gives everything but depth, skip and seed; each seed sets both the
    initialisation and the data order, so twins at a seed share their start.
    `callback(done, total, label)` is called before each training run.
    """
    depths = sorted(set(int(d) for d in depths))
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not depths or not seeds:
        raise ValueError("the degradation study needs at least one depth and one seed")
    jobs = [(d, skip, s) for d in depths for s in seeds for skip in (False, True)]
    points = []
    for i, (depth, skip, seed) in enumerate(jobs):
        net = base.replace(depth=depth, skip=skip, seed=seed)
        if callback is not None:
            callback(i, len(jobs), f"{'residual' if skip else 'plain'} net, {depth} blocks, seed {seed}")
        run = train(net, cfg.replace(seed=seed, checkpoints_per_epoch=0, grad_norm_steps=0))
        h = run.history
        points.append(DegradationPoint(depth, net.layer_count, skip, seed, h.train_loss, h.test_accuracy, h.diverged))
    if callback is not None:
        callback(len(jobs), len(jobs), "done")
    return points


def summarize(points: list[DegradationPoint]) -> dict[str, dict[str, list[float]]]:
    """Per net kind ('plain', 'residual'): depths, mean, min and max final training loss.

    Diverged runs count as infinite loss in min/max and are left out of the mean.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for kind, skip in (("plain", False), ("residual", True)):
        rows = {"depth": [], "layers": [], "mean": [], "min": [], "max": []}
        for depth in sorted({p.depth for p in points if p.skip == skip}):
            ps = [p for p in points if p.skip == skip and p.depth == depth]
            losses = [p.train_loss if math.isfinite(p.train_loss) else math.inf for p in ps]
            finite = [v for v in losses if math.isfinite(v)]
            rows["depth"].append(depth)
            rows["layers"].append(ps[0].layers)
            rows["mean"].append(sum(finite) / len(finite) if finite else math.nan)
            rows["min"].append(min(losses))
            rows["max"].append(max(losses))
        out[kind] = rows
    return out
