"""ResNet Lab: `streamlit run app.py`. Page config and navigation only."""

import streamlit as st

st.set_page_config(page_title="ResNet Lab", page_icon=":material/layers:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/build_train.py", title="Build & train", icon=":material/construction:"),
]
# Views of later issues register here, in lecture order.
for path, title, icon in [
    ("pages/landscape.py", "Loss landscape", ":material/landscape:"),
    ("pages/shattering.py", "Shattered gradients", ":material/grain:"),
    ("pages/ensemble.py", "Unrolled ensemble", ":material/account_tree:"),
    ("pages/features.py", "Feature maps", ":material/visibility:"),
]:
    import os

    if os.path.exists(os.path.join(os.path.dirname(__file__), path)):
        PAGES.append(st.Page(path, title=title, icon=icon))

st.navigation(PAGES).run()
