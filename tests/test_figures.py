"""ui.figures.figure (issue 14): a figure is built once for every session that draws it, and is never
another argument's figure."""

from __future__ import annotations

import gc
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from resnet_viz.models import NetConfig
from resnet_viz.plots import features as PF
from resnet_viz.plots import shattering as PS
from resnet_viz.views.shattering import SweepResult
from ui import figures
from ui.figures import enlarged, figure


@pytest.fixture(autouse=True)
def _empty():
    figures._figures.clear()
    yield
    figures._figures.clear()


def _sweep(lag1_plain: float) -> SweepResult:
    """A sweep result (a plain, mutable dataclass: a result is keyed by its identity) over 3 depths, 2 seeds."""
    lag1 = {"plain": np.array([[lag1_plain] * 2, [0.5] * 2, [0.1] * 2]), "residual": np.full((3, 2), 0.9)}
    return SweepResult(depths=[1, 4, 16], lag1=lag1, base=NetConfig(arch="mlp", depth=1, width=8, input_shape=(1,),
                                                                    classes=1, block="single"))


def _y(fig, name: str) -> list:
    return [list(t.y) for t in fig.data if t.name and t.name.startswith(name)]


def test_the_same_arguments_give_the_same_figure_built_once():
    raw = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    a = figure(PF.input_figure, raw, 16.0, "input")
    assert figure(PF.input_figure, raw.copy(), 16.0, "input") is a  # an equal array: its bytes are the key
    assert figure(PF.input_figure, raw, 16.0, "other title") is not a
    changed = raw.copy()
    changed[0, 0, 0] = 99
    b = figure(PF.input_figure, changed, 16.0, "input")
    assert b is not a and np.asarray(b.data[0].z)[0, 0] != np.asarray(a.data[0].z)[0, 0]
    # the same as building it directly: the cache changes nothing drawn
    assert pio.to_json(a) == pio.to_json(PF.input_figure(raw, 16.0, "input"))


def test_a_result_object_is_its_identity_and_a_gone_one_is_never_drawn_again(monkeypatch):
    one = _sweep(0.8)
    f1 = figure(PS.sweep_figure, one)
    assert figure(PS.sweep_figure, one) is f1
    assert figure(PS.sweep_figure, _sweep(0.8)) is not f1  # another object (results are compared by identity)
    # An object that is gone may hand its id to a new one: make that certain by giving every object
    # the same id, and check the new object gets its own figure.
    monkeypatch.setattr(figures, "id", lambda obj: 42, raising=False)
    figures._figures.clear()
    first = _sweep(0.8)
    f_first = figure(PS.sweep_figure, first)
    del first
    gc.collect()
    second = _sweep(0.2)
    f_second = figure(PS.sweep_figure, second)
    assert f_second is not f_first
    assert json.dumps(_y(f_second, "plain"), default=float) == json.dumps(_y(PS.sweep_figure(second), "plain"),
                                                                        default=float)
    assert len(figures._figures) == 1  # the gone object's entry was dropped


def test_the_cache_is_bounded_and_keeps_the_most_recently_drawn(monkeypatch):
    monkeypatch.setattr(figures, "MAX_FIGURES", 3)
    raws = [np.full((1, 4, 4), i, dtype=np.float32) for i in range(5)]
    figs = [figure(PF.input_figure, r, 4.0) for r in raws[:3]]
    assert figure(PF.input_figure, raws[0], 4.0) is figs[0]  # drawn again: now the most recent
    figure(PF.input_figure, raws[3], 4.0)
    figure(PF.input_figure, raws[4], 4.0)
    assert len(figures._figures) == 3
    assert figure(PF.input_figure, raws[0], 4.0) is figs[0]
    assert figure(PF.input_figure, raws[1], 4.0) is not figs[1]  # the least recently drawn went


def test_only_module_level_functions_of_the_lab_are_kept():
    with pytest.raises(ValueError):
        figure(lambda: PF.input_figure(np.zeros((2, 2)), 1.0))
    with pytest.raises(ValueError):
        figure(pio.to_json, None)


def test_arguments_without_a_key_are_built_every_time():
    raw = np.zeros((1, 3, 3), dtype=object)  # an object array's bytes are pointers: not a key
    assert figure(PF.input_figure, raw, 1.0) is not figure(PF.input_figure, raw, 1.0)
    assert figure(PF.input_figure, raw.astype(np.float32), 1.0) is figure(PF.input_figure, raw.astype(np.float32), 1.0)
    assert len(figures._figures) == 1


def test_presenter_copy_leaves_the_shared_figure_alone():
    fig = figure(PF.input_figure, np.ones((1, 4, 4), dtype=np.float32), 1.0,
                 "a title that is long enough to be wrapped on a projector")
    before = pio.to_json(fig)
    big = figure(enlarged, fig, 0.5)
    assert big is not fig and figure(enlarged, fig, 0.5) is big
    assert big.layout.font.size == figures.PRESENTER_FONT and "<br>" in big.layout.title.text
    assert pio.to_json(fig) == before


