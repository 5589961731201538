"""Build & train: a plain net and its residual twin, trained side by side (He et al. 2016)."""

import streamlit as st

from resnet_viz.models import count_parameters
from resnet_viz.numbers import MISSING, count, num, pct
from resnet_viz.plots import training as plots
from resnet_viz.registry import view
from resnet_viz.train import failure_advice
from resnet_viz.views.degradation import DegradationSettings, pair_caption
from ui import results
from ui.common import add_pair, pick_pair, run_flag, train_pair_ui, url_state
from ui.config_form import config_form
from ui.errors import USER_FIXABLE, guard
from ui.figures import caption, columns, figure, show
from ui.settings import read, widget

VIEW = view("build_train")
RUN = run_flag(VIEW)  # in the link: reopens a study that had to be started
url_state(flags=(RUN,))

st.title(VIEW.title)
st.caption("A plain network and its residual twin: same layers, same initial weights, same data order — "
           "only the shortcut differs (He et al. 2016, *Deep Residual Learning for Image Recognition*).")

new_pair = config_form()
if new_pair is not None:
    with guard("Training the new pair"):
        train_pair_ui(new_pair)
        add_pair(new_pair)  # the current pair: the picker below shows it and the link names it

with guard("The trained pair", stop=True):
    pair, plain, residual = pick_pair(warn=False)  # the metrics below name failures

runs = {"plain": plain, "residual": residual}
sizes = [count_parameters(run.model) for run in (plain, residual)]
counts = (f"{sizes[0]:,} parameters in each net" if sizes[0] == sizes[1] else
          f"{sizes[0]:,} parameters in the plain net, {sizes[1]:,} in the residual net (its shortcut has weights)")
st.subheader(f"{pair.net.arch.upper()}-{pair.net.layer_count}: {pair.net.depth} blocks, {counts}")

with guard("The two nets"):
    for col, (label, run) in zip(st.columns(2), runs.items()):
        h = run.history
        with col:
            st.markdown(f"**{label.capitalize()} net** · trained on `{h.device}` in {h.seconds:.1f} s")
            m1, m2, m3 = st.columns([1.4, 1.2, 0.8])  # the loss has the most digits (presenter mode: large type)
            m1.metric("final train loss", num(h.train_loss),
                      help=f"{MISSING}: it diverged, so it has no final loss" if h.diverged else None)
            m2.metric("test accuracy", pct(h.test_accuracy))
            m3.metric("epochs", len(h.epoch_train_loss) - 1)
            if run.failure:
                advice = failure_advice(run.failure)
                st.warning(f"The {label} net **failed to train**: {run.failure}."
                           + (f" {advice[0].upper()}{advice[1:]}." if advice else ""))

with st.expander("Architecture of this pair"):  # read off the built nets (He et al. 2016, Fig. 3)
    with guard("Architecture of this pair"):
        from resnet_viz.diagram import architecture
        from resnet_viz.plots.diagram import architecture_figure
        show(figure(architecture_figure, architecture(pair.net), architecture(pair.net.twin())), "architecture")

with guard("Training curves"):
    chance = 1.0 / pair.net.classes
    left, right = columns(2)
    show(figure(plots.loss_curves, runs), "loss_curves", left)
    show(figure(plots.accuracy_curves, runs, chance), "accuracy_curves", right)
    left, right = columns(2)
    show(figure(plots.gradient_norms, runs), "gradient_norms", left)
    with right:
        st.markdown("**What this pair shows**")
        caption(pair_caption(plain, residual), right)
        st.caption("Try λ = 0.5 or λ = 1.5 in the sidebar: the shortcut stops being an identity "
                   "(He et al. 2016b, *Identity Mappings in Deep Residual Networks*, §3).")

st.divider()
st.header("The degradation problem")
st.markdown(
    "He et al. 2016, Fig. 1: a deeper plain net **that trains** keeps a **higher training loss** than a shallower "
    "one all along its training — not overfitting (it is the training loss) and not vanishing gradients (BN keeps "
    "them healthy, §4.1): an optimisation difficulty. In their figure the residual nets do not degrade. Here at toy "
    "scale on digits, every net with the same budget and a warm-up; a net that blows up or ends at chance is named "
    "*failed to train*, since that is divergence, not degradation.")


def _degradation(pair, settings: DegradationSettings):
    """The degradation study of `pair`'s config at these settings, kept for every session (with a
    progress bar when it is computed)."""
    return results.result(VIEW, settings, pair=pair, text="Degradation study")


def _ready(pair, settings: DegradationSettings) -> bool:
    try:
        settings.validate()
        return results.ready(VIEW, pair, settings)
    except USER_FIXABLE:
        return False


with st.form("degradation"):
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    for col, name in zip((c1, c2, c3, c4), ("depths", "seeds", "width", "epochs")):
        widget(DegradationSettings, name, col)
    go = st.form_submit_button("Run the degradation study", type="primary")
settings = read(DegradationSettings, st.session_state)
warm = settings.warmup_epochs
st.caption(f"{count(2 * len(settings.depths) * settings.seeds, 'net').capitalize()}: SGD at {num(settings.lr)} with "
           f"{num(warm)} epoch{'' if warm == 1 else 's'} of linear warm-up, then cosine. The default study ships trained; other settings train once for "
           "everyone (about 1–2 minutes on a 2-core laptop).")
if go:
    st.session_state[RUN] = True
    st.query_params[RUN] = "1"  # the link reopens the study
# Shown at once when every net of it is already trained (the default study of the default pair ships trained);
# a study that would train new nets (1–2 minutes) waits for the button.
if st.session_state.get(RUN) or _ready(pair, settings):
    with guard("The degradation study"):
        settings.validate()
        result = _degradation(pair, settings)
        (st.success if result.degradation_shown else st.info)(result.takeaway())
        with st.expander("How this was measured"):
            st.markdown("\n".join(f"- {line}" for line in result.caption_lines()))
        show(figure(plots.degradation_curves, result), "degradation_curves")
        show(figure(plots.degradation, result.summary(), result.runs), "degradation")
else:
    st.info("This study trains new nets for this pair and these settings: press the button to start it (progress is "
            "shown; then kept for everyone).")
