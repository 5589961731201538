"""The degradation experiment of He et al. 2016 (Fig. 1) at toy scale.

Plain nets and their residual twins at several depths, trained with the same step
budget over several seeds. Degradation (He et al. 2016, §1 and §4.1): a deeper plain
net *that trains* keeps a higher *training* loss than a shallower one all along its
training curve, while its residual twin does the opposite. It is not overfitting (it
is the training loss) and not vanishing gradients (BN keeps the plain nets' gradients
healthy): it is an optimisation difficulty. A net that blows up or ends at chance
shows divergence instead, so every run is checked (`training_failure`) and the
caption is derived from what this run measured (`verdict`), never assumed.

Defaults (measured on digits with the lab's thread policy; `tests/test_verdicts.py` checks them
on one and two threads): depths 3, 9 and 15 blocks (8, 20 and 32 layers), width 8, 6 epochs,
SGD at 0.05 with one epoch of linear warm-up (He et al. 2016 §4.2 warm up their deepest nets),
cosine decay, 3 seeds. Every net trains; the deeper plain nets end higher (mean final loss about
0.017, 0.050, 0.64 over seeds 0–2 with one thread, 0.017, 0.045, 0.51 with two, 0.016, 0.040,
0.62 over seeds 3–5: every seed of each deeper net above every seed of the shallower one), while
the deeper residual twins end lower or as low (about 0.017, 0.007, 0.004). The 15-block plain
nets reach only 66–85 % test accuracy: slow, not failed, and their training loss is the point.

The curves are the minibatch training loss (train mode), the loss the optimiser sees.
The eval-mode loss of a deep plain net can spike in its first epochs (BN's running
statistics lag behind weights that change fast); the final training loss is eval mode
over the whole train set, as everywhere in the lab.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..assets import default_trainer
from ..captions import Caption
from ..data import load_dataset
from ..models import MAX_DEPTH, MAX_WIDTH, ConfigError, NetConfig
from ..numbers import count, num, pct, times
from ..progress import Progress, notify, part
from ..settings import MAX_SEED, check_all, setting
from ..train import MAX_EPOCHS, NO_STEP, TrainConfig, chance_accuracy, failure_advice, lr_factor, training_failure

DEPTH_CHOICES = (3, 6, 9, 12, 15, 18, 27, 36)
MAX_SEEDS = 10
MARGIN = 1.1  # two final losses are called different only when their means are this many times apart


@dataclass(frozen=True)
class DegradationSettings:
    """The study's settings: which depths, how many seeds, and the shared training budget.

    Everything else (architecture, block, order, norm, dataset, optimiser) comes from
    the pair the study is run for; width and budget are replaced by these so the whole
    study stays brief.
    """

    depths: tuple[int, ...] = setting(
        (3, 9, 15), "Depths (blocks)", min=1, max=MAX_DEPTH, min_items=2, picks=DEPTH_CHOICES, key="deg_depths",
        help="Two or more. A plain net too deep to train in this budget is named failed to train and left out of "
             "the comparison (divergence, not degradation).")
    seeds: int = setting(3, "Seeds", min=1, max=MAX_SEEDS, step=1, key="deg_seeds",
                         help="Initialisations (and data orders) per net; the spread over them is the margin.")
    first_seed: int = setting(0, "First seed", min=0, max=MAX_SEED - MAX_SEEDS, step=1,
                              help="The seeds are first_seed, first_seed + 1, …")
    width: int = setting(8, "Width", min=1, max=MAX_WIDTH, step=1, key="deg_width", help="channels of the first stage")
    epochs: int = setting(6, "Epochs", min=1, max=MAX_EPOCHS, step=1, key="deg_epochs",
                          help="the default's first is warm-up")
    lr: float = setting(0.05, "Learning rate", min=1e-6, max=10.0, help="the peak learning rate of SGD")
    warmup_epochs: float = setting(1.0, "Warm-up epochs", min=0.0, max=MAX_EPOCHS, flag="--warmup",
                                   help="linear learning-rate warm-up, in epochs (He et al. 2016 §4.2)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(sorted({int(d) for d in self.depths})))

    def validate(self) -> None:
        """Raise ConfigError with a clear message for settings the study cannot run: a field outside its declared
        domain (`settings.check_all`: two depths at least, among them), or a warm-up longer than the run."""
        check_all(self)
        if self.warmup_epochs > self.epochs:
            raise ConfigError(f"warm-up must be from 0 to the {self.epochs} epochs of the run, got {self.warmup_epochs!r}")

    @property
    def seed_list(self) -> list[int]:
        """The seeds used: first_seed, first_seed + 1, ..."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def nets(self, base: NetConfig) -> list[NetConfig]:
        """Every net of the study, in training order: per seed, per depth, plain then residual."""
        return [base.replace(depth=d, width=self.width, skip=skip, seed=s)
                for s in self.seed_list for d in self.depths for skip in (False, True)]

    def train_config(self, base: TrainConfig) -> TrainConfig:
        """The pair's training config with this study's budget (no checkpoints, no gradient norms)."""
        return base.replace(epochs=self.epochs, lr=self.lr, warmup_epochs=self.warmup_epochs,
                            checkpoints_per_epoch=0, grad_norm_steps=0)

    def to_dict(self) -> dict:
        """Plain-JSON dictionary of the fields."""
        d = asdict(self)
        d["depths"] = list(self.depths)
        return d


