"""Lecture preparation (resnet_viz.prepare): every net a preset needs, trained once into the run store."""

from __future__ import annotations

import dataclasses

import pytest

import resnet_viz.store as store_mod
from resnet_viz import presets as PR, slides
from resnet_viz.cli import main
from resnet_viz.identity import IdentitySettings
from resnet_viz.prepare import prepare, preset_cost
from resnet_viz.store import RunStore

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(slug):
    p = PR.get_preset(slug)
    s = p.settings
    if isinstance(s, IdentitySettings):
        s = dataclasses.replace(s, sweep_width=25, sweep_depths=(1, 3))
    return dataclasses.replace(p, net={**p.net, "depth": 3, "width": 4}, train={**p.train, "epochs": 1}, settings=s)


def test_prepared_presets_open_without_training(tmp_path, monkeypatch):
    presets = [_tiny("preactivation"), _tiny("deletion")]
    seen = []
    seconds = prepare(presets, RunStore(folder=str(tmp_path)), lambda f, m: seen.append((f, m)))
    assert set(seconds) == {"preactivation", "deletion"}
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any("min left" in m for _, m in seen)
    saved = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    # plain (pre-order twin), original, pre-activation; the deletion pair, whose residual net is the
    # "original" variant already trained (same config): kept once, shared
    assert len(saved) == 4
    # A server started later on the same folder computes both presets without training anything.
    monkeypatch.setattr(store_mod, "train", lambda *a, **k: pytest.fail("trained although prepared"))
    store = RunStore(folder=str(tmp_path))
    for p in presets:
        assert slides.sections(p, trainer=store.trainer())


def test_preset_cost_counts_every_net_of_the_study():
    p = PR.get_preset("shortcut-variants")
    net, cfg = PR.preset_pair(p)
    assert preset_cost(p) == sum(n.depth for n in p.settings.nets(net).values()) * cfg.epochs
    deg = PR.get_preset("degradation")
    s = deg.settings
    assert preset_cost(deg) == 2 * 15 * 6 + 2 * s.seeds * sum(s.depths) * s.epochs


def test_prepare_cli_refuses_unknown_presets(capsys):
    assert main(["prepare", "--presets", "resnet-1001", "--store", "/tmp/x"]) == 2
    assert "resnet-1001" in capsys.readouterr().err
