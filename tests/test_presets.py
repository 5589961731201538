"""Presets (resnet_viz.presets) and the offline report (`python -m resnet_viz report`, resnet_viz.slides).

A preset is a pair and one view's settings object; its page shows those settings through the
widget declarations (ui.settings), and its report computes the same study with the same settings.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest
from conftest import tiny_preset

from resnet_viz import presets as PR
from resnet_viz import slides
from resnet_viz.cli import main
from resnet_viz.models import check_memory
from resnet_viz.report import render_report
from resnet_viz.views.degradation import DegradationSettings
from resnet_viz.views.identity import IdentitySettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.usefixtures("one_thread")

TITLES = ["Deep plain vs residual on spirals", "Shallow nets both learn", "Degradation (He 2016 Fig. 1)", "Skip vs no skip landscapes (Li 2018)",
          "Shattering with depth (Balduzzi 2017)", "Delete a block (Veit 2016)",
          "Pre-activation vs original (He 2016b)", "Shortcut scale λ", "Shortcut variants (He 2016b Table 1)",
          "Activation placement (He 2016b Fig. 4)", "Deep-thin vs shallow-wide, ResNeXt, SE"]


# --- the presets themselves -------------------------------------------------------------


def test_presets_in_lecture_order_with_unique_slugs():
    assert [p.title for p in PR.PRESETS] == TITLES
    slugs = PR.preset_slugs()
    assert len(set(slugs)) == len(TITLES) and all(re.fullmatch(r"[a-z][a-z-]*", s) for s in slugs)
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
    # Nets the report trains besides the pair: the identity variants, the degradation depths.
    settings = preset.settings
    if isinstance(settings, IdentitySettings):
        for n in settings.nets(net).values():
            check_memory(n, cfg.batch_size)
    if isinstance(settings, DegradationSettings):
        check_memory(net.replace(depth=max(settings.depths)), cfg.batch_size)


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


# --- view settings and the pages' widgets ----------------------------------------------------


@pytest.mark.parametrize("preset", PR.PRESETS, ids=lambda p: p.slug)
def test_preset_settings_are_valid_and_round_trip_through_the_page_widgets(preset):
    from resnet_viz import settings as S
    from ui import settings as U

    preset.settings.validate()
    S.check_all(preset.settings)  # every value is one its declaration offers (a widget can show it)
    state = U.state(preset.settings)
    assert U.read(type(preset.settings), state) == preset.settings
    keys = S.keys(type(preset.settings))
    assert set(state) == set(keys.values())
    # every field of the settings is on the page, or is one the page sets itself
    fields = {f.name for f in dataclasses.fields(preset.settings)}
    assert fields - set(keys) <= {"first_seed", "lr", "warmup_epochs", "nets", "curvature_map", "sweep_depths",
                                  "sweep_width", "sweep_seeds", "sweep_points"}


# --- report sections -----------------------------------------------------------------------


# Identity studies open with the table of their nets (parameters, losses, test errors), as the page does.
EXPECTED_SECTIONS = {"playground-deep": 3, "playground-shallow": 3, "degradation": 4, "landscapes": 3, "shattering": 6,
                     "deletion": 6, "preactivation": 5, "shortcut-scale": 6, "shortcut-variants": 5,
                     "activation-placement": 5, "descendants": 5}


@pytest.mark.parametrize("slug", EXPECTED_SECTIONS)
def test_every_preset_builds_its_sections_with_progress(slug):
    seen = []
    secs = slides.sections(tiny_preset(PR.get_preset(slug)), lambda f, m: seen.append((f, m)))
    assert len(secs) == EXPECTED_SECTIONS[slug]
    for s in secs:
        assert s.title.strip() and len(s.caption) > 40 and len(s.figure.data) > 0, s.title
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert len(seen) >= 3 and all(m for _, m in seen)


def test_report_uses_the_settings_the_preset_gives_its_page():
    # The report must show what the page shows with the preset's settings: the grid, the depths, the blocks.
    import numpy as np

    land = tiny_preset(PR.get_preset("landscapes"))
    secs = slides.sections(dataclasses.replace(land, settings=dataclasses.replace(land.settings, grid=7, span=0.5)))
    contour = secs[0].figure.data[0]
    assert np.asarray(contour.z).shape == (7, 7) and np.allclose([min(contour.x), max(contour.x)], [-0.5, 0.5])
    deg = tiny_preset(PR.get_preset("degradation"))
    secs = slides.sections(dataclasses.replace(deg, settings=dataclasses.replace(deg.settings, depths=(3, 6), seeds=2)))
    dots = [t for t in secs[3].figure.data if t.mode == "markers"]
    assert sorted({x for t in dots for x in t.x}) == [8, 14] and sum(len(t.x) for t in dots) == 2 * 2 * 2
    delete = slides.sections(tiny_preset(PR.get_preset("deletion")))
    assert [len(s.figure.data[0].x) for s in delete[1:3]] == [6, 6]  # one bar per block of each net
    scale = slides.sections(tiny_preset(PR.get_preset("shortcut-scale")))
    assert scale[0].figure.data[0].type == "table"
    names = {t.name.split(":")[0] for t in scale[1].figure.data if t.name}
    assert {"plain", "λ = 0.5", "original (λ = 1)", "λ = 1.5"} <= names  # every net of the report is drawn


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
    secs = slides.sections(PR.get_preset("shattering"))
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
    monkeypatch.setattr(PR, "PRESETS", tuple(tiny_preset(p) for p in PR.PRESETS))
    assert main(["report", "--preset", "shattering", "--out", str(tmp_path / "q.html"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert (tmp_path / "q.html").read_text(encoding="utf-8").count('class="plotly-graph-div"') == 6


def test_report_of_a_trained_preset_renders_every_section():
    # A trained preset (at tiny scale) through the same renderer the CLI uses.
    import html

    preset = tiny_preset(PR.get_preset("preactivation"))
    title, intro, secs = slides.build_report(preset)
    page = render_report(title, intro, secs)
    assert title == "Pre-activation vs original (He 2016b)" and "Computed in" in intro
    for s in secs:
        assert html.escape(s.title) in page and html.escape(s.caption) in page
    assert page.count('class="plotly-graph-div"') == len(secs) == 5


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
    monkeypatch.setattr(slides, "sections", lambda *a, **k: pytest.fail("computed before checking the path"))
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
    assert len(lines) == len(PR.PRESETS) == len(TITLES)
    for line, p in zip(lines, PR.PRESETS):
        assert line.split()[0] == p.slug and p.title in line and p.page in line
