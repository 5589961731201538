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

import copy
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch
import torch.nn.functional as F

from ..assets import default_trainer
from ..captions import MAX_TAKEAWAY_WORDS, Caption, takeaway_of, words
from ..data import load_dataset
from ..models import MAX_DEPTH, MAX_DROPOUT, MAX_GATE_BIAS, MAX_WIDTH, ConfigError, NetConfig, build_model
from ..numbers import MISSING, count, num, pct, points, times
from ..progress import Progress, Steps
from ..settings import check_all, setting
from ..train import Run, TrainConfig
from .degradation import gradient_spreads
from .shattering import MAX_POINTS, MAX_SWEEP_DEPTHS, parse_depths, scale_sweep, scale_sweep_caption, units
from .shattering import MAX_SEEDS as MAX_SHATTER_SEEDS


@dataclass(frozen=True)
class Variant:
    """One variant of the residual block: its label, the NetConfig fields it sets (`net`, or
    computed from the base net by `derive`) and a note citing the paper."""

    label: str
    net: dict
    note: str
    derive: Callable[[NetConfig], dict] | None = None

    def fields(self, base: NetConfig) -> dict:
        """The NetConfig fields this variant sets on `base`."""
        return {**self.net, **(self.derive(base) if self.derive else {})}


def _shallow_wide(base: NetConfig) -> dict:
    # About a quarter of the blocks (whole stages for the cnn), and the width that keeps the
    # parameters about equal (they grow as blocks × width²).
    depth = max(round(base.depth / 4), 1)
    if base.arch == "cnn":
        depth = max(3, 3 * round(depth / 3))
    return dict(depth=depth, width=min(round(base.width * math.sqrt(base.depth / depth)), 1024))


# The variants the study offers, by name (the name is what settings, links and the CLI use), in the
# order of He 2016b: the shortcut (Fig. 2, Table 1), then where the activation goes (Fig. 4, Table 2).
VARIANTS: dict[str, Variant] = {
    "original": Variant("original (λ = 1)", dict(order="post", shortcut="identity", shortcut_scale=1.0),
                        "He 2016 / Fig. 2a and 4a: relu(x + BN(conv(relu(BN(conv(x))))))"),
    "scale-0.5": Variant("λ = 0.5", dict(shortcut="identity", shortcut_scale=0.5),
                         "λ·x + F(x) with λ = 0.5 on the shortcut only: the shortcut path shrinks as 0.5ⁿ"),
    "scale-1.5": Variant("λ = 1.5", dict(shortcut="identity", shortcut_scale=1.5),
                         "λ = 1.5 on the shortcut: the shortcut path grows as 1.5ⁿ over n blocks"),
    "constant-0.5": Variant("constant scaling 0.5", dict(shortcut="scaled", shortcut_scale=0.5),
                            "Fig. 2b: 0.5·x + 0.5·F(x)"),
    "gate": Variant("exclusive gating", dict(shortcut="gate", shortcut_scale=1.0),
                    "Fig. 2c: g·F(x) + (1 − g)·x, g = sigmoid(1×1 conv(x) + b_g)"),
    "shortcut-gate": Variant("shortcut-only gating", dict(shortcut="shortcut-gate", shortcut_scale=1.0),
                             "Fig. 2d: F(x) + (1 − g)·x"),
    "conv": Variant("1×1 conv shortcut", dict(shortcut="conv", shortcut_scale=1.0),
                    "Fig. 2e: F(x) + W·x with a 1×1 convolution W on every shortcut"),
    "dropout": Variant("dropout shortcut", dict(shortcut="dropout", shortcut_scale=1.0),
                       "Fig. 2f: F(x) + dropout(x)"),
    "bn-after": Variant("BN after addition", dict(order="bn-after", shortcut="identity", shortcut_scale=1.0),
                        "Fig. 4b: relu(BN(x + conv(relu(BN(conv(x))))))"),
    "relu-before": Variant("ReLU before addition", dict(order="relu-before", shortcut="identity", shortcut_scale=1.0),
                           "Fig. 4c: x + relu(BN(conv(relu(BN(conv(x))))))"),
    "relu-pre": Variant("ReLU-only pre-activation", dict(order="relu-pre", shortcut="identity", shortcut_scale=1.0),
                        "Fig. 4d: x + BN(conv(relu(BN(conv(relu(x))))))"),
    "pre-activation": Variant("pre-activation", dict(order="pre", shortcut="identity", shortcut_scale=1.0),
                              "Fig. 4e: x + conv(relu(BN(conv(relu(BN(x)))))), the shortcut path a pure identity"),
    # Descendants (the lecture notes' last pages): the same comparison, other branches.
    "shallow-wide": Variant("shallow-wide", dict(), "Zagoruyko & Komodakis 2016: about a quarter of the blocks, "
                            "wider, about the same parameters", derive=_shallow_wide),
    "wide-dropout": Variant("dropout in the branch", dict(branch_dropout=0.3),
                            "Zagoruyko & Komodakis 2016 §2.3: dropout 0.3 between the branch's weight layers"),
    "resnext": Variant("ResNeXt (cardinality 4)", dict(block="bottleneck", cardinality=4),
                       "Xie et al. 2017: bottleneck blocks whose 3×3 convolution has 4 groups"),
    "se": Variant("squeeze-and-excitation", dict(se_ratio=4),
                  "Hu et al. 2018: channel weights from the channel means at the end of the branch (r = 4)"),
}
SHORTCUT_VARIANTS = ("original", "scale-0.5", "scale-1.5", "constant-0.5", "gate", "shortcut-gate", "conv", "dropout")
PLACEMENT_VARIANTS = ("original", "bn-after", "relu-before", "relu-pre", "pre-activation")
DESCENDANT_VARIANTS = ("original", "shallow-wide", "wide-dropout", "resnext", "se")
PLAIN = "plain"
SCALE_SWEEP_DEPTHS = (1, 2, 3, 5, 8, 12, 20, 30, 50)
MAX_SEEDS = 5
FAIL = math.inf  # "fail" in He et al. 2016b's tables: training did not converge to a useful error
# He et al. 2016b, ResNet-110 on CIFAR-10, test error (%): Table 1 (shortcuts) and Table 2 (activation placement).
# Table 1's constant scaling with 0 on the shortcut "is a plain net" and fails; λ = 0.5 on the shortcut alone fails.
PAPER_ERROR = {PLAIN: FAIL, "original": 6.61, "scale-0.5": FAIL, "constant-0.5": 12.35, "conv": 12.22,
               "dropout": FAIL, "bn-after": 8.17, "relu-before": 7.84, "relu-pre": 6.71, "pre-activation": 6.37}
