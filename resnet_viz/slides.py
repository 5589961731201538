"""A preset's report: the view's study computed with the preset's settings, as report sections.

`build_report(preset)` trains the preset's pair when its view needs one, calls the same study
function the view's page calls (`degradation_study`, `landscape_study`, `shattering_study`,
`ensemble_study`, `identity_study`, `playground_study`) with the preset's settings, and turns the result into
`report.Section`s: the page's figures with the captions the library derives from the numbers.
"""

from __future__ import annotations

import time

from .assets import default_trainer
from .presets import Preset, preset_pair
from .progress import Progress, Steps
from .report import Section
from .train import Run


def _acc(run: Run) -> str:
    from .numbers import pct

    return pct(run.history.test_accuracy)


def _loss(run: Run) -> str:
    h = run.history
    if h.diverged:
        return f"diverged at step {h.diverged_at_step}"
    from .numbers import num

    return num(h.train_loss) + (" (failed to train)" if run.failure else "")


def training_sections(runs: dict[str, Run], findings: list[str]) -> list[Section]:
    """The Build & train view of a trained pair: training curves and gradient norms per block."""
    from .plots import training as P

    from .captions import Caption
    from .degradation import pair_caption

    plain, residual = runs["plain"], runs["residual"]
    net, cfg = residual.net, residual.train
    pair = pair_caption(plain, residual)
    text = " ".join(s.replace("**", "") for s in findings)
    return [
        Section("Training curves of the deep pair", Caption(
            pair.takeaway,
            f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on "
            f"{cfg.dataset}, same initial weights and data order. Final training loss: plain {_loss(plain)}, "
            f"residual {_loss(residual)}; test accuracy: plain {_acc(plain)}, residual {_acc(residual)}. {pair.details}"),
                P.loss_curves(runs)),
        Section("Gradient norm per block, first steps", Caption(
            pair.takeaway, f"How large ‖∂L/∂θ‖ is in each block over the first training steps. {text}"),
                P.gradient_norms(runs)),
    ]


def degradation_sections(result) -> list[Section]:
    """The degradation study (He et al. 2016 Fig. 1): curves by depth and final loss against depth."""
    from .plots import training as P

    from .captions import Caption
    from .numbers import count, num

    s = result.settings
    cap = result.caption()
    budget = (f"width {s.width}, {count(s.epochs, 'epoch')} (the first a linear warm-up) at learning rate "
              f"{num(s.lr)}, {count(s.seeds, 'seed')} per depth")
    return [
        Section("Degradation: training loss and test error against iterations (He et al. 2016, Fig. 1)", Caption(
            cap.takeaway, f"Plain nets (left) and residual nets (right) at {', '.join(map(str, s.depths))} blocks, "
                          f"{budget}. {cap.details}"), P.degradation_curves(result)),
        Section("Final training loss against depth", Caption(
            cap.takeaway, "The final training loss (eval mode, whole train set) of every net; the band is the min–max "
                          "over the seeds that trained, crosses mark nets that failed to train."),
                P.degradation(result.summary(), result.runs)),
    ]


