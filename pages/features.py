"""Feature maps and attributions: what the plain and the residual net see in one input.
Thin page: widgets in, `resnet_viz.views.features` calls (cached per run, input and method), figures out."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from resnet_viz.captions import Caption, details_of, takeaway_of
from resnet_viz.data import load_dataset
from resnet_viz.models import NetConfig
from resnet_viz.numbers import num, pct
from resnet_viz.plots import features as P
from resnet_viz.registry import view as view_named
from resnet_viz.settings import spec
from resnet_viz.train import TrainConfig
from resnet_viz.views import features as FT
from ui import results
from ui.common import ensure_run, pick_pair, plain_text, url_state
from ui.errors import guard
from ui.figures import caption as show_caption
from ui.figures import columns, figure, show
from ui.settings import widget

VIEW = view_named("features")

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]
# The view's widgets keep themselves in the link (bind="query-params"), options named as on screen:
# feat_class=3 is the digit 3, feat_target=class+cat a CIFAR class.
ANY_CLASS, PREDICTED = "any class", "predicted class"


def _target_label(c: str) -> str:
    return c if c == PREDICTED else f"class {c}"

st.title(VIEW.title)
st.markdown("What each net sees in one input: every block's output (He et al. 2016), and which input pixels "
            "drive the prediction: Saliency (Simonyan et al. 2014), Integrated Gradients (Sundararajan et al. "
            "2017), Grad-CAM (Selvaraju et al. 2017).")


# --- cached computations -------------------------------------------------------------------


def _run(net_json: str, train_json: str):
    return ensure_run(NetConfig.from_json(net_json), TrainConfig.from_dict(json.loads(train_json)))


@st.cache_resource(show_spinner=False)
def _data(dataset: str, root: str | None, limit: int | None):
    return load_dataset(dataset, root, limit)


def _dataset_of(run):
    return _data(run.train.dataset, run.train.data_root, run.train.data_limit)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_test_predictions(net_json: str, train_json: str) -> np.ndarray:
    """Predicted class of every test input (for the 'misclassified' filter)."""
    run = _run(net_json, train_json)
    return FT.predictions(run.model, _dataset_of(run).x_test).numpy()


def study(runs: dict, x: np.ndarray, input_key: str, settings: FT.FeatureSettings, data) -> FT.FeatureView:
    """The view's one computation (`feature_study`) for this input, kept for every session."""
    return results.result(VIEW, settings, runs=runs, extra={"x": x}, extra_key=input_key,
                          text="Block outputs and attributions")


def valid_choice(key: str, options: list[str], default: str) -> None:
    """Reset widget `key` to `default` when its state (say from an old or hand-made link) is not among `options`."""
    if st.session_state.get(key, default) not in options:
        st.session_state[key] = default


# --- input picker --------------------------------------------------------------------------


def pick_test_input(data, plain, residual):
    """Browse the test split, filtered by class and by 'misclassified by either net'."""
    c1, c2, c3 = st.columns([1, 1, 2])
    names = [str(c) for c in data.class_names]
    valid_choice("feat_class", [ANY_CLASS] + names, ANY_CLASS)
    chosen = c1.selectbox("True class", [ANY_CLASS] + names, key="feat_class", bind="query-params")
    label = None if chosen == ANY_CLASS else names.index(chosen)
    wrong = c2.checkbox("Only misclassified by either net", key="feat_wrong", bind="query-params",
                        help="Inputs the plain or the residual net gets wrong.")
    pp = cached_test_predictions(plain.net.to_json(), plain.train.to_json())
    pr = cached_test_predictions(residual.net.to_json(), residual.train.to_json())
    matches = FT.select_indices(data.y_test, pp, pr, label=label, misclassified=wrong)
    if not matches:
        c3.info("No test input matches these filters.")
        return None
    pos = 1
    if len(matches) == 1:
        c3.caption("One test input matches.")
    else:
        pos = c3.slider(f"Which of the {len(matches)} matching test inputs", 1, len(matches), 1, key="feat_pos",
                        bind="query-params")
        pos = min(pos, len(matches))
    index = matches[pos - 1]
    y = int(data.y_test[index])
    # Counted from 1, as the slider: "input 1 of 360" is the test split's image no. 1 when no filter is on.
    caption = (f"Test input {pos} of {len(matches)} (image no. {index + 1} of the test split) · true class "
               f"**{data.class_names[y]}** · plain says "
               f"{data.class_names[int(pp[index])]}, residual says {data.class_names[int(pr[index])]}")
    return data.x_test[index].numpy(), y, data.denormalize(data.x_test[index]).numpy(), caption


