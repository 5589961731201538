"""Time to the first chart of Build & train on a fresh server, with and without the shipped
default runs (issue 14, "instant first figures").

Each case starts its own `streamlit run app.py` on localhost (benchmarks/browser_util.streamlit_server,
the default pair warmed in the background as in production, RESNET_VIZ_WARM=1) and opens
Build & train in headless Chromium the moment the server answers its health check. Timed: from
launching the server, and from opening the page, to the first plotly chart drawn.

  before: RESNET_VIZ_SHIPPED_RUNS=none: the server trains the default pair (as before issue 14)
  after:  the shipped runs in assets/runs are loaded at startup

With --presets: every preset (or those named) on its own fresh server: Home is opened the moment the server
answers, the preset's "Open" clicked at once, and timed from the click to the target page's first chart (and to
the page settled), against the 3 s goal (issue 35).

With --pages: every view page on its own fresh server instead, opened the moment it answers and
once its warm-up (ui/warmup.py) has computed every default view, against the 3 s goal; each line
also says when the frontend's websocket opened and when the first chart's message reached the
browser (the server's part), the rest being the browser's drawing.

Printed: both times per case and the ratio before/after (the reference is measured in the
same run). Times on a shared machine are pessimistic.

    python benchmarks/first_chart.py [--repeats 1] [--threads N]
    python benchmarks/first_chart.py --pages [PAGE ...]
    python benchmarks/first_chart.py --presets [SLUG ...]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from browser_util import IDLE, launch, streamlit_server, wait_warm  # benchmarks/browser_util.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAGE = "build_train"
VIEW_PAGES = ("build_train", "landscape", "shattering", "ensemble", "features", "family")
TIMEOUT_MS = 600_000


def first_chart(env: dict, page_name: str = PAGE, warm: bool = False) -> tuple[float, float, dict]:
    """(seconds from server launch, seconds from opening the page) to the first visible plotly chart,
    on a fresh server with an empty run store of its own; the page is opened as soon as the server
    answers, or with `warm` once its warm-up has every default view ready. The third value splits
    the wait, in seconds from opening the page: "socket" (the frontend's websocket opened) and
    "sent" (the first chart's message reached the browser); the rest is the browser drawing."""
    import tempfile

    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    marks: dict[str, float] = {}
    t_launch = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, \
            streamlit_server(env={"RESNET_VIZ_WARM": "1", "RESNET_VIZ_RUN_STORE": folder, **env}, timeout=120) as url, \
            sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            if warm:
                wait_warm(url)

            def frame(payload) -> None:  # a message from the server: is it the first chart?
                if "sent" in marks or isinstance(payload, str):
                    return
                msg = ForwardMsg()
                msg.ParseFromString(payload)
                if msg.WhichOneof("type") == "delta" and msg.delta.new_element.WhichOneof("type") == "plotly_chart":
                    marks["sent"] = time.perf_counter() - t_open

            def socket(ws) -> None:
                marks.setdefault("socket", time.perf_counter() - t_open)
                ws.on("framereceived", frame)

            page.on("websocket", socket)
            t_open = time.perf_counter()
            page.goto(f"{url}/{page_name}", timeout=TIMEOUT_MS)
            page.wait_for_selector(".js-plotly-plot >> visible=true", timeout=TIMEOUT_MS)
            t_chart = time.perf_counter()
            page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
            if page.locator('[data-testid="stException"]').count():
                raise RuntimeError("the page showed an exception")
        finally:
            browser.close()
    return t_chart - t_launch, t_chart - t_open, marks


def preset_chart(env: dict, slug: str) -> tuple[float, float, str]:
    """(seconds from the click on the preset's "Open" on Home to the target page's first visible chart, seconds to
    the page settled, the page's URL path, seconds to the first chart's message reaching the browser) on a fresh server with an empty run store of its own, Home opened the
    moment the server answers."""
    import tempfile

    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from browser_util import wait_idle

    with tempfile.TemporaryDirectory() as folder, \
            streamlit_server(env={"RESNET_VIZ_WARM": "1", "RESNET_VIZ_RUN_STORE": folder, **env}, timeout=120) as url, \
            sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            sockets: list = []
            page.on("websocket", lambda ws: sockets.append(ws))
            page.goto(url, timeout=TIMEOUT_MS)
            button = page.locator(f".st-key-preset_{slug} button")
            button.wait_for(timeout=TIMEOUT_MS)
            sent: list[float] = []

            def frame(payload) -> None:  # a message from the server: is it the first chart?
                if sent or isinstance(payload, str):
                    return
                msg = ForwardMsg()
                msg.ParseFromString(payload)
                if msg.WhichOneof("type") == "delta" and msg.delta.new_element.WhichOneof("type") == "plotly_chart":
                    sent.append(time.perf_counter() - t_click)

            for ws in sockets:
                ws.on("framereceived", frame)
            t_click = time.perf_counter()
            button.click()
            page.wait_for_url(lambda u: u.rstrip("/") != url.rstrip("/") and "/?" not in u, timeout=TIMEOUT_MS)
            page.wait_for_selector(".js-plotly-plot >> visible=true", timeout=TIMEOUT_MS)
            t_chart = time.perf_counter()
            wait_idle(page, timeout_ms=TIMEOUT_MS)
            t_idle = time.perf_counter()
            if page.locator('[data-testid="stException"]').count():
                raise RuntimeError(f"{slug}: the page showed an exception")
            path = page.url.split("//", 1)[1].split("/", 1)[1]
        finally:
            browser.close()
    return t_chart - t_click, t_idle - t_click, path, sent[0] if sent else math.nan


def every_preset(slugs: list[str], repeats: int, env: dict) -> int:
    """Time each preset, clicked on Home of its own fresh server, to its first chart; print the times and their
    ratio to the 3 s goal."""
    goal, worst = 3.0, 0.0
    for slug in slugs:
        best = min((preset_chart(env, slug) for _ in range(repeats)), key=lambda r: r[0])
        worst = max(worst, best[0])
        print(f"{slug:22s} first chart {best[0]:4.1f} s after the click (its message sent by {best[3]:4.1f} s), "
              f"settled {best[1]:4.1f} s, {best[0] / goal:.2f}x the 3 s goal ({best[2].split('?')[0]})", flush=True)
    print(f"slowest preset: first chart {worst:.1f} s after the click, {worst / goal:.2f}x the 3 s goal")
    return 0


def main() -> int:
    """Measure both cases and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (the best is kept)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the servers")
    parser.add_argument("--pages", nargs="*", default=None, choices=VIEW_PAGES,
                        help="instead: time every view page (or those named) on its own fresh server, "
                             "with the shipped runs, against the goal of 3 s from opening the page")
    parser.add_argument("--presets", nargs="*", default=None,
                        help="instead: time every preset (or those named), clicked on Home of its own fresh server")
    args = parser.parse_args()
    extra = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    if args.presets is not None:
        from resnet_viz.presets import preset_slugs

        return every_preset(args.presets or preset_slugs(), args.repeats, extra)
    if args.pages is not None:
        return every_page(args.pages or list(VIEW_PAGES), args.repeats, extra)
    cases = {"before (training)": {"RESNET_VIZ_SHIPPED_RUNS": "none"}, "after (shipped runs)": {}}
    best = {}
    for name, env in cases.items():
        times = []
        for i in range(args.repeats):
            times.append(first_chart({**env, **extra})[:2])
            print(f"{name} run {i + 1}: first chart {times[-1][0]:.1f} s after server launch, "
                  f"{times[-1][1]:.1f} s after opening the page", flush=True)
        best[name] = min(times)
    (b_launch, b_open), (a_launch, a_open) = best.values()
    print(f"\nfirst chart of Build & train on a fresh server (best of {args.repeats}):")
    print(f"  from server launch: before {b_launch:.1f} s, after {a_launch:.1f} s, ratio {b_launch / a_launch:.1f}x")
    print(f"  from opening page:  before {b_open:.1f} s, after {a_open:.1f} s, ratio {b_open / a_open:.1f}x")
    return 0


def every_page(pages: list[str], repeats: int, env: dict) -> int:
    """Time each page's first chart on its own fresh server, opened the moment the server answers and
    once its warm-up is done; print the times and their ratio to the 3 s goal."""
    goal = 3.0
    worst = {False: 0.0, True: 0.0}
    for name in pages:
        for warm in (False, True):
            best = min((first_chart(env, name, warm) for _ in range(repeats)), key=lambda r: r[1])
            worst[warm] = max(worst[warm], best[1])
            when = "after the warm-up" if warm else "at once        "
            split = (f"; websocket open at {best[2]['socket']:.1f} s, chart sent by {best[2]['sent']:.1f} s"
                     if {"socket", "sent"} <= best[2].keys() else "")
            print(f"{name:12s} opened {when}: first chart {best[1]:5.1f} s after opening the page "
                  f"({best[0]:5.1f} s after server launch{split}), {best[1] / goal:.2f}x the 3 s goal", flush=True)
    for warm, when in ((False, "opened at once"), (True, "opened after the warm-up")):
        print(f"slowest page {when}: {worst[warm]:.1f} s after opening it, {worst[warm] / goal:.2f}x the 3 s goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
