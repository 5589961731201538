"""A preset's report: the view's study computed with the preset's settings, as report sections.

`build_report(preset)` trains the preset's pair when its view needs one, calls the same study
function the view's page calls (`degradation_study`, `landscape_study`, `shattering_study`,
`ensemble_study`, `identity_study`, `playground_study`) with the preset's settings, and turns the result into
`report.Section`s: the page's figures with the captions the library derives from the numbers.
"""

from __future__ import annotations

import time

from .assets import default_trainer
from .data import load_dataset
from .presets import Preset, preset_pair
from .progress import Progress, Steps
from .registry import Inputs
from .report import Section
from .results import shipped_resolver, study


def sections(preset: Preset, progress: Progress | None = None, trainer=None, results=None,
             resolve=None) -> list[Section]:
    """The preset's figures with captions (what to look for, what this run measured), from the study of its view
    (`registry`) with its settings: the pair trained first where the view shows it, then the study's result read
    where it is kept (`results.study`: the `results` store, by default the process's, with the shipped ones) or
    computed now and kept. Trains on CUDA when present, with `trainer(net, cfg, progress) -> Run` when given (a
    run store's: see `prepare`); by default the shipped runs are loaded and the rest trained. `resolve(net, cfg)`
    finds the runs a kept result names (`results.shipped_resolver`, by default the shipped runs)."""

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