def pick_upload(data):
    """An uploaded image converted to the dataset's input, with the conversion shown."""
    if not data.is_image:
        st.info(f"{data.name} is 2-D point data, not images: uploads need an image dataset such as digits.")
        return None
    c, h, w = data.input_shape
    if data.name == "digits":
        st.caption("The digits are **white strokes on a black background**, 8×8 pixels, ink counted 0..16. "
                   "A photo or drawing of dark ink on light paper needs **invert**.")
    up = st.file_uploader("Image file", type=UPLOAD_TYPES, key="feat_upload",
                          help=f"Converted to {'grayscale' if c == 1 else 'RGB'} {w}×{h} and normalised "
                               f"like the training data. Up to {FT.MAX_UPLOAD_BYTES // 1024**2} MB.")
    c1, c2 = st.columns(2)
    invert = c1.checkbox("Invert (dark strokes on light → light on dark)", key="feat_invert", bind="query-params")
    crop = c2.checkbox("Crop to the strokes", value=True, key="feat_crop", bind="query-params",
                       help="Cut away empty margins first, so the figure fills the frame as in the dataset.")
    if up is None:
        st.info("Upload an image to see what the nets make of it.")
        return None
    img = FT.image_from_bytes(up.getvalue(), data, invert=invert, crop=crop)
    if img.looks_inverted and not invert and data.name == "digits":
        st.warning("This image is mostly bright: probably dark strokes on light paper. Tick **invert**.")
    o1, o2, o3 = st.columns([1, 1, 2])
    o1.image(img.original, caption="uploaded", width="stretch")
    o2.plotly_chart(figure(P.input_figure, img.raw, FT.raw_max(data), "what the nets get"), key="feat_converted")
    o3.markdown("**Conversion**\n" + "\n".join(f"1. {s}" for s in img.steps))
    return img.x.numpy(), None, img.raw, f"Uploaded {plain_text(up.name, 80)}"  # shown as markdown


# --- the view --------------------------------------------------------------------------


@st.fragment
def view(pair, plain, residual):
    """The whole view; a fragment, so its widgets rerun only this part of the page."""
    with guard("Feature maps and attributions"):  # in the fragment: its own reruns go through it too
        _view(pair, plain, residual)


def _view(pair, plain, residual):
    # The fragment's sidebar slot is written on every run, input or not: a fragment may write
    # to the sidebar on its own reruns only where it wrote on the last full run (otherwise the
    # first upload after opening a link on "Upload an image" fails).
    side = st.sidebar.container()
    data = _dataset_of(residual)
    runs = {"plain": plain, "residual": residual}
    n_blocks = len(residual.model.blocks)
    conv = residual.net.arch == "cnn"  # channel grids and Grad-CAM need spatial block outputs

    source = st.radio("Input", ("Test image", "Upload an image"), horizontal=True, key="feat_source",
                      bind="query-params", label_visibility="collapsed")
    picked = pick_test_input(data, plain, residual) if source == "Test image" else pick_upload(data)
    if picked is None:
        return
    x, y, raw, caption = picked
    key = results.input_key(x)
    settings, cam_block = _settings(side, data, conv, n_blocks)
    result = study(runs, x, key, settings, data)

    _show_input(result, data, runs, x, y, raw, caption)
    st.subheader("Block outputs")
    with guard("Block outputs"):
        _show_block_outputs(result, runs, conv, n_blocks)
    with guard("Statistics of the block outputs"):
        _show_statistics(result)
    st.subheader("Attributions")
    with guard("Attributions"):
        _show_attributions(result, data, runs, raw, cam_block)


def _settings(side, data, conv: bool, n_blocks: int) -> tuple[FT.FeatureSettings, int]:
    """(the view's settings, Grad-CAM's block): the class to explain, Grad-CAM's block and the IG steps from the
    sidebar's widgets; the block shown and what the statistics run over from their widgets' last state (they are
    drawn further down, beside their figures)."""
    with side.expander("Attribution settings", expanded=True):
        names = [str(c) for c in data.class_names]
        valid_choice("feat_target", [PREDICTED] + names, PREDICTED)
        t = st.selectbox(spec(FT.FeatureSettings, "target").label, [PREDICTED] + names, format_func=_target_label,
                         key="feat_target", bind="query-params", help=spec(FT.FeatureSettings, "target").help)
        target = None if t == PREDICTED else names.index(t)
        cam_block = n_blocks
        if conv:
            cam_block = widget(FT.FeatureSettings, "cam_block", widget="slider", default=n_blocks, min=1,
                               max=n_blocks, step=1)
        steps = widget(FT.FeatureSettings, "steps")

    block = st.session_state.get("feat_block", 1) if conv else 1
    over = st.session_state.get("feat_over", FT.OVER[0])
    # The last block is Grad-CAM's default (None): the same computation, and the warm-up's key.
    settings = FT.FeatureSettings(target=target, cam_block=cam_block if conv and cam_block != n_blocks else None,
                                  steps=int(steps), over=over,
                                  block=min(max(int(block), 1), n_blocks))
    return settings, cam_block


