"""Playground: a deep plain MLP and its residual twin learning a 2-D problem, after TensorFlow Playground.

TensorFlow Playground (Smilkov, Carter, Sculley, Viégas & Wattenberg 2017, "Direct-manipulation
visualization of deep networks") trains a small MLP on a 2-D set in the browser and shows, as it
trains, the class probability over the input plane and what every neuron draws over that plane. This
view does the same for a pair of twins (DESIGN.md, "Playground"): a plain net of `depth` hidden layers and
its residual twin, the same net with an identity shortcut around every layer, trained side by side from
the same initial weights on the same batches.

The nets
--------
`NetConfig(arch="mlp", block="single")`: a Linear stem, `depth` one-layer blocks, a Linear read-out.
A block's branch is F(x) = W·act(BN x) (Balduzzi et al. 2017's module; BN only with norm "batch"), so
the plain twin, y = W·act(x) at every block, is a Playground network with `depth` hidden layers of `width`
neurons (the last block's Linear layer and the read-out compose to Playground's one output layer), and the
residual twin computes y = x + W·act(x): one layer of Playground's plus a shortcut. The lab's two-layer
"basic" block would make each block two Playground layers; with the same budget (30 blocks of 8 tanh units,
300 Adam steps at 0.01 on batches of 64, spirals without noise, 3 seeds) its residual nets did not learn the
spiral (48–63 % test accuracy, against 98–100 % with one-layer blocks). The shortcut path from the stem to the read-out is a pure identity (He et al. 2016b, "Identity
Mappings in Deep Residual Networks", eqs. 4–5), which is what carries the gradient down.

The lesson (DESIGN.md)
----------------------
A deep plain stack without BN (or with sigmoid units) cannot learn the spiral that its twin learns in
seconds; two blocks both learn. The gradient reaching the first block says why: in the plain net it is
multiplied by every layer's Jacobian W·act′(h) on its way down (tanh′ ≤ 1, sigmoid′ ≤ 1/4: it vanishes,
Hochreiter 1991, Bengio et al. 1994, Glorot & Bengio 2010), while the shortcut adds an identity term to
each block's Jacobian, ∂x_L/∂x_l = 1 + ∂/∂x_l Σ F (He et al. 2016b, eq. 5).

Where this toy differs from TensorFlow Playground
-------------------------------------------------
* Adam (Kingma & Ba 2015) instead of Playground's plain SGD, so that a few hundred steps are enough
  (Playground runs thousands of epochs); the learning rate, batch size and L2 rate mean what they mean
  there (L2 on the weights, not the biases, as Playground's regularisation). Playground has no
  residual nets and no batch norm.
* Every input feature is standardised with the training points' mean and standard deviation before the
  first layer (Playground feeds x₁ on [-6, 6] and x₁² up to 36 as they are). An affine map of the
  inputs is undone by the first Linear layer, so the nets can represent the same functions; it only
  keeps the first layer's inputs at the unit scale its initialisation assumes.
* Glorot-initialised tanh and sigmoid (Playground: U(−0.5, 0.5)), He-initialised ReLU (models.py).
* Two softmax outputs and cross-entropy (Playground: one tanh output and squared error).
* Spirals, moons and circles are the lab's sets (data.py) scaled into Playground's plane; XOR and two
  Gaussians are Playground's own generators.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..captions import Caption, takeaway_of
from ..data import MAX_NOISE, PLANE, PLANE_SETS, make_plane_set, split_plane_set
from ..jobs import thread_policy
from ..models import ACTIVATIONS, ConfigError, NetConfig, build_model
from ..numbers import MISSING, count, num, pct, points, times
from ..progress import Progress, notify
from ..settings import MAX_SEED, check_all, setting
from ..util import json_safe

# --- the input features (Playground's) -------------------------------------------------------------

# name -> (label, function of the plane coordinates). Playground offers exactly these seven.
FEATURES: dict[str, tuple[str, Callable]] = {
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1sq": ("x₁²", lambda a, b: a * a),
    "x2sq": ("x₂²", lambda a, b: b * b),
    "x1x2": ("x₁x₂", lambda a, b: a * b),
    "sin_x1": ("sin(x₁)", lambda a, b: np.sin(a)),
    "sin_x2": ("sin(x₂)", lambda a, b: np.sin(b)),
}
FEATURE_NAMES = tuple(FEATURES)
# Playground's menus of learning rates and L2 rates (its 0.00001 and 0.0001 learn nothing in a few hundred steps).
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
L2_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
NORMS = ("none", "batch")
MAX_DEPTH = 50
MAX_WIDTH = 32
MAX_STEPS = 3000
MAX_FRAMES = 200
MAX_POINTS = 4000
GRID = 41  # points a side of the class-probability grid over the plane (odd: it contains (0, 0))
BLOCK_GRID = 21  # points a side of each block's thumbnail

# Verdicts: thresholds on the nets' own numbers.
CHANCE = 0.5  # two balanced classes
AT_CHANCE_BELOW = CHANCE + 0.1 * (1 - CHANCE)  # train accuracy below 55 %: learned nothing (train.training_failure's rule)
LEARNED_FROM = 0.85  # train accuracy from 85 %: the net learned the boundary
CLEAR_GAP = 0.10  # test accuracies 10 points apart: a clear difference between the twins
VANISHING_BELOW = 1e-2  # first block's gradient under 1 % of the last block's: it vanished on the way down
FACTOR = 10.0  # one twin's gradient ratio 10× the other's: a real difference
FLAT_BELOW = 1e-2  # a block whose output varies over the plane by less than 1 % of the stem's output: faded out
FAR_START = 10.0  # an initial training loss over 10 × ln 2 (the loss of guessing): the net started far off


def feature_map(xy, features=("x1", "x2")) -> np.ndarray:
    """Playground's input features of points `xy` ([n, 2] in the plane): one column per name in `features`
    (x1 = x₁, x2 = x₂, x1sq = x₁², x2sq = x₂², x1x2 = x₁·x₂, sin_x1 = sin x₁, sin_x2 = sin x₂), as
    TensorFlow Playground computes them from the raw coordinates (Smilkov et al. 2017). float32 [n, k]."""
    xy = np.asarray(xy, dtype=np.float64)
    a, b = xy[:, 0], xy[:, 1]
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ConfigError(f"unknown input feature {unknown[0]!r}; choose from: {', '.join(FEATURE_NAMES)}")
    return np.stack([FEATURES[f][1](a, b) for f in features], axis=1).astype(np.float32)


def plane_grid(n: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """(axis [n], points [n·n, 2]) of an n × n grid over Playground's plane [-6, 6]², row by row (x₂ rows,
    x₁ columns), so `values.reshape(n, n)` is a heatmap z with z[i, j] at (axis[j], axis[i])."""
    axis = np.linspace(-PLANE, PLANE, n)
    a, b = np.meshgrid(axis, axis)
    return axis, np.stack([a.ravel(), b.ravel()], axis=1)


# --- settings ----------------------------------------------------------------------------------------


DATASET_LABELS = {"spirals": "Spirals", "moons": "Moons", "circles": "Circles", "xor": "XOR (Playground)",
                  "gaussians": "Two Gaussians (Playground)"}


def _f(default, label: str, help: str, **meta):
    """A declared settings field (`settings.setting`): what its widget, link name and CLI flag need."""
    return setting(default, label, help=help, **meta)


@dataclass(frozen=True)
class PlaygroundSettings:
    """Everything the Playground view computes from: Playground's controls, on the twins.

    Defaults (chosen by measurement, `benchmarks/playground.py --lesson`): a 30-block, 8-unit-wide tanh pair
    without BN on 1,000 spiral points, 300 Adam steps at learning rate 0.01 on batches of 64, a frame
    every 5 steps. There the plain net stays at or near chance while its residual twin learns the spiral,
    over seeds and on one and two threads.
    """

    dataset: str = _f("spirals", "Dataset", "The 2-D problem: the lab's spirals, moons and circles, and "
                      "TensorFlow Playground's XOR and two Gaussians.", options=PLANE_SETS, key="pg_dataset", labels=DATASET_LABELS, widget="select")
    noise: int = _f(10, "Noise (%)", "Playground's noise slider: how far points stray from their class's "
                    "shape (XOR: labels read at a jittered point; Gaussians: wider clouds).", min=0, max=round(100 * MAX_NOISE), step=5, key="pg_noise", widget="slider")
    train_ratio: int = _f(50, "Training data (%)", "Share of the points used for training; the rest are test "
                          "points, never trained on.", min=10, max=90, step=10, key="pg_train_ratio", widget="slider")
    points: int = _f(1000, "Points", "Training and test points together.", min=100, max=MAX_POINTS, step=100, key="pg_points", widget="slider")
    depth: int = _f(30, "Depth (blocks)", "Hidden layers of the plain net; the residual twin has a shortcut "
                    "around each.", min=1, max=MAX_DEPTH, step=1, key="pg_depth", widget="slider")
    width: int = _f(8, "Width (neurons a layer)", "Units in every hidden layer (Playground allows 8).",
                    min=1, max=MAX_WIDTH, step=1, key="pg_width", widget="slider")
    activation: str = _f("tanh", "Activation", "The nonlinearity of every layer; ReLU nets are He-initialised, "
                         "tanh and sigmoid nets Glorot-initialised.", options=ACTIVATIONS, key="pg_activation", labels={"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"})
    norm: str = _f("none", "Batch norm", "'batch' puts a BatchNorm before every activation; Playground has none.",
                   options=NORMS, key="pg_norm", labels={"none": "off", "batch": "on"})
    lr: float = _f(0.01, "Learning rate", "Adam's step size (Playground uses plain SGD and many more steps).",
                   min=1e-5, max=10.0, picks=LEARNING_RATES, key="pg_lr", labels=lambda v: f"{v:g}")
    batch_size: int = _f(64, "Batch size", "Training points a step.", min=1, max=500, step=1, key="pg_batch_size")
    l2: float = _f(0.0, "L2 regularisation", "Playground's L2 rate: pulls every weight (not the biases) towards "
                   "0 with this factor.", min=0.0, max=10.0, picks=L2_RATES, key="pg_l2", labels=lambda v: f"{v:g}")
    features: tuple[str, ...] = _f(("x1", "x2"), "Input features", "What the first layer sees of each point "
                                   "(x₁, x₂ and Playground's x₁², x₂², x₁x₂, sin x₁, sin x₂).", options=FEATURE_NAMES, min_items=1, unique=True, key="pg_features", labels=lambda v: FEATURES[v][0])
    steps: int = _f(300, "Steps", "Optimisation steps of each net.", min=10, max=MAX_STEPS, step=10, key="pg_steps")
    frames: int = _f(60, "Frames", "Pictures of the boundary taken evenly through training (plus one at step 0).",
                     min=1, max=MAX_FRAMES, step=1, key="pg_frames")
    seed: int = _f(0, "Seed", "Initial weights (shared by the twins) and order of the batches.",
                   min=0, max=MAX_SEED, step=1, key="pg_seed")
    data_seed: int = _f(0, "Data seed", "Which points are drawn, and which of them are test points.",
                        min=0, max=MAX_SEED, step=1, key="pg_data_seed")

    def __post_init__(self) -> None:
        # Lists (JSON, widgets) become a tuple, so the settings stay hashable and comparable.
        object.__setattr__(self, "features", tuple(self.features))

    @property
    def train_points(self) -> int:
        """How many of the points are training points."""
        return min(max(int(round(self.train_ratio / 100 * self.points)), 1), self.points - 1)

    def validate(self) -> None:
        """Raise ConfigError with one clear line for settings that cannot be computed: a field outside its declared
        domain (`settings.check_all`), or fields that do not go together."""
        check_all(self)
        if self.frames > self.steps:
            raise ConfigError(f"frames ({self.frames}) cannot be more than steps ({self.steps})")
        if self.batch_size > self.train_points:
            raise ConfigError(f"batch size {self.batch_size} is more than the {self.train_points} training points")
        if self.norm == "batch" and self.batch_size < 2:
            raise ConfigError("batch norm needs batches of at least 2 points")

    def net_config(self) -> NetConfig:
        """The residual net's NetConfig (its plain twin is `.twin()`): one-layer blocks W·act(BN x), so the
        plain twin is a Playground network of `depth` hidden layers; pre-activation by definition."""
        return NetConfig(arch="mlp", depth=self.depth, width=self.width, skip=True, norm=self.norm, order="pre",
                         block="single", input_shape=(len(self.features),), classes=2, seed=self.seed,
                         activation=self.activation)

    def frame_steps(self) -> list[int]:
        """The steps at which a frame is taken: 0, then `frames` steps spread evenly up to `steps`
        (every steps/frames when it divides: 0, 5, ..., 300 for the defaults)."""
        return sorted({0} | {int(round(k * self.steps / self.frames)) for k in range(1, self.frames + 1)})

    def replace(self, **changes) -> "PlaygroundSettings":
        """A copy with some fields changed (validated)."""
        s = dataclasses.replace(self, **changes)
        s.validate()
        return s

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**dataclasses.asdict(self), "features": list(self.features)}

    @classmethod
    def from_dict(cls, d: dict) -> "PlaygroundSettings":
        """Settings from `to_dict` output; unknown keys are a ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown playground setting(s): {', '.join(sorted(unknown))}")
        s = cls(**d)
        s.validate()
        return s


