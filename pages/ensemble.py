"""Unrolled-ensemble view (Veit et al. 2016): delete and reorder blocks, gradient by path length.
Thin page: widgets in, `resnet_viz.views.ensemble` call (cached per run and settings), figures out."""

from __future__ import annotations

import streamlit as st

from resnet_viz.captions import Caption, details_of, takeaway_of
from resnet_viz.numbers import pct, points
from resnet_viz.plots import ensemble as P
from resnet_viz.registry import view as view_named
from resnet_viz.views import ensemble as E
from ui import results
from ui.common import pick_pair, url_state
from ui.errors import guard
from ui.figures import caption, columns, figure, show
from ui.settings import read, widget

VIEW = view_named("ensemble")

st.title(VIEW.title)
st.markdown("Veit, Wilber & Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow "
            "Networks*: n residual blocks unroll into 2ⁿ paths; delete blocks at test time and see who survives.")


# --- the computation (kept per pair and settings for every session) -------------------------


def study(plain, residual, settings: E.EnsembleSettings) -> E.EnsembleView:
    """The view's one computation (`ensemble_study`): deletions, k-sweep and swaps of both nets
    (Veit §4.1-4.2) and the residual net's gradient by path length (§4.3), with a progress bar."""
    return results.result(VIEW, settings, runs={"plain": plain, "residual": residual},
                          text="Deleting blocks and routing gradients")


# --- page ------------------------------------------------------------------------------------


def settings_form() -> E.EnsembleSettings:
    """Sampling settings in a sidebar form, so nothing recomputes until 'Apply'."""
    with st.sidebar.form("ensemble_form"):
        st.markdown("**Ensemble settings**")
        for name in ("samples", "max_k", "include_downsampling", "seed", "batch"):
            widget(E.EnsembleSettings, name)
        st.form_submit_button("Apply", type="primary")
    return read(E.EnsembleSettings, st.session_state)


def lesion_section(view: E.EnsembleView) -> None:
    """Deletion bars per net (side by side), then the k-sweep and the reorder study for both."""
    results, captions = view.lesions, view.captions()
    st.subheader("Delete one block")
    for col, r in zip(columns(2), results):
        show(figure(P.deletion_figure, r), f"delete_{r.label}", col)
        down = [i + 1 for i in r.downsampling_blocks]
        typical = E.one_block_accuracy(r)
        # Streamlit colours a delta by its leading ASCII sign: the number style's minus "−" is given as "-".
        col.metric(f"{r.label}: one block deleted (median block)", pct(typical),
                   delta=f"{points(typical - r.base_accuracy).replace('−', '-')} from intact",
                   help="The median over the non-downsampling blocks, which one outlier block does not drag down "
                        "(the caption names those)" + (f"; downsampling blocks {down} are hatched" if down else ""))
    deletion = captions["deletion"]
    caption(Caption(takeaway_of(deletion),
                    "Each bar is the test accuracy with one block removed (residual: y = x + F(x) → y = x; plain: "
                    "y = F(x) → y = x). " + P.DOWN_NOTE + ". Measured: " + details_of(deletion)))
    left, right = columns(2)
    show(figure(P.k_sweep_figure, results), "k_sweep", left)
    caption(captions["k_sweep"], left)
    if captions["reorder"]:
        show(figure(P.reorder_figure, results), "reorder", right)
        caption(captions["reorder"], right)


def paths_section(view: E.EnsembleView) -> None:
    """The path-length distribution, g(k) and C(n, k)·g(k) for the residual net."""
    st.subheader("Gradient by path length")
    show(figure(P.path_length_figure, view.paths), "paths")
    caption(view.captions()["paths"])


def diagram_section(n_blocks: int) -> None:
    """The unrolled graph for a small number of blocks (Veit Fig. 1)."""

    @st.fragment
    def draw() -> None:
        st.subheader("The unrolled view")
        with guard("The unrolled view"):  # in the fragment: its own reruns go through it too
            n = widget(E.EnsembleSettings, "diagram_blocks")
            left, right = columns([3, 2])
            show(figure(P.unrolled_figure, n), "unrolled", left)
            c = E.path_counts(n_blocks)
            mean = sum(k * v for k, v in zip(c["path_length"], c["count"])) / 2**n_blocks
            right.markdown("y₃ = y₂ + f₃(y₂) = … expands into a sum over every choice of branch or shortcut at "
                           "each block: **2ⁿ paths**, C(n, k) of them of length k (Binomial(n, ½)).")
            right.metric("Paths in this residual net", f"{2**n_blocks:,}", help=f"{n_blocks} blocks")
            right.metric("Mean path length", f"{mean:g} of {n_blocks} blocks")

    draw()


url_state()  # the settings widgets keep themselves in the link
settings = settings_form()
with guard("The trained pair", stop=True):
    pair, plain, residual = pick_pair()
st.caption("Veit et al. found that a residual net survives losing a block and degrades smoothly as more go, "
           "while its plain twin collapses, and that most of the gradient travels along short paths. The "
           "captions below say what this pair shows.")
view = None
with guard("The deletion study"):
    E.check_net(residual.model)
    view = study(plain, residual, settings)
if view is not None:  # each section on its own: one that fails leaves the others drawn
    with guard("Delete one block"):
        lesion_section(view)
    with guard("Gradient by path length"):
        paths_section(view)
diagram_section(residual.net.depth)