def _show_input(result, data, runs: dict, x, y, raw, caption: str) -> None:
    """The input (an image, or a 2-D point's coordinates) and each net's predicted class with its probabilities."""
    st.markdown(caption)
    cols = st.columns([1, 2, 2]) if data.is_image else st.columns([0.01, 2, 2])
    if data.is_image:
        cols[0].plotly_chart(figure(P.input_figure, raw, FT.raw_max(data), "input"), key="feat_input")
    else:
        cols[0].markdown(f"**input** x = ({x[0]:.2f}, {x[1]:.2f})")
    for col, (k, run) in zip(cols[1:], runs.items()):
        probs = result.probabilities[k]
        pred = int(np.argmax(probs))
        col.metric(f"{k} net predicts", f"{data.class_names[pred]}", f"p = {probs[pred]:.3f}", delta_color="off", delta_arrow="off")
        col.plotly_chart(figure(P.probabilities_figure, probs, data.class_names, run.net.skip, y, height=220),
                         key=f"feat_probs_{k}")


def _show_block_outputs(result, runs: dict, conv: bool, n_blocks: int) -> None:
    """The chosen block's output channels of both nets on one colour scale (He et al. 2016: the shortcut can carry
    the input's shape forward); a note for an MLP, whose block outputs are vectors."""
    if conv:
        b = widget(FT.FeatureSettings, "block", widget="slider", default=1, min=1, max=n_blocks, step=1)
        pair_acts = [result.outputs[k][b - 1] for k in runs]
        lo = float(min(a.min() for a in pair_acts))
        hi = float(max(a.max() for a in pair_acts))
        for col, (k, a) in zip(columns(2), zip(runs, pair_acts)):
            title = f"{k}: block {b}, {a.shape[0]} channels of {a.shape[1]}×{a.shape[2]}"
            show(figure(P.channel_grid_figure, a, lo, hi if hi > lo else lo + 1, title), f"feat_grid_{k}", col)
        st.caption("One colour scale per block, shared by both nets. Compare how much of the input's shape "
                   "survives in later blocks: in the residual net the shortcut can carry it forward unchanged, "
                   "while every layer of the plain net has to re-create it.")
    else:
        st.info("Block outputs of an MLP are vectors, not images: no channel grids and no Grad-CAM. The "
                "statistics below and the attributions over the input still apply.")


def _show_statistics(result) -> None:
    """The block outputs' statistics against depth, over this input or the whole test split, with their caption."""
    widget(FT.FeatureSettings, "over")
    show(figure(P.statistics_figure, result.stats["plain"], result.stats["residual"]), "feat_stats")
    show_caption(result.statistics_caption())


def _show_attributions(result, data, runs: dict, raw, cam_block: int) -> None:
    """Each method's attribution maps for both nets on one colour scale per method: Saliency (Simonyan et al.
    2014), Integrated Gradients with its convergence delta (Sundararajan et al. 2017) and Grad-CAM at the chosen
    block (Selvaraju et al. 2017); then how they were computed, after IG's takeaway."""
    methods = result.methods
    attributions = result.attributions
    feature_names = None if data.is_image else ["x₁", "x₂"]
    for m in methods:
        label = FT.METHOD_NAMES[m]
        if m == "gradcam":
            label += f" at block {cam_block} ({'×'.join(map(str, attributions[m, 'residual'].layer_shape))}, upsampled)"
        st.markdown(f"**{label}**")
        zmax = max(float(np.abs(attributions[m, k].map).max()) for k in runs)
        for col, k in zip(columns(2), runs):
            r = attributions[m, k]
            title = f"{k}: class {data.class_names[r.target]}"
            show(figure(P.attribution_figure, r.map, raw if data.is_image else None, FT.raw_max(data),
                        r.signed, zmax, title, feature_names=feature_names,
                        cells=r.layer_shape if m == "gradcam" else None,
                        block=r.block + 1 if m == "gradcam" else None), f"feat_{m}_{k}", col)
            if m == "ig":
                rel = abs(r.convergence_delta) / max(abs(r.output_gap), 1e-12)
                col.metric("IG convergence delta", f"{r.convergence_delta:+.4f}",
                           f"{pct(rel)} of f(x) − f(x′) = {num(r.output_gap)}", delta_color="off",
                           delta_arrow="off",
                           help="Completeness: the attributions sum to f(x) − f(x′) up to this delta. "
                                "Over 5 %: raise the IG steps.")
    ig = result.captions()["ig"]
    how = ("Saliency: |∂f/∂x|. Integrated Gradients: signed (red raises the class score, blue lowers it), "
           "from a black baseline x′; their sum is the score's change. Grad-CAM: where the chosen block's "
           "channels that matter for the class are active. Same colour scale for both nets per method.")
    show_caption(Caption(takeaway_of(ig), f"{how} {details_of(ig)}") if ig else how)


with guard("The trained pair", stop=True):
    url_state(labels={"feat_target": _target_label})
    pair, plain, residual = pick_pair()
view(pair, plain, residual)
