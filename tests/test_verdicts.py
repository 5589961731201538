"""Every view teaches its paper's lesson on the shipped defaults, on one and on two PyTorch threads (issue 24), and
the command line, the reports and the app give the same numbers for the same settings.

The thread count changes the order of floating-point sums inside PyTorch's kernels, so a net trained with two
threads is not the net trained with one; the lessons below must hold on both (their margins are the point).
The app, the CLI and the reports train with the same thread policy and load the same shipped runs, so they
agree exactly; that is checked here on shipped and on freshly trained settings alike.
"""

from __future__ import annotations

import json
import math

import pytest

from resnet_viz.assets import default_pair_configs, load_shipped
from resnet_viz.cli import main
from resnet_viz.registry import view
from resnet_viz.train import TrainConfig, net_config_for, train
from resnet_viz.views import ensemble as E
from resnet_viz.views import identity as I
from resnet_viz.views import landscape as L
from resnet_viz.views.degradation import MARGIN, DegradationSettings, degradation_study, pair_findings


def lessons(plain, residual) -> dict[str, bool]:
    """What every view of the default pair must show, from its own numbers (the captions' own tests)."""
    runs = {"plain": plain, "residual": residual}
    land = L.landscape_study(runs, L.LandscapeSettings())
    bp, br = L.basin(land.surfaces["plain"]), L.basin(land.surfaces["residual"])
    ens = E.ensemble_study(plain, residual, E.EnsembleSettings())
    lp, lr = ens.lesions
    a, b = ens.paths.effective
    return {
        "both nets train": plain.failure is None and residual.failure is None,
        # He et al. 2016: the deep plain net ends with the higher training loss.
        "plain ends higher": plain.history.train_loss >= MARGIN * residual.history.train_loss,
        "caption says so": "The **plain** net ends with the higher training loss" in pair_findings(plain, residual)[0],
        # Li et al. 2018: the residual basin is the wider one, by the caption's margin.
        "residual basin wider": L.width_comparison(bp, br) == 1,
        # Veit et al. 2016: the typical residual block can go, the plain net falls to chance; gradient from short paths.
        "residual barely notices a deletion": E._deletion_verdict(lr) == "barely notices",
        "plain falls to chance": E.near_chance(E.one_block_accuracy(lp), lp),
        "residual degrades smoothly": E._shape(lr.k_sweep.mean, lr, "deletion")[1] is True,
        "short paths": (a + b) / 2 < ens.paths.n_blocks / 2,
        "no caption says unlike": not any("unlike" in c for c in ens.captions().values())
        and "unlike" not in land.caption(),
    }


@pytest.fixture(scope="module")
def two_threads():
    """The default pair trained again with two PyTorch threads."""
    return tuple(train(net, cfg, threads=2) for net, cfg in default_pair_configs())


@pytest.mark.slow
def test_the_default_pair_teaches_every_lesson_on_one_and_two_threads(default_pair_runs, two_threads):
    shipped = lessons(*default_pair_runs)
    assert all(shipped.values()), shipped
    assert two_threads[0].history.train_loss != default_pair_runs[0].history.train_loss  # another net indeed
    two = lessons(*two_threads)
    assert all(two.values()), two


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 18 nets with two threads: about a minute on a quiet 2-core machine
def test_the_default_degradation_study_shows_degradation_on_one_and_two_threads():
    """The page's and the preset's default study (He et al. 2016 Fig. 1): the shipped runs (one thread) and the
    same nets trained with two threads both show it, every net trained, deeper plain nets ending higher by more
    than the spread over seeds."""
    net, cfg = default_pair_configs()[1]
    seen = []
    one = degradation_study(net, cfg, DegradationSettings(), progress=lambda f, m: seen.append(f))
    assert seen[0] == 0 and seen[-1] == 1 and seen == sorted(seen)
    two = degradation_study(net, cfg, DegradationSettings(),
                            trainer=lambda n, c, progress=None: train(n, c, progress=progress, threads=2))
    for res in (one, two):
        assert len(res.runs) == 2 * 3 * 3 and not any(r.failed for r in res.runs)
        assert res.degradation_shown, res.caption()
        plain = res.summary()["plain"]["mean"]
        assert plain[0] < plain[1] < plain[2]
        for c in res.comparisons("plain"):
            assert c.above > 0.9 and min(c.deep_losses) > max(c.shallow_losses), c
        assert "every deeper plain net stays above the shallower one and ends higher" in res.caption()
    assert [r.train_loss for r in one.runs] != [r.train_loss for r in two.runs]


# --- the same numbers everywhere ----------------------------------------------------------------------------


def _app_pair():
    from ui.common import default_pair

    return default_pair()


def test_cli_and_app_agree_on_the_shipped_default_studies(tmp_path, seeded_store):
    """`degradation` and `identity` on the command line print what the app shows: the same runs (shipped), the
    same numbers, the same captions."""
    from ui import results

    pair = _app_pair()
    app = results.result(view("build_train"), DegradationSettings(), pair=pair)
    assert main(["degradation", "--quiet", "--json", str(tmp_path / "d.json")]) == 0
    cli = json.loads((tmp_path / "d.json").read_text())
    assert [r["train_loss"] for r in cli["runs"]] == [r.train_loss for r in app.runs]
    assert cli["captions"]["degradation"] == app.caption() and cli["degradation_shown"] == app.degradation_shown
    app_id = results.result(view("identity"), I.IdentitySettings(), pair=pair)
    assert main(["identity", "--quiet", "--json", str(tmp_path / "i.json")]) == 0
    cli_id = json.loads((tmp_path / "i.json").read_text())
    assert cli_id["verdict"] == app_id.verdict()
    assert [r["train_loss"] for r in cli_id["table"]] == [r["train_loss"] for r in app_id.table()]


def test_cli_and_app_agree_when_they_train(tmp_path, seeded_store):
    """Settings that ship nothing: both train, with the same thread policy, and get the same numbers."""
    from ui import results
    from ui.common import Pair

    settings = DegradationSettings(depths=(3, 6), seeds=1, first_seed=7, width=4, epochs=2)
    net = net_config_for("digits", depth=3, width=4)
    app = results.result(view("build_train"), settings, pair=Pair(net, TrainConfig()))
    assert main(["degradation", "--depths", "3,6", "--seeds", "1", "--first-seed", "7", "--width", "4",
                 "--epochs", "2", "--quiet", "--json", str(tmp_path / "d.json")]) == 0
    cli = json.loads((tmp_path / "d.json").read_text())
    losses = [r.train_loss for r in app.runs]
    assert all(math.isfinite(v) for v in losses)
    assert [r["train_loss"] for r in cli["runs"]] == losses and cli["captions"]["degradation"] == app.caption()


def test_a_report_shows_the_numbers_of_its_page(seeded_store):
    """The deletion preset's report and its page compute the same ensemble study from the same (shipped) runs."""
    from resnet_viz.presets import get_preset, preset_pair
    from resnet_viz.slides import sections
    from ui import results
    from ui.common import ensure_run

    preset = get_preset("deletion")
    net, cfg = preset_pair(preset)
    plain, residual = ensure_run(net.twin(), cfg), ensure_run(net, cfg)
    page = results.result(view("ensemble"), preset.settings, runs={"plain": plain, "residual": residual}).captions()
    text = " ".join(s.caption for s in sections(preset))
    for caption in (page["deletion"], page["k_sweep"], page["paths"]):  # the takeaway first, then how it was measured
        assert caption.takeaway in text and caption.details in text
    assert load_shipped(net, cfg).history.train_loss == residual.history.train_loss
