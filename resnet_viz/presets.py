"""Presets: the classic figures of the residual-network papers, rebuilt at toy scale on digits.

A `Preset` names the page that shows it, the trained pair it needs (field overrides
on the app's default pair), and the page settings it sets (widget keys of that page,
or page state listed in the page's URL defaults). `sections(preset)` computes the same
figures with the library, with captions saying what to look for and what was
measured; `python -m resnet_viz report --preset SLUG --out FILE.html` writes them
as one offline HTML page (`resnet_viz.report`).

The configs are chosen so that each effect is plain to see on the 1,797 digits while
every report is computed in about a minute on two CPU cores.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .progress import Progress, Steps
from .models import NetConfig
from .report import Section
from .train import Run, TrainConfig, net_config_for, train


@dataclass(frozen=True)
class Preset:
    """One click in the app, one offline report: a classic comparison at toy scale.

    slug:    its name on the command line (`report --preset SLUG`).
    title:   the name shown to the class.
    page:    the page file that shows it, e.g. "pages/landscape.py".
    summary: what the class will see and why, with the paper.
    net:     NetConfig field overrides on the default pair's residual net (`net_config_for("digits")`).
    train:   TrainConfig field overrides on `TrainConfig()`.
    view:    page settings: session-state key -> value, each a widget key of `page` (or page
             state in its URL defaults) with a value that widget accepts. Treat as read-only:
             copy before handing values to a UI.
    """

    slug: str
    title: str
    page: str
    summary: str
    net: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)


# Random 1-D nets compared by the λ preset (the shattering view's nets: Balduzzi et al. 2017's one-layer modules).
SCALE_SWEEP = dict(width=200, seeds=2, points=256, depths=(1, 2, 3, 5, 8, 12, 20, 30, 50))
# Shortcut scales compared by the λ preset (He et al. 2016b, §3.1 and Table 1).
SCALES = (0.5, 1.0, 1.5)
SCALE_COLORS = {0.5: "#f4a582", 1.0: "#d6604d", 1.5: "#67001f"}
PRE_COLOR = "#1b7837"

PRESETS: tuple[Preset, ...] = (
    Preset(
        slug="degradation",
        title="Degradation (He 2016 Fig. 1)",
        page="pages/build_train.py",
        summary=("Plain and residual nets at 3, 9 and 15 blocks, the same budget and warm-up, three seeds: every "
                 "plain net trains, yet each deeper one keeps a higher training loss than the shallower one, while "
                 "the deeper residual nets end lower — the degradation problem that motivated shortcuts (He et al. "
                 "2016, Deep Residual Learning, Fig. 1). It is the training loss, so it is not overfitting; the "
                 "captions say what this run measured."),
        net=dict(depth=15, width=8),
        train=dict(epochs=6, warmup_epochs=1.0),
        view={"deg_depths": [3, 9, 15], "deg_seeds": 3, "deg_width": 8, "deg_epochs": 6, "deg_run": True},
    ),
    Preset(
        slug="landscapes",
        title="Skip vs no skip landscapes (Li 2018)",
        page="pages/landscape.py",
        summary=("The loss around the trained weights along two filter-normalized random directions, the same "
                 "for both nets: the 15-block plain net sits in a narrow, steep basin, the residual twin in a "
                 "wide one (Li et al. 2018, Visualizing the Loss Landscape of Neural Nets, Fig. 5)."),
        net=dict(depth=15, width=8),
        train=dict(epochs=8),
        view={"landscape_view": "2-D contours", "landscape_mode": "log", "landscape_clip": 10.0,
              "ls_grid": 13, "ls_span": 1.0, "ls_samples": 128, "ls_seed": 0, "ls_normalization": "filter",
              "ls_bias_bn": False},
    ),
    Preset(
        slug="shattering",
        title="Shattering with depth (Balduzzi 2017)",
        page="pages/shattering.py",
        summary=("Gradients df/dx of random nets f: ℝ → ℝ at 256 inputs, with Balduzzi's one-layer residual "
                 "modules x + W·ReLU(BN x) and their plain twins. Balduzzi et al. 2017 (The Shattered Gradients "
                 "Problem) show that without shortcuts the gradients turn into white noise with depth, while with "
                 "BN and shortcuts the correlation of neighbouring gradients decays only like 1/√L; the captions "
                 "say what this run measured, at 50 modules and against depth up to 50."),
        view={"sh_depth": 50, "sh_width": 200, "sh_lam": 1.0, "sh_seeds": 3, "sh_points": 256, "sh_bn": True,
              "sh_block": "single", "sh_looks_linear": False, "sh_sweep": "1,2,3,5,8,12,20,30,50"},
    ),
    Preset(
        slug="deletion",
        title="Delete a block (Veit 2016)",
        page="pages/ensemble.py",
        summary=("Delete one block of a trained 15-block net at test time: the residual net barely notices, the "
                 "plain net falls to near chance. Deleting more blocks degrades the residual net smoothly, like an "
                 "ensemble losing members, and most of its gradient flows along short paths (Veit et al. 2016, "
                 "Residual Networks Behave Like Ensembles of Relatively Shallow Networks)."),
        net=dict(depth=15, width=8),
        train=dict(epochs=8),
        view={"ens_samples": 20, "ens_max_k": 0, "ens_include_downsampling": False, "ens_seed": 0,
              "ens_batch": 128, "ensemble_diagram_n": 3},
    ),
    Preset(
        slug="preactivation",
        title="Pre-activation vs original (He 2016b)",
        page="pages/build_train.py",
        summary=("The original block adds the shortcut before a final ReLU; the full pre-activation block "
                 "(BN-ReLU-conv twice) leaves the shortcut path a pure identity, which He et al. 2016b (Identity "
                 "Mappings in Deep Residual Networks) find trains more easily and generalises better. The "
                 "captions say whether this 27-block run shows it."),
        net=dict(depth=27, width=8, order="pre"),
        train=dict(epochs=4),
    ),
    Preset(
        slug="shortcut-scale",
        title="Shortcut scale λ",
        page="pages/build_train.py",
        summary=("y = λ·x + F(x): only λ = 1 keeps an identity path through every block. Over n blocks the "
                 "shortcut path scales the signal and its gradient by λⁿ, so λ < 1 makes it fade and λ > 1 makes it "
                 "explode, which hampers training (He et al. 2016b, Identity Mappings in Deep Residual Networks, "
                 "§3). The report also measures, as the lab's own experiment, whether λ < 1 makes the gradients of "
                 "random nets shatter again like a plain net's; the captions say what this run measured."),
        net=dict(depth=15, width=8, shortcut_scale=0.5),
        train=dict(epochs=8),
    ),
)


def preset_slugs() -> list[str]:
    """The presets' command-line names, in lecture order."""
    return [p.slug for p in PRESETS]


