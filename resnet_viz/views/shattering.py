"""Shattered gradients (Balduzzi et al. 2017, "The Shattered Gradients Problem").

The experiment of Balduzzi et al.: a net f: R -> R (200 units a layer, He
initialisation, BatchNorm, ReLU) evaluated on 256 evenly spaced inputs in
[-2, 2]; g_i = df/dx at each input. For a plain (feed-forward) net the gradients
turn into white noise with depth; for a residual net with BN they stay
correlated like brown noise.

The residual module
-------------------
Balduzzi's resnets are built from one-layer modules, x + W·relu(BN x)
(`NetConfig.block = "single"`, the default here): a Linear stem, `depth`
modules, a Linear read-out. Their plain twin is the same stack without
shortcuts. The lab's two-layer MLP block (`block = "basic"`, two Linear-BN
layers in the branch) is kept for comparison: with its inner BN it shatters
almost like a plain net past ~15 blocks (lag-1 ≈ 0.1 at 30 blocks, width 200).

What "depth" means here
-----------------------
`depth` is `NetConfig.depth`, the number of residual modules (blocks).
Balduzzi's theory counts
  * hidden ReLU layers L of a feed-forward net: correlation 2^-L (Thm. 1);
  * residual modules L of a resnet with BN: correlation ~ 1/√L (Thm. 3).
For one-layer modules both are the module count: the plain twin of a
d-module net has L = d hidden ReLU layers, the resnet L = d modules
(`layer_count` = d + 2 counts the stem and read-out too). For the two-layer
block, the plain twin has L = 2d + 1 hidden ReLU layers (2 per block, plus the
stem's or, pre-activation, the head's) and the resnet d blocks.
`hidden_relu_layers(d, block)` gives L; `theory_feedforward(d, block)` and
`theory_residual_bn(d)` return both curves as functions of d, so they share the
depth axis of the measured sweep. The theorems describe the correlation of
gradients at two inputs whose ReLU patterns are independent; neighbouring inputs
on the grid share most of their patterns, so the measured lag-1 autocorrelation
starts near 1 for shallow nets and sits above the curves: compare how fast each
falls, not the values.

Method (DESIGN.md, "Shattered gradients")
-----------------------------------------
With train-mode BN, the gradient of the summed output picks up cross-sample
terms through the batch statistics. So the statistics are computed once over
the inputs (BN momentum=None, one train-mode forward pass, variance made the
biased batch variance that train mode normalises with), then the net is put
in eval mode, where the inputs are independent and the gradient of the sum of
outputs is the vector of per-input gradients: one backward pass for all.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..captions import Caption, takeaway_of
from ..models import MAX_DEPTH, MAX_SHORTCUT_SCALE, MAX_WIDTH, ConfigError, NetConfig, build_model
from ..models import memory_limit_bytes as _memory_limit
from ..numbers import MISSING, count, num, times
from ..progress import Progress, Steps
from ..settings import check_all, setting
from ..util import eval_copy

DEFAULT_BLOCK = "single"  # Balduzzi's one-layer module x + W·relu(BN x)
BLOCK_KINDS = ("single", "basic")  # the module, and the lab's two-layer block for comparison
DEFAULT_DEPTH = 50  # modules: Balduzzi's resnets have 50 (Fig. 2)
DEFAULT_WIDTH = 200
DEFAULT_POINTS = 256
DEFAULT_RANGE = (-2.0, 2.0)
DEFAULT_SWEEP_DEPTHS = (1, 2, 3, 5, 8, 12, 20, 30, 50)
# Caption thresholds on the lag-1 autocorrelation r (means over seeds).
WHITE_NOISE_BELOW = 0.15  # |r| below this: neighbouring gradients unrelated, white noise
CORRELATED_FROM = 0.5  # r from this up: correlated like brown noise (a random walk gives ≈ 1)
CLEAR_DIFFERENCE = 0.15  # a gap in r this large is called a difference
MAX_POINTS = 8192
MAX_SEEDS = 64
# A gradient whose spread over the inputs is below this fraction of its size is
# constant up to float rounding (a linear function, e.g. the looks-linear init).
CONSTANT_TOL = 1e-4


# --- the nets --------------------------------------------------------------------


def shatter_config(depth: int = DEFAULT_DEPTH, width: int = DEFAULT_WIDTH, *, skip: bool = True,
                   shortcut_scale: float = 1.0, norm: str = "batch", order: str | None = None,
                   block: str = DEFAULT_BLOCK, seed: int = 0) -> NetConfig:
    """The NetConfig of Balduzzi et al. 2017's 1-D net: an MLP R -> R with `depth` modules of `width` units.

    block "single" (default): Balduzzi's one-layer residual module x + W·relu(BN x),
    which is pre-activation by definition (order None means "pre"); block "basic":
    the lab's two-layer block for comparison (order None means "post").
    """
    if order is None:
        order = "pre" if block == "single" else "post"
    cfg = NetConfig(arch="mlp", depth=depth, width=width, skip=skip, shortcut_scale=shortcut_scale,
                    norm=norm, order=order, block=block, input_shape=(1,), classes=1, seed=seed)
    cfg.validate()
    if cfg.input_shape != (1,) or cfg.classes != 1:
        raise ConfigError("the shattering nets map one number to one number")
    return cfg


def hidden_relu_layers(depth: int | np.ndarray, block: str = DEFAULT_BLOCK) -> np.ndarray:
    """L of Balduzzi et al. 2017 Thm. 1: hidden ReLU layers of the plain twin of a `depth`-module net.

    One-layer modules (block "single"): one ReLU each, L = depth. The lab's two-layer
    block ("basic"): two each plus the stem's (post order) or the head's (pre order),
    L = 2·depth + 1.
    """
    d = np.asarray(depth, dtype=np.float64)
    return d if block == "single" else 2 * d + 1


def depth_meaning(block: str = DEFAULT_BLOCK) -> str:
    """What one unit of depth is, in words, for the sweep's axis and JSON (Balduzzi et al. 2017's L, see module doc)."""
    if block == "single":
        return "one-layer residual modules x + W·relu(BN x) (Balduzzi et al. 2017); plain twin: d hidden ReLU layers"
    return "the lab's two-layer blocks (two Linear-BN layers in the branch); plain twin: 2d+1 hidden ReLU layers"


def input_grid(points: int = DEFAULT_POINTS, low: float = DEFAULT_RANGE[0],
               high: float = DEFAULT_RANGE[1]) -> torch.Tensor:
    """`points` evenly spaced inputs on [low, high], shape [points, 1] (Balduzzi: 256 on [-2, 2])."""
    check_grid(points, low, high)
    return torch.linspace(low, high, points).unsqueeze(1)


def check_grid(points: int, low: float, high: float) -> None:
    """Raise ValueError for a grid the statistics cannot use."""
    if not isinstance(points, int) or not 3 <= points <= MAX_POINTS:
        raise ValueError(f"points must be an integer from 3 to {MAX_POINTS}, got {points!r}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"the input range needs finite low < high, got [{low}, {high}]")


def estimate_bytes(config: NetConfig, points: int) -> int:
    """Rough memory of one forward+backward pass over `points` inputs (float32).

    About six tensors of [points, width] are kept per two-layer block (two Linear,
    two BN, ReLUs, the sum) and four per one-layer module (BN, ReLU, Linear, the
    sum), doubled for their gradients; CReLU doubles the widths.
    """
    per_block = (4 if config.block == "single" else 6) * 2
    return 4 * points * config.width * 2 * (per_block * config.depth + 8)


def check_memory(config: NetConfig, points: int, limit_bytes: int | None = None) -> None:
    """Raise ConfigError when one net over `points` inputs needs more than `limit_bytes`.

    The default limit is the lab's ($RESNET_VIZ_MEMORY_LIMIT_GB, else 2 GiB).
    """
    limit_bytes = _memory_limit() if limit_bytes is None else limit_bytes
    need = estimate_bytes(config, points)
    if need > limit_bytes:
        raise ConfigError(
            f"depth {config.depth} × width {config.width} over {points} points needs about "
            f"{need / 1024**3:.1f} GiB, over the limit of {limit_bytes / 1024**3:.1f} GiB: "
            "reduce depth, width or points")


def _init_biases(model: nn.Module, seed: int) -> None:
    # Without BN, a ReLU net with zero biases is positively homogeneous
    # (f(cx) = c f(x) for c > 0), so its gradient on R takes just two values.
    # Draw biases as PyTorch's nn.Linear does, U(-1/√fan_in, 1/√fan_in).
    gen = torch.Generator().manual_seed(10_000 + seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                bound = 1.0 / math.sqrt(m.in_features)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 2 * bound - bound)


class CReLU(nn.Module):
    """Concatenated ReLU, [relu(x), relu(-x)] along the features (Shang et al. 2016)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(x), torch.relu(-x)], dim=1)


