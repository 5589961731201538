"""Brief training of a net, its history, and saved runs.

`train(net_config, train_config)` trains one net on an in-memory dataset (CUDA
when present, else the CPU), records what the views need (train loss per step,
train loss measured in eval mode over the whole train set and test accuracy per
epoch, per-block gradient norms over the first steps, weight checkpoints for the
optimisation path), and stops cleanly when the loss diverges. `save_run` and
`load_run` keep runs in a folder: JSON for configs and history, safetensors for
weights (no pickle is ever loaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .config import active
from .data import DATASETS, Dataset, load_dataset
from .jobs import thread_policy
from .models import ConfigError, NetConfig, build_model, check_memory, memory_limit_bytes
from .numbers import num
from .progress import Progress
from .settings import MAX_SEED, check_all, setting
from .util import flat_params, json_safe, model_device, pick_device  # pick_device: also train.pick_device

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
RUN_FORMAT = 1
MAX_EPOCHS = 500
MAX_BATCH = 8192


@dataclass(frozen=True)
class TrainConfig:
    """How a net is trained: data, optimiser and budget.

    The defaults train the default residual CNN (ResNet-32 at width 16: 15 blocks) to >= 95%
    test accuracy on digits in about 15 s on 2 CPU cores.
    """

    dataset: str = setting("digits", "Dataset", options=DATASETS, widget="select", key="data",
                           help="digits, spirals, moons and circles are embedded. mnist, fashion-mnist and cifar10 are "
                                "read from a local folder (never downloaded); see the README for what goes where.")
    epochs: int = setting(8, "Epochs", min=1, max=MAX_EPOCHS, step=1, key="epochs")
    lr: float = setting(0.05, "Learning rate", min=1e-6, max=10.0, key="lr", help="the peak learning rate")
    batch_size: int = setting(64, "Batch size", min=1, max=MAX_BATCH, step=1, key="bs")
    optimizer: str = setting("sgd", "Optimiser", options=OPTIMIZERS, key="opt")
    momentum: float = setting(0.9, "Momentum", min=0.0, max=0.99, widget="none", help="SGD's (Nesterov) momentum")
    weight_decay: float = setting(5e-4, "Weight decay", min=0.0, max=1.0, widget="none")
    schedule: str = setting("cosine", "Schedule", options=SCHEDULES, widget="none",
                            help="the learning rate after the warm-up: cosine decay or constant")
    # Linear learning-rate warm-up before the schedule (He et al. 2016 §4.2 warm up their deepest nets): one
    # epoch by default, which the deep plain nets of the default pair need to train; as long as the run (a
    # one-epoch run), it ramps the rate over the whole run.
    warmup_epochs: float = setting(1.0, "Warm-up epochs", min=0.0, max=MAX_EPOCHS, step=0.5, key="warmup", flag="--warmup",
                                   help="linear learning-rate warm-up before the cosine decay; deep plain nets need it "
                                        "to start training (He et al. 2016 §4.2)")
    seed: int = setting(0, "Seed", min=0, max=MAX_SEED, step=1, key="seed", cli=False,
                        help="initial weights and data order (the twins share it)")
    data_root: str | None = setting(None, "Data folder", widget="none",
                                    help="folder holding local datasets (default $RESNET_VIZ_DATA or "
                                         "~/.cache/resnet_viz/data); the app uses the server's, never a link's")
    data_limit: int | None = setting(None, "Training images kept", min=10, max=10_000_000, widget="none",
                                     help="keep only this many training images of a local dataset")
    grad_norm_steps: int = setting(30, "Steps with per-block gradient norms", min=0, max=100_000, widget="none")
    checkpoints_per_epoch: int = setting(2, "Weight snapshots an epoch", min=0, max=100, widget="none",
                                         help="for the optimisation-path view (Li et al. 2018 §7)")

    def to_dict(self) -> dict:
        """Plain-JSON dictionary of the fields."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text; `TrainConfig.from_dict(json.loads(...))` reads it back."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Config from a dictionary; unknown keys are a ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown training field(s): {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated)."""
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError with a clear message when the config is impossible: a field outside its declared
        domain (`settings.check_all`), or a warm-up longer than the run."""
        check_all(self)
        if self.warmup_epochs > self.epochs:
            raise ConfigError(f"warm-up must be from 0 to the {self.epochs} epochs of the run, got {self.warmup_epochs!r}")