def get_preset(slug: str) -> Preset:
    """The preset named `slug`; ValueError listing the valid names otherwise."""
    for p in PRESETS:
        if p.slug == slug:
            return p
    raise ValueError(f"unknown preset {slug!r}; choose one of: {', '.join(preset_slugs())}")


def preset_pair(preset: Preset) -> tuple[NetConfig, TrainConfig]:
    """(residual NetConfig, TrainConfig) of the preset's pair: the default pair with its overrides.

    The plain twin is `net.twin()`. Both configs are validated (ConfigError when not).
    """
    cfg = TrainConfig().replace(**preset.train)
    net = net_config_for(cfg.dataset, **{**preset.net, "skip": True})
    return net, cfg


# --- report sections ---------------------------------------------------------------------


def _train_units(net: NetConfig, cfg: TrainConfig) -> float:
    return net.depth * cfg.epochs


def _train(net: NetConfig, cfg: TrainConfig, data, steps: Steps, label: str) -> Run:
    steps(_train_units(net, cfg), f"training the {label} net ({net.name}, {cfg.epochs} epoch{'s' if cfg.epochs > 1 else ''})")
    return train(net, cfg, data=data)


def _data(cfg: TrainConfig):
    from .data import load_dataset

    return load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)


def _loss(run: Run) -> str:
    h = run.history
    if h.diverged:
        return f"diverged at step {h.diverged_at_step}"
    return f"{h.train_loss:.3g}" + (" (failed to train)" if run.failure else "")


