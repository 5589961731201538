"""Identity mappings (He et al. 2016b): shortcut scale λ and activation placement, trained side by side.
Thin page: widgets in, `resnet_viz.identity.identity_study` (cached), figures and captions out."""

from __future__ import annotations

import streamlit as st

from resnet_viz import identity as I
from resnet_viz.plots import training as P
from resnet_viz.plots.compare import block_gradient_figure, identity_colors, recolor, scale_sweep_figure
from ui import results, views
from ui.common import USER_ERRORS, link_bind, pick_pair, show_error, url_state
from ui.figures import columns, show

ERRORS = USER_ERRORS + (ValueError,)
DEFAULTS = views.defaults(I.IdentitySettings)  # widget key -> default value

st.title("Identity mappings")
st.markdown("He, Zhang, Ren & Sun (2016b), *Identity Mappings in Deep Residual Networks*: with y = λ·x + F(x) the "
            "shortcut path scales the signal and its gradient by λⁿ over n blocks, so only λ = 1 keeps it intact "
            "(§3, Table 1); moving BN and ReLU into the branch (full pre-activation, Fig. 4e) makes that path a pure "
            "identity (Table 2). Train the variants of the current pair's residual net with the same initial "
            "weights, data order and budget, and compare.")


def study(pair, settings: I.IdentitySettings) -> I.IdentityResult:
    """The view's one computation (`identity_study`), kept for every session (with a progress bar
    when it is computed)."""
    return results.identity(pair, settings, "Identity-mapping study")


def _variant_label(v: str) -> str:
    return I.VARIANTS[v].label


# The settings widgets keep themselves in the link, which reopens the same study.
url_state(labels={"id_variants": _variant_label})
try:
    pair, _, _ = pick_pair(warn=False)  # the table names failed nets itself
except ERRORS as e:
    show_error(e)
    st.stop()

with st.form("identity_form"):
    st.multiselect("Variants of the residual block (shortcut: He 2016b Fig. 2; activation placement: Fig. 4)",
                   list(I.VARIANTS), default=DEFAULTS["id_variants"],
                   format_func=_variant_label, key="id_variants", bind="query-params",
                   help=" · ".join(f"{v.label}: {v.note}" for v in I.VARIANTS.values()))
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Seeds per net", 1, I.MAX_SEEDS, DEFAULTS["id_seeds"], key="id_seeds", bind=link_bind("id_seeds"),
                    help="Initialisations and data orders per net; the table gives mean and range over them.")
    c2.number_input("Gate bias b_g", -10.0, 10.0, DEFAULTS["id_gate_bias"], 1.0, key="id_gate_bias",
                    bind="query-params", help="Initial bias of the gates g(x) = sigmoid(W·x + b_g): g starts near "
                                              "sigmoid(b_g). He et al. 2016b try 0 and −6.")
    c3.number_input("Shortcut dropout rate", 0.0, 0.9, DEFAULTS["id_dropout"], 0.1, key="id_dropout",
                    bind="query-params")
    c4.checkbox("Also the plain twin (no shortcuts)", DEFAULTS["id_plain"], key="id_plain", bind="query-params")
    st.checkbox("Also random 1-D nets for each λ (shattering; about 20 s)", DEFAULTS["id_random_nets"],
                key="id_random_nets", bind="query-params",
                help="Lag-1 autocorrelation and size of df/dx of random nets f: ℝ → ℝ against depth (Balduzzi et al. "
                     "2017's experiment). Whether λ < 1 shatters is the lab's own question, not He et al.'s.")
    st.form_submit_button("Train the variants", type="primary")

try:
    settings = views.settings(I.IdentitySettings, st.session_state)
    settings.validate()
except ERRORS as e:
    show_error(e)
    st.stop()
nets = settings.nets(pair.net)
st.caption(f"{len(nets)} nets of {pair.net.depth} blocks on {pair.train.dataset} ({pair.train.epochs} epochs each): the "
           "current pair's own two and the variants, each trained once for everyone (the default comparison ships "
           "trained).")

try:
    result = study(pair, settings)
except ERRORS as e:
    show_error(e)
    st.stop()

runs = result.runs
colors = identity_colors(runs)
st.subheader("The variants side by side (He 2016b, Tables 1 and 2 at toy scale)")


st.dataframe(result.formatted_table(), hide_index=True, width="stretch")
st.caption("Mean over the seeds that trained (range in brackets with several seeds). Gates and 1×1 shortcuts add "
           "parameters only to the residual net: its plain twin's count is given; the branch weights are the same.")
(st.warning if any(r["failed"] for r in result.table()) else st.info)(
    "\n".join(f"- {line}" for line in result.verdict_lines()))
left, right = columns(2)
show(recolor(P.loss_curves(runs), colors), "identity_loss", left)
show(recolor(P.accuracy_curves(runs, 1.0 / pair.net.classes), colors), "identity_accuracy", right)
show(recolor(P.gradient_norms(runs), colors), "identity_gradients")
st.caption(result.findings())
st.subheader("The gradient reaching each block (He 2016b, eqs. 4–5)")
show(block_gradient_figure(result.gradients, colors), "identity_block_gradients")
st.caption(result.gradient_caption())
if result.curves:
    st.subheader("Random 1-D nets by λ and depth")
    curves = {k: {**c, "color": col} for (k, c), col in zip(result.curves.items(), identity_colors(result.curves).values())}
    show(scale_sweep_figure(settings.sweep_depths, curves), "identity_random_nets")
    st.caption(result.sweep_caption())
