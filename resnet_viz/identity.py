"""Identity mappings (He et al. 2016b, *Identity Mappings in Deep Residual Networks*): variants of
the shortcut and of where the activation goes, trained side by side on the same data.

He et al. 2016b argue that the shortcut should be a pure identity: with y = λ·x + F(x) the
signal and its gradient are scaled by the product of the λs along the shortcut path, which
vanishes for λ < 1 and explodes for λ > 1 (§3, Table 1); and that moving the activation into
the residual branch (full pre-activation, Fig. 4e) leaves that path clean and trains more
easily (Table 2). `identity_study` trains the chosen variants of one residual net — with the
same initial weights, data order and budget — and its plain twin, and says from the run's
own numbers which ended lowest. With `random_nets`, it also measures whether the shortcut
scale λ changes how shattered the gradients of random 1-D nets are (Balduzzi et al. 2017's
experiment; that question is the lab's own, not He et al.'s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .degradation import rank_runs, runs_findings
from .models import ConfigError, NetConfig
from .progress import Progress, Steps
from .train import Run, TrainConfig, train


@dataclass(frozen=True)
class Variant:
    """One variant of the residual block: its label and the NetConfig fields it sets."""

    label: str
    net: dict
    note: str


# The variants the study offers, by name (the name is what settings, links and the CLI use).
VARIANTS: dict[str, Variant] = {
    "original": Variant("original (λ = 1)", dict(order="post", shortcut_scale=1.0),
                        "He 2016: relu(x + BN(conv(relu(BN(conv(x)))))), a ReLU after the addition"),
    "pre-activation": Variant("pre-activation", dict(order="pre", shortcut_scale=1.0),
                              "He 2016b Fig. 4e: x + conv(relu(BN(conv(relu(BN(x)))))), the shortcut path a pure "
                              "identity"),
    "scale-0.5": Variant("λ = 0.5", dict(shortcut_scale=0.5),
                         "He 2016b §3.1: constant scaling y = 0.5·x + F(x); the shortcut path shrinks as 0.5ⁿ"),
    "scale-1.5": Variant("λ = 1.5", dict(shortcut_scale=1.5),
                         "the shortcut path grows as 1.5ⁿ over n blocks"),
}
PLAIN = "plain"
SCALE_SWEEP_DEPTHS = (1, 2, 3, 5, 8, 12, 20, 30, 50)


@dataclass(frozen=True)
class IdentitySettings:
    """What the identity-mapping study computes (He et al. 2016b).

    variants: names from VARIANTS, in the order shown; plain: also train the plain twin (the
    same net without shortcuts, trained once: without the shortcut the variants' plain nets
    coincide); random_nets: also the lag-1 and size of df/dx of random 1-D nets against depth
    for the plain net and each λ of the chosen variants (`shattering.scale_sweep`, width
    `sweep_width`, `sweep_seeds` nets per depth on `sweep_points` inputs).
    """

    variants: tuple[str, ...] = ("original", "pre-activation")
    plain: bool = True
    random_nets: bool = False
    sweep_depths: tuple[int, ...] = SCALE_SWEEP_DEPTHS
    sweep_width: int = 200
    sweep_seeds: int = 2
    sweep_points: int = 256

    def validate(self) -> None:
        """ConfigError with a one-line message for a study that cannot be computed."""
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
        if not self.variants:
            raise ConfigError("choose at least one variant")
        if len(set(self.variants)) != len(self.variants):
            raise ConfigError("each variant once")
        if self.random_nets and not self.sweep_depths:
            raise ConfigError("the random-net sweep needs depths")

    def nets(self, base: NetConfig) -> dict[str, NetConfig]:
        """label -> NetConfig of every net the study trains: the plain twin first, then the variants."""
        out = {PLAIN: base.twin()} if self.plain else {}
        for name in self.variants:
            out[VARIANTS[name].label] = base.replace(skip=True, **VARIANTS[name].net)
        return out

    def scales(self, base: NetConfig) -> tuple[float, ...]:
        """The shortcut scales λ of the chosen variants, ascending, without repeats."""
        return tuple(sorted({float(VARIANTS[v].net.get("shortcut_scale", base.shortcut_scale)) for v in self.variants}))

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "variants": list(self.variants), "sweep_depths": list(self.sweep_depths)}


@dataclass
class IdentityResult:
    """Trained variants (and plain twin) of one net, and optionally the random-net λ sweep."""

    settings: IdentitySettings
    runs: dict[str, Run]
    curves: dict[str, dict] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per net, as He 2016b's Tables 1–2: variant, parameters, final training loss
        (eval mode, whole train set), test accuracy and error, and why it failed to train (or None)."""
        rows = []
        for label, run in self.runs.items():
            h = run.history
            rows.append({"net": label, "parameters": sum(p.numel() for p in run.model.parameters()),
                         "train_loss": h.train_loss, "test_accuracy": h.test_accuracy,
                         "test_error": 1 - h.test_accuracy if h.test_accuracy == h.test_accuracy else math.nan,
                         "failed": run.failure})
        return rows

    def verdict(self) -> str:
        """Which net ended lowest, which failed to train, and whether pre-activation beat the
        original block here — from this run's numbers only."""
        ranked = rank_runs(self.runs)
        failed = [k for k in ranked if self.runs[k].failure]
        text = f"Here {ranked[0]} ends with the lowest training loss" + (
            f", and {', '.join(failed)} failed to train." if failed else "; no net failed to train.")
        pre, post = VARIANTS["pre-activation"].label, VARIANTS["original"].label
        if pre in self.runs and post in self.runs:
            a, b = self.runs[pre], self.runs[post]
            if not a.failure and not b.failure and a.history.train_loss < b.history.train_loss:
                text += (" The pre-activation net ends below the original one, as He et al. 2016b find (6.37 % vs "
                         "6.61 % error on ResNet-110).")
            else:
                text += (" The pre-activation net does not end below the original one here; He et al. 2016b's gain "
                         "(6.37 % vs 6.61 % error on ResNet-110, larger at 1001 layers) is small, and at toy scale "
                         "the order can go either way.")
        return text

    def findings(self) -> str:
        """The ranking, failures and gradient spreads of the trained nets (`degradation.runs_findings`)."""
        return runs_findings(self.runs)

    def sweep_caption(self) -> str:
        """What the random nets show for each λ, from their numbers; "" without the sweep."""
        from .shattering import scale_sweep_caption

        return scale_sweep_caption(self.settings.sweep_depths, self.curves) if self.curves else ""

    def to_dict(self) -> dict:
        """JSON-ready results with their captions."""
        return {"settings": self.settings.to_dict(), "table": self.table(),
                "runs": {k: r.summary() for k, r in self.runs.items()}, "verdict": self.verdict(),
                "findings": self.findings(), "random_nets": self.curves, "sweep_caption": self.sweep_caption()}