def landscape_sections(view, runs: dict[str, Run]) -> list[Section]:
    """The loss-landscape view (Li et al. 2018) for its chosen sub-view: the planes (Fig. 5) and their 1-D slices,
    the interpolations (Goodfellow et al. 2015), the optimisation paths, or the Hessian's extreme eigenvalues with
    the Fig. 7 maps when they were computed."""
    from .plots import landscape as P
    from .plots.common import PLAIN_COLOR, RESIDUAL_COLOR

    s = view.settings
    if view.surfaces is not None:
        return _surface_sections(view, runs)
    if view.interpolations is not None:
        curves = view.interpolations
        return [Section("Interpolations between weights", view.caption(), fig) for fig in (
            P.interpolation_figure([(curves["plain: init → trained"], PLAIN_COLOR),
                                    (curves["residual: init → trained"], RESIDUAL_COLOR)],
                                   "Initial → trained weights (Goodfellow et al. 2015)", s.mode, s.clip),
            P.interpolation_figure([(curves["in the plain net"], PLAIN_COLOR),
                                    (curves["in the residual net"], RESIDUAL_COLOR)],
                                   "Plain weights (t=0) → residual weights (t=1)", s.mode, s.clip))]
    if view.trajectories is not None:
        trs = view.trajectories
        zr = P.shared_zrange([t.surface for t in trs.values()], s.mode, s.clip)
        colors = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}
        return [Section(f"{label.capitalize()} net: path of training", view.caption(),
                        P.trajectory_figure(tr, f"{label}: path of training", colors.get(label, PLAIN_COLOR),
                                            s.mode, s.clip, zr)) for label, tr in trs.items()]
    out = [Section("Extreme Hessian eigenvalues at θ*", view.caption(), P.curvature_figure(view.curvature))]
    if view.maps:
        zr = P.shared_ratio_range(view.maps.values())
        out += [Section(f"{label.capitalize()} net: |λmin/λmax| across the plane (Li et al. Fig. 7)", view.map_caption(),
                        P.curvature_map_figure(m, f"{label}: {runs[label].net.name}", zr))
                for label, m in view.maps.items()]
    return out


def _surface_sections(view, runs: dict[str, Run]) -> list[Section]:
    from .captions import Caption
    from .landscape import slices_caption, surface_stats
    from .plots import landscape as P

    s = view.settings
    zr = P.shared_zrange(view.surfaces.values(), s.mode, s.clip)
    net, cfg = runs["residual"].net, runs["residual"].train
    cap = view.caption()
    out = [Section(
        f"{label.capitalize()} net: loss surface", Caption(
            cap.takeaway,
            f"{runs[label].net.name}, width {net.width}, trained {cfg.epochs} epochs. f(α, β) = L(θ* + αδ + βη) on a "
            f"{s.grid}×{s.grid} grid over [−{s.span:g}, {s.span:g}]², {s.normalization}-normalized directions from "
            f"seed {s.seed} (the same for both nets), one colour scale for both. "
            f"{surface_stats(srf, view.classes)[0].upper()}{surface_stats(srf, view.classes)[1:]}."),
        P.contour_figure(srf, f"{label}: {runs[label].net.name}", s.mode, s.clip, zr))
        for label, srf in view.surfaces.items()]
    sl = slices_caption(view.surfaces)
    details = cap.details if cap.takeaway == sl.takeaway else f"{sl.details} {cap}"  # the 1-D view: its own caption
    out.append(Section("1-D slices through θ*", Caption(sl.takeaway, details),
                       P.slices_figure(view.surfaces, s.mode, s.clip)))
    return out


