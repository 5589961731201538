"""Loss landscapes of a trained net (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

f(α, β) = L(θ* + αδ + βη), with δ, η drawn from a Gaussian and filter-normalized:
for every filter (output channel of a conv, row of a linear layer)
d ← d / ‖d‖ · ‖θ‖ (Li §4). Directions for biases and BatchNorm parameters are
zero by default (Li's "ignore biasbn"; included, their direction is the parameter
itself, as in Li's code); BatchNorm running statistics are buffers,
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

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..captions import Caption, takeaway_of
from ..data import load_dataset
from ..executor import current
from ..models import ConfigError, build_model
from ..numbers import num, pct, times
from ..progress import Progress, notify, part
from ..settings import MAX_SEED, check_all, setting
from ..train import refuse_diverged
from ..util import eval_copy, flat_params, flatten, pick_device

NORMALIZATIONS = ("filter", "layer", "none")
MAX_GRID = 101  # points per axis; Li use 51
MAX_SAMPLES = 100_000
DEFAULT_CHUNK = 4096  # evaluation samples per forward pass (memory bound, not speed)
SUBSET_SEED = 0  # the evaluation subset is fixed: same samples for every net and setting


# --- directions ---------------------------------------------------------------------


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach() for p in model.parameters()]


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Split a flat vector back into tensors shaped like `like` (inverse of `util.flatten`)."""
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
    `include_bias_bn`; then, as in Li et al.'s code (`normalize_directions_for_weights`
    with ignore='biasbn' off), their direction is the parameter itself, d = θ (so a
    step α moves each bias to (1 + α)·b, and a zero tensor such as BN β at
    initialisation stays put). Under "none" nothing is rescaled, so they keep the raw
    Gaussian draw.
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
                d = w.clone()  # Li: d.copy_(w) for 1-D tensors ("biasbn" not ignored)
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


class GridJob:
    """The points of a plane to evaluate, in a form another process can take: the net's eval copy, the flat
    directions, the evaluation subset and what to compute at each point (`kind`): "loss" (loss and accuracy,
    `surface`) or "curvature" (the extreme Hessian eigenvalues, `curvature_map`). `evaluate(points)` computes a
    chunk of points; an executor (`resnet_viz.executor`) runs the chunks in this process or on a Dask cluster's
    workers, as Li et al. 2018 split their grids over MPI ranks. Every point starts from θ* (it does not depend
    on the points before it), so any split gives the same numbers."""

    def __init__(self, model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, dirs: Sequence[torch.Tensor], *,
                 kind: str = "loss", chunk: int = DEFAULT_CHUNK, device=None, params: str = "weights",
                 tol: float | None = None, max_iterations: int | None = None) -> None:
        tol = DEFAULT_TOL if tol is None else tol
        max_iterations = DEFAULT_MAX_ITERATIONS if max_iterations is None else max_iterations
        self.model, self.xs, self.ys = model, xs, ys
        self.dirs = [d.detach().cpu() for d in dirs]
        self.kind, self.chunk, self.device = kind, chunk, None if device is None else str(device)
        self.params, self.tol, self.max_iterations = params, float(tol), int(max_iterations)
        self.report_every = 1 if kind == "curvature" else None  # points between progress reports (None: √n)
        self._evaluator = None  # built where the job runs (never sent)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_evaluator"] = None
        return state

    def _ready(self):
        if self._evaluator is None:
            if self.kind == "loss":
                fm = _FlatModel(self.model, self.device)
                self._evaluator = (fm, [fm.vector([d]) for d in self.dirs], self.xs.to(fm.device),
                                   self.ys.to(fm.device))
            else:
                probe = _HessianProbe(self.model, self.xs, self.ys, None, self.params, self.device)
                self._evaluator = (probe, [probe.fm.vector([d]) for d in self.dirs])
        return self._evaluator

    def size(self) -> int:
        """Parameters of the net."""
        return int(self.dirs[0].numel())

    def token(self) -> str:
        """A digest of everything the results depend on: the same job has the same token in every process
        (the cluster's task keys, so two servers asking for the same plane share its tasks)."""

        h = hashlib.sha256(f"{self.kind}|{self.chunk}|{self.params}|{self.tol}|{self.max_iterations}".encode())
        for t in [flat_params(self.model, device="cpu"), *self.dirs, self.xs, self.ys]:
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        for b in self.model.buffers():
            h.update(b.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:24]

    def evaluate(self, points: Sequence[Sequence[float]]) -> list[tuple]:
        """For each point (coefficients along the directions): (loss, accuracy) for "loss", (λmin, λmax,
        Lanczos steps, converged) for "curvature"."""
        out = []
        if self.kind == "loss":
            fm, dirs, xs, ys = self._ready()
            for coeffs in points:
                fm.set_point(coeffs, dirs)
                out.append(fm.loss_acc(xs, ys, self.chunk))
        else:
            probe, dirs = self._ready()
            for coeffs in points:
                with torch.no_grad():
                    probe.fm.set_point(coeffs, dirs)
                c = probe.extremes(tol=self.tol, max_iterations=self.max_iterations, seed=0)
                out.append((c.lambda_min, c.lambda_max, int(c.iterations), bool(c.converged)))
        return out


def surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, grid: int = 21, span: float = 1.0,
            dim: int = 2, samples: int | None = 512, seed: int = 0, normalization: str = "filter",
            include_bias_bn: bool = False, directions: Sequence[Sequence[torch.Tensor]] | None = None,
            device=None, progress: Progress | None = None, preview: Callable[[Surface], None] | None = None,
            chunk: int = DEFAULT_CHUNK, executor=None) -> Surface:
    """Loss and accuracy on a 1-D line (dim=1) or 2-D plane around θ* (Li et al. 2018, Fig. 1, 5).

    f(α, β) = L(θ* + αδ + βη) on a symmetric grid of `grid` points a side over
    [-span, span] (odd `grid`, so (0, 0) = θ* is a grid point). δ, η are Gaussian
    directions from `seed`, normalized by `normalization` (see `normalize_direction`),
    unless `directions` gives them (per-parameter tensor lists, used as they are).
    Evaluated in eval mode on a fixed subset of `samples` examples of (x, y)
    (`evaluation_subset`). Points are computed coarse to fine (`coarse_to_fine_order`);
    `progress(fraction, message)` is called every few points; `preview(partial surface)`
    after each completed level (a coarse regular subgrid, `Surface.subgrid`: a good
    moment to redraw). The points are evaluated by `executor` (default: this process's,
    `executor.current()`: in-process, or split into chunks over a Dask cluster's workers
    with the same result, `GridJob`).
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
    dirs = [flatten(d, dtype=torch.float32, device="cpu") for d in directions[:dim]]
    if dirs[0].numel() != sum(p.numel() for p in model.parameters()):
        raise ConfigError("the directions do not match the model's parameters")
    job = GridJob(model, xs, ys, dirs, kind="loss", chunk=chunk, device=device)

    shape = (grid,) if dim == 1 else (grid, grid)
    loss = np.full(shape, np.nan)
    acc = np.full(shape, np.nan)
    evaluated = np.zeros(shape, dtype=bool)
    settings = dict(grid=grid, span=float(span), dim=dim, samples=len(xs), seed=seed,
                    normalization=normalization if given is None else "given",
                    include_bias_bn=include_bias_bn)
    result = Surface(coords, None if dim == 1 else coords.copy(), loss, acc, evaluated, settings)
    levels = coarse_to_fine_order(grid, dim)
    points = [[(coords[idx[0]],) if dim == 1 else (coords[idx[1]], coords[idx[0]]) for idx in level]
              for level in levels]

    def store(i: int, values: list) -> None:
        for idx, (l_val, a_val) in zip(levels[i], values):
            loss[idx], acc[idx], evaluated[idx] = l_val, a_val, True
        if preview is not None:
            preview(result)

    (executor or current()).map_points(job, points, progress=progress, on_level=store)
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


# --- curvature (Li et al. 2018 §6, Fig. 7) -------------------------------------------

HESSIAN_PARAMS = ("weights", "all")  # weights: tensors with ≥ 2 axes, as Li's code; all: every parameter
DEFAULT_TOL = 1e-3  # relative Ritz residual at which an extreme eigenvalue counts as converged
DEFAULT_MAX_ITERATIONS = 100
MAX_ITERATIONS = 500
MAP_TOL = 1e-2  # Li's eigsh tolerance for the Fig. 7 map
MAP_SAMPLES = 128


def hessian_parameters(model: nn.Module, params: str = "weights") -> list[nn.Parameter]:
    """The parameters the Hessian is taken with respect to (Li et al. 2018 §6).

    "weights": only tensors with two or more axes (conv kernels, linear weights), as Li
    et al.'s code does (`[p for p in net.parameters() if len(p.size()) > 1]` in
    `min_max_hessian_eigs`); biases and BatchNorm γ/β are held fixed.
    "all": every parameter of `model`.
    """
    if params not in HESSIAN_PARAMS:
        raise ConfigError(f"params must be one of {HESSIAN_PARAMS}, got {params!r}")
    return [p for p in model.parameters() if params == "all" or p.dim() > 1]


@dataclass
class Curvature:
    """Extreme Hessian eigenvalues at one point and |λmin/λmax| (Li et al. 2018 §6: near 0 =
    locally convex), with how the Lanczos iteration ended.

    iterations:   Lanczos steps (= Hessian-vector products before the final check).
    converged:    both extreme Ritz values met the tolerance (or the Krylov space was exhausted).
    residual_max, residual_min: ‖Hv − λv‖ of the unit Ritz vector of λmax / λmin, computed
                  with two extra Hessian-vector products; an eigenvalue of H lies within that
                  distance of the reported value.
    params:       "weights" (tensors with ≥ 2 axes, Li's choice) or "all".
    n_params:     dimension of the Hessian.
    tol:          the relative tolerance asked for.
    """

    lambda_max: float
    lambda_min: float
    iterations: int
    converged: bool = True
    residual_max: float = float("nan")
    residual_min: float = float("nan")
    params: str = "all"
    n_params: int = 0
    tol: float = 0.0

    @property
    def ratio(self) -> float:
        """|λmin / λmax|."""
        return abs(self.lambda_min / self.lambda_max) if self.lambda_max != 0 else float("inf")

    @property
    def relative_residual(self) -> float:
        """The larger of residual_max/|λmax| and residual_min/max(|λmin|, 10⁻³|λmax|) (the
        convergence criterion's own measure)."""
        scale = max(abs(self.lambda_max), abs(self.lambda_min))
        return max(self.residual_max / max(abs(self.lambda_max), 1e-300),
                   self.residual_min / max(abs(self.lambda_min), 1e-3 * scale, 1e-300))

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"lambda_max": self.lambda_max, "lambda_min": self.lambda_min, "ratio": self.ratio,
                "iterations": self.iterations, "converged": self.converged, "residual_max": self.residual_max,
                "residual_min": self.residual_min, "params": self.params, "n_params": self.n_params,
                "tol": self.tol}


def _check_lanczos(params: str, tol: float, max_iterations: int) -> None:
    if params not in HESSIAN_PARAMS:
        raise ConfigError(f"params must be one of {HESSIAN_PARAMS}, got {params!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0 <= tol < 1):
        raise ConfigError(f"tol must be a number in [0, 1), got {tol!r}")
    if not (isinstance(max_iterations, (int, np.integer)) and 2 <= max_iterations <= MAX_ITERATIONS):
        raise ConfigError(f"max_iterations must be an integer from 2 to {MAX_ITERATIONS}, got {max_iterations!r}")


def lanczos_extremes(hvp: Callable[[torch.Tensor], torch.Tensor], n: int, *, tol: float = DEFAULT_TOL,
                     max_iterations: int = DEFAULT_MAX_ITERATIONS, seed: int = 0,
                     device=None) -> tuple[float, float, int, bool, torch.Tensor, torch.Tensor]:
    """Smallest and largest eigenvalue of a symmetric n×n operator given only by its
    products `hvp(v)` (float64 vectors), by the Lanczos method with full
    re-orthogonalisation (used by Li et al. 2018 §6 through ARPACK; here in plain torch).

    Stops when the Ritz residual estimate β_k·|s_k| of both extreme Ritz pairs is at most
    `tol`·max(|θ|, 10⁻³·max|θ|) (an eigenvalue lies within the residual of θ), when the
    Krylov space is exhausted (exact), or after `max_iterations` (`tol` = 0: always run
    them all). Returns (λmin, λmax, iterations, converged, v_min, v_max), the v being unit
    Ritz vectors.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(int(seed))
    q = torch.randn(n, generator=gen, dtype=torch.float64).to(dev)
    limit = min(int(max_iterations), n)
    basis = torch.empty((min(32, limit), n), dtype=torch.float64, device=dev)  # grows by doubling
    basis[0] = q / q.norm()
    alphas: list[float] = []
    betas: list[float] = []
    converged = False
    for j in range(limit):
        w = hvp(basis[j])
        a = float(w @ basis[j])
        if not math.isfinite(a):
            nan = torch.full((n,), float("nan"), dtype=torch.float64, device=dev)
            return float("nan"), float("nan"), j + 1, False, nan, nan
        alphas.append(a)
        used = basis[:j + 1]
        w = w - used.T @ (used @ w)  # full re-orthogonalisation (twice is enough)
        w = w - used.T @ (used @ w)
        b = float(w.norm())
        k = len(alphas)
        t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            t += torch.diag(off, 1) + torch.diag(off, -1)
        theta, s = torch.linalg.eigh(t)
        scale = max(abs(float(theta[0])), abs(float(theta[-1])), 1e-300)
        r_min, r_max = b * abs(float(s[-1, 0])), b * abs(float(s[-1, -1]))
        exhausted = k == n or b <= 1e-12 * scale
        ok = all(r <= tol * max(abs(float(th)), 1e-3 * scale) for r, th in ((r_min, theta[0]), (r_max, theta[-1])))
        if exhausted or (tol > 0 and ok):
            converged = True
            break
        if j == limit - 1:
            break
        if j + 1 == basis.shape[0]:
            grown = torch.empty((min(2 * basis.shape[0], limit), n), dtype=torch.float64, device=dev)
            grown[:j + 1] = basis
            basis = grown
        basis[j + 1] = w / b
        betas.append(b)
    k = len(alphas)
    v_min = basis[:k].T @ s[:, 0].to(dev)
    v_max = basis[:k].T @ s[:, -1].to(dev)
    return float(theta[0]), float(theta[-1]), k, converged, v_min / v_min.norm(), v_max / v_max.norm()


class _HessianProbe:
    """A private eval-mode copy of a model (parameters in one flat buffer, as `_FlatModel`) that
    takes Hessian-vector products of the loss on fixed data w.r.t. the chosen parameters
    (double backward: the Hessian is never formed), at θ* or any point θ* + Σ cₖdₖ."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, samples: int | None,
                 params: str, device=None) -> None:
        self.fm = _FlatModel(model, device)
        self.params = params
        self.chosen = hessian_parameters(self.fm.model, params)
        for p in self.chosen:
            p.requires_grad_(True)
        self.n = sum(p.numel() for p in self.chosen)
        xs, ys = evaluation_subset(x, y, samples)
        self.xs, self.ys = xs.to(self.fm.device), ys.to(self.fm.device)

    def extremes(self, *, tol: float, max_iterations: int, seed: int = 0) -> Curvature:
        """Extreme eigenvalues at the point currently written into the copy."""
        with torch.enable_grad():
            loss = F.cross_entropy(self.fm.model(self.xs), self.ys)
            grads = torch.autograd.grad(loss, self.chosen, create_graph=True)
            g = torch.cat([t.reshape(-1) for t in grads])

            def hvp(v: torch.Tensor) -> torch.Tensor:
                hv = torch.autograd.grad(g, self.chosen, grad_outputs=v.to(g.dtype), retain_graph=True)
                return flatten(hv, dtype=torch.float64)

            lo, hi, its, ok, v_lo, v_hi = lanczos_extremes(hvp, self.n, tol=tol, max_iterations=max_iterations,
                                                           seed=seed, device=self.fm.device)
            if math.isfinite(lo) and math.isfinite(hi):
                r_lo = float((hvp(v_lo) - lo * v_lo).norm())
                r_hi = float((hvp(v_hi) - hi * v_hi).norm())
            else:
                r_lo = r_hi = float("nan")
        return Curvature(hi, lo, its, ok, r_hi, r_lo, self.params, self.n, float(tol))


def hessian_extremes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, samples: int | None = 512,
                     params: str = "weights", tol: float = DEFAULT_TOL,
                     max_iterations: int = DEFAULT_MAX_ITERATIONS, seed: int = 0, device=None) -> Curvature:
    """Largest and most negative eigenvalues of the Hessian of the loss at θ* (Li et al. 2018 §6,
    who map |λmin/λmax| as a measure of non-convexity).

    Eval mode, fixed evaluation subset of `samples` examples. The Hessian is taken w.r.t.
    the weight tensors only (`params="weights"`, Li's choice: tensors with ≥ 2 axes) or
    every parameter (`"all"`). Lanczos on Hessian-vector products (`lanczos_extremes`), run
    until both extreme Ritz values have a relative residual ≤ `tol` or `max_iterations`
    steps; the result says how many steps were used, whether they converged, and the true
    residual ‖Hv − λv‖ of each. The model is not modified.
    """
    _check_lanczos(params, tol, max_iterations)
    _check_classifier(model)
    probe = _HessianProbe(model, x, y, samples, params, device)
    return probe.extremes(tol=tol, max_iterations=max_iterations, seed=seed)


