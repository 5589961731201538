"""Playground (after TensorFlow Playground, Smilkov et al. 2017): a deep plain MLP and its residual twin learning
a 2-D problem side by side. Thin page: widgets in (labels, bounds and help from the settings' field metadata),
one cached `resnet_viz.views.playground.playground_study` call, figures and captions out."""

from __future__ import annotations

import time

import streamlit as st

from resnet_viz.captions import details_of, takeaway_of
from resnet_viz.numbers import MISSING, pct
from resnet_viz.plots import playground as P
from resnet_viz.registry import view
from resnet_viz.views import playground as PG
from ui import results
from ui.common import url_state
from ui.errors import guard
from ui.figures import caption, columns, figure, presenter, show
from ui.settings import read, widget

VIEW = view("playground")
PREVIEW_EVERY_S = 1.0  # a preview of the boundaries at most this often while training (each costs the browser a redraw)

st.title(VIEW.title)
st.markdown("After TensorFlow Playground (Smilkov, Carter, Sculley, Viégas & Wattenberg 2017, *Direct-manipulation "
            "visualization of deep networks*): a deep **plain** MLP and its **residual twin** — the same layers and "
            "initial weights, trained on the same batches; only the shortcut y = x + W·act(x) differs — learning a "
            "2-D problem side by side. Watch the boundary form (or not), see what each block draws over the plane, "
            "and follow the gradient down to the first block.")

url_state()

# Playground's controls, on top as in Playground; nothing is trained until 'Train the pair' (a form).
with st.form("playground_form"):
    for row in (("dataset", "noise", "train_ratio", "points"), ("depth", "width", "activation", "norm"),
                ("lr", "batch_size", "l2", "features"), ("steps", "frames", "seed", "data_seed")):
        for col, name in zip(st.columns(4), row):
            widget(PG.PlaygroundSettings, name, col)
    st.form_submit_button("Train the pair", type="primary", icon=":material/play_arrow:")

with guard("The settings", stop=True):
    settings = read(PG.PlaygroundSettings, st.session_state)
    settings.validate()

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


with guard("Training the pair", stop=True, where=holder):  # the message takes the preview's place
    result = results.result(VIEW, settings, text="Training the plain net and its residual twin", preview=preview)
    caps = result.captions()
holder.empty()

with guard("The accuracies"):
    st.markdown(f"**This run.** {takeaway_of(caps['lesson'])}")
    with st.expander("How this was measured"):
        st.caption(details_of(caps["lesson"]))
    cols = columns(2)
    for col, t in zip(cols, result.nets):
        a, b = col.columns(2)
        a.metric(f"{t.label.capitalize()} net: training accuracy", pct(t.final_train_accuracy, 0),
                 help=f"Verdict: {t.verdict}." + (f" {MISSING}: it diverged, so it has no accuracy."
                                                  if t.diverged_at else ""))
        b.metric(f"{t.label.capitalize()} net: test accuracy", pct(t.final_test_accuracy, 0))
with guard("The decision boundaries"):
    show(figure(P.boundary_figure, result), "playground_boundary")
    caption(caps["boundary"])
with guard("What each block draws"):
    show(figure(P.blocks_figure, result), "playground_blocks")
    caption(caps["blocks"])
with guard("The gradient down to the first block"):
    show(figure(P.gradient_figure, result), "playground_gradient")
    caption(caps["gradient"])
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