def shattering_sections(view) -> list[Section]:
    """The shattered-gradients view (Balduzzi et al. 2017): gradients, correlations, autocorrelation, sweep; each
    caption opens with the setting's (or the sweep's) takeaway."""
    from . import shattering as sh
    from .captions import Caption
    from .numbers import count
    from .plots import shattering as P

    s, plain, residual = view.settings, view.plain, view.residual
    cap = view.setting_caption()
    lp, lr = sh.lag_text(plain.lag1), sh.lag_text(residual.lag1)
    module = ("one-layer residual modules x + W·ReLU(BN x) (Balduzzi et al. 2017)" if s.block == "single" else
              "the lab's two-layer blocks")
    where = (f"{sh.units(s.depth, s.block)}, {module}; the plain twin has {int(sh.hidden_relu_layers(s.depth, s.block))} "
             f"hidden ReLU layers of {s.width} units ({'BN, ' if s.bn else ''}He initialisation); {s.points} inputs "
             "on [−2, 2]")
    n = count(s.seeds, "net")
    out = [
        Section("Plain net: gradient against input", Caption(
            cap.takeaway, f"{where}. The gradient df/dx of one random plain net; over {n} its lag-1 autocorrelation is "
                          f"{lp}: {sh.noise_kind(plain.lag1)} (1 is smooth, 0 is white noise)."),
                P.gradient_figure(plain)),
        Section("Residual net: gradient against input", Caption(
            cap.takeaway, f"The residual twin (same weights, with shortcuts); lag-1 autocorrelation {lr}: "
                          f"{sh.noise_kind(residual.lag1)}."), P.gradient_figure(residual)),
        Section("Plain net: correlation of gradients", Caption(
            cap.takeaway, f"Correlation of g_i with g_j estimated over positions (each net's autocorrelation by "
                          f"lag, averaged over {n}): only the diagonal is lit when "
                          f"neighbouring gradients are unrelated, bands along it when they agree. Here: "
                          f"{sh.noise_kind(plain.lag1)} (lag-1 {lp})."), P.correlation_figure(plain)),
        Section("Residual net: correlation of gradients", Caption(
            cap.takeaway, f"The same for the residual net. Here: {sh.noise_kind(residual.lag1)} (lag-1 {lr})."),
                P.correlation_figure(residual)),
        Section("Autocorrelation of the gradients", Caption(
            cap.takeaway, "r_k between gradients k grid steps apart (white noise drops to 0 after one step, brown "
                          f"noise decays slowly). {cap.details}"), P.acf_figure(plain, residual)),
    ]
    if view.sweep is not None:
        sw, swc = view.sweep, view.sweep_caption()
        table = "; ".join(f"{d}: plain {sh.lag_text(p)}, residual {sh.lag_text(r)}"
                          for d, p, r in zip(sw.depths, sw.mean("plain"), sw.mean("residual")))
        out.append(Section("Lag-1 autocorrelation against depth", Caption(
            swc.takeaway, f"{swc.details} Measured ({'modules' if s.block == 'single' else 'blocks'}: lag-1) — "
                          f"{table}."), P.sweep_figure(sw)))
    return out


def playground_sections(result) -> list[Section]:
    """The Playground view (after TensorFlow Playground, Smilkov et al. 2017): the animated boundaries with the
    loss curves, what each block draws, and the gradient reaching the first block."""
    from .plots import playground as P

    from .captions import Caption

    caps = result.captions()
    lesson = caps["lesson"]
    return [Section("Decision boundaries through training",
                    Caption(lesson.takeaway, f"{caps['boundary']} {lesson.details}"), P.boundary_figure(result)),
            Section("What each block draws", caps["blocks"], P.blocks_figure(result)),
            Section("Gradient reaching the first and the last block", caps["gradient"], P.gradient_figure(result))]


def ensemble_sections(view, runs: dict[str, Run]) -> list[Section]:
    """The unrolled-ensemble view (Veit et al. 2016): the unrolled graph, deletions, k-sweep, reorder, paths."""
    from .captions import details_of, takeaway_of
    from .numbers import pct
    from .plots import ensemble as P

    s, caps = view.settings, view.captions()
    net = runs["residual"].net
    down = ", ".join(str(i + 1) for i in view.residual.downsampling_blocks)
    n = s.diagram_blocks
    out = [Section("The unrolled view",
                   f"The trained residual net's {net.depth} blocks unroll into {2 ** net.depth:,} paths, most of them "
                   f"about {net.depth / 2:g} blocks long. y = y' + f(y') at every block: {n} blocks expand into 2^{n} = {2 ** n} paths, C({n}, k) of them "
                   f"through k residual branches (Veit et al. 2016, Fig. 1). The trained residual net below has "
                   f"{net.depth} blocks: {2 ** net.depth:,} paths.", P.unrolled_figure(n))]
    deletion, k_sweep = caps["deletion"], caps["k_sweep"]
    for r in view.lesions:  # each caption the takeaway first, then how it was measured
        out.append(Section(
            f"{r.label.capitalize()} net: delete one block",
            f"{takeaway_of(deletion)} {runs[r.label].net.name}, width {net.width}: test accuracy with one block removed "
            f"(residual: y = x + F(x) → y = x; plain: y = F(x) → y = x). Hatched bars are downsampling blocks ({down}), "
            f"where a deleted block becomes y = shortcut(x). Measured: {details_of(deletion)}", P.deletion_figure(r)))
    ks = view.residual.k_sweep
    ks_text = ", ".join(f"k = {k}: {pct(m, 0)}" for k, m in zip(ks.k, ks.mean)) if ks else ""
    out.append(Section("Delete k blocks at once",
                       f"{takeaway_of(k_sweep)} Up to {s.samples} random sets of k deleted blocks. {details_of(k_sweep)} "
                       f"Residual net — {ks_text}.", P.k_sweep_figure(view.lesions)))
    if caps["reorder"]:
        out.append(Section("Reorder blocks", caps["reorder"], P.reorder_figure(view.lesions)))
    out.append(Section("Gradient by path length", caps["paths"], P.path_length_figure(view.paths)))
    return out


