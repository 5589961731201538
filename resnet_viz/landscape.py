"""Loss landscapes of a trained net (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

f(α, β) = L(θ* + αδ + βη), with δ, η drawn from a Gaussian and filter-normalized:
for every filter (output channel of a conv, row of a linear layer)
d ← d / ‖d‖ · ‖θ‖ (Li §4). Directions for biases and BatchNorm parameters are
zero by default (Li's "ignore biasbn"); BatchNorm running statistics are buffers,
not parameters, and stay at θ*'s values. Every point is evaluated in eval mode on
one fixed evaluation subset of the training data, on a symmetric grid that contains
(0, 0) exactly.

Also here: 1-D interpolation between two weight sets (Goodfellow et al. 2015), the
optimisation path projected on the PCA directions of θ_i − θ_final (Li §7), and the
extreme Hessian eigenvalues at θ* by Lanczos on Hessian-vector products (Li §6,
|λmin/λmax| as a measure of non-convexity).

Speed: the model is deep-copied once, its parameters are re-pointed into one flat
buffer, and each grid point costs two vector operations on that buffer plus one
forward pass of the evaluation set (the bound a benchmark compares against). The
caller's model is never written to, so its weights and train/eval mode are the same
afterwards, also when an evaluation fails half-way.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import ConfigError

NORMALIZATIONS = ("filter", "layer", "none")
MAX_GRID = 101  # points per axis; Li use 51
MAX_SAMPLES = 100_000
DEFAULT_CHUNK = 4096  # evaluation samples per forward pass (memory bound, not speed)
SUBSET_SEED = 0  # the evaluation subset is fixed: same samples for every net and setting


# --- directions ---------------------------------------------------------------------


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach() for p in model.parameters()]


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One flat vector of `tensors` (in order), on the CPU in float32."""
    return torch.cat([t.detach().reshape(-1).float().cpu() for t in tensors])


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Split a flat vector back into tensors shaped like `like` (inverse of `flatten`)."""
    out, offset = [], 0
    for t in like:
        n = t.numel()
        out.append(vector[offset:offset + n].view_as(t).clone())
        offset += n
    if offset != vector.numel():
        raise ValueError(f"vector has {vector.numel()} entries, the model {offset} parameters")
    return out


def normalize_direction(direction: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                        normalization: str = "filter", include_bias_bn: bool = False) -> list[torch.Tensor]:
    """Scale a direction to the weights it perturbs (Li et al. 2018 §4).

    filter: for each filter (slice along the first axis of a tensor with ≥ 2 axes:
            a conv's output channel, a linear layer's row) d ← d / ‖d‖ · ‖θ‖.
    layer:  the same with each whole tensor as one unit.
    none:   the raw direction (shows why normalization matters: layers with small
            weights are swamped).
    1-axis tensors (biases, BatchNorm γ and β) get a zero direction unless
    `include_bias_bn`; then each is normalized as one unit (‖d‖ = ‖θ‖; a tensor of
    zeros, like BN β at initialisation, gets a zero direction instead of a division
    by zero).
    """
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    out = []
    for d, w in zip(direction, weights):
        d = d.detach().clone().float()
        w = w.detach().float().to(d.device)
        if w.dim() <= 1:
            if not include_bias_bn:
                d.zero_()
            elif normalization != "none":
                wn = w.norm()
                d = d * (wn / d.norm().clamp_min(1e-12)) if wn > 0 else d.zero_()
        elif normalization == "filter":
            dn = d.reshape(d.shape[0], -1).norm(dim=1).clamp_min(1e-12)
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            d = d * (wn / dn).view(-1, *([1] * (d.dim() - 1)))
        elif normalization == "layer":
            d = d * (w.norm() / d.norm().clamp_min(1e-12))
        out.append(d)
    return out


def random_direction(model: nn.Module, seed: int = 0, normalization: str = "filter",
                     include_bias_bn: bool = False, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """A Gaussian direction with one tensor per parameter of `model` (in `model.parameters()`
    order), normalized by `normalize_direction` (Li et al. 2018 §4). Deterministic for a seed
    and a parameter layout, so twins with identical shapes get identical directions."""
    gen = generator or torch.Generator().manual_seed(int(seed))
    weights = _params(model)
    raw = [torch.randn(w.shape, generator=gen, dtype=torch.float32) for w in weights]
    return normalize_direction(raw, [w.cpu() for w in weights], normalization, include_bias_bn)


def random_directions(model: nn.Module, seed: int = 0, normalization: str = "filter",
                      include_bias_bn: bool = False, count: int = 2) -> list[list[torch.Tensor]]:
    """`count` independent Gaussian directions (δ, η, ...) drawn from one seeded generator."""
    gen = torch.Generator().manual_seed(int(seed))
    return [random_direction(model, normalization=normalization, include_bias_bn=include_bias_bn, generator=gen)
            for _ in range(count)]


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


# --- results ------------------------------------------------------------------------


@dataclass
class Surface:
    """A 1-D line or 2-D plane of losses around θ* (Li et al. 2018).

    alphas:    grid coordinates along δ (columns).
    betas:     grid coordinates along η (rows); None for a line.
    loss:      mean cross-entropy; shape (len(alphas),) for a line, (len(betas), len(alphas))
               for a plane (row j = β_j, column i = α_i, as plotly's z expects). NaN where
               not evaluated yet; inf or NaN where the loss overflowed.
    accuracy:  the same grid of accuracies.
    evaluated: boolean mask of the grid points computed so far.
    center_loss, center_accuracy: values at (0, 0), i.e. the model's own.
    settings:  what produced it (grid, span, samples, seed, normalization, ...).
    """

    alphas: np.ndarray
    betas: np.ndarray | None
    loss: np.ndarray
    accuracy: np.ndarray
    evaluated: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """1 for a line, 2 for a plane."""
        return 1 if self.betas is None else 2

    @property
    def complete(self) -> bool:
        """True when every grid point is evaluated."""
        return bool(self.evaluated.all())

    @property
    def center_loss(self) -> float:
        """Loss at the centre of the grid: L(θ*)."""
        c = (len(self.alphas) - 1) // 2
        return float(self.loss[c] if self.dim == 1 else self.loss[(len(self.betas) - 1) // 2, c])

    @property
    def center_accuracy(self) -> float:
        """Accuracy at the centre of the grid."""
        c = (len(self.alphas) - 1) // 2
        return float(self.accuracy[c] if self.dim == 1 else self.accuracy[(len(self.betas) - 1) // 2, c])

    @property
    def overflowed(self) -> int:
        """Number of evaluated points whose loss is NaN or infinite."""
        return int((~np.isfinite(self.loss) & self.evaluated).sum())

    def subgrid(self) -> "Surface":
        """The finest regular subgrid (stride 1, 2, 4, ... around the centre) whose points are
        all evaluated, for drawing a coarse surface while the rest is computed."""
        n = len(self.alphas)
        c = (n - 1) // 2
        s = 1
        while True:
            keep = np.array([(i - c) % s == 0 for i in range(n)])
            ev = self.evaluated[keep] if self.dim == 1 else self.evaluated[np.ix_(keep, keep)]
            if ev.all() or s > c:
                break
            s *= 2
        if self.dim == 1:
            return Surface(self.alphas[keep], None, self.loss[keep], self.accuracy[keep], ev, self.settings)
        ix = np.ix_(keep, keep)
        return Surface(self.alphas[keep], self.betas[keep], self.loss[ix], self.accuracy[ix], ev, self.settings)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (non-finite losses stay floats; the CLI writes them as null)."""
        d = {
            "alphas": self.alphas.tolist(),
            "loss": self.loss.tolist(),
            "accuracy": self.accuracy.tolist(),
            "center_loss": self.center_loss,
            "center_accuracy": self.center_accuracy,
            "overflowed_points": self.overflowed,
            "settings": self.settings,
        }
        if self.betas is not None:
            d["betas"] = self.betas.tolist()
        return d


@dataclass
class SurfaceProgress:
    """What a surface callback receives: points done, total, the partial surface, and
    whether a refinement level has just been completed (a good moment to redraw)."""

    done: int
    total: int
    surface: Surface
    level_complete: bool


# --- the evaluator ------------------------------------------------------------------


def _device(device) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _FlatModel:
    """A private eval-mode copy of a model whose parameters live in one flat buffer, so a
    new point θ = θ* + αδ + βη costs two vector operations and no per-tensor Python loop."""

    def __init__(self, model: nn.Module, device=None) -> None:
        self.device = _device(device)
        self.model = copy.deepcopy(model).to(self.device).eval()
        params = list(self.model.parameters())
        for p in params:
            p.requires_grad_(False)
        self.flat = torch.cat([p.detach().reshape(-1) for p in params]).float()
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat[offset:offset + n].view_as(p)
            offset += n
        self.theta = self.flat.clone()
        self.shapes = [p.detach() for p in params]

    def vector(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """A per-parameter list as one flat vector on the device."""
        return torch.cat([t.reshape(-1).float() for t in tensors]).to(self.device)

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


def surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, grid: int = 21, span: float = 1.0,
            dim: int = 2, samples: int | None = 512, seed: int = 0, normalization: str = "filter",
            include_bias_bn: bool = False, directions: Sequence[Sequence[torch.Tensor]] | None = None,
            device=None, callback: Callable[[SurfaceProgress], None] | None = None,
            chunk: int = DEFAULT_CHUNK) -> Surface:
    """Loss and accuracy on a 1-D line (dim=1) or 2-D plane around θ* (Li et al. 2018, Fig. 1, 5).

    f(α, β) = L(θ* + αδ + βη) on a symmetric grid of `grid` points a side over
    [-span, span] (odd `grid`, so (0, 0) = θ* is a grid point). δ, η are Gaussian
    directions from `seed`, normalized by `normalization` (see `normalize_direction`),
    unless `directions` gives them (per-parameter tensor lists, used as they are).
    Evaluated in eval mode on a fixed subset of `samples` examples of (x, y)
    (`evaluation_subset`). Points are computed coarse to fine (`coarse_to_fine_order`);
    `callback` gets a `SurfaceProgress` after every few points and after each level.
    The caller's model is not modified (a private copy is used).
    """
    if dim not in (1, 2):
        raise ConfigError(f"dim must be 1 or 2, got {dim!r}")
    _check_classifier(model)
    coords = grid_coords(grid, span)
    xs, ys = evaluation_subset(x, y, samples)
    given = directions
    if directions is None:
        directions = random_directions(model, seed, normalization, include_bias_bn, count=dim)
    elif len(directions) < dim:
        raise ConfigError(f"a {dim}-D surface needs {dim} directions, got {len(directions)}")
    fm = _FlatModel(model, device)
    dirs = [fm.vector(d) for d in directions[:dim]]
    if dirs[0].numel() != fm.flat.numel():
        raise ConfigError("the directions do not match the model's parameters")
    xs, ys = xs.to(fm.device), ys.to(fm.device)

    shape = (grid,) if dim == 1 else (grid, grid)
    loss = np.full(shape, np.nan)
    acc = np.full(shape, np.nan)
    evaluated = np.zeros(shape, dtype=bool)
    settings = dict(grid=grid, span=float(span), dim=dim, samples=len(xs), seed=seed,
                    normalization=normalization if given is None else "given",
                    include_bias_bn=include_bias_bn)
    result = Surface(coords, None if dim == 1 else coords.copy(), loss, acc, evaluated, settings)
    levels = coarse_to_fine_order(grid, dim)
    total = sum(len(lv) for lv in levels)
    done = 0
    report_every = max(grid, 1)
    for level in levels:
        for k, idx in enumerate(level):
            coeffs = [coords[idx[0]]] if dim == 1 else [coords[idx[1]], coords[idx[0]]]
            fm.set_point(coeffs, dirs)
            l_val, a_val = fm.loss_acc(xs, ys, chunk)
            loss[idx], acc[idx], evaluated[idx] = l_val, a_val, True
            done += 1
            if callback is not None and k + 1 < len(level) and done % report_every == 0:
                callback(SurfaceProgress(done, total, result, False))
        if callback is not None:
            callback(SurfaceProgress(done, total, result, True))
    return result


def plane(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw) -> Surface:
    """2-D loss surface f(α, β) = L(θ* + αδ + βη) (Li et al. 2018); see `surface`."""
    return surface(model, x, y, dim=2, **kw)


def line(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw) -> Surface:
    """1-D loss curve f(α) = L(θ* + αδ) along one normalized random direction (Li et al. 2018); see `surface`."""
    return surface(model, x, y, dim=1, **kw)


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
    dev = _device(device)
    model = copy.deepcopy(host).to(dev).eval()
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
               callback: Callable[[SurfaceProgress], None] | None = None) -> Trajectory:
    """The optimisation path over the loss contour of its own PCA plane (Li et al. 2018 §7).

    `snapshots` holds flattened `model.parameters()` at the checkpoints (last row = the
    final weights, which must be `model`'s). The plane is f(a, b) = L(θ_final + a·d₁ + b·d₂)
    with d₁, d₂ the unit PCA directions (not filter-normalized: the path defines the
    scale), on a symmetric grid wide enough for the whole path plus `margin`.
    """
    final = flatten(_params(model))
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
                     device=device, callback=callback)
    plane_.settings["normalization"] = "pca"
    return Trajectory(coords, var, directions, list(steps) if steps is not None else list(range(len(coords))), plane_)


