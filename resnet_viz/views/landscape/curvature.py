"""Curvature at one point: the extreme eigenvalues of the Hessian of the loss (Li et al. 2018 §6, who map
|λmin/λmax| as a measure of non-convexity).

The Hessian is never formed: the Lanczos method with full re-orthogonalisation runs on Hessian-vector products
(double backward) of the loss on the fixed evaluation subset, w.r.t. the weight tensors only (Li's choice) or
every parameter. The map of |λmin/λmax| over a plane (Li's Fig. 7) is `surfaces.curvature_map`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...models import ConfigError
from ...util import flatten
from .grid import _check_classifier, _FlatModel, evaluation_subset

HESSIAN_PARAMS = ("weights", "all")  # weights: tensors with ≥ 2 axes, as Li's code; all: every parameter
DEFAULT_TOL = 1e-3  # relative Ritz residual at which an extreme eigenvalue counts as converged
DEFAULT_MAX_ITERATIONS = 100
MAX_ITERATIONS = 500


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