def _error_takeaway(rows: list[dict]) -> str:
    """The identity report's test-accuracy takeaway: the lowest and the highest test error over the nets."""
    from .numbers import pct

    have = sorted((r for r in rows if r["test_error"] == r["test_error"]), key=lambda r: r["test_error"])
    if not have:
        return "No net has a test error: none trained."
    if len(have) == 1 or pct(have[0]["test_error"]) == pct(have[-1]["test_error"]):
        return f"Test error {pct(have[0]['test_error'])} for {'every net' if len(have) > 1 else have[0]['net']}."
    return (f"Test error from {pct(have[0]['test_error'])} ({have[0]['net']}) to {pct(have[-1]['test_error'])} "
            f"({have[-1]['net']}).")


def identity_sections(result) -> list[Section]:
    """The identity-mapping study (He et al. 2016b): training curves, test accuracy, gradient norms and,
    with random nets, lag-1 and size of df/dx by λ."""
    from .plots import training as P
    from .plots.compare import block_gradient_figure, identity_colors, recolor, scale_sweep_figure, table_figure
    from .numbers import pct

    runs = result.runs
    colors = identity_colors(runs)
    net, cfg = next(iter(runs.values())).net, next(iter(runs.values())).train
    notes = " ".join(f"{label}: {note}." for label, note in result.notes.items())
    setting = (f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on "
               f"{cfg.dataset}, the same initial weights and data order for every net")
    verdict = result.verdict()
    out = [
        Section("The variants side by side (He et al. 2016b, Tables 1 and 2 at toy scale)",
                f"{verdict.takeaway} {setting}. Parameters (a gated or 1×1 shortcut adds some to the residual net only; "
                "its plain twin's count is given), final training loss and test error (mean over the seeds that "
                f"trained, range in brackets with several seeds; '—' where no seed trained). {verdict.details}",
                table_figure(result.formatted_table())),
        Section("Training curves of every variant",
                f"{notes} A spike far above the rest is cut off at the top of the axis and named there. "
                f"{result.findings()}", recolor(P.loss_curves(runs), colors)),
        Section("Test accuracy",
                f"{_error_takeaway(result.table())} Test accuracy per epoch of every net (chance is "
                f"{pct(1 / net.classes, 0)}). Test error: " + "; ".join(
                    f"{row['net']} {pct(row['test_error'])}" + (" (failed to train)" if row["failed"] else "")
                    for row in result.table()) + ".",
                recolor(P.accuracy_curves(runs, 1.0 / net.classes), colors)),
        Section("Gradient norm per block, first steps",
                "‖∂L/∂θ‖ per block over the first steps (median, band: min to max). With an identity shortcut and "
                "pre-activation the path from any block to the output is a pure identity (He et al. 2016b, eqs. "
                f"4–5). {result.findings()}", recolor(P.gradient_norms(runs), colors)),
    ]
    out.append(Section("Gradient reaching each block (He et al. 2016b, eqs. 4–5)", result.gradient_caption(),
                       block_gradient_figure(result.gradients, colors)))
    if result.curves:
        s = result.settings
        curves = {k: {**c, "color": c2} for (k, c), c2 in zip(result.curves.items(),
                                                              identity_colors(result.curves).values())}
        out.append(Section(
            "Gradients of random nets by λ and depth",
            f"Random nets f: ℝ → ℝ of Balduzzi's one-layer modules y = λ·x + W·ReLU(BN x) ({s.sweep_width} units; "
            f"{s.sweep_seeds} seeds, {s.sweep_points} inputs). Left: lag-1 autocorrelation of df/dx (1 smooth, 0 "
            f"white noise); right: the gradient's size, RMS of df/dx. {result.sweep_caption()}",
            scale_sweep_figure(s.sweep_depths, curves)))
    return out


