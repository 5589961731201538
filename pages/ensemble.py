"""Unrolled-ensemble view (Veit et al. 2016): delete and reorder blocks, gradient by path length.
Thin page: widgets in, `resnet_viz.ensemble` call (cached per run and settings), figures out."""

from __future__ import annotations

import json

import streamlit as st

from resnet_viz import ensemble as E
from resnet_viz.models import NetConfig
from resnet_viz.plots import ensemble as P
from resnet_viz.train import TrainConfig
from ui.common import USER_ERRORS, ensure_run, pick_pair, progress_bar, show_error, url_state
from ui.figures import columns, show

ERRORS = USER_ERRORS + (ValueError,)
SAMPLES = (4, 8, 12, 20, 32, 50)
DEFAULTS = dict(samples=E.DEFAULT_SAMPLES, seed=0, max_k=0, include_downsampling=False,
                batch=E.DEFAULT_GRADIENT_BATCH)

st.title("Unrolled ensemble")
st.markdown("Veit, Wilber & Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow "
            "Networks*: n residual blocks unroll into 2ⁿ paths; delete blocks at test time and see who survives.")


# --- cached computations (keyed by the configs and the settings) ---------------------------


def _run(net_json: str, train_json: str):
    return ensure_run(NetConfig.from_json(net_json), TrainConfig.from_dict(json.loads(train_json)))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_lesion(net_json: str, train_json: str, samples: int, seed: int, max_k: int | None,
                  include_downsampling: bool, _progress=None) -> E.LesionResult:
    """Single-block deletion, k-deletion sweep and block swaps of one run (Veit §4.1-4.2)."""
    return E.lesion_study(_run(net_json, train_json), samples=samples, seed=seed, max_k=max_k,
                          include_downsampling=include_downsampling, progress=_progress)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_paths(net_json: str, train_json: str, samples: int, seed: int, batch: int,
                 _progress=None) -> E.PathGradientResult:
    """Gradient magnitude by path length of one residual run (Veit §4.3)."""
    return E.path_gradient_study(_run(net_json, train_json), samples=samples, seed=seed, batch=batch,
                                 progress=_progress)


# --- page ------------------------------------------------------------------------------------


def settings_form() -> dict:
    """Sampling settings in a sidebar form, so nothing recomputes until 'Apply'."""
    with st.sidebar.form("ensemble_form"):
        st.markdown("**Ensemble settings**")
        st.select_slider("Random subsets per k", SAMPLES, value=DEFAULTS["samples"], key="ens_samples",
                         help="Each k uses every subset of k blocks when there are fewer than this.")
        st.number_input("Largest k (0 = every deletable block)", min_value=0, max_value=200,
                        value=DEFAULTS["max_k"], step=1, key="ens_max_k")
        st.checkbox("Delete downsampling blocks too", value=DEFAULTS["include_downsampling"], key="ens_include_downsampling",
                    help="Deleted downsampling blocks become y = shortcut(x) (subsample + zero-pad).")
        st.number_input("Sampling seed", min_value=0, max_value=10_000, value=DEFAULTS["seed"], step=1, key="ens_seed")
        st.select_slider("Inputs for the gradient study", (32, 64, 128, 256, 360), value=DEFAULTS["batch"],
                         key="ens_batch")
        st.form_submit_button("Apply", type="primary")
    return {k: st.session_state.get(f"ens_{k}", v) for k, v in DEFAULTS.items()}


def lesion_section(runs, s: dict) -> None:
    """Deletion bars per net (side by side), then the k-sweep and the reorder study for both."""
    bar, cb = progress_bar("Deleting blocks")
    results = []
    try:
        for i, run in enumerate(runs):
            results.append(cached_lesion(run.net.to_json(), run.train.to_json(), s["samples"], s["seed"],
                                         s["max_k"] or None, s["include_downsampling"],
                                         _progress=lambda f, m, i=i, label=run.label: cb((i + f) / len(runs),
                                                                                         f"{label} net, {m}")))
    finally:
        bar.empty()
    st.subheader("Delete one block")
    for col, r in zip(columns(2), results):
        show(P.deletion_figure(r), f"delete_{r.label}", col)
        down = [i + 1 for i in r.downsampling_blocks]
        keep = [a for i, a in enumerate(r.single_block_accuracy) if i not in r.downsampling_blocks]
        col.metric(f"{r.label}: mean accuracy, one block deleted", f"{sum(keep) / max(len(keep), 1):.1%}",
                   delta=f"{sum(keep) / max(len(keep), 1) - r.base_accuracy:+.1%} from intact",
                   help="Averaged over the non-downsampling blocks"
                        + (f"; downsampling blocks {down} are hatched" if down else ""))
    st.caption("Each bar is the test accuracy with one block removed (residual: y = x + F(x) → y = x; plain: "
               "y = F(x) → y = x). " + P.DOWN_NOTE + ". Measured: " + E.deletion_caption(results))
    left, right = columns(2)
    show(P.k_sweep_figure(results), "k_sweep", left)
    left.caption(E.k_sweep_caption(results))
    if any(r.reorder is not None for r in results):
        show(P.reorder_figure(results), "reorder", right)
        right.caption(E.reorder_caption(results))


def paths_section(plain, residual, s: dict) -> None:
    """The path-length distribution, g(k) and C(n, k)·g(k) for the residual net."""
    st.subheader("Gradient by path length")
    bar, cb = progress_bar("Routing gradients along paths")
    try:
        res = cached_paths(residual.net.to_json(), residual.train.to_json(), s["samples"], s["seed"],
                           s["batch"], _progress=cb)
    finally:
        bar.empty()
    show(P.path_length_figure(res), "paths")
    st.caption(E.path_gradient_caption(res, plain.net.depth))


def diagram_section(n_blocks: int) -> None:
    """The unrolled graph for a small number of blocks (Veit Fig. 1)."""

    @st.fragment
    def draw() -> None:
        st.subheader("The unrolled view")
        n = st.slider("Blocks to unroll", 1, E.MAX_DIAGRAM_BLOCKS, 3, key="ensemble_diagram_n")
        left, right = st.columns([3, 2])
        show(P.unrolled_figure(n), "unrolled", left)
        c = E.path_counts(n_blocks)
        mean = sum(k * v for k, v in zip(c["path_length"], c["count"])) / 2**n_blocks
        right.markdown(f"y₃ = y₂ + f₃(y₂) = … expands into a sum over every choice of branch or shortcut at each "
                       f"block: **2ⁿ paths**, C(n, k) of them of length k (Binomial(n, ½)).")
        right.metric("Paths in this residual net", f"{2**n_blocks:,}", help=f"{n_blocks} blocks")
        right.metric("Mean path length", f"{mean:g} of {n_blocks} blocks")

    draw()


URL_DEFAULTS = {f"ens_{k}": v for k, v in DEFAULTS.items()} | {"ensemble_diagram_n": 3}
url_state("ensemble", URL_DEFAULTS)
settings = settings_form()
try:
    pair, plain, residual = pick_pair()
    st.caption("Veit et al. found that a residual net survives losing a block and degrades smoothly as more go, "
               "while its plain twin collapses, and that most of the gradient travels along short paths. The "
               "captions below say what this pair shows.")
    E.check_net(residual.model)
    lesion_section((plain, residual), settings)
    paths_section(plain, residual, settings)
    diagram_section(residual.net.depth)
except ERRORS as e:
    show_error(e)
