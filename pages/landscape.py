"""Loss landscape view: plain and residual surfaces along the same filter-normalized directions
(Li et al. 2018). Thin page: widgets in, `resnet_viz.landscape` call (cached), figures out."""

from __future__ import annotations

import json

import streamlit as st

from resnet_viz import landscape as L
from resnet_viz.data import load_dataset
from resnet_viz.models import NetConfig, build_model
from resnet_viz.plots import landscape as P
from resnet_viz.plots.common import PLAIN_COLOR, RESIDUAL_COLOR
from resnet_viz.train import TrainConfig
from ui.common import USER_ERRORS, ensure_run, live_output, pick_pair, show_error, url_state
from ui.figures import columns, show

ERRORS = USER_ERRORS + (ValueError,)
VIEWS = ("2-D contours", "3-D surfaces", "1-D slices", "Interpolation", "Trajectory", "Curvature")
GRIDS = (5, 7, 9, 11, 13, 15, 21, 25, 31, 41, 51)
SAMPLES = (64, 128, 256, 512, 1024, 1437)
DEFAULTS = dict(grid=15, span=1.0, samples=128, seed=0, normalization="filter", bias_bn=False)

st.title("Loss landscape")
st.markdown("Li, Xu, Taylor, Studer & Goldstein (2018), *Visualizing the Loss Landscape of Neural Nets*: "
            "the loss around the trained weights, f(α, β) = L(θ* + αδ + βη), along filter-normalized random directions.")


# --- cached computations (keyed by the configs and the settings) --------------------------


def _run(net_json: str, train_json: str):
    return ensure_run(NetConfig.from_json(net_json), TrainConfig.from_dict(json.loads(train_json)))


@st.cache_resource(show_spinner=False)
def _data(dataset: str, root: str | None, limit: int | None):
    return load_dataset(dataset, root, limit)


def _train_data(run):
    d = _data(run.train.dataset, run.train.data_root, run.train.data_limit)
    return d.x_train, d.y_train


@st.cache_data(max_entries=48, show_spinner=False)
def cached_surface(net_json: str, train_json: str, grid: int, span: float, samples: int, seed: int,
                   normalization: str, bias_bn: bool, _progress=None, _preview=None) -> L.Surface:
    """The 2-D plane of one run (same seed -> same directions for both twins)."""
    run = _run(net_json, train_json)
    x, y = _train_data(run)
    return L.plane(run.model, x, y, grid=grid, span=span, samples=samples, seed=seed,
                   normalization=normalization, include_bias_bn=bias_bn, progress=_progress,
                   preview=_preview)


@st.cache_data(max_entries=24, show_spinner=False)
def cached_interpolations(plain_json: str, residual_json: str, train_json: str, samples: int) -> dict:
    """init -> trained for both nets, and plain weights -> residual weights run in each net."""
    plain, residual = _run(plain_json, train_json), _run(residual_json, train_json)
    x, y = _train_data(residual)
    out = {}
    for run in (plain, residual):
        init = build_model(run.net)  # the same seed gives the same initial weights
        out[f"{run.label}: init → trained"] = L.interpolate(init, run.model, x, y, samples=samples,
                                                             label=f"{run.label}: init → trained")
    for host in (plain, residual):
        out[f"in the {host.label} net"] = L.interpolate(plain.model, residual.model, x, y, samples=samples,
                                                        evaluate_in=host.model, label=f"run in the {host.label} net")
    return out


@st.cache_data(max_entries=24, show_spinner=False)
def cached_trajectory(net_json: str, train_json: str, grid: int, samples: int) -> L.Trajectory:
    """The optimisation path on its PCA plane (Li §7)."""
    run = _run(net_json, train_json)
    if run.trajectory is None:
        raise ValueError("this run kept no weight checkpoints, so its path cannot be drawn")
    x, y = _train_data(run)
    tr = L.trajectory(run.model, run.trajectory, x, y, steps=run.history.checkpoint_steps, grid=grid,
                      samples=samples)
    tr.directions = []  # not needed for drawing; keeps the cache small
    return tr