@dataclass(frozen=True)
class DegradationRun:
    """One trained net of the study: its final numbers and its curves.

    curve:              minibatch training loss at every iteration (train mode, as He's
                        Fig. 1 plots training error during training).
    epoch_train_loss:   training loss in eval mode over the whole train set at each
                        epoch end (index 0: at initialisation).
    test_error:         1 - test accuracy at each epoch end (index 0: at initialisation).
    train_loss:         the final eval-mode training loss (NaN when diverged).
    failure:            why it failed to train (`training_failure`), None when it trained.
    """

    depth: int
    layers: int
    skip: bool
    seed: int
    train_loss: float
    test_accuracy: float
    failure: str | None
    steps_per_epoch: int
    curve: tuple[float, ...] = field(repr=False)
    epoch_train_loss: tuple[float, ...] = field(repr=False)
    test_error: tuple[float, ...] = field(repr=False)

    @property
    def failed(self) -> bool:
        """True when the net failed to train (diverged, ended no better than its start, or at chance)."""
        return self.failure is not None

    def barely_trained(self, classes: int) -> bool:
        """Trained, yet its test accuracy is below half-way from chance to 100 % (55 % for ten
        classes): a slow net, named in the caption; its training loss is data like any other's (the
        deep plain nets of He et al.'s Fig. 1 are the ones that train worst)."""
        chance = chance_accuracy(classes)
        return not self.failed and self.test_accuracy < chance + 0.5 * (1 - chance)

    @property
    def kind(self) -> str:
        """'plain' or 'residual'."""
        return "residual" if self.skip else "plain"

    def to_dict(self) -> dict:
        """One row of the CLI's `runs` list."""
        return {"depth": self.depth, "layers": self.layers, "skip": self.skip, "seed": self.seed,
                "train_loss": self.train_loss, "test_accuracy": self.test_accuracy,
                "failed_to_train": self.failed, "failure": self.failure,
                "steps_per_epoch": self.steps_per_epoch, "curve": list(self.curve),
                "epoch_train_loss": list(self.epoch_train_loss), "test_error": list(self.test_error)}


