"""The pages' one error path (ui/errors.py, issue 36): a part that fails shows one short message in its place
and logs its traceback; the parts after it are drawn; Streamlit's control flow passes through."""

from __future__ import annotations

import logging
import os
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sections():
    import streamlit as st

    from ui.errors import guard

    with guard("The unrolled view"):
        st.markdown("drawn before the bug")
        raise RuntimeError("an unexpected bug")
    with guard("Gradient by path length"):
        st.markdown("a later section")
    with guard("Delete one block"):
        raise ValueError("pick two different test inputs from 0 to 359")  # the user's to fix: its own message
    holder = st.empty()
    holder.markdown("a preview")
    with guard("Training", where=holder) as part:  # the message takes the preview's place
        raise KeyError("x")
    st.session_state["failed"] = part.failed
    with guard("The last section"):
        st.markdown("the last section")


def test_a_failing_section_shows_a_short_message_logs_its_traceback_and_the_rest_is_drawn(caplog):
    with caplog.at_level(logging.ERROR, logger="resnet_viz.pages"):
        at = AppTest.from_function(_sections, default_timeout=60).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 3, errors
    assert errors[0].startswith("**The unrolled view** could not be drawn for these settings: RuntimeError: an "
                                "unexpected bug")
    assert errors[1] == "pick two different test inputs from 0 to 359"  # ui.common.show_error's one line
    assert "**Training** could not be drawn" in errors[2] and "KeyError" in errors[2]
    assert all("Traceback" not in e and "line " not in e and len(e) < 400 for e in errors)
    shown = [m.value for m in at.markdown]
    assert shown == ["drawn before the bug", "a later section", "the last section"]  # the preview was replaced
    assert at.session_state["failed"] is True
    logged = [r for r in caplog.records if r.name == "resnet_viz.pages"]
    assert [r.getMessage() for r in logged] == ["The unrolled view could not be drawn", "Training could not be drawn"]
    assert logged[0].exc_info[0] is RuntimeError and "an unexpected bug" in caplog.text and "Traceback" in caplog.text


def _control_flow():
    import streamlit as st

    from ui.errors import guard

    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    with guard("Rerun") as rerun:
        if st.session_state["runs"] == 1:
            st.rerun()
    st.session_state["rerun_failed"] = rerun.failed
    with guard("Needed by the rest", stop=True):
        if st.session_state.get("fail"):
            raise ValueError("no trained pair")
    with guard("Stop"):
        st.markdown("before the stop")
        st.stop()
    st.markdown("never drawn")


def test_rerun_and_stop_pass_through_and_stop_ends_the_page_after_a_needed_part_fails():
    at = AppTest.from_function(_control_flow, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.session_state["runs"] == 2 and at.session_state["rerun_failed"] is False
    assert [m.value for m in at.markdown] == ["before the stop"]
    at.session_state["fail"] = True
    at.run()
    assert not at.exception and [e.value for e in at.error] == ["no trained pair"] and not at.markdown


@pytest.mark.parametrize("error", ["FragmentHandledException", "StopException", "KeyboardInterrupt"])
def test_errors_streamlit_handles_itself_pass_through(error):
    # A fragment's exception is shown by Streamlit and re-raised as FragmentHandledException: not shown twice.
    from streamlit.errors import FragmentHandledException
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from ui.errors import guard

    kind = {"FragmentHandledException": FragmentHandledException, "StopException": StopException,
            "KeyboardInterrupt": KeyboardInterrupt}[error]
    with pytest.raises(kind):
        with guard("a part") as part:
            raise kind()
    assert not part.failed


def test_students_never_see_a_traceback():
    with open(os.path.join(ROOT, ".streamlit", "config.toml"), "rb") as f:
        config = tomllib.load(f)
    assert config["client"]["showErrorDetails"] in ("type", "none")  # Streamlit 1.67's values without traces