@st.cache_data(max_entries=24, show_spinner=False)
def cached_curvature(net_json: str, train_json: str, samples: int, params: str, tol: float,
                     max_iterations: int) -> L.Curvature:
    """Extreme Hessian eigenvalues at θ* (Li §6), Lanczos run to the tolerance."""
    run = _run(net_json, train_json)
    x, y = _train_data(run)
    return L.hessian_extremes(run.model, x, y, samples=samples, params=params, tol=tol,
                              max_iterations=max_iterations)


@st.cache_data(max_entries=12, show_spinner=False)
def cached_curvature_map(net_json: str, train_json: str, grid: int, span: float, samples: int, seed: int,
                         normalization: str, bias_bn: bool, params: str, max_iterations: int,
                         _progress=None) -> L.CurvatureMap:
    """|λmin/λmax| over a coarse plane of the surface's own directions (Li Fig. 7)."""
    run = _run(net_json, train_json)
    x, y = _train_data(run)
    return L.curvature_map(run.model, x, y, grid=grid, span=span, samples=samples, seed=seed,
                           normalization=normalization, include_bias_bn=bias_bn, params=params,
                           max_iterations=max_iterations, progress=_progress)


# --- page --------------------------------------------------------------------------


def settings_form() -> dict:
    """Landscape settings in a form, so nothing recomputes until 'Apply'."""
    d = DEFAULTS
    with st.sidebar.form("landscape_form"):
        st.markdown("**Landscape settings**")
        st.select_slider("Grid points per axis", GRIDS, value=d["grid"], key="ls_grid",
                         help="Odd, so that θ* is the centre point. Li et al. use 51.")
        st.number_input("Span (grid covers [−span, span])", min_value=0.0, max_value=10.0,
                        value=float(d["span"]), step=0.25, key="ls_span")
        st.select_slider("Evaluation samples (fixed training subset)", SAMPLES, value=d["samples"], key="ls_samples")
        st.number_input("Direction seed", min_value=0, max_value=10_000, value=int(d["seed"]), step=1, key="ls_seed")
        st.radio("Direction normalization", L.NORMALIZATIONS, index=L.NORMALIZATIONS.index(d["normalization"]),
                 horizontal=True, key="ls_normalization",
                 help="filter: Li et al.'s per-filter scaling; try 'none' to see why it matters.")
        st.checkbox("Also perturb biases and BN γ/β", value=d["bias_bn"], key="ls_bias_bn")
        st.form_submit_button("Apply", type="primary")
    return {k: st.session_state.get(f"ls_{k}", v) for k, v in DEFAULTS.items()}


def compute_surfaces(runs: dict, s: dict, preview: bool) -> dict[str, L.Surface]:
    """Both planes, with a progress bar and (when `preview`) coarse previews while refining."""
    bar = st.progress(0.0, text="Computing the loss surfaces …")
    cols = st.columns(2)
    holders = {label: col.empty() for label, col in zip(runs, cols)}
    out = {}
    for k, (label, run) in enumerate(runs.items()):
        def cb(fraction, message, k=k, label=label):
            with live_output():
                bar.progress(min((k + fraction) / len(runs), 1.0), text=f"{label} net: {message}")

        def pv(partial, label=label):
            if preview and not partial.complete:
                with live_output():
                    fig = P.contour_figure(partial, label, height=380)
                    holders[label].plotly_chart(fig, key=f"preview_{label}_{int(partial.evaluated.sum())}")

        out[label] = cached_surface(run.net.to_json(), run.train.to_json(), s["grid"], s["span"], s["samples"],
                                    s["seed"], s["normalization"], s["bias_bn"], _progress=cb, _preview=pv)
    bar.empty()
    for h in holders.values():
        h.empty()
    return out


URL_DEFAULTS = {f"ls_{k}": v for k, v in DEFAULTS.items()} | {
    "landscape_view": VIEWS[0], "landscape_mode": P.MODES[0], "landscape_clip": 10.0, "landscape_projector": False,
    "landscape_lanczos": L.DEFAULT_MAX_ITERATIONS, "landscape_tol": L.DEFAULT_TOL, "landscape_hessian_params": "weights",
    "landscape_map_grid": 5}