def smooth(values, window: int) -> np.ndarray:
    """Moving average over `window` values; the first values average what exists so far."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < window:
        return v
    head = np.cumsum(v[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(v, np.ones(window) / window, mode="valid")])


@dataclass(frozen=True)
class Comparison:
    """A shallower and a deeper net of one kind, compared over the seeds that trained.

    above:   share of the iterations after the first epoch at which the deeper net's
             mean training-loss curve (smoothed over half an epoch) lies above the shallower one's.
    shallow_losses, deep_losses: the final training loss (eval mode) of each seed.
    A difference counts only when the seeds do not overlap: every seed of one ends above
    every seed of the other (with one seed each, the single values decide).
    """

    kind: str
    shallow: int
    deep: int
    shallow_losses: tuple[float, ...]
    deep_losses: tuple[float, ...]
    above: float

    @property
    def final_shallow(self) -> float:
        """Mean final training loss of the shallower net over its seeds."""
        return float(np.mean(self.shallow_losses))

    @property
    def final_deep(self) -> float:
        """Mean final training loss of the deeper net over its seeds."""
        return float(np.mean(self.deep_losses))

    @property
    def deeper_worse(self) -> bool:
        """Degradation: the deeper net's curve lies above over most of training and every seed of it
        ends above every seed of the shallower net, with the means at least MARGIN apart (a ratio)."""
        return (self.above > 0.5 and min(self.deep_losses) > max(self.shallow_losses)
                and self.final_deep >= MARGIN * self.final_shallow)

    @property
    def deeper_better(self) -> bool:
        """Every seed of the deeper net ends below every seed of the shallower net, the means at least MARGIN apart."""
        return max(self.deep_losses) < min(self.shallow_losses) and self.final_shallow >= MARGIN * self.final_deep

    def describe(self) -> str:
        """One clause with the numbers: where the deeper curve lies and how the finals compare."""
        where = "above" if self.above > 0.5 else "below"
        ends = ("higher for every seed" if self.deeper_worse
                else "lower for every seed" if self.deeper_better else "within the spread over seeds")
        return (f"{self.deep} vs {self.shallow} blocks: the deeper net's loss lies {where} at "
                f"{pct(max(self.above, 1 - self.above), 0)} of the iterations after the first epoch and ends {ends} "
                f"(mean {num(self.final_deep)} vs {num(self.final_shallow)})")


@dataclass
class DegradationResult:
    """Everything the degradation view shows, computed once (page, CLI and report alike)."""

    settings: DegradationSettings
    base: NetConfig
    train: TrainConfig
    runs: list[DegradationRun]

    def of(self, kind: str, depth: int) -> list[DegradationRun]:
        """The runs of one kind ('plain' or 'residual') at one depth, one per seed."""
        return [r for r in self.runs if r.kind == kind and r.depth == depth]

    def mean_curve(self, kind: str, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(mean, min, max) over the seeds that trained of the smoothed minibatch-loss curves."""
        rs = [r for r in self.of(kind, depth) if not r.failed]
        if not rs:
            return None
        window = max(rs[0].steps_per_epoch // 2, 1)
        n = min(len(r.curve) for r in rs)
        c = np.stack([smooth(r.curve[:n], window) for r in rs])
        return c.mean(0), c.min(0), c.max(0)

    def comparisons(self, kind: str) -> list[Comparison]:
        """Each pair of neighbouring depths of `kind` among the depths where some seed trained (a depth at which
        every seed failed to train is left out, and its neighbours are compared)."""
        out = []
        depths = [d for d in self.settings.depths if self.mean_curve(kind, d) is not None]
        for shallow, deep in zip(depths, depths[1:]):
            a, b = self.mean_curve(kind, shallow), self.mean_curve(kind, deep)
            spe = self.of(kind, shallow)[0].steps_per_epoch
            n = min(len(a[0]), len(b[0]))
            above = float(np.mean(b[0][spe:n] > a[0][spe:n])) if n > spe else float(b[0][-1] > a[0][-1])
            fa = tuple(r.train_loss for r in self.of(kind, shallow) if not r.failed)
            fb = tuple(r.train_loss for r in self.of(kind, deep) if not r.failed)
            out.append(Comparison(kind, shallow, deep, fa, fb, above))
        return out

    def summary(self) -> dict[str, dict[str, list[float]]]:
        """`summarize(self.runs)`: final training loss against depth, per kind."""
        return summarize(self.runs)

    def barely_trained(self) -> list[DegradationRun]:
        """The runs that trained, but slowly (`DegradationRun.barely_trained`): named, not left out."""
        return [r for r in self.runs if r.barely_trained(self.base.classes)]

    @property
    def degradation_shown(self) -> bool:
        """True when this run shows He's degradation among the nets that trained (those that failed to train
        are left out and named: divergence is not degradation; a slow net is data): there is a comparison of
        plain depths, every deeper plain net stays above the shallower one over most of training and ends
        higher for every seed, by the margin MARGIN, and no deeper residual net does (it ends lower, or as low
        within the seeds' spread)."""
        plain, residual = self.comparisons("plain"), self.comparisons("residual")
        return bool(plain) and all(c.deeper_worse for c in plain) and not any(c.deeper_worse for c in residual)

    def caption_lines(self) -> list[str]:
        """What this run shows, sentence by sentence, derived from its numbers (He et al. 2016, Fig. 1)."""
        return verdict_lines(self)

    def takeaway(self) -> str:
        """One sentence: what this run shows, with the comparison it makes (`verdict_takeaway`)."""
        return verdict_takeaway(self)

    def caption(self) -> Caption:
        """The takeaway, then `caption_lines` as one paragraph (its details)."""
        return Caption(self.takeaway(), " ".join(self.caption_lines()))

    def captions(self) -> dict[str, str]:
        """"degradation": what the study shows (`caption`)."""
        return {"degradation": self.caption()}

    def to_dict(self) -> dict:
        """The CLI's JSON: settings, one row per net, the summary and the captions."""
        return {"settings": self.settings.to_dict(), "net": self.base.to_dict(), "train": self.train.to_dict(),
                "runs": [{**r.to_dict(), "barely_trained": r.barely_trained(self.base.classes)} for r in self.runs],
                "summary": self.summary(),
                "degradation_shown": self.degradation_shown, "captions": self.captions(),
                "takeaways": {k: c.takeaway for k, c in self.captions().items()}}


def degradation_study(base: NetConfig, train_cfg: TrainConfig, settings: DegradationSettings = DegradationSettings(),
                      *, data=None, progress: Progress | None = None, trainer=None) -> DegradationResult:
    """Train plain and residual nets at each depth for each seed (He et al. 2016, Fig. 1).

    `base` gives everything but depth, width, skip and seed; `train_cfg` everything
    but the budget (`settings.train_config`). Each seed sets both the initialisation
    and the data order, so twins at a seed share their start. `progress(fraction,
    text)` is called as training goes (weighted by depth, since a net's cost grows with it).
    `trainer(net, cfg, progress) -> Run` trains one net (default `train.train` on `data`; the
    app passes its run store's, so the nets are kept on disk and shared).
    """

    settings.validate()
    cfg = settings.train_config(train_cfg)
    nets = settings.nets(base)
    for net in nets:
        net.validate()
    data = data if data is not None else load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)

    trainer = trainer or default_trainer(data)
    cost = np.cumsum([0] + [n.depth for n in nets], dtype=float)
    runs = []
    for i, net in enumerate(nets):
        label = f"{i + 1}/{len(nets)}: {net.name.split()[0]} net, {net.depth} blocks, seed {net.seed}"

        notify(progress, cost[i] / cost[-1], f"training {label}")
        run = trainer(net, replace(cfg, seed=net.seed),
                      part(progress, cost[i] / cost[-1], cost[i + 1] / cost[-1], f"training {label}"))
        h = run.history
        runs.append(DegradationRun(
            net.depth, net.layer_count, net.skip, net.seed, h.train_loss, h.test_accuracy,
            training_failure(h, net.classes, net, run.train), math.ceil(len(data.x_train) / cfg.batch_size),
            tuple(h.step_loss), tuple(h.epoch_train_loss), tuple(1 - a for a in h.epoch_test_accuracy)))
    notify(progress, 1.0, "done")
    return DegradationResult(settings, base.replace(width=settings.width), cfg, runs)


