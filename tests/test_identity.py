"""The identity-mapping study (resnet_viz.identity, He et al. 2016b) and its page."""

from __future__ import annotations

import math
import os

import pytest
import torch

from resnet_viz import identity as I
from resnet_viz.models import ConfigError, build_model
from resnet_viz.train import TrainConfig, net_config_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(depth=3, width=4)


def _silence_branches(model):
    # F(x) = 0 in every block: the last BN of each (post-order) branch gets γ = β = 0.
    with torch.no_grad():
        for block in model.blocks:
            block.branch[-1].weight.zero_()
            block.branch[-1].bias.zero_()
    return model


@pytest.mark.parametrize("lam", [0.5, 1.0, 1.5])
def test_block_gradients_follow_the_product_of_the_lambdas(lam):
    # He 2016b eq. 4 with F = 0: x_L = λ^(L−l) x_l, so ∂L/∂x_l = λ^(L−l) ∂L/∂x_L exactly.
    net = net_config_for("digits", arch="mlp", depth=6, width=8, shortcut_scale=lam)
    model = _silence_branches(build_model(net))
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    g = I.block_input_gradients(model, x, y)
    assert len(g) == 6
    for block in range(6):
        assert g[block] == pytest.approx(g[-1] * lam ** (5 - block), rel=1e-4)


def test_block_gradients_of_a_shortcut_gate_follow_one_minus_g():
    # Shortcut-only gating with zero gate weights: g = sigmoid(b_g) everywhere, so each block scales
    # the gradient of its shortcut path by (1 − g) (He 2016b §3.2).
    net = net_config_for("digits", arch="mlp", depth=5, width=8, shortcut="shortcut-gate", gate_bias=1.0)
    model = _silence_branches(build_model(net))
    with torch.no_grad():
        for b in model.blocks:
            b.gate.weight.zero_()
    g = I.block_input_gradients(model, torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,)))
    keep = 1 - 1 / (1 + math.exp(-1.0))
    assert g[0] == pytest.approx(g[-1] * keep ** 4, rel=1e-4)


def test_block_gradients_leave_the_model_untouched():
    model = build_model(net_config_for("digits", **TINY)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    I.block_input_gradients(model, torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,)))
    assert not model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_study_table_counts_seeds_parameters_and_failures():
    net = net_config_for("digits", **TINY)
    settings = I.IdentitySettings(variants=("original", "gate", "scale-1.5"), seeds=2, gate_bias=-1.0)
    r = I.identity_study(net, TrainConfig(epochs=1), settings)
    rows = {row["net"]: row for row in r.table()}
    assert list(rows) == ["plain", "original (λ = 1)", "exclusive gating", "λ = 1.5"]
    for label, row in rows.items():
        runs = r.seed_runs[label]
        assert row["seeds"] == 2 and len(runs) == 2 and runs[0].net.seed != runs[1].net.seed
        ok = [x.history.train_loss for x in runs if not x.failure]
        assert row["failed"] == 2 - len(ok)
        if ok:
            assert row["train_loss"] == pytest.approx(sum(ok) / len(ok))
            assert row["train_loss_min"] == min(ok) and row["train_loss_max"] == max(ok)
    gate = rows["exclusive gating"]
    assert gate["parameters"] > gate["plain_parameters"] == rows["plain"]["parameters"]
    assert rows["original (λ = 1)"]["parameters"] == rows["plain"]["parameters"]  # parameter-identical twins
    assert r.runs["exclusive gating"].net.gate_bias == -1.0
    assert set(r.gradients) == set(rows) and all(len(g["init"]) == 3 for g in r.gradients.values())
    best = min((k for k in rows if rows[k]["failed"] < 2), key=lambda k: rows[k]["train_loss"])
    assert r.verdict().startswith(f"Ranked by final training loss, mean over 2 seeds: {best} ")
    assert "λ = 1.5" in r.gradient_caption() and "λ^2" in r.gradient_caption()


@pytest.mark.parametrize("kw, words", [(dict(variants=()), "at least one"), (dict(variants=("nope",)), "not one of"),
                                       (dict(variants=("gate", "gate")), "once"), (dict(seeds=0), "seeds")])
def test_impossible_studies_are_refused(kw, words):
    with pytest.raises(ConfigError, match=words):
        I.IdentitySettings(**kw).validate()


def test_every_variant_is_a_valid_net_of_the_default_pair():
    base = net_config_for("digits")
    nets = I.IdentitySettings(variants=tuple(I.VARIANTS)).nets(base)
    assert len(nets) == len(I.VARIANTS) + 1
    for label, n in nets.items():
        n.validate()
        assert n.skip == (label != "plain")
        assert n.depth == base.depth or label == "shallow-wide"
    # Zagoruyko & Komodakis's comparison: fewer blocks, wider, about the same parameters.
    from resnet_viz.models import estimate_size

    wide, deep = nets["shallow-wide"], nets["original (λ = 1)"]
    assert wide.depth < deep.depth and wide.width > deep.width
    for b in (base, base.replace(depth=15, width=8), base.replace(depth=27, width=8)):
        w = I.IdentitySettings(variants=("shallow-wide",)).nets(b)["shallow-wide"]
        assert 0.75 < estimate_size(w).parameters / estimate_size(b).parameters < 1.25


def test_page_trains_the_chosen_variants_and_shows_table_and_gradients(seeded_store):
    from streamlit.testing.v1 import AppTest

    from ui.common import Pair

    pair = Pair(net_config_for("digits", **TINY), TrainConfig(epochs=1))
    at = AppTest.from_file(os.path.join(ROOT, "pages", "identity.py"), default_timeout=600)
    at.session_state["pairs"] = [pair]
    at.session_state["current_pair"] = pair
    at.run()  # the default comparison on first open, no click
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["net"]) == ["plain", "original (λ = 1)", "pre-activation"]
    at.multiselect(key="id_variants").set_value(["original", "shortcut-gate", "relu-pre"])
    at.button[0].click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["net"]) == ["plain", "original (λ = 1)", "shortcut-only gating", "ReLU-only pre-activation"]
    assert "plain" in table["parameters"].iloc[2]  # the gated net names its plain twin's count
    assert len(at.get("plotly_chart")) == 4  # loss, accuracy, parameter gradients, gradient per block
    assert any("‖∂L/∂x_l‖" in c.value for c in at.caption)
