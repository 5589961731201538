"""ResNet Lab: `streamlit run app.py`. Page config and navigation only."""

import streamlit as st

# An emoji favicon is drawn as inline SVG; a ":material/...:" one would be fetched from a font CDN.
st.set_page_config(page_title="ResNet Lab", page_icon="🧱", layout="wide")

page = st.navigation([  # in lecture order
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/build_train.py", title="Build & train", icon=":material/construction:"),
    st.Page("pages/landscape.py", title="Loss landscape", icon=":material/landscape:"),
    st.Page("pages/shattering.py", title="Shattered gradients", icon=":material/grain:"),
    st.Page("pages/ensemble.py", title="Unrolled ensemble", icon=":material/account_tree:"),
    st.Page("pages/features.py", title="Feature maps", icon=":material/visibility:"),
])
# Import the pages' glue only after st.navigation has run: importing `ui` before it, on a fresh
# server, would meet ui/__init__'s legacy-pages guard, which reruns the script mid-import (and
# concurrent sessions then see a half-imported package: KeyError 'ui').
from ui.common import PAIR_SLOT  # noqa: E402
from ui.figures import PRESENTER_CSS  # noqa: E402

# Presenter mode (large fonts, plain and residual still side by side) is a lab-wide switch; a link can turn it on.
if "presenter" not in st.session_state and st.query_params.get("presenter") == "1":
    st.session_state["presenter"] = True
st.sidebar.toggle("Presenter mode", key="presenter", help="Large fonts for a projector; plain and residual stay "
                  "side by side.")
if st.session_state.get("presenter"):
    st.html(PRESENTER_CSS)
# Every page's trained-pair picker goes here, under the presenter switch (ui.common.pick_pair).
st.session_state[PAIR_SLOT] = st.sidebar.container()
page.run()
