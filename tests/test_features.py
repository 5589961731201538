"""Feature maps and attributions, checked against autograd, hand-written IG and Grad-CAM,
closed forms, and the scikit-learn digits' own 4x4 ink counting."""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_state, state_dict_copy
from PIL import Image

import resnet_viz.views.features as FT
from resnet_viz.data import load_dataset
from resnet_viz.models import ConfigError, NetConfig, build_model
from resnet_viz.views.features import (
    MAX_UPLOAD_BYTES,
    UploadError,
    block_outputs,
    block_statistics,
    default_baseline,
    explain,
    image_from_bytes,
    predictions,
    select_indices,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _logit(model, x, c):
    m = copy.deepcopy(model).eval()
    return m(x.unsqueeze(0))[0, c]


# --- attributions -----------------------------------------------------------------------


def test_integrated_gradients_completeness_and_oracle(default_pair_runs, digits):
    base = default_baseline(digits)
    for run in default_pair_runs:
        saved = state_dict_copy(run.model)
        for i in (0, 7, 123):
            x = digits.x_test[i]
            e = explain(run.model, x, methods=("ig",), baseline=base)
            a = e.attributions["ig"]
            with torch.no_grad():
                gap = float(_logit(run.model, x, e.target) - _logit(run.model, base, e.target))
            # Completeness (Sundararajan et al. 2017): Σ attributions = f(x) - f(x') up to the delta.
            assert a.output_gap == pytest.approx(gap, rel=1e-4, abs=1e-4)
            assert float(a.values.sum()) - gap == pytest.approx(a.convergence_delta, abs=1e-3)
            # Small at the default step count: within Sundararajan et al.'s 5% of f(x) - f(x') for the residual
            # net. The deep plain net's input gradients are shattered (Balduzzi et al. 2017): its path integral
            # converges slowly in the step count, so only a small absolute error is asked of it.
            assert abs(a.convergence_delta) < 0.05 * abs(gap) + (0.01 if run.net.skip else 0.2)
        # An independent Riemann sum (midpoint rule, 400 steps) of the path integral, against
        # IG at 400 steps (at 50 the ReLU kinks leave a few per cent of quadrature error).
        x = digits.x_test[7]
        a = explain(run.model, x, methods=("ig",), baseline=base, n_steps=400).attributions["ig"]
        alphas = (torch.arange(400, dtype=torch.float32) + 0.5) / 400
        path = (base + alphas.view(-1, 1, 1, 1) * (x - base)).requires_grad_(True)
        m = copy.deepcopy(run.model).eval()
        m(path)[:, a.target].sum().backward()
        oracle = (x - base) * path.grad.mean(0)
        # 1 % of the largest attribution (2 % for the deep plain net, whose shattered gradients make any
        # quadrature of the path integral converge more slowly).
        tol = (0.01 if run.net.skip else 0.02) * float(oracle.abs().max())
        assert torch.allclose(a.values, oracle, atol=tol)
        assert np.allclose(a.map, oracle.sum(0).numpy(), atol=4 * tol)
        assert_same_state(run.model, saved)


def test_saliency_is_absolute_input_gradient(default_pair_runs, digits):
    for run in default_pair_runs:
        x = digits.x_test[5]
        for target in (None, 3):
            e = explain(run.model, x, target=target, methods=("saliency",))
            c = e.prediction if target is None else target
            assert e.target == c
            xg = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(_logit(run.model, xg, c), xg)
            assert torch.allclose(e.attributions["saliency"].values, g.abs(), atol=1e-6, rtol=1e-5)
            assert np.allclose(e.attributions["saliency"].map, g.abs().amax(0).numpy(), atol=1e-6)
    # The probabilities are the eval-mode softmax.
    with torch.no_grad():
        ref = torch.softmax(copy.deepcopy(run.model).eval()(x.unsqueeze(0)), 1)[0]
    assert np.allclose(e.probabilities, ref.numpy(), atol=1e-6)
    assert e.prediction == int(ref.argmax())


def test_gradcam_matches_hand_computation(default_pair_runs, digits):
    run = default_pair_runs[1]
    x = digits.x_test[11]
    for block in (2, 7, 12):  # one block of each stage
        e = explain(run.model, x, methods=("gradcam",), block=block)
        a = e.attributions["gradcam"]
        m = copy.deepcopy(run.model).eval()
        h = m.stem(x.unsqueeze(0))
        for b in m.blocks[: block + 1]:
            h = b(h)
        acts = h.detach().requires_grad_(True)
        h = acts
        for b in m.blocks[block + 1:]:
            h = b(h)
        (g,) = torch.autograd.grad(m.head(h)[0, e.target], acts)
        weights = g.mean(dim=(2, 3), keepdim=True)  # Selvaraju et al. 2017, eq. 1
        cam = F.relu((weights * acts).sum(1, keepdim=True))  # eq. 2
        up = F.interpolate(cam, size=(8, 8), mode="bilinear", align_corners=False)[0, 0].detach()
        assert a.layer_shape == tuple(acts.shape[2:])
        assert a.block == block
        assert np.allclose(a.map, up.numpy(), atol=1e-5 * max(1.0, float(up.abs().max())))
    with pytest.raises(ConfigError):
        explain(run.model, x, methods=("gradcam",), block=15)


def test_bad_target_and_method(default_pair_runs, digits):
    run = default_pair_runs[1]
    with pytest.raises(ConfigError):
        explain(run.model, digits.x_test[0], target=10)
    with pytest.raises(ConfigError):
        explain(run.model, digits.x_test[0], methods=("lime",))


# --- activations ------------------------------------------------------------------------


def test_block_outputs_shapes_and_manual_pass(digits):
    cfg = NetConfig(depth=6, width=4)  # two blocks per stage
    model = build_model(cfg)
    model.train()  # the run's model may be in any mode: the view must use eval mode on a copy
    saved = state_dict_copy(model)
    x = digits.x_test[:5]
    outs, logits = block_outputs(model, x)
    assert [tuple(o.shape) for o in outs] == [(5, 4, 8, 8)] * 2 + [(5, 8, 4, 4)] * 2 + [(5, 16, 2, 2)] * 2
    ref = copy.deepcopy(model).eval()
    with torch.no_grad():
        h = ref.stem(x)
        for b, o in zip(ref.blocks, outs):
            h = b.out_act(b.branch(h) + b.scale * b.shortcut(h))  # y = relu(F(x) + x)
            assert torch.allclose(o, h, atol=1e-6)
        assert torch.allclose(logits, ref.head(h), atol=1e-6)
    assert model.training
    assert_same_state(model, saved)  # BN running statistics untouched


def test_block_statistics_closed_form():
    a = torch.tensor([[[1.0, 0.0], [2.0, -1.0]], [[3.0, 0.0], [0.0, -2.0]]])  # [N=2, 2, 2]
    b = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    s = block_statistics([a, b])
    vals = a.numpy().ravel()
    assert s.mean[0] == pytest.approx(vals.mean())
    assert s.std[0] == pytest.approx(vals.std())
    # Unit (0,1) is 0 for both inputs and unit (1,1) negative for both: 2 of 4 units dead.
    assert s.dead_fraction[0] == pytest.approx(0.5)
    assert s.mean[1] == pytest.approx(2.5) and s.dead_fraction[1] == 0.0
    assert s.std[1] == pytest.approx(np.std([1, 2, 3, 4]))


def test_mlp_fallback():
    cfg = NetConfig(arch="mlp", depth=3, width=8, input_shape=(2,), classes=2)
    model = build_model(cfg)
    x = torch.tensor([0.3, -1.2])
    e = explain(model, x, methods=("saliency", "ig"))
    assert e.attributions["saliency"].map.shape == (1, 2)
    ig = e.attributions["ig"]
    with torch.no_grad():
        m = copy.deepcopy(model).eval()
        gap = float(m(x[None])[0, e.target] - m(torch.zeros(1, 2))[0, e.target])
    assert float(ig.values.sum()) - gap == pytest.approx(ig.convergence_delta, abs=1e-4)
    with pytest.raises(ConfigError, match="image"):
        explain(model, x, methods=("gradcam",))
    outs, _ = block_outputs(model, torch.randn(4, 2))
    assert [tuple(o.shape) for o in outs] == [(4, 8)] * 3


def test_select_indices():
    y = torch.tensor([0, 1, 1, 2, 1])
    pp = torch.tensor([0, 1, 2, 2, 1])
    pr = torch.tensor([0, 1, 1, 1, 1])
    assert select_indices(y) == [0, 1, 2, 3, 4]
    assert select_indices(y, label=1) == [1, 2, 4]
    assert select_indices(y, pp, pr, misclassified=True) == [2, 3]
    assert select_indices(y, pp, pr, label=1, misclassified=True) == [2]


def test_predictions_match_accuracy(default_pair_runs, digits):
    run = default_pair_runs[1]
    pred = predictions(run.model, digits.x_test)
    acc = float((pred == digits.y_test).double().mean())
    assert acc == pytest.approx(run.history.test_accuracy, abs=1e-9)


# --- uploads ----------------------------------------------------------------------------


def _png(arr: np.ndarray, mode=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _digit_bitmap() -> np.ndarray:
    bits = np.zeros((32, 32), dtype=np.uint8)
    bits[4:28, 14:19] = 1  # a "1"
    bits[4:8, 10:14] = 1
    bits[25:28, 9:24] = 1
    return bits


def test_upload_matches_digits_ink_counting(digits):
    bits = _digit_bitmap()
    # The digits' preprocessing: count the on pixels in each 4x4 cell of a 32x32 bitmap (0..16).
    counts = bits.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32)
    up = image_from_bytes(_png(bits * 255), digits)
    assert up.raw.shape == (1, 8, 8)
    assert np.allclose(up.raw[0], counts, atol=1e-4)
    mean, std = digits.mean[0], digits.std[0]
    assert torch.allclose(up.x, torch.from_numpy((counts[None] - mean) / std), atol=1e-4)
    assert not up.looks_inverted
    # Black strokes on white paper, RGB JPEG-free: inverting gives the same input.
    dark = np.stack([(1 - bits) * 255] * 3, axis=-1).astype(np.uint8)
    inv = image_from_bytes(_png(dark), digits, invert=True)
    assert np.allclose(inv.raw, up.raw, atol=1e-4)
    assert image_from_bytes(_png(dark), digits).looks_inverted
    assert any("invert" in s for s in inv.steps) and any("grayscale" in s for s in inv.steps)


def test_upload_other_formats_and_aspect(digits):
    rgb = np.zeros((40, 80, 3), dtype=np.uint8)
    rgb[10:30, 30:50] = 255
    for fmt in ("JPEG", "BMP", "GIF", "WEBP", "TIFF"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt)
        up = image_from_bytes(buf.getvalue(), digits)
        assert up.x.shape == (1, 8, 8) and torch.isfinite(up.x).all()
        # Padded to a square, the bright square stays in the middle rows and columns.
        assert up.raw[0, 3:5, 3:5].mean() > 12 and up.raw[0, 0].max() < 1
    cropped = image_from_bytes(_png(rgb), digits, crop=True)
    assert cropped.raw[0, 0].max() < 1 and cropped.raw[0, 3:5, 3:5].min() > 15  # fills the frame


def test_upload_errors_are_clear(digits):
    with pytest.raises(UploadError, match="empty"):
        image_from_bytes(b"", digits)
    with pytest.raises(UploadError, match="not an image"):
        image_from_bytes(b"name,value\n1,2\n", digits)
    with pytest.raises(UploadError, match="MB"):
        image_from_bytes(b"\x89PNG" + b"\0" * MAX_UPLOAD_BYTES, digits)
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, format="PNG")  # 48 megapixels in a small file
    assert len(buf.getvalue()) < MAX_UPLOAD_BYTES
    with pytest.raises(UploadError, match="megapixels"):
        image_from_bytes(buf.getvalue(), digits)
    good = _png(_digit_bitmap() * 255)
    with pytest.raises(UploadError):
        image_from_bytes(good[: len(good) // 2], digits)  # truncated
    with pytest.raises(UploadError, match="image dataset"):
        image_from_bytes(good, load_dataset("moons"))
    assert issubclass(UploadError, ValueError)


# --- command line -----------------------------------------------------------------------


def test_cli_json_and_png(default_pair_runs, digits, tmp_path):
    from resnet_viz.cli import main
    from resnet_viz.train import save_run

    folder = save_run(default_pair_runs[1], str(tmp_path / "run"))
    out = tmp_path / "ig.json"
    png = tmp_path / "ig.png"
    assert main(["features", "--run", folder, "--index", "4", "--json", str(out), "--png", str(png), "--quiet"]) == 0
    d = json.loads(out.read_text())
    assert d["input"] == {"source": "digits test split", "index": 4, "label": int(digits.y_test[4])}
    maps = {(a["method"], a["net"]): a for a in d["attributions"]}
    assert set(maps) == {(m, "residual") for m in ("saliency", "ig", "gradcam")}  # one run: that net alone
    ig = maps["ig", "residual"]
    assert np.array(ig["map"]).shape == (8, 8)
    probabilities = d["probabilities"]["residual"]
    assert len(probabilities) == 10 and d["prediction"]["residual"] == int(np.argmax(probabilities))
    assert sum(map(sum, ig["map"])) - ig["output_gap"] == pytest.approx(ig["convergence_delta"], abs=1e-3)
    assert d["captions"]["ig"].startswith("Integrated Gradients' attributions add up to f(x) − f(baseline) within")
    assert "Integrated Gradients' completeness: residual net" in d["captions"]["ig"]
    img = Image.open(png)
    assert img.format == "PNG" and img.size == (256, 256)
    out2 = tmp_path / "cam.json"
    assert main(["features", "--run", folder, "--index", "4", "--cam-block", "7", "--json", str(out2), "--quiet"]) == 0
    cam = {a["method"]: a for a in json.loads(out2.read_text())["attributions"]}["gradcam"]
    assert cam["block"] == 7 and cam["layer_shape"] == [4, 4] and cam["convergence_delta"] is None
    assert min(map(min, cam["map"])) >= 0
    assert main(["features", "--run", folder, "--index", "360"]) == 2
    assert main(["features", "--run", folder, "--cam-block", "0"]) == 2
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["features", "--run", folder, "--image", str(bad)]) == 2
    assert main(["features", "--run", str(tmp_path / "nope")]) == 2


def test_statistics_caption_follows_the_measured_spreads_both_ways():
    from resnet_viz.views.features import BlockStats, statistics_caption

    growing = {"mean": [0.0] * 4, "std": [1.0, 1.5, 2.2, 3.0], "dead_fraction": [0.0] * 4}
    level = BlockStats(mean=[0.0] * 4, std=[1.0, 1.1, 0.95, 1.05], dead_fraction=[0.0] * 4)
    usual = statistics_caption(level, growing)
    assert "residual: 1 at block 1, 3 at block 4 (×3, 100 % of the steps up): it grows block by block" in usual
    assert usual.takeaway == ("Through the blocks, the residual net's spread grows block by block (×3); the plain "
                              "net's stays at about the same scale (×1.1).")
    assert "plain: 1 at block 1, 1.05 at block 4" in usual and "stays at about the same scale" in usual
    assert "As expected" in usual
    flipped = statistics_caption(growing, level)
    assert "The opposite of the usual picture" in flipped and "As expected" not in flipped
    same = statistics_caption(level, level)
    assert "do not differ in the usual way" in same
    shrinking = statistics_caption(level, {"std": [3.0, 2.0, 1.0]})
    assert "residual" in shrinking and "it shrinks" in shrinking and "As expected" not in shrinking
    short = statistics_caption({"std": [1.0]}, {"std": [0.0, 1.0]})
    assert short.takeaway == ("Through the blocks, the residual net's spread shows no trend (a constant first block); "
                              "the plain net's shows no trend (too few blocks).")


def test_feature_study_is_the_view_of_both_nets_for_one_input(default_pair_runs, digits):
    # The page's one computation: block outputs and probabilities of each net, statistics over the input
    # or the test split, and every attribution; checked against a hand-run forward pass and IG completeness.
    plain, residual = default_pair_runs
    runs = {"plain": plain, "residual": residual}
    x = digits.x_test[3]
    view = FT.feature_study(runs, x, FT.FeatureSettings(target=5, steps=100, over="the whole test split"), data=digits)
    assert view.methods == FT.METHODS and set(view.attributions) == {(m, k) for m in FT.METHODS for k in runs}
    for k, run in runs.items():
        assert len(view.outputs[k]) == len(run.model.blocks)
        with torch.no_grad():
            p = torch.softmax(run.model.eval()(x.unsqueeze(0)), 1)[0]
        assert np.allclose(view.probabilities[k], p.numpy(), atol=1e-5)
        want = FT.block_statistics(FT.block_outputs(run.model, digits.x_test)[0]).to_dict()
        assert view.stats[k] == want  # over the whole test split, as asked
        ig = view.attributions["ig", k]
        assert ig.target == 5 and abs(float(ig.values.sum()) - ig.output_gap) <= abs(ig.convergence_delta) + 1e-4
    assert view.statistics_caption() == FT.statistics_caption(view.stats["plain"], view.stats["residual"])
    with pytest.raises(ConfigError, match="Grad-CAM block"):
        FT.feature_study(runs, x, FT.FeatureSettings(cam_block=99), data=digits)
    assert FT.FeatureSettings(block=3).computation() == FT.FeatureSettings(block=1).computation()  # display only


def test_attribution_figure_says_why_a_map_is_dark_and_grad_cams_resolution():
    """Issue 32: the plain net's saliency was all black on the shared scale, unexplained; Grad-CAM's coarse
    cells lit an empty corner of the digit with no word of its resolution."""
    from resnet_viz.plots import features as P

    raw = np.zeros((1, 8, 8), dtype=np.float32)
    raw[0, 2:6, 3:5] = 16
    small = np.full((8, 8), 0.01, dtype=np.float32)
    fig = P.attribution_figure(small, raw, 16, False, 1.0, "plain: class 3")
    notes = [a.text for a in fig.layout.annotations]
    assert any("1/100 of the shared scale" in t and "dark" in t for t in notes)
    assert fig.data[0].zmax == 1.0  # the scale stays shared: the note explains the dark map
    bright = P.attribution_figure(small * 50, raw, 16, False, 1.0, "residual: class 3")
    assert not bright.layout.annotations
    cam = P.attribution_figure(small * 50, raw, 16, False, 1.0, "residual: class 3", cells=(2, 2), block=15)
    assert "2×2 cells at block 15" in cam.layout.title.text
    assert len(cam.layout.shapes) == 2  # the cells' edges: one line across, one down, over the image only
    assert all(sh.xref == "x" and sh.yref == "y" and min(sh.y0, sh.y1) >= -0.5 and max(sh.y0, sh.y1) <= 7.5
               for sh in cam.layout.shapes)
