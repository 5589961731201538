"""Loss landscape view: plain and residual surfaces along the same filter-normalized directions
(Li et al. 2018). Thin page: widgets in, `resnet_viz.views.landscape` call (cached), figures out."""

from __future__ import annotations

import dataclasses

import streamlit as st

from resnet_viz.numbers import num, pct
from resnet_viz.plots import landscape as P
from resnet_viz.plots.common import PLAIN_COLOR, RESIDUAL_COLOR
from resnet_viz.registry import view as view_named
from resnet_viz.views import landscape as L
from ui import results
from ui.common import pick_pair, url_state
from ui.errors import guard
from ui.figures import caption, columns, figure, show
from ui.settings import read, widget

VIEW = view_named("landscape")

st.title(VIEW.title)
st.markdown("Li, Xu, Taylor, Studer & Goldstein (2018), *Visualizing the Loss Landscape of Neural Nets*: "
            "the loss around the trained weights, f(α, β) = L(θ* + αδ + βη), along filter-normalized random directions.")


# --- cached computations (keyed by the configs and the settings) --------------------------


def study(runs: dict, settings: L.LandscapeSettings, text: str, preview: bool = False) -> L.LandscapeView:
    """The view's one computation (`landscape_study`) for the chosen sub-view, shared by every session:
    computed with a progress bar and, for planes, coarse previews while refining (ui.common.cached_compute)."""
    holders = {label: col.empty() for label, col in zip(settings.nets, st.columns(len(settings.nets)))}

    def pv(label, partial):
        if preview and not partial.complete and label in holders:
            fig = P.contour_figure(partial, label, height=380)
            holders[label].plotly_chart(fig, key=f"preview_{label}_{int(partial.evaluated.sum())}")

    try:
        return results.result(VIEW, settings, runs=runs, text=text.rstrip(":"), preview=pv)
    finally:
        for h in holders.values():
            h.empty()


# --- page --------------------------------------------------------------------------


def settings_form() -> L.LandscapeSettings:
    """Landscape settings in a form, so nothing recomputes until 'Apply'."""
    with st.sidebar.form("landscape_form"):
        st.markdown("**Landscape settings**")
        for name in ("grid", "span", "samples", "seed", "normalization", "bias_bn"):
            widget(L.LandscapeSettings, name)
        st.form_submit_button("Apply", type="primary")
    return read(L.LandscapeSettings, st.session_state)


def curvature_section(runs: dict, s: L.LandscapeSettings) -> None:
    """Extreme Hessian eigenvalues at θ* with their convergence, then Li's Fig. 7 map on request."""
    for col, name in zip(st.columns([2, 1.2, 1.2]), ("hessian_params", "tol", "max_iterations")):
        widget(L.LandscapeSettings, name, col)
    settings = read(L.LandscapeSettings, st.session_state, base=s)
    view = study(runs, dataclasses.replace(settings, curvature_map=False), "Hessian-vector products:")
    curv = view.curvature
    for col, label in zip(st.columns(2), runs):
        c = curv[label]
        col.metric(f"{label}: λmax", num(c.lambda_max, 4))
        col.metric(f"{label}: λmin", num(c.lambda_min, 4))
        col.metric(f"{label}: |λmin/λmax|", f"{c.ratio:.3f}")
        col.metric(f"{label}: Lanczos steps", f"{c.iterations}",
                   "converged" if c.converged else "not converged", delta_color="normal" if c.converged else "inverse",
                   help=f"relative residual ‖Hv − λv‖/|λ| = {num(c.relative_residual, 1)} (tolerance {num(c.tol)})")
    show(figure(P.curvature_figure, curv), "curvature")
    caption(view.caption())

    st.subheader("|λmin/λmax| across the plane (Li et al. Fig. 7)")
    g1, g2 = st.columns([1, 3])
    grid = widget(L.LandscapeSettings, "map_grid", g1)
    g2.caption(f"A Lanczos run at every grid point for both nets (tolerance {L.MAP_TOL:g}, as Li et al.): "
               f"about 3 s a point on 2 CPU cores for the default pair, so {grid}×{grid} takes roughly "
               f"{round(2 * grid * grid * 3.5 / 60 + 0.5)} min.")
    if g2.button("Compute the maps", key="landscape_map_go"):
        st.session_state["landscape_map_on"] = True
    if not st.session_state.get("landscape_map_on"):
        return
    with guard("The curvature maps"):  # the eigenvalues above stay drawn
        mapped = study(runs, dataclasses.replace(settings, curvature_map=True), "Hessian maps:")
        maps = mapped.maps
        zr = P.shared_ratio_range(maps.values())
        for col, label in zip(columns(2), runs):
            show(figure(P.curvature_map_figure, maps[label], f"{label}: {runs[label].net.name}", zr),
                 f"curvmap_{label}", col)
        caption(mapped.map_caption())


