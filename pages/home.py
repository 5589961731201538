"""Home: what ResNet Lab shows and where each view comes from."""

import streamlit as st

import ui.legacy_guard  # noqa: F401  (runs the page through lab.py's navigation)
from resnet_viz.prepare import expected_seconds, prepare, preset_cost
from resnet_viz.presets import PRESETS
from resnet_viz.registry import VIEWS
from ui.common import apply_preset, cached_compute, cluster_line, cluster_notice, default_pair, run_store

st.title("ResNet Lab")
cluster_notice()
st.markdown(
    "Why do skip connections work? Build a **plain** network and its **residual twin** — the same layers and "
    "the same initial weights, only the shortcut `y = F(x) + x` differs — train both for a few seconds, and "
    "look at them side by side. Everything runs on real data (scikit-learn's 1,797 handwritten digits by "
    "default) on the CPU, or on a GPU when there is one."
)

for v in VIEWS:  # every view of the registry, in lecture order
    with st.container(border=True):
        st.page_link(v.page, label=f"**{v.title}**", icon=v.icon)
        st.markdown(v.summary)
        st.caption(v.paper)

st.header("Presets: the classic figures, one click each")
st.caption("Each preset's nets ship trained with the lab: one click sets the view and opens it at once. The same "
           "figures as an offline HTML page: `python -m resnet_viz report --preset NAME --out FILE.html`.")
cols = st.columns(3)
for i, preset in enumerate(PRESETS):
    with cols[i % 3].container(border=True, height="stretch"):
        st.markdown(f"**{preset.title}**")
        st.caption(preset.summary)
        if st.button("Open", key=f"preset_{preset.slug}", icon=":material/play_arrow:"):
            apply_preset(preset)

with st.expander("Before class: prepare every preset", icon=":material/schedule:"):
    store = run_store()  # opening Home on a fresh server starts training the default pair (when not shipped)
    expected = expected_seconds([store.get(k) for k in store.keys()], PRESETS)
    units = sum(preset_cost(p) for p in PRESETS)
    guess = f"about {expected / 60:.0f} min on this server" if expected else "several minutes"
    st.markdown(f"The presets' nets ship trained with the lab, so they open at once; this is needed only after "
                f"their settings were changed (a lab whose shipped runs are missing or stale). It trains every net of "
                f"every preset that is not stored yet into this server's run store: at most {units:,.0f} "
                f"block-epochs, {guess} (measured from the nets trained here). The same from a terminal: "
                "`python -m resnet_viz prepare`.")
    if st.button("Prepare every preset", key="prepare_all", icon=":material/play_arrow:"):
        seconds = cached_compute("prepare", default_pair().label, lambda progress: prepare(PRESETS, store, progress),
                                 "Preparing the presets", max_entries=1)
        st.success(f"Every preset is ready ({sum(seconds.values()) / 60:.1f} min). They open at once now.")
    st.caption(cluster_line() + " For a course of hundreds, see the README's 'For a real course'.")

st.markdown(
    "**In a lecture:** every view opens with the default comparison (a ResNet-32-style CNN on digits, 15 blocks, "
    "and its plain twin, shipped trained with the lab and shared), and every preset opens at once: its nets ship "
    "trained too. Train other pairs on *Build & train*: they appear in the "
    "*Trained pair* picker of every view. Every page keeps its settings in the address bar: copy the link to "
    "share or bookmark exactly what is on screen. *Presenter mode* (sidebar) enlarges everything for a projector; "
    "each figure has a PNG button in its toolbar and an interactive-HTML download below it."
)
