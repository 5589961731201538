"""Playground (after TensorFlow Playground, Smilkov et al. 2017): a deep plain MLP and its residual twin learning
a 2-D problem side by side. Thin page: widgets in (labels, bounds and help from the settings' field metadata),
one cached `resnet_viz.playground.playground_study` call, figures and captions out."""

from __future__ import annotations

import dataclasses
import time

import streamlit as st

from resnet_viz import playground as PG
from resnet_viz.plots import playground as P
from ui import results, views
from ui.common import USER_ERRORS, link_bind, show_error, url_state
from ui.figures import columns, figure, presenter, show

ERRORS = USER_ERRORS + (ValueError,)
META = {f.name: f.metadata for f in dataclasses.fields(PG.PlaygroundSettings)}
DEFAULTS = {k[3:]: v for k, v in views.defaults(PG.PlaygroundSettings).items()}  # field-ish name -> widget default
DATASETS = {"spirals": "Spirals", "moons": "Moons", "circles": "Circles", "xor": "XOR (Playground)",
            "gaussians": "Two Gaussians (Playground)"}
ACTIVATIONS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
FEATURES = {name: label for name, (label, _) in PG.FEATURES.items()}
PREVIEW_EVERY_S = 1.0  # a preview of the boundaries at most this often while training (each costs the browser a redraw)

st.title("Playground")
st.markdown("After TensorFlow Playground (Smilkov, Carter, Sculley, Viégas & Wattenberg 2017, *Direct-manipulation "
            "visualization of deep networks*): a deep **plain** MLP and its **residual twin** — the same layers and "
            "initial weights, trained on the same batches; only the shortcut y = x + W·act(x) differs — learning a "
            "2-D problem side by side. Watch the boundary form (or not), see what each block draws over the plane, "
            "and follow the gradient down to the first block.")

url_state(labels={"pg_dataset": DATASETS.get, "pg_activation": ACTIVATIONS.get, "pg_features": FEATURES.get,
                  "pg_lr": lambda v: f"{v:g}", "pg_l2": lambda v: f"{v:g}"})


def _int(col, name: str, key: str, slider: bool = True):
    m = META[name]
    if slider:
        return col.slider(m["label"], m["min"], m["max"], DEFAULTS[key], m["step"], key=f"pg_{key}",
                          bind="query-params", help=m["help"])
    return col.number_input(m["label"], m["min"], m["max"], DEFAULTS[key], m["step"], key=f"pg_{key}",
                            bind=link_bind(f"pg_{key}"), help=m["help"])


def _options(col, name: str, key: str):
    m = META[name]
    return col.select_slider(m["label"], m["options"], DEFAULTS[key], key=f"pg_{key}", bind="query-params",
                             format_func=lambda v: f"{v:g}", help=m["help"])


# Playground's controls, on top as in Playground; nothing is trained until 'Train the pair' (a form).
with st.form("playground_form"):
    c = st.columns(4)
    c[0].selectbox(META["dataset"]["label"], PG.PLANE_SETS, index=PG.PLANE_SETS.index(DEFAULTS["dataset"]),
                   format_func=DATASETS.get, key="pg_dataset", bind="query-params", help=META["dataset"]["help"])
    _int(c[1], "noise", "noise")
    _int(c[2], "train_ratio", "train_ratio")
    _int(c[3], "points", "points")
    c = st.columns(4)
    _int(c[0], "depth", "depth")
    _int(c[1], "width", "width")
    c[2].radio(META["activation"]["label"], PG.ACTIVATIONS, index=PG.ACTIVATIONS.index(DEFAULTS["activation"]),
               format_func=ACTIVATIONS.get, horizontal=True, key="pg_activation", bind="query-params",
               help=META["activation"]["help"])
    c[3].toggle("Batch norm", DEFAULTS["bn"], key="pg_bn", bind="query-params", help=META["norm"]["help"])
    c = st.columns(4)
    _options(c[0], "lr", "lr")
    _int(c[1], "batch_size", "batch", slider=False)
    _options(c[2], "l2", "l2")
    c[3].multiselect(META["features"]["label"], PG.FEATURE_NAMES, DEFAULTS["features"], format_func=FEATURES.get,
                     key="pg_features", bind="query-params", help=META["features"]["help"])
    c = st.columns(4)
    _int(c[0], "steps", "steps", slider=False)
    _int(c[1], "frames", "frames", slider=False)
    _int(c[2], "seed", "seed", slider=False)
    _int(c[3], "data_seed", "data_seed", slider=False)
    st.form_submit_button("Train the pair", type="primary", icon=":material/play_arrow:")

try:
    settings = views.settings(PG.PlaygroundSettings, st.session_state)
    settings.validate()
except ERRORS as e:
    show_error(e)
    st.stop()

# While the pair trains (first use of these settings on this server), the boundaries so far are drawn here.
holder = st.empty()
shown = [0.0]


def preview(partial: PG.PlaygroundResult) -> None:
    """The latest frame of both nets, at most every PREVIEW_EVERY_S seconds (the first at once)."""
    now = time.monotonic()
    if partial.complete or (now - shown[0] < PREVIEW_EVERY_S and len(partial.steps) > 1):
        return
    shown[0] = now
    holder.plotly_chart(P.boundary_figure(partial, animate=False), width="stretch",
                        key=f"pg_preview_{len(partial.steps)}", theme=None if presenter() else "streamlit")


try:
    result = results.playground(settings, "Training the plain net and its residual twin", preview=preview)
except ERRORS as e:
    holder.empty()
    show_error(e)
    st.stop()
holder.empty()

caps = result.captions()
st.markdown(f"**This run.** {caps['lesson']}")
cols = columns(2)
for col, t in zip(cols, result.nets):
    a, b = col.columns(2)
    a.metric(f"{t.label.capitalize()} net: training accuracy", "—" if t.diverged_at else
             f"{t.final_train_accuracy:.0%}", help=f"Verdict: {t.verdict}.")
    b.metric(f"{t.label.capitalize()} net: test accuracy", "—" if t.diverged_at else f"{t.final_test_accuracy:.0%}")
show(figure(P.boundary_figure, result), "playground_boundary")
st.caption(caps["boundary"])
show(figure(P.blocks_figure, result), "playground_blocks")
st.caption(caps["blocks"])
show(figure(P.gradient_figure, result), "playground_gradient")
st.caption(caps["gradient"])
with st.expander("Where this differs from TensorFlow Playground", icon=":material/info:"):
    st.markdown(
        "- **Adam**, not plain SGD, so that a few hundred steps suffice (Playground runs thousands of epochs); "
        "L2 acts on the weights, not the biases, as in Playground.\n"
        "- Each input feature is **standardised** with the training points' mean and spread before the first layer "
        "(Playground feeds x₁ on [−6, 6] and x₁² up to 36 as they are); the first layer can undo an affine map, "
        "so the nets can represent the same functions.\n"
        "- tanh and sigmoid nets are **Glorot-initialised**, ReLU nets **He-initialised** (Playground: U(−0.5, 0.5)).\n"
        "- Two softmax outputs and **cross-entropy** (Playground: one tanh output and squared error).\n"
        "- **Residual twins and batch norm** do not exist in Playground. A block is one Playground layer, "
        "W·act(x), and the residual twin adds its input: x + W·act(x).\n"
        "- Spirals, moons and circles are the lab's sets scaled into Playground's plane; XOR and two Gaussians "
        "are Playground's own.")