MARGIN = 1.1  # two nets' final training losses are called different when their means are this many times apart
# Test errors closer than this tie: two points, about 1.6 standard deviations of the difference of two nets' errors
# on the digits' 360 test images (binomial noise, error near 3 %).
ERROR_MARGIN = 0.02
CLEAR_RATIO = 2.0  # a training loss this many times higher (or lower) is a clear difference even when test errors tie
# The descendants' claims (the lecture notes' last pages): lower test error than the original block, or no worse.
DESCENDANT_CLAIMS = {
    "shallow-wide": ("Zagoruyko & Komodakis 2016", "a shallow, wide net is no worse than a deep, thin one of about its "
                     "size", "no worse"),
    "wide-dropout": ("Zagoruyko & Komodakis 2016 §2.3", "dropout between the branch's layers is no worse on test data",
                     "no worse"),
    "resnext": ("Xie et al. 2017", "grouped convolutions lower the test error", "lower"),
    "se": ("Hu et al. 2018", "squeeze-and-excitation lowers the test error", "lower"),
}
# A net whose test accuracy is below half-way from chance to 100 % barely trained (named, not ranked as a result).
WEAK = 0.5


def _depths(text: str) -> tuple[int, ...]:
    return parse_depths(text, empty=True)  # no depth: no sweep (the random nets are off)


def paper_error(name: str, gate_bias: float = 0.0) -> float | None:
    """He et al. 2016b's test error (%) of a variant on ResNet-110/CIFAR-10 (Tables 1–2; FAIL = inf where the
    paper reports "fail"), None where the paper has no such net. Gated shortcuts depend on the gate's initial
    bias b_g: exclusive gating fails for b_g from 0 to −5 and gives 8.70 % at −6, 9.81 % at −7; shortcut-only
    gating gives 12.86 % at b_g = 0 and 6.91 % at −6."""
    if name == "gate":
        return FAIL if gate_bias > -5.5 else (8.70 if gate_bias > -6.5 else 9.81)
    if name == "shortcut-gate":
        return {0.0: 12.86, -6.0: 6.91}.get(float(gate_bias))
    return PAPER_ERROR.get(name)


