"""Loss landscapes (Li et al. 2018): checked against definitions and independent oracles
(train.evaluate, the loss-landscapes package's Loss metric, the exact Hessian from
torch.autograd.functional.hessian, scikit-learn's PCA)."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import assert_same_state, state_dict_copy
from resnet_viz import landscape as L
from resnet_viz.models import ConfigError, NetConfig, build_model
from resnet_viz.train import TrainConfig, evaluate, net_config_for, save_run, train


def _bn_mlp(seed: int = 0, norm: str = "batch", depth: int = 1, width: int = 6):
    """A tiny MLP with non-trivial BN running statistics, plus data."""
    torch.manual_seed(seed)
    cfg = NetConfig(arch="mlp", depth=depth, width=width, norm=norm, input_shape=(4,), classes=3, seed=seed)
    model = build_model(cfg)
    x = torch.randn(64, 4)
    y = torch.randint(0, 3, (64,))
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(x + 0.3 * torch.randn_like(x))
    return model.eval(), x, y


@pytest.fixture(scope="module")
def small_run():
    """A small CNN trained briefly on a slice of digits (with its trajectory)."""
    net = net_config_for("digits", depth=3, width=4)
    return train(net, TrainConfig(epochs=3, checkpoints_per_epoch=2), device="cpu")


@pytest.fixture(scope="module")
def digits():
    from resnet_viz.data import load_dataset
    return load_dataset("digits")


# --- grid and directions -------------------------------------------------------------


def test_grid_is_symmetric_and_contains_zero_exactly():
    for n in (3, 5, 21, 51):
        g = L.grid_coords(n, 0.7)
        assert g[(n - 1) // 2] == 0.0
        assert np.array_equal(g, -g[::-1])
        assert g[0] == -0.7 and g[-1] == 0.7


@pytest.mark.parametrize("n,span", [(1, 1.0), (4, 1.0), (L.MAX_GRID + 2, 1.0), (5, 0.0), (5, float("nan")), (5, -1.0)])
def test_bad_grid_or_span_is_a_config_error(n, span):
    with pytest.raises(ConfigError):
        L.grid_coords(n, span)


def test_filter_normalization_matches_each_filter_norm_and_zeroes_bias_bn():
    model, _, _ = _bn_mlp()
    d = L.random_direction(model, seed=3)
    for (name, p), di in zip(model.named_parameters(), d):
        if p.dim() >= 2:
            for row_d, row_w in zip(di, p.detach()):
                assert torch.isclose(row_d.norm(), row_w.norm(), rtol=1e-5)
        else:
            assert torch.count_nonzero(di) == 0, name
    d_all = L.random_direction(model, seed=3, include_bias_bn=True)
    assert any(torch.count_nonzero(di) > 0 for p, di in zip(model.parameters(), d_all) if p.dim() == 1)
    # Same seed -> same direction; another seed -> another one.
    assert all(torch.equal(a, b) for a, b in zip(d, L.random_direction(model, seed=3)))
    assert not all(torch.equal(a, b) for a, b in zip(d, L.random_direction(model, seed=4)))


def test_layer_normalization_matches_tensor_norm_and_none_is_raw_gaussian():
    model, _, _ = _bn_mlp()
    for p, di in zip(model.parameters(), L.random_direction(model, seed=1, normalization="layer")):
        if p.dim() >= 2:
            assert torch.isclose(di.norm(), p.detach().norm(), rtol=1e-5)
    gen = torch.Generator().manual_seed(1)
    raw = [torch.randn(p.shape, generator=gen) for p in model.parameters()]
    for p, r, di in zip(model.parameters(), raw, L.random_direction(model, seed=1, normalization="none")):
        if p.dim() >= 2:
            assert torch.equal(r, di)


def test_filter_normalization_is_invariant_to_rescaling_a_filter_before_bn():
    """Li et al. 2018 §4: scaling a filter in front of BN leaves the net's function and the
    filter-normalized curve unchanged; an un-normalized curve changes."""
    model, x, y = _bn_mlp(norm="batch")
    scaled = copy.deepcopy(model)
    lin, bn = scaled.stem[1], scaled.stem[2]
    with torch.no_grad():
        for row, c in ((0, 10.0), (2, 0.1)):
            lin.weight[row] *= c
            bn.running_mean[row] *= c
            bn.running_var[row] *= c * c
    assert abs(evaluate(model, x, y)[0] - evaluate(scaled, x, y)[0]) < 1e-4  # same function
    kw = dict(grid=7, span=1.0, samples=None, seed=5)
    a = L.line(model, x, y, normalization="filter", **kw).loss
    b = L.line(scaled, x, y, normalization="filter", **kw).loss
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    a0 = L.line(model, x, y, normalization="none", **kw).loss
    b0 = L.line(scaled, x, y, normalization="none", **kw).loss
    assert np.max(np.abs(a0 - b0)) > 1e-2


# --- surfaces ------------------------------------------------------------------------


def test_centre_equals_models_own_loss_and_accuracy(small_run, digits):
    model = small_run.model
    s = L.plane(model, digits.x_train, digits.y_train, grid=5, span=0.5, samples=200, seed=1)
    xs, ys = L.evaluation_subset(digits.x_train, digits.y_train, 200)
    loss, acc = evaluate(model, xs, ys)
    assert s.center_loss == pytest.approx(loss, rel=1e-5)
    assert s.center_accuracy == pytest.approx(acc)
    assert s.complete and s.loss.shape == (5, 5)
    # The β = 0 row of the plane is the 1-D line along the same δ.
    dirs = L.random_directions(model, seed=1, count=2)
    ln = L.line(model, digits.x_train, digits.y_train, grid=5, span=0.5, samples=200, directions=dirs[:1])
    np.testing.assert_allclose(ln.loss, s.loss[2], rtol=1e-5)


def test_losses_match_the_loss_landscapes_package_at_the_same_points(small_run, digits):
    """Independent reference: loss-landscapes' `Loss` metric, with the model placed at
    θ* + αδ + βη by the package's own parameter arithmetic (on a deep copy, as its
    functions otherwise leave the model at the last point)."""
    from loss_landscapes.metrics import Loss
    from loss_landscapes.model_interface.model_parameters import ModelParameters
    from loss_landscapes.model_interface.model_wrapper import wrap_model

    model = small_run.model
    xs, ys = L.evaluation_subset(digits.x_train, digits.y_train, 150)
    dirs = L.random_directions(model, seed=7, count=2)
    s = L.plane(model, digits.x_train, digits.y_train, grid=5, span=0.8, samples=150, directions=dirs)
    metric = Loss(F.cross_entropy, xs, ys)
    for j, i in [(0, 0), (1, 3), (2, 2), (4, 1), (3, 4)]:
        a, b = s.alphas[i], s.betas[j]
        wrapper = wrap_model(copy.deepcopy(model).eval())
        point = wrapper.get_module_parameters()
        point.add_(ModelParameters([d.clone() * a for d in dirs[0]]))
        point.add_(ModelParameters([d.clone() * b for d in dirs[1]]))
        assert s.loss[j, i] == pytest.approx(metric(wrapper), rel=1e-4), (a, b)


def test_trained_net_sits_at_a_minimum_of_its_own_plane(digits):
    # Trained without weight decay, so θ* minimises the plotted loss itself (with decay it
    # minimises L + wd·‖θ‖²/2, whose gradient -wd·θ tilts the plane of L), on the whole train set.
    run = train(net_config_for("digits", depth=3, width=8),
                TrainConfig(epochs=12, weight_decay=0.0, checkpoints_per_epoch=0), device="cpu")
    n = len(digits.x_train)
    for seed in (0, 1):
        s = L.plane(run.model, digits.x_train, digits.y_train, grid=5, span=0.05, samples=n, seed=seed)
        assert np.nanargmin(s.loss) == s.loss.size // 2
        assert s.loss.min() == s.center_loss


def test_coarse_to_fine_levels_cover_grid_once_and_start_coarse():
    for n in (5, 11, 21, 51):
        levels = L.coarse_to_fine_order(n)
        flat = [p for lv in levels for p in lv]
        assert len(flat) == len(set(flat)) == n * n
        c = (n - 1) // 2
        assert (c, c) in levels[0]
        assert len(levels[0]) <= 81 and len(levels[0]) >= 9


def test_callback_sees_coarse_regular_subgrids_first():
    model, x, y = _bn_mlp()
    seen = []

    def cb(p):
        if p.level_complete:
            g = p.surface.subgrid()
            assert np.isfinite(g.loss).all()
            seen.append((len(g.alphas), len(g.betas), p.done, p.total))

    s = L.plane(model, x, y, grid=21, span=0.5, samples=None, callback=cb)
    assert seen[0][:2] == (5, 5) and seen[-1][:2] == (21, 21)
    assert seen[-1][2] == seen[-1][3] == 441
    assert s.complete


def test_weights_and_mode_unchanged_by_every_function_also_on_failure(small_run, digits):
    model = copy.deepcopy(small_run.model).train()  # train mode, to see that it is kept
    shared = [p.data for p in model.parameters()]  # tensors sharing memory with the "cached" model
    saved = state_dict_copy(model)
    saved_shared = [t.clone() for t in shared]
    x, y = digits.x_train, digits.y_train

    def check():
        assert model.training
        assert_same_state(model, saved)
        assert all(torch.equal(a, b) for a, b in zip(shared, saved_shared))

    L.plane(model, x, y, grid=3, span=1.0, samples=50)
    check()
    L.line(model, x, y, grid=3, span=1.0, samples=50, include_bias_bn=True)
    check()
    L.hessian_extremes(model, x, y, samples=50, iterations=3)
    check()
    L.interpolate(build_model(small_run.net), model, x, y, steps=3, samples=50)
    check()
    L.trajectory(model, small_run.trajectory, x, y, grid=3, samples=50)
    check()

    def boom(p):
        raise RuntimeError("fails half-way")

    with pytest.raises(RuntimeError):
        L.plane(model, x, y, grid=5, span=1.0, samples=50, callback=boom)
    check()


def test_overflowing_surface_is_reported_not_raised():
    model, x, y = _bn_mlp(norm="none")
    with torch.no_grad():
        model.head[-1].weight.mul_(1e37)
    s = L.plane(model, x, y, grid=3, span=1.0, samples=None, normalization="none")
    assert s.overflowed > 0
    from resnet_viz.plots.landscape import contour_figure, display_values
    z = display_values(s.loss, "clip", 10.0)
    assert np.isfinite(z).all() and z.max() == 10.0
    fig = contour_figure(s, "t", mode="clip", clip=10.0)
    assert "overflowed" in fig.layout.title.text


# --- interpolation, trajectory, curvature -----------------------------------------------


def test_interpolation_endpoints_reproduce_each_models_loss(small_run, digits):
    init = build_model(small_run.net)
    trained = small_run.model
    xs, ys = L.evaluation_subset(digits.x_train, digits.y_train, 120)
    r = L.interpolate(init, trained, digits.x_train, digits.y_train, steps=5, extend=0.0, samples=120)
    assert r.ts[0] == 0 and r.ts[-1] == 1
    assert r.loss[0] == pytest.approx(evaluate(init, xs, ys)[0], rel=1e-5)
    assert r.loss[-1] == pytest.approx(evaluate(trained, xs, ys)[0], rel=1e-5)
    # Twins have the same shapes: residual weights run in the plain architecture.
    plain_host = build_model(small_run.net.twin())
    r2 = L.interpolate(init, trained, digits.x_train, digits.y_train, steps=3, extend=0.0, samples=120,
                       evaluate_in=plain_host)
    host = copy.deepcopy(plain_host)
    host.load_state_dict(trained.state_dict())
    assert r2.loss[-1] == pytest.approx(evaluate(host, xs, ys)[0], rel=1e-5)
    with pytest.raises(ConfigError):
        L.interpolate(init, build_model(small_run.net.replace(width=5)), digits.x_train, digits.y_train)


def test_trajectory_pca_matches_sklearn(small_run, digits):
    from sklearn.decomposition import PCA

    traj = small_run.trajectory
    tr = L.trajectory(small_run.model, traj, digits.x_train, digits.y_train, grid=5, samples=100,
                      steps=small_run.history.checkpoint_steps)
    m = (traj - traj[-1]).double().numpy()
    pca = PCA(n_components=2).fit(m)
    np.testing.assert_allclose(tr.explained_variance, pca.explained_variance_ratio_, rtol=1e-4)
    ref = m @ pca.components_.T  # uncentred projections of θ_i − θ_final
    np.testing.assert_allclose(np.abs(tr.coords), np.abs(ref), rtol=1e-3, atol=1e-4 * np.abs(ref).max())
    assert np.allclose(tr.coords[-1], 0)
    xs, ys = L.evaluation_subset(digits.x_train, digits.y_train, 100)
    assert tr.surface.center_loss == pytest.approx(evaluate(small_run.model, xs, ys)[0], rel=1e-5)
    assert np.abs(tr.coords).max() <= tr.surface.alphas[-1]  # the plane covers the path


def _exact_hessian_eigs(model, x, y):
    from torch.func import functional_call

    m = copy.deepcopy(model).double().eval()
    names = [n for n, _ in m.named_parameters()]
    shapes = [p.shape for p in m.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in m.parameters()])

    def f(v):
        params, o = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            params[n] = v[o:o + k].view(s)
            o += k
        return F.cross_entropy(functional_call(m, params, (x.double(),)), y)

    return torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, flat))


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_hessian_extremes_match_the_exact_hessian(norm):
    model, x, y = _bn_mlp(norm=norm, width=4)
    eig = _exact_hessian_eigs(model, x, y)
    n = sum(p.numel() for p in model.parameters())
    c = L.hessian_extremes(model, x, y, samples=None, iterations=n)
    assert c.lambda_max == pytest.approx(float(eig[-1]), rel=1e-4, abs=1e-6)
    assert c.lambda_min == pytest.approx(float(eig[0]), rel=1e-4, abs=1e-6)
    assert c.ratio == pytest.approx(abs(float(eig[0] / eig[-1])), rel=1e-3)
    # Fewer Lanczos steps than parameters still find the top eigenvalue closely.
    c2 = L.hessian_extremes(model, x, y, samples=None, iterations=max(n // 2, 2))
    assert c2.lambda_max == pytest.approx(float(eig[-1]), rel=1e-2)


def test_scalar_output_net_is_refused():
    cfg = NetConfig(arch="mlp", depth=1, width=4, input_shape=(1,), classes=1)
    with pytest.raises(ConfigError):
        L.plane(build_model(cfg), torch.randn(8, 1), torch.zeros(8, dtype=torch.long), grid=3)


# --- command line --------------------------------------------------------------------


def test_cli_writes_json_and_html_and_refuses_bad_input(small_run, tmp_path, capsys):
    from resnet_viz.cli import main

    folder = save_run(small_run, str(tmp_path / "run"))
    out, html = tmp_path / "l.json", tmp_path / "l.html"
    rc = main(["landscape", "--run", folder, "--grid", "3", "--span", "0.5", "--samples", "64",
               "--json", str(out), "--html", str(html), "--quiet"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["alphas"] == [-0.5, 0.0, 0.5] and d["betas"] == [-0.5, 0.0, 0.5]
    assert len(d["loss"]) == 3 and len(d["loss"][0]) == 3
    assert d["center_loss"] == d["loss"][1][1]
    assert d["settings"]["normalization"] == "filter" and d["settings"]["samples"] == 64
    assert os.path.getsize(html) > 1000
    rc = main(["landscape", "--run", folder, "--dim", "1", "--grid", "3", "--samples", "32", "--quiet",
               "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0 and "betas" not in d and len(d["loss"]) == 3
    for bad in (["--grid", "1"], ["--grid", "4"], ["--grid", "999"], ["--span", "0"]):
        assert main(["landscape", "--run", folder, "--json", str(out), "--quiet", *bad]) == 2
    assert main(["landscape", "--run", str(tmp_path / "missing"), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "odd" in err and "does not exist" in err
