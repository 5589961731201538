"""A Streamlit client that speaks the app's own protocol, without a browser (issue 14's load test).

A student's browser talks to the server over one websocket (`/_stcore/stream`): it sends a
`BackMsg` asking for a script run (`rerun_script`: the page by name or by its script hash, the
query string) and receives `ForwardMsg`s (the page's elements as deltas, then `script_finished`).
This client does the same with `websockets` (a dependency of Streamlit) and Streamlit's own
protobuf classes, so a load test can measure the server alone: in a lecture every student's
browser draws on the student's own laptop, and only this traffic reaches the shared server.

What it does not do: draw (plotly's JavaScript, the browser's layout), run components, or send
widget changes. The browser's other requests to the server (the page, its scripts and styles)
are fetched by `fetch_shell` once a session, as a browser does with an empty cache.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FINISHED = ForwardMsg.ScriptFinishedStatus


@dataclass
class PageRun:
    """What one script run of one page sent: the times (seconds from the request) of its first
    heading, its first plotly chart and its end, and the first error it showed (None: none)."""

    first_heading: float | None = None
    first_chart: float | None = None
    finished: float | None = None
    charts: int = 0
    error: str | None = None
    elements: list[str] = field(default_factory=list)


class Session:
    """One browser session: a websocket to `url` (http://host:port), opened by `connect`.

    Pages are opened as a student's clicks in the sidebar open them: the first by its URL path,
    the others by the script hash the server's navigation message gave for that path.
    """

    def __init__(self, url: str):
        self.url = url
        self.ws = None
        self.pages: dict[str, str] = {}  # url path ("" is home) -> page script hash

    async def connect(self) -> None:
        """Open the websocket as Streamlit's frontend does (the "streamlit" subprotocol, the page's origin)."""
        import websockets

        self.ws = await websockets.connect(self.url.replace("http", "ws", 1) + "/_stcore/stream",
                                           subprotocols=["streamlit"], origin=self.url, max_size=None,
                                           ping_interval=None)

    async def close(self) -> None:
        """Close the websocket (the server ends the session, as when a tab closes)."""
        if self.ws is not None:
            await self.ws.close()

    async def open_page(self, path: str, query: str = "", timeout: float = 300) -> PageRun:
        """Ask for a run of the page at URL `path` ("" or "home": the home page) with `query`, and read
        what the server sends until the run has finished (a run cut for a rerun, as `st.rerun()`
        does, goes on in the next). Raises TimeoutError after `timeout` seconds."""
        path = "" if path == "home" else path
        msg = BackMsg()
        msg.rerun_script.query_string = query
        if path in self.pages:
            msg.rerun_script.page_script_hash = self.pages[path]
        else:
            msg.rerun_script.page_name = path
        run = PageRun()
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        async with asyncio.timeout(timeout):
            while run.finished is None:
                self._read(await self.ws.recv(), run, time.perf_counter() - t0)
        return run

    def _read(self, data: bytes, run: PageRun, t: float) -> None:
        fwd = ForwardMsg()
        fwd.ParseFromString(data)
        kind = fwd.WhichOneof("type")
        if kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            what = element.WhichOneof("type")
            run.elements.append(what)
            if what == "heading" and run.first_heading is None:
                run.first_heading = t
            elif what == "plotly_chart":
                run.charts += 1
                if run.first_chart is None:
                    run.first_chart = t
            elif what == "exception" and run.error is None:
                run.error = f"exception: {element.exception.type}: {element.exception.message[:160]}"
            elif what == "alert" and element.alert.format == Alert.ERROR and run.error is None:
                run.error = f"error box: {element.alert.body.splitlines()[0][:160] if element.alert.body else ''}"
        elif kind == "script_finished" and not fwd.metadata.delta_path:
            status = fwd.script_finished
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                run.error = run.error or "the script did not compile"
                run.finished = t
            elif status == FINISHED.FINISHED_SUCCESSFULLY:
                run.finished = t


_ASSET = re.compile(r'(?:src|href)="(\./static/[^"]+|/static/[^"]+|static/[^"]+)"')


def fetch_shell(url: str, timeout: float = 60) -> int:
    """GET the app's page, every script and style it links, and the server's health and host
    configuration, as a browser with an empty cache does before it opens the websocket (the
    chunks its scripts load later, plotly's among them, are not fetched); returns the bytes received."""
    def get(u: str) -> bytes:
        with urllib.request.urlopen(u, timeout=timeout) as r:
            return r.read()

    html = get(url + "/")
    total = len(html) + len(get(url + "/_stcore/health")) + len(get(url + "/_stcore/host-config"))
    for asset in sorted(set(_ASSET.findall(html.decode("utf-8", "replace")))):
        total += len(get(url + "/" + asset.lstrip("./")))
    return total