def sections(preset: Preset, progress: Progress | None = None, trainer=None, results=None,
             resolve=None) -> list[Section]:
    """The preset's figures with captions (what to look for, what this run measured), from the study of its view
    (`registry`) with its settings: the pair trained first where the view shows it, then the study's result read
    where it is kept (`results.study`: the `results` store, by default the process's, with the shipped ones) or
    computed now and kept. Trains on CUDA when present, with `trainer(net, cfg, progress) -> Run` when given (a
    run store's: see `prepare`); by default the shipped runs are loaded and the rest trained. `resolve(net, cfg)`
    finds the runs a kept result names (`results.shipped_resolver`, by default the shipped runs)."""
    from .data import load_dataset
    from .registry import Inputs

    from .results import shipped_resolver, study

    view = preset.view_record
    s = preset.settings
    if view.inputs == "none":
        inputs = Inputs(progress=progress)
        return view.sections(study(view, s, inputs, store=results), inputs)
    net, cfg = preset_pair(preset)
    data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
    trainer = trainer or default_trainer(data)
    pair_cost = 2 * net.depth * cfg.epochs if view.pair_shown else 0
    study_cost = sum(n.depth * c.epochs for n, c in view.nets(net, cfg, s)) if view.nets else pair_cost or 1
    steps = Steps(progress, pair_cost + study_cost)
    inputs = Inputs(net=net, train=cfg, data=data, trainer=trainer)
    if view.pair_shown:
        inputs.runs = {label: trainer(n, cfg, steps.part(n.depth * cfg.epochs, f"training the {label} net"))
                       for label, n in (("plain", net.twin()), ("residual", net))}
    inputs.progress = steps.part(study_cost)
    out = view.sections(study(view, s, inputs, store=results, resolve=resolve or shipped_resolver()), inputs)
    steps.finish()
    return out


def report_intro(preset: Preset, seconds: float | None = None) -> str:
    """The opening paragraph of a preset's report: the summary, the pair (or what its view computes) and how
    long it took."""
    net, cfg = preset_pair(preset)
    view = preset.view_record
    took = f" Computed in {seconds:.0f} s." if seconds is not None else ""
    opens = f" In the app: the '{preset.title}' preset opens the {view.title} view.{took}"
    if view.inputs == "none" and view.describe is not None:
        return f"{preset.summary} {view.describe(preset.settings)}{opens}"
    return (f"{preset.summary} Pair: {net.name} and its plain twin, width {net.width}"
            f"{f', λ = {net.shortcut_scale:g}' if net.shortcut_scale != 1 else ''}"
            f"{', pre-activation' if net.order == 'pre' else ''}; {cfg.epochs} epochs of {cfg.optimizer.upper()} on "
            f"{cfg.dataset}.{opens}")


def build_report(preset: Preset, progress: Progress | None = None) -> tuple[str, str, list[Section]]:
    """(title, intro, sections) of a preset's report, for `report.write_report`."""
    start = time.perf_counter()
    secs = sections(preset, progress)
    return preset.title, report_intro(preset, time.perf_counter() - start), secs