def test_presenter_mode_wraps_every_title_that_would_be_cut():
    """At 1280×720 a projector shows a chart in one of two columns about half a page wide: its title, its axis
    titles and its subplot titles are wrapped to fit (Unrolled ensemble's were cut), a full-width one is left."""
    from resnet_viz.plots import ensemble as PE
    from resnet_viz.views import ensemble as E

    def lines(text):
        return [len(line) for line in text.split("<br>")]

    r = E.LesionResult("residual", True, 6, 100, 0.9, 0.1, [0.9] * 6, [3])
    r.reorder = E.ReorderSweep([0, 1], [1.0, 0.8], [0.9, 0.8], [[0, 1, 2, 3, 4, 5]] * 2, [0, 1], [0.9, 0.8])
    half = enlarged(PE.reorder_figure([r]), 0.5)
    limit = figures.TITLE_CHARS * 0.5
    assert "<br>" in half.layout.title.text and max(lines(half.layout.title.text)) <= limit
    assert max(lines(half.layout.xaxis.title.text)) <= limit
    full = enlarged(PE.reorder_figure([r]), 1.0)
    assert "<br>" not in full.layout.title.text
    paths = E.PathGradientResult(12, 8, list(range(13)), [1] * 13, [1.0] * 13, [0.0] * 13, [1] * 13, [1.0] * 13,
                                 (2, 5), 1.0)
    fig = enlarged(PE.path_length_figure(paths), 1.0)
    subplot_titles = [a.text for a in fig.layout.annotations if a.yref == "paper" and (a.y or 0) >= 0.95]
    assert len(subplot_titles) == 3 and all(max(lines(t)) <= 1.1 * figures.TITLE_CHARS / 3 + 1 for t in subplot_titles)
    assert fig.layout.margin.t >= 100



def test_presenter_mode_moves_play_buttons_and_sliders_below_the_larger_ticks():
    # The Playground's animation controls sit under the loss panels; larger tick labels would cover them.
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    fig.update_layout(legend=dict(y=-0.2), updatemenus=[dict(type="buttons", y=-0.09, buttons=[dict(label="▶")])],
                      sliders=[dict(y=-0.07, steps=[dict(label="0")])])
    big = enlarged(fig, 1.0)
    assert big.layout.updatemenus[0].y < -0.09 and big.layout.sliders[0].y < -0.07
    assert big.layout.legend.y < big.layout.sliders[0].y  # the legend stays below them
    assert fig.layout.updatemenus[0].y == -0.09  # the shared figure is left alone


def test_presenter_title_sits_above_the_subplot_titles():
    """Issue 32: at 1280×720 the degradation chart's wrapped title, centred in the top margin, ran into its
    subplot titles; a three-line subplot title was cut at the top."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("plain nets: training loss", "residual nets: training loss"))
    fig.update_layout(title="Training loss and test error against iterations (mean over seeds; band: min–max)",
                      margin=dict(t=50))
    big = enlarged(fig, 1.0)
    title = big.layout.title
    assert title.text.count("<br>") == 1 and title.y == 1 and title.yref == "container" and title.yanchor == "top"
    # two title lines (30 px each) and one subplot-title line (28 px) fit above the plots
    assert big.layout.margin.t >= 26 + 2 * 30 + 28
    three = make_subplots(rows=1, cols=3, subplot_titles=("Paths of each length (32768 in all)", "b", "c"))
    three.update_layout(margin=dict(t=20))
    big = enlarged(three, 0.5)
    lines = max(a.text.count("<br>") + 1 for a in big.layout.annotations)
    assert lines >= 3 and big.layout.margin.t >= 28 * lines + 8


def test_presenter_mode_gives_a_long_legend_its_rows_under_the_axis():
    """Issue 32: in a half-page column at 1280×720 the shortcut-variants preset's legend took the loss chart's
    place and ran over its axis title: the legend goes to the bottom of the chart, which grows by its rows."""
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, i], name=f"variant number {i}") for i in range(9)])
    fig.update_layout(height=420, legend=dict(orientation="h", y=-0.18), margin=dict(t=50, b=40))
    fig.update_xaxes(title="epoch")
    big = enlarged(fig, 0.5)
    assert big.layout.legend.yref == "container" and big.layout.legend.y == 0 and big.layout.legend.yanchor == "bottom"
    rows = 9  # one 'variant number i' a row in half of the page
    assert big.layout.margin.b >= figures.AXIS_ROOM_PX + figures.LEGEND_ROW_PX * rows
    assert big.layout.height - big.layout.margin.t - big.layout.margin.b >= figures.PLOT_MIN_PX
    two = enlarged(go.Figure([go.Scatter(y=[0, 1], name="plain"), go.Scatter(y=[1, 0], name="residual")])
                   .update_layout(legend=dict(orientation="h", y=-0.18)), 1.0)
    assert two.layout.margin.b == figures.AXIS_ROOM_PX + figures.LEGEND_ROW_PX + 10  # one row
