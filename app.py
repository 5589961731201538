"""ResNet Lab: `streamlit run app.py`. Page config and navigation only."""

import streamlit as st

st.set_page_config(page_title="ResNet Lab", page_icon=":material/layers:", layout="wide")

page = st.navigation([  # in lecture order
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/build_train.py", title="Build & train", icon=":material/construction:"),
    st.Page("pages/landscape.py", title="Loss landscape", icon=":material/landscape:"),
    st.Page("pages/shattering.py", title="Shattered gradients", icon=":material/grain:"),
    st.Page("pages/ensemble.py", title="Unrolled ensemble", icon=":material/account_tree:"),
    st.Page("pages/features.py", title="Feature maps", icon=":material/visibility:"),
])
# Presenter mode (large fonts, one comparison per row) is a lab-wide switch; a link can turn it on.
if "presenter" not in st.session_state and st.query_params.get("presenter") == "1":
    st.session_state["presenter"] = True
st.sidebar.toggle("Presenter mode", key="presenter", help="Large fonts and one comparison per row, for a projector.")
if st.session_state.get("presenter"):
    st.html("<style>html{font-size:21px} .stMainBlockContainer{max-width:100%;padding-left:2rem;padding-right:2rem}"
            " [data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li{font-size:1.2rem}</style>")
page.run()
