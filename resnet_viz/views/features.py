"""What the plain and residual nets see: block activations and captum attributions.

Activations are read at every block's output, after the addition and the
post-addition ReLU (y = relu(F(x) + λx) in He et al. 2016's original block), with
forward hooks on an eval-mode copy of the model, so a shared run is never touched.
Per-block statistics (mean, std, fraction of dead units) show how the signal
propagates through a plain stack versus a residual one.

Attributions explain one logit (the predicted class, or a chosen one) with captum:

* Saliency (Simonyan et al. 2014): |∂f_c/∂x|, the absolute input gradient.
* Integrated Gradients (Sundararajan et al. 2017): (x - x') · ∫ ∂f_c(x' + α(x - x'))/∂x dα,
  which satisfies completeness, Σ attributions = f_c(x) - f_c(x'); captum reports
  the gap as the convergence delta.
* Grad-CAM (Selvaraju et al. 2017) at a block output: relu(Σ_k w_k A_k) with w_k the
  spatial mean of ∂f_c/∂A_k, upsampled to the input with
  `LayerAttribution.interpolate`.

Uploaded images (`image_from_bytes`) are converted to the dataset's channels, size
and value range, and normalised like the dataset; every step is listed so the page
can show the conversion.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..captions import Caption, takeaway_of
from ..data import Dataset, load_dataset
from ..models import MAX_DEPTH, ConfigError
from ..numbers import num, pct, times
from ..plots.features import attribution_image
from ..progress import notify
from ..settings import check_all, setting
from ..train import read_run_file, refuse_diverged
from ..util import eval_copy

METHODS = ("saliency", "ig", "gradcam")
METHOD_NAMES = {"saliency": "Saliency", "ig": "Integrated Gradients", "gradcam": "Grad-CAM"}
# Sundararajan et al. 2017 (§3) suggest 20-300 steps, enough to bring the completeness gap
# within 5% of f(x) - f(x'). ReLU nets are only piecewise smooth along the path: on the
# digits nets 50 Gauss-Legendre steps left up to 18% on some inputs, 200 steps under 4%.
DEFAULT_IG_STEPS = 200
MAX_IG_STEPS = 1000

# Uploads: refuse what would cost more than a lab needs (bytes before decoding, pixels
# before the image is decompressed: a small PNG can hold a huge image).
MAX_UPLOAD_BYTES = 20 * 1024**2
MAX_UPLOAD_PIXELS = 40_000_000
# A larger upload is downscaled while it is decoded to at most this many pixels a side (JPEG
# at 1/2, 1/4 or 1/8 scale by the decoder, then an integer box reduction), so that a photo
# of 40 megapixels costs tens of MB, not GBs; the nets' inputs are 8 to 32 pixels a side.
WORK_SIDE = 1024
# Raw value range of each dataset's pixels before normalisation (load_dataset scales
# torchvision images to 0..1; scikit-learn's digits count ink in 4x4 cells, 0..16).
RAW_MAX = {"digits": 16.0}


class UploadError(ValueError):
    """An uploaded file that cannot be used as an input; the message says why."""


# --- models and inputs ----------------------------------------------------------------


def _batch(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`x` as a float batch: one input of the model's shape gets a batch dimension."""
    shape = tuple(model.config.input_shape) if hasattr(model, "config") else None
    x = torch.as_tensor(x, dtype=torch.float32)
    if shape is not None and tuple(x.shape) == shape:
        x = x.unsqueeze(0)
    if shape is not None and tuple(x.shape[1:]) != shape:
        raise ConfigError(f"input of shape {tuple(x.shape[1:])} does not fit a net expecting {shape}")
    return x


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Softmax probabilities [N, classes] of an eval-mode copy of `model` for inputs `x`."""
    net = eval_copy(model, device="cpu", frozen=False)
    x = _batch(net, x)
    out = torch.cat([net(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    return torch.softmax(out, dim=1)


def predictions(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted class of every input in `x` (eval mode), as int64 [N]."""
    return predict_proba(model, x).argmax(1)


def select_indices(y_true, pred_plain=None, pred_residual=None, label: int | None = None,
                   misclassified: bool = False) -> list[int]:
    """Test-split indices matching the input picker's filters.

    label:          keep inputs whose true class is `label` (None: every class).
    misclassified:  keep inputs that the plain or the residual net gets wrong.
    """
    y = torch.as_tensor(y_true)
    keep = torch.ones(len(y), dtype=torch.bool)
    if label is not None:
        keep &= y == int(label)
    if misclassified:
        if pred_plain is None or pred_residual is None:
            raise ValueError("filtering by misclassified needs both nets' predictions")
        keep &= (torch.as_tensor(pred_plain) != y) | (torch.as_tensor(pred_residual) != y)
    return torch.nonzero(keep).flatten().tolist()