def summarize(runs: list[DegradationRun]) -> dict[str, dict[str, list[float]]]:
    """Per net kind ('plain', 'residual'): depths, layers, mean, min and max final training loss,
    and how many seeds failed to train.

    Runs that failed to train are left out of the mean, min and max (NaN when none trained).
    """
    out: dict[str, dict[str, list[float]]] = {}
    for kind in ("plain", "residual"):
        rows = {"depth": [], "layers": [], "mean": [], "min": [], "max": [], "failed": [], "seeds": []}
        for depth in sorted({r.depth for r in runs if r.kind == kind}):
            rs = [r for r in runs if r.kind == kind and r.depth == depth]
            ok = [r.train_loss for r in rs if not r.failed and math.isfinite(r.train_loss)]
            rows["depth"].append(depth)
            rows["layers"].append(rs[0].layers)
            rows["mean"].append(float(np.mean(ok)) if ok else math.nan)
            rows["min"].append(min(ok) if ok else math.nan)
            rows["max"].append(max(ok) if ok else math.nan)
            rows["failed"].append(sum(r.failed for r in rs))
            rows["seeds"].append(len(rs))
        out[kind] = rows
    return out


def _depths(ds) -> str:
    ds = list(ds)
    return ", ".join(map(str, ds[:-1])) + f" and {ds[-1]}" if len(ds) > 1 else str(ds[0])


