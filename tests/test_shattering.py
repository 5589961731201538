"""Shattered gradients (Balduzzi et al. 2017): library and CLI, against independent oracles."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from caption_rules import assert_captions
from conftest import assert_same_state, state_dict_copy
from torch import nn

from resnet_viz.cli import main
from resnet_viz.models import ConfigError
from resnet_viz.views import shattering as sh

pytestmark = pytest.mark.usefixtures("one_thread")


def _fixed(cfg, points=64, looks_linear=False):
    x = sh.input_grid(points)
    model = sh.fix_batch_statistics(sh.make_net(cfg, looks_linear), x)
    return model, x


def _finite_differences(model, xs, h=1e-6):
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        xp = (xs.double() + h).reshape(-1, 1)
        xm = (xs.double() - h).reshape(-1, 1)
        return ((m(xp) - m(xm)) / (2 * h)).reshape(-1)


@pytest.mark.parametrize("kw", [dict(skip=False), dict(skip=True), dict(skip=True, block="basic"),
                                dict(skip=True, block="basic", order="pre"), dict(skip=False, norm="none"),
                                dict(skip=True, shortcut_scale=0.5), dict(skip=False, block="basic", norm="none")])
def test_gradients_match_finite_differences(kw):
    cfg = sh.shatter_config(4, 40, **kw)
    model, x = _fixed(cfg)
    _, g = sh.input_gradients(model, x)
    idx = torch.tensor([3, 17, 31, 40, 58])
    fd = _finite_differences(model, x[idx, 0])
    assert torch.allclose(g[idx, 0].double(), fd, rtol=1e-3, atol=1e-4), (g[idx, 0], fd)


def test_batch_statistics_are_those_of_the_grid():
    # After fixing, eval mode computes exactly what train mode computes on the batch.
    cfg = sh.shatter_config(3, 30, skip=True)
    x = sh.input_grid(64)
    fresh = sh.make_net(cfg)
    with torch.no_grad():
        train_out = copy.deepcopy(fresh).train()(x)
    fixed = sh.fix_batch_statistics(fresh, x)
    assert not fixed.training
    with torch.no_grad():
        eval_out = fixed(x)
    assert torch.allclose(eval_out, train_out, atol=1e-5)
    bn = next(m for m in fixed.modules() if isinstance(m, nn.BatchNorm1d))
    assert bn.momentum is None


def test_one_inputs_gradient_does_not_depend_on_the_others():
    cfg = sh.shatter_config(5, 40, skip=False)
    model, x = _fixed(cfg)
    _, g = sh.input_gradients(model, x)
    for i in (0, 20, 63):
        xi = x[i:i + 1].clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(model(xi).sum(), xi)  # the input alone
        assert torch.allclose(gi[0, 0], g[i, 0], atol=1e-6)
    other = torch.randn_like(x) * 5  # replace every other input, keep input 20
    other[20] = x[20]
    _, g2 = sh.input_gradients(model, other)
    assert torch.allclose(g2[20], g[20], atol=1e-6)
    # and the model must be in eval mode, otherwise the batch mixes in
    with pytest.raises(ValueError):
        sh.input_gradients(model.train(), x)


def _mean_lag1(depth, seeds=4, **kw):
    return sh.shatter(sh.shatter_config(depth, **kw), seeds=seeds).lag1


def test_default_is_balduzzis_one_layer_module():
    cfg = sh.shatter_config()
    assert cfg.block == "single" and cfg.order == "pre" and cfg.depth >= 50 and max(sh.DEFAULT_SWEEP_DEPTHS) >= 50
    net = sh.make_net(cfg)
    # x + W·relu(BN x): one Linear per module, a Linear stem and read-out
    assert [type(m) for m in net.blocks[0].branch] == [nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == cfg.depth + 2 == cfg.layer_count


def test_balduzzi_claims_with_one_layer_modules():
    """Balduzzi et al. 2017 (Thm. 1, 3; Fig. 2: resnets of 50 modules): with BN, width 200, 256 inputs and
    5 seeds, the residual net's neighbouring gradients stay clearly correlated at 50 modules while the
    plain twin's are white noise."""
    assert _mean_lag1(2, seeds=5, skip=False) > 0.8
    assert _mean_lag1(2, seeds=5, skip=True) > 0.8
    plain50, res50 = _mean_lag1(50, seeds=5, skip=False), _mean_lag1(50, seeds=5, skip=True)
    assert abs(plain50) < 0.1  # white noise
    assert res50 > 0.5  # brown-noise-like (measured ≈ 0.75)
    # The lab's own observation, not a theorem: λ < 1 shatters again.
    assert abs(_mean_lag1(50, seeds=5, skip=True, shortcut_scale=0.5)) < 0.15