@dataclass
class History:
    """Everything recorded while training (all plain Python, JSON-serialisable).

    Epoch lists start with the value at initialisation (epoch 0).
    """

    step_loss: list[float] = field(default_factory=list)
    epoch_train_loss: list[float] = field(default_factory=list)  # eval mode, whole train set
    epoch_train_accuracy: list[float] = field(default_factory=list)
    epoch_test_loss: list[float] = field(default_factory=list)
    epoch_test_accuracy: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)  # [step][block] ‖∂L/∂θ_block‖
    checkpoint_steps: list[int] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    diverged: bool = False
    diverged_at_step: int | None = None

    @property
    def train_loss(self) -> float:
        """Final training loss (eval mode, whole train set); NaN when training diverged."""
        if self.diverged or not self.epoch_train_loss:
            return float("nan")
        return self.epoch_train_loss[-1]

    @property
    def test_accuracy(self) -> float:
        """Final test accuracy; NaN when training diverged."""
        if self.diverged or not self.epoch_test_accuracy:
            return float("nan")
        return self.epoch_test_accuracy[-1]

    def to_dict(self) -> dict:
        """Plain-JSON dictionary (non-finite numbers become None)."""
        return json_safe(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """History from `to_dict` output (None read back as NaN)."""
        def unclean(v):
            if v is None:
                return float("nan")
            if isinstance(v, list):
                return [unclean(u) for u in v]
            return v
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (v if k in ("diverged_at_step", "device", "diverged") else unclean(v))
              for k, v in d.items() if k in names}
        return cls(**kw)


@dataclass
class Run:
    """A trained net: its configs, the model (on the CPU, eval mode) and its history.

    `trajectory` holds flattened parameter vectors (one row per checkpoint, the
    last row the final weights) for the optimisation-path view of Li et al. 2018 §7.
    Treat a Run from a cache as read-only.
    """

    net: NetConfig
    train: TrainConfig
    model: nn.Module
    history: History
    trajectory: torch.Tensor | None = None

    @property
    def label(self) -> str:
        """'plain' or 'residual'."""
        return "residual" if self.net.skip else "plain"

    @property
    def failure(self) -> str | None:
        """Why this run failed to train (see `training_failure`), or None when it trained."""
        return training_failure(self.history, self.net.classes, self.net, self.train)

    def summary(self) -> dict:
        """The CLI's JSON summary of the run."""
        h = self.history
        return {
            "train_loss": json_safe(h.train_loss),
            "test_accuracy": json_safe(h.test_accuracy),
            "failed_to_train": self.failure is not None,
            "failure": self.failure,
            "diverged": h.diverged,
            "diverged_at_step": h.diverged_at_step,
            "seconds": h.seconds,
            "device": h.device,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "layers": self.net.layer_count,
            "config": self.net.to_dict(),
            "train_config": self.train.to_dict(),
        }


def chance_accuracy(classes: int) -> float:
    """Accuracy of guessing: 1 / classes (the digits' classes are balanced)."""
    return 1.0 / max(classes, 1)


NO_STEP = "made no training step"  # how `training_failure` begins for a run that never updated its weights


def refuse_diverged(runs: dict, what: str) -> None:
    """ConfigError (one line) naming the first of `runs` ({label: Run}) whose training diverged or whose weights are
    not finite: `what` (a loss landscape, block outputs) cannot be measured on it."""
    for label, run in runs.items():
        if run.history.diverged or not all(bool(torch.isfinite(p).all()) for p in run.model.parameters()):
            raise ConfigError(f"the {label} net diverged in training (its weights give no finite output), so it has "
                              f"no {what}: train the pair with a lower learning rate or a warm-up")