@dataclass
class CurvatureMap:
    """|λmin/λmax| of the Hessian over a coarse plane around θ* (Li et al. 2018 Fig. 7).

    alphas, betas: grid coordinates along δ (columns) and η (rows), as in `Surface`.
    lambda_min, lambda_max: extreme eigenvalues at each point, shape (len(betas), len(alphas)).
    iterations, converged: Lanczos steps used and whether they converged, per point.
    settings: what produced it (grid, span, seed, normalization, params, tol, ...).
    """

    alphas: np.ndarray
    betas: np.ndarray
    lambda_min: np.ndarray
    lambda_max: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def ratio(self) -> np.ndarray:
        """|λmin/λmax| at each point (NaN where it could not be computed)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(self.lambda_min / self.lambda_max)

    @property
    def center_ratio(self) -> float:
        """|λmin/λmax| at θ* (the centre of the grid)."""
        c = (len(self.alphas) - 1) // 2
        return float(self.ratio[c, c])

    def to_dict(self) -> dict:
        """JSON-ready dictionary (NaN stays a float; the CLI writes it as null)."""
        return {"alphas": self.alphas.tolist(), "betas": self.betas.tolist(), "ratio": self.ratio.tolist(),
                "lambda_min": self.lambda_min.tolist(), "lambda_max": self.lambda_max.tolist(),
                "iterations": self.iterations.tolist(), "converged": self.converged.tolist(),
                "settings": self.settings}


def curvature_map(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, grid: int = 5, span: float = 1.0,
                  seed: int = 0, normalization: str = "filter", include_bias_bn: bool = False,
                  directions: Sequence[Sequence[torch.Tensor]] | None = None, samples: int | None = MAP_SAMPLES,
                  params: str = "weights", tol: float = MAP_TOL, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                  device=None, progress: Progress | None = None, executor=None) -> CurvatureMap:
    """The map of |λmin/λmax| over the plane θ* + αδ + βη (Li et al. 2018 §6, Fig. 7).

    δ, η are the same directions as the loss plane of `surface` with the same `seed`,
    `normalization` and `include_bias_bn` (or `directions`), on a coarse symmetric
    `grid`×`grid` grid over [−span, span]² containing θ* exactly. At each point the
    extreme Hessian eigenvalues are found as by `hessian_extremes` (same `params`, `tol`,
    `max_iterations`, Lanczos start seed 0), so the centre equals `hessian_extremes` at θ*.
    Li et al. use a tolerance of 10⁻² here (`MAP_TOL`). `progress(fraction, message)` as points are done. The
    points are evaluated by `executor` (default `executor.current()`, as `surface`). The caller's model is not
    modified (a private copy is used).
    """

    _check_lanczos(params, tol, max_iterations)
    _check_classifier(model)
    coords = grid_coords(grid, span)
    given = directions
    if directions is None:
        directions = random_directions(model, seed, normalization, include_bias_bn, count=2)
    elif len(directions) < 2:
        raise ConfigError(f"a curvature map needs 2 directions, got {len(directions)}")
    xs, ys = evaluation_subset(x, y, samples)
    dirs = [flatten(d, dtype=torch.float32, device="cpu") for d in directions[:2]]
    if dirs[0].numel() != sum(p.numel() for p in model.parameters()):
        raise ConfigError("the directions do not match the model's parameters")
    job = GridJob(model, xs, ys, dirs, kind="curvature", device=device, params=params, tol=tol,
                  max_iterations=max_iterations)
    shape = (grid, grid)
    lo, hi = np.full(shape, np.nan), np.full(shape, np.nan)
    its, ok = np.zeros(shape, dtype=int), np.zeros(shape, dtype=bool)
    levels = coarse_to_fine_order(grid, 2)  # the centre first
    points = [[(coords[i], coords[j]) for j, i in level] for level in levels]

    def store(k: int, values: list) -> None:
        for (j, i), v in zip(levels[k], values):
            lo[j, i], hi[j, i], its[j, i], ok[j, i] = v

    (executor or current()).map_points(job, points, progress=progress, on_level=store)
    n_params = sum(p.numel() for p in hessian_parameters(model, params))
    settings = dict(grid=grid, span=float(span), seed=seed, samples=len(xs),
                    normalization=normalization if given is None else "given",
                    include_bias_bn=include_bias_bn, params=params, n_params=n_params, tol=float(tol),
                    max_iterations=int(max_iterations))
    return CurvatureMap(coords, coords.copy(), lo, hi, its, ok, settings)


# --- captions computed from the results (what this run shows, not what it should show) ------

SAME_RATIO = 0.2  # relative difference below which two curvature measures count as "about the same"
BASIN_RISE = 1.0  # basin edge: where the loss has risen this much (nats) above L(θ*)
RAYS = 16  # rays from θ* in a plane along which width and roughness are measured
WIDER = 1.25  # one basin radius at least this many times the other: "wider"
ROUGH = 0.05  # share of a surface's variation along the rays that goes downhill away from θ*: "rough"
LOSS_CEILING = 1e12  # overflowed losses (inf/NaN) count as this high on the rays


def _compare(a: float, b: float, same: float, relative: bool = False) -> int:
    """-1 when a < b, 1 when a > b, 0 when they are within `same` (absolute or relative)."""
    gap = abs(a - b) / max(abs(a), abs(b), 1e-300) if relative else abs(a - b)
    return 0 if gap <= same else (1 if a > b else -1)


def _ray_values(s: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(distances from θ* in axis units, losses [ray, point]) along rays from the centre: the two halves of a
    line, or RAYS evenly spread rays of a plane, each as long as the span (inside the grid), sampled every half
    grid step by (bi)linear interpolation of the grid. Overflowed losses count as LOSS_CEILING."""
    z = np.clip(np.where(np.isfinite(s.loss), s.loss, LOSS_CEILING), 0.0, LOSS_CEILING)
    n = len(s.alphas)
    c = (n - 1) / 2
    t = np.arange(0, 2 * c + 1) / 2  # index steps of one half grid step, 0 … c
    dist = t * (s.alphas[-1] / c)
    if s.dim == 1:
        return dist, np.stack([np.interp(c + t, np.arange(n), z), np.interp(c - t, np.arange(n), z)])
    out = []
    for theta in np.linspace(0, 2 * np.pi, RAYS, endpoint=False):
        rows, cols = c + t * np.sin(theta), c + t * np.cos(theta)
        r0, c0 = np.clip(np.floor(rows).astype(int), 0, n - 2), np.clip(np.floor(cols).astype(int), 0, n - 2)
        fr, fc = rows - r0, cols - c0
        out.append(z[r0, c0] * (1 - fr) * (1 - fc) + z[r0 + 1, c0] * fr * (1 - fc)
                   + z[r0, c0 + 1] * (1 - fr) * fc + z[r0 + 1, c0 + 1] * fr * fc)
    return dist, np.stack(out)


