"""Streamlit glue shared by the pages (widgets, the shared run store). No science here."""
