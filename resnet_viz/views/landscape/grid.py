"""The grid around θ* and how one point of it is evaluated (Li et al. 2018).

A symmetric grid of odd size over [-span, span] that contains (0, 0) = θ* exactly, visited coarse to fine; one
fixed evaluation subset of the training data for every net and setting; and the evaluator: a private eval-mode
copy of the net whose parameters live in one flat buffer, so that each grid point costs two vector operations on
that buffer plus one forward pass of the evaluation set (the bound a benchmark compares against). The caller's
model is never written to, so its weights and train/eval mode are the same afterwards, also when an evaluation
fails half-way. BatchNorm running statistics are buffers, not parameters, and stay at θ*'s values.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...models import ConfigError
from ...util import eval_copy, flat_params, flatten, pick_device

MAX_GRID = 101  # points per axis; Li use 51
MAX_SAMPLES = 100_000
DEFAULT_CHUNK = 4096  # evaluation samples per forward pass (memory bound, not speed)
SUBSET_SEED = 0  # the evaluation subset is fixed: same samples for every net and setting


# --- grid, evaluation set -----------------------------------------------------------


def grid_coords(n: int, span: float) -> np.ndarray:
    """n points evenly spaced on [-span, span]; n must be odd so that 0 is a grid point
    exactly (the centre of the grid is θ* itself) and the grid is exactly symmetric."""
    if not isinstance(n, (int, np.integer)) or n < 3 or n > MAX_GRID:
        raise ConfigError(f"grid must be an odd number of points from 3 to {MAX_GRID}, got {n!r}")
    if n % 2 == 0:
        raise ConfigError(f"grid must be odd so that (0, 0) is a grid point, got {n}")
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 0):
        raise ConfigError(f"span must be a positive finite number, got {span!r}")
    c = (n - 1) // 2
    return float(span) * (np.arange(n) - c) / c


def evaluation_subset(x: torch.Tensor, y: torch.Tensor, samples: int | None,
                      seed: int = SUBSET_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random subset of `samples` examples (all when None or larger than the set).

    The same seed gives the same subset, so every net and setting is evaluated on the
    same data, as Li et al. do."""
    if samples is None or samples >= len(x):
        return x, y
    if not isinstance(samples, (int, np.integer)) or samples < 1 or samples > MAX_SAMPLES:
        raise ConfigError(f"samples must be an integer from 1 to {MAX_SAMPLES}, got {samples!r}")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:samples]
    idx = idx.sort().values
    return x[idx], y[idx]


def coarse_to_fine_order(n: int, dims: int = 2) -> list[list[tuple[int, ...]]]:
    """Grid indices in refinement levels: first the subgrid of stride s0 around the centre
    (at least 5 points a side), then strides s0/2, ..., 1, each level adding only new
    points. After each level the evaluated points form a regular grid containing the centre,
    so a coarse surface can be drawn early and refined."""
    c = (n - 1) // 2
    s = 1
    while c // (s * 2) >= 2:
        s *= 2
    levels, seen = [], set()
    while s >= 1:
        offs = [i for i in range(n) if (i - c) % s == 0]
        if dims == 1:
            pts = [(i,) for i in offs]
        else:
            pts = [(j, i) for j in offs for i in offs]  # (row = β index, column = α index)
        new = [p for p in pts if p not in seen]
        seen.update(new)
        if new:
            levels.append(new)
        s //= 2
    return levels


# --- the evaluator ------------------------------------------------------------------


class _FlatModel:
    """A private eval-mode copy of a model whose parameters live in one flat buffer, so a
    new point θ = θ* + αδ + βη costs two vector operations and no per-tensor Python loop."""

    def __init__(self, model: nn.Module, device=None) -> None:
        self.device = pick_device(device)
        self.model = eval_copy(model, device=self.device)
        params = list(self.model.parameters())
        self.flat = flat_params(self.model, dtype=torch.float32)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat[offset:offset + n].view_as(p)
            offset += n
        self.theta = self.flat.clone()
        self.shapes = [p.detach() for p in params]

    def vector(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """A per-parameter list as one flat vector on the device."""
        return flatten(tensors, dtype=torch.float32, device=self.device)

    def set_point(self, coeffs: Sequence[float], dirs: Sequence[torch.Tensor], origin: torch.Tensor | None = None) -> None:
        """Write origin + Σ cₖ dₖ into the model (origin: θ* by default)."""
        self.flat.copy_(self.theta if origin is None else origin)
        for c, d in zip(coeffs, dirs):
            if c != 0:
                self.flat.add_(d, alpha=float(c))

    @torch.no_grad()
    def loss_acc(self, x: torch.Tensor, y: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over (x, y) already on the device."""
        if len(x) <= chunk:
            out = self.model(x)
            return float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())
        total, correct = 0.0, 0.0
        for i in range(0, len(x), chunk):
            out = self.model(x[i:i + chunk])
            total += float(F.cross_entropy(out, y[i:i + chunk], reduction="sum"))
            correct += float((out.argmax(1) == y[i:i + chunk]).sum())
        return total / len(x), correct / len(x)


def _check_classifier(model: nn.Module) -> None:
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "classes", 2) < 2:
        raise ConfigError("loss landscapes need a classifier (classes >= 2); this net has a scalar output")