HESSIAN_LABELS = {"weights": "weight tensors only (Li et al.)", "all": "all parameters (+ biases, BN γ/β)"}
TOLERANCES = (1e-2, 1e-3, 1e-4)
MAP_GRIDS = (3, 5, 7)


def curvature_section(runs: dict, s: dict) -> None:
    """Extreme Hessian eigenvalues at θ* with their convergence, then Li's Fig. 7 map on request."""
    c1, c2, c3 = st.columns([2, 1.2, 1.2])
    params = c1.radio("Hessian w.r.t.", L.HESSIAN_PARAMS, format_func=HESSIAN_LABELS.get, horizontal=True,
                      key="landscape_hessian_params",
                      help="Li et al. take the Hessian w.r.t. the weight tensors only (tensors with ≥ 2 axes).")
    tol = c2.select_slider("Tolerance (relative residual)", TOLERANCES, value=L.DEFAULT_TOL, key="landscape_tol",
                           format_func=lambda t: f"{t:g}")
    max_it = c3.slider("Most Lanczos steps", 10, 200, L.DEFAULT_MAX_ITERATIONS, key="landscape_lanczos",
                       help="Lanczos stops earlier once both extreme eigenvalues meet the tolerance.")
    curv = {}
    with st.spinner("Hessian-vector products …"):
        for label in runs:
            curv[label] = cached_curvature(runs[label].net.to_json(), runs[label].train.to_json(),
                                           s["samples"], params, tol, max_it)
    for col, label in zip(st.columns(2), runs):
        c = curv[label]
        col.metric(f"{label}: λmax", f"{c.lambda_max:.4g}")
        col.metric(f"{label}: λmin", f"{c.lambda_min:.4g}")
        col.metric(f"{label}: |λmin/λmax|", f"{c.ratio:.3f}")
        col.metric(f"{label}: Lanczos steps", f"{c.iterations}",
                   "converged" if c.converged else "not converged", delta_color="normal" if c.converged else "inverse",
                   help=f"relative residual ‖Hv − λv‖/|λ| = {c.relative_residual:.1g} (tolerance {c.tol:g})")
    show(P.curvature_figure(curv), "curvature")
    st.caption(L.curvature_caption(curv))

    st.subheader("|λmin/λmax| across the plane (Li et al. Fig. 7)")
    g1, g2 = st.columns([1, 3])
    grid = g1.select_slider("Map grid", MAP_GRIDS, value=5, key="landscape_map_grid",
                            help="The surface's own directions, on a coarse grid over the same span.")
    g2.caption(f"A Lanczos run at every grid point for both nets (tolerance {L.MAP_TOL:g}, as Li et al.): "
               f"about 3 s a point on 2 CPU cores for the default pair, so {grid}×{grid} takes roughly "
               f"{round(2 * grid * grid * 3.5 / 60 + 0.5)} min.")
    if g2.button("Compute the maps", key="landscape_map_go"):
        st.session_state["landscape_map_on"] = True
    if not st.session_state.get("landscape_map_on"):
        return
    bar = st.progress(0.0, text="Hessian maps …")
    maps = {}
    for k, (label, run) in enumerate(runs.items()):
        def cb(fraction, message, k=k, label=label):
            with live_output():
                bar.progress(min((k + fraction) / len(runs), 1.0), text=f"{label} net: {message}")

        maps[label] = cached_curvature_map(run.net.to_json(), run.train.to_json(), grid, s["span"], s["samples"],
                                           s["seed"], s["normalization"], s["bias_bn"], params, max_it,
                                           _progress=cb)
    bar.empty()
    zr = P.shared_ratio_range(maps.values())
    for col, label in zip(columns(2), runs):
        show(P.curvature_map_figure(maps[label], f"{label}: {runs[label].net.name}", zr), f"curvmap_{label}", col)
    st.caption(L.curvature_map_caption(maps))