def looks_linear(model: nn.Module) -> nn.Module:
    """A copy of a plain MLP with Balduzzi's "looks linear" initialisation.

    Every ReLU becomes a CReLU and the Linear layer after it gets mirrored
    weights [W, -W], so W·relu(h) - W·relu(-h) = W·h: at initialisation the net is
    linear and its gradient is the same at every input (no shattering), yet it
    is a ReLU net that training can make nonlinear. W is the He-initialised
    weight divided by √2, because a linear layer needs no ReLU gain to keep the
    variance. Only plain nets: a ReLU output that also feeds a shortcut cannot
    be mirrored.
    """
    if any(getattr(b, "skip", False) for b in getattr(model, "blocks", [])):
        raise ConfigError("the looks-linear initialisation is for plain nets (skip off); "
                          "residual nets do not shatter at initialisation anyway")
    model = copy.deepcopy(model)
    pending = False  # a CReLU was placed and the next Linear must take its 2x features

    def rewrite(parent: nn.Module) -> None:
        nonlocal pending
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                if pending:
                    raise ConfigError("looks-linear: two ReLUs with no Linear layer between them")
                setattr(parent, name, CReLU())
                pending = True
            elif isinstance(child, nn.Linear):
                if pending:
                    lin = nn.Linear(2 * child.in_features, child.out_features, bias=child.bias is not None)
                    with torch.no_grad():
                        w = child.weight / math.sqrt(2.0)
                        lin.weight.copy_(torch.cat([w, -w], dim=1))
                        if child.bias is not None:
                            lin.bias.copy_(child.bias)
                    setattr(parent, name, lin)
                    pending = False
            elif list(child.children()):
                rewrite(child)

    rewrite(model)
    if pending:
        raise ConfigError("looks-linear: the last ReLU is not followed by a Linear layer")
    return model


def make_net(config: NetConfig, looks_linear_init: bool = False) -> nn.Module:
    """The 1-D net of `config` at initialisation (He weights; random biases when norm is "none")."""
    model = build_model(config)
    if config.norm == "none":
        _init_biases(model, config.seed)
    if looks_linear_init:
        model = looks_linear(model)
    return model