@dataclass(frozen=True)
class Basin:
    """How wide and how rough a surface is around θ*, measured along rays from the centre
    (Li et al. 2018 §5–6 compare the width of minima and the convexity of the surface; these numbers
    measure both without counting grid points, so they do not depend on the grid's resolution beyond
    interpolation, nor on the loss at θ*).

    radius:    mean distance (axis units of the filter-normalized directions) along the rays at which the
               loss has first risen by `rise` nats above L(θ*); a ray that never rises that much within the
               span counts as the span (`censored` says how many did).
    roughness: share of the total variation of log10 loss along the rays that goes downhill while moving
               away from θ* (0 for a bowl whose contours are nested; larger for a chaotic surface with dips).
    """

    radius: float
    censored: int
    rays: int
    roughness: float
    rise: float = BASIN_RISE


def basin(s: Surface, rise: float = BASIN_RISE) -> Basin:
    """The `Basin` of an evaluated line or plane: width (where the loss has risen by `rise` nats above its value
    at θ*, interpolated between samples) and roughness along rays from θ* (Li et al. 2018 §5)."""
    dist, losses = _ray_values(s)
    center = s.center_loss if math.isfinite(s.center_loss) else LOSS_CEILING
    radii, censored = [], 0
    for loss in losses:
        above = loss - center >= rise
        if not above.any():
            radii.append(dist[-1])
            censored += 1
            continue
        k = int(np.argmax(above))
        lo, hi = loss[k - 1] - center, loss[k] - center
        f = 0.0 if k == 0 or hi <= lo else (rise - lo) / (hi - lo)
        radii.append(dist[max(k - 1, 0)] + f * (dist[k] - dist[max(k - 1, 0)]))
    steps = np.diff(np.log10(np.maximum(losses, 1e-12)), axis=1)
    total = float(np.abs(steps).sum())
    rough = float(np.maximum(-steps, 0).sum() / total) if total > 0 else 0.0
    return Basin(float(np.mean(radii)), censored, len(losses), rough, rise)


