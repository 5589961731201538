"""Load test: many students on one server (issues 7 and 14, "several users at once").

Starts one `streamlit run app.py` on localhost (benchmarks/browser_util.streamlit_server) and
opens N sessions at once, each of which renders every page in turn. Two kinds of client:

- protocol (default): each session speaks Streamlit's own websocket protocol
  (benchmarks/st_protocol.py): it fetches the app's page and scripts once, then asks for each
  page's run as a sidebar click does and reads the elements the server sends. No browser runs,
  so the figures are the server's alone, as in a lecture where every student's browser draws
  on the student's laptop. A page fails on an exception or error element, a view page without
  a chart, or a run that does not finish.
- browser: one headless Chromium with an isolated context a session (Playwright's async API).
  A page counts as rendered when the script is idle
  (`[data-testid="stApp"][data-test-script-state="notRunning"]`, twice, a second apart); it
  fails when it shows an exception or an error box, or, for a view page, no plotly chart (up
  to CHART_WAIT_MS is allowed for drawing). The browsers share the server's cores here, so
  this measures the whole machine (screenshots of failed pages go to artifacts/load_test/).

Sessions start on different pages (session i starts at page i mod len(pages)), so heavy
pages are hit at the same moment, as in a lecture where students click around. The server is
fresh (a run store of its own) and, as before a lecture, the sessions start once its warm-up
(ui/warmup.py: the default pair and every view's default result) is done; with --cold they
start the moment it answers, and the first sessions wait for the warm-up, as students would.

Timed per page: from opening it to its first chart (view pages) or its title (the others);
with the protocol client also to the end of its script run ("done").

Printed: a line a rendered page while it runs; failures (target: none), per-page p50, p95 and
slowest time under load, the slowest page; then, as the reference measured in the same run,
one session alone renders every page on the now-warm server, and the ratio load/alone per page
is printed; last, the server process's CPU time. Exit status 1 when any page failed (2 for
bad flags). Times on a shared machine are pessimistic.

    python benchmarks/load_test.py --sessions 30
    python benchmarks/load_test.py --sessions 10 --client browser
    python benchmarks/load_test.py --sessions 3 --pages home landscape ensemble --no-reference

Loopback only; bounded: at most 50 sessions, every page wait is capped (--page-timeout),
and the whole run is cancelled after --timeout seconds (those pages count as failures).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

from browser_util import (CHROMIUM, CHROMIUM_ARGS, PAGES as ALL_PAGES, SETTLED, WATCH_SCRIPT_STATE, cpu_seconds, rss_mib,  # benchmarks/
                          streamlit_server, wait_warm)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# URL path of each page ("" is the home page; "home" is the same page by name).
PAGES = ("home", *ALL_PAGES[1:])
VIEW_PAGES = frozenset(PAGES) - {"home", "identity"}  # identity trains on request only
MAX_SESSIONS = 50
CHART_WAIT_MS = 120_000  # longest wait for a view page's first chart once its script is idle
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')


@dataclass
class PageResult:
    """One page render by one session."""

    session: int
    page: str
    seconds: float
    charts: int
    failure: str | None = None  # None: rendered, no error, charts where a view needs them
    done: float | None = None  # protocol client: seconds to the end of the page's script run


async def wait_idle(page, timeout_ms: int, quiet_ms: int = 1000) -> None:
    """Async twin of browser_util.wait_idle: the script idle and unchanged for `quiet_ms` (conditions on the page,
    bounded by `timeout_ms`)."""
    await page.wait_for_function(WATCH_SCRIPT_STATE, timeout=timeout_ms)
    await page.wait_for_function(SETTLED, arg=quiet_ms, timeout=timeout_ms, polling=100)


async def render(page, url: str, name: str, session: int, timeout_ms: int, shots: str | None = None) -> PageResult:
    """Open one page, wait until its script is idle, and check what it shows.

    A failed page is saved as a screenshot in `shots` (when given) for a look at what it showed.
    """
    t0 = time.perf_counter()
    seconds = None
    try:
        await page.goto(f"{url}/{name}", timeout=timeout_ms)
        # Timed: until the first chart is drawn on a view page (a chart in a closed expander, as Build &
        # train's architecture, is never visible), until the title (or an error) is on the others.
        first = ".js-plotly-plot >> visible=true" if name in VIEW_PAGES else ", ".join(("h1",) + ERROR_SELECTORS)
        try:
            await page.wait_for_selector(first, timeout=min(timeout_ms, CHART_WAIT_MS if name in VIEW_PAGES else timeout_ms))
            seconds = time.perf_counter() - t0
        except Exception:  # no chart: counted (as zero charts) below, once the script is idle
            pass
        await wait_idle(page, timeout_ms)  # then the whole page is checked
    except Exception as e:  # Playwright's TimeoutError and navigation errors
        await _shot(page, shots, session, name)
        return PageResult(session, name, time.perf_counter() - t0, 0,
                          f"did not finish: {str(e).splitlines()[0][:160]}")
    if seconds is None:
        seconds = time.perf_counter() - t0
    failure = None
    for sel in ERROR_SELECTORS:
        loc = page.locator(sel)
        if await loc.count():
            text = (await loc.first.inner_text()).strip().splitlines()
            failure = f"{sel.split('=')[1].strip(']')}: {(text[0] if text else '')[:160]}"
            break
    charts = await page.locator(".js-plotly-plot").count()
    if failure is None and name in VIEW_PAGES and charts < 1:
        failure = "no plotly chart on a view page"
    if failure:
        await _shot(page, shots, session, name)
    return PageResult(session, name, seconds, charts, failure)


async def _shot(page, shots: str | None, session: int, name: str) -> None:
    if shots:
        os.makedirs(shots, exist_ok=True)
        try:
            await page.screenshot(path=os.path.join(shots, f"session{session}-{name}.png"), full_page=True)
        except Exception:  # a page that is gone has nothing to show
            pass


def progress_line(result: PageResult, done: int, total: int) -> None:
    """One line a rendered page, as the load goes on: `[done/total] session page seconds`."""
    what = f"FAILED: {result.failure}" if result.failure else f"{result.charts} charts"
    print(f"[{done}/{total}] session {result.session} {result.page}: {result.seconds:.1f} s, {what}", flush=True)


def _order(pages: list[str], session: int, rotate: bool) -> list[str]:
    """The pages in the order one session renders them: from page `session` mod len(pages) on, with `rotate`."""
    k = session % len(pages) if rotate else 0
    return pages[k:] + pages[:k]


async def run_session(browser, url: str, pages: list[str], session: int, timeout_ms: int,
                      rotate: bool = True, shots: str | None = None, report=None) -> list[PageResult]:
    """One student: an isolated browser context that renders every page once; `report(result)` after each."""
    order = _order(pages, session, rotate)
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    results = []
    try:
        page = await context.new_page()
        for name in order:
            results.append(await render(page, url, name, session, timeout_ms, shots))
            if report is not None:
                report(results[-1])
    finally:
        await context.close()
    return results


async def load(url: str, sessions: int, pages: list[str], page_timeout: float, timeout: float,
               reference: bool, client: str = "protocol", shots: str | None = None,
               progress: bool = False) -> tuple[list[PageResult], list[PageResult], float]:
    """Run `sessions` sessions at once against `url` (with `progress`, a line a rendered page); then
    (optionally) one alone. `client`: "protocol" (benchmarks/st_protocol.py, no browser: the server
    alone is measured) or "browser" (one headless Chromium, a context a session).

    Returns (results under load, reference results, wall seconds of the load). Pages not
    rendered when `timeout` seconds have passed are reported as failures.
    """
    total = sessions * len(pages)
    done_count = [0]

    def report(result: PageResult) -> None:
        done_count[0] += 1
        if progress:
            progress_line(result, done_count[0], total)

    async def run_all(session_fn) -> tuple[list[PageResult], list[PageResult], float]:
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(session_fn(i, True, report)) for i in range(sessions)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        wall = time.perf_counter() - t0
        for t in pending:
            t.cancel()
        results = []
        for i, t in enumerate(tasks):
            if t in done and t.exception() is None:
                results.extend(t.result())
            else:
                why = "cancelled: the run took longer than --timeout" if t in pending else repr(t.exception())
                results.append(PageResult(i, "(session)", timeout, 0, why))
        ref = await asyncio.wait_for(session_fn(0, False, None), timeout=max(60.0, timeout / 2)) if reference else []
        return results, ref, wall

    if client == "protocol":
        return await run_all(lambda i, rotate, rep: protocol_session(url, pages, i, page_timeout, rotate, rep))
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return await run_all(lambda i, rotate, rep: run_session(browser, url, pages, i, int(page_timeout * 1000),
                                                                    rotate, shots, rep))
        finally:
            await browser.close()


async def protocol_session(url: str, pages: list[str], session: int, timeout: float, rotate: bool = True,
                           report=None) -> list[PageResult]:
    """One student without a browser (benchmarks/st_protocol.py): the app's page and scripts fetched once,
    then every page opened in turn over one websocket, as sidebar clicks open them; `report(result)`
    after each.

    Timed per page: from asking for its run to its first plotly chart (view pages) or its title
    (the others) arriving at the client; the page fails on an exception or error element, a
    view page without a chart, a run that does not finish within `timeout`, or a closed socket.
    """
    from st_protocol import Session, fetch_shell

    order = _order(pages, session, rotate)
    results = []
    client = Session(url)
    try:
        await asyncio.to_thread(fetch_shell, url, timeout)
        await client.connect()
        for name in order:
            t0 = time.perf_counter()
            try:
                run = await client.open_page(name, timeout=timeout)
            except Exception as e:  # TimeoutError, a closed connection
                result = PageResult(session, name, time.perf_counter() - t0, 0, f"did not finish: {e!r}"[:200])
            else:
                first = run.first_chart if name in VIEW_PAGES else run.first_heading
                failure = run.error
                if failure is None and name in VIEW_PAGES and not run.charts:
                    failure = "no plotly chart on a view page"
                elif failure is None and first is None:
                    failure = "no title on the page"
                result = PageResult(session, name, first if first is not None else run.finished, run.charts, failure,
                                    done=run.finished)
            results.append(result)
            if report is not None:
                report(result)
    finally:
        await client.close()
    return results


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def summarize(results: list[PageResult], ref: list[PageResult], sessions: int, wall: float) -> int:
    """Print failures, per-page p50, p95 and slowest time, the slowest page; return the number of failures."""
    failures = [r for r in results if r.failure]
    print(f"{sessions} sessions at once, {len(results)} page renders in {wall:.1f} s wall (2-core shared machine: "
          "times are pessimistic)")
    print(f"failures: {len(failures)}")
    for r in failures:
        print(f"  session {r.session} {r.page}: {r.failure}")
    alone = {r.page: r.seconds for r in ref if not r.failure}
    print(f"{'page':<12} {'renders':>7} {'p50 s':>7} {'p95 s':>7} {'slowest s':>10} {'alone s':>8} {'p50/alone':>10}"
          f" {'done p95 s':>11}")
    by_page: dict[str, list[PageResult]] = {}
    for r in results:
        if r.page != "(session)":
            by_page.setdefault(r.page, []).append(r)
    for name, rs in by_page.items():
        times = [r.seconds for r in rs]
        med, p95 = statistics.median(times), _p95(times)
        a = alone.get(name)
        alone_s, ratio = (f"{a:8.2f}", f"{med / a:10.1f}") if a else (f"{'-':>8}", f"{'-':>10}")
        done = [r.done for r in rs if r.done is not None]
        done_s = f"{_p95(done):11.1f}" if done else f"{'-':>11}"
        print(f"{name:<12} {len(times):>7} {med:>7.1f} {p95:>7.1f} {max(times):>10.1f} {alone_s} {ratio} {done_s}")
    rendered = [r for r in results if r.page != "(session)"]
    if rendered:
        worst = max(rendered, key=lambda r: r.seconds)
        print(f"slowest page: {worst.page} ({worst.seconds:.1f} s, session {worst.session})")
    return len(failures)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, start the server, run the load, print the summary; exit status 1 on failures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help=f"sessions at once, 1..{MAX_SESSIONS} (default 10)")
    ap.add_argument("--client", choices=("protocol", "browser"), default="protocol",
                    help="protocol (default): clients speaking Streamlit's websocket protocol, so the server alone "
                         "is measured; browser: headless Chromium, which draws on the same cores")
    ap.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES), help="pages each session renders (default: all)")
    ap.add_argument("--page-timeout", type=float, default=300, help="seconds one page may take (default 300)")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds the whole load may take (default 1200)")
    ap.add_argument("--cold", action="store_true",
                    help="open the sessions the moment the server answers, not once its warm-up is done")
    ap.add_argument("--no-reference", action="store_true", help="skip the one-session-alone reference pass")
    ap.add_argument("--shots", default=os.path.join(ROOT, "artifacts", "load_test"),
                    help="folder for screenshots of failed pages (default artifacts/load_test)")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        ap.error(f"--sessions must be from 1 to {MAX_SESSIONS}")
    if args.client == "browser" and not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: install Debian's chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder, \
            streamlit_server(env={"RESNET_VIZ_WARM": "1", "RESNET_VIZ_RUN_STORE": folder}) as url:
        if not args.cold:
            print("waiting for the server's warm-up (every default view) …", flush=True)
            wait_warm(url)
        cpu0, t0, rss0 = cpu_seconds(url.pid), time.perf_counter(), rss_mib(url.pid)
        results, ref, wall = asyncio.run(load(url, args.sessions, list(args.pages), args.page_timeout,
                                              args.timeout, reference=not args.no_reference, client=args.client,
                                              shots=args.shots, progress=True))
        server_cpu, total, rss1 = cpu_seconds(url.pid) - cpu0, time.perf_counter() - t0, rss_mib(url.pid)
    n = summarize(results, ref, args.sessions, wall)
    cores = os.cpu_count() or 1
    renders = sum(r.page != "(session)" for r in results + ref)
    print(f"server process: {server_cpu:.0f} CPU s in {total:.0f} s ({server_cpu / (total * cores):.0%} of the "
          f"{cores} cores' {total * cores:.0f} s), {server_cpu / max(renders, 1):.2f} CPU s a page render; "
          f"resident memory {rss0:.0f} MiB before the sessions, {rss1:.0f} MiB after")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