def identity_study(base: NetConfig, train_cfg: TrainConfig, settings: IdentitySettings = IdentitySettings(), *,
                   data=None, progress: Progress | None = None) -> IdentityResult:
    """He et al. 2016b's comparison at toy scale: train each variant of `base` (and its plain
    twin) with `train_cfg` — same initial weights (`base.seed`), data order and budget — and,
    with `settings.random_nets`, measure random 1-D nets for each λ (`shattering.scale_sweep`).

    `progress(fraction, message)` as the work goes on. ConfigError for impossible settings,
    before any work.
    """
    from .data import load_dataset

    settings.validate()
    nets = settings.nets(base)
    for net in nets.values():
        net.validate()
    train_cfg.validate()
    sweep_cost = (1 + len(settings.scales(base))) * sum(settings.sweep_depths) * settings.sweep_seeds / 3
    steps = Steps(progress, sum(n.depth * train_cfg.epochs for n in nets.values())
                  + (sweep_cost if settings.random_nets else 0))
    data = data if data is not None else load_dataset(train_cfg.dataset, train_cfg.data_root, train_cfg.data_limit)
    runs = {}
    for label, net in nets.items():
        runs[label] = train(net, train_cfg, data=data,
                            progress=steps.part(net.depth * train_cfg.epochs, f"training the {label} net"))
    curves = None
    if settings.random_nets:
        from .shattering import scale_sweep

        curves = scale_sweep(settings.sweep_depths, settings.scales(base), width=settings.sweep_width,
                             seeds=settings.sweep_seeds, points=settings.sweep_points,
                             progress=steps.part(sweep_cost, "random 1-D nets"))
    steps.finish()
    return IdentityResult(settings, runs, curves, {VARIANTS[v].label: VARIANTS[v].note for v in settings.variants})
