"""The loss-landscape view: its settings, its one computation for the page, the command line and the report
(`landscape_study`, Li et al. 2018), its result with the captions its numbers support, and its entry in the
registry (`view_study`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from ...captions import Caption, takeaway_of
from ...data import load_dataset
from ...models import ConfigError, build_model
from ...numbers import num
from ...progress import Progress, notify, part
from ...settings import MAX_SEED, check_all, setting
from ...train import refuse_diverged
from .captions import (
    BASIN_RISE,
    _radius,
    basin,
    curvature_caption,
    curvature_map_caption,
    interpolation_caption,
    slices_caption,
    surfaces_caption,
    trajectory_caption,
)
from .curvature import DEFAULT_MAX_ITERATIONS, DEFAULT_TOL, HESSIAN_PARAMS, MAX_ITERATIONS, Curvature, hessian_extremes
from .directions import NORMALIZATIONS
from .grid import MAX_GRID, MAX_SAMPLES
from .paths import Interpolation, Trajectory, interpolate, trajectory
from .surfaces import CurvatureMap, Surface, curvature_map, plane

VIEWS = ("2-D contours", "3-D surfaces", "1-D slices", "Interpolation", "Trajectory", "Curvature")
SURFACE_VIEWS = VIEWS[:3]
MAX_TRAJECTORY_GRID = 21


@dataclass(frozen=True)
class LandscapeSettings:
    """Everything the loss-landscape view computes from (Li et al. 2018).

    view: one of VIEWS; grid, span, samples, seed, normalization, bias_bn: the plane
    f(α, β) = L(θ* + αδ + βη) (`surface`); nets: which of the pair's nets to compute ("plain",
    "residual"); hessian_params, tol, max_iterations: the Lanczos runs of the Curvature view
    (`hessian_extremes`); curvature_map, map_grid: also Li's Fig. 7 map on a map_grid² grid.
    mode, clip: how losses are drawn (log₁₀, or clipped at `clip`); they change no number.
    """

    view: str = setting(VIEWS[0], "View", options=VIEWS, key="landscape_view")
    grid: int = setting(15, "Grid points per axis", min=3, max=MAX_GRID, odd=True,
                        picks=(5, 7, 9, 11, 13, 15, 21, 25, 31, 41, 51), key="ls_grid",
                        help="Odd, so that θ* is the centre point. Li et al. use 51.")
    span: float = setting(1.0, "Span (grid covers [−span, span])", min=0.01, max=10.0, step=0.25, key="ls_span")
    samples: int = setting(128, "Evaluation samples (fixed training subset)", min=1, max=MAX_SAMPLES,
                           picks=(64, 128, 256, 512, 1024), key="ls_samples",
                           help="At most the training split of the pair's data (digits: 1437).")
    seed: int = setting(0, "Direction seed", min=0, max=MAX_SEED, step=1, key="ls_seed")
    normalization: str = setting("filter", "Direction normalization", options=NORMALIZATIONS, key="ls_normalization",
                                 help="filter: Li et al.'s per-filter scaling; try 'none' to see why it matters.")
    bias_bn: bool = setting(False, "Also perturb biases and BN γ/β", key="ls_bias_bn")
    nets: tuple[str, ...] = setting(("plain", "residual"), "Nets", options=("plain", "residual"), min_items=1,
                                    unique=True, widget="none")
    hessian_params: str = setting("weights", "Hessian w.r.t.", options=HESSIAN_PARAMS, key="landscape_hessian_params",
                                  labels={"weights": "weight tensors only (Li et al.)",
                                          "all": "all parameters (+ biases, BN γ/β)"},
                                  help="Li et al. take the Hessian w.r.t. the weight tensors only (tensors with ≥ 2 "
                                       "axes).")
    tol: float = setting(DEFAULT_TOL, "Tolerance (relative residual)", min=0.0, max=0.5, picks=(1e-2, 1e-3, 1e-4),
                         key="landscape_tol",
                         labels=lambda v: f"{v:g}")
    max_iterations: int = setting(DEFAULT_MAX_ITERATIONS, "Most Lanczos steps", min=2, max=MAX_ITERATIONS, step=1,
                                  widget="slider", key="landscape_lanczos",
                                  help="Lanczos stops earlier once both extreme eigenvalues meet the tolerance.")
    curvature_map: bool = setting(False, "Also |λmin/λmax| across the plane (Li et al. Fig. 7)", widget="none",
                                  key="landscape_map_on")
    map_grid: int = setting(5, "Map grid", min=3, max=MAX_GRID, odd=True, picks=(3, 5, 7), key="landscape_map_grid",
                            help="The surface's own directions, on a coarse grid over the same span.")
    mode: str = setting("log", "Loss scale", options=("log", "clip"), key="landscape_mode",
                        labels={"log": "log₁₀", "clip": "clipped"})
    clip: float = setting(10.0, "Ceiling", min=0.01, max=1e6, key="landscape_clip",
                          help="Losses above this (and overflows) are drawn at the ceiling.")

    DISPLAY = ("mode", "clip")  # fields that change no number (left out of `computation`)

    def validate(self) -> None:
        """ConfigError with a one-line message for settings outside their declared domains (`settings.check_all`;
        rules between fields: none). The evaluation samples are checked against the data by `check_data`."""
        check_all(self)

    def check_data(self, data) -> None:
        """ConfigError (one line) when the settings ask for more than `data` holds: evaluation samples beyond the
        training split."""
        n = len(data.y_train)
        if self.samples > n:
            raise ConfigError(f"evaluation samples: {self.samples} asked for, but the training split of "
                              f"{data.name} has {n}")

    def computation(self) -> dict:
        """The fields that determine the numbers (a cache key): all but the display ones and,
        outside the views that use them, the Hessian settings."""
        d = {k: v for k, v in asdict(self).items() if k not in self.DISPLAY}
        if self.view != "Curvature":
            for k in ("hessian_params", "tol", "max_iterations", "curvature_map", "map_grid"):
                d.pop(k)
        if self.view == "1-D slices" or self.view == "Interpolation":
            d["nets"] = ("plain", "residual")
        return d

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "nets": list(self.nets)}


@dataclass
class LandscapeView:
    """What the loss-landscape view shows for the chosen `settings.view`: the planes (2-D, 3-D,
    1-D slices), the interpolations, the trajectories or the curvature (and its map), with the
    caption its numbers support. Entries the view does not use are None."""

    settings: LandscapeSettings
    classes: int
    surfaces: dict[str, Surface] | None = None
    interpolations: dict[str, Interpolation] | None = None
    trajectories: dict[str, Trajectory] | None = None
    curvature: dict[str, Curvature] | None = None
    maps: dict[str, CurvatureMap] | None = None

    def caption(self) -> str:
        """What this view shows, from its numbers (the *_caption functions of `captions`)."""
        if self.surfaces is not None:
            s = self.surfaces
            if self.settings.view == "1-D slices":
                cap = slices_caption(s)
                return Caption(cap.takeaway, cap.details + " Li et al. (§5) relate wide, flat minima to better "
                                                           "generalisation.")
            if len(s) == 2:
                return surfaces_caption(s["plain"], s["residual"], self.classes)
            (label, one), = s.items()
            b = basin(one)
            return Caption(f"The {label} net's loss rises {BASIN_RISE:g} nat above its minimum ({num(one.center_loss)}) "
                           f"at a mean distance of {_radius(b)} from θ*.",
                           "Same seed, so the same directions as the other net, and one colour scale. Li et al. (2018, "
                           "Fig. 5) compare a deep plain net's surface with its residual twin's.")
        if self.interpolations is not None:
            cap = interpolation_caption({k: self.interpolations[f"{k}: init → trained"] for k in ("plain", "residual")})
            return Caption(cap.takeaway, "Left: the straight line from the initial to the trained weights (Goodfellow "
                                         f"et al. 2015). {cap.details} Right: the twins share initial weights and "
                                         "shapes, so their trained weights can be mixed; each curve runs the mixture in "
                                         "one architecture.")
        if self.trajectories is not None:
            return trajectory_caption(self.trajectories)
        if self.curvature is not None:
            return curvature_caption(self.curvature)
        return ""

    def map_caption(self) -> str:
        """What the Fig. 7 maps show, from their numbers; "" without maps."""
        return curvature_map_caption(self.maps) if self.maps else ""

    def captions(self) -> dict[str, str]:
        """"view": what the chosen view shows, "map": what the curvature map shows ("" without one); each a
        `captions.Caption` (a takeaway, then the details)."""
        return {"view": self.caption(), "map": self.map_caption()}

    def to_dict(self) -> dict:
        """JSON-ready results with their captions."""
        def each(d):
            return None if d is None else {k: v.to_dict() for k, v in d.items()}

        return {"settings": self.settings.to_dict(), "surfaces": each(self.surfaces),
                "interpolations": each(self.interpolations), "trajectories": each(self.trajectories),
                "curvature": each(self.curvature), "maps": each(self.maps), "captions": self.captions(),
                "takeaways": {k: takeaway_of(c) for k, c in self.captions().items()}}


def landscape_study(runs: dict, settings: LandscapeSettings = LandscapeSettings(), *, data=None,
                    progress: Progress | None = None,
                    preview: Callable[[str, Surface], None] | None = None) -> LandscapeView:
    """Li et al. 2018's view of a trained pair, for `settings.view`.

    `runs`: {"plain": Run, "residual": Run} trained on the same data (`data`, loaded from the
    runs' TrainConfig when None). The planes use the same directions for both nets (same
    seed); the interpolations run init → trained for each net and the plain weights → the
    residual weights in each architecture; the trajectories project each run's checkpoints on
    their PCA plane; the curvature gives the extreme Hessian eigenvalues at θ* (and, with
    `settings.curvature_map`, Li's Fig. 7 map). `preview(net, partial surface)` after each
    refinement level of a plane; `progress(fraction, message)` as the work goes on.
    """

    settings.validate()
    s = settings
    first = next(iter(runs.values()))
    if data is None:
        data = load_dataset(first.train.dataset, first.train.data_root, first.train.data_limit)
    s.check_data(data)
    refuse_diverged(runs, "loss landscape")
    x, y = data.x_train, data.y_train
    view = LandscapeView(s, int(first.net.classes))
    names = [k for k in runs if k in s.computation()["nets"]]
    if s.view in SURFACE_VIEWS:
        view.surfaces = _planes(runs, names, x, y, s, progress, preview)
    elif s.view == "Interpolation":
        view.interpolations = _interpolations(runs, x, y, s, progress)
    elif s.view == "Trajectory":
        view.trajectories = _trajectories(runs, names, x, y, s, progress)
    else:
        view.curvature, view.maps = _curvatures(runs, names, x, y, s, progress)
    notify(progress, 1.0, "done")
    return view


def _each(names: list[str], progress: Progress | None) -> list[tuple[str, Progress | None]]:
    """Each net with its equal share of the progress."""
    return [(k, part(progress, i / len(names), (i + 1) / len(names), f"{k} net")) for i, k in enumerate(names)]


def _planes(runs: dict, names: list[str], x, y, s: LandscapeSettings, progress: Progress | None,
            preview: Callable[[str, Surface], None] | None) -> dict[str, Surface]:
    """The 2-D loss surface f(α, β) = L(θ* + αδ + βη) of each net along the same filter-normalized directions (one
    seed; Li et al. 2018 §4, Fig. 5), shown as contours, 3-D surfaces or their β = 0 slices."""
    return {k: plane(runs[k].model, x, y, grid=s.grid, span=s.span, samples=s.samples, seed=s.seed,
                     normalization=s.normalization, include_bias_bn=s.bias_bn, progress=p,
                     preview=None if preview is None else (lambda srf, k=k: preview(k, srf)))
            for k, p in _each(names, progress)}


def _interpolations(runs: dict, x, y, s: LandscapeSettings, progress: Progress | None) -> dict[str, Interpolation]:
    """The straight lines θ(t) = (1 − t)θ_start + tθ_end (Goodfellow et al. 2015; Li et al. 2018 §3): each net's
    initial → trained weights, then the plain → the residual trained weights run in each architecture (the twins
    share shapes)."""
    if not {"plain", "residual"} <= set(runs):
        raise ConfigError("the interpolation needs a plain net and its residual twin (it runs one's weights in "
                          "the other)")
    plain, residual = runs["plain"], runs["residual"]
    out = {}
    for run in (plain, residual):
        notify(progress, len(out) / 4, f"interpolating: {run.label} init → trained")
        out[f"{run.label}: init → trained"] = interpolate(build_model(run.net), run.model, x, y, samples=s.samples,
                                                          label=f"{run.label}: init → trained")
    for host in (plain, residual):
        notify(progress, len(out) / 4, f"interpolating: plain → residual weights in the {host.label} net")
        out[f"in the {host.label} net"] = interpolate(plain.model, residual.model, x, y, samples=s.samples,
                                                      evaluate_in=host.model, label=f"run in the {host.label} net")
    return out


def _trajectories(runs: dict, names: list[str], x, y, s: LandscapeSettings,
                  progress: Progress | None) -> dict[str, Trajectory]:
    """Each net's optimisation path projected on the first two PCA directions of θ_i − θ_final, over the loss in
    that plane (Li et al. 2018 §7), on a grid of at most MAX_TRAJECTORY_GRID points a side."""
    out = {}
    for k, p in _each(names, progress):
        run = runs[k]
        if run.trajectory is None:
            raise ConfigError("this run kept no weight checkpoints, so its path cannot be drawn")
        tr = trajectory(run.model, run.trajectory, x, y, steps=run.history.checkpoint_steps,
                        grid=min(s.grid, MAX_TRAJECTORY_GRID), samples=s.samples, progress=p)
        tr.directions = []  # not needed for drawing; keeps results small
        out[k] = tr
    return out


def _curvatures(runs: dict, names: list[str], x, y, s: LandscapeSettings, progress: Progress | None
                ) -> tuple[dict[str, Curvature], dict[str, CurvatureMap] | None]:
    """Each net's extreme Hessian eigenvalues at θ* (Li et al. 2018 §6) and, with `s.curvature_map`, its map of
    |λmin/λmax| over the plane of the loss surface's directions (Li's Fig. 7; None without), which then takes
    four fifths of the progress."""
    share = 0.2 if s.curvature_map else 1.0
    curvature = {}
    for i, k in enumerate(names):
        notify(progress, share * i / len(names), f"Hessian-vector products: {k} net")
        curvature[k] = hessian_extremes(runs[k].model, x, y, samples=s.samples, params=s.hessian_params,
                                        tol=s.tol, max_iterations=s.max_iterations)
    if not s.curvature_map:
        return curvature, None
    maps = {k: curvature_map(runs[k].model, x, y, grid=s.map_grid, span=s.span, samples=s.samples,
                             seed=s.seed, normalization=s.normalization, include_bias_bn=s.bias_bn,
                             params=s.hessian_params, max_iterations=s.max_iterations,
                             progress=part(progress, share + (1 - share) * i / len(names),
                                           share + (1 - share) * (i + 1) / len(names), f"curvature map: {k} net"))
            for i, k in enumerate(names)}
    return curvature, maps


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: LandscapeSettings, inputs) -> LandscapeView:
    """The registry's computation of the loss-landscape view: `landscape_study` of the trained pair (`inputs.runs`)."""
    return landscape_study(inputs.runs, settings, data=inputs.data, progress=inputs.progress, preview=inputs.preview)