# --- curvature (Li et al. 2018 §6) ----------------------------------------------------


@dataclass
class Curvature:
    """Extreme Hessian eigenvalues at θ* and |λmin/λmax| (Li §6: near 0 = locally convex)."""

    lambda_max: float
    lambda_min: float
    iterations: int

    @property
    def ratio(self) -> float:
        """|λmin / λmax|."""
        return abs(self.lambda_min / self.lambda_max) if self.lambda_max != 0 else float("inf")

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"lambda_max": self.lambda_max, "lambda_min": self.lambda_min, "ratio": self.ratio,
                "iterations": self.iterations}


def hessian_extremes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, samples: int | None = 512,
                     iterations: int = 30, seed: int = 0, device=None) -> Curvature:
    """Largest and most negative eigenvalues of the Hessian of the loss w.r.t. all
    parameters at θ* (eval mode, fixed evaluation subset), by the Lanczos method on
    Hessian-vector products (double backward; the Hessian is never formed), with full
    re-orthogonalisation. The extreme Ritz values converge first; with `iterations` ≥ the
    number of parameters they are exact. Li et al. 2018 §6 map |λmin/λmax|.
    """
    if not (isinstance(iterations, int) and 2 <= iterations <= 500):
        raise ConfigError(f"iterations must be an integer from 2 to 500, got {iterations!r}")
    _check_classifier(model)
    dev = _device(device)
    net = copy.deepcopy(model).to(dev).eval()
    params = [p for p in net.parameters()]
    for p in params:
        p.requires_grad_(True)
    xs, ys = evaluation_subset(x, y, samples)
    xs, ys = xs.to(dev), ys.to(dev)
    loss = F.cross_entropy(net(xs), ys)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.cat([t.reshape(-1) for t in grads])
    n = g.numel()

    def hvp(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(g, params, grad_outputs=v.to(g.dtype), retain_graph=True)
        return torch.cat([t.reshape(-1) for t in hv]).detach().double()

    k = min(iterations, n)
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, generator=gen, dtype=torch.float64).to(dev)
    q /= q.norm()
    basis = [q]
    alphas, betas = [], []
    for j in range(k):
        w = hvp(basis[-1].float())
        a = float(w @ basis[-1])
        alphas.append(a)
        Q = torch.stack(basis)
        w = w - Q.T @ (Q @ w)  # full re-orthogonalisation (twice is enough)
        w = w - Q.T @ (Q @ w)
        b = float(w.norm())
        if j == k - 1 or b < 1e-10:
            break
        betas.append(b)
        basis.append(w / b)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if betas:
        off = torch.tensor(betas[:len(alphas) - 1], dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(T)
    return Curvature(float(ritz[-1]), float(ritz[0]), len(alphas))
