"""Streamlit glue shared by the pages (widgets, the shared run store). No science here.

Importing `ui.common` (or `ui.legacy_guard`) first sends a deep link opened on a fresh
server through lab.py's navigation (see ui/legacy_guard.py).
"""
