"""End-to-end (issue 16): work nobody waits for stops. Two tabs open a link to a pair that is not
trained yet; the first trains it, the second waits and shows the first one's progress. When both
tabs close, the server stops computing (before: the waiting tab took the training over with no
progress callback, so nothing stopped it, and it kept the cores busy for half an hour).
"""

import os
import time

import pytest

from browser_util import CHROMIUM, cpu_seconds, launch, streamlit_server

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

# The default pair trained for 100 epochs: minutes per net, so it cannot finish during the test.
LINK = "/landscape?epochs=100"


def busy_cores(pid: int, over_s: float = 2.0) -> float:
    """Cores the process kept busy, on average, over the next `over_s` seconds."""
    before = cpu_seconds(pid)
    time.sleep(over_s)
    return (cpu_seconds(pid) - before) / over_s


def test_closing_every_tab_that_waits_for_a_training_stops_it():
    from playwright.sync_api import sync_playwright

    # No training-time limit: on a busy machine the server's estimate for 100 epochs (from the first two steps)
    # can pass its default 10 min, and it would refuse the training this test needs running.
    env = {"RESNET_VIZ_WARM": "0", "RESNET_VIZ_RUN_STORE": "none", "RESNET_VIZ_TORCH_THREADS": "1",
           "RESNET_VIZ_MAX_TRAIN_MINUTES": "0"}
    with streamlit_server(env=env) as url, sync_playwright() as p:
        browser = launch(p)
        try:
            first, second = browser.new_page(), browser.new_page()
            first.goto(url + LINK)
            first.get_by_text("Training the plain net").first.wait_for(timeout=120_000)
            second.goto(url + LINK)
            second.get_by_text("being trained for another session").first.wait_for(timeout=120_000)
            # Training: the server keeps a core busy (a good part of one on a machine busy with other work).
            assert busy_cores(url.pid, over_s=3.0) > 0.25
            first.close()
            second.close()
            # Nobody waits any more: the server goes quiet (bounded; a training left running stays busy).
            deadline = time.monotonic() + 90
            while busy_cores(url.pid) > 0.1:
                assert time.monotonic() < deadline, "the server kept training after every tab that asked had closed"
        finally:
            browser.close()