def training_failure(history: History, classes: int, net: NetConfig | None = None,
                     cfg: TrainConfig | None = None) -> str | None:
    """Why a run failed to train, from its own numbers; None when it trained.

    A run failed when (checked in this order)
      * it made no optimisation step (`NO_STEP`: none recorded, its training loss unchanged), with the cause when
        `net` and `cfg` are given: BatchNorm skips every batch of one example, so batch size 1, or a training
        split of one example, trains nothing;
      * its loss became NaN or infinite (`history.diverged`);
      * its final training loss (eval mode, whole train set) is not below
        min(its value at initialisation, ln classes): it ends no better than its
        start, or than predicting the uniform distribution (ln C is the cross-entropy
        of guessing), however large but finite the loss got (a shortcut scale
        λ > 1 can reach 1e15, He et al. 2016b §3.1);
      * its final test accuracy is at chance: below chance + 10 % of the way
        from chance to 100 % (19 % for ten classes).
    He et al. 2016 (Fig. 1) call a deep plain net "degraded" only when it trains:
    a run that fails this way shows divergence, not degradation.
    """
    losses = history.epoch_train_loss
    if not history.step_loss and len(losses) > 1 and all(v == losses[0] for v in losses) and not history.diverged:
        if net is not None and cfg is not None and net.norm == "batch":
            why = ("the batch size is 1" if cfg.batch_size == 1 else "the training split holds one example")
            return (f"{NO_STEP}: {why}, and BatchNorm cannot train on a batch of one example; use a batch size of "
                    "at least 2 (or no normalisation)")
        return f"{NO_STEP}: no batch of the training split could be trained on"
    if history.diverged:
        at = f" at step {history.diverged_at_step}" if history.diverged_at_step else ""
        return f"diverged{at}: the loss became NaN or infinite"
    losses = history.epoch_train_loss
    if not losses:
        return None
    final = losses[-1]
    if classes > 1:
        guess = math.log(classes)
        start = losses[0] if math.isfinite(losses[0]) else math.inf
        bar = min(start, guess)
        if not final < bar:
            ref = "its value at initialisation" if start <= guess else f"ln {classes} = {guess:.2f}, the loss of guessing"

            return f"final training loss {num(final)} is not below {ref} ({num(bar)})"
        chance = chance_accuracy(classes)
        acc = history.test_accuracy
        if math.isfinite(acc) and acc < chance + 0.1 * (1 - chance):
            return f"test accuracy {acc:.1%} is at chance ({chance:.0%})"
    return None


def failure_advice(failure: str | None) -> str:
    """What to change for a run that failed to train (`training_failure`): none beyond the failure's own for a run
    that made no step (its cause says it), else the remedies of a run that diverged or did not learn."""
    if not failure or failure.startswith(NO_STEP):
        return ""
    return "lower the learning rate, add warm-up or set the shortcut scale λ to 1"


def net_config_for(dataset: Dataset | str, **fields) -> NetConfig:
    """A NetConfig whose input shape and class count match `dataset`.

    MLPs take the input flattened; CNNs need image data.
    """
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if "arch" not in fields and not ds.is_image:
        fields["arch"] = "mlp"
    cfg = NetConfig(input_shape=ds.input_shape, classes=ds.classes, **fields)
    cfg.validate()
    return cfg


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on (x, y), in eval mode.

    The model's train/eval mode is restored afterwards. Runs on the model's device.
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    loss_sum, correct = 0.0, 0
    try:
        with torch.inference_mode():  # no autograd graph: evaluation costs a forward pass only
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
                out = model(xb)
                loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
                correct += (out.argmax(1) == yb).sum().item()
    finally:
        model.train(was_training)
    n = max(len(x), 1)
    return loss_sum / n, correct / n


