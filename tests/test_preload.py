"""ui.preload (issue 14): the app's page tells the browser to fetch plotly's chart script at once.

The links are read off a frontend folder made here (and off Streamlit's own); the middleware is
driven as the server drives it (ASGI messages) with a Starlette app behind it, so that what it
does to the page, and leaves alone, is checked byte for byte.
"""

from __future__ import annotations

import asyncio
import gzip
import os

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from ui.preload import PreloadCharts, preload_links

PAGE = "<html><head><title>lab</title></head><body>" + "x" * 2000 + "</body></html>"
LINKS = b'<link rel="modulepreload" crossorigin href="./static/js/PlotlyChart.abc.js">'


def _frontend(tmp_path, chart: bool = True):
    js = tmp_path / "static" / "js"
    js.mkdir(parents=True)
    (tmp_path / "index.html").write_text('<head><link rel="modulepreload" crossorigin href="./static/js/core.1.js">'
                                         "</head>")
    if chart:
        (js / "PlotlyChart.abc.js").write_text('import{a}from"./core.1.js";import{b}from"./extra.2.js";'
                                               'import"./side.3.js";const plotly=1;')
    (js / "Other.x.js").write_text('import{z}from"./never.9.js";')
    return str(tmp_path)


def test_links_name_the_chart_script_and_its_imports_the_page_does_not_preload(tmp_path):
    links = preload_links(_frontend(tmp_path)).decode()
    assert links.count("<link") == 3
    for name in ("PlotlyChart.abc.js", "extra.2.js", "side.3.js"):
        assert f'<link rel="modulepreload" crossorigin href="./static/js/{name}">' in links
    assert "core.1.js" not in links and "never.9.js" not in links


def test_no_links_when_this_streamlit_has_no_such_script(tmp_path):
    assert preload_links(_frontend(tmp_path, chart=False)) == b""
    assert preload_links(str(tmp_path / "missing")) == b""


def test_streamlits_own_frontend_has_the_script():
    import streamlit

    links = preload_links().decode()
    assert "PlotlyChart." in links
    for href in links.split('href="./')[1:]:
        assert os.path.isfile(os.path.join(os.path.dirname(streamlit.__file__), "static", href.split('"')[0]))


def _get(app, path: str, gzip_ok: bool = True) -> tuple[int, dict, bytes]:
    """One GET through `app` as an ASGI server makes it; (status, headers, body as the client gets it)."""
    headers = [(b"host", b"lab"), (b"accept-encoding", b"gzip")] if gzip_ok else [(b"host", b"lab")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    head = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if head.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return start["status"], head, body


def _app():
    async def page(request):
        return HTMLResponse(PAGE)

    async def text(request):
        return PlainTextResponse("</head> in plain text")

    # As in Streamlit: the page comes back gzipped to a client that accepts it.
    inner = GZipMiddleware(Starlette(routes=[Route("/", page), Route("/shattering", page), Route("/notes", text),
                                             Route("/static/index.html", page)]), minimum_size=100)
    return PreloadCharts(inner, LINKS)


def test_the_page_gets_the_links_before_its_head_ends():
    for path in ("/", "/shattering"):
        status, head, body = _get(_app(), path)
        assert status == 200 and "content-encoding" not in head  # asked for uncompressed, to be read
        assert body == PAGE.replace("</head>", LINKS.decode() + "</head>").encode()
        assert int(head["content-length"]) == len(body)


def test_everything_else_passes_unchanged():
    status, head, body = _get(_app(), "/notes")
    assert body == b"</head> in plain text"
    status, head, body = _get(_app(), "/static/index.html")  # Streamlit's own routes: as they are (gzipped)
    assert head.get("content-encoding") == "gzip" and body == PAGE.encode()
    status, head, body = _get(PreloadCharts(_app().app, b""), "/")  # no links found: the page as it is
    assert body == PAGE.encode()
