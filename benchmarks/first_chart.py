"""Time to the first chart of Build & train on a fresh server, with and without the shipped
default runs (issue 14, "instant first figures").

Each case starts its own `streamlit run app.py` on localhost (benchmarks/browser_util.streamlit_server,
the default pair warmed in the background as in production, RESNET_VIZ_WARM=1) and opens
Build & train in headless Chromium the moment the server answers its health check. Timed: from
launching the server, and from opening the page, to the first plotly chart drawn.

  before: RESNET_VIZ_DEFAULT_RUNS=none: the server trains the default pair (as before issue 14)
  after:  the shipped runs in assets/default_runs are loaded at startup

Printed: both times per case and the ratio before/after (the reference is measured in the
same run). Times on a shared machine are pessimistic.

    python benchmarks/first_chart.py [--repeats 1] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from browser_util import IDLE, launch, streamlit_server  # benchmarks/browser_util.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAGE = "build_train"
TIMEOUT_MS = 600_000


def first_chart(env: dict) -> tuple[float, float]:
    """(seconds from server launch, seconds from opening the page) to the first plotly chart."""
    from playwright.sync_api import sync_playwright

    t_launch = time.perf_counter()
    with streamlit_server(env={"RESNET_VIZ_WARM": "1", **env}, timeout=120) as url, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            t_open = time.perf_counter()
            page.goto(f"{url}/{PAGE}", timeout=TIMEOUT_MS)
            page.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT_MS)
            t_chart = time.perf_counter()
            page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
            if page.locator('[data-testid="stException"]').count():
                raise RuntimeError("the page showed an exception")
        finally:
            browser.close()
    return t_chart - t_launch, t_chart - t_open


def main() -> int:
    """Measure both cases and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (the best is kept)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the servers")
    args = parser.parse_args()
    extra = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    cases = {"before (training)": {"RESNET_VIZ_DEFAULT_RUNS": "none"}, "after (shipped runs)": {}}
    best = {}
    for name, env in cases.items():
        times = []
        for i in range(args.repeats):
            times.append(first_chart({**env, **extra}))
            print(f"{name} run {i + 1}: first chart {times[-1][0]:.1f} s after server launch, "
                  f"{times[-1][1]:.1f} s after opening the page", flush=True)
        best[name] = min(times)
    (b_launch, b_open), (a_launch, a_open) = best.values()
    print(f"\nfirst chart of Build & train on a fresh server (best of {args.repeats}):")
    print(f"  from server launch: before {b_launch:.1f} s, after {a_launch:.1f} s, ratio {b_launch / a_launch:.1f}x")
    print(f"  from opening page:  before {b_open:.1f} s, after {a_open:.1f} s, ratio {b_open / a_open:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