def lr_factor(cfg: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier at each step: linear warm-up, then cosine or constant.

    Warm-up ramps the rate linearly over `cfg.warmup_epochs` worth of steps, as deep
    plain and residual nets need a small rate first to start converging (He et al.
    2016 §4.2 trains ResNet-110 at 0.01 until training error falls below 80 %; the
    linear ramp is Goyal et al. 2017's). The cosine (Loshchilov & Hutter 2017)
    then decays over the remaining steps.
    """
    warm = round(cfg.warmup_epochs * total_steps / cfg.epochs)

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm  # reaches the full rate at the warm-up's last step
        if cfg.schedule == "constant":
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * (s - warm) / max(total_steps - warm, 1)))

    return factor


def default_time_limit() -> float | None:
    """The longest a training run may take, in seconds: the active configuration's
    (`config.LabConfig.train_minutes`: $RESNET_VIZ_MAX_TRAIN_MINUTES, a server's default 10 minutes); None (no
    limit) when it has none, as on the command line."""

    minutes = active().train_minutes
    return minutes * 60 if minutes is not None and math.isfinite(minutes) and minutes > 0 else None


def check_time(step_seconds: float, steps: int, limit_s: float) -> None:
    """ConfigError when `steps` optimisation steps of `step_seconds` each (plus a tenth for the
    per-epoch evaluation) would take longer than `limit_s`; the message gives the estimate."""
    need = 1.1 * step_seconds * steps
    if need > limit_s:
        raise ConfigError(f"this run would take about {need / 60:.0f} min ({step_seconds:.2g} s a step × {steps:,} "
                          f"steps), over this server's limit of {limit_s / 60:.0f} min "
                          "(RESNET_VIZ_MAX_TRAIN_MINUTES): reduce depth, width or epochs")


MAX_CHECKPOINTS = 64  # weight snapshots a run keeps at most (the optimisation-path view needs a few dozen)


def checkpoint_interval(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Optimisation steps between two weight snapshots (0: none kept): `checkpoints_per_epoch`
    a epoch, spaced out so that a run keeps at most MAX_CHECKPOINTS (Li et al. 2018 §7 needs a few dozen)."""
    if not cfg.checkpoints_per_epoch:
        return 0
    every = max(steps_per_epoch // cfg.checkpoints_per_epoch, 1)
    return max(every, math.ceil(steps_per_epoch * cfg.epochs / MAX_CHECKPOINTS))


def checkpoint_count(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """How many weight snapshots `train` keeps: the initial weights, one every `checkpoint_interval`
    steps, and the final weights."""
    every = checkpoint_interval(cfg, steps_per_epoch)
    return 2 + (steps_per_epoch * cfg.epochs // every if every else 0)


def check_run_memory(net: NetConfig, cfg: TrainConfig, snapshots: int, limit_bytes: int | None = None) -> int:
    """Bytes a training run needs: `models.estimate_size` (weights, gradients, momentum,
    activations) plus the weight snapshots it keeps for the trajectory view (4 bytes × parameters
    each). ConfigError with the estimate when that exceeds `limit_bytes` (default: the lab's limit)."""
    limit_bytes = memory_limit_bytes() if limit_bytes is None else limit_bytes
    est = check_memory(net, cfg.batch_size, limit_bytes)
    snap = 4 * est.parameters * snapshots
    if est.bytes_total + snap > limit_bytes:
        raise ConfigError(
            f"this run needs about {(est.bytes_total + snap) / 1024**3:.1f} GiB ({est.gib:.1f} GiB to train, "
            f"{snap / 1024**3:.1f} GiB for {snapshots} weight snapshots), over the limit of "
            f"{limit_bytes / 1024**3:.1f} GiB: reduce depth, width or epochs")
    return est.bytes_total + snap


def train(net: NetConfig, cfg: TrainConfig = TrainConfig(), *, data: Dataset | None = None,
          progress: Progress | None = None, device: torch.device | str | None = None,
          memory_limit_bytes: int | None = None, time_limit_s: float | None = None,
          threads: int | None = None) -> Run:
    """Train one net briefly and return the Run (model moved back to the CPU, eval mode).

    SGD with momentum (or Adam), weight decay, cosine or constant learning rate.
    Deterministic on the CPU for a given pair of configs and thread count: training runs with the
    lab's thread policy (`jobs.thread_policy`: `threads`, default $RESNET_VIZ_TORCH_THREADS or one
    PyTorch thread), so the app, the CLI, the reports and the tests get the same numbers. A NaN or infinite loss
    stops training and is reported in `history.diverged`, not raised. Raises
    ConfigError for impossible configs (checked before any work) and DatasetError
    for a dataset that cannot be loaded; ConfigError after the first steps when their time ×
    the steps to go exceeds `time_limit_s` (default `default_time_limit()`: the server's
    $RESNET_VIZ_MAX_TRAIN_MINUTES, none when unset). `progress(fraction, message)` (resnet_viz.progress)
    is called after every optimisation step with the epoch, step and minibatch loss.
    """

    with thread_policy(threads):
        return _train(net, cfg, data=data, progress=progress, device=device,
                      memory_limit_bytes=memory_limit_bytes, time_limit_s=time_limit_s)


def _train(net: NetConfig, cfg: TrainConfig, *, data, progress, device, memory_limit_bytes, time_limit_s) -> Run:
    """`train` under the lab's thread policy: the configs, the data and the memory checked before any work, then
    the epochs, each followed by the loss and accuracy on both splits, until the last or a NaN or infinite loss."""
    net.validate()
    cfg.validate()
    data = data or load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
    if tuple(net.input_shape) != data.input_shape or net.classes != data.classes:
        raise ConfigError(
            f"the net expects inputs {net.input_shape} and {net.classes} classes, "
            f"but {data.name} has {data.input_shape} and {data.classes}"
        )
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    check_run_memory(net, cfg, snapshots=checkpoint_count(cfg, steps_per_epoch), limit_bytes=memory_limit_bytes)
    run = _Training(net, cfg, data, pick_device(device), progress,
                    time_limit_s if time_limit_s is not None else default_time_limit())
    h = run.history
    start = time.perf_counter()
    run.record_epoch()
    for epoch in range(1, cfg.epochs + 1):
        run.epoch(epoch)
        if h.diverged:
            break
        run.record_epoch()
        if not math.isfinite(h.epoch_train_loss[-1]):
            h.diverged, h.diverged_at_step = True, run.step
            break
    h.seconds = time.perf_counter() - start
    return run.finish()


def _optimizer(model: nn.Module, cfg: TrainConfig, total_steps: int):
    """(optimiser, schedule): SGD with Nesterov momentum, or Adam, with weight decay, and the learning rate scaled
    step by step by `lr_factor` (linear warm-up, then cosine or constant)."""
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg, total_steps))


class _Training:
    """One training run between its steps: the model, its optimiser and schedule, the data on the device, the
    `History` recorded so far, and the weight snapshots kept for the optimisation-path view (Li et al. 2018 §7)
    in one tensor allocated once (a list stacked at the end would briefly hold every snapshot twice: peak RSS
    twice the snapshots' size, benchmarks/run_memory.py)."""

    def __init__(self, net: NetConfig, cfg: TrainConfig, data: Dataset, device: torch.device,
                 progress: Progress | None, limit: float | None) -> None:
        self.net, self.cfg, self.data, self.device, self.progress, self.limit = net, cfg, data, device, progress, limit
        steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
        self.total = steps_per_epoch * cfg.epochs
        self.snap_every = checkpoint_interval(cfg, steps_per_epoch)
        self.model = build_model(net, device)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.opt, self.sched = _optimizer(self.model, cfg, self.total)
        self.x_train, self.y_train = data.x_train.to(device), data.y_train.to(device)
        self.block_params = [list(b.parameters()) for b in self.model.blocks]
        self.history = History(device=str(device))
        self.started, self.step_times = time.perf_counter(), []
        first = flat_params(self.model, device="cpu")
        self.snapshots = torch.empty((checkpoint_count(cfg, steps_per_epoch), first.numel()), dtype=first.dtype)
        self.snapshots[0], self.kept = first, 1
        self.history.checkpoint_steps.append(0)
        self.step = 0

    def record_epoch(self) -> None:
        """Loss and accuracy of the model on the whole training and test splits (eval mode)."""
        h, data = self.history, self.data
        tl, ta = evaluate(self.model, data.x_train, data.y_train)
        vl, va = evaluate(self.model, data.x_test, data.y_test)
        h.epoch_train_loss.append(tl)
        h.epoch_train_accuracy.append(ta)
        h.epoch_test_loss.append(vl)
        h.epoch_test_accuracy.append(va)

    def epoch(self, epoch: int) -> None:
        """One pass over the training split in minibatches of a fresh random order (from the config's seed), in
        train mode; a batch of one is skipped under BatchNorm, which cannot train on it. Stops at a NaN or
        infinite loss (`history.diverged`); `progress` after every step."""
        cfg, n = self.cfg, len(self.data.x_train)
        self.model.train()
        order = torch.randperm(n, generator=self.gen).to(self.device)
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2 and self.net.norm == "batch":
                continue  # BatchNorm cannot train on a batch of one
            self._check_time()
            value = self._step(idx)
            if self.history.diverged:
                break
            if self.progress is not None:
                self.progress(self.step / self.total,
                              f"epoch {epoch}/{cfg.epochs}, step {self.step}/{self.total}, loss {value:.4f}")

    def _check_time(self) -> None:
        """Time the first two steps and refuse (ConfigError) a run that would take longer than the limit at the
        faster of them (the first one pays for warm-up)."""
        if self.limit is not None and self.step in (1, 2):
            self.step_times.append(time.perf_counter())
            if self.step == 2:
                t = self.step_times
                check_time(min(t[1] - t[0], t[0] - self.started), self.total, self.limit)

    def _step(self, idx: torch.Tensor) -> float:
        """One optimisation step on the minibatch `idx`: its cross-entropy loss (recorded), for the first
        `grad_norm_steps` steps the gradient norm of each block's parameters (the vanishing gradients a shortcut
        prevents, He et al. 2016b), then the update, and a weight snapshot every `snap_every` steps. A NaN or
        infinite loss marks the run diverged, without an update."""
        h = self.history
        loss = F.cross_entropy(self.model(self.x_train[idx]), self.y_train[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        value = loss.item()
        self.step += 1
        h.step_loss.append(value)
        if not math.isfinite(value):
            h.diverged, h.diverged_at_step = True, self.step
            return value
        if self.step <= self.cfg.grad_norm_steps:
            h.grad_norms.append([
                math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ps if p.grad is not None))
                for ps in self.block_params
            ])
        self.opt.step()
        self.sched.step()
        if self.snap_every and self.step % self.snap_every == 0:
            self._snapshot()
        return value

    def _snapshot(self) -> None:
        """Keep the current weights (flattened, on the CPU) and their step."""
        self.snapshots[self.kept], self.kept = flat_params(self.model, device="cpu"), self.kept + 1
        self.history.checkpoint_steps.append(self.step)

    def finish(self) -> Run:
        """The trained Run: the model on the CPU in eval mode without gradients (a run is shared read-only by every
        session: the last step's gradients would double its memory), the final weights as the last snapshot, and
        only the snapshots taken (a diverged run or skipped steps take fewer than allocated)."""
        self.model = self.model.cpu().eval()
        self.model.zero_grad(set_to_none=True)
        if self.history.checkpoint_steps[-1] != self.step:
            self._snapshot()
        snapshots = self.snapshots if self.kept == len(self.snapshots) else self.snapshots[:self.kept].clone()
        return Run(self.net, self.cfg, self.model, self.history, snapshots)


def train_pair(net: NetConfig, cfg: TrainConfig = TrainConfig(), **kw) -> tuple[Run, Run]:
    """Train the plain twin and the residual net of `net`: (plain, residual)."""
    plain_cfg = net if not net.skip else net.twin()
    return train(plain_cfg, cfg, **kw), train(plain_cfg.twin(), cfg, **kw)


# --- saved runs --------------------------------------------------------------------


class RunLoadError(ValueError):
    """A run folder that cannot be loaded; the message says what is wrong."""


def run_key(net: NetConfig, cfg: TrainConfig) -> str:
    """Stable short key of a (net, training) config pair: a hash of the fields that differ from their defaults.

    A field added later with a default that keeps the old behaviour leaves every existing key (stored and
    shipped runs) as it was. Should a default value ever change, two configs could share a key across versions;
    a run read back under a key is always checked against the config asked for (`RunStore._from_disk`,
    `assets.load_shipped`), so that can only cost a retraining, never a wrong run."""
    def changed(c) -> dict:
        defaults = {f.name: _default(f) for f in dataclasses.fields(c)}
        return {k: v for k, v in c.to_dict().items() if v != defaults[k]}

    text = json.dumps(changed(net), sort_keys=True) + "|" + json.dumps(changed(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _default(f: dataclasses.Field):
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    return list(value) if isinstance(value, tuple) else value


def save_run(run: Run, folder: str) -> str:
    """Write `run` to `folder` (created): config.json, history.json, weights.safetensors,
    trajectory.safetensors. Returns the folder."""

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"format": RUN_FORMAT, "net": run.net.to_dict(), "train": run.train.to_dict()}, f, indent=2)
    with open(os.path.join(folder, "history.json"), "w") as f:
        json.dump(run.history.to_dict(), f)
    state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    save_file(state, os.path.join(folder, "weights.safetensors"))
    if run.trajectory is not None:
        save_file({"trajectory": run.trajectory.contiguous()}, os.path.join(folder, "trajectory.safetensors"))
    return folder


# Largest run files read (a run's own files are far smaller; weights are bounded by the config).
MAX_CONFIG_BYTES = 64 * 1024
MAX_HISTORY_BYTES = 64 * 1024**2


def read_run_file(path: str, max_bytes: int) -> bytes:
    """The bytes of `path`, a regular file of at most `max_bytes`; RunLoadError otherwise.

    Checked before reading: a folder, a device (e.g. a symlink to /dev/zero), a FIFO or
    a socket is refused without being opened for reading, so nothing blocks or reads
    without end. FileNotFoundError passes through.
    """
    name, folder = os.path.basename(path), os.path.dirname(path) or "."
    info = os.stat(path)  # follows symbolic links: the file that would be read
    if not stat.S_ISREG(info.st_mode):
        raise RunLoadError(f"{name} in {folder!r} is not a regular file (a folder, device, FIFO or socket): refused")
    if info.st_size > max_bytes:
        raise RunLoadError(f"{name} in {folder!r} is {info.st_size / 1024**2:.1f} MB, over the limit of "
                           f"{max_bytes / 1024**2:.1f} MB for this file")
    # O_NONBLOCK: a file swapped for a FIFO after the check still cannot block the open.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise RunLoadError(f"{name} in {folder!r} is not a regular file: refused")
        blob = f.read(max_bytes + 1)
    if len(blob) > max_bytes:
        raise RunLoadError(f"{name} in {folder!r} is over the limit of {max_bytes / 1024**2:.1f} MB for this file")
    return blob


def _read_json(path: str, max_bytes: int):
    name, folder = os.path.basename(path), os.path.dirname(path) or "."
    blob = read_run_file(path, max_bytes)
    try:
        return json.loads(blob)
    except RecursionError:
        raise RunLoadError(f"{name} in {folder!r} is broken: nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunLoadError(f"{name} in {folder!r} is broken: {e}") from None


def _safetensors_shapes(path: str, max_bytes: int) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a safetensors file, read from its header only (no tensor loaded)."""

    info = os.stat(path)
    name, folder = os.path.basename(path), os.path.dirname(path) or "."
    if not stat.S_ISREG(info.st_mode):
        raise RunLoadError(f"{name} in {folder!r} is not a regular file (a folder, device, FIFO or socket): refused")
    if info.st_size > max_bytes:
        raise RunLoadError(f"{name} in {folder!r} is {info.st_size / 1024**2:.1f} MB, more than its config needs "
                           f"({max_bytes / 1024**2:.1f} MB)")
    try:
        with safe_open(path, framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise RunLoadError(f"{name} in {folder!r} is corrupt: {str(e).splitlines()[0][:200]}") from None


def load_run(folder: str) -> Run:
    """Load a run written by `save_run`. Only JSON and safetensors are read (no pickle).

    Every file is read with a size limit and only when it is a regular file; the
    weights' names and shapes are checked against `config.json` (on PyTorch's meta
    device, from the safetensors header) and the config against the memory limit
    before any tensor is allocated. Raises RunLoadError naming the missing or broken file.
    """

    if not os.path.isdir(folder):
        raise RunLoadError(f"run folder {folder!r} does not exist")
    net, tcfg = _read_config(folder)
    expected = _expected_shapes(folder, net)
    history = _read_history(folder)
    model = _read_weights(folder, net, expected)
    return Run(net, tcfg, model.eval(), history, _read_trajectory(folder, model))


def _read_config(folder: str) -> tuple[NetConfig, TrainConfig]:
    """The net and training configs of `folder`'s config.json, the net's validated."""
    try:
        meta = _read_json(os.path.join(folder, "config.json"), MAX_CONFIG_BYTES)
        net = NetConfig.from_dict(meta["net"])
        tcfg = TrainConfig.from_dict(meta["train"])
        net.validate()
    except FileNotFoundError:
        raise RunLoadError(f"{folder!r} has no config.json: not a run folder (make one with 'python -m resnet_viz train --out')") from None
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        if isinstance(e, RunLoadError):
            raise
        raise RunLoadError(f"config.json in {folder!r} is broken: {str(e)[:200]}") from None
    return net, tcfg


def _expected_shapes(folder: str, net: NetConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of each tensor of the net the config describes, built on the meta device (shapes only, no
    forward pass: that would cost seconds on a fresh process); refused when its weights exceed the memory limit."""
    try:
        expected = {k: tuple(v.shape) for k, v in build_model(net, device="meta").state_dict().items()}
    except (ConfigError, RuntimeError, ValueError) as e:
        raise RunLoadError(f"config.json in {folder!r} describes no net that can be built: {str(e)[:200]}") from None
    n_params, limit = sum(math.prod(shape) for shape in expected.values()), memory_limit_bytes()
    if 4 * n_params > limit:
        raise RunLoadError(f"config.json in {folder!r} describes a net of {n_params:,} parameters (about "
                           f"{4 * n_params / 1024**3:.1f} GiB), over the memory limit of {limit / 1024**3:.1f} GiB: not built")
    return expected


def _read_history(folder: str) -> History:
    """The training history of `folder`'s history.json (an empty one when there is none)."""
    try:
        return History.from_dict(_read_json(os.path.join(folder, "history.json"), MAX_HISTORY_BYTES))
    except FileNotFoundError:
        return History()
    except (TypeError, ValueError, AttributeError) as e:
        if isinstance(e, RunLoadError):
            raise
        raise RunLoadError(f"history.json in {folder!r} is broken: {str(e)[:200]}") from None


def _read_weights(folder: str, net: NetConfig, expected: dict[str, tuple[int, ...]]) -> nn.Module:
    """The net built from its config with the weights of weights.safetensors, whose tensor names and shapes are
    checked against `expected` from the file's header before any tensor is read."""
    path = os.path.join(folder, "weights.safetensors")
    if not os.path.exists(path):
        raise RunLoadError(f"{folder!r} has no weights.safetensors")
    n_params = sum(math.prod(shape) for shape in expected.values())
    # Header slack: names, dtypes and offsets of each tensor, as JSON.
    shapes = _safetensors_shapes(path, 8 * n_params + 1024 * (len(expected) + 16))
    mismatch = sorted(set(shapes) ^ set(expected)) or [k for k in expected if shapes[k] != expected[k]]
    if mismatch:
        k = mismatch[0]
        raise RunLoadError(
            f"weights.safetensors in {folder!r} does not match its config: {k} is "
            f"{'missing' if k not in shapes else list(shapes[k])} in the file, "
            f"{'not expected' if k not in expected else list(expected[k])} for the config"
            f"{f' ({len(mismatch)} tensors differ)' if len(mismatch) > 1 else ''}")
    try:
        state = load_file(path)
        model = build_model(net)
        model.load_state_dict(state, strict=True)
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise RunLoadError(f"weights.safetensors in {folder!r} does not match its config or is corrupt: {str(e).splitlines()[0][:200]}") from None
    return model


def _read_trajectory(folder: str, model: nn.Module) -> torch.Tensor | None:
    """The weight snapshots of trajectory.safetensors (float32, the last row the model's exact final weights), for
    the optimisation-path view (Li et al. 2018 §7); None when there are none or they do not fit the net (the path
    view is optional: the run loads without it)."""
    tpath = os.path.join(folder, "trajectory.safetensors")
    if not os.path.exists(tpath):
        return None
    try:
        n_flat = sum(p.numel() for p in model.parameters())
        found = _safetensors_shapes(tpath, memory_limit_bytes())
        if not (list(found) == ["trajectory"] and len(found["trajectory"]) == 2 and found["trajectory"][1] == n_flat):
            return None
        trajectory = load_file(tpath)["trajectory"]
        if trajectory.dtype != torch.float32:  # checkpoints kept at half precision (shipped runs)
            trajectory = trajectory.float()
            trajectory[-1] = flat_params(model, device="cpu")  # the final weights, exact
        return trajectory
    except Exception:
        return None