# --- activations ------------------------------------------------------------------------


@torch.no_grad()
def block_outputs(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Every block's output (after the addition and its ReLU) and the logits, for inputs `x`.

    Forward hooks on each `model.blocks[i]` of an eval-mode copy record the outputs:
    a list with one tensor per block, [N, C, H, W] for a CNN (channels and size of
    that block's stage) or [N, width] for an MLP. `x` is one input or a batch.
    """
    net = eval_copy(model, device="cpu", frozen=False)
    x = _batch(net, x)
    outputs: list[torch.Tensor] = []
    handles = [b.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach().clone()))
               for b in net.blocks]
    try:
        logits = net(x)
    finally:
        for h in handles:
            h.remove()
    return outputs, logits


@dataclass
class BlockStats:
    """Per-block statistics of the block outputs (one entry per block, in order).

    mean, std:       over every unit (channel x position, or feature) and input.
    dead_fraction:   fraction of units that are inactive (<= 0, i.e. zero after a
                     ReLU) for every input given; for one input, the inactive share.
    """

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    dead_fraction: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain-JSON dictionary."""
        return {"mean": self.mean, "std": self.std, "dead_fraction": self.dead_fraction}


def block_statistics(outputs: list[torch.Tensor]) -> BlockStats:
    """Mean, std and dead fraction of each block output (see `BlockStats`).

    `outputs` is what `block_outputs` returns: one [N, ...] tensor per block.
    """
    stats = BlockStats()
    for a in outputs:
        a = a.double()
        stats.mean.append(float(a.mean()))
        stats.std.append(float(a.std(unbiased=False)))
        stats.dead_fraction.append(float((a <= 0).all(dim=0).double().mean()))
    return stats


GROWS = 1.5  # last/first spread at least this, with most steps up: "grows block by block"
IG_COMPLETE = 0.05  # Sundararajan et al.'s bound on IG's convergence delta, as a share of f(x) − f(baseline)
STEADY = 1.5  # last/first spread within [1/STEADY, STEADY]: "stays at about the same scale"


def _spread_trend(std: list[float]) -> tuple[float, float, str]:
    """(last/first ratio, share of block-to-block steps that increase, verdict) of a spread curve."""
    if len(std) < 2:
        return float("nan"), float("nan"), "has too few blocks to show a trend"
    if std[0] <= 0:
        return float("nan"), float("nan"), "starts from a constant first block, so no trend can be read"
    ratio = std[-1] / std[0]
    ups = sum(b > a for a, b in zip(std, std[1:])) / (len(std) - 1)
    if ratio >= GROWS and ups >= 2 / 3:
        verdict = "grows block by block"
    elif 1 / STEADY <= ratio <= STEADY:
        verdict = "stays at about the same scale"
    elif ratio > 1:
        verdict = "grows, but not steadily"
    else:
        verdict = "shrinks"
    return ratio, ups, verdict


_SHORT_TREND = {"has too few blocks to show a trend": "shows no trend (too few blocks)",
                "starts from a constant first block, so no trend can be read": "shows no trend (a constant first block)",
                "overflows": "overflows (the net diverged)"}


def statistics_caption(plain: BlockStats | dict, residual: BlockStats | dict) -> Caption:
    """Caption of the block-statistics figure from the measured spreads (std of each block's output).

    He et al. 2016's identity shortcuts add every block's branch to what came before, so a
    residual net's activations tend to grow with depth (He et al. 2016b eq. 4: x_L = x_l + Σ F),
    while in a plain BN net each block re-normalises; this says what the two nets measured here
    do (first and last block's spread, share of steps that increase) and whether that matches. The takeaway:
    each net's trend with its last/first ratio, the residual net first.
    """
    def std_of(s):
        return list(s["std"] if isinstance(s, dict) else s.std)

    parts, verdicts, clauses = [], {}, {}
    for label, s in (("plain", plain), ("residual", residual)):
        std = std_of(s)
        if std and not all(math.isfinite(v) for v in std):
            verdicts[label] = "overflows"
            clauses[label] = f"the {label} net's {_SHORT_TREND['overflows']}"
            parts.append(f"{label}: not finite from block {next(i for i, v in enumerate(std) if not math.isfinite(v)) + 1} "
                         "on (the net diverged in training)")
            continue
        ratio, ups, verdict = _spread_trend(std)
        verdicts[label] = verdict
        ratio_text = f" ({times(ratio)})" if math.isfinite(ratio) else ""
        clauses[label] = f"the {label} net's {_SHORT_TREND.get(verdict, verdict)}{ratio_text}"
        if std:
            trend = f" ({times(ratio)}, {pct(ups, 0)} of the steps up)" if math.isfinite(ratio) else ""
            parts.append(f"{label}: {num(std[0])} at block 1, {num(std[-1])} at block {len(std)}{trend}: it {verdict}")
    takeaway = ("Through the blocks, " + clauses["residual"].replace(" net's ", " net's spread ", 1)
                + "; " + clauses["plain"] + ".")
    text = "Mean, spread and share of dead (≤ 0) units of each block's output against depth. Spread — " + "; ".join(parts) + ". "
    if verdicts.get("residual") == "grows block by block" and verdicts.get("plain") != "grows block by block":
        text += ("As expected: the residual net adds every block's branch to what came before, while batch norm "
                 "resets the plain net's scale at every block.")
    elif verdicts.get("residual") != "grows block by block" and verdicts.get("plain") == "grows block by block":
        text += "The opposite of the usual picture: here the plain net's spread grows and the residual net's does not."
    else:
        text += ("Here the two nets' spreads do not differ in the usual way (a residual net's growing with depth, a "
                 "plain BN net's staying level).")
    return Caption(takeaway, text)


# --- attributions -----------------------------------------------------------------------


@dataclass
class Attribution:
    """One attribution map for one input and one target logit.

    values:             input-shaped attributions ([C, H, W] or [features]).
    map:                2-D array to draw over the input: [H, W] for images (saliency:
                        max over channels of |gradient|, Simonyan et al. 2014 §3.1;
                        IG: sum over channels, which keeps completeness; Grad-CAM:
                        the upsampled map), [1, features] for vector inputs.
    signed:             True when the map has meaningful signs (IG).
    convergence_delta:  IG only: Σ attributions - (f_c(x) - f_c(baseline)).
    output_gap:         IG only: f_c(x) - f_c(baseline), to judge the delta against.
    block:              Grad-CAM only: index (0-based) of the block whose output is used.
    layer_shape:        Grad-CAM only: spatial size of that block output before upsampling.
    """

    method: str
    target: int
    values: torch.Tensor
    map: np.ndarray
    signed: bool
    convergence_delta: float | None = None
    output_gap: float | None = None
    block: int | None = None
    layer_shape: tuple[int, ...] | None = None


def _to_map(values: torch.Tensor, method: str) -> np.ndarray:
    v = values.detach()
    if v.dim() == 1:  # vector inputs (2-D synthetic data): one row of features
        return v.unsqueeze(0).numpy()
    if method == "saliency":
        return v.abs().amax(dim=0).numpy()
    return v.sum(dim=0).numpy()


def _attribute(net: nn.Module, x: torch.Tensor, method: str, target: int, block: int | None,
               n_steps: int, baseline: torch.Tensor | None) -> Attribution:
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

    if method == "saliency":
        values = Saliency(net).attribute(x, target=target, abs=True)[0]
        return Attribution(method, target, values, _to_map(values, method), signed=False)
    if method == "ig":
        if not 2 <= n_steps <= MAX_IG_STEPS:
            raise ConfigError(f"integrated-gradients steps must be from 2 to {MAX_IG_STEPS}, got {n_steps}")
        base = torch.zeros_like(x) if baseline is None else _batch(net, baseline)
        values, delta = IntegratedGradients(net).attribute(
            x, baselines=base, target=target, n_steps=n_steps, return_convergence_delta=True)
        with torch.no_grad():
            gap = float(net(x)[0, target] - net(base)[0, target])
        values = values[0].detach()
        return Attribution(method, target, values, _to_map(values, method), signed=True,
                           convergence_delta=float(delta[0]), output_gap=gap)
    if method == "gradcam":
        if x.dim() != 4:
            raise ConfigError("Grad-CAM needs image data: block outputs of an MLP have no spatial "
                              "layout to map back onto the input. Use saliency or integrated gradients.")
        n = len(net.blocks)
        b = n - 1 if block is None else int(block)
        if not 0 <= b < n:
            raise ConfigError(f"block must be from 1 to {n}, got {b + 1}")
        cam = LayerGradCam(net, net.blocks[b]).attribute(x, target=target, relu_attributions=True)
        up = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
        values = up[0].detach()
        return Attribution(method, target, values, values[0].numpy(), signed=False, block=b,
                           layer_shape=tuple(cam.shape[2:]))
    raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


@dataclass
class Explanation:
    """A prediction for one input with its attributions (see `explain`)."""

    probabilities: list[float]
    prediction: int
    target: int
    attributions: dict[str, Attribution]


def explain(model: nn.Module, x: torch.Tensor, target: int | None = None,
            methods: tuple[str, ...] = METHODS, block: int | None = None,
            n_steps: int = DEFAULT_IG_STEPS, baseline: torch.Tensor | None = None) -> Explanation:
    """Prediction and captum attributions of one input, on an eval-mode copy of `model`.

    target:    class whose logit is explained (default: the predicted class).
    methods:   any of "saliency", "ig", "gradcam" (Grad-CAM needs image data).
    block:     0-based block whose output Grad-CAM uses (default: the last block).
    n_steps:   integration steps of IG (Gauss-Legendre, captum's default).
    baseline:  IG baseline x' (default zeros: the dataset mean after normalisation;
               `default_baseline` gives a black image for image data).
    """
    net = eval_copy(model, device="cpu")  # frozen: only input gradients are needed
    x = _batch(net, x)
    if len(x) != 1:
        raise ConfigError("explain takes one input at a time")
    with torch.no_grad():
        probs = torch.softmax(net(x), dim=1)[0]
    pred = int(probs.argmax())
    classes = probs.numel()
    tgt = pred if target is None else int(target)
    if not 0 <= tgt < classes:
        raise ConfigError(f"target class must be from 0 to {classes - 1}, got {tgt}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {unknown[0]!r}")
    x = x.detach().clone().requires_grad_(True)  # captum would warn and set it itself
    attrs = {m: _attribute(net, x, m, tgt, block, n_steps, baseline) for m in methods}
    return Explanation(probs.tolist(), pred, tgt, attrs)


def default_baseline(data: Dataset) -> torch.Tensor:
    """IG baseline: a black image (raw value 0, normalised like the data) for image data,
    the origin (the training mean) for vector data."""
    shape = data.input_shape
    if not data.is_image:
        return torch.zeros(shape)
    mean = torch.tensor(data.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(data.std, dtype=torch.float32).view(-1, 1, 1)
    return ((torch.zeros(shape) - mean) / std).float()


# --- uploaded images --------------------------------------------------------------------


@dataclass
class UploadedImage:
    """An uploaded image converted to a dataset's input.

    original:       the decoded upload as RGB uint8 [h, w, 3] (downscaled to at most
                    256 px for display).
    raw:            the converted image in the dataset's raw units [C, H, W] (digits: 0..16).
    x:              `raw` normalised like the dataset: the net's input.
    steps:          the conversion, one human-readable step per entry.
    looks_inverted: True when the image is mostly bright before any inversion, i.e.
                    probably dark strokes on a light background (digits are the opposite).
    """

    original: np.ndarray
    raw: np.ndarray
    x: torch.Tensor
    steps: list[str]
    looks_inverted: bool


def raw_max(data: Dataset) -> float:
    """Largest raw pixel value of `data` before normalisation (digits: 16, others: 1)."""
    return RAW_MAX.get(data.name, 1.0)


def _decode_small(im, side: int):
    """Decode `im` (opened, not loaded) at most `side` pixels a side: (image, whether it was reduced).

    A JPEG is decoded at 1/2, 1/4 or 1/8 scale by the decoder (Pillow's `draft`: the
    full-size image is never held); any image still larger is reduced by an integer factor
    with a box filter (an area average; Pillow premultiplies alpha for it), before any
    conversion or copy is made.
    """
    w, h = im.size
    if max(w, h) <= side:
        im.load()
        return im, False
    if im.format == "JPEG":
        scale = side / max(w, h)
        im.draft(None, (max(math.ceil(w * scale), 1), max(math.ceil(h * scale), 1)))
    im.load()
    factor = math.ceil(max(im.size) / side)
    if factor > 1:
        try:
            im = im.reduce(factor)
        except ValueError:  # modes reduce() does not take (palette, 1-bit, 16-bit): convert first
            im = im.convert("RGBA").reduce(factor)
    return im, True


def image_from_bytes(blob: bytes, data: Dataset, invert: bool = False, crop: bool = False,
                     max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS) -> UploadedImage:
    """Decode an uploaded image (any format Pillow reads) and convert it to `data`'s input.

    Steps: an image over WORK_SIDE pixels a side downscaled while decoding (an area
    average; JPEG by the decoder itself), transparency composited on white, converted to the dataset's channels
    (grayscale or RGB), optionally inverted (digits are white strokes on black) and
    cropped to the strokes, padded to the input's aspect ratio with the border
    colour, resized with a box filter (an area average, how the digits' 8x8 counts
    were made from 32x32 bitmaps), scaled to the dataset's raw range (digits: 0..16)
    and normalised with the training mean and std.

    Raises UploadError for an empty file, a file over `max_bytes`, something that is
    not an image, a broken image, or one over `max_pixels`, and for non-image data.
    """
    if not data.is_image:
        raise UploadError(f"{data.name} is not image data: uploads need an image dataset (e.g. digits)")
    rgb, steps = _decode_upload(_open_upload(blob, max_bytes, max_pixels))
    original = rgb.copy()
    original.thumbnail((256, 256))
    _, height, width = data.input_shape
    img, looks_inverted = _to_channels(rgb, data, invert, steps)
    fill = _border_colour(img)
    if crop:
        img = _crop_to_strokes(img, steps)
    img = _pad_to_aspect(img, height, width, crop, fill, steps)
    raw, x = _to_input(img, data, steps)
    return UploadedImage(np.asarray(original), raw, x, steps, looks_inverted)


def _open_upload(blob: bytes, max_bytes: int, max_pixels: int):
    """The uploaded bytes opened as a Pillow image (its header read, nothing decoded yet); UploadError for an
    empty file, one over `max_bytes`, one Pillow cannot read, or an image over `max_pixels`."""
    from PIL import Image, UnidentifiedImageError

    if blob is None or len(blob) == 0:
        raise UploadError("the file is empty")
    if len(blob) > max_bytes:
        raise UploadError(f"the file is {len(blob) / 1024**2:.1f} MB, over the limit of "
                          f"{max_bytes / 1024**2:.0f} MB: upload a smaller image")
    try:
        im = Image.open(io.BytesIO(blob))
    except UnidentifiedImageError:
        raise UploadError("the file is not an image Pillow can read (use PNG, JPEG, GIF, BMP, TIFF or WebP)") from None
    except Exception as e:  # Pillow's decompression-bomb guard and other decoder errors
        raise UploadError(f"the image cannot be read: {e}") from None
    w, h = im.size
    if w * h > max_pixels or w < 1 or h < 1:
        raise UploadError(f"the image is {w}×{h} pixels, over the limit of {max_pixels / 1e6:.0f} megapixels: "
                          f"upload a smaller image")
    return im


def _decode_upload(im) -> tuple:
    """(RGB image, steps so far): `im`'s first frame decoded at most WORK_SIDE pixels a side (`_decode_small`),
    turned as its EXIF orientation says, and its transparent parts composited on white; UploadError when the
    data turn out truncated or corrupt."""
    from PIL import Image, ImageOps

    (w, h), fmt, mode = im.size, im.format or "image", im.mode
    try:
        im.seek(0)  # animated formats: the first frame
        im, reduced = _decode_small(im, WORK_SIDE)
        im = ImageOps.exif_transpose(im)
        rgba = im.convert("RGBA")
    except Exception as e:  # truncated or corrupt data shows up when decoding
        raise UploadError(f"the image is broken and cannot be decoded ({fmt}): {e}") from None
    steps = [f"{fmt} {w}×{h}, mode {mode}"]
    if reduced:
        steps.append(f"downscaled while decoding to {im.width}×{im.height} (area average)")
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        steps.append("transparent parts composited on white")
    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat.alpha_composite(rgba)
    return flat.convert("RGB"), steps


def _to_channels(rgb, data: Dataset, invert: bool, steps: list[str]) -> tuple:
    """(image in `data`'s channels, whether it looks inverted: mostly bright, i.e. dark strokes on light paper):
    grayscale for one channel, RGB for three, inverted when asked (the digits are light strokes on dark)."""
    from PIL import ImageOps

    channels = data.input_shape[0]
    img = rgb.convert("L") if channels == 1 else rgb
    if channels == 1:
        steps.append("converted to grayscale")
    elif channels != 3:
        raise UploadError(f"{data.name} has {channels} channels; uploads support 1 (grayscale) or 3 (RGB)")
    looks_inverted = float(np.asarray(img.convert("L"), dtype=np.float32).mean()) > 127.5
    if invert:
        img = ImageOps.invert(img)
        steps.append("inverted (dark strokes on light → light strokes on dark)")
    return img, looks_inverted


def _border_colour(img) -> tuple[int, ...]:
    """The background: the median colour of the image's border (before any crop), for padding."""
    arr = np.asarray(img)
    edge = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return tuple(int(v) for v in np.median(edge.reshape(len(edge), -1), axis=0))


def _crop_to_strokes(img, steps: list[str]):
    """`img` cut to the box of the pixels whose gray level differs by more than 64 from the border's median (as it
    is when nothing stands out)."""
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    border = np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]))
    ys, xs = np.nonzero(np.abs(gray - border) > 64)
    if len(ys):
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        img = img.crop(box)
        steps.append(f"cropped to the strokes ({box[2] - box[0]}×{box[3] - box[1]})")
    return img