@dataclass(frozen=True)
class IdentitySettings:
    """What the identity-mapping study computes (He et al. 2016b).

    variants: names from VARIANTS, in the order shown; plain: also train the plain twin (the
    same net without shortcuts, trained once: without the shortcut the variants' plain nets
    compute the same sequence of layers); seeds: initialisations (and data orders) per net,
    from the pair's seed on; gate_bias: the gates' initial bias b_g (He 2016b Table 1 tries 0
    and −6); dropout: the drop rate of the dropout shortcut; random_nets: also the lag-1 and
    size of df/dx of random 1-D nets against depth for the plain net and each λ of the chosen
    variants (`shattering.scale_sweep`, width `sweep_width`, `sweep_seeds` nets per depth on
    `sweep_points` inputs).
    """

    variants: tuple[str, ...] = setting(
        ("original", "pre-activation"), "Variants of the residual block (shortcut: He 2016b Fig. 2; activation "
        "placement: Fig. 4)", options=tuple(VARIANTS), min_items=1, unique=True, labels=lambda v: VARIANTS[v].label,
        key="id_variants",
        help=" · ".join(f"{v.label}: {v.note}" for v in VARIANTS.values()))
    plain: bool = setting(True, "Plain twin too", key="id_plain",
                          help="Also train the residual net's plain twin (no shortcuts) with the same budget.")
    seeds: int = setting(1, "Seeds per net", min=1, max=5, step=1, key="id_seeds",
                         help="Initialisations and data orders per net; the table gives mean and range over them.")
    gate_bias: float = setting(0.0, "Gate bias b_g", min=-MAX_GATE_BIAS, max=MAX_GATE_BIAS, step=1.0, key="id_gate_bias",
                               help="Initial bias of the gates g(x) = sigmoid(W·x + b_g): g starts near sigmoid(b_g). "
                                    "He et al. 2016b try 0 and −6.")
    dropout: float = setting(0.5, "Shortcut dropout rate", min=0.0, max=MAX_DROPOUT, step=0.05, key="id_dropout")
    random_nets: bool = setting(False, "Also random 1-D nets for each λ (shattering; about 20 s)", key="id_random_nets",
                                help="Lag-1 autocorrelation and size of df/dx of random nets f: ℝ → ℝ against depth "
                                     "(Balduzzi et al. 2017's experiment). Whether λ < 1 shatters is the lab's own "
                                     "question, not He et al.'s.")
    sweep_depths: tuple[int, ...] = setting(SCALE_SWEEP_DEPTHS, "Depths of the random-net sweep", min=1, max=MAX_DEPTH,
                                            max_items=MAX_SWEEP_DEPTHS, unique=True,
                                            parse=lambda t: _depths(t), show=lambda v: ",".join(map(str, v)))
    sweep_width: int = setting(200, "Units a layer of the random nets", min=1, max=MAX_WIDTH, step=1)
    sweep_seeds: int = setting(2, "Random nets per depth", min=1, max=MAX_SHATTER_SEEDS, step=1)
    sweep_points: int = setting(256, "Inputs of the random nets", min=3, max=MAX_POINTS, step=1)

    def validate(self) -> None:
        """ConfigError with a one-line message for a study that cannot be computed: a field outside its declared
        domain (`settings.check_all`), or a random-net sweep without depths."""
        check_all(self)
        if self.random_nets and not self.sweep_depths:
            raise ConfigError("the random-net sweep needs depths")

    def nets(self, base: NetConfig) -> dict[str, NetConfig]:
        """label -> NetConfig of every net the study trains (first seed): the plain twin first, then the variants."""
        out = {PLAIN: base.twin()} if self.plain else {}
        for name in self.variants:
            net = base.replace(skip=True, **VARIANTS[name].fields(base))
            if net.shortcut in ("gate", "shortcut-gate"):  # b_g and the drop rate only where they act, so the
                net = net.replace(gate_bias=self.gate_bias)  # other nets keep their runs when they change
            if net.shortcut == "dropout":
                net = net.replace(dropout=self.dropout)
            out[VARIANTS[name].label] = net
        return out

    def scales(self, base: NetConfig) -> tuple[float, ...]:
        """The shortcut scales λ of the chosen λ-on-the-shortcut variants, ascending, without repeats."""
        nets = self.nets(base)
        return tuple(sorted({float(n.shortcut_scale) for k, n in nets.items()
                             if k != PLAIN and n.shortcut == "identity"})) or (1.0,)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "variants": list(self.variants), "sweep_depths": list(self.sweep_depths)}


def _descendant_claims(rows: dict, names: dict, failed: list[str], ref: dict) -> list[str]:
    """Each descendant of the identity shortcut in `rows` (DESCENDANT_CLAIMS: who claimed what of it) against the
    original block `ref`: whether its test error is lower (or not higher), beyond ERROR_MARGIN, as claimed."""
    claims = []
    for label, r in rows.items():
        name = names.get(label, "")
        if name not in DESCENDANT_CLAIMS:
            continue
        who, claim, want = DESCENDANT_CLAIMS[name]
        if label in failed:
            claims.append(f"{label} fails to train ({who}: {claim})")
            continue
        gap = r["test_error"] - ref["test_error"]
        holds = gap <= -ERROR_MARGIN if want == "lower" else gap < ERROR_MARGIN
        claims.append(f"{label} {pct(r['test_error'])} against {pct(ref['test_error'])}: "
                      + ("holds" if holds else "not seen") + f" here ({who}: {claim})")
    return claims


