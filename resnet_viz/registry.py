"""The view registry: one record per view of the lab, which everything that lists views loops over.

The app's navigation and Home's cards (`lab.py`, `pages/home.py`), presets (`presets.Preset.view`), reports
(`slides.sections`), lecture preparation (`prepare`), the shipped runs (`assets.shipped_configs`), the server's
warm-up (`ui/warmup.py`), the pages' kept results (`ui/results.py`) and the command line (`cli`) all read it, so
no file outside a view's own modules names a particular view. Adding a view is: its library module (a frozen
settings dataclass declared with `settings.setting`, one study function, a result with `captions()` and
`to_dict()`), its plots, its page, its tests, and one `View` here.

Each view's computation takes its settings and an `Inputs`: the trained pair's runs ("pair" views), the pair's
configs ("config" views train nets of their own: degradation, identity mappings), or nothing ("none": random
nets, torchvision's definitions, the Playground's own 2-D nets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .data import load_dataset
from .plots import compare as plots_compare
from .plots import ensemble as plots_ensemble
from .plots import landscape as plots_landscape
from .plots import playground as plots_playground
from .plots import shattering as plots_shattering
from .plots import training as plots_training
from .views import degradation, ensemble, family, features, identity, landscape, playground, shattering
from .views.degradation import DegradationSettings
from .views.ensemble import EnsembleSettings
from .views.family import FamilySettings
from .views.features import FeatureSettings
from .views.identity import IdentitySettings
from .views.landscape import LandscapeSettings
from .views.playground import PlaygroundSettings
from .views.shattering import ShatteringSettings

INPUTS = ("pair", "config", "none")


@dataclass
class Inputs:
    """What a view's study computes from, besides its settings. `net`, `train`: the pair's residual net and its
    training config (the plain twin is `net.twin()`); `runs`: {"plain": Run, "residual": Run}, trained; `data`:
    the pair's dataset (loaded when None); `trainer(net, cfg, progress) -> Run` for views that train nets;
    `progress(fraction, message)`; `preview(...)`: partial results while computing; `extra`: what one view needs
    more (the features view: its input `x`)."""

    net: Any = None
    train: Any = None
    runs: dict | None = None
    data: Any = None
    trainer: Callable | None = None
    progress: Callable | None = None
    preview: Callable | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    """One view of the lab.

    slug:     its name in URLs, links and keys; title, icon, page: its place in the app's navigation;
    summary, paper: its card on Home;
    settings: its frozen settings dataclass (declared with `settings.setting`);
    inputs:   "pair" (a trained pair's runs), "config" (the pair's configs; it trains nets of its own) or "none";
    study:    study(settings, inputs) -> result, the view's one computation (with `captions()` / `to_dict()`);
    sections: sections(result, inputs) -> [report.Section], the view in a report;
    nets:     nets(net, cfg, settings) -> [(NetConfig, TrainConfig)]: the nets a "config" view trains;
    command:  its command-line subcommand, generated from its settings (None: none); `cli_input`: the flags of
              an input of its own (the features view's image) and how they fill `Inputs`;
    warm:     its default result is computed at server start (ui/warmup.py), quickest first (`warm_seconds`),
              or before the server answers (`early`: pure-Python work that would slow the first pages);
    default:  its default settings for the warm-up and Home (None: `settings()`).
    """

    slug: str
    title: str
    icon: str
    page: str
    summary: str
    paper: str
    settings: type
    inputs: str
    study: Callable
    sections: Callable | None = None
    nets: Callable | None = None
    command: str | None = None
    command_help: str = ""
    warm: bool = True
    warm_seconds: float = 5.0  # about how long its default result takes (the warm-up does the quick ones first)
    early: bool = False  # computed before the server answers (pure-Python work the first students would wait on)
    cli_input: tuple[Callable, Callable] | None = None  # (add its flags, put them into Inputs): a view's own input
    shows_pair: bool | None = None  # its page and report show the trained pair itself (default: a "pair" view)
    describe: Callable | None = None  # describe(settings) -> what a "none" view computes, for a report's intro
    stored: bool = True  # its results are kept on disk and shipped (`results.study`); False: always computed
    result_version: int = 1  # raise it when the study computes other numbers: stored and shipped results are then
    #                          computed again (`results.result_key`); the shipped ones by `python -m resnet_viz.shipping`

    @property
    def pair_shown(self) -> bool:
        """True when the view's page and report show the trained pair itself (its curves, or its analysis)."""
        return self.inputs == "pair" if self.shows_pair is None else self.shows_pair

    def __post_init__(self) -> None:
        if self.inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, got {self.inputs!r}")

    def compute(self, settings, inputs: Inputs | None = None):
        """The view's result for `settings` (validated here) and `inputs`: its study function."""
        inputs = inputs or Inputs()
        if inputs.data is None and inputs.train is not None and self.inputs != "none":
            t = inputs.train
            inputs.data = load_dataset(t.dataset, t.data_root, t.data_limit)
        # The nets the study trains start side by side now, where its trainer can (a run store's: on two cores
        # in-process, on every worker of a Dask cluster); the study then asks for them one after another.
        ahead = getattr(inputs.trainer, "prefetch", None)
        started = ahead(self.nets(inputs.net, inputs.train, settings)) if (
            ahead is not None and self.nets is not None and inputs.net is not None) else None
        try:
            return self.study(settings, inputs)
        finally:
            if started is not None and hasattr(started, "close"):
                started.close()  # the study is done (or stopped): the trainings not finished are no longer wanted


VIEWS: tuple[View, ...] = (  # in lecture order, as the navigation shows them
    View("build_train", "Build & train", ":material/construction:", "pages/build_train.py",
         "Training curves, gradient norm per block, and the **degradation problem**: deeper plain nets reach a "
         "higher *training* loss.", "He, Zhang, Ren, Sun 2016 — Deep Residual Learning for Image Recognition",
         DegradationSettings, "config", degradation.view_study, plots_training.sections, degradation.view_nets,
         command="degradation",
         shows_pair=True, warm_seconds=0.5,
         command_help="plain and residual nets at several depths and seeds (He et al. 2016, Fig. 1)"),
    View("playground", "Playground", ":material/scatter_plot:", "pages/playground.py",
         "A deep plain MLP and its residual twin learning a 2-D problem, TensorFlow-Playground style: the boundary "
         "forming through training, what each block draws, and the gradient that reaches the first block.",
         "Smilkov, Carter, Sculley, Viégas, Wattenberg 2017 — Direct-Manipulation Visualization of Deep Networks",
         PlaygroundSettings, "none", playground.view_study, plots_playground.sections, command="playground",
         warm_seconds=3.0,
         describe=lambda s: (f"Pair: a plain MLP of {s.depth} {s.activation} layer{'s' if s.depth > 1 else ''} of "
                             f"{s.width} units{' with batch norm' if s.norm == 'batch' else ''} and its residual "
                             f"twin, {s.steps} Adam steps on {s.points} {s.dataset} points."),
         command_help="a deep plain MLP and its residual twin learning a 2-D set (after TensorFlow Playground)"),
    View("landscape", "Loss landscape", ":material/landscape:", "pages/landscape.py",
         "The loss along two filter-normalised random directions: a deep plain net sits in a narrower basin than "
         "its residual twin (and, from about 56 layers trained to convergence, on a chaotic surface).",
         "Li, Xu, Taylor, Studer, Goldstein 2018 — Visualizing the Loss Landscape of Neural Nets",
         LandscapeSettings, "pair", landscape.view_study, plots_landscape.sections, command="landscape",
         warm_seconds=7.5,
         command_help="loss landscapes of a trained pair along the same filter-normalized directions (Li et al. 2018)"),
    View("shattering", "Shattered gradients", ":material/grain:", "pages/shattering.py",
         "Gradients with respect to the input become white noise with depth in plain nets, but stay correlated "
         "(brown noise) in residual nets.", "Balduzzi et al. 2017 — The Shattered Gradients Problem",
         ShatteringSettings, "none", shattering.view_study, plots_shattering.sections, command="shatter",
         warm_seconds=2.0,
         describe=lambda s: (f"Random nets f: ℝ → ℝ at initialisation: {s.depth} {s.module} modules of {s.width} "
                             f"units, {s.seeds} seeds, {s.points} inputs."),
         command_help="gradients of random 1-D nets and how correlated they are, by depth (Balduzzi et al. 2017)"),
    View("ensemble", "Unrolled ensemble", ":material/account_tree:", "pages/ensemble.py",
         "n residual blocks unroll into 2ⁿ paths; deleting a block barely hurts a residual net but ruins a plain one.",
         "Veit, Wilber, Belongie 2016 — Residual Networks Behave Like Ensembles of Relatively Shallow Networks",
         EnsembleSettings, "pair", ensemble.view_study, plots_ensemble.sections, command="lesion", warm_seconds=9.0,
         command_help="delete and reorder blocks of a trained pair, gradient by path length (Veit et al. 2016)"),
    View("identity", "Identity mappings", ":material/compare_arrows:", "pages/identity.py",
         "Which shortcut, and where the activation goes: λ·x on the shortcut fades or explodes over depth; full "
         "pre-activation keeps the path a pure identity.",
         "He, Zhang, Ren, Sun 2016b — Identity Mappings in Deep Residual Networks",
         IdentitySettings, "config", identity.view_study, plots_compare.sections, identity.view_nets, command="identity",
         warm_seconds=1.0, result_version=2,  # 2: dropout's masks in the gradient measurement from a fixed seed
         command_help="shortcut and activation variants trained side by side (He et al. 2016b)"),
    View("family", "ResNet family", ":material/table_chart:", "pages/family.py",
         "ResNet-18 to 152, ResNeXt, Wide ResNet, DenseNet and VGG at full size: layers, parameters and "
         "multiply-adds counted from torchvision's definitions (Table 1), with the lab's own pair on the same axes.",
         "He, Zhang, Ren, Sun 2016 — Table 1; Xie 2017; Zagoruyko & Komodakis 2016; Huang 2017",
         FamilySettings, "none", family.view_study, command="family", early=True, warm_seconds=2.4,
         command_help="torchvision's ResNets and their descendants counted on the meta device (He et al. 2016 Table 1)"),
    View("features", "Feature maps", ":material/visibility:", "pages/features.py",
         "What each block computes for one input, and where the nets look (saliency, integrated gradients, "
         "Grad-CAM).", "Simonyan 2014; Sundararajan 2017; Selvaraju 2017",
         FeatureSettings, "pair", features.feature_view, command="features",
         cli_input=(features.add_input_args, features.input_from_args), warm_seconds=1.2,
         stored=False,  # quick, and its result carries its input's description and writes the --png file
         command_help="block outputs and attributions of a trained pair for one input (Sundararajan 2017, Selvaraju 2017)"),
)


def view(slug: str) -> View:
    """The view named `slug`; KeyError listing the names otherwise."""
    for v in VIEWS:
        if v.slug == slug:
            return v
    raise KeyError(f"unknown view {slug!r}; the views are {', '.join(v.slug for v in VIEWS)}")


def view_of(settings) -> View:
    """The view whose settings class `settings` is an instance of."""
    for v in VIEWS:
        if isinstance(settings, v.settings):
            return v
    raise KeyError(f"no view has settings of type {type(settings).__name__}")


def pair_inputs(view: View, *, runs: dict | None = None, net=None, train=None, **more) -> Inputs:
    """The `Inputs` of `view` for a pair, as the command line and the notebook API build them (`more`: Inputs' other
    fields, e.g. `progress`, `trainer`). A "pair" view: the trained `runs` ({"plain", "residual"}, or one of them)
    and their configs (the residual net's, `net`, and their training config, `train`); a "config" view (it trains
    nets of its own): the pair's configs, from `runs` when given (kept too where its page shows the pair,
    `View.pair_shown`: the report's training curves) or else `net` and `train`; a "none" view: nothing of the pair.
    The result's key (`results.result_key`) is the same whichever way the pair was given."""
    inputs = Inputs(**more)
    if view.inputs == "none":
        return inputs
    if runs:
        first = runs["residual"] if "residual" in runs else next(iter(runs.values()))
        net, train = first.net.replace(skip=True), first.train
        if view.inputs == "pair" or view.pair_shown:
            inputs.runs = dict(runs)
    inputs.net, inputs.train = net, train
    return inputs