def _times(a: float, b: float) -> str:
    """How many times wider a is than b ("×2.1"; "much" when b is 0)."""
    return times(a / b) if b > 0 else "much"


def _radius(b: Basin) -> str:
    return f"≥ {b.radius:.2f}" if b.censored == b.rays else f"{b.radius:.2f}"


def _radius_text(b: Basin) -> str:
    return _radius(b) + (
        f" ({b.censored} of {b.rays} rays never rise that much within the span)" if 0 < b.censored < b.rays else "")


def width_comparison(plain: Basin, residual: Basin) -> int:
    """1 when the residual basin is wider by at least the factor WIDER, -1 when the plain one is, 0 otherwise."""
    if residual.radius >= WIDER * plain.radius:
        return 1
    if plain.radius >= WIDER * residual.radius:
        return -1
    return 0


def surfaces_caption(plain: Surface, residual: Surface, classes: int) -> str:
    """Caption of the plain and residual loss planes from what they show (Li et al. 2018 Fig. 5: a wide,
    convex-looking basin for the residual net, a narrower, chaotic one for a deep plain net): each basin's
    width and roughness along the same rays (`basin`), compared with margins (a factor WIDER for width,
    ROUGH for roughness); the loss at θ* is named, since width is measured from each net's own minimum."""
    bp, br = basin(plain), basin(residual)
    head = (f"Same directions (one seed), one colour scale. The white line is each basin's edge, where the loss has "
            f"risen {BASIN_RISE:g} nat above its value at θ*: along {bp.rays} rays it lies at a mean distance of "
            f"{_radius_text(bp)} for the plain net and {_radius_text(br)} for the residual net. ")
    c = width_comparison(bp, br)
    takeaway = (f"The residual net's basin is {_times(br.radius, bp.radius)} wider than the plain net's (edge at "
                f"{_radius(br)} vs {_radius(bp)}), as in Li et al." if c > 0 else
                f"Here the plain net's basin is {_times(bp.radius, br.radius)} wider than the residual net's (edge at "
                f"{_radius(bp)} vs {_radius(br)}), unlike Li et al." if c < 0 else
                f"Both basins are about as wide (edge at {_radius(bp)} plain vs {_radius(br)} residual, within a factor "
                f"{WIDER:g}).")
    if c > 0:
        width = f"The residual net's basin is {_times(br.radius, bp.radius)} wider, as in Li et al. 2018 (Fig. 5)."
    elif c < 0:
        width = (f"Here the plain net's basin is {_times(bp.radius, br.radius)} wider, unlike Li et al.'s Fig. 5, "
                 "where the deep no-skip net sits in the narrower one; at this depth and budget the twins differ "
                 "less than ResNet-56 and its no-skip twin on CIFAR-10 (Li et al. see little difference at 20 layers).")
    else:
        width = (f"Both basins are about as wide (within a factor {WIDER:g}); Li et al. see this at 20 layers and the "
                 "gap only from 56 layers on.")
    if bp.roughness >= ROUGH and bp.roughness > 2 * br.roughness:
        rough = (f" The plain surface is the rougher one ({pct(bp.roughness)} of its rise along the rays goes downhill "
                 f"away from θ*, {pct(br.roughness)} for the residual net): Li et al.'s chaotic no-skip surface.")
    elif br.roughness >= ROUGH and br.roughness > 2 * bp.roughness:
        rough = (f" Here the residual surface is the rougher one ({pct(br.roughness)} of its rise goes downhill away "
                 f"from θ*, {pct(bp.roughness)} for the plain net), unlike Li et al.")
    else:
        rough = (f" Both rise smoothly away from θ* (roughness {pct(bp.roughness)} and {pct(br.roughness)}: the share "
                 "of the rise along the rays that goes downhill): the chaotic no-skip surfaces of Li et al. belong to "
                 "56–110-layer nets trained for hundreds of epochs on CIFAR-10; at this toy scale the twins differ in "
                 "width, not in chaos.")
    lp, lr = plain.center_loss, residual.center_loss
    ratio = lp / lr if lr > 0 else math.inf
    minima = ""
    if ratio >= 10 or ratio <= 0.1:
        worse = "plain" if ratio >= 10 else "residual"
        minima = (f" The {worse} net's minimum is also higher (loss at θ* {num(lp)} against {num(lr)}); each width is "
                  "measured from the net's own minimum.")
    return Caption(takeaway, head + width + rough + minima)