# --- data ----------------------------------------------------------------------------------------------


@dataclass
class PlaneData:
    """One Playground problem: points in the plane (train and test), their features as the nets see them
    (standardised with the training points' statistics), and the same features on the plane's grids."""

    xy_train: np.ndarray  # [n, 2] plane coordinates
    y_train: np.ndarray
    xy_test: np.ndarray
    y_test: np.ndarray
    x_train: torch.Tensor  # [n, k] standardised features
    x_test: torch.Tensor
    grid_axis: np.ndarray  # [GRID]
    x_grid: torch.Tensor  # [GRID², k]
    block_axis: np.ndarray  # [BLOCK_GRID]
    x_block_grid: torch.Tensor  # [BLOCK_GRID², k]
    mean: np.ndarray
    std: np.ndarray


def playground_data(settings: PlaygroundSettings) -> PlaneData:
    """The settings' problem: `points` points of `dataset` with `noise` (data.make_plane_set, seeded by
    `data_seed`), split by `train_ratio` as Playground splits them, and Playground's input features of every
    point and of the plane's grids (`feature_map`), standardised with the training points' mean and std."""
    settings.validate()
    xy, y = make_plane_set(settings.dataset, settings.points, settings.noise / 100, seed=settings.data_seed)
    xy_tr, y_tr, xy_te, y_te = split_plane_set(xy, y, settings.train_points / settings.points,
                                               seed=settings.data_seed + 1)
    feats = settings.features
    f_tr = feature_map(xy_tr, feats)
    mean, std = f_tr.mean(axis=0), f_tr.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)  # a constant feature (sin of a coordinate that never varies) stays as it is

    def standard(xy_points):
        return torch.from_numpy(((feature_map(xy_points, feats) - mean) / std).astype(np.float32))

    axis, grid = plane_grid(GRID)
    baxis, bgrid = plane_grid(BLOCK_GRID)
    return PlaneData(xy_tr, y_tr, xy_te, y_te, standard(xy_tr), standard(xy_te), axis, standard(grid), baxis,
                     standard(bgrid), mean, std)


