"""ResNet Lab: `streamlit run app.py`. Page config and navigation only."""

import streamlit as st

st.set_page_config(page_title="ResNet Lab", page_icon="🧱", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/build_train.py", title="Build & train", icon="🏗️"),
]
# Views of later issues register here, in lecture order.
for path, title, icon in [
    ("pages/landscape.py", "Loss landscape", "🏔️"),
    ("pages/shattering.py", "Shattered gradients", "🌪️"),
    ("pages/ensemble.py", "Unrolled ensemble", "🌳"),
    ("pages/features.py", "Feature maps", "🔍"),
]:
    import os

    if os.path.exists(os.path.join(os.path.dirname(__file__), path)):
        PAGES.append(st.Page(path, title=title, icon=icon))

st.navigation(PAGES).run()