def verdict_lines(result: DegradationResult) -> list[str]:
    """The caption of a degradation study, derived from its numbers, one sentence group per line.

    Says which nets failed to train (divergence, not degradation), then for each kind
    whether the deeper nets' training-loss curves lie above the shallower ones' over
    most of training and at the end (He et al. 2016, Fig. 1: degradation) or below.
    """
    parts = []
    failed = [r for r in result.runs if r.failed]
    if failed:
        by = {}
        for r in failed:
            by.setdefault((r.kind, r.depth), []).append(r)
        names = "; ".join(f"the {depth}-block {kind} net in {len(rs)} of {len(result.of(kind, depth))} seeds "
                          f"({rs[0].failure})" for (kind, depth), rs in sorted(by.items()))
        parts.append(f"Failed to train: {names}. A net that does not train shows divergence, not degradation; "
                     "those runs are left out of the curves and the means.")
    weak = result.barely_trained()
    if weak:
        parts.append("Slow: " + "; ".join(
            f"the {r.depth}-block {r.kind} net, seed {r.seed} (training loss {num(r.train_loss)}, "
            f"{pct(r.test_accuracy, 0)} test accuracy)" for r in weak)
            + ". It trained, only slowly: that is data, and a deep plain net that trains worst is what He et al. "
              "show (Fig. 1).")
    for kind in ("plain", "residual"):
        cs = result.comparisons(kind)
        if not cs:
            continue
        if all(c.deeper_worse for c in cs):
            trend = f"every deeper {kind} net stays above the shallower one and ends higher"
        elif all(c.deeper_better for c in cs):
            trend = f"every deeper {kind} net ends lower than the shallower one"
        elif not any(c.deeper_worse for c in cs):
            trend = f"no deeper {kind} net ends higher than the shallower one beyond the spread over seeds"
        else:
            trend = f"deeper {kind} nets end higher at {_depths(c.deep for c in cs if c.deeper_worse)} blocks"
        parts.append(f"{kind.capitalize()}: {trend} ({'; '.join(c.describe() for c in cs)}).")
    if result.degradation_shown:
        parts.append("This is the degradation problem of He et al. 2016 (Fig. 1): " +
                     ("the plain nets train" if not failed else "the plain nets that train") +
                     ", yet the deeper ones stay worse on the *training* set (not overfitting), while their residual "
                     "twins do not degrade.")
    elif not result.comparisons("plain"):
        no_step = [r.failure for r in failed if r.failure.startswith(NO_STEP)]
        parts.append("Too few plain nets trained to compare depths: no degradation can be read from this run; " + (
            no_step[0].split(": ", 1)[1].split("; ", 1)[-1] + "." if no_step else  # the fix of a run that made no step
            "lower the learning rate or lengthen the warm-up."))
    else:
        parts.append("This run does not show the degradation problem of He et al. 2016 (Fig. 1) at every depth "
                     f"(differences count beyond the spread over seeds and a factor {MARGIN:g}); see above for where "
                     "it holds, or try other depths, more seeds or a longer budget.")
    return parts


