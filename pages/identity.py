"""Identity mappings (He et al. 2016b): shortcut scale λ and activation placement, trained side by side.
Thin page: widgets in, `resnet_viz.views.identity.identity_study` (cached), figures and captions out."""

from __future__ import annotations

import streamlit as st

from resnet_viz.plots import training as P
from resnet_viz.plots.compare import block_gradient_figure, identity_colors, recolor, scale_sweep_figure
from resnet_viz.registry import view as view_named
from resnet_viz.views import identity as I
from ui import results
from ui.common import pick_pair, url_state
from ui.errors import guard
from ui.figures import caption, columns, show
from ui.settings import read, widget

VIEW = view_named("identity")

st.title(VIEW.title)
st.markdown("He, Zhang, Ren & Sun (2016b), *Identity Mappings in Deep Residual Networks*: with y = λ·x + F(x) the "
            "shortcut path scales the signal and its gradient by λⁿ over n blocks, so only λ = 1 keeps it intact "
            "(§3, Table 1); moving BN and ReLU into the branch (full pre-activation, Fig. 4e) makes that path a pure "
            "identity (Table 2). Train the variants of the current pair's residual net with the same initial "
            "weights, data order and budget, and compare.")


def study(pair, settings: I.IdentitySettings) -> I.IdentityResult:
    """The view's one computation (`identity_study`), kept for every session (with a progress bar
    when it is computed)."""
    return results.result(VIEW, settings, pair=pair, text="Identity-mapping study")


# The settings widgets keep themselves in the link, which reopens the same study.
url_state()
with guard("The trained pair", stop=True):
    pair, _, _ = pick_pair(warn=False)  # the table names failed nets itself

with st.form("identity_form"):
    widget(I.IdentitySettings, "variants")
    c1, c2, c3, c4 = st.columns(4)
    for col, name in zip((c1, c2, c3, c4), ("seeds", "gate_bias", "dropout", "plain")):
        widget(I.IdentitySettings, name, col)
    widget(I.IdentitySettings, "random_nets")
    st.form_submit_button("Train the variants", type="primary")

with guard("The settings", stop=True):
    settings = read(I.IdentitySettings, st.session_state)
    settings.validate()
    nets = settings.nets(pair.net)
st.caption(f"{len(nets)} nets of {pair.net.depth} blocks on {pair.train.dataset} ({pair.train.epochs} epochs each): the "
           "current pair's own two and the variants, each trained once for everyone (the default comparison ships "
           "trained).")

with guard("The identity-mapping study", stop=True):
    result = study(pair, settings)
    runs = result.runs
    colors = identity_colors(runs)
st.subheader("The variants side by side (He 2016b, Tables 1 and 2 at toy scale)")


with guard("The variants side by side"):
    st.dataframe(result.formatted_table(), hide_index=True, width="stretch")
    st.caption("Mean over the seeds that trained (range in brackets with several seeds; '—' where no seed trained). "
               "Gates and 1×1 shortcuts add parameters only to the residual net: its plain twin's count is given; the "
               "branch weights are the same.")
    (st.warning if any(r["failed"] for r in result.table()) else st.info)(result.verdict_takeaway())
    with st.expander("The full ranking, against He et al. 2016b"):
        st.markdown("\n".join(f"- {line}" for line in result.verdict_lines()))
    left, right = columns(2)
    show(recolor(P.loss_curves(runs), colors), "identity_loss", left)
    show(recolor(P.accuracy_curves(runs, 1.0 / pair.net.classes), colors), "identity_accuracy", right)
    show(recolor(P.gradient_norms(runs), colors), "identity_gradients")
    st.caption(result.findings())
st.subheader("The gradient reaching each block (He 2016b, eqs. 4–5)")
with guard("The gradient reaching each block"):
    show(block_gradient_figure(result.gradients, colors), "identity_block_gradients")
    caption(result.gradient_caption())
with guard("Random 1-D nets by λ and depth"):
    if result.curves:
        st.subheader("Random 1-D nets by λ and depth")
        curves = {k: {**c, "color": col} for (k, c), col in zip(result.curves.items(), identity_colors(result.curves).values())}
        show(scale_sweep_figure(settings.sweep_depths, curves), "identity_random_nets")
        st.caption(result.sweep_caption())