def test_the_two_layer_block_shatters_almost_like_a_plain_net():
    """The lab's two-layer block with an inner BN is not Balduzzi's module: at 30 blocks its residual net's
    lag-1 is far below the one-layer module's (DESIGN.md: ≈ 0.1)."""
    res30 = _mean_lag1(30, seeds=5, skip=True, block="basic")
    assert res30 < 0.3 and res30 < _mean_lag1(30, seeds=5, skip=True) - 0.3


def test_autocorrelation_against_closed_forms():
    rng = np.random.default_rng(0)
    n = 8192
    white = rng.normal(size=n)
    assert abs(sh.lag1_autocorrelation(white)) < 0.05
    brown = np.cumsum(white)
    assert sh.lag1_autocorrelation(brown) > 0.95
    phi = 0.6  # AR(1): r_k = φ^k
    ar = np.zeros(n)
    for i in range(1, n):
        ar[i] = phi * ar[i - 1] + white[i]
    acf = sh.autocorrelation(ar, max_lag=3)
    assert np.allclose(acf, phi ** np.arange(4), atol=0.05)
    # against numpy's full correlation for a short series
    s = rng.normal(size=50)
    d = s - s.mean()
    full = np.correlate(d, d, mode="full")[49:] / (d @ d)
    assert np.allclose(sh.autocorrelation(s), full)
    assert np.array_equal(sh.autocorrelation(np.full(10, 2.5)), np.ones(10))


def test_correlation_matrix_of_white_rows_is_identity():
    rng = np.random.default_rng(1)
    c = sh.correlation_matrix(rng.normal(size=(4000, 12)))
    assert np.allclose(np.diag(c), 1)
    assert np.allclose(c, c.T)
    # centring each row over its 12 inputs: off-diagonal -1/(n-1) exactly in expectation
    expected = np.where(np.eye(12, dtype=bool), 1.0, -1 / 11)
    assert np.abs(c - expected).max() < 0.06
    # brown rows: neighbours strongly correlated
    cb = sh.correlation_matrix(np.cumsum(rng.normal(size=(2000, 100)), axis=1))
    assert cb[50, 51] > 0.9 and cb[0, 99] < -0.3  # the ends of a centred walk oppose


def test_position_correlation_matrix_against_oracles():
    """The heat map's estimator (issue 32): over positions, three nets of white noise give a bare diagonal
    (the correlation over three nets alone is ±1 noise), a random walk broad positive bands."""
    rng = np.random.default_rng(2)
    white = rng.normal(size=(3, 256))
    c = sh.position_correlation_matrix(white, 64)
    assert c.shape == (64, 64) and np.allclose(np.diag(c), 1) and np.allclose(c, c.T)
    off = c[~np.eye(64, dtype=bool)]
    assert np.abs(off).max() < 0.15 and abs(off.mean()) < 0.02
    assert np.abs(sh.correlation_matrix(white)[:64, :64][~np.eye(64, dtype=bool)]).mean() > 0.4  # the old one
    brown = sh.position_correlation_matrix(np.cumsum(rng.normal(size=(3, 256)), axis=1), 64)
    assert brown[0, 1] > 0.9 and brown[0, 8] > 0.6  # a band many grid steps wide
    # the Toeplitz layout of the mean autocorrelation, the same as the figure's
    acf = np.mean([sh.autocorrelation(g) for g in white], axis=0)
    assert np.allclose(sh.acf_matrix(acf, 64), c)
    assert sh.acf_matrix(acf, 5)[4, 1] == acf[3]