def _acc(run: Run) -> str:
    a = run.history.test_accuracy
    return "—" if a != a else f"{a:.1%}"


def _degradation_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from .degradation import DegradationSettings, degradation_study, pair_findings
    from .plots import training as P

    net, cfg = preset_pair(preset)
    v = preset.view
    settings = DegradationSettings(depths=tuple(v["deg_depths"]), seeds=v["deg_seeds"], width=v["deg_width"],
                                   epochs=v["deg_epochs"])  # as the page builds them from these widgets
    steps = Steps(progress, 2 * _train_units(net, cfg) + 2 * settings.seeds * sum(settings.depths) * settings.epochs)
    data = _data(cfg)
    plain, residual = (_train(n, cfg, data, steps, n.name.split()[0]) for n in (net.twin(), net))
    runs = {"plain": plain, "residual": residual}
    result = degradation_study(net, cfg, settings, data=data,
                               progress=steps.part(steps.total - steps.done, "degradation study"))
    steps.finish()
    findings = " ".join(s.replace("**", "") for s in pair_findings(plain, residual))
    budget = (f"width {settings.width}, {settings.epochs} epochs (the first a linear warm-up) at learning rate "
              f"{settings.lr:g}, {settings.seeds} seed{'s' if settings.seeds > 1 else ''} per depth")
    return [
        Section("Training curves of the deep pair",
                f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on digits, same "
                f"initial weights and data order. Final training loss: plain {_loss(plain)}, residual "
                f"{_loss(residual)}; test accuracy: plain {_acc(plain)}, residual {_acc(residual)}. {findings}",
                P.loss_curves(runs)),
        Section("Gradient norm per block, first steps",
                f"How large ‖∂L/∂θ‖ is in each block over the first training steps. {findings}",
                P.gradient_norms(runs)),
        Section("Degradation: training loss and test error against iterations (He et al. 2016, Fig. 1)",
                f"Plain nets (left) and residual nets (right) at {', '.join(map(str, settings.depths))} blocks, "
                f"{budget}. {result.caption()}",
                P.degradation_curves(result)),
        Section("Final training loss against depth",
                "The final training loss (eval mode, whole train set) of every net; the band is the min–max over "
                "the seeds that trained, crosses mark nets that failed to train.",
                P.degradation(result.summary(), result.runs)),
    ]


