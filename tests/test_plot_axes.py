"""Axes that read right (issue 15): log axes label every tick in full, loss spikes are cut and named."""

from __future__ import annotations

import glob
import math
import os
import re
import types

import numpy as np
import pytest

from resnet_viz.models import NetConfig
from resnet_viz.plots import common, training
from resnet_viz.plots.ensemble import path_length_figure
from resnet_viz.plots.shattering import sweep_figure
from resnet_viz.views.shattering import SweepResult

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUP = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def _value(label: str) -> float:
    """The number a person reads in a tick label ('0.2', '10⁵', '2·10⁻³')."""
    if "10" in label and any(c in label for c in "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"):
        head, _, exp = label.rpartition("10")
        return float(head.rstrip("·") or 1) * 10.0 ** int(exp.translate(SUP))
    return float(label)


def _run(step, epoch_train, epoch_test, grad=None):
    h = types.SimpleNamespace(step_loss=list(step), epoch_train_loss=list(epoch_train),
                              epoch_test_loss=list(epoch_test), grad_norms=grad or [])
    return types.SimpleNamespace(history=h)


def _decades_only(axis) -> None:
    assert axis.type == "log" and axis.tickmode == "array"
    for v, t in zip(axis.tickvals, axis.ticktext):
        assert math.isclose(math.log10(v), round(math.log10(v))), (v, t)  # decades only
        assert math.isclose(_value(t), v, rel_tol=1e-9), (v, t)  # and each label is its value


@pytest.mark.parametrize("lo,hi", [(1e-3, 30), (0.3, 2.5), (0.5, 0.9), (1e-7, 1e6), (2e-3, 4e3), (1, 50)])
def test_log_ticks_are_unambiguous(lo, hi):
    values, text, minor = common.log_ticks(lo, hi)
    assert len(set(text)) == len(text)  # no two ticks read the same ("2" for 0.2 and 20)
    for v, t in zip(values, text):
        assert math.isclose(_value(t), v, rel_tol=1e-9), (v, t)
    inside = [v for v in values if lo <= v <= hi]
    assert len(inside) >= 1
    if math.log10(hi / lo) >= 2:  # wide ranges: decades only, the rest as unlabelled minor ticks
        assert all(math.isclose(math.log10(v), round(math.log10(v))) for v in values)
        assert len(values) <= 9 and minor
    assert not set(minor) & set(values)


def test_tick_labels():
    assert common.tick_label(0.001) == "0.001" and common.tick_label(1000) == "1000"
    assert common.tick_label(20) == "20" and common.tick_label(0.2) == "0.2"
    assert common.tick_label(1e5) == "10⁵" and common.tick_label(2e-5) == "2·10⁻⁵"
    assert common.tick_label(1, power=True) == "10⁰"


def test_every_log_axis_goes_through_the_helper():
    """One place decides how log axes are labelled: no plot module sets type='log' itself."""
    for path in glob.glob(os.path.join(ROOT, "resnet_viz", "plots", "*.py")):
        if path.endswith("common.py"):
            continue
        text = open(path, encoding="utf-8").read()
        assert not re.search(r"""type\s*=\s*["']log["']""", text), path
        assert '"D2"' not in text and '"D1"' not in text, path


def test_loss_and_gradient_axes_label_decades_only():
    rng = np.random.default_rng(0)
    steps = np.exp(-np.linspace(0, 7, 300)) * 2.3 + 1e-4
    runs = {"plain": _run(steps * 2, [2.3, 0.5, 0.1, 0.02], [2.3, 0.6, 0.2, 0.1],
                          grad=rng.lognormal(0, 2, (5, 9)).tolist()),
            "residual": _run(steps, [2.3, 0.3, 0.05, 0.002], [2.3, 0.4, 0.1, 0.05],
                             grad=rng.lognormal(0, 0.3, (5, 9)).tolist())}
    fig = training.loss_curves(runs)
    _decades_only(fig.layout.yaxis)
    assert fig.layout.yaxis.range is None and not fig.layout.annotations  # no spike: nothing cut
    g = training.gradient_norms(runs)
    _decades_only(g.layout.yaxis)
    assert "_" not in g.layout.yaxis.title.text and "‖∂L/∂θ‖" in g.layout.yaxis.title.text


