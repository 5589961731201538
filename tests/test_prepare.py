"""Lecture preparation (resnet_viz.prepare): every net a preset needs, trained once into the run store."""

from __future__ import annotations


import pytest

import resnet_viz.executor as executor_mod
from resnet_viz import presets as PR, registry, slides
from resnet_viz.cli import main
from conftest import tiny_preset
from resnet_viz.prepare import expected_seconds, prepare, preset_cost
from resnet_viz.results import ResultStore, shipped_resolver
from resnet_viz.store import RunStore

pytestmark = pytest.mark.usefixtures("one_thread")


def test_prepared_presets_open_without_training(tmp_path, monkeypatch):
    presets = [tiny_preset(PR.get_preset("preactivation"), depth=3), tiny_preset(PR.get_preset("deletion"), depth=3)]
    seen = []
    seconds = prepare(presets, RunStore(folder=str(tmp_path)), lambda f, m: seen.append((f, m)))
    assert set(seconds) == {"preactivation", "deletion"}
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any("min left" in m for _, m in seen)
    saved = [p for p in tmp_path.iterdir() if not p.name.startswith(".") and p.name != "results"]
    # plain (pre-order twin), original, pre-activation; the deletion pair, whose residual net is the
    # "original" variant already trained (same config): kept once, shared
    assert len(saved) == 4
    # Each preset's result is kept beside the runs.
    kept = [p for p in (tmp_path / "results").iterdir() if not p.name.startswith(".")]
    assert len(kept) == 2
    # A server started later on the same folder shows both presets without training or computing anything.
    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail("trained although prepared"))
    monkeypatch.setattr(registry.View, "compute", lambda *a, **k: pytest.fail("computed although prepared"))
    store = RunStore(folder=str(tmp_path))
    results = ResultStore(str(tmp_path / "results"))
    for p in presets:
        assert slides.sections(p, trainer=store.trainer(), results=results, resolve=shipped_resolver(store))


def test_preset_cost_counts_every_net_of_the_study():
    p = PR.get_preset("shortcut-variants")
    net, cfg = PR.preset_pair(p)
    assert preset_cost(p) == sum(n.depth for n in p.settings.nets(net).values()) * cfg.epochs
    deg = PR.get_preset("degradation")
    s = deg.settings
    assert not deg.net and not deg.train  # its pair is the default pair, there anyway: only the study counts
    assert preset_cost(deg) == 2 * s.seeds * sum(s.depths) * s.epochs


def test_prepare_cli_refuses_unknown_presets(capsys):
    assert main(["prepare", "--presets", "resnet-1001", "--store", "/tmp/x"]) == 2
    assert "resnet-1001" in capsys.readouterr().err


def test_expected_time_is_the_work_at_the_fastest_measured_pace():
    import types

    def run(skip, depth, epochs, seconds):
        return types.SimpleNamespace(net=types.SimpleNamespace(skip=skip, depth=depth),
                                     train=types.SimpleNamespace(epochs=epochs),
                                     history=types.SimpleNamespace(seconds=seconds))

    presets = PR.PRESETS[:3]
    work = sum(preset_cost(p) for p in presets)
    # Residual runs at 0.5 s and 0.25 s per block-epoch; a plain run (faster still) and a missing one are ignored.
    runs = [run(True, 4, 5, 10.0), run(True, 8, 10, 20.0), run(False, 8, 10, 1.0), None]
    assert expected_seconds(runs, presets) == pytest.approx(work * 0.25)
    assert expected_seconds([run(False, 8, 10, 1.0)], presets) is None and expected_seconds([], presets) is None
