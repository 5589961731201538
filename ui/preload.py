"""The first chart sooner in a fresh browser (issue 14, "instant first figures"): an ASGI middleware
for app.py's `st.App` that tells the browser to fetch plotly's part of Streamlit's frontend at once.

Streamlit's page (index.html) preloads the scripts of its frontend's core, but plotly's chart
component (4.7 MB of JavaScript, Streamlit's static/js/PlotlyChart.<hash>.js) is fetched only
when the first chart's element arrives, and then compiled: measured in headless Chromium on two
cores, the request left 1.4-1.7 s after opening a view page and the first chart showed 1.7-2.1 s
after it. Every page of the lab but Home and Identity draws plotly charts, so the page now
carries `<link rel="modulepreload">` for that script and for those of its imports the page does
not already preload: the browser fetches and compiles them while the rest of the frontend starts.

Only the app's HTML document is touched (a GET outside Streamlit's own routes whose response is
text/html with a `</head>`), asked for uncompressed (it is 10 kB) so it can be read. When the
script is not found in this Streamlit's frontend (another version), nothing is changed.
"""

from __future__ import annotations

import os
import re

# Streamlit's own routes: their responses are never the app's page.
RESERVED = ("/_stcore/", "/static/", "/media/", "/component/", "/app/static/", "/favicon")


def preload_links(static_dir: str | None = None) -> bytes:
    """The `<link rel="modulepreload">` tags for Streamlit's plotly chart script and those of its
    imports that index.html does not preload already; b"" when the script is not there."""
    if static_dir is None:
        import streamlit

        static_dir = os.path.join(os.path.dirname(streamlit.__file__), "static")
    js = os.path.join(static_dir, "static", "js")
    try:
        chart = next(f for f in sorted(os.listdir(js)) if re.fullmatch(r"PlotlyChart\.[\w-]+\.js", f))
        with open(os.path.join(js, chart), encoding="utf-8") as f:
            head = f.read(20_000)  # its imports come first
        with open(os.path.join(static_dir, "index.html"), encoding="utf-8") as f:
            index = f.read()
    except (OSError, StopIteration):
        return b""
    imports = re.findall(r'from"\./([\w.-]+\.js)"|import"\./([\w.-]+\.js)"', head)
    names = [chart] + sorted({a or b for a, b in imports})
    return "".join(f'<link rel="modulepreload" crossorigin href="./static/js/{n}">'
                   for n in names if f"./static/js/{n}" not in index).encode()


class PreloadCharts:
    """ASGI middleware: the app's HTML document gets `links` (by default `preload_links()`) before its `</head>`."""

    def __init__(self, app, links: bytes | None = None):
        self.app = app
        self.links = preload_links() if links is None else links

    async def __call__(self, scope, receive, send):
        """Pass every request on; for the app's page, hold its response back, add the links, and send it."""
        if (not self.links or scope["type"] != "http" or scope["method"] != "GET"
                or scope["path"].startswith(RESERVED)):
            return await self.app(scope, receive, send)
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"])
        start: dict | None = None
        body: list[bytes] = []

        async def send_page(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if not headers.get(b"content-type", b"").startswith(b"text/html") or b"content-encoding" in headers:
                    return await send(message)  # not the page: as it is
                start = message
                return None
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            page = b"".join(body)
            if b"</head>" in page:
                page = page.replace(b"</head>", self.links + b"</head>", 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
            await send({**start, "headers": headers + [(b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_page)