def verdict_takeaway(result: DegradationResult) -> str:
    """The study's one-sentence takeaway (at most 25 words), from the same comparisons as `verdict_lines`: the
    deepest plain comparison against the residual one when degradation is shown, else the comparison that breaks it,
    else why none can be made."""
    plain, residual = result.comparisons("plain"), result.comparisons("residual")
    if not plain:
        failed = sum(r.failed for r in result.runs if not r.skip)
        return (f"Too few plain nets trained to compare depths ({failed} of {sum(not r.skip for r in result.runs)} "
                "failed): this run shows divergence, not degradation.")
    if result.degradation_shown:
        p = plain[-1]
        text = (f"Degradation: deeper plain nets train worse ({p.deep} blocks end at training loss {num(p.final_deep)} vs "
                f"{num(p.final_shallow)} at {p.shallow})")
        if residual:
            r = residual[-1]
            return text + f"; deeper residual nets do not ({num(r.final_deep)} vs {num(r.final_shallow)})."
        return text + "; no residual depths trained to compare."
    worse = [c for c in residual if c.deeper_worse]
    if all(c.deeper_worse for c in plain) and worse:
        c = worse[0]
        return (f"No clean degradation: the {c.deep}-block residual net also ends higher than the {c.shallow}-block "
                f"one (training loss {num(c.final_deep)} vs {num(c.final_shallow)}).")
    c = next(c for c in plain if not c.deeper_worse)
    how = "lower" if c.deeper_better else "within the spread over seeds"
    return (f"No degradation at every depth: the {c.deep}-block plain net ends at training loss {num(c.final_deep)} "
            f"vs {num(c.final_shallow)} at {c.shallow} blocks, {how}.")


def gradient_spread(run) -> float:
    """Orders of magnitude (log10 of max / min) spanned by a run's per-block gradient norms.

    Uses the median over the recorded first steps of ‖∂L/∂θ_block‖ per block
    (`History.grad_norms`); NaN when none were recorded.
    """
    g = np.asarray(run.history.grad_norms, dtype=float)
    if g.size == 0:
        return math.nan
    med = np.nanmedian(np.where(g > 0, g, np.nan), axis=0)
    med = med[np.isfinite(med)]
    if med.size < 2:
        return math.nan
    return float(np.log10(med.max() / med.min()))


HEALTHY_SPREAD = 1.0  # per-block gradient norms within one order of magnitude: "healthy" (He et al. 2016 §4.1)


def _median_norms(run) -> np.ndarray:
    g = np.asarray(run.history.grad_norms, dtype=float)
    return np.nanmedian(np.where(g > 0, g, np.nan), axis=0) if g.size else np.array([])


