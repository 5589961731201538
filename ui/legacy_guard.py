"""Deep links on a fresh server go through app.py's navigation.

Streamlit runs a `pages/` folder in its legacy multipage mode until app.py's
st.navigation has run once on the server. A deep link opened first (a bookmarked or
shared URL) would then run the page without app.py: no page config, raw file names as
navigation. Importing this module switches that flag and reruns the script through app.py.

It is a module of its own, not the `ui` package's __init__: the rerun is raised while
this module is being imported, and Python then drops only this module from sys.modules.
Raised inside `ui/__init__`, it dropped the `ui` package while other sessions were
importing `ui.common`, and they failed with KeyError 'ui'.
"""

import streamlit as st


def leave_legacy_pages_mode() -> None:
    """Leave Streamlit's legacy `pages/` mode and rerun through app.py (a private flag, guarded:
    on a Streamlit without it, nothing is done)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", False) and st.runtime.exists():
        PagesManager.uses_pages_directory = False
        st.rerun()


leave_legacy_pages_mode()