def _landscape_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from . import landscape as L
    from .plots import landscape as P

    net, cfg = preset_pair(preset)
    v = preset.view
    grid, span, samples, seed = v["ls_grid"], v["ls_span"], v["ls_samples"], v["ls_seed"]
    mode, clip = v["landscape_mode"], v["landscape_clip"]
    # A grid point is one forward pass over `samples`; an epoch about 6,000 sample passes (train + eval).
    plane_units = grid * grid * net.depth * samples / 6000
    steps = Steps(progress, 2 * _train_units(net, cfg) + 2 * plane_units)
    data = _data(cfg)
    runs = {"plain": _train(net.twin(), cfg, data, steps, "plain"),
            "residual": _train(net, cfg, data, steps, "residual")}
    surfaces = {}
    for label, run in runs.items():
        steps(plane_units, f"loss surface of the {label} net ({grid}×{grid} grid, {samples} samples)")
        surfaces[label] = L.plane(run.model, data.x_train, data.y_train, grid=grid, span=span, samples=samples,
                                  seed=seed, normalization=v["ls_normalization"], include_bias_bn=v["ls_bias_bn"])
    steps.finish()
    zr = P.shared_zrange(surfaces.values(), mode, clip)
    chance = math.log(net.classes)  # cross-entropy of a uniform guess

    def stats(s) -> str:
        below = float(np.mean(np.nan_to_num(s.loss, nan=np.inf) < chance))
        return f"loss at θ* {s.center_loss:.3g}, median over the plane {np.nanmedian(s.loss):.3g}, {below:.0%} of the plane below chance loss"

    out = []
    for label, s in surfaces.items():
        out.append(Section(
            f"{label.capitalize()} net: loss surface",
            f"{runs[label].net.name}, width {net.width}, trained {cfg.epochs} epochs. f(α, β) = L(θ* + αδ + βη) on a "
            f"{grid}×{grid} grid over [−{span:g}, {span:g}]², filter-normalized directions from seed {seed} (the same "
            f"for both nets), one colour scale for both. {stats(s)[0].upper() + stats(s)[1:]}.",
            P.contour_figure(s, f"{label}: {runs[label].net.name}", mode, clip, zr)))
    out.append(Section(
        "1-D slices through θ*",
        f"{L.slices_caption(surfaces)} {L.surfaces_caption(surfaces['plain'], surfaces['residual'], net.classes)} "
        f"Plain: {stats(surfaces['plain'])}; residual: {stats(surfaces['residual'])}.",
        P.slices_figure(surfaces, mode, clip)))
    return out


def _shattering_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from . import shattering as sh
    from .plots import shattering as P

    s = {k[3:]: v for k, v in preset.view.items() if k.startswith("sh_")}  # the page's settings
    depths = sorted({int(t) for t in s["sweep"].split(",") if t.strip()})
    steps = Steps(progress, 2 * s["seeds"] * (s["depth"] + sum(depths)))
    # As the page does: the residual net and its plain twin (looks-linear init optional).
    block, _, order = s["block"].partition("-")  # the page's choices: "single" | "basic-post" | "basic-pre"
    base = sh.shatter_config(s["depth"], s["width"], shortcut_scale=s["lam"], norm="batch" if s["bn"] else "none",
                             block=block, order=order or None)
    steps(2 * s["seeds"] * s["depth"],
          f"gradients of {s['seeds']} random plain and residual nets, {sh.units(s['depth'], block)}")
    plain = sh.shatter(base.replace(skip=False), points=s["points"], seeds=s["seeds"],
                       looks_linear_init=s["looks_linear"])
    residual = sh.shatter(base.replace(skip=True), points=s["points"], seeds=s["seeds"])
    sweep = sh.depth_sweep(base, depths, seeds=s["seeds"], points=s["points"], looks_linear_plain=s["looks_linear"],
                           progress=steps.part(2 * s["seeds"] * sum(depths), "depth sweep"))
    steps.finish()
    module = ("one-layer residual modules x + W·ReLU(BN x) (Balduzzi et al. 2017)" if block == "single" else
              "the lab's two-layer blocks")
    where = (f"{sh.units(s['depth'], block)}, {module}; the plain twin has "
             f"{int(sh.hidden_relu_layers(s['depth'], block))} hidden ReLU layers of {s['width']} units "
             f"({'BN, ' if s['bn'] else ''}He initialisation); {s['points']} inputs on [−2, 2]")
    table = "; ".join(f"{d}: plain {p:.2f}, residual {r:.2f}"
                      for d, p, r in zip(sweep.depths, sweep.mean("plain"), sweep.mean("residual")))
    n = f"{s['seeds']} net{'s' if s['seeds'] > 1 else ''}"
    return [
        Section("Plain net: gradient against input",
                f"{where}. The gradient df/dx of one random plain net; over {n} its lag-1 autocorrelation is "
                f"{plain.lag1:.2f}: {sh.noise_kind(plain.lag1)} (1 is smooth, 0 is white noise).",
                P.gradient_figure(plain)),
        Section("Residual net: gradient against input",
                f"The residual twin (same weights, with shortcuts); lag-1 autocorrelation {residual.lag1:.2f}: "
                f"{sh.noise_kind(residual.lag1)}.", P.gradient_figure(residual)),
        Section("Plain net: correlation of gradients",
                f"Correlation of g_i with g_j over {n}, central inputs: only the diagonal is lit when neighbouring "
                f"gradients are unrelated, bands along it when they agree. Here: {sh.noise_kind(plain.lag1)} "
                f"(lag-1 {plain.lag1:.2f}).", P.correlation_figure(plain)),
        Section("Residual net: correlation of gradients",
                f"The same for the residual net. Here: {sh.noise_kind(residual.lag1)} (lag-1 {residual.lag1:.2f}).",
                P.correlation_figure(residual)),
        Section("Autocorrelation of the gradients",
                "r_k between gradients k grid steps apart (white noise drops to 0 after one step, brown noise "
                f"decays slowly). {sh.setting_caption(plain, residual)}", P.acf_figure(plain, residual)),
        Section("Lag-1 autocorrelation against depth",
                f"{sh.sweep_caption(sweep)} Measured ({'modules' if block == 'single' else 'blocks'}: lag-1) — "
                f"{table}.", P.sweep_figure(sweep)),
    ]