def main() -> None:
    url_state("landscape", URL_DEFAULTS)
    try:
        pair, plain, residual = pick_pair()
    except ERRORS as e:
        show_error(e)
        return
    s = settings_form()
    runs = {"plain": plain, "residual": residual}
    colors = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}

    c1, c2, c3, c4 = st.columns([3, 1.2, 1.2, 1.6])
    view = c1.radio("View", VIEWS, horizontal=True, key="landscape_view")
    mode = c2.radio("Loss scale", P.MODES, horizontal=True, format_func=lambda m: "log₁₀" if m == "log" else "clipped",
                    key="landscape_mode")
    clip = c3.number_input("Ceiling", min_value=0.01, max_value=1e6, value=10.0, key="landscape_clip",
                           help="Losses above this (and overflows) are drawn at the ceiling.")
    projector = c4.toggle("Projector: one large plot", key="landscape_projector")
    which = c4.radio("Net", list(runs), horizontal=True, key="landscape_which",
                     label_visibility="collapsed") if projector else None
    shown = [which] if projector else list(runs)

    try:
        if view in ("2-D contours", "3-D surfaces", "1-D slices"):
            surfaces = compute_surfaces({k: runs[k] for k in (list(runs) if view == "1-D slices" else shown)},
                                        s, preview=view != "1-D slices")
            if view == "1-D slices":
                left, right = columns(2)
                show(P.slices_figure(surfaces, mode, clip), "slice_loss", left)
                show(P.slices_figure(surfaces, mode, clip, metric="accuracy"), "slice_acc", right)
                st.caption(L.slices_caption(surfaces) + " Li et al. (§5) relate wide, flat minima to better "
                           "generalisation.")
            else:
                zr = P.shared_zrange(surfaces.values(), mode, clip)
                draw = P.contour_figure if view == "2-D contours" else P.surface3d_figure
                cols = columns(len(shown))
                for col, label in zip(cols, shown):
                    srf = surfaces[label]
                    title = f"{label}: {runs[label].net.name}"
                    show(draw(srf, title, mode, clip, zr, height=720 if projector else 460), f"surface_{label}", col)
                    col.metric(f"{label}: loss at θ*", f"{srf.center_loss:.4f}",
                               help=f"accuracy at θ* {srf.center_accuracy:.1%} on {srf.settings['samples']} samples")
                if len(shown) == 2:
                    st.caption(L.surfaces_caption(surfaces["plain"], surfaces["residual"], runs["plain"].net.classes))
                else:
                    st.caption("Same seed, so the same directions as the other net, and one colour scale. Li et al. "
                               "(2018, Fig. 5) compare a deep plain net's surface with its residual twin's.")
        elif view == "Interpolation":
            with st.spinner("Interpolating …"):
                curves = cached_interpolations(plain.net.to_json(), residual.net.to_json(),
                                               residual.train.to_json(), s["samples"])
            left, right = columns(2)
            show(P.interpolation_figure(
                [(curves["plain: init → trained"], PLAIN_COLOR), (curves["residual: init → trained"], RESIDUAL_COLOR)],
                "Initial → trained weights (Goodfellow et al. 2015)", mode, clip), "interp_init", left)
            show(P.interpolation_figure(
                [(curves["in the plain net"], PLAIN_COLOR), (curves["in the residual net"], RESIDUAL_COLOR)],
                "Plain weights (t=0) → residual weights (t=1)", mode, clip), "interp_twins", right)
            st.caption("Left: the straight line from the initial to the trained weights (Goodfellow et al. 2015). "
                       + L.interpolation_caption({k: curves[f"{k}: init → trained"] for k in runs})
                       + " Right: the twins share initial weights and shapes, so their trained weights can be mixed; "
                         "each curve runs the mixture in one architecture.")
        elif view == "Trajectory":
            grid = min(s["grid"], 21)
            trs = {}
            bar = st.progress(0.0, text="Projecting the optimisation paths …")
            for k, label in enumerate(shown):
                trs[label] = cached_trajectory(runs[label].net.to_json(), runs[label].train.to_json(), grid,
                                               s["samples"])
                bar.progress((k + 1) / len(shown))
            bar.empty()
            zr = P.shared_zrange([t.surface for t in trs.values()], mode, clip)
            for col, label in zip(columns(len(shown)), shown):
                show(P.trajectory_figure(trs[label], f"{label}: path of training", colors[label], mode, clip,
                                         zr, height=720 if projector else 460), f"traj_{label}", col)
            st.caption(L.trajectory_caption(trs))
        else:
            curvature_section(runs, s)
    except ERRORS as e:
        show_error(e)


main()
