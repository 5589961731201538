"""Shattered gradients view (Balduzzi et al. 2017): gradients of random 1-D nets with depth, plain
against residual, with Balduzzi's one-layer residual modules by default. Thin page: widgets in,
`resnet_viz.views.shattering` call (cached), figures and captions computed from the results out."""

from __future__ import annotations

import dataclasses
import json

import streamlit as st

from resnet_viz.captions import Caption
from resnet_viz.data import load_dataset
from resnet_viz.models import NetConfig
from resnet_viz.plots import shattering as P
from resnet_viz.registry import view
from resnet_viz.settings import keys
from resnet_viz.train import TrainConfig
from resnet_viz.views import shattering as sh
from ui import results
from ui.common import ensure_run, pick_pair, show_error, url_state
from ui.errors import USER_FIXABLE, guard
from ui.figures import caption, columns, figure, show
from ui.settings import read, widget
from ui.urlstate import link_bind

VIEW = view("shattering")

st.title(VIEW.title)
st.markdown("Balduzzi et al. (2017), *The Shattered Gradients Problem: If resnets are the answer, then what is "
            "the question?* — random nets f: ℝ → ℝ at initialisation: how correlated are the gradients df/dx at "
            "neighbouring inputs, without and with shortcuts? The default residual module is Balduzzi's, "
            "x + W·ReLU(BN x).")

url_state()  # the widgets below keep themselves in the link
pair = plain_run = residual_run = None
with guard("The trained pair"):  # the random-net experiment below needs no trained pair
    pair, plain_run, residual_run = pick_pair(warn=False)  # random nets first; see trained_nets


# --- cached computations ----------------------------------------------------------------


def study(settings: sh.ShatteringSettings) -> sh.ShatteringView:
    """The view's one computation (`shattering_study`) for these settings, shared by every session
    (with a progress bar when it is computed)."""
    return results.result(VIEW, settings, text="Random nets")


@st.cache_data(max_entries=32, show_spinner=False)
def cached_line(plain_json: str, residual_json: str, train_json: str, a: int, b: int):
    """Gradients of the logit along the line between test inputs a and b, for both trained nets."""
    train = TrainConfig.from_dict(json.loads(train_json))
    runs = [ensure_run(NetConfig.from_json(j), train) for j in (plain_json, residual_json)]
    data = load_dataset(train.dataset, train.data_root, train.data_limit)
    n = len(data.x_test)
    if not (0 <= a < n and 0 <= b < n) or a == b:
        raise ValueError(f"pick two different test inputs from 0 to {n - 1}")
    x_a, x_b = data.x_test[a], data.x_test[b]
    results = [sh.line_gradients(r.model, x_a, x_b) for r in runs]  # each net: the logit it predicts at A
    labels = (int(data.y_test[a]), int(data.y_test[b]))
    names = tuple(data.class_names[i] for i in labels)
    return results[0], results[1], names


# --- the 1-D experiment ----------------------------------------------------------------


@st.fragment
def random_nets() -> None:
    """Controls and figures of the experiment on random nets R -> R."""
    st.subheader("Random nets f: ℝ → ℝ at initialisation")
    with st.form("shatter_settings"):
        for row in (("depth", "width", "lam", "seeds"), ("points", "bn", "module", "looks_linear")):
            for col, name in zip(st.columns(4), row):
                widget(sh.ShatteringSettings, name, col)
        widget(sh.ShatteringSettings, "sweep")
        st.form_submit_button("Apply", type="primary")
    with guard("Random nets") as part:
        settings, sweep_error = _settings()
        view = study(settings)
    if part.failed:
        return
    plain, residual = view.plain, view.residual

    with guard("The gradients of the random nets"):
        cols = columns(2)
        for col, r, label in ((cols[0], plain, "Plain net"), (cols[1], residual, "Residual net")):
            with col:
                st.metric(f"{label}: lag-1 autocorrelation", sh.lag_text(r.lag1),
                          help="Correlation between gradients at neighbouring inputs, mean over seeds "
                               "(1: smooth, 0: white noise).")
                show(figure(P.gradient_figure, r), f"gradients_{label.split()[0].lower()}")
                show(figure(P.correlation_figure, r), f"correlation_{label.split()[0].lower()}")
        show(figure(P.acf_figure, plain, residual), "autocorrelation")
        cap = view.setting_caption()
        caption(Caption(cap.takeaway, "How to read: white noise is a gradient that jumps at every input (lag-1 near 0, "
                                      "a correlation matrix with only its diagonal, an autocorrelation that drops to 0 "
                                      "after one step); brown noise wanders smoothly (lag-1 near 1, bands along the "
                                      f"diagonal, slow decay). This run: {cap.details}"))

    st.subheader("Lag-1 autocorrelation against depth")
    if sweep_error is not None:  # the setting above is drawn; only the sweep waits for valid depths
        show_error(sweep_error)
        return
    with guard("Lag-1 autocorrelation against depth"):
        show(figure(P.sweep_figure, view.sweep), "lag1_sweep")
        caption(view.sweep_caption())


def _settings() -> tuple[sh.ShatteringSettings, Exception | None]:
    """The view's settings from its widgets, and the error of the sweep's depths if only they are wrong
    (then the settings hold no sweep, so the figures of the setting are still drawn)."""
    values = {k: st.session_state[k] for k in keys(sh.ShatteringSettings).values() if k in st.session_state}
    try:
        settings = read(sh.ShatteringSettings, values)
        settings.validate()
        return settings, None
    except USER_FIXABLE as e:
        values.pop(keys(sh.ShatteringSettings)["sweep"], None)
        settings = dataclasses.replace(read(sh.ShatteringSettings, values), sweep=())
        settings.validate()  # an error of the setting itself is raised
        return settings, e


# --- the trained pair ----------------------------------------------------------------------


@st.fragment
def trained_nets() -> None:
    """Gradients of the trained pair's logit along a straight line between two test inputs."""
    if pair is None:
        return
    st.subheader(f"The trained pair: {pair.label}")
    c = st.columns(2)
    a = c[0].number_input("Test input A", 0, None, 0, key="line_a", bind=link_bind("line_a"))
    b = c[1].number_input("Test input B", 0, None, 1, key="line_b", bind=link_bind("line_b"))
    with guard("The gradients along the line") as part:
        plain, residual, names = cached_line(plain_run.net.to_json(), residual_run.net.to_json(),
                                             residual_run.train.to_json(), int(a), int(b))
    if part.failed:
        return
    with guard("The trained pair's gradients"):
        for run in (plain_run, residual_run):
            if run.failure:
                st.warning(f"The {run.label} net of this pair **failed to train** ({run.failure}): its gradients below are "
                           "those of a broken net.")
        cols = st.columns(2)
        cols[0].metric("Trained plain net: lag-1 along the line", f"{plain.lag1:.2f}")
        cols[1].metric("Trained residual net: lag-1 along the line", f"{residual.lag1:.2f}")
        show(figure(P.line_figure, plain, residual), "trained_line")
        st.caption(f"From input A (class {names[0]}) to input B (class {names[1]}): the derivative of the logit each "
                   "net predicts at A, along the straight line, at 256 points. A jagged curve means the trained net's "
                   "gradients are shattered along the way.")


random_nets()
trained_nets()