def test_correlation_figure_shows_a_bare_diagonal_for_white_noise():
    from resnet_viz.plots import shattering as P

    rng = np.random.default_rng(3)
    g = rng.normal(size=(3, 256))
    r = sh.ShatterResult(sh.shatter_config(4, 8, skip=False), False, np.linspace(-2, 2, 256), g,
                         [sh.lag1_autocorrelation(x) for x in g], np.mean([sh.autocorrelation(x) for x in g], axis=0),
                         sh.correlation_matrix(g))
    fig = P.correlation_figure(r)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (64, 64) and np.abs(z[~np.eye(64, dtype=bool)]).max() < 0.15
    assert "over positions" in fig.layout.title.text


def test_looks_linear_net_is_linear_at_init():
    cfg = sh.shatter_config(6, 30, skip=False, norm="none")
    base = sh.make_net(cfg)
    saved = state_dict_copy(base)
    ll = sh.looks_linear(base)
    assert_same_state(base, saved)  # a copy, the original untouched
    assert any(isinstance(m, sh.CReLU) for m in ll.modules())
    assert not any(isinstance(m, nn.ReLU) for m in ll.modules())
    x = torch.linspace(-2, 2, 64, dtype=torch.float64).unsqueeze(1)
    ll = ll.double().eval()
    with torch.no_grad():
        y = ll(x).reshape(-1)
        y_relu = base.double().eval()(x).reshape(-1)
    second = lambda v: (v[2:] - 2 * v[1:-1] + v[:-2]).abs().max()  # noqa: E731
    assert second(y) < 1e-9 * y.abs().max()  # a linear function of x
    assert second(y_relu) > 1e-3 * y_relu.abs().max()  # the same weights with ReLUs are not


@pytest.mark.parametrize("depth", [1, 8])
def test_looks_linear_gradients_with_bn(depth):
    # With BN the activations of a linear 1-D net are rank one, so forward values
    # are ill-conditioned at depth, but the gradient is exactly the same everywhere.
    cfg = sh.shatter_config(depth, 30, skip=False)
    model, x = _fixed(cfg, looks_linear=True)
    _, g = sh.input_gradients(model, x)
    assert torch.allclose(g, g[0].expand_as(g))
    if depth == 1:  # shallow enough for finite differences of a linear function
        fd = _finite_differences(model, x[[5, 40], 0], h=0.05)
        assert torch.allclose(g[[5, 40], 0].double(), fd, rtol=1e-3)
    r = sh.shatter(cfg, seeds=2, looks_linear_init=True)
    assert r.lag1 == 1.0
    g_relu = sh.shatter(cfg, seeds=2).gradients  # the same nets with ReLUs are not linear
    assert (g_relu.std(axis=1) > 0.1 * np.sqrt((g_relu ** 2).mean(axis=1))).all()
    with pytest.raises(ConfigError):
        sh.looks_linear(sh.make_net(cfg.replace(skip=True)))


def test_theory_curves():
    assert sh.theory_feedforward(1) == pytest.approx(2 ** -1)
    assert sh.theory_feedforward(10) == pytest.approx(2 ** -10)
    assert sh.theory_feedforward(10, "basic") == pytest.approx(2 ** -21)
    assert np.allclose(sh.theory_residual_bn([1, 4, 25]), [1, 0.5, 0.2])


@pytest.mark.parametrize("kw", [dict(), dict(block="basic"), dict(block="basic", order="pre")])
@pytest.mark.parametrize("depth", [1, 7])
def test_depth_counts_hidden_relu_layers_of_the_plain_twin(kw, depth):
    # Oracle: count the ReLUs on the plain net's path (every ReLU is its own module, none skipped).
    plain = sh.make_net(sh.shatter_config(depth, 8, skip=False, **kw))
    relus = sum(isinstance(m, nn.ReLU) for m in plain.modules())
    assert sh.hidden_relu_layers(depth, plain.config.block) == relus


def test_sweep_shapes_progress_and_twins():
    calls = []
    sw = sh.depth_sweep(sh.shatter_config(width=30), [1, 3], seeds=2, points=32,
                        progress=lambda f, t: calls.append(f))
    assert sw.lag1["plain"].shape == (2, 2) and sw.lag1["residual"].shape == (2, 2)
    assert calls[-1] == pytest.approx(1.0) and len(calls) == 8
    # each cell equals the single-setting computation for that depth and seed
    one = sh.shatter(sh.shatter_config(3, 30, skip=False, seed=1), points=32)
    assert sw.lag1["plain"][1, 1] == pytest.approx(one.lag1)
    one = sh.shatter(sh.shatter_config(3, 30, skip=True, seed=1), points=32)
    assert sw.lag1["residual"][1, 1] == pytest.approx(one.lag1)
    d = sw.to_dict()
    assert d["theory"]["residual_bn_1/sqrt(L)"][0] == 1.0 and d["block"] == "single"
    assert d["hidden_relu_layers_plain"] == [1, 3]
    assert d["theory"]["feedforward_2^-L"] == [0.5, 0.125]


