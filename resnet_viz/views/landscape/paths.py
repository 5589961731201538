"""Paths through weight space: the 1-D interpolation between two weight sets (Goodfellow et al. 2015; Li et al.
2018 §3) and the optimisation path projected on the PCA directions of θ_i − θ_final (Li et al. 2018 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...models import ConfigError
from ...progress import Progress
from ...util import eval_copy, flat_params, pick_device
from .directions import _params, unflatten
from .grid import _check_classifier, evaluation_subset
from .surfaces import Surface, surface

# --- 1-D interpolation (Goodfellow et al. 2015) ---------------------------------------


@dataclass
class Interpolation:
    """Loss and accuracy along θ(t) = (1 − t)·θ_start + t·θ_end."""

    ts: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    label: str = ""

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"ts": self.ts.tolist(), "loss": self.loss.tolist(), "accuracy": self.accuracy.tolist(),
                "label": self.label}


def interpolate(start: nn.Module, end: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 25,
                extend: float = 0.25, samples: int | None = 512, evaluate_in: nn.Module | None = None,
                device=None, label: str = "") -> Interpolation:
    """1-D linear interpolation θ(t) = (1 − t)θ_start + tθ_end, t ∈ [−extend, 1 + extend]
    (Goodfellow et al. 2015; Li et al. 2018 §3).

    Parameters and BatchNorm running statistics are both interpolated, so t = 0 and t = 1
    reproduce each endpoint's own eval-mode loss. The net that runs the weights is
    `evaluate_in` (default `end`): interpolating between the plain and residual twins
    (identical parameter shapes) can be run in either architecture. Evaluated on the fixed
    subset of `samples` examples. Neither model is modified.
    """
    sa, sb = start.state_dict(), end.state_dict()
    host = evaluate_in if evaluate_in is not None else end
    sh = host.state_dict()
    if sa.keys() != sb.keys() or sa.keys() != sh.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ConfigError("interpolation needs two nets with the same parameter shapes")
    if not (isinstance(steps, int) and 2 <= steps <= 1000):
        raise ConfigError(f"steps must be an integer from 2 to 1000, got {steps!r}")
    _check_classifier(host)
    ts = np.linspace(-extend, 1 + extend, steps)
    xs, ys = evaluation_subset(x, y, samples)
    dev = pick_device(device)
    model = eval_copy(host, device=dev, frozen=False)
    xs, ys = xs.to(dev), ys.to(dev)
    floats = {k: (sa[k].to(dev).float(), sb[k].to(dev).float()) for k in sa if sa[k].is_floating_point()}
    loss, acc = np.zeros(steps), np.zeros(steps)
    with torch.no_grad():
        state = model.state_dict()
        for i, t in enumerate(ts):
            for k, (a, b) in floats.items():
                state[k].copy_(torch.lerp(a, b, float(t)))
            out = model(xs)
            loss[i] = float(F.cross_entropy(out, ys))
            acc[i] = float((out.argmax(1) == ys).float().mean())
    return Interpolation(ts, loss, acc, label)


# --- optimisation path (Li et al. 2018 §7) -------------------------------------------


@dataclass
class Trajectory:
    """The optimisation path projected on the first two PCA directions of θ_i − θ_final.

    coords:             (checkpoints, 2) projections (the final weights at (0, 0)).
    explained_variance: share of the variance of θ_i − θ_final along each direction.
    directions:         the two unit-norm directions, per-parameter tensor lists.
    steps:              optimisation step of each checkpoint.
    surface:            the loss plane spanned by the two directions around θ_final.
    """

    coords: np.ndarray
    explained_variance: np.ndarray
    directions: list
    steps: list
    surface: Surface | None = None

    def to_dict(self) -> dict:
        """JSON-ready dictionary (without the direction tensors)."""
        return {"coords": self.coords.tolist(), "explained_variance": self.explained_variance.tolist(),
                "steps": list(self.steps), "surface": self.surface.to_dict() if self.surface else None}


def pca_directions(trajectory: torch.Tensor) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """PCA of M = [θ_i − θ_final] (rows; Li et al. 2018 §7): returns the first two principal
    directions (2, n_params, unit norm), the projections of every θ_i − θ_final on them
    (checkpoints, 2) and the explained-variance ratio of each."""
    if trajectory is None or trajectory.dim() != 2 or trajectory.shape[0] < 3:
        raise ConfigError("the trajectory view needs at least 3 weight checkpoints (train with checkpoints_per_epoch >= 1)")
    m = (trajectory.double() - trajectory[-1].double())
    centered = m - m.mean(0, keepdim=True)  # PCA centres the rows, as sklearn's PCA in Li's code
    _, s, vh = torch.linalg.svd(centered, full_matrices=False)
    dirs = vh[:2]
    var = (s ** 2) / (s ** 2).sum().clamp_min(1e-300)
    coords = (m @ dirs.T).numpy()
    return dirs.float(), coords, var[:2].numpy()


def trajectory(model: nn.Module, snapshots: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
               steps: Sequence[int] | None = None, grid: int = 21, samples: int | None = 512,
               margin: float = 0.25, device=None,
               progress: Progress | None = None) -> Trajectory:
    """The optimisation path over the loss contour of its own PCA plane (Li et al. 2018 §7).

    `snapshots` holds flattened `model.parameters()` at the checkpoints (last row = the
    final weights, which must be `model`'s). The plane is f(a, b) = L(θ_final + a·d₁ + b·d₂)
    with d₁, d₂ the unit PCA directions (not filter-normalized: the path defines the
    scale), on a symmetric grid wide enough for the whole path plus `margin`.
    """
    final = flat_params(model, dtype=torch.float32, device="cpu")
    if snapshots.shape[-1] != final.numel():
        raise ConfigError("the trajectory does not match the model's parameters")
    if not torch.allclose(snapshots[-1].float(), final, atol=1e-5):
        raise ConfigError("the trajectory's last checkpoint is not the model's final weights")
    dirs, coords, var = pca_directions(snapshots)
    like = _params(model)
    directions = [unflatten(d, like) for d in dirs]
    span = float(np.abs(coords).max()) * (1 + margin)
    span = span if span > 0 else 1.0
    plane_ = surface(model, x, y, grid=grid, span=span, dim=2, samples=samples, directions=directions,
                     device=device, progress=progress)
    plane_.settings["normalization"] = "pca"
    return Trajectory(coords, var, directions, list(steps) if steps is not None else list(range(len(coords))), plane_)
