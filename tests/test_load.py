"""Several students at once, reduced for CI: benchmarks/load_test.py with 3 sessions.

One `streamlit run app.py` on localhost, 3 concurrent browser sessions (isolated contexts),
each renders the home page and two view pages; every render must finish with no exception,
no error box, and a plotly chart on the view pages. The full measurement (10 sessions,
every page, timings) is `python benchmarks/load_test.py --sessions 10`.
"""

import asyncio
import os

import load_test  # benchmarks/ is on pytest's pythonpath (pytest.ini)
import pytest
from browser_util import CHROMIUM, ROOT, streamlit_server

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
SESSIONS = 3
PAGES = ["home", "build_train", "ensemble"]
SHOTS = os.path.join(ROOT, "artifacts", "load_test")  # screenshots of failed pages


@pytest.mark.timeout(1500)
def test_three_sessions_at_once_render_without_failures(capsys):
    # As in a lecture: the server starts training the default pair at once; all three
    # sessions ask for it at the same moment and must get the one shared result. Generous
    # waits: training that pair takes 2 minutes on a busy 2-core machine, longer under load.
    with streamlit_server(env={"RESNET_VIZ_WARM": "1"}) as url:
        results, _, _ = asyncio.run(load_test.load(url, SESSIONS, PAGES, page_timeout=600, timeout=1200,
                                                   reference=False, shots=SHOTS))
    failures = load_test.summarize(results, [], SESSIONS, 0.0)
    report = capsys.readouterr().out
    assert failures == 0, report
    # Every session rendered every page (nothing silently skipped or cancelled).
    assert sorted((r.session, r.page) for r in results) == sorted((s, p) for s in range(SESSIONS) for p in PAGES)
    # The view pages really drew charts: the default pair's training curves (3) and the
    # ensemble view's deletion bars, k-sweep and path figures.
    for r in results:
        if r.page == "build_train":
            assert r.charts >= 3, report
        elif r.page == "ensemble":
            assert r.charts >= 3, report


def test_the_checker_catches_errors_and_missing_charts():
    """The load test's page check fails pages that show an error box, an exception, or no chart
    (pages served by Playwright's router, no server: the check itself is under test)."""
    from playwright.async_api import async_playwright

    idle = '<div data-testid="stApp" data-test-script-state="notRunning">app</div>'
    chart = '<div class="js-plotly-plot">chart</div>'
    cases = [
        ("ok", "ensemble", idle + chart),
        ("error", "ensemble", idle + chart + '<div data-testid="stAlertContentError">Boom</div>'),
        ("exception", "home", idle + '<div data-testid="stException">ValueError: x</div>'),
        ("nochart", "landscape", idle),
        ("nochart", "home", idle + "<h1>ResNet Lab</h1>"),
    ]
    served = {}

    async def check():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=load_test.CHROMIUM_ARGS)
            context = await browser.new_context()
            await context.route("http://lab.invalid/**", lambda route: route.fulfill(
                content_type="text/html", body=served["body"]))
            page = await context.new_page()
            out = {}
            for case, name, body in cases:
                served["body"] = body
                out[case, name] = await load_test.render(page, "http://lab.invalid", name, 0, 10_000)
            await browser.close()
            return out

    out = asyncio.run(check())
    assert out["ok", "ensemble"].failure is None and out["ok", "ensemble"].charts == 1
    assert "Boom" in out["error", "ensemble"].failure
    assert "ValueError" in out["exception", "home"].failure
    assert out["nochart", "landscape"].failure == "no plotly chart on a view page"
    assert out["nochart", "home"].failure is None  # the home page needs no chart
