"""One declaration per view (issue 25): the view registry drives every list of views, settings are declared once
(dataclass = widget = link = flag), every subcommand is settings → study → JSON with the page's captions, `train`
exposes every NetConfig field, and the server's configuration is read once into one object."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from resnet_viz import settings as S
from resnet_viz.cli import build_parser, main, settings_from
from resnet_viz.models import NetConfig
from resnet_viz.registry import VIEWS, view, view_of
from resnet_viz.train import TrainConfig
from ui import settings as U

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIEW_MODULES = {"degradation", "landscape", "shattering", "ensemble", "identity", "family", "features", "playground"}
# The files that list or loop over views: none may import a particular view's module.
GENERIC = ["lab.py", "pages/home.py", "ui/warmup.py", "ui/results.py", "ui/common.py", "ui/urlstate.py",
           "ui/settings.py", "resnet_viz/prepare.py", "resnet_viz/assets.py", "resnet_viz/cli.py",
           "resnet_viz/report.py", "resnet_viz/commands/views.py", "resnet_viz/commands/report.py",
           "resnet_viz/commands/prepare.py", "resnet_viz/commands/train.py"]


def _imported_modules(path: str) -> set[str]:
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = (node.module or "").split(".")
            out |= {p for p in base}
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {p for a in node.names for p in a.name.split(".")}
    return out


@pytest.mark.parametrize("path", GENERIC)
def test_files_that_list_views_name_none_of_them(path):
    assert not _imported_modules(path) & VIEW_MODULES, path


def test_every_view_is_complete_and_found_by_its_name_and_settings():
    slugs = [v.slug for v in VIEWS]
    assert len(set(slugs)) == len(slugs) and len({v.command for v in VIEWS}) == len(VIEWS)
    for v in VIEWS:
        assert os.path.isfile(os.path.join(ROOT, v.page)), v.page
        assert view(v.slug) is v and view_of(v.settings()) is v
        assert v.title and v.icon.startswith(":material/") and v.summary and v.paper
        assert (v.nets is not None) == (v.inputs == "config"), v.slug  # the views that train nets say which
        assert S.specs(v.settings), v.slug  # declared with settings.setting
    with pytest.raises(KeyError, match="the views are"):
        view("no-such-view")


def test_navigation_and_home_list_the_registry_in_order(seeded_store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(os.path.join(ROOT, "lab.py"), default_timeout=300).run()
    assert not at.exception, at.exception
    links = [(e.proto.label, e.proto.page) for e in at.get("page_link")]
    assert [label for label, _ in links[:len(VIEWS)]] == [f"**{v.title}**" for v in VIEWS]  # one card a view, in order
    assert [page for _, page in links[:len(VIEWS)]] == [v.slug for v in VIEWS]  # the navigation's url paths


# --- settings declared once ------------------------------------------------------------------------


@pytest.mark.parametrize("v", VIEWS, ids=lambda v: v.slug)
def test_defaults_agree_between_dataclass_widgets_and_flags(v):
    defaults = v.settings()
    S.check_all(defaults)  # the defaults are values their declarations offer
    assert U.read(v.settings, U.defaults(v.settings)) == defaults  # what the page's widgets start with
    parser = build_parser()
    args = parser.parse_args([v.command])
    assert settings_from(v.settings, args) == defaults  # the subcommand's flags, untouched
    flags = {s.flag for s in S.specs(v.settings) if s.flag}
    help_text = parser._subparsers._group_actions[0].choices[v.command].format_help()
    assert all(f in help_text for f in flags), v.command
    for s in S.specs(v.settings):
        if s.options is not None and s.kind is not tuple:
            assert s.default in s.options, (v.slug, s.name)
        elif s.min is not None and s.kind in (int, float) and s.default is not None:
            assert s.min <= s.default <= s.max, (v.slug, s.name)


@pytest.mark.parametrize("v", VIEWS, ids=lambda v: v.slug)
def test_a_value_outside_the_declaration_is_refused_by_flag_and_check(v, capsys):
    from resnet_viz.models import ConfigError

    for s in S.specs(v.settings):
        if s.flag is None:
            continue
        if s.options is not None and s.kind is not tuple:
            bad = "no-such-option"
        elif s.max is not None:
            bad = str(s.max * 10 + 1)
        else:
            continue
        assert main([v.command, s.flag, bad, "--quiet"]) == 2, (v.command, s.flag)
        err = capsys.readouterr().err
        assert s.flag in err and len(err.strip().splitlines()) == 1, err
        if s.kind is tuple:
            value = (int(float(bad)),)
        elif s.options is None:
            value = s.kind(float(bad))
        else:
            value = bad
        with pytest.raises(ConfigError):
            S.check(v.settings, s.name, value)


def test_train_exposes_every_net_and_training_field():
    parser = build_parser()
    text = parser._subparsers._group_actions[0].choices["train"].format_help()
    declared = {s.name for s in S.specs(NetConfig)}
    # Every NetConfig field is declared; the two without a flag come from the dataset.
    assert declared == {f.name for f in dataclasses.fields(NetConfig)}
    assert {s.name for s in S.specs(NetConfig) if s.flag is None} == {"input_shape", "classes"}
    for cls in (NetConfig, TrainConfig):
        for s in S.specs(cls):
            if s.flag:
                assert s.flag in text, s.flag
    for variant in ("pre", "bn-after", "relu-before", "relu-pre", "gate", "shortcut-gate", "conv", "--se-ratio",
                    "--cardinality", "--gate-bias", "--shortcut-dropout", "--branch-dropout", "--activation"):
        assert variant in text, variant


def test_train_builds_the_nets_the_app_builds(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--depth", "3", "--width", "4", "--epochs", "1", "--order", "pre", "--shortcut", "gate",
                 "--gate-bias", "-2", "--se-ratio", "2", "--quiet", "--out", str(out), "--json",
                 str(tmp_path / "s.json")]) == 0
    net = json.loads((out / "config.json").read_text())["net"]
    assert (net["order"], net["shortcut"], net["gate_bias"], net["se_ratio"]) == ("pre", "gate", -2.0, 2)
    from resnet_viz.train import load_run

    run = load_run(str(out))  # and a view studies it: a gated pre-activation net
    assert run.net.order == "pre" and hasattr(run.model.blocks[0], "gate")


# --- every subcommand: settings → study → JSON with the page's captions --------------------------------------

SMALL_ARGS = {
    "degradation": ["--depths", "3,6", "--seeds", "1", "--width", "4", "--epochs", "2"],
    "playground": ["--depth", "2", "--steps", "20", "--frames", "2", "--points", "200"],
    "landscape": ["--grid", "5", "--samples", "64"],
    "shatter": ["--depth", "3", "--width", "25", "--points", "64", "--seeds", "1", "--sweep", "1,2"],
    "lesion": ["--samples", "4", "--batch", "32"],
    "identity": ["--variants", "original,pre-activation", "--no-plain", "--depth", "3", "--width", "4",
                 "--epochs", "1"],
    "family": ["--models", "resnet18,resnet34"],
    "features": ["--steps", "50"],
}


@pytest.mark.parametrize("v", VIEWS, ids=lambda v: v.slug)
def test_every_subcommand_writes_its_studys_captions(v, tmp_path):
    out = tmp_path / "v.json"
    assert main([v.command, *SMALL_ARGS[v.command], "--quiet", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert isinstance(d["captions"], dict) and d["captions"], v.command
    assert all(isinstance(c, str) for c in d["captions"].values())
    assert any(len(c) > 40 for c in d["captions"].values()), d["captions"]  # says what the numbers show
    assert "settings" in d


def test_the_subcommand_computes_what_the_page_computes(default_pair_runs):
    # The same study function and settings: the JSON's captions are the page's (`results.result` → View.compute).
    import contextlib
    import io

    from resnet_viz.registry import Inputs

    plain, residual = default_pair_runs
    v = view("landscape")
    settings = v.settings(grid=5, samples=64)
    result = v.compute(settings, Inputs(runs={"plain": plain, "residual": residual}, train=residual.train))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["landscape", "--grid", "5", "--samples", "64", "--quiet"]) == 0
    assert json.loads(buf.getvalue())["captions"] == result.captions()


# --- the server's configuration ---------------------------------------------------------------------


def test_configuration_is_read_from_the_environment_once_into_one_object(monkeypatch, tmp_path):
    from resnet_viz import config
    from resnet_viz.config import LabConfig

    env = {"RESNET_VIZ_MAX_JOBS": "3", "RESNET_VIZ_TORCH_THREADS": "2", "RESNET_VIZ_MAX_TRAIN_MINUTES": "0.5",
           "RESNET_VIZ_RUN_STORE": "none", "RESNET_VIZ_MEMORY_LIMIT_GB": "1", "RESNET_VIZ_DATA": str(tmp_path),
           "RESNET_VIZ_MAX_RUNS": "nonsense"}
    c = LabConfig.from_env(env, server=True)
    assert (c.max_jobs, c.torch_threads, c.train_minutes, c.run_store) == (3, 2, 0.5, None)
    assert c.memory_limit_bytes == 1024**3 and c.data_root == str(tmp_path) and c.max_runs == 24
    assert LabConfig.from_env({}, server=True).train_minutes == 10 and LabConfig.from_env({}).train_minutes is None
    # Once in use, the lab reads it, not the environment (which may change without effect).
    try:
        config.use(c)
        monkeypatch.setenv("RESNET_VIZ_MAX_JOBS", "7")
        from resnet_viz.jobs import torch_threads
        from resnet_viz.models import memory_limit_bytes

        assert config.active() is c and config.active().max_jobs == 3
        assert memory_limit_bytes() == 1024**3 and torch_threads() == 2
    finally:
        config.use(None)
    assert config.active().max_jobs == 7  # without one in use: the environment now


def test_importing_the_lab_sets_no_environment_variable():
    code = ("import os, json; before = dict(os.environ); "
            "import resnet_viz.cli, resnet_viz.registry, resnet_viz.store, resnet_viz.jobs, resnet_viz.data; "
            "import ui.common, ui.results, ui.warmup, ui.settings; "
            "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESNET_VIZ")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