def batch_order(n_train: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """The training points of every step, [steps, batch_size]: epochs of seeded random permutations
    (torch.randperm with a generator seeded by `seed`) laid end to end and cut into batches, so every batch
    is full. Both twins train on exactly these batches."""
    gen = torch.Generator().manual_seed(seed)
    need = steps * batch_size
    perms = [torch.randperm(n_train, generator=gen) for _ in range(math.ceil(need / n_train))]
    return torch.cat(perms)[:need].view(steps, batch_size)


# --- the result ----------------------------------------------------------------------------------------


@dataclass
class NetTrace:
    """One net's run: a frame of the class-1 probability over the plane at each frame step, losses and
    accuracies on the whole training and test sets at the same steps (eval mode), the gradient norms of
    its first and last block at every step, and what each block draws at the end."""

    label: str  # "plain" | "residual"
    config: NetConfig
    probability: list[np.ndarray] = field(default_factory=list)  # per frame: uint8 [GRID, GRID], P(class 1) in %
    train_loss: list[float] = field(default_factory=list)  # per frame
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    grad_first: list[float] = field(default_factory=list)  # per step: ‖∂L/∂θ‖ of block 1 (the minibatch loss)
    grad_last: list[float] = field(default_factory=list)  # per step: ‖∂L/∂θ‖ of the last block
    diverged_at: int | None = None  # the step whose loss was NaN or infinite
    block_maps: np.ndarray | None = None  # int8 [depth, BLOCK_GRID, BLOCK_GRID]: PC1 of each block's output, ×100
    block_share: list[float] = field(default_factory=list)  # variance share of that PC1, per block
    block_spread: list[float] = field(default_factory=list)  # RMS variation of each block's output over the plane
    stem_spread: float = float("nan")  # the same for the stem's output (the first block's input)
    seconds: float = 0.0

    @property
    def final_train_accuracy(self) -> float:
        """Training accuracy at the last frame (NaN for a net that diverged)."""
        return float("nan") if self.diverged_at is not None or not self.train_accuracy else self.train_accuracy[-1]

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy at the last frame (NaN for a net that diverged)."""
        return float("nan") if self.diverged_at is not None or not self.test_accuracy else self.test_accuracy[-1]

    @property
    def final_train_loss(self) -> float:
        """Training loss (eval mode, whole training set) at the last frame (NaN for a net that diverged)."""
        return float("nan") if self.diverged_at is not None or not self.train_loss else self.train_loss[-1]

    @property
    def verdict(self) -> str:
        """"diverged", "at chance" (train accuracy below AT_CHANCE_BELOW), "learned" (from LEARNED_FROM)
        or "partly" (in between), from the final numbers."""
        if self.diverged_at is not None:
            return "diverged"
        acc = self.final_train_accuracy
        if not math.isfinite(acc) or acc < AT_CHANCE_BELOW:
            return "at chance"
        return "learned" if acc >= LEARNED_FROM else "partly"

    def gradient_ratio(self) -> float:
        """Median over the steps of ‖∂L/∂θ_block 1‖ / ‖∂L/∂θ_block n‖: how much of the gradient that reaches
        the last block is left when it reaches the first (NaN when the last block got none at any step)."""
        r = [f / g for f, g in zip(self.grad_first, self.grad_last) if g > 0 and math.isfinite(f / g)]
        return float(np.median(r)) if r else float("nan")

    def to_dict(self, frames: bool = True) -> dict:
        """JSON-ready numbers (`frames`: with the probability grids, as lists of whole percents)."""
        d = {"train_accuracy": self.final_train_accuracy, "test_accuracy": self.final_test_accuracy,
             "final_train_loss": self.final_train_loss,
             "final_test_loss": float("nan") if self.diverged_at is not None else self.test_loss[-1],
             "verdict": self.verdict, "diverged_at_step": self.diverged_at, "config": self.config.to_dict(),
             "train_loss": self.train_loss, "test_loss": self.test_loss,
             "train_accuracy_by_frame": self.train_accuracy, "test_accuracy_by_frame": self.test_accuracy,
             "grad_first_block": self.grad_first, "grad_last_block": self.grad_last,
             "gradient_ratio": self.gradient_ratio(), "block_share": self.block_share,
             "block_spread": self.block_spread, "stem_spread": self.stem_spread, "seconds": self.seconds}
        if frames:
            d["frames"] = [p.tolist() for p in self.probability]
            d["block_maps"] = None if self.block_maps is None else (self.block_maps / 100).tolist()
        return json_safe(d)


@dataclass
class PlaygroundResult:
    """What the Playground view shows, computed by `playground_study`: the data, the frame steps, and the
    plain and residual nets' traces. While training runs (`preview`), `complete` is False and the traces
    hold the frames so far."""

    settings: PlaygroundSettings
    data: PlaneData
    steps: list[int]  # the step of each frame recorded so far
    plain: NetTrace
    residual: NetTrace
    complete: bool = False
    seconds: float = 0.0  # training and recording both nets, wall time

    @property
    def nets(self) -> tuple[NetTrace, NetTrace]:
        """(plain, residual)."""
        return self.plain, self.residual

    @property
    def lesson_shown(self) -> bool:
        """The lesson, from this run: the residual net learned the boundary, the plain net did not, and their
        test accuracies are CLEAR_GAP or more apart."""
        p, r = self.plain, self.residual
        return (r.verdict == "learned" and p.verdict != "learned"
                and (p.verdict == "diverged" or r.final_test_accuracy - p.final_test_accuracy >= CLEAR_GAP))

    @property
    def both_learned(self) -> bool:
        """Both nets learned the boundary, with test accuracies less than CLEAR_GAP apart (no difference)."""
        p, r = self.plain, self.residual
        return (p.verdict == r.verdict == "learned"
                and abs(r.final_test_accuracy - p.final_test_accuracy) < CLEAR_GAP)

    def captions(self) -> dict[str, str]:
        """Captions from this run's numbers (`captions.Caption`: a takeaway, then the details): "lesson" (accuracies,
        whether the plain net learned the boundary, the gradient reaching the first block), "boundary", "blocks"
        and "gradient"."""
        return {"lesson": lesson_caption(self), "boundary": boundary_caption(self),
                "blocks": blocks_caption(self), "gradient": gradient_caption(self)}

    def to_dict(self, frames: bool = True) -> dict:
        """JSON-ready result: settings, the plane's grid, frame steps, each net's numbers (and frames:
        P(class 1) in % on the GRID × GRID grid, rows along x₂) and the captions."""
        caps = self.captions()
        return json_safe({
            "settings": self.settings.to_dict(), "complete": self.complete, "seconds": self.seconds,
            "plane": {"axis": self.data.grid_axis.tolist(), "block_axis": self.data.block_axis.tolist(),
                      "extent": [-PLANE, PLANE]},
            "steps": list(self.steps), "plain": self.plain.to_dict(frames), "residual": self.residual.to_dict(frames),
            "lesson_shown": self.lesson_shown, "both_learned": self.both_learned,
            "captions": caps, "takeaways": {k: takeaway_of(c) for k, c in caps.items()}})


# --- the study -----------------------------------------------------------------------------------------


def _grad_norm(params: list[nn.Parameter]) -> float:
    sq = [p.grad.detach().pow(2).sum() for p in params if p.grad is not None]
    return math.sqrt(float(torch.stack(sq).sum())) if sq else 0.0


def make_optimizer(model: nn.Module, lr: float, l2: float) -> torch.optim.Optimizer:
    """The optimiser of each twin: Adam (Kingma & Ba 2015; fused, one kernel a step on the CPU) with TensorFlow
    Playground's L2 regularisation, rate × w added to the gradient of every weight matrix, not of biases or BN."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    return torch.optim.Adam([{"params": decay, "weight_decay": l2}, {"params": rest, "weight_decay": 0.0}], lr=lr, fused=True)