def slices_caption(surfaces: dict[str, Surface]) -> str:
    """Caption of the 1-D slices (β = 0 rows) from their values: the loss at θ* and at both ends of the
    slice for each net, and how far from θ* the loss has risen by BASIN_RISE nats along the slice (Li et
    al. 2018 §5 relate flat, wide minima to generalisation), compared with the margin WIDER."""
    parts, widths = [], {}
    for label, s in surfaces.items():
        g = s.subgrid()
        row = g.loss if g.dim == 1 else g.loss[(len(g.betas) - 1) // 2]
        ends = np.nan_to_num(row[[0, -1]], nan=np.inf)
        line = Surface(g.alphas, None, row, np.zeros_like(row), np.ones_like(row, dtype=bool), g.settings)
        widths[label] = basin(line)
        parts.append(f"{label} {num(s.center_loss)} at θ*, {num(ends[0])} / {num(ends[-1])} at α = ±{num(g.alphas[-1])}, "
                     f"{BASIN_RISE:g} nat higher at |α| = {_radius_text(widths[label])}")
    text = ("The β = 0 row of each plane: the same filter-normalized direction δ through both nets. Loss: "
            + "; ".join(parts) + ". ")
    rise = f"{BASIN_RISE:g} nat higher at |α| = "
    if set(widths) >= {"plain", "residual"}:
        c = width_comparison(widths["plain"], widths["residual"])
        text += ("Both rise about as fast away from θ*." if c == 0 else
                 f"The {'plain' if c > 0 else 'residual'} net's loss rises faster away from θ* (the sharper minimum).")
        at = f"({rise}{_radius(widths['plain'])} plain, {_radius(widths['residual'])} residual)"
        takeaway = (f"Along the same direction, both nets' loss rises about as fast away from θ* {at}." if c == 0 else
                    f"Along the same direction, the {'plain' if c > 0 else 'residual'} net's loss rises faster away "
                    f"from θ* {at}.")
    else:
        takeaway = "Along this direction, " + "; ".join(
            f"the {label} net's loss is {num(s.center_loss)} at θ* and {rise}{_radius(widths[label])}"
            for label, s in surfaces.items()) + "."
    return Caption(takeaway, text)


def interpolation_barrier(interp: Interpolation) -> float:
    """Largest rise of the loss along the segment t ∈ [0, 1] above the running minimum before it
    (0 for a monotone decrease): the barrier on the straight line (Goodfellow et al. 2015)."""
    inside = (interp.ts >= 0) & (interp.ts <= 1)
    vals = np.nan_to_num(interp.loss[inside], nan=np.inf)
    if vals.size < 2:
        return 0.0
    return float(np.max(vals - np.minimum.accumulate(vals)))


def interpolation_caption(curves: dict[str, Interpolation], tol: float = 1e-3) -> str:
    """Caption of init → trained interpolations from the curves (Goodfellow et al. 2015 found a
    monotone decrease, no barrier, on this line): says per curve whether the loss falls
    monotonically on [0, 1] or how high the barrier is."""
    parts, short = [], []
    for label, c in curves.items():
        b = interpolation_barrier(c)
        parts.append(f"{label}: the loss falls monotonically from t = 0 to 1 (no barrier on this line)" if b <= tol
                     else f"{label}: a barrier of {num(b)} above the lowest loss before it")
        short.append(f"the {label} net's loss falls monotonically" if b <= tol else
                     f"the {label} net's loss crosses a barrier of {num(b)}")
    return Caption("From initial to trained weights, " + "; ".join(short) + ".", "; ".join(parts) + ".")


def trajectory_caption(trajectories: dict[str, "Trajectory"]) -> str:
    """Caption of the optimisation paths from their PCA (Li et al. 2018 §7 find the paths lie in a
    very low-dimensional space): the variance share of the first two directions per net and
    what it means for how well the plane shows the path."""
    parts = []
    for label, tr in trajectories.items():
        share = float(np.sum(tr.explained_variance))
        verdict = ("most of the path lies in this plane" if share >= 0.8 else
                   "a good part of the path lies in this plane" if share >= 0.5 else
                   "less than half of the path's variance lies in this plane, so the picture misses much of it")
        parts.append(f"{label}: {pct(tr.explained_variance[0], 0)} + {pct(tr.explained_variance[1], 0)} "
                     f"= {pct(share, 0)} of the variance, {verdict}")
    held = " and ".join(f"{pct(float(np.sum(tr.explained_variance)), 0)} of the {label} path's"
                        for label, tr in trajectories.items())
    return Caption(f"The plane of the first two PCA directions holds {held} variance.",
                   "Weight checkpoints projected on the first two PCA directions of θ_i − θ_final (Li et al. §7), over "
                   "the loss in that plane. " + "; ".join(parts) + ".")


def curvature_caption(curvatures: dict[str, Curvature]) -> str:
    """Caption of the extreme Hessian eigenvalues at θ* from the measured values (Li et al. 2018 §6):
    which parameters, convergence, and which net is the more nearly convex at its minimum."""
    any_c = next(iter(curvatures.values()))
    which = ("the weight tensors only (conv kernels and linear weights; biases and BN γ/β held fixed), as "
             "Li et al. do" if any_c.params == "weights" else "every parameter (weights, biases, BN γ/β)")
    parts = []
    for label, c in curvatures.items():
        end = (f"converged in {c.iterations} Lanczos steps, relative residual {num(c.relative_residual, 1)}"
               if c.converged else f"NOT converged after {c.iterations} steps (relative residual "
               f"{num(c.relative_residual, 1)}): raise the step limit")
        parts.append(f"{label}: λmax {num(c.lambda_max, 4)}, λmin {num(c.lambda_min, 4)}, |λmin/λmax| "
                     f"{num(c.ratio)} ({end})")
    text = (f"Hessian of the loss at θ* w.r.t. {which} ({any_c.n_params:,} parameters), by Lanczos on "
            f"Hessian-vector products. " + "; ".join(parts) + ". ")
    if set(curvatures) >= {"plain", "residual"}:
        p, r = curvatures["plain"].ratio, curvatures["residual"].ratio
        c = _compare(p, r, SAME_RATIO, relative=True)
        text += ("Both minima are about equally convex by this measure." if c == 0 else
                 f"The {'residual' if c > 0 else 'plain'} net's minimum is the more nearly convex here "
                 f"(smaller |λmin/λmax|).")
        ratios = f"|λmin/λmax| {num(r)} residual vs {num(p)} plain"
        takeaway = (f"Both minima are about equally convex ({ratios})." if c == 0 else
                    f"The {'residual' if c > 0 else 'plain'} net's minimum is the more nearly convex ({ratios}).")
    else:
        takeaway = "At θ*, " + "; ".join(f"the {label} net's |λmin/λmax| is {num(c.ratio)}"
                                         for label, c in curvatures.items()) + " (near 0: locally convex)."
    return Caption(takeaway, text + " Near 0 means locally convex; larger values mean negative curvature a 2-D plot "
                                    "can hide.")


def curvature_map_caption(maps: dict[str, CurvatureMap], convex: float = 0.1) -> str:
    """Caption of the |λmin/λmax| maps (Li et al. 2018 Fig. 7, where the residual net's region
    around θ* is convex-looking and a deep plain net's is not) from the measured maps: mean ratio
    and share of nearly convex points (ratio < `convex`) per net, and which is more convex."""
    stats = {}
    for label, m in maps.items():
        r = m.ratio[np.isfinite(m.ratio)]
        stats[label] = (float(r.mean()) if r.size else float("nan"),
                        float(np.mean(r < convex)) if r.size else float("nan"), int((~m.converged).sum()))
    parts = [f"{label}: mean {num(mean)}, {pct(share, 0)} of the points below {convex:g}"
             + (f", {bad} not converged" if bad else "") for label, (mean, share, bad) in stats.items()]
    m0 = next(iter(maps.values()))
    text = (f"|λmin/λmax| on a {len(m0.alphas)}×{len(m0.betas)} grid of the same directions as the loss plane, one "
            f"colour scale (Li et al. 2018 Fig. 7; dark = locally convex). " + "; ".join(parts) + ". ")
    if set(stats) >= {"plain", "residual"}:
        c = _compare(stats["plain"][0], stats["residual"][0], SAME_RATIO, relative=True)
        text += ("Both planes are about equally convex on average." if c == 0 else
                 "The residual net's region is the more convex, as in Li et al." if c > 0 else
                 "The plain net's region is the more convex here, unlike Li et al.'s deep no-skip nets (their Fig. 7 "
                 "contrast is for 56–110-layer nets trained to convergence on CIFAR-10)")
        means = f"mean |λmin/λmax| {num(stats['residual'][0])} residual vs {num(stats['plain'][0])} plain"
        takeaway = (f"Across the plane both nets are about equally convex ({means})." if c == 0 else
                    f"Across the plane the residual net's region is the more convex ({means}), as in Li et al." if c > 0
                    else f"Across the plane the plain net's region is the more convex ({means}), unlike Li et al.")
    else:
        takeaway = "Across the plane, " + "; ".join(
            f"the {label} net's mean |λmin/λmax| is {num(mean)}, {pct(share, 0)} of points below {convex:g}"
            for label, (mean, share, _) in stats.items()) + "."
    return Caption(takeaway, text)


# --- the view: one computation for the page, the CLI and the report --------------------------

VIEWS = ("2-D contours", "3-D surfaces", "1-D slices", "Interpolation", "Trajectory", "Curvature")
SURFACE_VIEWS = VIEWS[:3]
MAX_TRAJECTORY_GRID = 21


@dataclass(frozen=True)
class LandscapeSettings:
    """Everything the loss-landscape view computes from (Li et al. 2018).

    view: one of VIEWS; grid, span, samples, seed, normalization, bias_bn: the plane
    f(α, β) = L(θ* + αδ + βη) (`surface`); nets: which of the pair's nets to compute ("plain",
    "residual"); hessian_params, tol, max_iterations: the Lanczos runs of the Curvature view
    (`hessian_extremes`); curvature_map, map_grid: also Li's Fig. 7 map on a map_grid² grid.
    mode, clip: how losses are drawn (log₁₀, or clipped at `clip`); they change no number.
    """

    view: str = setting(VIEWS[0], "View", options=VIEWS, key="landscape_view")
    grid: int = setting(15, "Grid points per axis", min=3, max=MAX_GRID, odd=True,
                        picks=(5, 7, 9, 11, 13, 15, 21, 25, 31, 41, 51), key="ls_grid",
                        help="Odd, so that θ* is the centre point. Li et al. use 51.")
    span: float = setting(1.0, "Span (grid covers [−span, span])", min=0.01, max=10.0, step=0.25, key="ls_span")
    samples: int = setting(128, "Evaluation samples (fixed training subset)", min=1, max=MAX_SAMPLES,
                           picks=(64, 128, 256, 512, 1024), key="ls_samples",
                           help="At most the training split of the pair's data (digits: 1437).")
    seed: int = setting(0, "Direction seed", min=0, max=MAX_SEED, step=1, key="ls_seed")
    normalization: str = setting("filter", "Direction normalization", options=NORMALIZATIONS, key="ls_normalization",
                                 help="filter: Li et al.'s per-filter scaling; try 'none' to see why it matters.")
    bias_bn: bool = setting(False, "Also perturb biases and BN γ/β", key="ls_bias_bn")
    nets: tuple[str, ...] = setting(("plain", "residual"), "Nets", options=("plain", "residual"), min_items=1,
                                    unique=True, widget="none")
    hessian_params: str = setting("weights", "Hessian w.r.t.", options=HESSIAN_PARAMS, key="landscape_hessian_params",
                                  labels={"weights": "weight tensors only (Li et al.)",
                                          "all": "all parameters (+ biases, BN γ/β)"},
                                  help="Li et al. take the Hessian w.r.t. the weight tensors only (tensors with ≥ 2 "
                                       "axes).")
    tol: float = setting(DEFAULT_TOL, "Tolerance (relative residual)", min=0.0, max=0.5, picks=(1e-2, 1e-3, 1e-4),
                         key="landscape_tol",
                         labels=lambda v: f"{v:g}")
    max_iterations: int = setting(DEFAULT_MAX_ITERATIONS, "Most Lanczos steps", min=2, max=MAX_ITERATIONS, step=1,
                                  widget="slider", key="landscape_lanczos",
                                  help="Lanczos stops earlier once both extreme eigenvalues meet the tolerance.")
    curvature_map: bool = setting(False, "Also |λmin/λmax| across the plane (Li et al. Fig. 7)", widget="none",
                                  key="landscape_map_on")
    map_grid: int = setting(5, "Map grid", min=3, max=MAX_GRID, odd=True, picks=(3, 5, 7), key="landscape_map_grid",
                            help="The surface's own directions, on a coarse grid over the same span.")
    mode: str = setting("log", "Loss scale", options=("log", "clip"), key="landscape_mode",
                        labels={"log": "log₁₀", "clip": "clipped"})
    clip: float = setting(10.0, "Ceiling", min=0.01, max=1e6, key="landscape_clip",
                          help="Losses above this (and overflows) are drawn at the ceiling.")

    DISPLAY = ("mode", "clip")  # fields that change no number (left out of `computation`)

    def validate(self) -> None:
        """ConfigError with a one-line message for settings outside their declared domains (`settings.check_all`;
        rules between fields: none). The evaluation samples are checked against the data by `check_data`."""
        check_all(self)

    def check_data(self, data) -> None:
        """ConfigError (one line) when the settings ask for more than `data` holds: evaluation samples beyond the
        training split."""
        n = len(data.y_train)
        if self.samples > n:
            raise ConfigError(f"evaluation samples: {self.samples} asked for, but the training split of "
                              f"{data.name} has {n}")

    def computation(self) -> dict:
        """The fields that determine the numbers (a cache key): all but the display ones and,
        outside the views that use them, the Hessian settings."""
        d = {k: v for k, v in asdict(self).items() if k not in self.DISPLAY}
        if self.view != "Curvature":
            for k in ("hessian_params", "tol", "max_iterations", "curvature_map", "map_grid"):
                d.pop(k)
        if self.view == "1-D slices" or self.view == "Interpolation":
            d["nets"] = ("plain", "residual")
        return d

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "nets": list(self.nets)}


