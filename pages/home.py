"""Home: what ResNet Lab shows and where each view comes from."""

import os

import streamlit as st

import ui.legacy_guard  # noqa: F401  (runs the page through lab.py's navigation)
from resnet_viz.prepare import expected_seconds, prepare, preset_cost
from resnet_viz.presets import PRESETS
from ui.common import apply_preset, cached_compute, default_pair, run_store

st.title("ResNet Lab")
st.markdown(
    "Why do skip connections work? Build a **plain** network and its **residual twin** — the same layers and "
    "the same initial weights, only the shortcut `y = F(x) + x` differs — train both for a few seconds, and "
    "look at them side by side. Everything runs on real data (scikit-learn's 1,797 handwritten digits by "
    "default) on the CPU, or on a GPU when there is one."
)

VIEWS = [
    ("Build & train", ":material/construction:", "pages/build_train.py",
     "Training curves, gradient norm per block, and the **degradation problem**: deeper plain nets reach a "
     "higher *training* loss.", "He, Zhang, Ren, Sun 2016 — Deep Residual Learning for Image Recognition"),
    ("Playground", ":material/scatter_plot:", "pages/playground.py",
     "A deep plain MLP and its residual twin learning a 2-D problem, TensorFlow-Playground style: the boundary "
     "forming through training, what each block draws, and the gradient that reaches the first block.",
     "Smilkov, Carter, Sculley, Viégas, Wattenberg 2017 — Direct-Manipulation Visualization of Deep Networks"),
    ("Loss landscape", ":material/landscape:", "pages/landscape.py",
     "The loss along two filter-normalised random directions: a deep plain net sits in a narrower basin than its "
     "residual twin (and, from about 56 layers trained to convergence, on a chaotic surface).", "Li, Xu, Taylor, Studer, Goldstein 2018 — Visualizing the Loss Landscape of Neural Nets"),
    ("Shattered gradients", ":material/grain:", "pages/shattering.py",
     "Gradients with respect to the input become white noise with depth in plain nets, but stay correlated "
     "(brown noise) in residual nets.", "Balduzzi et al. 2017 — The Shattered Gradients Problem"),
    ("Unrolled ensemble", ":material/account_tree:", "pages/ensemble.py",
     "n residual blocks unroll into 2ⁿ paths; deleting a block barely hurts a residual net but ruins a plain one.",
     "Veit, Wilber, Belongie 2016 — Residual Networks Behave Like Ensembles of Relatively Shallow Networks"),
    ("Identity mappings", ":material/compare_arrows:", "pages/identity.py",
     "Which shortcut, and where the activation goes: λ·x on the shortcut fades or explodes over depth; full "
     "pre-activation keeps the path a pure identity.",
     "He, Zhang, Ren, Sun 2016b — Identity Mappings in Deep Residual Networks"),
    ("ResNet family", ":material/table_chart:", "pages/family.py",
     "ResNet-18 to 152, ResNeXt, Wide ResNet, DenseNet and VGG at full size: layers, parameters and multiply-adds "
     "counted from torchvision's definitions (Table 1), with the lab's own pair on the same axes.",
     "He, Zhang, Ren, Sun 2016 — Table 1; Xie 2017; Zagoruyko & Komodakis 2016; Huang 2017"),
    ("Feature maps", ":material/visibility:", "pages/features.py",
     "What each block computes for one input, and where the nets look (saliency, integrated gradients, Grad-CAM).",
     "Simonyan 2014; Sundararajan 2017; Selvaraju 2017"),
]

for title, icon, path, what, paper in VIEWS:
    if not os.path.exists(path):
        continue
    with st.container(border=True):
        st.page_link(path, label=f"**{title}**", icon=icon)
        st.markdown(what)
        st.caption(paper)

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

st.markdown(
    "**In a lecture:** every view opens with the default comparison (a ResNet-32-style CNN on digits, 15 blocks, "
    "and its plain twin, shipped trained with the lab and shared), and every preset opens at once: its nets ship "
    "trained too. Train other pairs on *Build & train*: they appear in the "
    "*Trained pair* picker of every view. Every page keeps its settings in the address bar: copy the link to "
    "share or bookmark exactly what is on screen. *Presenter mode* (sidebar) enlarges everything for a projector; "
    "each figure has a PNG button in its toolbar and an interactive-HTML download below it."
)