@torch.no_grad()
def _record_frame(model: nn.Module, trace: NetTrace, data: PlaneData) -> None:
    """One frame: P(class 1) on the grid and the losses and accuracies on both sets, in eval mode."""
    model.eval()
    n_grid, n_tr = len(data.x_grid), len(data.x_train)
    with torch.inference_mode():
        out = model(torch.cat([data.x_grid, data.x_train, data.x_test]))
    model.train()
    if not torch.isfinite(out).all():  # diverged inside: keep the last picture, the numbers say NaN
        trace.probability.append(trace.probability[-1] if trace.probability else
                                 np.full((GRID, GRID), 50, np.uint8))
        for series in (trace.train_loss, trace.test_loss, trace.train_accuracy, trace.test_accuracy):
            series.append(float("nan"))
        return
    p = torch.softmax(out[:n_grid], dim=1)[:, 1].reshape(GRID, GRID).numpy()
    trace.probability.append(np.rint(100 * p).astype(np.uint8))
    for logits, y, loss_list, acc_list in (
            (out[n_grid:n_grid + n_tr], data.y_train, trace.train_loss, trace.train_accuracy),
            (out[n_grid + n_tr:], data.y_test, trace.test_loss, trace.test_accuracy)):
        yt = torch.from_numpy(y)
        loss_list.append(float(F.cross_entropy(logits, yt)))
        acc_list.append(float((logits.argmax(1) == yt).float().mean()))