def pair_findings(plain, residual) -> list[str]:
    """What a trained pair's own numbers show, as sentences for the Build & train view.

    Compares the final training losses (naming a net that failed to train, and why) and the spread of
    per-block gradient norms over the first steps. With BN, He et al. 2016 (§4.1) find the plain nets'
    gradients healthy, so a higher plain loss is an optimisation difficulty, not vanishing gradients: the
    sentence says so only when this pair's plain gradients stay within HEALTHY_SPREAD orders of magnitude,
    and otherwise names the spread and the block where they are smallest.
    """
    out = []
    fp, fr = plain.failure, residual.failure
    lp, lr = plain.history.train_loss, residual.history.train_loss
    if fp or fr:
        for run, why in ((plain, fp), (residual, fr)):
            if why:
                what = ("divergence" if run.history.diverged else "a net that did not learn") + \
                       ", not degradation (which is about nets that train)"
                acc = run.history.test_accuracy
                acc_text = f"{pct(acc)} test accuracy" if acc == acc else "no final accuracy"
                advice = failure_advice(why)  # none beyond the failure's own for a run that made no step
                out.append(f"The **{run.label}** net **failed to train** ({acc_text}): {why}. " + (
                    f"Its curves show {what}; {advice}." if advice else "It was never trained: there is nothing "
                                                                        "to compare."))
    elif lp > lr:
        out.append(f"The **plain** net ends with the higher training loss ({num(lp)} against {num(lr)}, "
                   f"{times(lp / max(lr, 1e-12))}; test accuracy {pct(plain.history.test_accuracy)} against "
                   f"{pct(residual.history.test_accuracy)}).")
    else:
        out.append(f"Here the **residual** net ends with the higher (or equal) training loss ({num(lr)} against "
                   f"{num(lp)}): at this depth the shortcut does not help; try a deeper pair.")
    sp, sr = gradient_spread(plain), gradient_spread(residual)
    if math.isfinite(sp) and math.isfinite(sr):
        text = (f"Gradient norms over the first steps span {_span(sp)} across the plain net's blocks and "
                f"{_span(sr)} across the residual net's.")
        if sp < HEALTHY_SPREAD:
            text += (" The plain net's gradients do not vanish" + (" (BN keeps them healthy, He et al. 2016 §4.1)"
                     if plain.net.norm == "batch" else "") + ": a higher plain loss is an optimisation difficulty, "
                     "not vanishing gradients.")
        else:
            med = _median_norms(plain)
            low, high = int(np.nanargmin(med)), int(np.nanargmax(med))
            text += (f" In the plain net they are badly scaled: smallest at block {low}, largest at block {high}"
                     + (", so they shrink towards the input" if low < high else "")
                     + (" despite BN (He et al. 2016 §4.1 found theirs healthy with BN; this deeper, briefly trained "
                        "plain net's are not)" if plain.net.norm == "batch" else " (no BN)") + ".")
        out.append(text)
    return out


def _span(v: float) -> str:
    return f"a factor {num(10 ** v)}" if v < 1 else f"{v:.1f} orders of magnitude"


def gradient_spreads(runs: dict) -> str:
    """The spread of per-block gradient norms over the first steps (`gradient_spread`) of several nets, as one
    sentence: for comparisons of more than a pair (He et al. 2016b's variants), whose ranking their own verdict
    gives (`identity.IdentityResult.verdict_lines`)."""
    spreads = [(k, gradient_spread(r)) for k, r in runs.items()]
    spreads = [(k, v) for k, v in spreads if math.isfinite(v)]
    if not spreads:
        return ""
    return ("Per-block gradient norms over the first steps span " +
            "; ".join(f"{_span(v)} in the {k} net" for k, v in spreads) + ".")


SPIKE = 10.0  # an eval-mode loss this many times above every minibatch loss of its epoch is BN's lag, not training


