"""Planes and lines around θ* (Li et al. 2018): the loss surface f(α, β) = L(θ* + αδ + βη) (Fig. 1, 5) and the
map of the Hessian's |λmin/λmax| over the same plane (Fig. 7).

δ, η are filter-normalized Gaussian directions (`directions`); every point is evaluated in eval mode on one fixed
evaluation subset of the training data, on a symmetric grid that contains (0, 0) exactly (`grid`). The points
of a plane form a `GridJob`, which an executor runs in this process or splits over a Dask cluster's workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ...executor import current
from ...models import ConfigError
from ...progress import Progress
from ...util import flat_params, flatten
from .curvature import DEFAULT_MAX_ITERATIONS, DEFAULT_TOL, _check_lanczos, _HessianProbe, hessian_parameters
from .directions import random_directions
from .grid import DEFAULT_CHUNK, _check_classifier, _FlatModel, coarse_to_fine_order, evaluation_subset, grid_coords


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


# --- the curvature map (Li et al. 2018 §6, Fig. 7) --------------------------------------

MAP_TOL = 1e-2  # Li's eigsh tolerance for the Fig. 7 map
MAP_SAMPLES = 128


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