@torch.no_grad()
def fix_batch_statistics(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every BN layer's statistics to those of the batch `x`, then switch to eval mode.

    One train-mode forward pass with momentum=None (a cumulative average, so after
    one pass the running statistics are the batch's); the running variance is
    then made the biased batch variance that train mode normalises with, so the
    eval-mode net computes exactly what the train-mode net computes on `x`.
    Modifies `model` (pass a copy you own) and returns it.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    n = x.shape[0]
    for bn in bns:
        bn.momentum = None
        bn.reset_running_stats()
    if bns:
        model.train()
        model(x)
        for bn in bns:
            bn.running_var.mul_((n - 1) / n)
    return model.eval()


def input_gradients(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(x), df/dx) for a scalar-output model in eval mode, all inputs in one backward pass.

    In eval mode the outputs are independent of each other, so the gradient of
    their sum with respect to x holds every input's own gradient. Returns
    tensors [points] (outputs) and [points, *input shape] (gradients).
    """
    if model.training:
        raise ValueError("input_gradients needs the model in eval mode (per-input gradients)")
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(x).reshape(x.shape[0], -1)
        if out.shape[1] != 1:
            raise ValueError("input_gradients needs a scalar output per input")
        (g,) = torch.autograd.grad(out.sum(), x)
    return out.detach().squeeze(1), g.detach()


def gradients(config: NetConfig, x: torch.Tensor, looks_linear_init: bool = False) -> torch.Tensor:
    """g_i = df/dx at each input of `x` ([points, 1]) for a fresh net of `config`."""
    model = fix_batch_statistics(make_net(config, looks_linear_init), x)
    return input_gradients(model, x)[1].squeeze(1)


# --- statistics ------------------------------------------------------------------


def _is_constant(g: np.ndarray) -> bool:
    scale = float(np.sqrt(np.mean(g * g)))
    return scale == 0.0 or float(np.std(g)) <= CONSTANT_TOL * scale


def autocorrelation(g: torch.Tensor | np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Sample autocorrelation function of a series g.

    r_k = Σ_i (g_i - ḡ)(g_{i+k} - ḡ) / Σ_i (g_i - ḡ)² for k = 0..max_lag (the
    standard, biased estimator: white noise gives r_k ≈ 0, brown noise decays
    slowly). A constant series (a linear function, e.g. looks-linear nets) is
    perfectly predictable: r_k = 1 for every k.
    """
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    n = len(g)
    if n < 3:
        raise ValueError("the autocorrelation needs at least 3 points")
    max_lag = n - 1 if max_lag is None else min(int(max_lag), n - 1)
    if _is_constant(g):
        return np.ones(max_lag + 1)
    d = g - g.mean()
    denom = float(d @ d)
    return np.array([float(d[: n - k] @ d[k:]) / denom for k in range(max_lag + 1)])


def lag1_autocorrelation(g: torch.Tensor | np.ndarray) -> float:
    """Correlation between neighbouring gradients, r_1 of `autocorrelation` (1: smooth, 0: white noise)."""
    return float(autocorrelation(g, max_lag=1)[1])


def correlation_matrix(gs: torch.Tensor | np.ndarray) -> np.ndarray:
    """Correlation matrix of the gradients over nets (Balduzzi et al.'s covariance matrices).

    gs: [nets, points], one row per random net. Each row is centred on its mean
    over the inputs; C_ij = Σ_s ĝ_si ĝ_sj / √(Σ_s ĝ_si² Σ_s ĝ_sj²). White noise
    gives the identity (plus sampling noise with few nets), brown noise broad
    positive bands along the diagonal. With one net the matrix is sign(ĝ_i ĝ_j).
    """
    g = np.asarray(gs, dtype=np.float64)
    if g.ndim == 1:
        g = g[None]
    g = g - g.mean(axis=1, keepdims=True)
    c = g.T @ g
    d = np.sqrt(np.clip(np.diag(c), 1e-300, None))
    out = c / np.outer(d, d)
    const = np.diag(c) <= (CONSTANT_TOL ** 2) * max(float(np.max(np.diag(c))), 1e-300)
    if const.all():  # every net linear: the gradient does not change at all
        return np.ones_like(out)
    return out


def acf_matrix(acf: np.ndarray, size: int | None = None) -> np.ndarray:
    """The autocorrelation function `acf` (r_0, r_1, ...) laid out as a Toeplitz matrix C_ij = r_|i-j|, `size`
    inputs a side (default: all its lags): the correlation of g_i and g_j as a function of their distance."""
    r = np.asarray(acf, dtype=np.float64).reshape(-1)
    n = len(r) if size is None else min(int(size), len(r))
    lag = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return r[lag]


def position_correlation_matrix(gs: torch.Tensor | np.ndarray, size: int | None = None) -> np.ndarray:
    """Correlation of g_i and g_j estimated over positions: the sample autocorrelation of each net's gradient
    (`autocorrelation`, which averages g_i·g_(i+k) over every position i), averaged over the nets and laid out
    as a Toeplitz matrix (`acf_matrix`). Unlike `correlation_matrix`, whose entries each rest on as many
    samples as there are nets (±1 noise with three), every lag rests on all the positions: white noise gives
    the identity up to about ±1/√(positions·nets), brown noise broad bands along the diagonal."""
    g = np.asarray(gs, dtype=np.float64)
    if g.ndim == 1:
        g = g[None]
    size = g.shape[1] if size is None else min(int(size), g.shape[1])
    acf = np.mean([autocorrelation(row, max_lag=size - 1) for row in g], axis=0)
    return acf_matrix(acf, size)


def theory_feedforward(depth: int | np.ndarray, block: str = DEFAULT_BLOCK) -> np.ndarray:
    """Balduzzi et al. 2017 Thm. 1 for the plain twin of a `depth`-module net: 2^-L.

    L = `hidden_relu_layers(depth, block)`: depth for one-layer modules, 2·depth + 1
    for the lab's two-layer blocks.
    """
    return 2.0 ** -hidden_relu_layers(depth, block)


def theory_residual_bn(depth: int | np.ndarray) -> np.ndarray:
    """Balduzzi et al. 2017 Thm. 3 for a BN resnet of `depth` residual modules (blocks): 1/√L with L = depth."""
    d = np.asarray(depth, dtype=np.float64)
    return 1.0 / np.sqrt(d)


# --- one setting ------------------------------------------------------------------


@dataclass
class ShatterResult:
    """Gradients of `seeds` random nets of one config on one input grid, and their statistics."""

    config: NetConfig  # the first seed's config
    looks_linear: bool
    x: np.ndarray  # [points]
    gradients: np.ndarray  # [seeds, points]
    lag1_per_seed: list[float]
    acf: np.ndarray  # mean autocorrelation function over seeds, lags 0..points-1
    correlation: np.ndarray  # [points, points] over the seeds

    @property
    def lag1(self) -> float:
        """Lag-1 autocorrelation, mean over seeds."""
        return float(np.mean(self.lag1_per_seed))

    @property
    def rms(self) -> float:
        """The gradients' size: root mean square of df/dx over the inputs and seeds."""
        return float(np.sqrt(np.mean(self.gradients ** 2)))

    @property
    def settings(self) -> dict:
        """The settings that produced this result (JSON-ready)."""
        return {"config": self.config.to_dict(), "seeds": len(self.lag1_per_seed),
                "points": int(len(self.x)), "low": float(self.x[0]), "high": float(self.x[-1]),
                "looks_linear": self.looks_linear, "depth_meaning": depth_meaning(self.config.block),
                "hidden_relu_layers_plain": int(hidden_relu_layers(self.config.depth, self.config.block))}

    def to_dict(self, matrix: bool = False) -> dict:
        """JSON summary: lag1 (mean), lag1_per_seed, gradients (first seed), x, acf, settings."""
        d = {"lag1": self.lag1, "lag1_per_seed": list(self.lag1_per_seed),
             "gradients": self.gradients[0].tolist(), "x": self.x.tolist(),
             "acf": self.acf.tolist(), "settings": self.settings,
             "theory": {"feedforward_2^-L": float(theory_feedforward(self.config.depth, self.config.block)),
                        "residual_bn_1/sqrt(L)": float(theory_residual_bn(self.config.depth))}}
        if matrix:
            d["correlation"] = self.correlation.tolist()
        return d


def _check_seeds(seeds: int) -> None:
    if not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds must be an integer from 1 to {MAX_SEEDS}, got {seeds!r}")


def shatter(config: NetConfig, *, points: int = DEFAULT_POINTS, low: float = DEFAULT_RANGE[0],
            high: float = DEFAULT_RANGE[1], seeds: int = 1, looks_linear_init: bool = False,
            memory_limit_bytes: int | None = None) -> ShatterResult:
    """Balduzzi's experiment for one config: gradients of nets seeded config.seed .. +seeds-1.

    Raises ConfigError / ValueError for a bad config, grid, seed count or a net
    too large for `memory_limit_bytes`.
    """
    config.validate()
    if config.input_shape != (1,) or config.classes != 1:
        raise ConfigError("shattering needs a net R -> R: use shatter_config(...)")
    _check_seeds(seeds)
    x = input_grid(points, low, high)
    check_memory(config, points, memory_limit_bytes)
    gs = np.stack([gradients(config.replace(seed=config.seed + s), x, looks_linear_init).numpy()
                   for s in range(seeds)]).astype(np.float64)
    lag1 = [lag1_autocorrelation(g) for g in gs]
    acf = np.mean([autocorrelation(g) for g in gs], axis=0)
    return ShatterResult(config, looks_linear_init, x.squeeze(1).numpy().astype(np.float64), gs, lag1, acf,
                         correlation_matrix(gs))


# --- depth sweep -----------------------------------------------------------------


@dataclass
class SweepResult:
    """Lag-1 autocorrelation against depth (blocks) for the plain and residual twins."""

    depths: list[int]
    lag1: dict[str, np.ndarray]  # "plain"/"residual" -> [depths, seeds]
    base: NetConfig
    looks_linear: bool = False
    points: int = DEFAULT_POINTS
    extra: dict = field(default_factory=dict)

    def mean(self, kind: str) -> np.ndarray:
        """Mean over seeds at each depth."""
        return self.lag1[kind].mean(axis=1)

    def std(self, kind: str) -> np.ndarray:
        """Standard deviation over seeds at each depth (0 with one seed)."""
        return self.lag1[kind].std(axis=1)

    @property
    def block(self) -> str:
        """The block kind swept: "single" (Balduzzi et al. 2017's module) or "basic" (the lab's two-layer block)."""
        return self.base.block

    def to_dict(self) -> dict:
        """JSON summary with the theory curves on the same depth axis (L as `hidden_relu_layers`)."""
        return {"depths": self.depths, "depth_meaning": depth_meaning(self.block), "block": self.block,
                "hidden_relu_layers_plain": hidden_relu_layers(self.depths, self.block).astype(int).tolist(),
                "lag1_mean": {k: self.mean(k).tolist() for k in self.lag1},
                "lag1_std": {k: self.std(k).tolist() for k in self.lag1},
                "lag1_per_seed": {k: v.tolist() for k, v in self.lag1.items()},
                "theory": {"feedforward_2^-L": theory_feedforward(self.depths, self.block).tolist(),
                           "residual_bn_1/sqrt(L)": theory_residual_bn(self.depths).tolist()},
                "base": self.base.to_dict(), "looks_linear_plain": self.looks_linear, "points": self.points}


def _set_skip(model: nn.Module, skip: bool) -> nn.Module:
    # The plain twin has the residual net's weights exactly (NetConfig.twin()): flipping the
    # shortcuts of the net we own is cheaper than drawing the weights again or copying them
    # (fix_batch_statistics resets the BN statistics for each twin).
    for block in model.blocks:
        block.skip = skip
    model.config = model.config.replace(skip=skip)
    return model


def depth_sweep(base: NetConfig, depths: Sequence[int] = DEFAULT_SWEEP_DEPTHS, *, seeds: int = 3,
                points: int = DEFAULT_POINTS, low: float = DEFAULT_RANGE[0], high: float = DEFAULT_RANGE[1],
                looks_linear_plain: bool = False, progress: Progress | None = None,
                memory_limit_bytes: int | None = None) -> SweepResult:
    """Lag-1 autocorrelation of plain and residual twins of `base` at each depth, over seeds.

    Balduzzi et al. Thm. 1 and 3: plain nets fall fast with depth, BN resnets slowly.
    Both twins share weights for each (depth, seed). `progress(fraction, text)`
    is called after every net. Everything is validated before any work starts.
    """
    if base.input_shape != (1,) or base.classes != 1:
        raise ConfigError("shattering needs a net R -> R: use shatter_config(...)")
    depths = [int(d) for d in depths]
    if not depths:
        raise ValueError("the sweep needs at least one depth")
    _check_seeds(seeds)
    x = input_grid(points, low, high)
    for d in depths:
        base.replace(depth=d)  # validates the range
    check_memory(base.replace(depth=max(depths)), points, memory_limit_bytes)
    out = {"plain": np.zeros((len(depths), seeds)), "residual": np.zeros((len(depths), seeds))}
    total = 2 * seeds * sum(depths)  # work is about proportional to depth
    done = 0
    for i, d in enumerate(depths):
        for s in range(seeds):
            own = make_net(base.replace(depth=d, skip=False, seed=base.seed + s))
            for kind in ("plain", "residual"):
                net = _set_skip(own, kind == "residual")
                if kind == "plain" and looks_linear_plain:
                    net = looks_linear(net)  # a copy
                g = input_gradients(fix_batch_statistics(net, x), x)[1].squeeze(1)
                out[kind][i, s] = lag1_autocorrelation(g)
                done += d
                if progress is not None:
                    progress(done / total, f"{kind} net, {units(d, base.block)}, seed {s + 1}/{seeds}")
    return SweepResult(depths, out, base, looks_linear_plain, points)


# --- captions computed from the measurements ------------------------------------------
# Every sentence below that states a trend is decided by the numbers passed in, so a run
# that shows the opposite gets a caption that says the opposite.


def units(depth: int, block: str = DEFAULT_BLOCK) -> str:
    """'50 modules' / '1 block': a depth with its unit.

    Modules are Balduzzi et al. 2017's one-layer modules; blocks the lab's two-layer blocks.
    """
    word = "module" if block == "single" else "block"
    return f"{depth} {word}{'' if depth == 1 else 's'}"


def noise_kind(lag1: float) -> str:
    """A lag-1 autocorrelation in Balduzzi et al. 2017's words.

    "white noise" when |r| < WHITE_NOISE_BELOW (neighbouring gradients unrelated),
    "correlated like brown noise" when r >= CORRELATED_FROM, else "partly correlated".
    """
    if abs(lag1) < WHITE_NOISE_BELOW:
        return "white noise"
    if lag1 >= CORRELATED_FROM:
        return "correlated like brown noise"
    return "partly correlated" if lag1 > 0 else "anti-correlated"


LAMBDA_NOTE = ("whether λ < 1 makes random nets shatter is this lab's own experiment; He et al. 2016b study "
               "the shortcut scale λ for signal propagation and optimisation, not shattering")


def _block_note(block: str) -> str:
    if block == "single":
        return ""
    return (" Block: the lab's two-layer block (Linear-BN-ReLU-Linear-BN in the branch), not Balduzzi's "
            "one-layer module x + W·ReLU(BN x) that Thm. 3 describes; pick the module to compare.")


def lag_text(v: float) -> str:
    """A correlation to two decimals, with a true minus sign ('—' when missing)."""
    return f"{v:.2f}".replace("-", "−") if math.isfinite(v) else MISSING


def _lag(result: ShatterResult, lag1: float) -> str:
    return "0 gradient everywhere" if result.rms == 0 else lag_text(lag1)


def setting_takeaway(plain: ShatterResult, residual: ShatterResult) -> str:
    """One sentence (at most 25 words): the twins' lag-1 at this depth and what the shortcuts did to it, by the
    rules of `setting_caption` (CLEAR_DIFFERENCE)."""
    cfg = residual.config
    p, r = plain.lag1, residual.lag1
    both = f"lag-1 {_lag(residual, r)} residual vs {_lag(plain, p)} plain"
    if r - p >= CLEAR_DIFFERENCE:
        return (f"At {units(cfg.depth, cfg.block)}, shortcuts keep neighbouring gradients correlated: {both} "
                f"({noise_kind(p) if plain.rms else 'dead'}).")
    if p - r >= CLEAR_DIFFERENCE:
        return f"At {units(cfg.depth, cfg.block)}, the plain net's gradients are the more correlated: {both}."
    return f"At {units(cfg.depth, cfg.block)}, the shortcuts make little difference to the gradients: {both}."


def setting_caption(plain: ShatterResult, residual: ShatterResult) -> str:
    """What the plain and residual results of one setting show (Balduzzi et al. 2017), from their lag-1 values.

    Names each net's gradients (`noise_kind`), says whether the shortcuts keep them
    more correlated, and comments on λ ≠ 1, the looks-linear plain net and the
    two-layer block only as far as the numbers support it.
    """
    cfg = residual.config
    p, r = plain.lag1, residual.lag1
    n = len(residual.lag1_per_seed)
    def kind(result: ShatterResult, lag1: float) -> str:
        if result.rms == 0:  # df/dx = 0 at every input: no gradient to shatter or keep
            return "0 at every input (every unit on the way is dead)"
        return f"{noise_kind(lag1)} (lag-1 {lag_text(lag1)})"

    text = (f"At {units(cfg.depth, cfg.block)}, width {cfg.width}{', BN' if cfg.norm == 'batch' else ', no BN'}, "
            f"mean over {count(n, 'net')}: the plain net's gradients are {kind(plain, p)}, the residual "
            f"net's {kind(residual, r)}. ")
    if r - p >= CLEAR_DIFFERENCE:
        text += "The shortcuts keep neighbouring gradients more correlated."
    elif p - r >= CLEAR_DIFFERENCE:
        text += "Here the plain net's gradients are the more correlated: the shortcuts do not help."
    else:
        text += "Here the shortcuts make little difference to how correlated they are."
    lam = cfg.shortcut_scale
    if lam < 1:
        text += (f" Size of the gradients (RMS of df/dx): residual {num(residual.rms)}, plain {num(plain.rms)}; the "
                 f"shortcut path alone scales them by λ^{cfg.depth} = {num(lam ** cfg.depth)}.")
        if abs(r) < WHITE_NOISE_BELOW:
            text += f" With λ = {lam:g} < 1 the residual net shatters again, like a plain net ({LAMBDA_NOTE})."
        else:
            text += f" With λ = {lam:g} < 1 the residual net has not shattered at this depth ({LAMBDA_NOTE})."
    elif lam > 1:
        grow = lam ** cfg.depth
        ratio = residual.rms / plain.rms if plain.rms > 0 else math.inf
        versus = (f"{times(ratio, 3)} the plain net's ({num(plain.rms)})" if plain.rms > 0 else
                  "while the plain net's are 0")
        text += (f" With λ = {lam:g} > 1 the shortcut path alone scales the signal and its gradient by "
                 f"λ^{cfg.depth} = {num(grow)} (He et al. 2016b §3): the residual net's gradients are "
                 f"{num(residual.rms)} in size (RMS of df/dx), {versus}{' — they explode' if ratio >= 100 else ''}; "
                 f"their shape is {noise_kind(r)}.")
    if plain.looks_linear:
        if p >= 1 - 1e-9:
            text += " The looks-linear plain net is linear at initialisation: its gradient is the same at every input."
        else:
            text += f" The looks-linear plain net's gradient varies along the inputs (lag-1 {lag_text(p)})."
    return Caption(setting_takeaway(plain, residual), text + _block_note(cfg.block))


def _white_from(depths: list[int], lag1: np.ndarray) -> int | None:
    # The first depth from which every deeper value is white noise, or None.
    found = None
    for d, v in zip(reversed(depths), reversed(list(lag1))):
        if abs(v) >= WHITE_NOISE_BELOW:
            break
        found = d
    return found


def sweep_caption(sweep: SweepResult) -> str:
    """What the lag-1-against-depth sweep shows (Balduzzi et al. 2017 Thm. 1 and 3), from its numbers.

    For each net: the depth from which its gradients are white noise, or how correlated
    they still are at the deepest depth; which net's lag-1 fell more over the sweep; and
    the theory curves' meaning (L as `hidden_relu_layers`).
    """
    block, depths = sweep.block, sweep.depths
    dmax = depths[-1]
    pm, rm = sweep.mean("plain"), sweep.mean("residual")
    n = sweep.lag1["plain"].shape[1]
    parts = [f"Mean ± std over {count(n, 'random net')} at each depth."]
    plain_name = "the looks-linear plain net" if sweep.looks_linear else "the plain net"
    for name, m in ((plain_name, pm), ("the residual net", rm)):
        w = _white_from(depths, m)
        sd = sweep.std("plain" if m is pm else "residual")[-1]
        if w is not None:
            parts.append(f"For {name}, neighbouring gradients are white noise from {units(w, block)} on "
                         f"(lag-1 {lag_text(m[-1])} ± {lag_text(sd)} at {units(dmax, block)}).")
        else:
            parts.append(f"For {name}, neighbouring gradients are still {noise_kind(m[-1])} at {units(dmax, block)} "
                         f"(lag-1 {lag_text(m[-1])} ± {lag_text(sd)}).")
    if len(depths) > 1:
        gap = float(np.mean(rm - pm))  # residual minus plain, averaged over the swept depths
        how = ("the residual net's gradients are more correlated than the plain net's" if gap >= CLEAR_DIFFERENCE
               else "the plain net's gradients are more correlated than the residual net's"
               if gap <= -CLEAR_DIFFERENCE else "both nets' gradients are about equally correlated")
        parts.append(f"From {units(depths[0], block)} to {dmax}, lag-1 went from {lag_text(pm[0])} to {lag_text(pm[-1])} for the "
                     f"plain net and from {lag_text(rm[0])} to {lag_text(rm[-1])} for the residual net: over the sweep, {how} "
                     f"(mean gap {gap:+.2f}).".replace("gap -", "gap −"))
    lam = sweep.base.shortcut_scale
    if lam < 1:
        w = _white_from(depths, rm)
        said = f"shatters again by {units(w, block)}" if w is not None else f"has not shattered by {dmax}"
        parts.append(f"With λ = {lam:g} < 1 the residual net {said} ({LAMBDA_NOTE}).")
    ell = "L = d" if block == "single" else "L = 2d + 1"
    parts.append(f"Dotted: Balduzzi's theory, 2^-L for the plain twin's L hidden ReLU layers ({ell}, Thm. 1) "
                 "and 1/√L for L residual modules with BN (Thm. 3). They describe inputs whose ReLU patterns are "
                 "independent; neighbouring inputs share most of theirs, so measured values start near 1: "
                 "compare how fast the curves fall.")
    return Caption(sweep_takeaway(sweep), " ".join(parts) + _block_note(block))


def sweep_takeaway(sweep: SweepResult) -> str:
    """One sentence (at most 25 words): how the twins' mean lag-1 changes from the shallowest to the deepest depth
    of the sweep."""
    block, depths = sweep.block, sweep.depths
    pm, rm = sweep.mean("plain"), sweep.mean("residual")
    plain = "looks-linear plain" if sweep.looks_linear else "plain"
    if len(depths) == 1:
        return f"At {units(depths[0], block)}, lag-1 is {lag_text(pm[0])} in the {plain} net and {lag_text(rm[0])} in the residual net."
    return (f"From {depths[0]} to {units(depths[-1], block)}, lag-1 goes from {lag_text(pm[0])} to {lag_text(pm[-1])} in the "
            f"{plain} net and from {lag_text(rm[0])} to {lag_text(rm[-1])} in the residual net.")


def scale_sweep_caption(depths: Sequence[int], curves: dict[str, dict], block: str = DEFAULT_BLOCK) -> str:
    """What random 1-D nets show for each shortcut scale λ, from their lag-1 and RMS(df/dx) by depth.

    `curves`: label -> {"lag1": [...], "rms": [...], "lam": λ or None for the plain net}, one
    value per depth. Says, at the deepest depth, how shattered each net is and how the
    gradient's size changed over the sweep; whether λ < 1 shatters like the plain net is
    decided by the numbers. The λ analysis of He et al. 2016b is about training; the
    shattering with λ < 1 is the lab's observation (LAMBDA_NOTE).
    """
    depths = [int(d) for d in depths]
    dmax = depths[-1]
    plain = next((c for c in curves.values() if c.get("lam") is None), None)
    bits = []
    for label, c in curves.items():
        r, rms = c["lag1"][-1], c["rms"]
        grow = rms[-1] / rms[0] if rms[0] > 0 else float("inf")
        size = "grew" if grow >= 1 else "shrank"
        bits.append(f"{label}: lag-1 {lag_text(r)} ({noise_kind(r)}), RMS of df/dx {size} {times(grow, 3)} from "
                    f"{units(depths[0], block)} to {dmax}")
    text = f"At {units(dmax, block)} — " + "; ".join(bits) + "."
    for label, c in curves.items():
        lam = c.get("lam")
        if lam is None or lam >= 1 or plain is None:
            continue
        r, p = c["lag1"][-1], plain["lag1"][-1]
        if abs(r) < WHITE_NOISE_BELOW and abs(r - p) < CLEAR_DIFFERENCE:
            text += f" With λ = {lam:g} the residual net shatters again, like the plain net"
        elif r - p >= CLEAR_DIFFERENCE:
            text += f" With λ = {lam:g} the residual net stays more correlated than the plain net"
        else:
            text += f" With λ = {lam:g} the residual net is about as shattered as the plain net"
        text += f" ({LAMBDA_NOTE})."
    return text


# --- a trained image net -------------------------------------------------------------


@dataclass
class LineResult:
    """Gradients of one logit along the straight line between two inputs of a trained net."""

    t: np.ndarray  # [points] in [0, 1]
    logit: np.ndarray  # [points] the chosen class's logit along the line
    gradients: np.ndarray  # [points] d logit / dt = ∇_x logit · (x_b - x_a)
    target: int
    lag1: float
    acf: np.ndarray


def line_gradients(model: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, *, points: int = DEFAULT_POINTS,
                   target: int | None = None) -> LineResult:
    """How shattered a trained net's gradients are along the line x(t) = (1-t)·x_a + t·x_b.

    The 1-D analogue of Balduzzi's experiment for an image net: for the class
    `target` (default: the class the net predicts at x_a), g(t) = d logit/dt,
    the input gradient projected on the line's direction, at `points` evenly
    spaced t in [0, 1]. Computed on a deep copy in eval mode (the trained BN
    statistics), all points in one backward pass; the model is not touched.
    """
    check_grid(points, 0.0, 1.0)
    if x_a.shape != x_b.shape:
        raise ValueError(f"the two inputs differ in shape: {tuple(x_a.shape)} vs {tuple(x_b.shape)}")
    net = eval_copy(model, device="cpu")
    x_a, x_b = x_a.detach().float().cpu(), x_b.detach().float().cpu()
    with torch.no_grad():
        logits_a = net(x_a.unsqueeze(0))[0]
    classes = logits_a.shape[0]
    if target is None:
        target = int(logits_a.argmax())
    if not 0 <= int(target) < classes:
        raise ValueError(f"target class must be in 0..{classes - 1}, got {target}")
    t = torch.linspace(0.0, 1.0, points)
    direction = (x_b - x_a).unsqueeze(0)
    tt = t.reshape(-1, *([1] * x_a.dim())).requires_grad_(True)
    with torch.enable_grad():
        xs = x_a.unsqueeze(0) + tt * direction
        logit = net(xs)[:, int(target)]
        (g,) = torch.autograd.grad(logit.sum(), tt)  # chain rule: ∇_x logit · (x_b - x_a)
    g = g.reshape(-1).numpy().astype(np.float64)
    return LineResult(t.numpy().astype(np.float64), logit.detach().numpy().astype(np.float64), g,
                      int(target), lag1_autocorrelation(g), autocorrelation(g))


# --- the view: one computation for the page, the CLI and the report --------------------------

# Residual modules the view offers: Balduzzi's one-layer module (default) and the lab's two-layer block in either order.
MODULES = ("single", "basic-post", "basic-pre")
MAX_SWEEP_DEPTHS = 16


def parse_depths(text: str, most: int | None = MAX_SWEEP_DEPTHS, empty: bool = False) -> tuple[int, ...]:
    """Comma-separated whole numbers ≥ 1 ("1, 2,5") as a sorted tuple without repeats.

    ValueError with a one-line message for anything else or more than `most` depths
    (None: any number); empty text is no depth with `empty` (the sweep's "no sweep"), else an error. The sweep's
    text box and its `--sweep` flag read them (its declaration's `parse`).
    """
    try:
        depths = sorted({int(t) for t in str(text).split(",") if t.strip()})
    except ValueError:
        raise ValueError(f"depths must be comma-separated whole numbers, got {str(text)[:40]!r}") from None
    if not depths and empty:
        return ()
    if not depths or depths[0] < 1:
        raise ValueError("depths must be whole numbers ≥ 1")
    if most is not None and len(depths) > most:
        raise ValueError(f"at most {most} depths in one sweep")
    return tuple(depths)


@dataclass(frozen=True)
class ShatteringSettings:
    """Everything the shattered-gradients view computes from (Balduzzi et al. 2017).

    depth, width: residual modules and units a layer of the compared nets; lam: the shortcut
    scale λ in y = λ·x + F(x); seeds: random nets averaged over; points: inputs on [−2, 2];
    bn: batch norm; module: one of MODULES; looks_linear: looks-linear initialisation of the
    plain net; sweep: the depths of the lag-1-against-depth sweep (empty: no sweep).
    """

    depth: int = setting(DEFAULT_DEPTH, "Depth (blocks)", min=1, max=MAX_DEPTH, step=1, widget="slider", key="sh_depth",
                         help="Number of residual blocks d. With one-layer modules the plain twin has d hidden ReLU "
                              "layers; with two-layer blocks, 2d+1.")
    width: int = setting(DEFAULT_WIDTH, "Width (units a layer)", min=1, max=MAX_WIDTH, picks=(25, 50, 100, 200, 400),
                         key="sh_width")
    lam: float = setting(1.0, "Shortcut scale λ", min=0.0, max=MAX_SHORTCUT_SCALE, step=0.05, widget="slider",
                         key="sh_lam",
                         flag="--shortcut-scale",
                         help="y = λ·x + F(x) in the residual net. Whether λ < 1 shatters again is the lab's own "
                              "experiment (He et al. 2016b study λ for training, not shattering).")
    seeds: int = setting(3, "Seeds (random nets)", min=1, max=MAX_SEEDS, step=1, widget="slider", key="sh_seeds")
    points: int = setting(DEFAULT_POINTS, "Inputs on [-2, 2]", min=3, max=MAX_POINTS, step=64, key="sh_points")
    bn: bool = setting(True, "Batch norm", key="sh_bn")
    module: str = setting(DEFAULT_BLOCK, "Residual module", options=MODULES, key="sh_block", flag="--block",
                          labels={"single": "One-layer module x + W·ReLU(BN x) (Balduzzi 2017)",
                                  "basic-post": "Two-layer block, original order (He 2016)",
                                  "basic-pre": "Two-layer block, pre-activation (He 2016b)"},
                          help="Balduzzi's one-layer module is what his Thm. 3 (1/√L) describes; the lab's two-layer "
                               "block (two Linear-BN layers in the branch) is here for comparison.")
    looks_linear: bool = setting(False, "Looks-linear init (plain net)", key="sh_looks_linear",
                                 help="CReLU with mirrored weights [W, −W]: the plain net is linear at initialisation.")
    sweep: tuple[int, ...] = setting(DEFAULT_SWEEP_DEPTHS, "Depths for the sweep (blocks)", key="sh_sweep", min=1,
                                     max=MAX_DEPTH, max_items=MAX_SWEEP_DEPTHS, unique=True,
                                     parse=lambda t: parse_depths(t, empty=True), show=lambda v: ",".join(map(str, v)),
                                     help="Comma-separated depths of the lag-1-against-depth sweep (empty: no sweep).")

    def validate(self) -> None:
        """ConfigError with a one-line message for settings that cannot be computed: a field outside its declared
        domain (`settings.check_all`), or nets too big for memory at these depths and points."""
        check_all(self)
        for depth in {self.depth, max(self.sweep, default=1)}:  # before any work: the deepest nets
            check_memory(self.base().replace(depth=depth), self.points)

    @property
    def block(self) -> str:
        """The NetConfig block kind of `module` ("single" or "basic")."""
        return self.module.partition("-")[0]

    def base(self) -> NetConfig:
        """The residual net's NetConfig (its plain twin is `.twin()`)."""
        block, _, order = self.module.partition("-")
        return shatter_config(self.depth, self.width, shortcut_scale=self.lam, norm="batch" if self.bn else "none",
                              block=block, order=order or None)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "sweep": list(self.sweep)}


@dataclass
class ShatteringView:
    """What the shattered-gradients view shows: the twins at one setting, and the depth sweep."""

    settings: ShatteringSettings
    plain: ShatterResult
    residual: ShatterResult
    sweep: SweepResult | None

    def setting_caption(self) -> str:
        """What this setting shows, from its numbers (`setting_caption`)."""
        return setting_caption(self.plain, self.residual)

    def sweep_caption(self) -> str:
        """What the sweep shows, from its numbers (`sweep_caption`); "" without a sweep."""
        return sweep_caption(self.sweep) if self.sweep is not None else ""

    def captions(self) -> dict[str, str]:
        """"setting": what the chosen setting shows; "sweep": what the depth sweep shows ("" without one); each a
        `captions.Caption` (a takeaway, then the details)."""
        return {"setting": self.setting_caption(), "sweep": self.sweep_caption()}

    def to_dict(self) -> dict:
        """JSON-ready results with their captions (whole) and their takeaways."""
        caps = self.captions()
        return {"settings": self.settings.to_dict(), "plain": self.plain.to_dict(), "residual": self.residual.to_dict(),
                "sweep": None if self.sweep is None else self.sweep.to_dict(), "captions": caps,
                "takeaways": {k: takeaway_of(c) for k, c in caps.items()}}


def shattering_study(settings: ShatteringSettings = ShatteringSettings(), *,
                     progress: Progress | None = None) -> ShatteringView:
    """Balduzzi et al. 2017's experiment as the view shows it: gradients df/dx of `settings.seeds`
    random plain nets and their residual twins (same weights), then lag-1 against depth.

    The plain twin gets the looks-linear initialisation when `settings.looks_linear`.
    `progress(fraction, message)` is called as the work goes on (resnet_viz.progress).
    """
    settings.validate()
    base = settings.base()
    cost_setting = 2 * settings.seeds * settings.depth
    steps = Steps(progress, cost_setting + 2 * settings.seeds * sum(settings.sweep))
    steps(cost_setting, f"gradients of {settings.seeds} random plain and residual nets, "
                        f"{units(settings.depth, settings.block)}")
    plain = shatter(base.replace(skip=False), points=settings.points, seeds=settings.seeds,
                    looks_linear_init=settings.looks_linear)
    residual = shatter(base.replace(skip=True), points=settings.points, seeds=settings.seeds)
    sweep = None
    if settings.sweep:
        sweep = depth_sweep(base, settings.sweep, seeds=settings.seeds, points=settings.points,
                            looks_linear_plain=settings.looks_linear,
                            progress=steps.part(2 * settings.seeds * sum(settings.sweep), "depth sweep"))
    steps.finish()
    return ShatteringView(settings, plain, residual, sweep)


def scale_sweep(depths: Sequence[int], scales: Sequence[float], *, width: int = DEFAULT_WIDTH, seeds: int = 2,
                points: int = DEFAULT_POINTS, progress: Progress | None = None) -> dict[str, dict]:
    """Lag-1 autocorrelation and RMS of df/dx of random 1-D nets by depth, for the plain net and each λ.

    The nets are Balduzzi et al. 2017's one-layer modules y = λ·x + W·ReLU(BN x) and their plain
    twin, `seeds` random nets per depth. Returns label -> {"lag1": [...], "rms": [...], "lam": λ
    or None for the plain net}, one value per depth, as `scale_sweep_caption` reads them.
    Whether λ < 1 shatters is the lab's own experiment (LAMBDA_NOTE).
    """
    kinds = [("plain", dict(skip=False), None)] + [(f"residual, λ = {lam:g}", dict(shortcut_scale=lam), lam)
                                                   for lam in scales]
    steps = Steps(progress, len(kinds) * sum(depths))
    curves = {}
    for label, kw, lam in kinds:
        lag1, rms = [], []
        for d in depths:
            steps(d, f"random 1-D nets: {label}, {units(d)}")
            r = shatter(shatter_config(d, width, **kw), points=points, seeds=seeds)
            lag1.append(r.lag1)
            rms.append(float(np.sqrt(np.mean(r.gradients ** 2))))
        curves[label] = {"lag1": lag1, "rms": rms, "lam": lam}
    steps.finish()
    return curves


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: ShatteringSettings, inputs) -> ShatteringView:
    """The registry's computation of the shattered-gradients view: `shattering_study` (random nets, no pair)."""
    return shattering_study(settings, progress=inputs.progress)