def test_bad_input():
    with pytest.raises(ValueError):
        sh.input_grid(2)
    with pytest.raises(ValueError):
        sh.input_grid(10, 1.0, -1.0)
    with pytest.raises(ConfigError):
        sh.shatter_config(0)
    with pytest.raises(ConfigError):
        sh.shatter_config(3, 5000)
    with pytest.raises(ConfigError):
        sh.depth_sweep(sh.shatter_config(), [5, 200], points=4096, memory_limit_bytes=2**30)
    with pytest.raises(ValueError):
        sh.shatter(sh.shatter_config(2), seeds=0)


def test_line_gradients_on_trained_nets(default_pair_runs):
    from resnet_viz.data import load_dataset

    data = load_dataset("digits")
    x_a, x_b = data.x_test[0], data.x_test[1]
    for run in default_pair_runs:
        saved = state_dict_copy(run.model)
        r = sh.line_gradients(run.model, x_a, x_b, points=32)
        assert_same_state(run.model, saved)
        assert not run.model.training
        # oracle: ∇_x logit · (x_b - x_a) by autograd, one image at a time
        m = copy.deepcopy(run.model).eval()
        for k in (0, 13, 31):
            t = r.t[k]
            xi = ((1 - t) * x_a + t * x_b).unsqueeze(0).clone().requires_grad_(True)
            (gx,) = torch.autograd.grad(m(xi)[0, r.target], xi)
            assert float((gx[0] * (x_b - x_a)).sum()) == pytest.approx(r.gradients[k], rel=1e-3, abs=1e-4)
        assert r.target == int(m(x_a.unsqueeze(0)).argmax())
        assert -1.0 <= r.lag1 <= 1.0


