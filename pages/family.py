"""The ResNet family at full size (He et al. 2016 Table 1 and Fig. 3), with the lab's pair on the same axes.
Thin page: widgets in, `resnet_viz.views.family.family_table` (cached), figures and captions out."""

from __future__ import annotations

import streamlit as st

from resnet_viz.captions import details_of, takeaway_of
from resnet_viz.numbers import MISSING
from resnet_viz.plots.family import cost_figure
from resnet_viz.registry import view
from resnet_viz.views import family as F
from ui import results
from ui.common import pick_pair, url_state
from ui.errors import guard
from ui.figures import caption, figure, show
from ui.settings import read, widget

VIEW = view("family")

st.title(VIEW.title)
st.markdown("He, Zhang, Ren & Sun (2016), Table 1: ResNet-18 to ResNet-152 against VGG-19 (Simonyan & Zisserman "
            "2015), and their descendants: ResNeXt (Xie et al. 2017), Wide ResNet (Zagoruyko & Komodakis 2016), "
            "DenseNet (Huang et al. 2017). Every figure below is **computed** from torchvision's own definitions, "
            "built on PyTorch's meta device (no weights, nothing downloaded): weight layers, parameters, "
            "multiply-adds and activation memory for one 224×224 image, and the stage layout.")

url_state()
with guard("The trained pair", stop=True):
    pair, plain, residual = pick_pair(warn=False)  # only its size is used

widget(F.FamilySettings, "models")
with guard("Counting the models", stop=True):
    settings = read(F.FamilySettings, st.session_state)
    settings.validate()
    rows = results.result(VIEW, settings, text="Counting torchvision's models").rows
    lab = [(run.label, F.net_cost(run.net), run.net.skip) for run in (plain, residual)]

st.subheader("Computed, next to the papers' figures")
def published(r: F.FamilyRow, key: str, unit: float) -> str:
    """A published figure in the column's unit, or '—' (footnoted under the table) where none is recorded."""
    return f"{r.published[key] / unit:.2f}" if key in r.published else MISSING


with guard("The table of models"):
    # st.table, not st.dataframe: its cells and headers wrap, so every column shows on a 1280-pixel projector
    # (a dataframe's columns past the right edge scroll with no visible bar; issue 32).
    st.table(
        [{"model": r.name, "paper": r.paper, "weight layers": r.layers, "parameters (M)": f"{r.parameters / 1e6:.2f}",
          "multiply-adds (10⁹)": f"{r.macs / 1e9:.2f}",
          "with He's stride placement (10⁹)": f"{r.macs_paper_layout / 1e9:.2f}",
          "published multiply-adds (10⁹)": published(r, "macs", 1e9),
          "published parameters (M)": published(r, "parameters", 1e6),
          "activations per image (MiB)": f"{r.activation_bytes / 2**20:.2f}",
          "source": r.published.get("source", MISSING)}
         for r in rows], hide_index=True)
    st.caption("Multiply-adds count convolutions and fully connected layers (output elements × kernel size × input channels per group), as "
               "He et al. count them; layers are weight layers on the main path (1×1 projection shortcuts not counted); "
               "activations are every module's output in float32. torchvision strides a downsampling bottleneck's 3×3 "
               "convolution, He et al. its first 1×1: the column 'with He's stride placement' counts that layout. "
               f"{MISSING}: no published figure is recorded for that model (the lab lists only figures printed in the "
               "source named: He et al.'s Table 1 prints no parameter counts, and none is listed for WRN-50-2 and "
               "DenseNet-121).")
    found = F.family_caption(rows)
    st.info(takeaway_of(found) or "Choose ResNet-152 and VGG-19, or two ResNets, to compare their cost.")
    if details_of(found):
        with st.expander("How this was measured"):
            st.caption(details_of(found))

with guard("Cost against accuracy"):
    show(figure(cost_figure, rows, lab), "family_cost")
    caption(F.lab_caption(f"{residual.label} {pair.net.arch.upper()}", lab[1][1], rows, pair.net.input_shape))

with guard("He et al. 2016, Table 1"):
    resnets = [r.name for r in rows if r.name in F.RESNETS]
    if resnets:
        st.subheader("He et al. 2016, Table 1 (computed)")
        st.table(F.table1(rows), hide_index=True)  # wraps: ten models' layouts show on a projector
st.subheader("Stage by stage")
with guard("Stage by stage"):
    names = [r.name for r in rows]
    chosen = st.selectbox("Model", names, index=names.index("resnet50") if "resnet50" in names else 0, key="fam_stages",
                          bind="query-params")
    row = next(r for r in rows if r.name == chosen)
    st.table([{"stage": s.name, "block": s.kind, "blocks": s.blocks, "layout": s.layout,
               "output size": "×".join(map(str, s.output)), "channels": s.channels,
               "parameters": f"{s.parameters:,}", "multiply-adds (10⁶)": f"{s.macs / 1e6:,.1f}"} for s in row.stages],
             hide_index=True)
    st.caption(F.stage_caption(row))
