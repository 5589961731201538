"""The lab in a notebook (issue 34): `import resnet_viz as rv` is cheap, one function per view of the registry with the
page's settings, the same numbers as the command line's JSON, one-line errors, figures with captions, and pairs
trained side by side into the app's run store."""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import os
import subprocess
import sys

import plotly.graph_objects as go
import pytest
import torch

import resnet_viz as rv
from resnet_viz import api
from resnet_viz.registry import VIEWS, view
from resnet_viz.settings import specs

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_importing_the_lab_is_cheap_and_the_api_never_imports_streamlit():
    """`import resnet_viz` loads no PyTorch; the API, a pair and a view's figures load no Streamlit."""
    code = ("import sys\n"
            "import resnet_viz as rv\n"
            "assert 'torch' not in sys.modules and 'resnet_viz.api' not in sys.modules\n"
            "assert set(rv.__all__) <= set(dir(rv))\n"
            "import resnet_viz.api\n"
            "r = rv.ensemble(rv.default_pair())\n"
            "assert r.figures() and r._repr_html_()\n"
            "rv.family().figures()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_one_function_per_view_of_the_registry_with_the_pages_settings():
    assert rv._VIEWS == tuple(api.name_of(v) for v in VIEWS)  # the lazy names are the registry's views
    assert set(rv.__all__) == set(api.__all__)
    assert [api.name_of(v) for v in VIEWS] == ["degradation", "playground", "landscape", "shattering", "ensemble",
                                                "identity", "family", "features"]
    for v in VIEWS:
        name = api.name_of(v)
        f = getattr(rv, name)
        assert f is api.FUNCTIONS[name] and f.view is v
        params = inspect.signature(f).parameters
        assert ("pair" in params) == (v.inputs != "none")
        defaults = v.settings()
        for field in dataclasses.fields(v.settings):
            assert params[field.name].kind is inspect.Parameter.KEYWORD_ONLY
            assert params[field.name].default == getattr(defaults, field.name), (name, field.name)
        doc = f.__doc__
        assert v.title in doc and v.paper in doc and "Returns" in doc and "ConfigError" in doc
        for s in specs(v.settings):
            shown = list(s.default) if isinstance(s.default, tuple) else s.default
            assert f"{s.name} : " in doc and f"default {shown!r}" in doc and s.label in doc, (name, s.name)
            if s.kind is not bool:
                assert s.domain_text() in doc, (name, s.name)


def test_a_view_function_is_the_api_and_the_views_module_stays_a_module():
    """`rv.landscape` is the API's function; the view's study, settings and result are in resnet_viz.views.landscape."""
    from resnet_viz.views import landscape as L

    assert rv.landscape is api.landscape and inspect.isfunction(rv.landscape)
    assert L.__name__ == "resnet_viz.views.landscape" and L.LandscapeSettings().grid == 15
    assert rv.landscape.view.settings is L.LandscapeSettings


def _cli_json(tmp_path, monkeypatch, name: str, args: list[str]) -> dict:
    """The command line's JSON, computed with a run and result store of its own (nothing kept from the API's)."""
    from resnet_viz.cli import main

    monkeypatch.setenv("RESNET_VIZ_RUN_STORE", str(tmp_path / f"cli-{name}"))
    out = tmp_path / f"{name}.json"
    assert main([*args, "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def _api_json(tmp_path, monkeypatch, name: str, result) -> dict:
    from resnet_viz.cli import write_json

    out = tmp_path / f"{name}-api.json"
    write_json(result.to_dict(), str(out))
    return json.loads(out.read_text())


def test_the_numbers_are_the_command_lines_computed_apart(tmp_path, monkeypatch):
    """`python -m resnet_viz shatter --json` in another process, with its own store, and `rv.shattering(...)`
    with the same settings (not shipped: both compute) write the same JSON."""
    args = ["--depth", "6", "--seeds", "2", "--points", "64", "--sweep", ""]
    env = {**os.environ, "RESNET_VIZ_RUN_STORE": str(tmp_path / "cli"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "resnet_viz", "shatter", *args, "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("RESNET_VIZ_RUN_STORE", str(tmp_path / "api"))
    r = rv.shattering(depth=6, seeds=2, points=64, sweep=[])  # a list for a tuple setting, as a notebook writes it
    assert r.settings.sweep == () and r.settings.depth == 6
    assert _api_json(tmp_path, monkeypatch, "shatter", r) == json.loads(done.stdout)
    assert os.path.isdir(tmp_path / "api" / "results")  # kept where the app keeps its results


@pytest.mark.parametrize("name,args,kwargs", [
    ("ensemble", ["lesion"], {}),  # shipped: the default pair's default
    ("landscape", ["landscape", "--grid", "5", "--samples", "64", "--span", "0.5"],
     dict(grid=5, samples=64, span=0.5)),  # computed by both
    ("degradation", ["degradation"], {}),  # a view that trains nets of its own (shipped)
    ("features", ["features", "--index", "3", "--steps", "20"], dict(index=3, steps=20)),  # never kept: computed
])
def test_a_pairs_view_is_the_command_lines_on_the_same_pair(name, args, kwargs, tmp_path, monkeypatch):
    expected = _cli_json(tmp_path, monkeypatch, name, args)
    monkeypatch.setenv("RESNET_VIZ_RUN_STORE", str(tmp_path / "api"))
    got = _api_json(tmp_path, monkeypatch, name, getattr(rv, name)(rv.default_pair(), **kwargs))
    assert got == expected


def _one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and text
    return text


def test_an_unknown_keyword_is_a_one_line_error_naming_the_settings():
    with pytest.raises(rv.ConfigError) as e:
        rv.landscape(gird=21)
    assert isinstance(e.value, TypeError)  # as Python's own unknown keyword
    text = _one_line(e.value)
    assert "'gird'" in text and "did you mean grid?" in text
    assert all(f.name in text for f in dataclasses.fields(view("landscape").settings))
    with pytest.raises(TypeError, match="takes no pair"):
        rv.shattering(object())
    with pytest.raises(TypeError, match="one pair"):
        rv.landscape(None, 21)
    with pytest.raises(rv.ConfigError, match="takes a Pair"):
        rv.ensemble("the default pair")


@pytest.mark.parametrize("call,words", [
    (lambda: rv.landscape(grid=16), "must be odd, got 16"),
    (lambda: rv.shattering(depth=0), "from 1 to"),
    (lambda: rv.degradation(depths=[3]), "at least 2"),
    (lambda: rv.family(models=["resnet18", "resnet19"]), "'resnet19' is not one of"),
    (lambda: rv.playground(frames=500, steps=100), "frames"),  # a rule between fields (validate())
    (lambda: rv.ensemble(samples=1.5), "whole number"),
    (lambda: rv.features(index=360), "index must be from 0 to 359"),
    (lambda: rv.features(x=[1.0, 2.0]), "shape of one digits input"),
])
def test_a_value_outside_its_domain_is_the_labs_one_line_config_error(call, words):
    with pytest.raises(rv.ConfigError) as e:
        call()
    assert words in _one_line(e.value)


def test_each_view_shows_the_pages_figures_with_every_caption():
    pair = rv.default_pair()
    for v in VIEWS:
        f = getattr(rv, api.name_of(v))
        r = f(pair) if v.inputs != "none" else f()
        figures = r.figures()
        assert figures and all(isinstance(fig, go.Figure) for fig in figures), v.slug
        if v.sections is not None:  # the view's report sections: the same figures, in its order
            assert [s.title for s in r.sections()] == [s.title for s in v.sections(r.result, r._inputs)]
        assert r.captions == r.result.captions() and any(r.captions.values())
        page = r._repr_html_()
        assert page.count("window.PlotlyConfig") == 1  # plotly.js once: offline, and in Colab's own frame
        assert page.count("class=\"plotly-graph-div\"") == len(figures)
        for caption in r.captions.values():
            assert html.escape(str(caption.takeaway if hasattr(caption, "takeaway") else caption)) in page
        text = repr(r)
        assert text.startswith(f"<{api.name_of(v)}: {v.title}") and len(text.splitlines()) <= len(r.captions) + 2
        assert r.to_dict() == r.result.to_dict()


def test_train_pair_trains_both_twins_into_the_apps_run_store(tmp_path, monkeypatch, capsys):
    from resnet_viz.store import RunStore
    from resnet_viz.train import train

    monkeypatch.setenv("RESNET_VIZ_RUN_STORE", str(tmp_path / "runs"))
    pair = rv.train_pair(dataset="moons", depth=2, width=8, epochs=1, seed=3)
    assert capsys.readouterr().out == ""  # no progress outside a notebook
    assert pair.net.arch == "mlp" and pair.net.depth == 2 and pair.net.seed == pair.train.seed == 3
    assert pair.plain.net == pair.residual.net.twin() and not pair.plain.net.skip
    assert "moons" in repr(pair) and "plain" in repr(pair) and "residual" in repr(pair)
    app = RunStore(folder=str(tmp_path / "runs"))  # the app's store on the same folder finds them trained
    for run in (pair.plain, pair.residual):
        kept = app.stored(run.net, run.train)
        assert kept is not None and kept.history.step_loss == run.history.step_loss
    alone = train(pair.plain.net, pair.plain.train)  # side by side, each is the run trained alone, bit for bit
    for a, b in zip(alone.model.state_dict().values(), pair.plain.model.state_dict().values()):
        assert torch.equal(a, b)
    assert rv.train_pair(dataset="moons", depth=2, width=8, epochs=1, seed=3).plain is pair.plain  # kept


def test_train_pair_refuses_what_is_not_a_field_in_one_line():
    with pytest.raises(rv.ConfigError) as e:
        rv.train_pair(dpeth=3)
    text = _one_line(e.value)
    assert "did you mean depth?" in text and "epochs" in text and "shortcut_scale" in text
    with pytest.raises(rv.ConfigError, match="both nets"):
        rv.train_pair(skip=False)
    with pytest.raises(rv.ConfigError, match="from the dataset"):
        rv.train_pair(classes=3)
    with pytest.raises(rv.ConfigError, match="width"):
        rv.train_pair(width=0)
    with pytest.raises(rv.ConfigError, match="warm-up"):
        rv.train_pair(epochs=1, warmup_epochs=2)


def test_the_default_pair_is_the_shipped_one(default_pair_runs):
    from resnet_viz.results import weights_digest

    pair = rv.default_pair()
    assert [weights_digest(r) for r in (pair.plain, pair.residual)] == [weights_digest(r) for r in default_pair_runs]
    assert repr(pair).startswith("Pair(CNN-32, 15 blocks of width 16; 8 epochs of SGD on digits")
    with pytest.raises(rv.ConfigError, match="plain net"):
        rv.Pair(pair.residual, pair.plain)
    other = dataclasses.replace(pair.plain, net=pair.plain.net.replace(width=8))
    with pytest.raises(rv.ConfigError, match="not twins"):
        rv.Pair(other, pair.residual)