def _pad_to_aspect(img, height: int, width: int, crop: bool, fill: tuple[int, ...], steps: list[str]):
    """`img` centred on a canvas of the input's aspect ratio filled with the border colour, so strokes are not
    stretched; after a crop, with the datasets' empty margin (the strokes fill the central 3/4)."""
    from PIL import Image

    iw, ih = img.size
    if crop:
        # Leave an empty margin like the datasets' (digits: strokes in the central 6x6 of 8x8;
        # MNIST: a 20x20 box in 28x28): the strokes fill the central 3/4, and the canvas is a
        # whole number k of pixels per target pixel, so the margin cells stay clean.
        k = max(math.ceil(ih / max(round(0.75 * height), 1)), math.ceil(iw / max(round(0.75 * width), 1)))
        tw, th = width * k, height * k
    else:
        tw = max(iw, math.ceil(ih * width / height))
        th = max(ih, math.ceil(iw * height / width))
    if (tw, th) != (iw, ih):
        canvas = Image.new(img.mode, (tw, th), fill[0] if img.mode == "L" else fill)
        canvas.paste(img, ((tw - iw) // 2, (th - ih) // 2))
        img = canvas
        steps.append(f"padded to {tw}×{th} with the border colour")
    return img


def _to_input(img, data: Dataset, steps: list[str]) -> tuple[np.ndarray, torch.Tensor]:
    """(raw image in the dataset's range, the net's input): each channel resized to the input's size with a box
    filter in floating point (an area average not rounded to 8 bits, as the digits' 8x8 counts were made from
    32x32 bitmaps), scaled 0..255 → the raw range, normalised with the training split's mean and std."""
    from PIL import Image

    _, height, width = data.input_shape
    planes = [np.asarray(band.convert("F").resize((width, height), Image.Resampling.BOX), dtype=np.float32)
              for band in img.split()]
    steps.append(f"resized to {width}×{height} (box filter: area average)")
    top = raw_max(data)
    raw = np.stack(planes) * (top / 255.0)
    steps.append(f"scaled 0..255 → 0..{top:g}")
    mean = np.asarray(data.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(data.std, dtype=np.float32).reshape(-1, 1, 1)
    x = torch.from_numpy(((raw - mean) / std).astype(np.float32))
    steps.append("normalised with the training split's mean and std")
    return raw, x


# --- the view: one computation for the page and the CLI -------------------------------------------

OVER = ("this input", "the whole test split")


@dataclass(frozen=True)
class FeatureSettings:
    """Everything the feature-map view computes for one input (besides the input itself).

    target: the class whose logit the attributions explain (None: each net's predicted class);
    cam_block: 1-based block whose output Grad-CAM uses (None: the last); steps: Integrated
    Gradients steps; over: block statistics of "this input" or "the whole test split";
    block: the 1-based block whose channels are drawn (it changes no number).
    """

    # The page draws `target`, `cam_block` and `block` itself: their options come from the trained pair (its
    # classes, its blocks); `steps` and `over` are drawn from these declarations.
    target: int | None = setting(None, "Explain", min=0, max=100_000, key="feat_target", widget="none",
                                 help="Which logit the attributions explain (the class index; none: the predicted "
                                      "class).")
    cam_block: int | None = setting(None, "Grad-CAM block", min=1, max=MAX_DEPTH, key="feat_cam_block", widget="none",
                                    help="Grad-CAM at this block's output (after the addition), upsampled to the input.")
    steps: int = setting(DEFAULT_IG_STEPS, "IG steps", min=1, max=MAX_IG_STEPS, picks=(50, 100, 200, 300, 500),
                         key="feat_steps",
                         help="More steps: smaller convergence delta, slower.")
    over: str = setting(OVER[0], "Statistics over", options=OVER, key="feat_over")
    block: int = setting(1, "Block", min=1, max=MAX_DEPTH, key="feat_block", widget="none",
                         help="Output of this block after the addition (and its ReLU).")

    DISPLAY = ("block",)

    def validate(self, n_blocks: int, classes: int) -> None:
        """ConfigError with a one-line message for settings this pair cannot compute: a field outside its declared
        domain (`settings.check_all`), a class or a block the pair does not have."""
        check_all(self)
        if self.target is not None and not 0 <= self.target < classes:
            raise ConfigError(f"target class must be from 0 to {classes - 1}, got {self.target}")
        for name, b in (("Grad-CAM block", self.cam_block), ("block", self.block)):
            if b is not None and not 1 <= b <= n_blocks:
                raise ConfigError(f"{name} must be from 1 to {n_blocks}, got {b}")

    def computation(self) -> dict:
        """The fields that determine the numbers (a cache key)."""
        return {k: v for k, v in self.__dict__.items() if k not in self.DISPLAY}


@dataclass
class FeatureView:
    """What the feature-map view shows for one input: each net's block outputs, probabilities and
    block statistics (of the input, or of the whole test split), and its attributions."""

    settings: FeatureSettings
    outputs: dict[str, list[np.ndarray]]  # net -> block outputs for the input
    probabilities: dict[str, list[float]]
    stats: dict[str, dict]  # net -> BlockStats.to_dict(), over `settings.over`
    attributions: dict[tuple[str, str], Attribution]  # (method, net) -> map
    methods: tuple[str, ...]
    input: dict | None = None  # where the input came from: {"source": "test split", "index", "label"} or an image

    def statistics_caption(self) -> str:
        """What the block statistics show, from their numbers (`statistics_caption`)."""
        return statistics_caption(self.stats["plain"], self.stats["residual"]) if len(self.stats) == 2 else ""

    def ig_caption(self) -> Caption | str:
        """Integrated Gradients' completeness per net (Sundararajan et al. 2017, §3): the attributions sum to
        f(x) − f(baseline) up to the convergence delta, said against that gap; the takeaway gives each net's
        share and whether it is under the 5 % Sundararajan et al. ask for."""
        parts, shares = [], {}
        for (m, k), a in self.attributions.items():
            if m == "ig" and a.output_gap is not None:
                share = abs(a.convergence_delta) / max(abs(a.output_gap), 1e-12)
                shares[k] = share
                delta = ("+" if a.convergence_delta > 0 else "") + num(a.convergence_delta)
                parts.append(f"{k} net: the attributions sum to f(x) − f(baseline) = {num(a.output_gap)} up to "
                             f"{delta} ({pct(share)} of it)")
        if not parts:
            return ""
        within = " and ".join(f"{pct(v)} ({k})" for k, v in shares.items())
        over = [k for k, v in shares.items() if v > IG_COMPLETE]
        verdict = ("under the 5 % asked for" if not over else
                   f"over the 5 % asked for in the {' and '.join(over)} net{'s' if len(over) > 1 else ''}: "
                   "raise the steps")
        return Caption(f"Integrated Gradients' attributions add up to f(x) − f(baseline) within {within}: {verdict}.",
                       "Integrated Gradients' completeness: " + "; ".join(parts) + ". Sundararajan et al. ask for "
                       "under 5 %; more steps bring it down where the gradients along the path are smooth.")

    def captions(self) -> dict[str, str]:
        """"statistics" and "ig", from this input's numbers (`captions.Caption`s; "" where there is none)."""
        return {"statistics": self.statistics_caption(), "ig": self.ig_caption()}

    def to_dict(self) -> dict:
        """JSON-ready: settings, each net's probabilities and prediction, block statistics, every attribution map
        (with IG's convergence delta and Grad-CAM's block), the captions (whole) and their takeaways."""
        caps = self.captions()
        return {"settings": asdict(self.settings), "input": self.input, "probabilities": self.probabilities,
                "prediction": {k: int(np.argmax(p)) for k, p in self.probabilities.items()},
                "block_statistics": self.stats,
                "attributions": [{"method": m, "net": k, "target": a.target, "map": a.map.tolist(),
                                  "convergence_delta": a.convergence_delta, "output_gap": a.output_gap,
                                  "block": None if a.block is None else a.block + 1,
                                  "layer_shape": None if a.layer_shape is None else list(a.layer_shape)}
                                 for (m, k), a in self.attributions.items()],
                "captions": caps, "takeaways": {k: takeaway_of(c) for k, c in caps.items()}}


def add_input_args(parser) -> None:
    """The features view's input on the command line: a test image (--index) or an image file (--image), and
    --png for the residual net's Integrated-Gradients map."""
    g = parser.add_argument_group("input")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--index", type=int, metavar="I", help="index into the dataset's test split (default 0)")
    src.add_argument("--image", metavar="FILE", help="an image file instead (PNG, JPEG, ...), made the dataset's input")
    g.add_argument("--invert", action="store_true", help="with --image: invert it (digits are white strokes on black)")
    g.add_argument("--crop", action="store_true", help="with --image: crop to the strokes before resizing")
    g.add_argument("--png", metavar="FILE", help="also write the residual net's Integrated-Gradients map as a PNG")


def input_from_args(args, inputs) -> None:
    """Put the input `--index`/`--image` names into `inputs.extra["x"]` (ConfigError for a bad one); with --png,
    arrange for the residual net's IG map to be written once computed."""

    data = inputs.data
    if data is None:
        t = inputs.train
        data = inputs.data = load_dataset(t.dataset, t.data_root, t.data_limit)
    if args.image:
        if os.path.isdir(args.image):
            raise ConfigError(f"--image {args.image!r} is a folder, not an image file")
        blob = read_run_file(args.image, MAX_UPLOAD_BYTES)  # a regular file, with the upload limit
        inputs.extra["x"] = image_from_bytes(blob, data, invert=args.invert, crop=args.crop).x
        inputs.extra["input"] = {"source": "image", "file": os.path.basename(args.image), "invert": args.invert,
                                 "crop": args.crop}
    else:
        inputs.extra["x"], inputs.extra["input"] = input_at(data, 0 if args.index is None else args.index, "--index")
    if args.png:
        inputs.extra["png"] = args.png


def input_at(data: Dataset, index: int, name: str = "index") -> tuple[torch.Tensor, dict]:
    """The input the view studies when it is the `index`-th of the test split (the command line's --index, the
    notebook API's `index`), and its description for the result ({"source", "index", "label"}); ConfigError naming
    `name` for an index outside the split."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(data.x_test):
        raise ConfigError(f"{name} must be from 0 to {len(data.x_test) - 1} (the {data.name} test split), got {index!r}")
    return data.x_test[index], {"source": f"{data.name} test split", "index": int(index), "label": int(data.y_test[index])}


def feature_study(runs: dict, x: torch.Tensor, settings: FeatureSettings = FeatureSettings(), *, data: Dataset,
                  progress=None) -> FeatureView:
    """The feature-map view of a trained pair for one input `x` (He et al. 2016's block outputs;
    Simonyan et al. 2014, Sundararajan et al. 2017, Selvaraju et al. 2017 attributions).

    `runs`: {"plain": Run, "residual": Run}. Block outputs and probabilities come from
    `block_outputs`, statistics from `block_statistics` (over `x` or the whole test split of
    `data`), attributions from `explain` with the dataset's baseline (`default_baseline`);
    Grad-CAM only for a CNN (block outputs are images). `progress(fraction, message)` after each
    attribution. The runs are never modified.
    """

    first = runs["residual"]
    n_blocks = len(first.model.blocks)
    settings.validate(n_blocks, int(first.net.classes))
    refuse_diverged(runs, "feature maps or attributions")
    conv = first.net.arch == "cnn"
    methods = METHODS if conv else ("saliency", "ig")
    x = torch.as_tensor(x, dtype=torch.float32)
    outputs, probs, stats = {}, {}, {}
    for k, run in runs.items():
        outs, logits = block_outputs(run.model, x)
        outputs[k] = [o[0].numpy() for o in outs]
        probs[k] = torch.softmax(logits, 1)[0].tolist()
        if settings.over == OVER[0]:
            stats[k] = block_statistics(outs).to_dict()
        else:
            stats[k] = block_statistics(block_outputs(run.model, data.x_test)[0]).to_dict()
    attributions = {}
    todo = [(m, k) for m in methods for k in runs]
    baseline = default_baseline(data)
    for i, (m, k) in enumerate(todo):
        notify(progress, i / len(todo), f"{METHOD_NAMES[m]}, {k} net")
        e = explain(runs[k].model, x, target=settings.target, methods=(m,),
                    block=(settings.cam_block or n_blocks) - 1 if m == "gradcam" else None,
                    n_steps=settings.steps if m == "ig" else DEFAULT_IG_STEPS, baseline=baseline)
        attributions[m, k] = e.attributions[m]
    notify(progress, 1.0, "done")
    return FeatureView(settings, outputs, probs, stats, attributions, methods)


def feature_view(settings: FeatureSettings, inputs) -> FeatureView:
    """The view's computation for the registry: `feature_study` of `inputs.runs` for `inputs.extra["x"]`, and the
    residual net's IG map written as a PNG when `inputs.extra["png"]` names a file."""
    result = feature_study(inputs.runs, inputs.extra["x"], settings, data=inputs.data, progress=inputs.progress)
    result.input = inputs.extra.get("input")
    if inputs.extra.get("png"):
        net = "residual" if "residual" in inputs.runs else next(iter(inputs.runs))
        a = result.attributions["ig", net]
        attribution_image(a.map, a.signed).save(inputs.extra["png"], format="PNG")
    return result
