"""The pages' one error path: `guard(part)` around each independent part (section) of a page.

Inside a guard, an error the user can fix (the lab's own `USER_ERRORS` and ValueError: a bad setting, a
dataset that cannot be read, a run that cannot be loaded) is shown as today's one-line message
(`ui.common.show_error`). Any other exception is a bug: the part shows one short message where its figure
would be, the server's log gets the traceback, and the rest of the page and the other pages keep working.
Students never see a traceback: an exception no guard catches is shown by Streamlit with its type only
(`client.showErrorDetails = "type"` in .streamlit/config.toml).

Streamlit's control flow (`st.rerun`, `st.stop`, `st.switch_page`: BaseExceptions) and a fragment's
exception that Streamlit has already shown (FragmentHandledException) pass through untouched.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

import streamlit as st
from streamlit.errors import FragmentHandledException

from .common import USER_ERRORS, plain_text, show_error

# Errors a user can fix by changing a setting: shown as their own message, without "could not be drawn".
USER_FIXABLE = USER_ERRORS + (ValueError,)

log = logging.getLogger("resnet_viz.pages")  # under the lab's logger: app.py sends it to the server's log


class guard:
    """`with guard("Delete one block"):` draws a part of a page; an exception in it is shown in the part's
    place (see the module's docstring) and the page goes on after the block.

    `stop`: after a failure, stop the page (for a part the rest of the page needs, such as the trained pair).
    `where`: the container the message goes to (default: where the page is drawing; an `st.empty()` holder of a
    preview is replaced by it). After the block, `failed` says whether the part failed.
    """

    def __init__(self, part: str, *, stop: bool = False, where=None) -> None:
        self.part, self.stop, self.where = part, stop, where
        self.failed = False

    def __enter__(self) -> "guard":
        return self

    def __exit__(self, kind, error, tb) -> bool:
        if error is None or not isinstance(error, Exception) or isinstance(error, FragmentHandledException):
            return False  # Streamlit's control flow (BaseException) and errors it has shown itself go on
        self.failed = True
        with self.where.container() if self.where is not None else nullcontext():
            if isinstance(error, USER_FIXABLE):
                show_error(error)
            else:
                log.error("%s could not be drawn", self.part, exc_info=(kind, error, tb))
                st.error(f"**{plain_text(self.part, 80)}** could not be drawn for these settings: "
                         f"{plain_text(f'{type(error).__name__}: {error}', 160)} (the details are in the server's "
                         "log)", icon=":material/error:")
        if self.stop:
            st.stop()
        return True
