"""The lab in a notebook: one function per view of the registry, and the trained pair they study.

    import resnet_viz as rv

    pair = rv.default_pair()              # the app's default pair: the shipped runs, nothing trained
    r = rv.landscape(pair, grid=21)       # the Loss landscape view (Li et al. 2018), the page's settings
    r                                     # in Jupyter: the page's figures with their captions
    r.captions, r.figures(), r.to_dict()  # the captions, the plotly figures, the command line's JSON
    rv.train_pair(depth=9, epochs=4)      # another pair, both twins trained side by side, kept like the app's

The functions are generated from the view registry (`registry.VIEWS`), so every view has one and a new view gets
one: each is named after its view's library module (`rv.degradation`, `rv.playground`, `rv.landscape`,
`rv.shattering`, `rv.ensemble`, `rv.identity`, `rv.family`, `rv.features`), takes the trained pair where its
view studies one, and takes the view's settings as keyword arguments with the page's field names, defaults and
domains (`settings.setting`: the same declarations as the page's widgets and the command line's flags). Each
computes the view's one study through `results.study`, the path of the app's pages and of the command line's
view subcommands: a result kept on this machine (the app's store) or shipped with the lab is read, anything else
computed and kept. So a notebook, the app and `python -m resnet_viz` show the same numbers for the same settings.

A bad argument raises the lab's one-line `ConfigError`: an unknown keyword (`UnknownSetting`, also a TypeError,
naming the valid ones) or a value outside a setting's domain. Nothing here imports Streamlit.

`resnet_viz` re-exports these names lazily (`resnet_viz/__init__.py`): `import resnet_viz` loads no PyTorch.
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import inspect
import os
import re
import sys
import threading
import time
from typing import Callable

import numpy as np
import torch

from .assets import default_pair_configs, load_shipped, shipped_first
from .captions import Caption, takeaway_of
from .data import load_dataset
from .jobs import JobGate
from .models import NetConfig
from .numbers import pct
from .plots.family import cost_figure
from .plots.features import attribution_figure, statistics_figure
from .registry import VIEWS, View, pair_inputs
from .report import Section
from .results import study
from .settings import ConfigError, Spec, specs
from .store import RunStore, default_folder
from .train import Run, TrainConfig, load_run, net_config_for
from .views.features import input_at, raw_max


class UnknownSetting(ConfigError, TypeError):
    """A keyword argument that names no setting (a ConfigError, and a TypeError as Python raises for an unknown
    keyword); the message names the valid ones."""


# --- the trained pair --------------------------------------------------------------------------------------------


class Pair:
    """A trained plain net and its residual twin: the same config and initial weights except the shortcut (He et
    al. 2016's comparison), each trained with the same `TrainConfig`.

    `plain`, `residual`: the two `train.Run`s (configs, model, training history); `net`: the residual net's
    `NetConfig` (the plain one is `net.twin()`); `train`: the training config; `runs`: {"plain", "residual"}.
    Made by `default_pair()`, `train_pair(...)` or `Pair.load(...)`; treat the runs as read-only (they are the run
    store's, shared by every view)."""

    def __init__(self, plain: Run, residual: Run) -> None:
        if plain.net.skip or not residual.net.skip:
            raise ConfigError("a pair is a plain net (skip=False) and its residual twin (skip=True), in that order")
        if plain.net.twin() != residual.net:
            raise ConfigError("the two nets are not twins: their configs differ beyond the shortcut")
        if plain.train != residual.train:
            raise ConfigError("the two nets were trained with different training configs")
        self.plain, self.residual = plain, residual

    @classmethod
    def load(cls, plain: str, residual: str) -> "Pair":
        """The pair saved in two run folders (`python -m resnet_viz train --twins --out DIR` writes DIR/plain and
        DIR/residual; `train.save_run`)."""

        return cls(load_run(plain), load_run(residual))

    @property
    def net(self) -> NetConfig:
        """The residual net's config (its plain twin: `net.twin()`)."""
        return self.residual.net

    @property
    def train(self) -> TrainConfig:
        """The training config of both nets."""
        return self.residual.train

    @property
    def runs(self) -> dict[str, Run]:
        """{"plain": Run, "residual": Run}: what the views of a trained pair compute from."""
        return {"plain": self.plain, "residual": self.residual}

    def __repr__(self) -> str:
        n, t = self.net, self.train
        net = f"{n.arch.upper()}-{n.layer_count}, {n.depth} blocks of width {n.width}"
        if n.shortcut_scale != 1:
            net += f", λ = {n.shortcut_scale:g}"
        trained = f"{t.epochs} epochs of {t.optimizer.upper()} on {t.dataset}"
        parts = []
        for run in (self.plain, self.residual):
            failed = f" (failed to train: {run.failure})" if run.failure else ""
            parts.append(f"{run.label} {pct(run.history.test_accuracy)}{failed}")
        return f"Pair({net}; {trained}; test accuracy: {', '.join(parts)})"


_stores: dict = {}
_stores_lock = threading.Lock()


def run_store():
    """The notebook's run store: the app's folder (`store.default_folder()`, $RESNET_VIZ_RUN_STORE, by default
    ~/.cache/resnet_viz/runs), so a pair trained here is one the app and the command line find trained, and the
    other way round; the shipped runs loaded rather than trained (`assets.load_shipped`); as many trainings at once
    as cores (`jobs.JobGate`), one PyTorch thread each, as the app trains them."""

    folder = default_folder()
    with _stores_lock:
        if folder not in _stores:
            _stores[folder] = RunStore(folder=folder, fallback=load_shipped, gate=JobGate(os.cpu_count() or 1))
        return _stores[folder]


def default_pair() -> Pair:
    """The app's default pair: a ResNet-32-style CNN on scikit-learn's handwritten digits (15 blocks, width 16, 8
    epochs of SGD with one of warm-up; `assets.default_pair_configs()`) and its plain twin, He et al. 2016's
    comparison at toy scale. Loaded from the runs shipped with the lab (trained only where they are missing), so
    every view's default result is the shipped one, as on a fresh server."""

    return _trained(default_pair_configs())


NET_FIXED = {"skip": "a pair is both nets: the plain one (skip=False) and its residual twin (skip=True)",
             "input_shape": "the input shape comes from the dataset", "classes": "the classes come from the dataset"}


def pair_fields() -> dict[str, Spec]:
    """The keyword arguments of `train_pair`: every declared field of `NetConfig` and of `TrainConfig` (those that
    a pair sets itself, `NET_FIXED`, left out), by name, with their declarations. `seed` is both nets' initial
    weights and their batches' order, as in the app."""
    out = {s.name: s for s in specs(NetConfig) if s.name not in NET_FIXED}
    out.update({s.name: s for s in specs(TrainConfig)})
    return out


def train_pair(**fields) -> Pair:
    """Train a plain net and its residual twin (He et al. 2016), side by side, and return the `Pair`.

    Takes every field of `NetConfig` (the net: arch, depth, width, shortcut_scale, norm, order, block, shortcut,
    activation, …) and of `TrainConfig` (dataset, epochs, lr, batch_size, optimizer, warmup_epochs, seed, …) as
    keyword arguments, with the app's defaults (the Build & train form's): `train_pair()` is the default pair. The
    net's input shape and classes come from the dataset (an MLP for the 2-D sets). Both twins train at once, one
    PyTorch thread each (on a GPU when there is one), through the app's run store (`run_store()`): a pair trained
    before, here, in the app or by `python -m resnet_viz prepare`, or shipped with the lab, is loaded, not trained.
    Progress shows in a notebook. ConfigError (one line) for an unknown field or a value outside its domain."""

    valid = pair_fields()
    for name, value in fields.items():
        if name in NET_FIXED:
            raise UnknownSetting(f"train_pair() takes no {name}: {NET_FIXED[name]}")
        if name not in valid:
            raise _unknown("train_pair()", name, list(valid))
        why = valid[name].problem(_as_declared(valid[name], value))
        if why:
            raise ConfigError(why)
    fields = {k: _as_declared(valid[k], v) for k, v in fields.items()}
    train_names = {s.name for s in specs(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in fields.items() if k in train_names})
    cfg.validate()
    data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
    net = net_config_for(data, skip=True, **{k: v for k, v in fields.items() if k not in train_names or k == "seed"})
    return _trained([(net.replace(skip=False), cfg), (net, cfg)])


def _trained(configs) -> Pair:
    """The runs of `configs` ((plain net, cfg), (residual net, cfg)) from the notebook's run store, trained side by
    side where needed, with a progress line a net in a notebook."""
    bars = _Progress([net.name for net, _ in configs])
    try:
        runs = run_store().get_or_train_all(list(configs), progress=[bars.report(i) for i in range(len(configs))],
                                            tick=bars.draw)
    finally:
        bars.close()
    return Pair(*runs)


# --- progress in a notebook --------------------------------------------------------------------------------------


def _notebook():
    """IPython.display when running in a Jupyter (or Colab) kernel, else None: a script or a terminal shows nothing."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    from IPython import display

    return display


class _Line:
    """One progress display: HTML progress bars in a notebook, the same as text elsewhere."""

    def __init__(self, rows: list[tuple[str, float, str]]) -> None:
        self.rows = rows

    def _repr_html_(self) -> str:
        return "".join(f"<div style='font-family:monospace'><progress value='{f:.3f}' max='1' style='width:12em'>"
                       f"</progress> {html.escape(label)}: {f:4.0%} {html.escape(message)}</div>"
                       for label, f, message in self.rows)

    def __repr__(self) -> str:
        return "\n".join(f"{label}: {f:4.0%} {message}" for label, f, message in self.rows)


class _Progress:
    """Progress of one or more tasks (a pair's two trainings, a study) as one display updated in place, at most
    five times a second. `report(i)` gives task i's `progress(fraction, message)`, which may be called from any
    thread; `draw()` updates the display (from the notebook's thread). Outside a notebook it shows nothing."""

    def __init__(self, labels: list[str], draw_on_report: bool = False) -> None:
        self.labels, self.draw_on_report = labels, draw_on_report
        self.state = [(0.0, "") for _ in labels]
        self.display = _notebook()
        self.handle = None
        self.last = 0.0

    def report(self, i: int) -> Callable[[float, str], None]:
        def progress(fraction: float, message: str) -> None:
            self.state[i] = (min(max(float(fraction), 0.0), 1.0), str(message))
            if self.draw_on_report:
                self.draw()
        return progress

    def draw(self, force: bool = False) -> None:
        if self.display is None or (not force and time.monotonic() - self.last < 0.2):
            return
        self.last = time.monotonic()
        line = _Line([(label, f, m) for label, (f, m) in zip(self.labels, self.state)])
        if self.handle is None:
            self.handle = self.display.display(line, display_id=True)
        else:
            self.handle.update(line)

    def close(self) -> None:
        if self.handle is not None:
            self.draw(force=True)


# --- one function per view ---------------------------------------------------------------------------------------


def name_of(view: View) -> str:
    """The API's name of `view`: its library module's (`resnet_viz.views.landscape` -> `landscape`), where its settings
    and its study live; the Build & train view's study is `degradation`."""
    return view.settings.__module__.rpartition(".")[2]


class ViewResult:
    """One view's result in a notebook.

    `result`: the library's result (the view's study, as the app's page and the command line compute it);
    `settings`: the settings it was computed with; `view`: its `registry.View`; `captions`: {name: caption}, the
    captions the page shows with its figures (each a `captions.Caption`: a takeaway, then the details);
    `to_dict()`: the command line's JSON (every number and caption); `figures()`: the page's plotly figures;
    `sections()`: each figure with its title and caption, as a report shows them. Shown in Jupyter as its figures
    with their captions (plotly.js embedded once per output: works offline and in Colab)."""

    def __init__(self, view: View, settings, result, inputs) -> None:
        self.view, self.settings, self.result = view, settings, result
        self._inputs = inputs
        self._sections: list[Section] | None = None

    @property
    def captions(self) -> dict:
        """{name: caption} of the view's result (`result.captions()`): what the numbers say, in the page's words."""
        return dict(self.result.captions())

    def to_dict(self) -> dict:
        """The command line's JSON of this view (`python -m resnet_viz <view> --json`): `result.to_dict()`."""
        return self.result.to_dict()

    def sections(self) -> list[Section]:
        """The view's figures with their titles and captions (`report.Section`s), as its report shows them
        (`View.sections`); for a view without a report, the page's main figures."""
        if self._sections is None:
            make = self.view.sections or _OWN_SECTIONS.get(self.view.slug)
            self._sections = list(make(self.result, self._inputs)) if make is not None else []
        return self._sections

    def figures(self) -> list:
        """The view's plotly figures (`plotly.graph_objects.Figure`), in the page's order."""
        return [s.figure for s in self.sections()]

    def show(self) -> None:
        """Show each figure with plotly's own renderer (`Figure.show()`, whichever the notebook has) and its caption
        under it; outside a notebook, plotly's default (a browser tab)."""
        display = _notebook()
        for s in self.sections():
            s.figure.show()
            if display is not None and s.caption:
                display.display(display.HTML(_caption_html(s.caption)))
            elif s.caption:
                print(s.caption)

    def _repr_html_(self) -> str:
        parts = [f"<div class='resnet-viz-view'><h3>{html.escape(self.view.title)}</h3>",
                 f"<p><i>{html.escape(self.view.paper)}</i></p>"]
        shown = set()
        for i, s in enumerate(self.sections()):
            parts.append(f"<h4>{html.escape(s.title)}</h4>")
            parts.append(s.figure.to_html(full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False}))
            if s.caption:
                parts.append(_caption_html(s.caption))
                shown.add(str(s.caption))
        rest = [c for c in self.captions.values() if c and not any(str(c) in text for text in shown)]
        if rest:  # captions of the result that no figure above carries
            parts.append("<h4>What the numbers say</h4>" + "".join(_caption_html(c) for c in rest))
        parts.append("</div>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        lines = [f"<{name_of(self.view)}: {self.view.title} ({self.view.paper})"]
        for name, caption in self.captions.items():
            if caption:
                text = takeaway_of(caption) or str(caption)
                lines.append(f"  {name}: {text if len(text) <= 160 else text[:157] + '…'}")
        lines.append("  .captions, .figures(), .to_dict(); shown with its figures in a notebook>")
        return "\n".join(lines)


def _caption_html(caption) -> str:
    """A caption under its figure: a `captions.Caption`'s takeaway in bold, then its details; other text as it is."""

    style = "style='margin:0.3em 0 1.2em 0'"
    if isinstance(caption, Caption) and caption.takeaway:
        return f"<p class='caption' {style}><b>{html.escape(caption.takeaway)}</b> {html.escape(caption.details)}</p>"
    return f"<p class='caption' {style}>{html.escape(str(caption))}</p>"


def _family_sections(result, inputs) -> list[Section]:
    """The family view's main figure (its page draws the same): cost of every model, from torchvision's definitions."""

    return [Section("Cost of the ResNet family, computed from torchvision's definitions", result.captions()["family"],
                    cost_figure(result.rows))]


def _features_sections(result, inputs) -> list[Section]:
    """The feature view's figures that need no widget (its page draws the same): the block outputs' statistics and
    each net's Integrated-Gradients map (Sundararajan et al. 2017) on one colour scale."""

    data, caps = inputs.data, result.captions()
    out = []
    if {"plain", "residual"} <= set(result.stats):
        out.append(Section("Statistics of the block outputs", caps["statistics"],
                           statistics_figure(result.stats["plain"], result.stats["residual"])))
    ig = {k: a for (m, k), a in result.attributions.items() if m == "ig"}
    if ig:
        zmax = max(float(np.abs(a.map).max()) for a in ig.values())
        raw = data.denormalize(inputs.extra["x"]).numpy() if data.is_image else None
        for k, a in ig.items():
            fig = attribution_figure(a.map, raw, raw_max(data), a.signed, zmax,
                                     f"{k}: class {data.class_names[a.target]}",
                                     feature_names=None if data.is_image else ["x₁", "x₂"])
            out.append(Section(f"Integrated Gradients, {k} net", caps["ig"] if k == list(ig)[-1] else "", fig))
    return out


_OWN_SECTIONS: dict[str, Callable] = {"family": _family_sections, "features": _features_sections}


def _as_declared(spec: Spec, value):
    """A value as its setting holds it: a list for a tuple setting becomes a tuple (a notebook writes lists)."""
    return tuple(value) if spec.kind is tuple and isinstance(value, list) else value


def _unknown(where: str, name: str, valid: list[str]) -> UnknownSetting:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return UnknownSetting(f"{where} has no setting {name!r}{hint}; its settings are {', '.join(valid)}")


def _settings(view: View, where: str, given: dict):
    """`view`'s settings from the keyword arguments `given` (the others at their defaults), each checked against
    its declared domain and the whole validated (`validate()`), with one-line errors."""
    declared = {s.name: s for s in specs(view.settings)}
    names = [f.name for f in dataclasses.fields(view.settings) if f.init]
    for name, value in given.items():
        if name not in names:
            raise _unknown(where, name, names)
        if name in declared:
            why = declared[name].problem(_as_declared(declared[name], value))
            if why:
                raise ConfigError(why)
    settings = view.settings(**{k: _as_declared(declared[k], v) if k in declared else v for k, v in given.items()})
    if not inspect.signature(settings.validate).parameters:  # the features view checks its own against the pair
        settings.validate()
    return settings


def _features_input(inputs, index, x) -> None:
    """The features view's input: the `index`-th image of the pair's test split (`features.input_at`, as the
    command line's --index), or `x`, an input of the dataset's shape."""

    t = inputs.train
    data = inputs.data = load_dataset(t.dataset, t.data_root, t.data_limit)
    if x is None:
        inputs.extra["x"], inputs.extra["input"] = input_at(data, index)
        return
    try:
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"x must be an array of numbers, {e}") from None
    if tuple(x.shape) != tuple(data.input_shape):
        raise ConfigError(f"x must have the shape of one {data.name} input, {tuple(data.input_shape)}, "
                          f"got {tuple(x.shape)}")
    inputs.extra["x"], inputs.extra["input"] = x, {"source": "array"}


def _compute(view: View, where: str, pair, kwargs: dict) -> ViewResult:
    extra = {k: kwargs.pop(k) for k in ("index", "x") if view.slug == "features" and k in kwargs}
    settings = _settings(view, where, kwargs)
    if view.inputs != "none":
        if pair is None:
            pair = default_pair()
        elif not isinstance(pair, Pair):
            raise ConfigError(f"{where} takes a Pair (rv.default_pair(), rv.train_pair(...)), got "
                              f"{type(pair).__name__}")
    bar = _Progress([view.title], draw_on_report=True)
    inputs = pair_inputs(view, runs=pair.runs if pair is not None else None, progress=bar.report(0),
                         trainer=shipped_first(run_store().trainer()) if view.inputs == "config" else None)
    if view.slug == "features":
        _features_input(inputs, extra.get("index", 0), extra.get("x"))
    try:
        result = study(view, settings, inputs)
    finally:
        bar.close()
    return ViewResult(view, settings, result, inputs)


def _signature(view: View) -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = []
    if view.inputs != "none":
        params.append(inspect.Parameter("pair", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
    if view.slug == "features":
        params += [inspect.Parameter("index", kw, default=0), inspect.Parameter("x", kw, default=None)]
    for f in dataclasses.fields(view.settings):
        if f.init:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            params.append(inspect.Parameter(f.name, kw, default=default))
    return inspect.Signature(params, return_annotation="ViewResult")


def _plain(text: str) -> str:
    return re.sub(r"\*\*?([^*]+)\*\*?", r"\1", text)


def _type_text(s: Spec) -> str:
    kind = {int: "int", float: "float", str: "str", bool: "bool"}.get(s.kind, "tuple")
    if s.kind is tuple:
        kind = f"tuple of {s.item.__name__ if s.item else 'values'}"
    return f"{kind} or None" if s.optional else kind


def _doc(view: View, name: str) -> str:
    """The docstring of `view`'s function: what it computes, the paper, each setting with its default and domain."""
    command = f"``python -m resnet_viz {view.command}``" if view.command else "its command line"
    studies = {"pair": "a trained pair", "config": "nets it trains from the pair's configs",
               "none": "nets of its own"}[view.inputs]
    lines = [f"{view.title}: {_plain(view.summary)}", "", f"Paper: {view.paper}.", "",
             f"Computes the view's one study from {studies}: the numbers, captions and figures of the app's "
             f"'{view.title}' page and of {command}, for the same settings. A result kept on this machine (the "
             "app's store) or shipped with the lab for exactly these settings and inputs is read, anything else "
             "computed and kept (`results.study`).", "", "Parameters", "----------"]
    if view.inputs != "none":
        lines += ["pair : Pair, optional",
                  "    The trained pair: `rv.default_pair()` (the default), `rv.train_pair(...)` or `Pair.load(...)`."
                  + (" Its configs are what the study trains nets from." if view.inputs == "config" else "")]
    if view.slug == "features":
        lines += ["index : int, default 0", "    The input: this image of the pair's test split (as --index).",
                  "x : array, optional", "    The input itself instead, of the dataset's input shape (normalised)."]
    for s in specs(view.settings):
        shown = list(s.default) if isinstance(s.default, tuple) else s.default
        lines.append(f"{s.name} : {_type_text(s)}, default {shown!r}")
        what = s.label + (f": {s.help}" if s.help else "")
        domain = f"each {s.domain_text()}" if s.kind is tuple and s.options is None else s.domain_text()
        if s.kind is not bool:
            what += f" ({domain}{'; e.g. ' + ', '.join(map(str, s.picks)) if s.picks else ''})"
        lines.append(f"    {what}")
    lines += ["", "Returns", "-------", "ViewResult",
              "    `.captions`, `.figures()` (plotly), `.to_dict()` (the command line's JSON); shown in a notebook "
              "as the page's figures with their captions.", "", "Raises", "------", "ConfigError",
              "    In one line: a value outside its setting's domain, or an unknown keyword (`UnknownSetting`, "
              "also a TypeError).", "", "Examples", "--------", ">>> import resnet_viz as rv",
              f">>> r = rv.{name}({'rv.default_pair()' if view.inputs != 'none' else ''})", ">>> r.captions"]
    return "\n".join(lines)


def _view_function(view: View) -> Callable:
    name = name_of(view)
    signature = _signature(view)
    where = f"{name}()"

    def function(*args, **kwargs) -> ViewResult:
        if view.inputs == "none" and args:
            raise UnknownSetting(f"{where} computes nets of its own and takes no pair; its settings are keywords")
        if len(args) > 1:
            raise UnknownSetting(f"{where} takes one pair and then its settings as keywords, got {len(args)} "
                                 "positional arguments")
        pair = args[0] if args else kwargs.pop("pair", None)
        return _compute(view, where, pair, kwargs)

    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    function.__doc__ = _doc(view, name)
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.view = view  # type: ignore[attr-defined]
    return function


FUNCTIONS: dict[str, Callable] = {name_of(v): _view_function(v) for v in VIEWS}
globals().update(FUNCTIONS)

__all__ = ["ConfigError", "Pair", "UnknownSetting", "ViewResult", "default_pair", "run_store", "train_pair",
           *FUNCTIONS]
