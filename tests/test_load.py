"""Several students at once, reduced for CI: benchmarks/load_test.py with 2 browser sessions and
with 10 protocol clients.

One `streamlit run app.py` on localhost, 2 concurrent browser sessions (isolated contexts),
each renders the home page and two view pages; every render must finish with no exception,
no error box, and a plotly chart on the view pages. Then 10 clients that speak Streamlit's
protocol (benchmarks/st_protocol.py) render every page. The full measurement (30 sessions,
every page, timings) is `python benchmarks/load_test.py --sessions 30`.
"""

import asyncio
import os
import re
import tempfile
import urllib.request

import load_test  # benchmarks/ is on pytest's pythonpath (pytest.ini)
import pytest
import st_protocol
from browser_util import CHROMIUM, ROOT, streamlit_server, wait_warm
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
SESSIONS = 2
PAGES = ["home", "build_train", "ensemble"]
SHOTS = os.path.join(ROOT, "artifacts", "load_test")  # screenshots of failed pages


@pytest.fixture(scope="module")
def lecture_server():
    """One fresh server for this module's two loads (its warm-up on, its own run store): the browser sessions
    arrive while it still warms up, the protocol clients once it is done."""
    with tempfile.TemporaryDirectory() as folder, \
            streamlit_server(env={"RESNET_VIZ_WARM": "1", "RESNET_VIZ_RUN_STORE": folder}) as url:
        yield url


@pytest.mark.browser
@needs_chromium
@pytest.mark.timeout(1500)
def test_two_browser_sessions_at_once_render_without_failures(capsys, lecture_server):
    # As in a lecture: the server has just started and warms up; both sessions ask for the
    # default pair and views at the same moment and must get the one shared result. Generous
    # waits: training that pair (were its runs not shipped) takes minutes on a busy 2-core machine.
    url = lecture_server
    results, _, _ = asyncio.run(load_test.load(url, SESSIONS, PAGES, page_timeout=600, timeout=1200,
                                               reference=False, client="browser", shots=SHOTS))
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


@pytest.mark.timeout(900)
def test_ten_protocol_clients_render_every_page(capsys, lecture_server):
    """Ten students without browsers, every page each, once the warm-up is done: no failure, every page
    rendered with its title, each view page with its charts, and each page's run finished."""
    url = lecture_server
    wait_warm(url)
    results, _, _ = asyncio.run(load_test.load(url, 10, list(load_test.PAGES), page_timeout=300, timeout=600,
                                               reference=False, client="protocol"))
    # The page a browser opens preloads plotly's chart script (ui.preload), which the server serves.
    request = urllib.request.Request(url + "/shattering", headers={"Accept-Encoding": "gzip"})
    page = urllib.request.urlopen(request, timeout=30).read().decode()
    script = re.search(r'<link rel="modulepreload" crossorigin href="\./(static/js/PlotlyChart\.[^"]+)">', page)
    assert script, page[:500]
    assert len(urllib.request.urlopen(f"{url}/{script.group(1)}", timeout=30).read()) > 1_000_000
    failures = load_test.summarize(results, [], 10, 0.0)
    report = capsys.readouterr().out
    assert failures == 0, report
    assert sorted((r.session, r.page) for r in results) == sorted((s, p) for s in range(10) for p in load_test.PAGES)
    for r in results:
        assert r.done is not None and r.done >= r.seconds, report
        if r.page in load_test.VIEW_PAGES:
            assert r.charts >= 1, report


def _message(kind: str, **fields) -> bytes:
    msg = ForwardMsg()
    if kind == "script_finished":
        msg.script_finished = fields["status"]
    else:
        element = msg.delta.new_element
        if kind == "heading":
            element.heading.body = "Title"
        elif kind == "plotly_chart":
            element.plotly_chart.spec = "{}"
        elif kind == "exception":
            element.exception.type, element.exception.message = "ValueError", "bad value"
        elif kind == "alert":
            element.alert.body, element.alert.format = fields["body"], fields["format"]
    return msg.SerializeToString()


def test_the_protocol_client_reads_titles_charts_errors_and_the_end_of_a_run():
    """st_protocol.Session's reading of the server's messages, fed by hand (no server)."""
    session, run = st_protocol.Session("http://lab.invalid"), st_protocol.PageRun()
    finished = ForwardMsg.ScriptFinishedStatus
    for t, data in enumerate([_message("heading"), _message("alert", body="just so you know", format=Alert.INFO),
                              _message("plotly_chart"), _message("plotly_chart"),
                              _message("script_finished", status=finished.FINISHED_EARLY_FOR_RERUN)]):
        session._read(data, run, float(t))
    assert (run.first_heading, run.first_chart, run.charts, run.error, run.finished) == (0.0, 2.0, 2, None, None)
    session._read(_message("script_finished", status=finished.FINISHED_SUCCESSFULLY), run, 5.0)
    assert run.finished == 5.0  # a run cut for a rerun goes on; the successful end ends it
    for kind, fields, expected in (("exception", {}, "ValueError: bad value"),
                                   ("alert", {"body": "Boom\nmore", "format": Alert.ERROR}, "error box: Boom")):
        run = st_protocol.PageRun()
        session._read(_message(kind, **fields), run, 0.0)
        assert expected in run.error
    run = st_protocol.PageRun()
    session._read(_message("script_finished", status=finished.FINISHED_WITH_COMPILE_ERROR), run, 1.0)
    assert run.finished == 1.0 and run.error


@pytest.mark.browser
@needs_chromium
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
                out[case, name] = await load_test.render(page, "http://lab.invalid", name, 0, 3_000)
            await browser.close()
            return out

    out = asyncio.run(check())
    assert out["ok", "ensemble"].failure is None and out["ok", "ensemble"].charts == 1
    assert "Boom" in out["error", "ensemble"].failure
    assert "ValueError" in out["exception", "home"].failure
    assert out["nochart", "landscape"].failure == "no plotly chart on a view page"
    assert out["nochart", "home"].failure is None  # the home page needs no chart
