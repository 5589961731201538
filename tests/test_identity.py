"""The identity-mapping study (resnet_viz.views.identity, He et al. 2016b) and its page."""

from __future__ import annotations

import math
import os

import pytest
import torch

from resnet_viz.models import ConfigError, build_model
from resnet_viz.train import TrainConfig, net_config_for
from resnet_viz.views import identity as I

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
    assert r.verdict().details.startswith(f"Ranked by final training loss, mean over 2 seeds: {best} ")
    # Issue 32: a takeaway first (the lowest and the highest loss), at most 25 words; "failed to train" only with a
    # failure, "no" for the nets that always trained; a loss as m×10ⁿ, never 1e-05.
    assert r.verdict().takeaway.startswith(f"Lowest final training loss: {best}")
    assert len(r.verdict().takeaway.split()) <= 25 and len(r.gradient_caption().takeaway.split()) <= 25
    table = r.formatted_table()
    failed = any(row["failed"] for row in r.table())
    assert all(("failed to train" in row) == failed for row in table)
    if failed:
        assert {row["failed to train"] for row in table} - {"no"} and all(row["failed to train"] for row in table)
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


def _rows(*nets):
    """table() rows: (name, train loss, test error, failed seeds of 1)."""
    return [{"net": n, "parameters": 10, "plain_parameters": 10, "seeds": 1, "train_loss": loss, "train_loss_min": loss,
             "train_loss_max": loss, "test_error": err, "test_error_min": err, "test_error_max": err,
             "failed": failed, "failure": "diverged" if failed else None} for n, loss, err, failed in nets]


class _Table(I.IdentityResult):
    def __init__(self, rows):
        self._rows = rows

    def table(self):
        return self._rows


def test_verdict_takeaway_and_table_in_every_branch():
    # Issue 32: one sentence of at most 25 words whatever trained; '—' for a net with no number, the "failed to train"
    # column only when a net failed ("no" for the others); losses as m×10ⁿ.
    nan = float("nan")
    both = _Table(_rows(("plain", 0.07, 0.047, 0), ("original (λ = 1)", 1.2e-5, 0.017, 0)))
    assert both.verdict_takeaway() == ("Lowest final training loss: original (λ = 1), 1.2×10⁻⁵ (test error 1.7 %); "
                                       "highest: plain, 0.07 (4.7 %).")
    assert [set(row) for row in both.formatted_table()] == [{"net", "parameters", "final training loss", "test error"}] * 2
    assert both.formatted_table()[1]["final training loss"] == "1.2×10⁻⁵"
    failing = _Table(_rows(("plain", nan, 0.9, 1), ("original (λ = 1)", 0.01, 0.02, 0)))
    assert failing.verdict_takeaway() == ("Only original (λ = 1) trained: final training loss 0.01, test error 2.0 %; "
                                          "one net failed to train.")
    table = failing.formatted_table()
    assert table[0]["final training loss"] == "—" and table[0]["failed to train"] == "1 of 1: diverged"
    assert table[1]["failed to train"] == "no"
    assert _Table(_rows(("plain", nan, nan, 1))).verdict_takeaway() == "No net trained: the only net failed."
    many = _Table(_rows(*[(f"exclusive gating (b_g = {b})", 0.01 * (b + 1), 0.02, 0) for b in range(6)],
                        ("shortcut-only gating (b_g = 0)", nan, nan, 1)))
    assert len(many.verdict_takeaway().split()) <= 25


def test_page_shows_the_takeaway_and_folds_the_ranking(seeded_store):
    # Issue 32: the verdict's one sentence in the box, the full ranking folded; no "failed to train" column of empty
    # cells when every net trained; the gradient caption's takeaway under its figure.
    import os

    from streamlit.testing.v1 import AppTest

    page = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pages", "identity.py")
    at = AppTest.from_file(page, default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.info[0].value.startswith("Lowest final training loss: ") and len(at.info[0].value.split()) <= 25
    assert any(e.label == "The full ranking, against He et al. 2016b" for e in at.expander)
    assert "failed to train" not in at.dataframe[0].value.columns
    assert any(c.value.startswith("At initialisation the first block's gradient is ×") for c in at.caption)
