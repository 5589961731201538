"""Streamlit glue shared by the pages (widgets, the shared run store). No science here."""

import streamlit as st


def _leave_legacy_pages_mode() -> None:
    # Streamlit runs a `pages/` folder in its legacy multipage mode until app.py's
    # st.navigation has run once on the server. A deep link opened first (a
    # bookmarked or shared URL) would then run the page without app.py: no page
    # config, raw file names as navigation. Switch the flag and rerun through app.py.
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the flag: nothing to do
        return
    if PagesManager.uses_pages_directory and st.runtime.exists():
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_pages_mode()