def main() -> None:
    url_state(flags=("landscape_map_on",))
    with guard("The trained pair", stop=True):
        pair, plain, residual = pick_pair()
    s = settings_form()
    runs = {"plain": plain, "residual": residual}
    colors = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}

    c1, c2, c3, c4 = st.columns([3, 1.2, 1.2, 1.6])
    view = widget(L.LandscapeSettings, "view", c1)
    mode = widget(L.LandscapeSettings, "mode", c2)
    clip = widget(L.LandscapeSettings, "clip", c3)
    projector = c4.toggle("Projector: one large plot", key="landscape_projector", bind="query-params")
    which = c4.radio("Net", list(runs), horizontal=True, key="landscape_which", bind="query-params",
                     label_visibility="collapsed") if projector else None
    shown = [which] if projector else list(runs)
    s = dataclasses.replace(read(L.LandscapeSettings, st.session_state, base=s), nets=tuple(shown))

    with guard(view):  # the sub-view shown
        if view in L.SURFACE_VIEWS:
            result = study(runs, s, "Computing the loss surfaces:", preview=view != "1-D slices")
            surfaces = result.surfaces
            if view == "1-D slices":
                left, right = columns(2)
                show(figure(P.slices_figure, surfaces, mode, clip), "slice_loss", left)
                show(figure(P.slices_figure, surfaces, mode, clip, metric="accuracy"), "slice_acc", right)
            else:
                zr = P.shared_zrange(surfaces.values(), mode, clip)
                draw = P.contour_figure if view == "2-D contours" else P.surface3d_figure
                cols = columns(len(shown))
                for col, label in zip(cols, shown):
                    srf = surfaces[label]
                    title = f"{label}: {runs[label].net.name}"
                    show(figure(draw, srf, title, mode, clip, zr, height=720 if projector else 460), f"surface_{label}", col)
                    col.metric(f"{label}: loss at θ*", f"{srf.center_loss:.4f}",
                               help=f"accuracy at θ* {pct(srf.center_accuracy)} on {srf.settings['samples']} samples")
            caption(result.caption())
        elif view == "Interpolation":
            result = study(runs, s, "Interpolating:")
            curves = result.interpolations
            left, right = columns(2)
            show(figure(P.interpolation_figure,
                [(curves["plain: init → trained"], PLAIN_COLOR), (curves["residual: init → trained"], RESIDUAL_COLOR)],
                "Initial → trained weights (Goodfellow et al. 2015)", mode, clip), "interp_init", left)
            show(figure(P.interpolation_figure,
                [(curves["in the plain net"], PLAIN_COLOR), (curves["in the residual net"], RESIDUAL_COLOR)],
                "Plain weights (t=0) → residual weights (t=1)", mode, clip), "interp_twins", right)
            caption(result.caption())
        elif view == "Trajectory":
            trs = study(runs, s, "Projecting the optimisation paths:").trajectories
            zr = P.shared_zrange([t.surface for t in trs.values()], mode, clip)
            for col, label in zip(columns(len(shown)), shown):
                show(figure(P.trajectory_figure, trs[label], f"{label}: path of training", colors[label], mode, clip,
                                         zr, height=720 if projector else 460), f"traj_{label}", col)
            caption(L.trajectory_caption(trs))
        else:
            curvature_section(runs, s)


main()
