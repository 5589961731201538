"""Deep links on a fresh server go through lab.py's navigation.

Streamlit runs a `pages/` folder in its legacy multipage mode until lab.py's
st.navigation has run once on the server. A deep link opened first (a bookmarked or
shared URL) would then run the page without lab.py: no page config, raw file names as
navigation. Importing this module switches that flag and reruns the script through lab.py.

It is a module of its own, not the `ui` package's __init__: the rerun is raised while
this module is being imported, and Python then drops only this module from sys.modules.
Raised inside `ui/__init__`, it dropped the `ui` package while other sessions were
importing `ui.common`, and they failed with KeyError 'ui'.
"""

import streamlit as st


# Streamlit 1.67 has no public switch for this: no config option turns the `pages/` folder's
# legacy mode off, and st.navigation turns it off only once lab.py has run. So this writes the
# same private class attribute st.navigation writes (streamlit/commands/navigation.py), guarded:
# a Streamlit that renamed or dropped it gets no change here and no crash (the deep link then
# shows the legacy navigation until lab.py has run once). tests/test_legacy_guard.py fails when
# the pinned Streamlit no longer has the attribute, or no longer reads it.
FLAG = "uses_pages_directory"


def leave_legacy_pages_mode() -> None:
    """Leave Streamlit's legacy `pages/` mode and rerun through lab.py (see FLAG)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager

        if not (getattr(PagesManager, FLAG, False) and st.runtime.exists()):
            return
        setattr(PagesManager, FLAG, False)
    except (ImportError, AttributeError, TypeError):
        return
    st.rerun()


def leave_at_server_start() -> None:
    """At server start, before any session (app.py's warm-up): no legacy mode from the first request on.
    No script runs yet, so nothing is rerun. (This module is imported then too, and its import-time
    call does nothing, since the flag is not set yet; a session's later import finds it imported.)"""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if hasattr(PagesManager, FLAG):
        setattr(PagesManager, FLAG, False)


leave_legacy_pages_mode()