def _deletion_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from . import ensemble as E
    from .plots import ensemble as P

    net, cfg = preset_pair(preset)
    v = preset.view
    samples, seed, max_k = v["ens_samples"], v["ens_seed"], v["ens_max_k"] or None
    steps = Steps(progress, 2 * _train_units(net, cfg) + 3 * net.depth * samples / 10)
    data = _data(cfg)
    runs = [_train(n, cfg, data, steps, n.name.split()[0]) for n in (net.twin(), net)]
    results = [E.lesion_study(run, samples=samples, seed=seed, max_k=max_k,
                              include_downsampling=v["ens_include_downsampling"],
                              progress=steps.part(net.depth * samples / 10, f"deleting blocks of the {run.label} net"))
               for run in runs]
    paths = E.path_gradient_study(runs[1], samples=samples, seed=seed, batch=v["ens_batch"],
                                  progress=steps.part(net.depth * samples / 10, "gradient by path length"))
    steps.finish()

    down = ", ".join(str(i + 1) for i in results[1].downsampling_blocks)
    n = v["ensemble_diagram_n"]
    out = [
        Section("The unrolled view",
                f"y = y' + f(y') at every block: {n} blocks expand into 2^{n} = {2 ** n} paths, C({n}, k) of them "
                f"through k residual branches (Veit et al. 2016, Fig. 1). The trained residual net below has "
                f"{net.depth} blocks: {2 ** net.depth:,} paths.", P.unrolled_figure(n)),
    ]
    for run, r in zip(runs, results):
        out.append(Section(
            f"{r.label.capitalize()} net: delete one block",
            f"{run.net.name}, width {net.width}: test accuracy with one "
            f"block removed (residual: y = x + F(x) → y = x; plain: y = F(x) → y = x). Hatched bars are "
            f"downsampling blocks ({down}), where a deleted block becomes y = shortcut(x). Measured: "
            f"{E.deletion_caption([r])}",
            P.deletion_figure(r)))
    ks = results[1].k_sweep
    ks_text = ", ".join(f"k={k}: {m:.0%}" for k, m in zip(ks.k, ks.mean)) if ks else ""
    out.append(Section(
        "Delete k blocks at once",
        f"Up to {samples} random sets of k deleted blocks. {E.k_sweep_caption(results)} "
        f"Residual net — {ks_text}.", P.k_sweep_figure(results)))
    if any(r.reorder is not None for r in results):
        out.append(Section(
            "Reorder blocks",
            E.reorder_caption(results), P.reorder_figure(results)))
    out.append(Section(
        "Gradient by path length", E.path_gradient_caption(paths, net.depth), P.path_length_figure(paths)))
    return out


