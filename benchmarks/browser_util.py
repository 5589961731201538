"""Helpers for the browser tests and benchmarks: start `streamlit run app.py` on localhost, drive Debian's Chromium.

Also usable as a script to take screenshots of every page, on a fresh server, with no click:
    python benchmarks/browser_util.py OUT_DIR [page ...] [--size 1400x2400] [--presenter] [--viewport-only]
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

from resnet_viz.registry import VIEWS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--enable-unsafe-swiftshader"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# URL path of each page: Home ("") and every view's page, from the registry (a new view is in the list).
PAGES = ["", *(os.path.splitext(os.path.basename(v.page))[0] for v in VIEWS)]


def free_port() -> int:
    """An unused TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerURL(str):
    """The base URL of a server started by `streamlit_server`, with the server's process id in `.pid`
    and its log file in `.log`."""

    pid: int
    log: str


@contextlib.contextmanager
def streamlit_server(port: int | None = None, env: dict | None = None, timeout: float = 60):
    """Run `streamlit run app.py` on localhost:port for the duration of the block; yields the base URL
    (a `ServerURL`, whose `.pid` is the server's process)."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"streamlit-{port}.log"), "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid, url.log = proc.pid, log.name
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log.name})")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, in seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process now, in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def wait_warm(url: ServerURL, timeout: float = 600) -> None:
    """Wait until the server's warm-up (ui/warmup.py) has every default view ready (its line in the log)."""
    deadline = time.time() + timeout
    while "every default view is ready" not in open(url.log).read():
        if time.time() > deadline:
            raise RuntimeError(f"the warm-up did not finish in {timeout:.0f} s (see {url.log})")
        time.sleep(0.5)


# Installed in a page by `wait_idle`: records when the app's script state last changed (a MutationObserver on
# stApp's data-test-script-state) and when the wait began, so "settled" is a condition on the page (idle for a
# while since the action before the wait), not a fixed sleep.
WATCH_SCRIPT_STATE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  if (window.__labWatched !== app) {
    window.__labWatched = app;
    window.__labChanged = performance.now();
    new MutationObserver(() => { window.__labChanged = performance.now(); })
      .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
  }
  window.__labCalled = performance.now();
  return true;
}"""
SETTLED = """quiet => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app === window.__labWatched && app.getAttribute("data-test-script-state") === "notRunning"
    && performance.now() - Math.max(window.__labChanged, window.__labCalled) >= quiet;
}"""


def wait_idle(page, timeout_ms: int = 180_000, quiet_ms: int = 1000) -> None:
    """Wait until the Streamlit script has finished running and the page has settled: the app's script state is
    "notRunning" and has not changed for `quiet_ms`, counted from the later of its last change and this call (a
    rerun that a click, a key or an upload asked for starts within that time), bounded by `timeout_ms`."""
    page.wait_for_function(WATCH_SCRIPT_STATE, timeout=timeout_ms)
    page.wait_for_function(SETTLED, arg=quiet_ms, timeout=timeout_ms, polling=100)


def launch(playwright):
    """Debian's Chromium, headless, with no network side-traffic."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def screenshot_pages(out_dir: str, pages: list[str], size: tuple[int, int] = (1400, 2400), presenter: bool = False,
                     full_page: bool = True) -> None:
    """Open each page (in presenter mode with `presenter`) and save a PNG to out_dir: the whole page, or with
    `full_page` False only what a `size` screen shows."""
    from playwright.sync_api import sync_playwright

    os.makedirs(out_dir, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as p:
        wait_warm(url)
        browser = launch(p)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        for name in pages:
            page.goto(f"{url}/{name}" + (("&" if "?" in name else "?") + "presenter=1" if presenter else ""))
            wait_idle(page)
            page.wait_for_timeout(2000)
            stem = (name or "home").split("?")[0] + (f"_{abs(hash(name)) % 10**6}" if "?" in name else "")
            path = os.path.join(out_dir, f"{stem}{'_presenter' if presenter else ''}.png")
            page.screenshot(path=path, full_page=full_page)
            print(path)
        browser.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Screenshots of the app's pages on a fresh server.")
    parser.add_argument("out_dir")
    parser.add_argument("pages", nargs="*", default=PAGES, help="URL paths ('' is Home)")
    parser.add_argument("--size", default="1400x2400", help="viewport WIDTHxHEIGHT (default %(default)s)")
    parser.add_argument("--presenter", action="store_true", help="presenter mode (?presenter=1)")
    parser.add_argument("--viewport-only", action="store_true", help="only what the viewport shows")
    a = parser.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    screenshot_pages(a.out_dir, a.pages, (w, h), a.presenter, not a.viewport_only)