@dataclass
class LandscapeView:
    """What the loss-landscape view shows for the chosen `settings.view`: the planes (2-D, 3-D,
    1-D slices), the interpolations, the trajectories or the curvature (and its map), with the
    caption its numbers support. Entries the view does not use are None."""

    settings: LandscapeSettings
    classes: int
    surfaces: dict[str, Surface] | None = None
    interpolations: dict[str, Interpolation] | None = None
    trajectories: dict[str, Trajectory] | None = None
    curvature: dict[str, Curvature] | None = None
    maps: dict[str, CurvatureMap] | None = None

    def caption(self) -> str:
        """What this view shows, from its numbers (the *_caption functions of this module)."""
        if self.surfaces is not None:
            s = self.surfaces
            if self.settings.view == "1-D slices":
                cap = slices_caption(s)
                return Caption(cap.takeaway, cap.details + " Li et al. (§5) relate wide, flat minima to better "
                                                           "generalisation.")
            if len(s) == 2:
                return surfaces_caption(s["plain"], s["residual"], self.classes)
            (label, one), = s.items()
            b = basin(one)
            return Caption(f"The {label} net's loss rises {BASIN_RISE:g} nat above its minimum ({num(one.center_loss)}) "
                           f"at a mean distance of {_radius(b)} from θ*.",
                           "Same seed, so the same directions as the other net, and one colour scale. Li et al. (2018, "
                           "Fig. 5) compare a deep plain net's surface with its residual twin's.")
        if self.interpolations is not None:
            cap = interpolation_caption({k: self.interpolations[f"{k}: init → trained"] for k in ("plain", "residual")})
            return Caption(cap.takeaway, "Left: the straight line from the initial to the trained weights (Goodfellow "
                                         f"et al. 2015). {cap.details} Right: the twins share initial weights and "
                                         "shapes, so their trained weights can be mixed; each curve runs the mixture in "
                                         "one architecture.")
        if self.trajectories is not None:
            return trajectory_caption(self.trajectories)
        if self.curvature is not None:
            return curvature_caption(self.curvature)
        return ""

    def map_caption(self) -> str:
        """What the Fig. 7 maps show, from their numbers; "" without maps."""
        return curvature_map_caption(self.maps) if self.maps else ""

    def captions(self) -> dict[str, str]:
        """"view": what the chosen view shows, "map": what the curvature map shows ("" without one); each a
        `captions.Caption` (a takeaway, then the details)."""
        return {"view": self.caption(), "map": self.map_caption()}

    def to_dict(self) -> dict:
        """JSON-ready results with their captions."""
        def each(d):
            return None if d is None else {k: v.to_dict() for k, v in d.items()}

        return {"settings": self.settings.to_dict(), "surfaces": each(self.surfaces),
                "interpolations": each(self.interpolations), "trajectories": each(self.trajectories),
                "curvature": each(self.curvature), "maps": each(self.maps), "captions": self.captions(),
                "takeaways": {k: takeaway_of(c) for k, c in self.captions().items()}}