def _preactivation_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from .degradation import runs_findings
    from .plots import training as P
    from .plots.common import PLAIN_COLOR, RESIDUAL_COLOR
    from .plots.compare import recolor

    net, cfg = preset_pair(preset)
    pre, post = net.replace(order="pre"), net.replace(order="post")
    steps = Steps(progress, 3 * _train_units(net, cfg))
    data = _data(cfg)
    runs = {"plain": _train(pre.twin(), cfg, data, steps, "plain"),
            "original residual": _train(post, cfg, data, steps, "original (post-activation) residual"),
            "pre-activation residual": _train(pre, cfg, data, steps, "pre-activation residual")}
    steps.finish()
    colors = {"plain": PLAIN_COLOR, "original residual": RESIDUAL_COLOR, "pre-activation residual": PRE_COLOR}
    pre_run, post_run = runs["pre-activation residual"], runs["original residual"]
    if pre_run.failure or post_run.failure or not pre_run.history.train_loss < post_run.history.train_loss:
        verdict = ("Here the pre-activation net does not end below the original one; He et al. 2016b's gain "
                   "(6.37 % vs 6.61 % error on ResNet-110, larger at 1001 layers) is small, and at toy scale the "
                   "order can go either way.")
    else:
        verdict = ("Here the pre-activation net ends below the original one, as He et al. 2016b find (6.37 % vs "
                   "6.61 % error on ResNet-110).")
    findings = runs_findings(runs) + " Test accuracy: " + ", ".join(f"{k} {_acc(r)}" for k, r in runs.items()) + "."
    setting = (f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on digits, "
               "the same initial weights and data order")
    return [
        Section("Training curves: original vs pre-activation blocks",
                f"{setting}. Original block (He 2016): relu(x + BN(conv(relu(BN(conv(x)))))), a ReLU after the "
                f"addition; pre-activation (He 2016b): x + conv(relu(BN(conv(relu(BN(x)))))). The plain twin is the "
                f"same net for both orders (the same layers in the same sequence; only the block boundaries move), "
                f"so it is trained once. {verdict} {findings}",
                recolor(P.loss_curves(runs), colors)),
        Section("Test accuracy",
                "Test accuracy per epoch of the three nets (chance is 10 %).",
                recolor(P.accuracy_curves(runs, 1.0 / net.classes), colors)),
        Section("Gradient norm per block, first steps",
                "‖∂L/∂θ‖ per block over the first steps (median, band: min to max). With pre-activation the path "
                "from any block to the output through the shortcuts is a pure identity (no ReLU after the "
                f"addition; He et al. 2016b, eqs. 4–5). {runs_findings(runs)}",
                recolor(P.gradient_norms(runs), colors)),
    ]


def _scale_sweep(depths, seeds: int, points: int, width: int) -> dict[str, dict]:
    """Lag-1 autocorrelation and RMS of df/dx of random 1-D nets by depth, for each λ and the plain net.

    The nets are the shattering view's: Balduzzi et al. 2017's one-layer modules y = λ·x + W·ReLU(BN x).
    Each curve: {"lag1", "rms", "color", "lam"} (lam None for the plain net).
    """
    from . import shattering as sh
    from .plots.common import PLAIN_COLOR

    curves = {}
    kinds = [("plain", dict(skip=False), PLAIN_COLOR, None)] + [
        (f"residual, λ = {lam:g}", dict(shortcut_scale=lam), SCALE_COLORS.get(lam), lam) for lam in SCALES]
    for label, kw, color, lam in kinds:
        lag1, rms = [], []
        for d in depths:
            r = sh.shatter(sh.shatter_config(d, width, **kw), points=points, seeds=seeds)
            lag1.append(r.lag1)
            rms.append(float(np.sqrt(np.mean(r.gradients ** 2))))
        curves[label] = {"lag1": lag1, "rms": rms, "color": color, "lam": lam}
    return curves