def test_cli_json(tmp_path):
    out = tmp_path / "s.json"
    assert main(["shatter", "--depth", "3", "--width", "25", "--points", "64", "--seeds", "2", "--sweep", "1,2",
                 "--quiet", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    plain = d["plain"]
    assert len(plain["gradients"]) == 64 and len(plain["lag1_per_seed"]) == 2
    assert plain["lag1"] == pytest.approx(np.mean(plain["lag1_per_seed"]))
    assert plain["settings"]["config"]["skip"] is False and plain["settings"]["config"]["depth"] == 3
    assert d["residual"]["settings"]["config"]["skip"] is True and d["sweep"]["depths"] == [1, 2]
    # the first seed's gradients are the library's
    g = sh.gradients(sh.shatter_config(3, 25, skip=False), sh.input_grid(64))
    assert np.allclose(plain["gradients"], g.numpy(), atol=1e-6)


@pytest.mark.parametrize("args", [["--points", "2"], ["--depth", "0"], ["--width", "5000"],
                                  ["--depth", "200", "--width", "1024", "--points", "8192"],
                                  ["--seeds", "0"], ["--sweep", "1,x"],
                                  ["--block", "bottleneck"], ["--shortcut-scale", "nan"]])
def test_cli_bad_input(args, capsys):
    assert main(["shatter", *args, "--json", "-"]) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err


# --- captions from the numbers -------------------------------------------------------------


def test_the_default_captions_say_one_thing_first():
    """Issue 32: the default view's captions open with a takeaway of at most 25 words, from its numbers."""
    v = sh.shattering_study(sh.ShatteringSettings())
    caps = v.captions()
    assert_captions(caps)
    assert caps["setting"].takeaway == (
        f"At 50 modules, shortcuts keep neighbouring gradients correlated: lag-1 {sh.lag_text(v.residual.lag1)} "
        f"residual vs {sh.lag_text(v.plain.lag1)} plain (white noise).")
    assert caps["sweep"].takeaway.startswith("From 1 to 50 modules, lag-1 goes from")


def _fake(kind, seeds=3, n=256, skip=True, looks_linear=False, **kw):
    """A ShatterResult whose gradients are synthetic series of a known kind (white, brown or constant)."""
    rng = np.random.default_rng(7)
    white = rng.normal(size=(seeds, n))
    g = {"white": white, "brown": np.cumsum(white, axis=1), "constant": np.ones((seeds, n))}[kind]
    lag1 = [sh.lag1_autocorrelation(r) for r in g]
    cfg = sh.shatter_config(8, 16, skip=skip, **kw)
    return sh.ShatterResult(cfg, looks_linear, np.linspace(-2, 2, n), g, lag1,
                            np.mean([sh.autocorrelation(r) for r in g], axis=0), sh.correlation_matrix(g))


def test_noise_kind_thresholds():
    rng = np.random.default_rng(0)
    assert sh.noise_kind(sh.lag1_autocorrelation(rng.normal(size=4096))) == "white noise"
    assert sh.noise_kind(sh.lag1_autocorrelation(np.cumsum(rng.normal(size=4096)))) == "correlated like brown noise"
    assert sh.noise_kind(0.3) == "partly correlated" and sh.noise_kind(-0.4) == "anti-correlated"


def test_setting_caption_follows_the_data_both_ways():
    plain, residual = _fake("white", skip=False), _fake("brown")
    text = sh.setting_caption(plain, residual)
    assert "plain net's gradients are white noise" in text and "residual net's correlated like brown" in text
    assert "shortcuts keep neighbouring gradients more correlated" in text
    assert text.takeaway == (f"At 8 modules, shortcuts keep neighbouring gradients correlated: lag-1 "
                             f"{sh.lag_text(residual.lag1)} residual vs {sh.lag_text(plain.lag1)} plain (white noise).")
    # the opposite data: the caption must say the opposite
    text = sh.setting_caption(_fake("brown", skip=False), _fake("white"))
    assert "plain net's gradients are correlated like brown" in text and "residual net's white noise" in text
    assert "plain net's gradients are the more correlated" in text and "keep neighbouring" not in text
    assert text.takeaway.startswith("At 8 modules, the plain net's gradients are the more correlated: lag-1 ")
    text = sh.setting_caption(_fake("white", skip=False), _fake("white"))
    assert "little difference" in text and "little difference" in text.takeaway
    # λ < 1: shattered again only when the residual net's numbers are white noise
    text = sh.setting_caption(_fake("white", skip=False), _fake("white", shortcut_scale=0.5))
    assert "shatters again" in text and "lab's own experiment" in text and "not shattering" in text
    text = sh.setting_caption(_fake("white", skip=False), _fake("brown", shortcut_scale=0.5))
    assert "has not shattered" in text and "shatters again," not in text
    # looks-linear: only a constant gradient is called linear
    assert "same at every input" in sh.setting_caption(_fake("constant", skip=False, looks_linear=True),
                                                        _fake("brown"))
    assert "varies" in sh.setting_caption(_fake("white", skip=False, looks_linear=True), _fake("brown"))
    # the two-layer block is named as the lab's, not Balduzzi's
    assert "not Balduzzi's" in sh.setting_caption(_fake("white", skip=False, block="basic"),
                                                  _fake("brown", block="basic"))
    assert "not Balduzzi's" not in sh.setting_caption(plain, residual)
    cases = [(_fake(a, skip=False, **kw), _fake(b, **kw)) for a, b in (("white", "brown"), ("brown", "white"),
                                                                        ("constant", "white"))
             for kw in ({}, {"shortcut_scale": 0.5}, {"shortcut_scale": 1.5}, {"block": "basic"})]
    assert_captions({f"setting {i}": sh.setting_caption(p, r) for i, (p, r) in enumerate(cases)})


def _sweep(plain, residual, **kw):
    depths = [1, 5, 20, 50]
    lag1 = {k: np.array(v, float)[:, None].repeat(3, 1) for k, v in (("plain", plain), ("residual", residual))}
    return sh.SweepResult(depths, lag1, sh.shatter_config(**kw))


def test_sweep_caption_follows_the_data_both_ways():
    text = sh.sweep_caption(_sweep([0.99, 0.6, 0.05, 0.0], [0.99, 0.95, 0.85, 0.75]))
    assert "plain net, neighbouring gradients are white noise from 20 modules on" in text
    assert "residual net, neighbouring gradients are still correlated like brown noise at 50 modules" in text
    assert "residual net's gradients are more correlated than the plain net's" in text
    assert text.takeaway == ("From 1 to 50 modules, lag-1 goes from 0.99 to 0.00 in the plain net and from 0.99 to "
                             "0.75 in the residual net.")
    assert_captions({"sweep": text, "one depth": sh.sweep_caption(sh.SweepResult(
        [50], {k: np.array([[v, v]]) for k, v in (("plain", -0.07), ("residual", 0.7))}, sh.shatter_config()))})
    text = sh.sweep_caption(_sweep([0.99, 0.95, 0.85, 0.75], [0.99, 0.6, 0.05, 0.0]))
    assert "plain net, neighbouring gradients are still correlated like brown noise" in text
    assert "residual net, neighbouring gradients are white noise from 20 modules on" in text
    assert "plain net's gradients are more correlated than the residual net's" in text
    text = sh.sweep_caption(_sweep([0.99, 0.6, 0.05, 0.0], [0.99, 0.6, 0.3, 0.0]))
    assert "about equally correlated" in text
    # white noise must hold to the deepest depth, not once on the way
    text = sh.sweep_caption(_sweep([0.99, 0.05, 0.4, 0.2], [0.99, 0.9, 0.9, 0.9]))
    assert "plain net, neighbouring gradients are still partly correlated at 50" in text
    assert "shatters again by 20 modules" in sh.sweep_caption(_sweep([0.9, 0.5, 0.0, 0.0], [0.9, 0.5, 0.1, 0.0],
                                                                     shortcut_scale=0.5))
    assert "has not shattered by 50" in sh.sweep_caption(_sweep([0.9, 0.5, 0.0, 0.0], [0.9, 0.8, 0.7, 0.6],
                                                                shortcut_scale=0.5))
    assert "L = d," in text and "L = 2d + 1" in sh.sweep_caption(_sweep([1, 1, 1, 1], [1, 1, 1, 1], block="basic"))
    assert "blocks" in sh.sweep_caption(_sweep([1, 1, 1, 1], [1, 1, 1, 1], block="basic"))


def test_scale_sweep_caption_follows_the_data_both_ways():
    depths = [1, 50]
    curves = {"plain": {"lag1": [0.99, 0.0], "rms": [1.0, 1e4], "lam": None},
              "residual, λ = 0.5": {"lag1": [0.99, 0.05], "rms": [1.0, 1e3], "lam": 0.5},
              "residual, λ = 1": {"lag1": [0.99, 0.7], "rms": [1.0, 20.0], "lam": 1.0}}
    text = sh.scale_sweep_caption(depths, curves)
    assert "With λ = 0.5 the residual net shatters again, like the plain net" in text
    assert "residual, λ = 1: lag-1 0.70 (correlated like brown noise), RMS of df/dx grew ×20" in text
    assert "lab's own experiment" in text
    curves["residual, λ = 0.5"] = {"lag1": [0.99, 0.8], "rms": [1.0, 0.5], "lam": 0.5}
    text = sh.scale_sweep_caption(depths, curves)
    assert "stays more correlated than the plain net" in text and "shatters again" not in text
    assert "RMS of df/dx shrank ×0.5" in text


def test_cli_writes_the_pages_captions(tmp_path):
    out = tmp_path / "c.json"
    assert main(["shatter", "--depth", "3", "--width", "25", "--points", "32", "--seeds", "2",
                 "--sweep", "1,2", "--quiet", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    plain = sh.shatter(sh.shatter_config(3, 25, skip=False), points=32, seeds=2)
    residual = sh.shatter(sh.shatter_config(3, 25), points=32, seeds=2)
    assert d["captions"]["setting"] == sh.setting_caption(plain, residual)
    assert d["plain"]["settings"]["config"]["block"] == "single"
    assert d["captions"]["sweep"].startswith("From 1 to 2 modules, lag-1 goes from")
    assert "Mean ± std over two random nets" in d["captions"]["sweep"]
    assert d["takeaways"]["setting"] == sh.setting_caption(plain, residual).takeaway
    assert main(["shatter", "--block", "basic-post", "--depth", "2", "--width", "25", "--points", "32",
                 "--sweep", "1", "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["residual"]["settings"]["config"]["order"] == "post"