def test_loss_spike_is_cut_and_named():
    steps = list(np.exp(-np.linspace(0, 5, 200)) * 2.3)
    steps[20:24] = [1e5, 3e4, 1e3, 50]  # a first-epoch spike
    runs = {"plain": _run(steps, [2.3, 1e4, 0.5, 0.2, 0.1], [2.3, 2e5, 0.6, 0.3, 0.2]),
            "residual": _run(np.exp(-np.linspace(0, 6, 200)) * 2.3, [2.3, 0.5, 0.1, 0.05, 0.02],
                             [2.3, 0.6, 0.2, 0.1, 0.08])}
    for log_y in (True, False):
        fig = training.loss_curves(runs, log_y=log_y)
        top = fig.layout.yaxis.range[1]
        cap = 10 ** top if log_y else top
        assert 2.3 < cap < 1e3  # the bulk (initial loss 2.3 and below) stays readable
        notes = [a.text for a in fig.layout.annotations]
        assert notes == ["plain: ↑ 2·10⁵ (off scale)"]  # the spike is named, with its value
        marks = [t for t in fig.data if t.name == "plain: spike"]
        assert len(marks) == 1 and marks[0].y[0] == pytest.approx(cap) and marks[0].cliponaxis is False
    # A net without a spike is drawn whole.
    fig = training.loss_curves({"residual": runs["residual"]})
    assert fig.layout.yaxis.range is None


def test_depth_axes_label_every_depth_in_full():
    depths = [1, 2, 3, 5, 8, 12, 20, 30, 50]
    lag1 = {k: np.tile(np.linspace(1, 0, len(depths))[:, None], (1, 3)) for k in ("plain", "residual")}
    fig = sweep_figure(SweepResult(depths, lag1, NetConfig(arch="mlp", depth=2, block="single")))
    ax = fig.layout.xaxis
    assert ax.type == "log" and list(ax.tickvals) == depths and list(ax.ticktext) == [str(d) for d in depths]


def test_path_gradient_axis_decades_only():
    from resnet_viz.views.ensemble import PathGradientResult

    n = 8
    g = [10.0 ** -k for k in range(n + 1)]
    r = PathGradientResult(n, 16, list(range(n + 1)), [math.comb(n, k) for k in range(n + 1)], g,
                           [0.1 * v for v in g], [4] * (n + 1), [math.comb(n, k) * v for k, v in enumerate(g)],
                           (0, 2), 1.0)
    fig = path_length_figure(r)
    _decades_only(fig.layout.yaxis2)


def test_degradation_axes():
    """He's Fig. 1 at toy scale: layers labelled as they are, the loss axis in decades."""
    from resnet_viz.train import TrainConfig
    from resnet_viz.views.degradation import DegradationResult, DegradationRun, DegradationSettings, summarize

    runs = []
    for depth, layers in ((3, 8), (9, 20), (15, 32)):
        for skip in (False, True):
            curve = tuple(np.exp(-np.linspace(0, 8 - depth / 5, 60)) * 2.3)
            runs.append(DegradationRun(depth, layers, skip, 0, curve[-1], 0.9, None, 10, curve,
                                       (2.3, curve[30], curve[-1]), (0.9, 0.3, 0.1)))
    settings = DegradationSettings(depths=(3, 9, 15), seeds=1)
    result = DegradationResult(settings, NetConfig(), TrainConfig(), runs)
    fig = training.degradation_curves(result)
    _decades_only(fig.layout.yaxis)
    fig = training.degradation(summarize(runs), runs)
    assert list(fig.layout.xaxis.ticktext) == ["8", "20", "32"]


