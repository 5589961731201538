"""Build & train: a plain net and its residual twin, trained side by side (He et al. 2016)."""

import streamlit as st

from resnet_viz.degradation import DEFAULT_DEPTHS, DEFAULT_EPOCHS, DEFAULT_SEEDS, DEFAULT_WIDTH, degradation_study, summarize
from resnet_viz.models import estimate_size
from resnet_viz.plots import training as plots
from ui.common import USER_ERRORS, add_pair, pick_pair, progress_bar, show_error, train_pair_ui, url_state
from ui.config_form import config_form
from ui.figures import columns, show

URL_DEFAULTS = {"deg_depths": list(DEFAULT_DEPTHS), "deg_seeds": len(DEFAULT_SEEDS), "deg_run": False}
url_state("build_train", URL_DEFAULTS)

st.title("Build & train")
st.caption("A plain network and its residual twin: same layers, same initial weights, same data order — "
           "only the shortcut differs (He et al. 2016, *Deep Residual Learning for Image Recognition*).")

picker_slot = st.sidebar.container()  # the pair picker sits above the config form
new_pair = config_form()
if new_pair is not None:
    try:
        train_pair_ui(new_pair)
        add_pair(new_pair)
        st.session_state["pair_picker"] = new_pair
    except USER_ERRORS as e:
        show_error(e)

try:
    pair, plain, residual = pick_pair(where=picker_slot)
except USER_ERRORS as e:
    show_error(e)
    st.stop()

runs = {"plain": plain, "residual": residual}
size = estimate_size(pair.net, pair.train.batch_size)
st.subheader(f"{pair.net.arch.upper()}-{pair.net.layer_count}: {pair.net.depth} blocks, "
             f"{size.parameters:,} parameters in each net")

for col, (label, run) in zip(st.columns(2), runs.items()):
    h = run.history
    with col:
        st.markdown(f"**{label.capitalize()} net** · trained on `{h.device}` in {h.seconds:.1f} s")
        m1, m2, m3 = st.columns(3)
        m1.metric("final train loss", f"{h.train_loss:.4f}" if h.train_loss == h.train_loss else "—")
        m2.metric("test accuracy", f"{h.test_accuracy:.1%}" if h.test_accuracy == h.test_accuracy else "—")
        m3.metric("epochs", len(h.epoch_train_loss) - 1)
        if h.diverged:
            st.warning(f"The {label} net diverged at step {h.diverged_at_step} (the loss became NaN or infinite); "
                       "training stopped there. Lower the learning rate or the shortcut scale λ.")

chance = 1.0 / pair.net.classes
left, right = columns(2)
show(plots.loss_curves(runs), "loss_curves", left)
show(plots.accuracy_curves(runs, chance), "accuracy_curves", right)
left, right = columns(2)
show(plots.gradient_norms(runs), "gradient_norms", left)
with right:
    st.markdown("**What to look for**")
    st.markdown(
        "- With depth, the **plain** net's loss falls later and ends higher; the **residual** twin trains at once.\n"
        "- Gradient norms: in the plain net they change by orders of magnitude from block to block; "
        "through identity shortcuts they stay level (no vanishing, no explosion).\n"
        "- Try λ = 0.5 or λ = 1.5 in the sidebar: the shortcut stops being an identity and the advantage goes "
        "(He et al. 2016b, *Identity Mappings in Deep Residual Networks*)."
    )

st.divider()
st.header("The degradation problem")
st.markdown(
    "He et al. 2016, Fig. 1: a deeper plain net reaches a **higher training loss** than a shallower one — not "
    "overfitting, since it is the training loss. Its residual twin does not degrade. Here at toy scale on "
    f"digits: width {DEFAULT_WIDTH}, {DEFAULT_EPOCHS} epochs, every depth and seed with the same budget.")


@st.cache_data(show_spinner=False, max_entries=8)
def _degradation(net_json: str, train_json: str, depths: tuple, seeds: tuple, _progress=None):
    import json

    from resnet_viz.models import NetConfig
    from resnet_viz.train import TrainConfig

    base = NetConfig.from_json(net_json)
    cfg = TrainConfig.from_dict(json.loads(train_json))
    return degradation_study(base, cfg, depths, seeds, callback=_progress)


with st.form("degradation"):
    c1, c2 = st.columns(2)
    depths = c1.multiselect("Depths (blocks)", [3, 6, 9, 18, 27, 36], default=list(DEFAULT_DEPTHS), key="deg_depths")
    n_seeds = c2.slider("Seeds", 1, 5, len(DEFAULT_SEEDS), key="deg_seeds")
    go = st.form_submit_button("Run the degradation study", type="primary")
st.caption(f"{2 * len(depths) * n_seeds} nets to train; about 30–60 s on a 2-core laptop for the default, "
           "then cached for everyone.")
if go:
    st.session_state["deg_run"] = True
    st.query_params["deg_run"] = "1"  # the link reopens the study
if st.session_state.get("deg_run") and depths:
    d, s = tuple(sorted(depths)), tuple(range(n_seeds))
    base = pair.net.replace(width=DEFAULT_WIDTH) if pair.net.arch == "cnn" else pair.net
    cfg = pair.train.replace(epochs=DEFAULT_EPOCHS)
    bar, cb = progress_bar("Degradation study")
    try:
        points = _degradation(base.to_json(), cfg.to_json(), d, s,
                              _progress=lambda i, n, label: cb(i / n, f"training {min(i + 1, n)}/{n}, {label}"))
    except (ValueError, *USER_ERRORS) as e:
        show_error(e)
    else:
        bar.empty()
        show(plots.degradation(summarize(points), points), "degradation")
else:
    st.info("Press the button to train plain and residual nets at each depth (progress is shown).")