def surface_stats(s: Surface, classes: int) -> str:
    """Loss and accuracy at θ*, the median loss over the plane and the basin's width and roughness (`basin`)."""
    b = basin(s)
    return (f"loss at θ* {num(s.center_loss)} ({pct(s.center_accuracy, 0)} accuracy on the evaluation set), median "
            f"over the plane {num(np.nanmedian(s.loss))}, {BASIN_RISE:g} nat higher at a distance of {_radius_text(b)}, "
            f"roughness {pct(b.roughness)}")


def landscape_study(runs: dict, settings: LandscapeSettings = LandscapeSettings(), *, data=None,
                    progress: Progress | None = None,
                    preview: Callable[[str, Surface], None] | None = None) -> LandscapeView:
    """Li et al. 2018's view of a trained pair, for `settings.view`.

    `runs`: {"plain": Run, "residual": Run} trained on the same data (`data`, loaded from the
    runs' TrainConfig when None). The planes use the same directions for both nets (same
    seed); the interpolations run init → trained for each net and the plain weights → the
    residual weights in each architecture; the trajectories project each run's checkpoints on
    their PCA plane; the curvature gives the extreme Hessian eigenvalues at θ* (and, with
    `settings.curvature_map`, Li's Fig. 7 map). `preview(net, partial surface)` after each
    refinement level of a plane; `progress(fraction, message)` as the work goes on.
    """

    settings.validate()
    s = settings
    first = next(iter(runs.values()))
    if data is None:
        data = load_dataset(first.train.dataset, first.train.data_root, first.train.data_limit)
    s.check_data(data)
    refuse_diverged(runs, "loss landscape")
    x, y = data.x_train, data.y_train
    view = LandscapeView(s, int(first.net.classes))
    names = [k for k in runs if k in s.computation()["nets"]]
    each = [(k, part(progress, i / len(names), (i + 1) / len(names), f"{k} net")) for i, k in enumerate(names)]
    if s.view in SURFACE_VIEWS:
        view.surfaces = {k: plane(runs[k].model, x, y, grid=s.grid, span=s.span, samples=s.samples, seed=s.seed,
                                  normalization=s.normalization, include_bias_bn=s.bias_bn, progress=p,
                                  preview=None if preview is None else (lambda srf, k=k: preview(k, srf)))
                         for k, p in each}
    elif s.view == "Interpolation":
        if not {"plain", "residual"} <= set(runs):
            raise ConfigError("the interpolation needs a plain net and its residual twin (it runs one's weights in "
                              "the other)")
        plain, residual = runs["plain"], runs["residual"]
        out = {}
        for run in (plain, residual):
            notify(progress, len(out) / 4, f"interpolating: {run.label} init → trained")
            out[f"{run.label}: init → trained"] = interpolate(build_model(run.net), run.model, x, y, samples=s.samples,
                                                              label=f"{run.label}: init → trained")
        for host in (plain, residual):
            notify(progress, len(out) / 4, f"interpolating: plain → residual weights in the {host.label} net")
            out[f"in the {host.label} net"] = interpolate(plain.model, residual.model, x, y, samples=s.samples,
                                                          evaluate_in=host.model, label=f"run in the {host.label} net")
        view.interpolations = out
    elif s.view == "Trajectory":
        view.trajectories = {}
        for k, p in each:
            run = runs[k]
            if run.trajectory is None:
                raise ConfigError("this run kept no weight checkpoints, so its path cannot be drawn")
            tr = trajectory(run.model, run.trajectory, x, y, steps=run.history.checkpoint_steps,
                            grid=min(s.grid, MAX_TRAJECTORY_GRID), samples=s.samples, progress=p)
            tr.directions = []  # not needed for drawing; keeps results small
            view.trajectories[k] = tr
    else:
        share = 0.2 if s.curvature_map else 1.0
        view.curvature = {}
        for i, k in enumerate(names):
            notify(progress, share * i / len(names), f"Hessian-vector products: {k} net")
            view.curvature[k] = hessian_extremes(runs[k].model, x, y, samples=s.samples, params=s.hessian_params,
                                                 tol=s.tol, max_iterations=s.max_iterations)
        if s.curvature_map:
            view.maps = {k: curvature_map(runs[k].model, x, y, grid=s.map_grid, span=s.span, samples=s.samples,
                                          seed=s.seed, normalization=s.normalization, include_bias_bn=s.bias_bn,
                                          params=s.hessian_params, max_iterations=s.max_iterations,
                                          progress=part(progress, share + (1 - share) * i / len(names),
                                                        share + (1 - share) * (i + 1) / len(names),
                                                        f"curvature map: {k} net"))
                         for i, k in enumerate(names)}
    notify(progress, 1.0, "done")
    return view


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: LandscapeSettings, inputs) -> LandscapeView:
    """The registry's computation of the loss-landscape view: `landscape_study` of the trained pair (`inputs.runs`)."""
    return landscape_study(inputs.runs, settings, data=inputs.data, progress=inputs.progress, preview=inputs.preview)