def test_identity_after_training_panel_labels_its_y_axis():
    """Issue 32: the shared log axis of the 'after training' panel showed no tick labels."""
    from resnet_viz.plots.compare import block_gradient_figure

    fig = block_gradient_figure({"plain": {"init": [1e-4, 1e-2, 1.0], "trained": [1e-6, 1e-3, 0.5]},
                                 "original (λ = 1)": {"init": [0.5, 0.7, 1.0], "trained": [0.2, 0.3, 0.4]}},
                                {"plain": "#000", "original (λ = 1)": "#f00"})
    left, right = fig.layout.yaxis, fig.layout.yaxis2
    assert right.showticklabels is True and right.type == "log"
    assert list(right.tickvals) == list(left.tickvals) and list(right.ticktext) == list(left.ticktext)
    assert min(left.tickvals) <= 1e-6 and max(left.tickvals) >= 1.0  # both panels' values labelled


def test_many_runs_get_one_legend_entry_each_and_room_for_it():
    """Issue 32: the shortcut-variants preset's 9 nets gave the loss chart 18 legend entries that swallowed
    the plot, and three stacked 'off scale' notes covered the curves."""
    from resnet_viz.plots.compare import identity_colors, recolor

    labels = ["plain", "original (λ = 1)", "λ = 0.5", "λ = 1.5", "constant scaling 0.5", "exclusive gating",
              "shortcut-only gating", "1×1 conv shortcut", "dropout shortcut"]
    base = np.exp(-np.linspace(0, 5, 200)) * 2.3
    runs = {k: _run(base, [2.3, 0.5, 0.2, 0.1, 0.05], [2.3, 0.6, 0.3, 0.2, 0.1]) for k in labels}
    for k in labels[-3:]:  # three runs with a spike: one note, not three
        runs[k] = _run(base, [2.3, 1e4, 0.5, 0.2, 0.1], [2.3, 2e5, 0.6, 0.3, 0.2])
    fig = recolor(training.loss_curves(runs), identity_colors(labels))
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == labels + ["3 runs off scale (hover the ▲)"]  # one entry a run, clicking it hides both its lines
    assert "dotted: test" in fig.layout.title.text
    assert fig.layout.height > 420 and fig.layout.margin.b > 40  # the legend's rows get their own room
    assert not fig.layout.annotations  # three runs off scale: one legend entry, not three notes on the curves
    for r in runs.values():
        r.history.epoch_test_accuracy = [0.1, 0.5, 0.8, 0.9, 0.95]
    acc = recolor(training.accuracy_curves(runs, 0.1), identity_colors(labels))
    assert [t.name for t in acc.data] == labels + ["chance 10%"] and not acc.layout.annotations
    assert len({t.line.color for t in acc.data[:-1]}) == len(labels)  # recolor still finds every run
    # A pair keeps its two entries a net.
    pair = training.loss_curves({k: runs[k] for k in labels[:2]})
    assert [t.name for t in pair.data if t.showlegend is not False] == [
        "plain: train loss", "plain: test loss", "original (λ = 1): train loss", "original (λ = 1): test loss"]


def test_a_long_run_name_stays_out_of_its_spike_note():
    steps = list(np.exp(-np.linspace(0, 5, 200)) * 2.3)
    runs = {"ResNeXt (cardinality 4)": _run(steps, [2.3, 1e4, 0.5, 0.2, 0.1], [2.3, 2e5, 0.6, 0.3, 0.2]),
            "original (λ = 1)": _run(steps, [2.3, 0.5, 0.1, 0.05, 0.02], [2.3, 0.6, 0.2, 0.1, 0.08])}
    notes = [a.text for a in training.loss_curves(runs).layout.annotations]
    assert notes == ["↑ 2·10⁵ (off scale)"]  # coloured as its run; the marker's hover names it