@dataclass
class IdentityResult:
    """Trained variants (and plain twin) of one net over the seeds, the gradient reaching each
    block at initialisation and after training, and optionally the random-net λ sweep."""

    settings: IdentitySettings
    runs: dict[str, Run]  # the first seed's run of each net (curves)
    seed_runs: dict[str, list[Run]]  # every seed's run of each net (table)
    gradients: dict[str, dict[str, list[float]]]  # net -> {"init", "trained"} -> ‖∂L/∂x_l‖ per block
    parameters: dict[str, tuple[int, int]]  # net -> (its parameters, its plain twin's)
    curves: dict[str, dict] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per net, as He 2016b's Tables 1–2: variant, parameters (and its plain twin's),
        final training loss (eval mode, whole train set; mean, min and max over the seeds that trained),
        test error (over every seed that has one, failed seeds included) and how many seeds failed to
        train, with the first reason."""
        rows = []
        for label, runs in self.seed_runs.items():
            ok = [r for r in runs if not r.failure]
            loss = [r.history.train_loss for r in ok]
            # Test error of every seed with a final accuracy, failed ones too (a failed net's is shown, not hidden).
            err = [1 - r.history.test_accuracy for r in runs if r.history.test_accuracy == r.history.test_accuracy]
            failed = [r.failure for r in runs if r.failure]
            own, twin = self.parameters[label]
            rows.append({"net": label, "parameters": own, "plain_parameters": twin, "seeds": len(runs),
                         "train_loss": _mean(loss), "train_loss_min": min(loss, default=math.nan),
                         "train_loss_max": max(loss, default=math.nan), "test_error": _mean(err),
                         "test_error_min": min(err, default=math.nan), "test_error_max": max(err, default=math.nan),
                         "failed": len(failed), "failure": failed[0] if failed else None})
        return rows

    def formatted_table(self) -> list[dict[str, str]]:
        """`table()` as text for a page or a report (He 2016b's Tables 1–2 at toy scale): each net's parameters
        (and its plain twin's where the shortcut adds some), final training loss and test error (mean, with the
        range over seeds when there are several; '—' where no seed trained, as the column "failed to train"
        says) and, only when some net failed, how many seeds failed to train ("no" for a net that always trained),
        with the first reason."""
        def rng(r: dict, key: str, fmt) -> str:
            mean, lo, hi = r[key], r[f"{key}_min"], r[f"{key}_max"]
            if mean != mean:
                return MISSING
            return fmt(mean) + (f" ({fmt(lo)}–{fmt(hi)})" if r["seeds"] > 1 and hi > lo else "")

        rows = self.table()
        any_failed = any(r["failed"] for r in rows)
        return [{"net": r["net"],
                 "parameters": f"{r['parameters']:,}" + (f" (plain {r['plain_parameters']:,})"
                                                         if r["parameters"] != r["plain_parameters"] else ""),
                 "final training loss": rng(r, "train_loss", num),
                 "test error": rng(r, "test_error", pct),
                 **({"failed to train": f"{r['failed']} of {r['seeds']}: {r['failure']}" if r["failed"] else "no"}
                    if any_failed else {})}
                for r in rows]

    def verdict(self) -> Caption:
        """The full ranking as measured, and where it agrees with He et al. 2016b's Tables 1–2 (`verdict_lines`),
        after a takeaway: which net ends with the lowest and which with the highest training loss, and how many
        failed to train (`verdict_takeaway`)."""
        return Caption(self.verdict_takeaway(), " ".join(self.verdict_lines()))

    def verdict_takeaway(self) -> str:
        """One sentence: the nets with the lowest and the highest mean final training loss, with their losses and
        test errors, and how many nets failed to train (shorter forms where the labels are long)."""
        rows = {r["net"]: r for r in self.table()}
        trained = sorted((k for k, r in rows.items() if r["failed"] < r["seeds"]), key=lambda k: rows[k]["train_loss"])
        failed = [k for k, r in rows.items() if r["failed"] == r["seeds"]]
        gone = f"; {count(len(failed), 'net')} failed to train" if failed else ""
        if not trained:
            return f"No net trained: {'the only net' if len(rows) == 1 else 'all ' + count(len(rows), 'net')} failed."
        best, worst = rows[trained[0]], rows[trained[-1]]
        if len(trained) == 1:
            return _fit(f"Only {trained[0]} trained: final training loss {num(best['train_loss'])}, test error "
                        f"{pct(best['test_error'])}{gone}.", f"Only {trained[0]} trained{gone}.")
        return _fit(f"Lowest final training loss: {trained[0]}, {num(best['train_loss'])} (test error "
                    f"{pct(best['test_error'])}); highest: {trained[-1]}, {num(worst['train_loss'])} "
                    f"({pct(worst['test_error'])}){gone}.",
                    f"Lowest final training loss: {trained[0]}, {num(best['train_loss'])}; highest: {trained[-1]}, "
                    f"{num(worst['train_loss'])}{gone}.",
                    f"Lowest final training loss: {trained[0]}; highest: {trained[-1]}{gone}.")

    def verdict_lines(self) -> list[str]:
        """What this run measured, sentence by sentence, from its numbers only (He et al. 2016b, Tables 1–2):

        * the ranking of the nets by mean final training loss (eval mode, whole train set) with their test
          error, nets whose means are within MARGIN of each other named as tied, nets that failed to train last;
        * nets that barely trained (test accuracy below half-way from chance to 100 %), named;
        * each variant the paper measured, against the original block: lower, higher or tied here, and
          whether that is the paper's order (its test errors on ResNet-110/CIFAR-10), with why a toy run may
          differ where it does not."""
        rows = {r["net"]: r for r in self.table()}
        names = {VARIANTS[v].label: v for v in self.settings.variants} | {PLAIN: PLAIN}
        trained = sorted((k for k, r in rows.items() if r["failed"] < r["seeds"]), key=lambda k: rows[k]["train_loss"])
        failed = [k for k, r in rows.items() if r["failed"] == r["seeds"]]
        out = []
        ranked = []
        for i, k in enumerate(trained):
            r = rows[k]
            tie = i > 0 and r["train_loss"] < MARGIN * rows[trained[i - 1]]["train_loss"]
            ranked.append(("≈ " if tie else "") + f"{k} {num(r['train_loss'])} (test error {pct(r['test_error'])}"
                          + (f", {r['failed']} of {r['seeds']} seeds failed" if r["failed"] else "") + ")")
        text = ("Ranked by final training loss" + (f", mean over {self.settings.seeds} seeds" if self.settings.seeds > 1
                                                    else "") + ": " + "; ".join(ranked) if ranked else "No net trained")
        if failed:
            text += "; failed to train: " + "; ".join(f"{k} ({rows[k]['failure']})" for k in failed)
        ties = any(part.startswith("≈ ") for part in ranked)
        out.append(text + (f" (≈: within a factor {MARGIN:g} of the one before)." if ties else "."))
        chance = 1 / max(next(iter(self.runs.values())).net.classes, 1)
        weak = [k for k in trained if 1 - rows[k]["test_error"] < chance + WEAK * (1 - chance)]
        if weak:
            out.append("Barely trained: " + ", ".join(f"{k} ({pct(1 - rows[k]['test_error'], 0)} test accuracy)"
                                                       for k in weak)
                       + ". They did train, only barely in this budget: their loss is data, their test error says "
                         "little.")
        out.extend(self._paper_lines(rows, names, failed))
        return out

    def _paper_lines(self, rows: dict, names: dict, failed: list[str]) -> list[str]:
        """Each variant He et al. 2016b measured, against the original block, in the paper's terms: where the
        paper reports "fail", by the final training loss (failed here, or MARGIN× higher); where it reports a
        test error, by the test error (differences under ERROR_MARGIN, about the binomial noise of the digits'
        360 test images, are ties), with the training loss beside it."""
        ref_label = VARIANTS["original"].label
        if ref_label not in rows or rows[ref_label]["failed"] == rows[ref_label]["seeds"]:
            return []
        ref = rows[ref_label]
        agree, differ, tied, notes = self._against_paper(rows, names, failed, ref_label)
        claims = _descendant_claims(rows, names, failed, ref)
        if not (agree or differ or tied or claims):
            return []
        if not (agree or differ or tied):
            return [f"Test error against the original block, with a margin of {points(ERROR_MARGIN, 0).lstrip('+')}: "
                    + "; ".join(claims)
                    + "."]
        out = [f"Against the original block (test error {pct(ref['test_error'])}, training loss {num(ref['train_loss'])}; "
               f"He et al. 2016b, ResNet-110 on CIFAR-10: {PAPER_ERROR['original']:g} %):"
               + (f" as in the paper, {'; '.join(agree)}." if agree else "")
               + (f" Unlike the paper, {'; '.join(differ)}." if differ else "")
               + (f" Within {points(ERROR_MARGIN, 0).lstrip('+')} of test error here (a tie at this scale): "
                  f"{'; '.join(tied)}."
                  if tied else "")
               + (f" Test error of the descendants: {'; '.join(claims)}." if claims else "")] + notes
        if differ or tied:
            out.append("The paper's gaps between the better variants are tenths of a point of test error on 110-layer "
                       "nets trained for 164 epochs; a toy run on digits with a few epochs cannot resolve them, while a "
                       "variant that fails or trains far worse there should do so here too.")
        return out

    def _against_paper(self, rows: dict, names: dict, failed: list[str],
                       ref_label: str) -> tuple[list[str], list[str], list[str], list[str]]:
        """(agree, differ, tied, notes): each variant He et al. 2016b measured (Tables 1–2, `paper_error`) against
        the original block `ref_label`, sorted by whether this run orders it as the paper does. A variant the
        paper reports as failing agrees when it fails here or ends with a MARGIN× higher training loss; one with a
        test error is compared by test error (ties under ERROR_MARGIN), a tie settled in the paper's direction by a
        training loss CLEAR_RATIO× apart. Notes: a pre-activation net that trains worse but tests better, as He et
        al. 2016b §4.2 see (less overfitting)."""
        ref = rows[ref_label]
        agree, differ, tied, notes = [], [], [], []
        for label, r in rows.items():
            if label == ref_label:
                continue
            name = names.get(label, "")
            paper = paper_error(name, self.settings.gate_bias)
            if paper is None:
                continue
            ratio = r["train_loss"] / ref["train_loss"] if label not in failed and ref["train_loss"] > 0 else math.inf
            if paper == FAIL:
                said = (f"{label} fails to train" if label in failed else
                        f"{label} ends with a {'higher' if ratio >= 1 else 'lower'} training loss ({times(ratio)})")
                (agree if label in failed or ratio >= MARGIN else differ).append(said + " (paper: fails)")
                continue
            if label in failed:
                differ.append(f"{label} fails to train (paper: {paper:g} %)")
                continue
            gap = r["test_error"] - ref["test_error"]
            here = 1 if gap >= ERROR_MARGIN else -1 if gap <= -ERROR_MARGIN else 0
            there = 1 if paper > PAPER_ERROR["original"] else -1
            said = (f"{label}: {'higher' if gap > 0 else 'lower' if gap < 0 else 'the same'} test error "
                    f"({pct(r['test_error'])}; paper {paper:g} %), training loss {times(ratio)}")
            if here == 0 and (ratio >= CLEAR_RATIO and there > 0 or ratio <= 1 / CLEAR_RATIO and there < 0):
                here = there  # test errors tie at this scale, but training shows the paper's direction clearly
                said += f" ({'higher' if there > 0 else 'lower'} training loss, the paper's direction)"
            (tied if here == 0 else agree if here == there else differ).append(said)
            if name == "pre-activation" and ratio >= MARGIN and gap < 0:
                notes.append("The pre-activation net ends with a higher training loss but a lower test error, as He et "
                             "al. 2016b see for ResNet-164 (§4.2, Fig. 6: less overfitting).")
        return agree, differ, tied, notes

    def findings(self) -> str:
        """The spread of the per-block gradient norms of the first seed's nets over their first steps
        (`degradation.gradient_spreads`; the ranking is the verdict's)."""
        return gradient_spreads(self.runs)

    def gradient_caption(self) -> Caption:
        """How the gradient reaching the first block compares with the last one's, per net, at
        initialisation and after training (He 2016b eqs. 4–5: with λ on every shortcut the
        shortcut path scales it by the product of the λs) — from this run's numbers. The takeaway: the range of
        first/last ratios over the nets at initialisation, and after training."""
        parts, init_ratio, trained_ratio = [], {}, {}
        for label, g in self.gradients.items():
            init, trained = g["init"], g["trained"]
            if not init or not init[-1] > 0:
                continue
            r0, r1 = init[0] / init[-1], (trained[0] / trained[-1] if trained and trained[-1] > 0 else math.nan)
            init_ratio[label] = r0
            if r1 == r1:
                trained_ratio[label] = r1
            parts.append(f"{label}: first/last block {times(r0, 3)} at initialisation, "
                         + (f"{times(r1, 3)} trained" if r1 == r1 else "no gradient at the last block trained"))
        lam = [(k, n) for k, n in self.nets.items() if k != PLAIN and n.shortcut == "identity" and n.shortcut_scale != 1]
        text = ("‖∂L/∂x_l‖ at each block's input, mean over a batch of training inputs. " + "; ".join(parts) + ".")
        ref = next((k for k, n in self.nets.items() if k != PLAIN and n.shortcut == "identity"
                    and n.shortcut_scale == 1), None)
        for k, n in lam:
            init = self.gradients[k]["init"]
            if not (init and init[-1] > 0):
                continue
            grew = init[0] / init[-1]
            want = n.shortcut_scale ** (len(init) - 1)
            text += (f" For {k}, the shortcut path alone would scale the gradient by λ^{len(init) - 1} = {num(want)} "
                     f"from the last block to the first; measured {times(grew, 3)} through the whole net")
            r = self.gradients.get(ref, {}).get("init") if ref else None
            if r and r[-1] > 0:
                rel = grew / (r[0] / r[-1])
                how = ("smaller" if rel < 0.9 else "larger" if rel > 1.1 else "about the same")
                text += (f", {times(rel, 3)} of the identity net's ({how}: "
                         + ("the shortcut path shows through" if (rel < 0.9) == (n.shortcut_scale < 1) and how !=
                            "about the same" else "the branches, kept at scale by BN, carry most of it here")
                         + ")")
            text += "."
        return Caption(_ratio_takeaway(init_ratio, trained_ratio), text)

    @property
    def nets(self) -> dict[str, NetConfig]:
        """label -> the first seed's NetConfig of every net."""
        return {k: r.net for k, r in self.runs.items()}

    def sweep_caption(self) -> Caption | str:
        """What the random nets show for each λ, from their numbers (`shattering.scale_sweep_caption`), after a
        takeaway: each net's lag-1 at the deepest depth (1 smooth, 0 white noise); "" without the sweep."""

        if not self.curves:
            return ""
        depth = units(int(self.settings.sweep_depths[-1]), "single")
        lag1 = {label.replace("residual, ", ""): c["lag1"][-1] for label, c in self.curves.items()}
        each = ", ".join(f"{num(v, 2)} ({label})" for label, v in lag1.items())
        lo, hi = min(lag1, key=lag1.get), max(lag1, key=lag1.get)
        return Caption(_fit(f"At {depth}, the lag-1 correlation of neighbouring gradients is {each}.",
                            f"At {depth}, lag-1 of df/dx is {each}.",
                            f"At {depth}, lag-1 of df/dx runs from {num(lag1[lo], 2)} ({lo}) to {num(lag1[hi], 2)} "
                            f"({hi})."),
                       scale_sweep_caption(self.settings.sweep_depths, self.curves))

    def captions(self) -> dict[str, str]:
        """"gradients": what the gradient norms show; "sweep": what the random nets show for each λ ("" without)."""
        return {"gradients": self.gradient_caption(), "sweep": self.sweep_caption()}

    def to_dict(self) -> dict:
        """JSON-ready results with their captions (whole) and their takeaways."""
        caps = self.captions()
        return {"settings": self.settings.to_dict(), "table": self.table(),
                "runs": {k: [r.summary() for r in rs] for k, rs in self.seed_runs.items()},
                "gradients": self.gradients, "verdict": self.verdict(), "findings": self.findings(),
                "random_nets": self.curves, "captions": caps, "takeaways": {k: takeaway_of(c) for k, c in caps.items()}}


def _fit(*sentences: str) -> str:
    """The first of `sentences` of at most MAX_TAKEAWAY_WORDS words (the last one otherwise)."""
    return next((t for t in sentences if words(t) <= MAX_TAKEAWAY_WORDS), sentences[-1])


def _span(ratios: dict[str, float]) -> str:
    """"×a (net) to ×b (net)" over the nets' ratios, or "×a (net)" for one net (or all equal)."""
    lo, hi = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    if times(ratios[lo], 3) == times(ratios[hi], 3):
        return f"{times(ratios[lo], 3)} ({lo if len(ratios) == 1 else 'every net'})"
    return f"{times(ratios[lo], 3)} ({lo}) to {times(ratios[hi], 3)} ({hi})"


def _ratio_takeaway(init: dict[str, float], trained: dict[str, float]) -> str:
    """The takeaway of the gradient caption: the first block's gradient against the last block's, over the nets."""
    if not init:
        return "No net had a gradient at its last block to compare the first block's with."
    first = f"At initialisation the first block's gradient is {_span(init)} the last block's"
    later = f"; after training {_span(trained)}" if trained else ""
    return _fit(f"{first}{later}.", f"{first}.")


GRADIENT_BATCH = 256


def _mean(xs) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def block_input_gradients(model, x, y) -> list[float]:
    """‖∂L/∂x_l‖ for the input x_l of every block l (He et al. 2016b eqs. 4–5), mean over the
    examples of (x, y), with L the summed cross-entropy (so each example's gradient is its own).

    BN uses the batch's statistics, as in training, on a copy (the model and its running
    statistics are not touched). Dropout (in a branch or on the shortcut) draws its masks from a fixed seed, so the
    numbers are the same whatever ran before in the process (a page, a report, a test).
    """

    net = copy.deepcopy(model).cpu().train()
    inputs = []
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        h = net.stem(x.float())
        for block in net.blocks:
            h = h.detach().requires_grad_(True) if not inputs else h
            inputs.append(h)
            h = block(h)
        loss = F.cross_entropy(net.head(h), y, reduction="sum")
        grads = torch.autograd.grad(loss, inputs)
    return [float(g.flatten(1).norm(dim=1).mean()) for g in grads]


def identity_study(base: NetConfig, train_cfg: TrainConfig, settings: IdentitySettings = IdentitySettings(), *,
                   data=None, progress: Progress | None = None, trainer=None) -> IdentityResult:
    """He et al. 2016b's comparison at toy scale: train each variant of `base` (and its plain
    twin) with `train_cfg` — same initial weights and data order per seed (`base.seed` on),
    same budget — then measure ‖∂L/∂x_l‖ at every block at initialisation and after training
    (`block_input_gradients`) and, with `settings.random_nets`, random 1-D nets for each λ
    (`shattering.scale_sweep`).

    `progress(fraction, message)` as the work goes on; `trainer(net, cfg, progress) -> Run` trains
    one net (default `train.train`; the app passes its run store's). ConfigError for impossible
    settings, before any work.
    """

    settings.validate()
    nets = settings.nets(base)
    for net in nets.values():
        net.validate()
    train_cfg.validate()
    sweep_cost = (1 + len(settings.scales(base))) * sum(settings.sweep_depths) * settings.sweep_seeds / 3
    steps = Steps(progress, settings.seeds * sum(n.depth * train_cfg.epochs for n in nets.values())
                  + (sweep_cost if settings.random_nets else 0))
    data = data if data is not None else load_dataset(train_cfg.dataset, train_cfg.data_root, train_cfg.data_limit)
    trainer = trainer or default_trainer(data)
    gen = torch.Generator().manual_seed(0)
    pick = torch.randperm(len(data.x_train), generator=gen)[:GRADIENT_BATCH]
    xb, yb = data.x_train[pick], data.y_train[pick]
    seed_runs, gradients, parameters = {}, {}, {}
    for label, net in nets.items():
        seed_runs[label] = []
        for k in range(settings.seeds):
            n, cfg = net.replace(seed=net.seed + k), replace(train_cfg, seed=train_cfg.seed + k)
            what = f"training the {label} net" + (f", seed {k + 1}/{settings.seeds}" if settings.seeds > 1 else "")
            seed_runs[label].append(trainer(n, cfg, steps.part(n.depth * cfg.epochs, what)))
        run = seed_runs[label][0]
        gradients[label] = {"init": block_input_gradients(build_model(run.net), xb, yb),
                            "trained": block_input_gradients(run.model, xb, yb)}
        parameters[label] = (sum(p.numel() for p in run.model.parameters()),
                             sum(p.numel() for p in build_model(run.net.replace(skip=False), "meta").parameters()))
    curves = None
    if settings.random_nets:
        curves = scale_sweep(settings.sweep_depths, settings.scales(base), width=settings.sweep_width,
                             seeds=settings.sweep_seeds, points=settings.sweep_points,
                             progress=steps.part(sweep_cost, "random 1-D nets"))
    steps.finish()
    return IdentityResult(settings, {k: v[0] for k, v in seed_runs.items()}, seed_runs, gradients, parameters, curves,
                          {VARIANTS[v].label: VARIANTS[v].note for v in settings.variants})


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: IdentitySettings, inputs) -> IdentityResult:
    """The registry's computation of the identity-mapping view: `identity_study` of the pair's configs with
    `inputs.trainer` (default: the shipped runs, else trained)."""

    return identity_study(inputs.net, inputs.train, settings, data=inputs.data, progress=inputs.progress,
                          trainer=inputs.trainer or default_trainer(inputs.data))


def view_nets(net: NetConfig, cfg: TrainConfig, settings: IdentitySettings) -> list[tuple[NetConfig, TrainConfig]]:
    """Every (net, cfg) the identity study trains: each variant of `net` (and its plain twin) for every seed."""
    return [(n.replace(seed=n.seed + k), cfg.replace(seed=cfg.seed + k))
            for n in settings.nets(net).values() for k in range(settings.seeds)]