@torch.no_grad()
def block_maps(model: nn.Module, x_grid: torch.Tensor, reference: np.ndarray | None = None):
    """What each block draws over the plane, as TensorFlow Playground draws each neuron (Smilkov et al. 2017):
    for every block, the first principal component of its output over the grid points.

    A block's output is `width` numbers at each point; PCA over the grid finds the direction in those units
    along which the output varies most across the plane (independent of how the units happen to be
    ordered), and its scores are one picture a block. Its sign is arbitrary, so it is chosen to agree with
    `reference` (the net's P(class 1) at the same points) when given; each picture is scaled to its own
    range [-1, 1]. Returns (maps [depth, n_grid] float, variance share of PC1 per block, RMS variation of
    each block's output over the plane per block, the same for the stem's output).
    """
    model.eval()
    with torch.inference_mode():
        h = model.stem(x_grid)
        outs = []
        for block in model.blocks:
            h = block(h)
            outs.append(h.double())
        stem = model.stem(x_grid).double()

    def spread(t: torch.Tensor) -> float:
        c = t - t.mean(dim=0)
        return float(c.pow(2).sum(dim=1).mean().sqrt())

    maps, shares, spreads = [], [], []
    for out in outs:
        c = out - out.mean(dim=0)
        s = spread(out)
        spreads.append(s)
        if not math.isfinite(s) or s == 0:
            maps.append(np.zeros(len(x_grid)))
            shares.append(float("nan"))
            continue
        _, sv, vt = torch.linalg.svd(c, full_matrices=False)
        pc = (c @ vt[0]).numpy()
        shares.append(float(sv[0] ** 2 / (sv ** 2).sum()))
        if reference is not None:
            with np.errstate(all="ignore"):  # a constant map or prediction has no correlation: left as it is
                r = np.corrcoef(pc, reference)[0, 1]
            if np.isfinite(r) and r < 0:
                pc = -pc
        top = np.abs(pc).max()
        maps.append(pc / top if top > 0 else pc)
    model.train()
    return np.stack(maps), shares, spreads, spread(stem)


def playground_study(settings: PlaygroundSettings = PlaygroundSettings(), *, progress: Progress | None = None,
                     preview: Callable[[PlaygroundResult], None] | None = None,
                     threads: int | None = None) -> PlaygroundResult:
    """Train a deep plain MLP and its residual twin side by side on a 2-D problem, TensorFlow-Playground
    style (Smilkov et al. 2017), and record what the view shows.

    Both nets are built from one NetConfig (`settings.net_config()` and its `.twin()`: the same initial
    weights) and take one Adam step each on the same batch (`batch_order`) at every step. Recorded: a frame
    at each of `settings.frame_steps()` (P(class 1) on the plane's grid, and loss and accuracy on the whole
    training and test sets, eval mode); at every step the gradient norm of the first and the last block's
    parameters for the minibatch loss (the vanishing-gradient argument: Bengio et al. 1994, Glorot & Bengio
    2010; the identity shortcut of He et al. 2016b, eq. 5, keeps it from vanishing); at the end, what each
    block draws (`block_maps`). A net whose loss becomes NaN or infinite stops there (`diverged_at`), the
    other goes on. Training runs under the lab's thread policy (`jobs.thread_policy`: `threads`, default
    $RESNET_VIZ_TORCH_THREADS or one), so the numbers are the same in the app, the CLI and the tests.

    `progress(fraction, message)` as training goes on; `preview(partial result)` after every frame, with
    the frames so far (`complete` False), so a page can draw the first frames before training ends.
    """

    settings.validate()
    notify(progress, 0.0, f"drawing {settings.points} {settings.dataset} points and building the twins")
    data = playground_data(settings)
    config = settings.net_config()
    result = PlaygroundResult(settings, data, [], NetTrace("plain", config.twin()), NetTrace("residual", config))
    with thread_policy(threads):
        _train_pair(settings, data, result, progress, preview)
    result.complete = True
    notify(progress, 1.0, "done")
    return result


