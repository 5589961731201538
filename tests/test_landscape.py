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
from caption_rules import assert_captions
from conftest import assert_same_state, state_dict_copy

from resnet_viz.models import ConfigError, NetConfig, build_model
from resnet_viz.train import TrainConfig, evaluate, net_config_for, save_run, train
from resnet_viz.views import landscape as L


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
                TrainConfig(epochs=12, weight_decay=0.0, warmup_epochs=0.0, checkpoints_per_epoch=0), device="cpu")
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


def test_preview_sees_coarse_regular_subgrids_first():
    model, x, y = _bn_mlp()
    seen, fractions = [], []

    def preview(partial):
        g = partial.subgrid()
        assert np.isfinite(g.loss).all()
        seen.append((len(g.alphas), len(g.betas), int(partial.evaluated.sum())))

    s = L.plane(model, x, y, grid=21, span=0.5, samples=None, preview=preview,
                progress=lambda f, m: fractions.append((f, m)))
    assert seen[0][:2] == (5, 5) and seen[-1][:2] == (21, 21)
    assert seen[-1][2] == 441
    assert fractions == sorted(fractions, key=lambda t: t[0]) and fractions[-1] == (1.0, "441/441 grid points")
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
    L.hessian_extremes(model, x, y, samples=50, max_iterations=3)
    check()
    L.curvature_map(model, x, y, grid=3, samples=50, max_iterations=3)
    check()
    L.interpolate(build_model(small_run.net), model, x, y, steps=3, samples=50)
    check()
    L.trajectory(model, small_run.trajectory, x, y, grid=3, samples=50)
    check()

    def boom(fraction, message):
        raise RuntimeError("fails half-way")

    with pytest.raises(RuntimeError):
        L.plane(model, x, y, grid=5, span=1.0, samples=50, progress=boom)
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
    c = L.hessian_extremes(model, x, y, samples=None, params="all", tol=0, max_iterations=n)
    assert c.converged and c.iterations <= n and c.n_params == n  # exact once the Krylov space is exhausted
    assert c.lambda_max == pytest.approx(float(eig[-1]), rel=1e-4, abs=1e-6)
    assert c.lambda_min == pytest.approx(float(eig[0]), rel=1e-4, abs=1e-6)
    assert c.ratio == pytest.approx(abs(float(eig[0] / eig[-1])), rel=1e-3)
    # Fewer Lanczos steps than parameters still find the top eigenvalue closely.
    c2 = L.hessian_extremes(model, x, y, samples=None, params="all", tol=0, max_iterations=max(n // 2, 2))
    assert c2.lambda_max == pytest.approx(float(eig[-1]), rel=1e-2)


def _eigsh_extremes(model, x, y, params):
    """Independent oracle: scipy's ARPACK `eigsh` on a `LinearOperator` whose matvec is a
    Hessian-vector product by `torch.autograd.functional.hvp` of a float64 functional copy
    (only the chosen parameters vary; the others and the BN buffers stay fixed)."""
    from scipy.sparse.linalg import LinearOperator, eigsh
    from torch.func import functional_call

    m = copy.deepcopy(model).double().eval()
    named = dict(m.named_parameters())
    chosen = [k for k, p in named.items() if params == "all" or p.dim() > 1]
    fixed = {k: p.detach() for k, p in named.items() if k not in chosen}
    shapes = [named[k].shape for k in chosen]
    flat = torch.cat([named[k].detach().reshape(-1) for k in chosen])

    def f(v):
        ps, o = dict(fixed), 0
        for k, sh in zip(chosen, shapes):
            size = int(np.prod(sh))
            ps[k] = v[o:o + size].view(sh)
            o += size
        return F.cross_entropy(functional_call(m, ps, (x.double(),)), y)

    def matvec(v):
        v = torch.as_tensor(np.ravel(v), dtype=torch.float64)
        return torch.autograd.functional.hvp(f, flat, v)[1].numpy()

    op = LinearOperator((flat.numel(), flat.numel()), matvec=matvec, dtype=np.float64)
    hi = eigsh(op, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0]
    lo = eigsh(op, k=1, which="SA", tol=1e-10, return_eigenvectors=False)[0]
    return float(lo), float(hi), flat.numel()


@pytest.mark.parametrize("params", ["weights", "all"])
def test_hessian_extremes_match_eigsh_on_hessian_vector_products(params):
    model, x, y = _bn_mlp(width=12, depth=2)
    with torch.no_grad():  # non-trivial BN γ/β, so "all" and "weights" differ
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.3)
    lo, hi, n = _eigsh_extremes(model, x, y, params)
    expected_n = sum(p.numel() for p in model.parameters() if params == "all" or p.dim() > 1)
    assert n == expected_n
    c = L.hessian_extremes(model, x, y, samples=None, params=params, tol=1e-5, max_iterations=L.MAX_ITERATIONS)
    assert c.params == params and c.n_params == n
    assert c.converged and c.iterations < n  # stopped on the tolerance, not by exhausting the Krylov space
    assert c.lambda_max == pytest.approx(hi, rel=1e-4)
    assert c.lambda_min == pytest.approx(lo, rel=1e-4)
    assert lo < 0 < hi
    # The reported residuals are true ‖Hv − λv‖ and small.
    assert 0 <= c.residual_max <= 1e-3 * abs(hi) and 0 <= c.residual_min <= 1e-3 * abs(lo)
    assert c.relative_residual < 1e-3


def test_hessian_extremes_stop_on_the_tolerance_and_report_non_convergence():
    model, x, y = _bn_mlp(width=12, depth=2)
    few = L.hessian_extremes(model, x, y, samples=None, tol=1e-3, max_iterations=3)
    assert few.iterations == 3 and not few.converged and few.relative_residual > 1e-3
    loose = L.hessian_extremes(model, x, y, samples=None, tol=1e-2)
    tight = L.hessian_extremes(model, x, y, samples=None, tol=1e-6)
    assert loose.converged and tight.converged
    assert 3 < loose.iterations < tight.iterations
    assert abs(loose.lambda_min - tight.lambda_min) <= 2e-2 * abs(tight.lambda_min)
    d = tight.to_dict()
    assert d["converged"] is True and d["iterations"] == tight.iterations and d["params"] == "weights"
    for bad in (dict(params="biases"), dict(tol=-1.0), dict(tol=float("nan")), dict(max_iterations=1)):
        with pytest.raises(ConfigError):
            L.hessian_extremes(model, x, y, samples=None, **bad)


def test_curvature_map_centre_is_hessian_extremes_and_points_match_a_moved_copy():
    model, x, y = _bn_mlp(width=8, depth=2)
    saved = state_dict_copy(model)
    m = L.curvature_map(model, x, y, grid=3, span=0.5, samples=None, seed=2, tol=1e-4)
    assert_same_state(model, saved)  # weights unchanged after
    assert m.ratio.shape == (3, 3) and np.isfinite(m.ratio).all() and m.converged.all()
    c = L.hessian_extremes(model, x, y, samples=None, tol=1e-4)
    assert m.lambda_min[1, 1] == pytest.approx(c.lambda_min, rel=1e-6)
    assert m.lambda_max[1, 1] == pytest.approx(c.lambda_max, rel=1e-6)
    assert m.center_ratio == pytest.approx(c.ratio, rel=1e-6)
    # Corner (row j = 2 → β = +0.5, column i = 0 → α = −0.5): a copy moved there by hand.
    dirs = L.random_directions(model, seed=2, count=2)
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for p, a, b in zip(moved.parameters(), *dirs):
            p.add_(-0.5 * a + 0.5 * b)
    cc = L.hessian_extremes(moved, x, y, samples=None, tol=1e-4)
    assert m.lambda_min[2, 0] == pytest.approx(cc.lambda_min, rel=1e-3)
    assert m.lambda_max[2, 0] == pytest.approx(cc.lambda_max, rel=1e-3)
    assert abs(m.lambda_min[2, 0] - m.lambda_min[1, 1]) > 1e-3 * abs(m.lambda_min[1, 1])  # the map varies
    d = m.to_dict()
    assert d["alphas"] == [-0.5, 0.0, 0.5] and len(d["ratio"]) == 3 and d["settings"]["params"] == "weights"

    from resnet_viz.plots.landscape import curvature_map_figure, shared_ratio_range
    zr = shared_ratio_range([m])
    fig = curvature_map_figure(m, "t", zr)
    assert fig.data[0].type == "heatmap" and fig.data[0].zmin == 0 and fig.data[0].zmax == pytest.approx(m.ratio.max())


def test_bias_and_bn_directions_are_the_parameters_themselves_when_included():
    """Li et al.'s normalize_directions_for_weights with ignore='biasbn' off: d = w for 1-D tensors."""
    model, x, y = _bn_mlp()
    with torch.no_grad():
        model.stem[2].weight.uniform_(0.5, 1.5)
        model.stem[2].bias.normal_()
    for normalization in ("filter", "layer"):
        with_bb = L.random_direction(model, seed=3, normalization=normalization, include_bias_bn=True)
        without = L.random_direction(model, seed=3, normalization=normalization)
        for (name, p), d, d0 in zip(model.named_parameters(), with_bb, without):
            if p.dim() <= 1:
                assert torch.equal(d, p.detach()), name
                assert torch.count_nonzero(d0) == 0, name
            else:
                assert torch.equal(d, d0), name  # weight directions are not affected by the option
    raw = L.random_direction(model, seed=3, normalization="none", include_bias_bn=True)
    gen = torch.Generator().manual_seed(3)
    for p, d in zip(model.parameters(), raw):
        assert torch.equal(d, torch.randn(p.shape, generator=gen))
    # A step α along δ moves every bias and BN γ/β to (1 + α) times itself.
    ln = L.line(model, x, y, grid=3, span=0.5, samples=None, seed=3, include_bias_bn=True)
    d_w = L.random_directions(model, seed=3, count=1)[0]
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for p, d in zip(moved.parameters(), d_w):
            if p.dim() <= 1:
                p.mul_(1.5)
            else:
                p.add_(0.5 * d)
    assert ln.loss[2] == pytest.approx(evaluate(moved, x, y)[0], rel=1e-5)


# --- captions from the measured results -----------------------------------------------------


def _surface(loss):
    loss = np.asarray(loss, dtype=float)
    g = L.grid_coords(loss.shape[0], 1.0)
    return L.Surface(g, g.copy(), loss, np.zeros_like(loss), np.ones_like(loss, dtype=bool), {})


def _bowl(width: float, center: float = 0.0, n: int = 21, ripple: float = 0.0) -> "L.Surface":
    """A radial bowl L = center + (r / width)² on [−1, 1]², times exp(ripple · noise) away from the centre
    (a chaotic surface with dips: seeded noise)."""
    g = L.grid_coords(n, 1.0)
    r = np.hypot(*np.meshgrid(g, g))
    noise = np.random.default_rng(0).normal(size=r.shape) * (r > 0)
    loss = (center + (r / width) ** 2) * np.exp(ripple * noise)
    return L.Surface(g, g.copy(), loss, np.zeros_like(loss), np.ones_like(loss, dtype=bool), {})


def test_basin_width_is_where_the_loss_has_risen_one_nat_whatever_the_loss_at_the_centre_or_the_grid():
    # L = c + (r / w)²: the loss has risen by 1 nat at r = w, exactly, for any c.
    # Interpolation between grid points errs by less than half a grid step, less on a finer grid.
    for w in (0.2, 0.5):
        for c in (1e-4, 1.5):
            errors = []
            for n in (15, 31, 61):
                b = L.basin(_bowl(w, c, n))
                errors.append(abs(b.radius - w))
                assert errors[-1] < 0.5 * 2 / (n - 1), (w, c, n)
                assert b.censored == 0 and b.roughness == pytest.approx(0.0, abs=1e-12)
            assert errors[2] < errors[0]
    wide = L.basin(_bowl(5.0))  # never rises 1 nat within the span: counted as the span, and said
    assert wide.radius == pytest.approx(1.0) and wide.censored == wide.rays
    assert L.basin(_bowl(0.5, ripple=1.0)).roughness > L.ROUGH  # dips away from the centre: rough


def test_surfaces_caption_follows_the_measured_basins_both_ways():
    narrow, wide = _bowl(0.2, center=1.0, n=41), _bowl(0.5, center=1e-3, n=41)
    text = L.surfaces_caption(narrow, wide, classes=10)
    assert "mean distance of 0.20 for the plain net and 0.50 for the residual net" in text
    assert "residual net's basin is ×2.5 wider, as in Li et al." in text
    assert text.takeaway == ("The residual net's basin is ×2.5 wider than the plain net's (edge at 0.50 vs 0.20), as "
                             "in Li et al.")
    assert "plain net's minimum is also higher" in text and "Both rise smoothly" in text
    text = L.surfaces_caption(wide, narrow, classes=10)
    assert "plain net's basin is ×2.5 wider, unlike Li et al." in text
    assert text.takeaway.startswith("Here the plain net's basin is ×2.5 wider than the residual net's")
    same = L.surfaces_caption(_bowl(0.5), _bowl(0.45), classes=10)
    assert "about as wide" in same and same.takeaway.startswith("Both basins are about as wide")
    rough = L.surfaces_caption(_bowl(0.3, ripple=1.0), _bowl(0.3), classes=10)
    assert "The plain surface is the rougher one" in rough
    assert_captions({"narrow-wide": L.surfaces_caption(narrow, wide, classes=10), "same": same, "rough": rough,
                     "wide-narrow": text})


def test_the_default_captions_say_one_thing_first(default_pair_runs):
    """Issue 32: the default view's caption opens with a takeaway of at most 25 words, from its numbers (the residual
    basin the wider, by the caption's margin, as `test_verdicts` checks on every seed)."""
    runs = dict(zip(("plain", "residual"), default_pair_runs))
    view = L.landscape_study(runs, L.LandscapeSettings())
    caps = view.captions()
    assert_captions({"view": caps["view"]})
    assert caps["view"].takeaway.startswith("The residual net's basin is ×") and caps["map"] == ""
    assert view.to_dict()["takeaways"]["view"] == caps["view"].takeaway


def test_slices_interpolation_and_trajectory_captions_follow_the_data():
    flat = _surface(np.full((3, 3), 1.0) + np.array([[0, 0, 0], [0.5, 0, 0.5], [0, 0, 0]]))
    steep = _surface(np.full((3, 3), 1.0) + np.array([[0, 0, 0], [5, 0, 5], [0, 0, 0]]))
    assert "plain net's loss rises faster" in L.slices_caption({"plain": steep, "residual": flat})
    assert "residual net's loss rises faster" in L.slices_caption({"plain": flat, "residual": steep})
    assert L.slices_caption({"plain": steep, "residual": flat}).takeaway.startswith(
        "Along the same direction, the plain net's loss rises faster away from θ* (1 nat higher at |α| = ")
    ts = np.linspace(0, 1, 5)
    mono = L.Interpolation(ts, np.array([2.0, 1.5, 1.0, 0.5, 0.1]), np.zeros(5))
    bump = L.Interpolation(ts, np.array([2.0, 1.5, 2.5, 0.5, 0.1]), np.zeros(5))
    assert L.interpolation_barrier(mono) == 0 and L.interpolation_barrier(bump) == pytest.approx(1.0)
    text = L.interpolation_caption({"plain": mono, "residual": bump})
    assert "plain: the loss falls monotonically" in text and "residual: a barrier of 1" in text
    assert text.takeaway == ("From initial to trained weights, the plain net's loss falls monotonically; the residual "
                             "net's loss crosses a barrier of 1.")
    low = L.Trajectory(np.zeros((3, 2)), np.array([0.9, 0.05]), [], [0, 1, 2])
    high = L.Trajectory(np.zeros((3, 2)), np.array([0.3, 0.1]), [], [0, 1, 2])
    text = L.trajectory_caption({"plain": low, "residual": high})
    assert "plain: 90 % + 5 % = 95 % of the variance, most of the path lies in this plane" in text
    assert "residual: 30 % + 10 % = 40 % of the variance, less than half" in text
    assert text.takeaway == ("The plane of the first two PCA directions holds 95 % of the plain path's and 40 % of the "
                             "residual path's variance.")
    assert_captions({"slices": L.slices_caption({"plain": steep, "residual": flat}), "one slice": L.slices_caption(
        {"plain": steep}), "interpolation": L.interpolation_caption({"plain": mono, "residual": bump}),
        "trajectory": text})


def test_curvature_captions_follow_the_measured_ratios_both_ways():
    convex = L.Curvature(10.0, -0.01, 30, True, 1e-4, 1e-6, "weights", 1000, 1e-3)
    rough = L.Curvature(10.0, -2.0, 30, True, 1e-4, 1e-4, "weights", 1000, 1e-3)
    text = L.curvature_caption({"plain": rough, "residual": convex})
    assert "residual net's minimum is the more nearly convex" in text and "weight tensors only" in text
    assert "converged in 30 Lanczos steps" in text
    assert "plain net's minimum is the more nearly convex" in L.curvature_caption({"plain": convex, "residual": rough})
    stuck = L.Curvature(10.0, -2.0, 100, False, 1e-1, 1e-1, "all", 1200, 1e-3)
    text = L.curvature_caption({"plain": stuck, "residual": stuck})
    assert "NOT converged after 100 steps" in text and "every parameter" in text and "about equally" in text
    assert text.takeaway.startswith("Both minima are about equally convex (|λmin/λmax| 0.2 residual vs 0.2 plain)")
    assert L.curvature_caption({"plain": rough, "residual": convex}).takeaway == (
        "The residual net's minimum is the more nearly convex (|λmin/λmax| 0.001 residual vs 0.2 plain).")
    assert_captions({"curvature": text, "one": L.curvature_caption({"plain": rough})})

    g = L.grid_coords(3, 1.0)

    def cmap(lmin):
        lmin = np.asarray(lmin, dtype=float)
        return L.CurvatureMap(g, g.copy(), lmin, np.ones((3, 3)), np.full((3, 3), 10), np.ones((3, 3), bool), {})

    smooth, wild = cmap(np.full((3, 3), -0.01)), cmap(np.full((3, 3), -0.8))
    assert "residual net's region is the more convex, as in Li" in L.curvature_map_caption({"plain": wild, "residual": smooth})
    assert "plain net's region is the more convex here, unlike Li et al." in L.curvature_map_caption(
        {"plain": smooth, "residual": wild})
    maps = {"residual": L.curvature_map_caption({"plain": wild, "residual": smooth}),
            "plain": L.curvature_map_caption({"plain": smooth, "residual": wild}),
            "one": L.curvature_map_caption({"plain": smooth})}
    assert maps["residual"].takeaway.startswith("Across the plane the residual net's region is the more convex")
    assert_captions(maps)


def test_scalar_output_net_is_refused():
    cfg = NetConfig(arch="mlp", depth=1, width=4, input_shape=(1,), classes=1)
    with pytest.raises(ConfigError):
        L.plane(build_model(cfg), torch.randn(8, 1), torch.zeros(8, dtype=torch.long), grid=3)


# --- command line --------------------------------------------------------------------


def test_cli_writes_json_and_html_and_refuses_bad_input(small_run, tmp_path, capsys):
    from resnet_viz.cli import main

    folder = save_run(small_run, str(tmp_path / "run"))  # a residual run, studied alone
    out, html = tmp_path / "l.json", tmp_path / "l.html"
    rc = main(["landscape", "--run", folder, "--grid", "5", "--span", "0.5", "--samples", "64",
               "--json", str(out), "--html", str(html), "--quiet"])
    assert rc == 0
    d = json.loads(out.read_text())
    s = d["surfaces"]["residual"]
    assert list(d["surfaces"]) == ["residual"]
    assert s["alphas"] == [-0.5, -0.25, 0.0, 0.25, 0.5] and s["betas"] == s["alphas"]
    assert len(s["loss"]) == 5 and len(s["loss"][0]) == 5
    assert s["center_loss"] == s["loss"][2][2]
    assert d["settings"]["normalization"] == "filter" and d["settings"]["samples"] == 64
    assert d["captions"]["view"] and os.path.getsize(html) > 1000
    rc = main(["landscape", "--run", folder, "--view", "1-d-slices", "--grid", "5", "--samples", "64", "--quiet",
               "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0 and d["settings"]["view"] == "1-D slices" and "Li et al. (§5)" in d["captions"]["view"]
    assert main(["landscape", "--run", folder, "--view", "interpolation", "--quiet"]) == 2
    assert "needs a plain net and its residual twin" in capsys.readouterr().err
    rc = main(["landscape", "--run", folder, "--view", "curvature", "--grid", "5", "--samples", "64", "--quiet",
               "--json", str(out), "--curvature-map", "--map-grid", "3", "--max-iterations", "10"])
    d = json.loads(out.read_text())
    curvature = d["curvature"]["residual"]
    assert rc == 0 and curvature["params"] == "weights" and curvature["iterations"] <= 10
    assert isinstance(curvature["converged"], bool) and curvature["residual_min"] >= 0
    assert curvature["n_params"] == sum(p.numel() for p in small_run.model.parameters() if p.dim() > 1)
    cm = d["maps"]["residual"]
    assert len(cm["ratio"]) == 3 and cm["ratio"][1][1] == pytest.approx(
        abs(cm["lambda_min"][1][1] / cm["lambda_max"][1][1]))
    assert cm["settings"]["tol"] == L.MAP_TOL
    for bad in (["--grid", "1"], ["--grid", "4"], ["--grid", "999"], ["--span", "0"], ["--map-grid", "4"],
                ["--hessian-params", "biases"], ["--view", "4-d"]):
        assert main(["landscape", "--run", folder, "--json", str(out), "--quiet", *bad]) == 2
    assert main(["landscape", "--run", str(tmp_path / "missing"), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "must be odd, got 4" in err and "does not exist" in err


def test_the_package_stays_the_home_of_its_classes_for_kept_results_and_the_api():
    """resnet_viz.views.landscape is a package of modules by concern (issue 33); a kept result names each dataclass
    by module and qualified name (resnet_viz.results.encode; the shipped results say "resnet_viz.views.landscape:
    Surface"), and the notebook API names the view after its settings' module: both stay the package's."""
    from resnet_viz import api
    from resnet_viz import results as R
    from resnet_viz.registry import view

    for cls in (L.Surface, L.CurvatureMap, L.Curvature, L.Interpolation, L.Trajectory, L.LandscapeSettings,
                L.LandscapeView):
        assert cls.__module__ == "resnet_viz.views.landscape", cls
        assert getattr(L, cls.__qualname__) is cls
    s = L.Surface(np.zeros(3), None, np.zeros(3), np.zeros(3), np.ones(3, dtype=bool))
    tree = R.encode(L.LandscapeView(L.LandscapeSettings(), 10, surfaces={"plain": s}), {})
    assert tree["class"] == "resnet_viz.views.landscape:LandscapeView"
    assert "resnet_viz.views.landscape:Surface" in json.dumps(tree)
    assert api.name_of(view("landscape")) == "landscape"
