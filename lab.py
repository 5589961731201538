"""ResNet Lab's Streamlit script (served by app.py: `streamlit run app.py`). Page config and navigation only."""

from pathlib import Path

import streamlit as st

# The view registry lists the pages; app.py's warm-up has imported it, and the whole lab with it, once at server
# start, before the first session runs this script. (A first import of the heavy glue in every session's first
# run at once, on a fresh server, could be cut by a rerun and leave the other sessions a half-imported package:
# KeyError 'ui', seen in the load test.)
from resnet_viz.registry import VIEWS
from ui import common, warmup

# An emoji favicon is drawn as inline SVG; a ":material/...:" one would be fetched from a font CDN.
st.set_page_config(page_title="ResNet Lab", page_icon="🧱", layout="wide")

page = st.navigation(  # Home, then every view of the registry in lecture order
    [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)]
    + [st.Page(v.page, title=v.title, icon=v.icon, url_path=v.slug) for v in VIEWS])
# Presenter mode (large fonts, plain and residual still side by side) is a lab-wide switch; a link can turn it on.
if "presenter" not in st.session_state and st.query_params.get("presenter") == "1":
    st.session_state["presenter"] = True
st.sidebar.toggle("Presenter mode", key="presenter", help="Large fonts for a projector; plain and residual stay "
                  "side by side.")
# The link says presenter=1 on every page while it is on, Home too (the views' url_state writes it as well): a
# sidebar link or a preset opens the next page with it, and a copied link opens in presenter mode.
if st.session_state.get("presenter"):
    if st.query_params.get("presenter") != "1":
        st.query_params["presenter"] = "1"
elif "presenter" in st.query_params:
    del st.query_params["presenter"]
if st.session_state.get("presenter"):
    st.html("<style>" + (Path(__file__).parent / "assets" / "presenter.css").read_text() + "</style>")
# Every page's trained-pair picker goes here, under the presenter switch (ui.common.pick_pair).
st.session_state["_pair_slot"] = st.sidebar.container()  # ui.common.PAIR_SLOT
common.store_notice()  # a run store that cannot save trained runs is said (once a session for each failure) …
with warmup.page_run():  # the server's warm-up waits while a page runs (ui.warmup.yield_to_pages)
    page.run()
common.store_notice()  # … including a failure of this run's trainings