def _scale_sections(preset: Preset, progress: Progress | None) -> list[Section]:
    from .degradation import rank_runs, runs_findings
    from . import shattering as sh
    from .plots import training as P
    from .plots.common import PLAIN_COLOR
    from .plots.compare import recolor, scale_sweep_figure

    net, cfg = preset_pair(preset)
    s = SCALE_SWEEP
    steps = Steps(progress, (1 + len(SCALES)) * _train_units(net, cfg) + (1 + len(SCALES)) * sum(s["depths"]))
    data = _data(cfg)
    runs = {"plain": _train(net.twin(), cfg, data, steps, "plain")}
    for lam in SCALES:
        runs[f"λ = {lam:g}"] = _train(net.replace(shortcut_scale=lam), cfg, data, steps, f"residual λ = {lam:g}")
    steps((1 + len(SCALES)) * sum(s["depths"]), "gradients of random 1-D nets for each λ and depth")
    curves = _scale_sweep(s["depths"], s["seeds"], s["points"], s["width"])
    steps.finish()
    colors = {"plain": PLAIN_COLOR, **{f"λ = {lam:g}": SCALE_COLORS[lam] for lam in SCALES}}
    fig = recolor(P.loss_curves(runs), colors)  # cuts an exploding run's spike off at the top, and names it
    best = rank_runs(runs)[0]
    failed = [k for k, r in runs.items() if r.failure]
    verdict = (f"Here {best} ends with the lowest training loss"
               + (f", and {', '.join(failed)} failed to train." if failed else "; no net failed to train."))
    return [
        Section("Training curves for λ = 0.5, 1 and 1.5",
                f"Residual nets y = λ·x + F(x) with {net.depth} blocks, width {net.width}, {cfg.epochs} epochs, and "
                f"their plain twin; same initial weights and data order (a spike far above the rest is cut off at the top "
                f"of the axis and named there). "
                f"{verdict} {runs_findings(runs)}", fig),
        Section("Gradients of random nets by λ and depth",
                f"Random nets f: ℝ → ℝ of Balduzzi's one-layer modules y = λ·x + W·ReLU(BN x) ({s['width']} units; "
                f"{s['seeds']} seeds, {s['points']} inputs). Left: lag-1 autocorrelation of df/dx (1 smooth, 0 white "
                f"noise); right: the gradient's size, RMS of df/dx. "
                f"{sh.scale_sweep_caption(s['depths'], curves)}",
                scale_sweep_figure(s["depths"], curves)),
    ]


_BUILDERS: dict[str, Callable[[Preset, Progress | None], list[Section]]] = {
    "degradation": _degradation_sections,
    "landscapes": _landscape_sections,
    "shattering": _shattering_sections,
    "deletion": _deletion_sections,
    "preactivation": _preactivation_sections,
    "shortcut-scale": _scale_sections,
}


def sections(preset: Preset, progress: Progress | None = None) -> list[Section]:
    """The preset's figures with captions (what to look for, what was measured), computed now.

    The same computations as the preset's page with its `view` settings. `progress(fraction,
    message)` is called before each step. Trains on CUDA when present, otherwise the CPU.
    """
    return _BUILDERS[preset.slug](preset, progress)


def report_intro(preset: Preset, seconds: float | None = None) -> str:
    """The opening paragraph of a preset's report: the summary, the pair and how long it took."""
    net, cfg = preset_pair(preset)
    took = f" Computed in {seconds:.0f} s." if seconds is not None else ""
    return (f"{preset.summary} Pair: {net.name} and its plain twin, width {net.width}"
            f"{f', λ = {net.shortcut_scale:g}' if net.shortcut_scale != 1 else ''}"
            f"{', pre-activation' if net.order == 'pre' else ''}; {cfg.epochs} epochs of {cfg.optimizer.upper()} on "
            f"{cfg.dataset}. In the app: the '{preset.title}' preset opens {preset.page}.{took}")


def build_report(preset: Preset, progress: Progress | None = None) -> tuple[str, str, list[Section]]:
    """(title, intro, sections) of a preset's report, for `report.write_report`."""
    start = time.perf_counter()
    secs = sections(preset, progress)
    return preset.title, report_intro(preset, time.perf_counter() - start), secs