def _train_pair(settings, data, result, progress, preview) -> None:
    """Train the twins of `result` step by step on the same minibatches (`_Twins`), a frame at each of
    `settings.frame_steps()` and what each block draws at the end; `progress` about a hundred times."""
    start = time.perf_counter()
    twins = _Twins(settings, data, result, preview)
    twins.frame(0)
    report_every = max(settings.steps // 100, 1)
    for step in range(1, settings.steps + 1):
        losses = twins.step(step)
        if step in twins.frame_at:
            twins.frame(step)
        # Let the other threads of the process run: these tiny ops hold the GIL most of the time, and in the app
        # the web server and the other sessions share it.
        time.sleep(0)
        if progress is not None and (step % report_every == 0 or step == settings.steps):
            notify(progress, step / settings.steps,
                   f"training both nets: step {step}/{settings.steps}, minibatch loss plain {losses[0]:.3g}, "
                   f"residual {losses[1]:.3g}")
    twins.draw_blocks()
    result.seconds = time.perf_counter() - start


class _Twins:
    """The plain net and its residual twin training side by side (Smilkov et al. 2017's Playground, on the twins):
    their models (the same initial weights), Adam optimisers, the minibatch order both follow, the parameters of
    each net's first and last block, whether each is still training (not diverged), and the time spent on each."""

    def __init__(self, settings, data, result, preview) -> None:
        self.settings, self.data, self.result, self.preview = settings, data, result, preview
        self.traces = result.nets
        self.models = [build_model(t.config) for t in self.traces]
        self.opts = [make_optimizer(m, settings.lr, settings.l2) for m in self.models]
        self.order = batch_order(len(data.x_train), settings.steps, settings.batch_size, settings.seed)
        self.y_train = torch.from_numpy(data.y_train)
        self.frame_at = set(settings.frame_steps())
        self.ends = [(list(m.blocks[0].parameters()), list(m.blocks[-1].parameters())) for m in self.models]
        self.alive = [True, True]
        self.spent = [0.0, 0.0]
        for m in self.models:
            m.train()

    def frame(self, step: int) -> None:
        """A frame at `step`: each net's P(class 1) over the plane and its loss and accuracy on both splits
        (`_record_frame`); a stopped net keeps its last picture and gets NaN numbers. Then `preview`."""
        self.result.steps.append(step)
        for i, (m, t) in enumerate(zip(self.models, self.traces)):
            t0 = time.perf_counter()
            if self.alive[i]:
                _record_frame(m, t, self.data)
            else:  # stopped: its last picture stays, its numbers are NaN from here on
                t.probability.append(t.probability[-1])
                for series in (t.train_loss, t.test_loss, t.train_accuracy, t.test_accuracy):
                    series.append(float("nan"))
            self.spent[i] += time.perf_counter() - t0
        if self.preview is not None:
            self.preview(self.result)

    def step(self, step: int) -> list[float]:
        """One Adam step of each net still training on the same minibatch; records the gradient norms of its first
        and last block before the update (vanishing gradients: Bengio et al. 1994, Glorot & Bengio 2010; He et
        al. 2016b eq. 5). A NaN or infinite loss stops that net (`diverged_at`). Returns the minibatch losses."""
        idx = self.order[step - 1]
        xb, yb = self.data.x_train[idx], self.y_train[idx]
        losses = []
        for i, (m, opt, t) in enumerate(zip(self.models, self.opts, self.traces)):
            if not self.alive[i]:
                losses.append(float("nan"))
                continue
            t0 = time.perf_counter()
            loss = F.cross_entropy(m(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            value = loss.item()
            losses.append(value)
            if not math.isfinite(value):
                self.alive[i], t.diverged_at = False, step
                t.grad_first.append(float("nan"))
                t.grad_last.append(float("nan"))
            else:
                t.grad_first.append(_grad_norm(self.ends[i][0]))
                t.grad_last.append(_grad_norm(self.ends[i][1]))
                opt.step()
            self.spent[i] += time.perf_counter() - t0
        return losses

    def draw_blocks(self) -> None:
        """What each block of each net draws over the plane (`block_maps`: its output's first principal component,
        signed to agree with the net's P(class 1)), as int8 percentages; then each net's time."""
        data = self.data
        for i, (m, t) in enumerate(zip(self.models, self.traces)):
            t0 = time.perf_counter()
            # The reference for the maps' signs: the net's P(class 1) on the thumbnails' grid.
            with torch.inference_mode():
                m.eval()
                out = m(data.x_block_grid)
            ref = torch.softmax(out, 1)[:, 1].numpy() if torch.isfinite(out).all() else None
            maps, shares, spreads, stem = block_maps(m, data.x_block_grid, ref)
            maps = np.nan_to_num(maps, nan=0.0)
            t.block_maps = np.rint(100 * maps).astype(np.int8).reshape(len(maps), BLOCK_GRID, BLOCK_GRID)
            t.block_share, t.block_spread, t.stem_spread = shares, spreads, stem
            self.spent[i] += time.perf_counter() - t0
            t.seconds = self.spent[i]


# --- captions ------------------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return pct(v, 0)


def _num(v: float) -> str:
    return num(v, 2)


def _test(t: NetTrace) -> str:
    """A net's final test accuracy, or that it diverged (no accuracy)."""
    return f"diverged at step {t.diverged_at}" if t.verdict == "diverged" else f"{_pct(t.final_test_accuracy)} test"


_DID = {"learned": "learned the boundary", "partly": "learned part of the boundary",
        "at chance": "stayed at chance", "diverged": "diverged"}


def _net_words(t: NetTrace, steps: int) -> str:
    if t.verdict == "diverged":
        return (f"the {t.label} net diverged at step {t.diverged_at} (its loss became NaN or infinite) and failed "
                "to train")
    acc = (f"{_pct(t.final_train_accuracy)} training and {_pct(t.final_test_accuracy)} test accuracy")
    return {"learned": f"the {t.label} net reached {acc} and learned the boundary",
            "partly": f"the {t.label} net reached {acc}: it learned part of the boundary (the whole of it "
                      f"counts from {_pct(LEARNED_FROM)} training accuracy)",
            "at chance": f"the {t.label} net stayed at {acc}: it did not learn the boundary at all (chance is "
                         f"{_pct(CHANCE)}; below {_pct(AT_CHANCE_BELOW)} counts as chance)"}[t.verdict]


def _setting_words(s: PlaygroundSettings) -> str:
    feats = ", ".join(FEATURES[f][0] for f in s.features)
    return (f"{count(s.depth, 'block')} of {s.width} {s.activation} units"
            f"{' with batch norm' if s.norm == 'batch' else ', no batch norm'}, {s.steps} Adam steps on {s.dataset} "
            f"({s.noise} % noise, {s.train_points} training and {s.points - s.train_points} test points; inputs {feats})")


def lesson_caption(result: PlaygroundResult) -> str:
    """The view's verdict from the run: each net's final training and test accuracy, whether the plain net
    learned the boundary at all (LEARNED_FROM, AT_CHANCE_BELOW), whether the twins differ (CLEAR_GAP), and how
    the gradient reaching the first block compares between them (`gradient_caption`)."""
    s, p, r = result.settings, result.plain, result.residual
    head = f"{_setting_words(s)}, the same initial weights and batches for both: {_net_words(r, s.steps)}; " \
           f"{_net_words(p, s.steps)}."
    gap = r.final_test_accuracy - p.final_test_accuracy
    if result.lesson_shown:
        verdict = (f" Only the shortcut differs, and it makes the difference: {points(abs(gap), 0)[1:]} of test "
                   f"accuracy (a clear difference from {points(CLEAR_GAP, 0)[1:]})." if math.isfinite(gap) else
                   " Only the shortcut differs, and it makes the difference.")
    elif result.both_learned:
        verdict = (f" Both learned it, their test accuracies {points(abs(gap), 0)[1:]} apart (less than "
                   f"{points(CLEAR_GAP, 0)[1:]}: no clear difference): at this depth the shortcut is not needed.")
    elif p.verdict == "learned" and r.verdict != "learned":
        verdict = " Here the plain net did better than its residual twin: the lesson does not show at these settings."
    elif r.verdict != "learned" and p.verdict != "learned":
        verdict = (" Neither net learned the boundary in this budget: more steps, another learning rate or less "
                   "noise may show the difference.")
    else:
        verdict = (f" Both learned the boundary, the residual net's test accuracy {points(gap, 0)} from the "
                   "plain net's.")
    if s.noise >= 30:
        verdict += f" With {s.noise} % noise no boundary separates every point: compare the nets, not the numbers with 100 %."
    for t in (r, p):
        start = t.train_loss[0] if t.train_loss else float("nan")
        if t.verdict != "learned" and math.isfinite(start) and start > FAR_START * math.log(2):
            verdict += (f" The {t.label} net started with a training loss of {_num(start)} (guessing costs ln 2 = 0.69)")
            if t.label == "residual" and s.activation == "relu" and s.norm == "none":
                verdict += (f": without batch norm every He-initialised ReLU block adds a branch about as large as its "
                            f"input to the shortcut path, doubling the signal's variance block after block (2^{s.depth} "
                            "over the net); He et al. train with BN, Fixup (Zhang et al. 2019) scales the branches down "
                            "instead.")
            else:
                verdict += "."
    return Caption(lesson_takeaway(result), head + verdict + " " + gradient_sentence(result))


def lesson_takeaway(result: PlaygroundResult) -> str:
    """The lesson in one sentence (at most 25 words): which net learned the boundary, with both test accuracies,
    by the same rules as `lesson_caption`."""
    s, p, r = result.settings, result.plain, result.residual
    nets = f"{s.depth}-block {s.activation}"
    if result.lesson_shown:
        return (f"Only the residual {nets} net learns the {s.dataset} ({_test(r)}); its plain twin "
                f"{_DID[p.verdict]} ({_test(p)}).")
    if result.both_learned:
        return (f"Both {nets} nets learn the {s.dataset} ({_test(r)} residual, {_test(p)} plain): at this depth "
                "the shortcut is not needed.")
    if p.verdict == "learned" and r.verdict != "learned":
        return (f"Here the plain {nets} net learns the {s.dataset} and its residual twin "
                f"{_DID[r.verdict]} ({_test(p)} vs {_test(r)}).")
    if r.verdict != "learned" and p.verdict != "learned":
        return (f"Neither {nets} net learned the {s.dataset} in {s.steps} steps (residual {_test(r)}, "
                f"plain {_test(p)}).")
    return (f"Both {nets} nets learned the {s.dataset}, the residual net's test accuracy "
            f"{points(r.final_test_accuracy - p.final_test_accuracy, 0)} from the plain net's ({_test(r)} vs {_test(p)}).")


def gradient_sentence(result: PlaygroundResult) -> str:
    """One sentence on the gradient reaching the first block, plain against residual (the medians of
    `NetTrace.gradient_ratio` and the first step's norms, where both nets have the same weights and batch)."""
    p, r = result.plain, result.residual
    rp, rr = p.gradient_ratio(), r.gradient_ratio()
    depth = result.settings.depth
    if depth == 1:
        return "With one block, the first block is the last: no gradient has far to go."
    first = ""
    if p.grad_first and r.grad_first and all(math.isfinite(v) for v in (p.grad_first[0], r.grad_first[0])):
        first = (f" At step 1, with the same weights and the same batch, block 1 got a gradient of norm "
                 f"{_num(p.grad_first[0])} in the plain net and {_num(r.grad_first[0])} in the residual net.")
    if not math.isfinite(rp):
        return ("The plain net's last block got no gradient at all (every unit dead or the net diverged), so nothing "
                f"reached its first block either; the residual net's first block got {_num(rr)} of its last block's "
                f"(median over the steps).{first}")
    words = (f"The gradient reaching the first block, as a share of the last block's (median over the "
             f"{len(p.grad_first)} steps): plain {_num(rp)}, residual {_num(rr)}.")
    why = {"tanh": "tanh′ ≤ 1", "sigmoid": "sigmoid′ ≤ 1/4", "relu": "a dead ReLU passes 0"}[result.settings.activation]
    if not math.isfinite(rr):
        words += " The residual net's last block got no gradient at all (it diverged or every unit is dead)."
    elif rp == 0 and rr == 0:
        words += " Neither net's first block got any of it (exactly 0): every unit on the way down is dead."
    elif rp == 0:
        words += (f" None of it reached the plain net's first block (exactly 0 through {depth} layers: {why}); the "
                  "shortcuts pass it down unchanged (He et al. 2016b, eq. 5).")
    elif rr == 0:
        words += " None of it reached the residual net's first block (exactly 0)."
    elif rp < VANISHING_BELOW and rr >= FACTOR * rp:
        words += (f" In the plain net it vanishes on the way down through {depth} layers (under "
                  f"{_pct(VANISHING_BELOW)} of the last block's, {times(rr / rp)} less than in the residual net): every "
                  f"layer multiplies it by W·{result.settings.activation}′, and {why}; the shortcuts pass it down "
                  "unchanged (He et al. 2016b, eq. 5).")
    elif rr >= FACTOR * rp:
        words += f" The plain net's first block gets {times(rr / rp)} less of it than the residual net's."
    elif rp >= FACTOR * rr:
        words += f" Here the plain net's first block gets {times(rp / rr)} more of it than the residual net's."
    else:
        words += f" No vanishing here: the shares are within a factor {FACTOR:g} of each other."
    return words + first


def gradient_caption(result: PlaygroundResult) -> str:
    """The caption of the gradient figure: `gradient_takeaway`, then what is drawn and `gradient_sentence`."""
    return Caption(gradient_takeaway(result),
                   "‖∂L/∂θ‖ of the first and the last block's parameters at every step, for the minibatch loss "
                   "(log scale; a step where a net got no gradient at all is left out). " + gradient_sentence(result))


def gradient_takeaway(result: PlaygroundResult) -> str:
    """One sentence (at most 25 words): the share of the last block's gradient that reaches block 1, plain
    against residual (medians of `NetTrace.gradient_ratio`)."""
    p, r = result.plain, result.residual
    rp, rr = p.gradient_ratio(), r.gradient_ratio()
    if result.settings.depth == 1:
        return "With one block, the first block is the last: no gradient has far to go."
    if not math.isfinite(rp):
        return (f"The plain net's last block got no gradient, so neither did its first; the residual net's first "
                f"block got {_num(rr)} of its last block's.")
    if not math.isfinite(rr):
        return (f"The residual net's last block got no gradient; the plain net's first block got {_num(rp)} of its "
                "last block's.")
    return (f"Block 1 gets {_num(rp)} of the last block's gradient in the plain net and {_num(rr)} in the residual "
            f"net (median over {count(len(p.grad_first), 'step')}).")


def boundary_caption(result: PlaygroundResult) -> str:
    """The caption of the animated boundary figure: what is drawn, and each net's numbers at the last frame."""
    s = result.settings
    every = s.steps / s.frames
    p, r = result.plain, result.residual
    takeaway = (f"After {s.steps} steps the residual net {_DID[r.verdict]} ({_test(r)}), the plain net "
                f"{_DID[p.verdict]} ({_test(p)}).")
    return Caption(takeaway, f"Class-1 probability over the input plane (blue: class 1, orange: class 0), a frame every "
            f"{every:g} steps from step 0 to {s.steps} ({len(result.steps)} frames); dots: training points, "
            "ringed in black: test points. ▶ plays the training from step 0, the slider picks a step. Under each "
            "net: its loss on the whole training and test sets (eval mode) and the current step. At the last "
            f"step: plain {_pct(result.plain.final_train_accuracy)} / {_pct(result.plain.final_test_accuracy)}, "
            f"residual {_pct(result.residual.final_train_accuracy)} / {_pct(result.residual.final_test_accuracy)} "
            "training / test accuracy" + (f" ({MISSING}: a net that diverged has none)" if any(
                t.verdict == "diverged" for t in result.nets) else "") + ".")


def blocks_caption(result: PlaygroundResult) -> str:
    """The caption of the block thumbnails: which quantity is drawn and why, and how much each net's block
    outputs still vary over the plane (relative to the stem's output), from the run."""
    s = result.settings
    parts, last = [], {}
    for t in result.nets:
        if not t.block_spread:
            continue
        rel = [v / t.stem_spread if t.stem_spread > 0 else float("nan") for v in t.block_spread]
        last[t.label] = rel[-1]
        flat = [i + 1 for i, v in enumerate(rel) if math.isfinite(v) and v < FLAT_BELOW]
        share = np.nanmedian(t.block_share) if any(math.isfinite(v) for v in t.block_share) else float("nan")
        text = (f"{t.label}: from {_num(rel[0])} at block 1 to {_num(rel[-1])} at block {len(rel)}, PC1 explaining "
                f"{_pct(share)} of the variation (median over blocks)")
        if flat:
            text += (f"; {len(flat)} block{'s' if len(flat) > 1 else ''} (from block {flat[0]}) vary by less than "
                     f"{_pct(FLAT_BELOW)} of the stem's output: their pictures have faded to white")
        parts.append(text)
    return Caption(blocks_takeaway(s.depth, last), f"What each block draws over the input plane, as TensorFlow Playground shows each neuron: the first "
            f"principal component of the block's {s.width} outputs over a {BLOCK_GRID}×{BLOCK_GRID} grid of the "
            "plane (the direction in which the block's output varies most across the plane, whatever the order of "
            "its units; one picture a block), its sign chosen to agree with the net's prediction, on one colour "
            "scale, each picture faded by how much the block's output varies over the plane relative to the stem's "
            "(capped at 1); plain blocks above, residual blocks below, block 1 on the left. How much the output "
            "still varies over the plane, relative to the stem's: " + "; ".join(parts) + ".")


def blocks_takeaway(depth: int, last: dict[str, float]) -> str:
    """One sentence (at most 25 words): how much the last block's output still varies over the plane, relative to
    the stem's, in each net (`last`: label -> that ratio), and which net's pictures fade out (FLAT_BELOW)."""
    p, r = last.get("plain", math.nan), last.get("residual", math.nan)
    if not (math.isfinite(p) or math.isfinite(r)):
        return "Each picture is what one block's output draws over the input plane: plain blocks above, residual below."
    flat = {k for k, v in last.items() if math.isfinite(v) and v < FLAT_BELOW}
    tail = (": plain pictures fade out" if flat == {"plain"} else ": residual pictures fade out"
            if flat == {"residual"} else ": both nets' pictures fade out" if flat else "")
    return (f"Block {depth}'s output varies over the plane by {_num(p)} of the stem's in the plain net, "
            f"{_num(r)} in the residual{tail}.")


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: PlaygroundSettings, inputs) -> PlaygroundResult:
    """The registry's computation of the Playground view: `playground_study` (its own 2-D nets, no pair)."""
    return playground_study(settings, progress=inputs.progress, preview=inputs.preview)
