"""Presets (resnet_viz.presets) and the offline report (`python -m resnet_viz report`).

The page check parses each preset's page file, so a widget renamed, removed or given
other options in a page makes the preset that sets it fail here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import re
import subprocess
import sys

import pytest

from resnet_viz import presets as PR
from resnet_viz.cli import main
from resnet_viz.models import check_memory
from resnet_viz.report import render_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # On a shared 2-core machine torch's second thread spins against other processes and
    # made these tests ten times slower; the results do not depend on the thread count.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
TITLES = ["Degradation (He 2016 Fig. 1)", "Skip vs no skip landscapes (Li 2018)",
          "Shattering with depth (Balduzzi 2017)", "Delete a block (Veit 2016)",
          "Pre-activation vs original (He 2016b)", "Shortcut scale λ"]


# --- the presets themselves -------------------------------------------------------------


def test_six_presets_in_lecture_order_with_unique_slugs():
    assert [p.title for p in PR.PRESETS] == TITLES
    slugs = PR.preset_slugs()
    assert len(set(slugs)) == 6 and all(re.fullmatch(r"[a-z][a-z-]*", s) for s in slugs)
    for p in PR.PRESETS:
        assert PR.get_preset(p.slug) is p
        assert os.path.exists(os.path.join(ROOT, p.page)), p.page
        assert p.summary.strip() and re.search(r"\b(19|20)\d\d[a-z]?\b", p.summary), f"{p.slug}: cite the paper"


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError) as e:
        PR.get_preset("resnet-1001")
    assert "resnet-1001" in str(e.value) and all(s in str(e.value) for s in PR.preset_slugs())


@pytest.mark.parametrize("preset", PR.PRESETS, ids=lambda p: p.slug)
def test_preset_pair_is_the_default_pair_with_its_overrides_and_fits_memory(preset):
    from resnet_viz.train import TrainConfig, net_config_for

    net, cfg = PR.preset_pair(preset)
    net.validate(), cfg.validate()
    assert net.skip and net.twin().skip is False
    default = net_config_for("digits")
    for f in dataclasses.fields(net):
        want = preset.net.get(f.name, True if f.name == "skip" else getattr(default, f.name))
        assert getattr(net, f.name) == want, f.name
    assert cfg == TrainConfig(**preset.train)
    for n in (net, net.twin()):
        check_memory(n, cfg.batch_size)
    # Nets the report trains besides the pair: the λ and pre/post variants, the degradation depths.
    if preset.slug == "shortcut-scale":
        for lam in PR.SCALES:
            check_memory(net.replace(shortcut_scale=lam), cfg.batch_size)
    if "deg_depths" in preset.view:
        check_memory(net.replace(depth=max(preset.view["deg_depths"])), cfg.batch_size)


def test_preset_pairs_survive_a_shared_link():
    # The app keeps the current pair in the URL: a preset's pair must round-trip through it.
    from ui import urlstate
    from ui.common import default_pair

    for p in PR.PRESETS:
        net, cfg = PR.preset_pair(p)
        params = urlstate.pair_params(net, cfg, default_pair())
        assert urlstate.pair_from_params(params, default_pair()) in (None, (net, cfg)), p.slug
        if p.net or p.train:
            assert urlstate.pair_from_params(params, default_pair()) == (net, cfg), p.slug


# --- view settings against the page source ------------------------------------------------


class Unresolved(Exception):
    pass


class PageSource:
    """What a page file declares: widgets by key (method name and call) and URL-state defaults."""

    def __init__(self, path: str) -> None:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            self.tree = ast.parse(f.read(), path)
        self.assigns: dict[str, ast.expr] = {}
        self.modules: dict[str, str] = {}  # alias -> module, for names from resnet_viz
        self.names: dict[str, tuple[str, str]] = {}  # name -> (module, attribute)
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigns[node.targets[0].id] = node.value
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("resnet_viz"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    try:
                        importlib.import_module(full)
                        self.modules[a.asname or a.name] = full
                    except ImportError:
                        self.names[a.asname or a.name] = (node.module, a.name)
        self.widgets: dict[str, list[ast.Call]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for kw in node.keywords:
                    if kw.arg == "key" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        self.widgets.setdefault(kw.value.value, []).append(node)
        self.state: dict[str, ast.expr] = {}  # literal keys of URL_DEFAULTS (page state that is not a widget)
        node = self.assigns.get("URL_DEFAULTS")
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant):
                    self.state[k.value] = v

    def resolve(self, node: ast.expr):
        """The value of a constant expression of the page (literals, its module constants, library names)."""
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            pass
        if isinstance(node, ast.Name):
            if node.id in self.assigns:
                return self.resolve(self.assigns[node.id])
            if node.id in self.names:
                module, attr = self.names[node.id]
                return getattr(importlib.import_module(module), attr)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.modules:
            return getattr(importlib.import_module(self.modules[node.value.id]), node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple") \
                and len(node.args) == 1:
            return list(self.resolve(node.args[0]))
        if isinstance(node, ast.Subscript):
            return self.resolve(node.value)[self.resolve(node.slice)]
        raise Unresolved(ast.unparse(node))


# Streamlit's positional parameters after the label, per widget kind.
POSITIONAL = {"radio": ["options"], "selectbox": ["options"], "select_slider": ["options"],
              "multiselect": ["options"], "slider": ["min_value", "max_value"],
              "number_input": ["min_value", "max_value"], "checkbox": [], "toggle": [], "text_input": []}


def _arg(call: ast.Call, kind: str, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    names = POSITIONAL[kind]
    if name in names and len(call.args) > 1 + names.index(name):
        return call.args[1 + names.index(name)]
    return None


def check_widget_value(page: PageSource, call: ast.Call, value) -> None:
    """Assert `value` is one the widget of `call` accepts (AssertionError saying why otherwise)."""
    kind = call.func.attr
    assert kind in POSITIONAL, f"widget kind {kind!r} is not checked by this test yet: add it"
    if kind in ("radio", "selectbox", "select_slider", "multiselect"):
        options = list(page.resolve(_arg(call, kind, "options")))
        if kind == "multiselect":
            assert isinstance(value, list) and all(v in options for v in value), f"{value!r} not a list of {options}"
        else:
            assert value in options and type(value) is type(options[options.index(value)]), \
                f"{value!r} is not one of {options}"
    elif kind in ("slider", "number_input"):
        bounds = [page.resolve(n) for n in (_arg(call, kind, "min_value"), _arg(call, kind, "max_value")) if n is not None]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{value!r} is not a number"
        if bounds:
            want = float if any(isinstance(b, float) for b in bounds) else int
            assert type(value) is want, f"{value!r} should be {want.__name__} like the bounds {bounds}"
        lo, hi = (page.resolve(_arg(call, kind, n)) if _arg(call, kind, n) is not None else None
                  for n in ("min_value", "max_value"))
        assert (lo is None or value >= lo) and (hi is None or value <= hi), f"{value!r} outside [{lo}, {hi}]"
    elif kind in ("checkbox", "toggle"):
        assert isinstance(value, bool), f"{value!r} is not a bool"
    else:
        assert isinstance(value, str), f"{value!r} is not text"


@pytest.mark.parametrize("preset", PR.PRESETS, ids=lambda p: p.slug)
def test_view_settings_are_widget_keys_of_the_page_with_valid_values(preset):
    page = PageSource(preset.page)
    for key, value in preset.view.items():
        assert key in page.widgets or key in page.state, \
            f"{preset.slug}: {key!r} is neither a widget key nor URL state of {preset.page}"
        for call in page.widgets.get(key, []):
            try:
                check_widget_value(page, call, value)
            except AssertionError as e:
                raise AssertionError(f"{preset.slug}: {key} = {value!r}: {e}") from None
        if key in page.state and key not in page.widgets:
            default = page.resolve(page.state[key])
            assert type(value) is type(default), f"{preset.slug}: {key} should be {type(default).__name__}"


def test_the_page_checker_rejects_bad_values():
    # The checker itself must catch drift: a wrong option, a float for an int slider, a value out of range.
    page = PageSource("pages/landscape.py")
    bad = {"landscape_view": "4-D hologram", "ls_grid": 14, "ls_span": 1, "landscape_clip": 0.0,
           "ls_bias_bn": "yes", "ls_normalization": "batch"}
    for key, value in bad.items():
        with pytest.raises(AssertionError):
            for call in page.widgets[key]:
                check_widget_value(page, call, value)
    build = PageSource("pages/build_train.py")
    for key, value in {"deg_depths": [3, 4], "deg_seeds": 11}.items():
        with pytest.raises(AssertionError):
            check_widget_value(build, build.widgets[key][0], value)


# --- report sections -----------------------------------------------------------------------


def _tiny(preset):
    """The same preset at toy-of-toy scale, so every builder runs in a test."""
    view = dict(preset.view)
    if "deg_depths" in view:
        view.update(deg_depths=[3, 6], deg_seeds=1, deg_width=4, deg_epochs=2)
    if "ls_grid" in view:
        view.update(ls_grid=5, ls_samples=64)
    if "ens_samples" in view:
        view.update(ens_samples=4)
    if "sh_width" in view:
        view.update(sh_width=25, sh_seeds=1, sh_sweep="1,4")
    return dataclasses.replace(preset, net={**preset.net, "depth": 6, "width": 4}, train={**preset.train, "epochs": 1, "warmup_epochs": 0.0},
                               view=view)


EXPECTED_SECTIONS = {"degradation": 4, "landscapes": 3, "shattering": 6, "deletion": 6, "preactivation": 3,
                     "shortcut-scale": 2}


@pytest.mark.parametrize("slug", EXPECTED_SECTIONS)
def test_every_preset_builds_its_sections_with_progress(slug, monkeypatch):
    monkeypatch.setattr(PR, "SCALE_SWEEP", dict(PR.SCALE_SWEEP, width=25, depths=(1, 4)))
    seen = []
    secs = PR.sections(_tiny(PR.get_preset(slug)), lambda f, m: seen.append((f, m)))
    assert len(secs) == EXPECTED_SECTIONS[slug]
    for s in secs:
        assert s.title.strip() and len(s.caption) > 40 and len(s.figure.data) > 0, s.title
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert len(seen) >= 3 and all(m for _, m in seen)


def test_report_uses_the_settings_the_preset_gives_its_page():
    # The report must show what the page shows with the preset's settings: the grid, the depths, the blocks.
    import numpy as np

    land = _tiny(PR.get_preset("landscapes"))
    secs = PR.sections(dataclasses.replace(land, view={**land.view, "ls_grid": 7, "ls_span": 0.5}))
    contour = secs[0].figure.data[0]
    assert np.asarray(contour.z).shape == (7, 7) and np.allclose([min(contour.x), max(contour.x)], [-0.5, 0.5])
    deg = _tiny(PR.get_preset("degradation"))
    secs = PR.sections(dataclasses.replace(deg, view={**deg.view, "deg_depths": [3, 6], "deg_seeds": 2}))
    dots = [t for t in secs[3].figure.data if t.mode == "markers"]
    assert sorted({x for t in dots for x in t.x}) == [8, 14] and sum(len(t.x) for t in dots) == 2 * 2 * 2
    delete = PR.sections(_tiny(PR.get_preset("deletion")))
    assert [len(s.figure.data[0].x) for s in delete[1:3]] == [6, 6]  # one bar per block of each net


def test_preactivation_plain_twin_is_the_same_net_for_both_orders():
    # The report trains one plain net for both block orders and says so: check that claim.
    import torch

    from resnet_viz.models import build_model
    from resnet_viz.train import net_config_for

    # Train mode: BatchNorm uses batch statistics, so a BN moved to another place would show.
    x = torch.randn(32, 1, 8, 8)
    nets = {(skip, order): build_model(net_config_for("digits", depth=6, width=4, skip=skip, order=order)).train()
            for skip in (False, True) for order in ("post", "pre")}
    with torch.no_grad():
        out = {k: m(x) for k, m in nets.items()}
    assert torch.allclose(out[False, "post"], out[False, "pre"], atol=1e-5)
    assert not torch.allclose(out[True, "post"], out[True, "pre"], atol=1e-2)  # the residual nets do differ


# --- the command ---------------------------------------------------------------------------


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "resnet_viz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_report_writes_one_self_contained_page(tmp_path):
    from plotly.offline import get_plotlyjs

    out = tmp_path / "shattering.html"
    r = run_cli("report", "--preset", "shattering", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "%]" in r.stderr and "Traceback" not in r.stderr  # progress lines
    page = out.read_text(encoding="utf-8")
    # The same sections, computed in-process, give every title and caption the page must hold.
    secs = PR.sections(PR.get_preset("shattering"))
    assert len(secs) == EXPECTED_SECTIONS["shattering"]
    import html

    for s in secs:
        assert f"<h2>{html.escape(s.title)}</h2>" in page
        assert html.escape(s.caption) in page
    assert page.count('class="plotly-graph-div"') == len(secs)
    assert page.count(get_plotlyjs()[:2000]) == 1  # plotly.js embedded once
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)  # nothing fetched from the network
    assert "Shattering with depth (Balduzzi 2017)" in page


def test_report_quiet_prints_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(PR, "PRESETS", tuple(_tiny(p) for p in PR.PRESETS))
    assert main(["report", "--preset", "shattering", "--out", str(tmp_path / "q.html"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert (tmp_path / "q.html").read_text(encoding="utf-8").count('class="plotly-graph-div"') == 6


def test_report_of_a_trained_preset_renders_every_section():
    # A trained preset (at tiny scale) through the same renderer the CLI uses.
    import html

    preset = _tiny(PR.get_preset("preactivation"))
    title, intro, secs = PR.build_report(preset)
    page = render_report(title, intro, secs)
    assert title == "Pre-activation vs original (He 2016b)" and "Computed in" in intro
    for s in secs:
        assert html.escape(s.title) in page and html.escape(s.caption) in page
    assert page.count('class="plotly-graph-div"') == len(secs) == 3


@pytest.mark.parametrize("args, words", [
    (["report", "--preset", "resnet-1001", "--out", "x.html"], "shattering"),
    (["report", "--preset", "shattering", "--out", "/nonexistent-folder/x.html"], "does not exist"),
    (["report", "--preset", "shattering", "--out", "."], "folder"),
    (["report", "--preset", "shattering"], "--out"),
])
def test_report_bad_arguments_exit_2_with_one_line(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err


def test_report_refuses_an_unwritable_path_before_computing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(PR, "sections", lambda *a, **k: pytest.fail("computed before checking the path"))
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder")
    assert main(["report", "--preset", "shattering", "--out", str(not_a_folder / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    target = tmp_path / "ro.html"
    target.write_text("old")
    target.chmod(0o444)
    if not os.access(target, os.W_OK):  # root ignores permissions: then only the case above applies
        assert main(["report", "--preset", "shattering", "--out", str(target)]) == 2
        assert "permission denied" in capsys.readouterr().err


def test_report_list_prints_every_preset(capsys):
    assert main(["report", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6
    for line, p in zip(lines, PR.PRESETS):
        assert line.split()[0] == p.slug and p.title in line and p.page in line