def curve_notes(run, label: str) -> list[str]:
    """Why a run's eval-mode loss curve (the thick one) jumps where its minibatch losses do not, from its own
    history: the starting loss and the largest spike after an epoch.

    Both are BatchNorm's running statistics, not the loss the optimiser sees. Before the first step they are
    0 and 1, so eval-mode BN normalises nothing: a plain net's signal fades through its layers (logits near 0, a
    loss of ln(classes)), a residual net's sum of branches grows it (logits large, a high loss). After the
    warm-up epoch, whose last step reaches the peak learning rate, they lag behind weights that moved fast.
    Measured on the shipped default pair (`benchmarks/warmup_spike.py`; 15 blocks; a net retrained for its one
    warm-up epoch gives the recorded 687 again; then BN's statistics recomputed over the whole training set in
    train mode, and evaluated): the plain net's 687 after epoch 1 (logit std 393) becomes 1.61, as its last
    minibatch losses of that epoch (1.6–1.9); the residual net's starting 13.8 (logit std 8.5) becomes 3.3 (first
    minibatch 3.65), and the plain net's logit std at the start is 2.4×10⁻⁴ (a loss of ln 10 = 2.30).
    """
    h, net, cfg = run.history, run.net, run.train
    n_epochs = len(h.epoch_train_loss) - 1
    if n_epochs < 1 or not h.step_loss or net.norm != "batch":  # the cause measured is BN's; other nets: no claim
        return []
    spe = max(len(h.step_loss) // n_epochs, 1)
    out = []
    start, first = h.epoch_train_loss[0], h.step_loss[0]
    if math.isfinite(start) and math.isfinite(first) and start > 2 * first:
        out.append(f"The {label} net's whole-set loss starts at {num(start)} but its first minibatch's at "
                   f"{num(first)}: before training, BN's running statistics are 0 and 1, so in eval mode BN "
                   "normalises nothing" + (f" and the sum of {count(net.depth, 'residual branch', 'residual branches')} "
                                           "makes the logits large." if net.skip else "."))
    spikes = [(h.epoch_train_loss[k], k) for k in range(1, n_epochs + 1)
              if math.isfinite(h.epoch_train_loss[k]) and h.step_loss[(k - 1) * spe:k * spe]
              and h.epoch_train_loss[k] > SPIKE * max(h.step_loss[(k - 1) * spe:k * spe])]
    if spikes:
        value, k = max(spikes)
        top = max(h.step_loss[(k - 1) * spe:k * spe])
        rate = cfg.lr * lr_factor(cfg, spe * cfg.epochs)(k * spe - 1)
        peak = (" after the warm-up, whose last step reaches the peak learning rate "
                f"{num(rate)}" if cfg.warmup_epochs and k == math.ceil(cfg.warmup_epochs) else "")
        out.append(f"The {label} net's whole-set loss after epoch {k} ({num(value)}) is {times(value / top, 3)} its "
                   f"highest minibatch loss of that epoch ({num(top)}): an eval-mode artefact{peak}; BN's running "
                   "statistics lag behind weights that moved fast, not a loss the optimiser saw.")
    return out


def pair_takeaway(plain, residual) -> str:
    """The pair's one-sentence takeaway (at most 25 words): which net ends with the higher training loss, by how
    much, or which one failed to train."""
    failed = [(label, run) for label, run in (("plain", plain), ("residual", residual)) if run.failure]
    depth = residual.net.depth
    if failed:
        names = " and ".join(label for label, _ in failed)
        return (f"The {depth}-block {names} net{'s' if len(failed) > 1 else ''} failed to train, so this pair "
                "shows divergence, not degradation.")
    lp, lr = plain.history.train_loss, residual.history.train_loss
    if lp > lr:
        return (f"The {depth}-block plain net ends with a {times(lp / max(lr, 1e-12))} higher training loss than its "
                f"residual twin ({num(lp)} vs {num(lr)}).")
    return (f"Here the {depth}-block residual net ends with the higher or equal training loss ({num(lr)} vs plain "
            f"{num(lp)}): the shortcut does not help at this depth.")


def pair_caption(plain, residual) -> Caption:
    """What a trained pair shows: `pair_takeaway`, then `pair_findings` and the loss curves' notes
    (`curve_notes`) as details, without the page's bold marks."""
    details = [s.replace("**", "") for s in pair_findings(plain, residual)]
    for label, run in (("plain", plain), ("residual", residual)):
        if not run.failure:
            details += curve_notes(run, label)
    return Caption(pair_takeaway(plain, residual), " ".join(details))


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: DegradationSettings, inputs) -> DegradationResult:
    """The registry's computation of the Build & train view: `degradation_study` of the pair's configs
    (`inputs.net`, `inputs.train`) with `inputs.trainer` (default: the shipped runs, else trained)."""

    return degradation_study(inputs.net, inputs.train, settings, data=inputs.data, progress=inputs.progress,
                             trainer=inputs.trainer or default_trainer(inputs.data))


def view_nets(net: NetConfig, cfg: TrainConfig, settings: DegradationSettings) -> list[tuple[NetConfig, TrainConfig]]:
    """Every (net, cfg) the degradation study trains for the pair (net, cfg): its depths × seeds, plain and
    residual, with the study's budget."""
    return [(n, settings.train_config(cfg).replace(seed=n.seed)) for n in settings.nets(net)]
