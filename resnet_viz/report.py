"""Self-contained HTML pages of figures, for offline slides and handouts.

One file holds plotly.js once (embedded, no CDN: lecture rooms are often offline)
and every figure with its title and caption.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import plotly.graph_objects as go


@dataclass
class Section:
    """One figure of a report: a heading, a caption (what to look for) and the figure."""

    title: str
    caption: str
    figure: go.Figure


def figure_html(fig: go.Figure) -> str:
    """One figure as a standalone interactive HTML page (plotly.js embedded, works offline)."""
    return fig.to_html(full_html=True, include_plotlyjs=True, config={"displaylogo": False},
                       default_width="100%", default_height="90vh")


def render_report(title: str, intro: str, sections: list[Section]) -> str:
    """A whole report as one HTML string: plotly.js once, then each section's figure and caption."""
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "h1{font-size:2em}h2{margin-top:2em;border-bottom:1px solid #ddd}p.caption{color:#444;font-size:1.05em}"
        ".fig{width:100%;height:560px}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(intro)}</p>" if intro else "",
    ]
    for i, s in enumerate(sections):
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.caption:
            parts.append(f"<p class='caption'>{html.escape(s.caption)}</p>")
        parts.append(s.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{i}",
                                      config={"displaylogo": False}))
    parts.append("<p style='color:#888;margin-top:3em'>Made with ResNet Lab (resnet_viz).</p></body></html>")
    return "\n".join(parts)


def write_report(path: str, title: str, intro: str, sections: list[Section]) -> str:
    """Write `render_report(...)` to `path`; returns the path."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_report(title, intro, sections))
    return path
