"""The architecture of a plain net and its residual twin, drawn side by side (He et al. 2016, Fig. 3).

`architecture_figure(residual, plain)` draws what `resnet_viz.diagram.architecture` read off the built
nets: a vertical stack of boxes (input, stem, one box per block with its branch layers, head, output),
the plain net on the left and the residual net on the right. Only the residual net has shortcut arcs,
from a block's input to its addition ⊕ (He 2016 Fig. 2, eq. 1); as in He 2016 Fig. 3 the arcs of the
blocks that change the shape are dotted, and those blocks get a purple border and "↓2". What follows
the addition (ReLU in the original block, nothing in the pre-activation orders of He 2016b Fig. 4) is
written beside the line under the ⊕. A side label gives each stage's output shape and parameters.
In a deep net, a run of identical blocks is drawn once, as a stacked box "×n" (its arc stands for n arcs).

Everything is plotly shapes and text (no graphviz binary). Shapes are named, so the figure can be
checked: "shortcut" (one arc per drawn residual block box), "block-plain" / "block-residual"
(block boxes), "stack" (the cards behind a collapsed box), "stem-…", "head-…", "flow", "stage".
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import plotly.graph_objects as go

from ..diagram import Architecture, BlockInfo, shape_text
from .common import PLAIN_COLOR, RESIDUAL_COLOR, style

DOWN_COLOR = "#5e3c99"  # border of the blocks that change the shape (He 2016 Fig. 3's dotted shortcuts)
PART_COLOR = "#7f7f7f"  # stem and head
TEXT_COLOR = "#333333"
FONT = 11  # px; text is set in pixels, so the boxes' heights are too
LINE = 15  # px per text line
PAD = 7  # px above and below the text in a box
GAP = 40  # px between two boxes (the ⊕ and what follows the addition live here)
HEADER = 58  # px above the input (column titles)
FOOTER = 40  # px for the key below the output
WRAP = 42  # characters per line in a box
HALF = 14.0  # half a box's width, in x units (the x axis runs 0 … 100 over the figure's width)
COLLAPSE = 3  # runs of at least this many identical blocks are collapsed in a net of more than `max_blocks`


def _tint(color: str, alpha: float) -> str:
    """`color` at opacity `alpha` over white, as an opaque colour (so nothing behind shows through)."""
    r, g, b = (round(255 - alpha * (255 - int(color[i:i + 2], 16))) for i in (1, 3, 5))
    return f"rgb({r},{g},{b})"


def _wrap_layers(line: str, width: int = WRAP) -> list[str]:
    """Split a ' · '-joined layer line into lines of at most `width` characters (at the separators)."""
    out: list[str] = []
    for part in line.split(" · "):
        if out and len(out[-1]) + 3 + len(part) <= width:
            out[-1] += " · " + part
        else:
            out.append(part)
    return out


def groups(arch: Architecture, max_blocks: int = 16) -> list[list[BlockInfo]]:
    """The block boxes of `arch`, stage by stage: one block per box, or, when the net has more than
    `max_blocks` blocks, runs of `COLLAPSE` or more identical blocks (equal `signature`) in one box."""
    collapse = len(arch.blocks) > max_blocks
    out: list[list[BlockInfo]] = []
    for stage in arch.stages:
        runs: list[list[BlockInfo]] = []
        for b in stage.blocks:
            if runs and runs[-1][0].signature == b.signature:
                runs[-1].append(b)
            else:
                runs.append([b])
        for run in runs:
            if collapse and len(run) >= COLLAPSE:
                out.append(run)
            else:
                out.extend([b] for b in run)
    return out


def _block_text(run: list[BlockInfo], skip: bool, color: str) -> tuple[list[str], str]:
    """(lines of the box, hover text) of a box standing for the blocks `run` (all alike)."""
    b = run[0]
    if len(run) == 1:
        title = f"<b>block {b.index + 1}</b>"
    else:
        title = f"<b>blocks {b.index + 1}–{run[-1].index + 1}</b>  ×{len(run)}"
    if b.stride > 1:
        title += f"  <b>↓{b.stride}</b> → {shape_text(b.out_shape)}"
    elif b.downsample:
        title += f"  {b.in_shape[0]}→{b.out_shape[0]} channels"
    lines = [title] + [w for line in b.lines for w in _wrap_layers(line)]
    if skip:
        lines += [f"<i><span style='color:{color}'>{w}</span></i>"
                  for w in textwrap.wrap("shortcut: " + b.shortcut, WRAP, break_on_hyphens=False)]
    hover = (f"{'blocks' if len(run) > 1 else 'block'} {b.index + 1}"
             + (f"–{run[-1].index + 1}" if len(run) > 1 else "")
             + f"<br>{shape_text(b.in_shape)} → {shape_text(b.out_shape)}"
             + f"<br>branch: {' → '.join(b.layers)}"
             + (f"<br>shortcut: {b.shortcut}" if skip else "<br>no shortcut (plain)")
             + (f"<br>after the addition: {b.after}" if skip and b.after else
                (f"<br>then: {b.after}" if b.after else ""))
             + f"<br>{b.params:,} parameters" + (f" each, {b.params * len(run):,} in all" if len(run) > 1 else ""))
    return lines, hover


def _rows(arch: Architecture, max_blocks: int) -> list[dict]:
    """The boxes of one column, top to bottom, with their text (heights follow from the lines)."""
    color = RESIDUAL_COLOR if arch.skip else PLAIN_COLOR
    rows: list[dict] = [dict(kind="input", lines=[f"input {shape_text(arch.input_shape)}"])]
    stem = arch.stem
    rows.append(dict(kind="stem", lines=["<b>stem</b>"] + _wrap_layers(" · ".join(stem.layers)),
                     hover=f"stem: {' → '.join(stem.layers)}<br>→ {shape_text(stem.out_shape)}"
                           f"<br>{stem.params:,} parameters",
                     side=f"→ {shape_text(stem.out_shape)}<br>{stem.params:,} params"))
    stage_of = {b.index: s for s in arch.stages for b in s.blocks}
    for run in groups(arch, max_blocks):
        lines, hover = _block_text(run, arch.skip, color)
        rows.append(dict(kind="block", run=run, lines=lines, hover=hover, stage=stage_of[run[0].index]))
    head = arch.head
    rows.append(dict(kind="head", lines=["<b>head</b>"] + _wrap_layers(" · ".join(head.layers)),
                     hover=f"head: {' → '.join(head.layers)}<br>{head.params:,} parameters",
                     side=f"{head.params:,} params"))
    rows.append(dict(kind="output", lines=[f"output {shape_text(head.out_shape)}"]))
    return rows


def architecture_figure(arch: Architecture, plain: Architecture | None = None, max_blocks: int = 16) -> go.Figure:
    """The pair side by side, plain left and residual right (He et al. 2016, Fig. 3), or one net alone.

    Each net is a vertical stack of boxes: stem, one box per block listing its branch layers (BN,
    ReLU and weight layers in the block's order, He 2016b Fig. 4), head. Shortcut arcs, from the
    block's input to the addition ⊕, are drawn in the residual net only, labelled with the kind of
    shortcut (x identity, A option A, 1×1 projection, g gate, drop dropout; He 2016b Fig. 2); dotted
    where the block changes the shape. Blocks that change the shape have a purple border and "↓2".
    Nets of more than `max_blocks` blocks draw each run of identical blocks once, as "×n".
    """
    nets = [a for a in (plain, arch) if a is not None]
    nets.sort(key=lambda a: a.skip)  # plain left, residual right, whichever way they came
    centres = [27.0, 63.0] if len(nets) == 2 else [40.0]
    columns = [_rows(a, max_blocks) for a in nets]
    heights, tops, total = _row_positions(columns)
    fig = go.Figure()
    canvas = _Canvas()
    for a, rows, cx in zip(nets, columns, centres):
        column = _Column.of(a, cx, alone=len(nets) == 1)
        canvas.label(cx, 17, f"<b>{a.title}</b>", 14, column.color)
        canvas.label(cx, 37, f"{a.total_params:,} parameters", 11)
        for i, row in enumerate(rows):
            _draw_row(canvas, column, row, tops[i], heights[i], tops[i + 1] if i + 1 < len(rows) else None)
        _draw_stages(canvas, column)
        _add_column_traces(fig, column)
    key = _key(nets)
    if key:
        canvas.label(50, total - 14, "<br>".join(key), color="#555555")
    # Text as a scatter trace with its sizes set (not annotations): the boxes are sized for it in pixels, and
    # a presenter's larger annotation font would spill the labels out of the figure.
    x, y, text, size, color, position = zip(*canvas.labels)
    fig.add_trace(go.Scatter(x=x, y=y, text=text, mode="text", textposition=position, showlegend=False,
                             hoverinfo="skip", name="labels", textfont=dict(size=size, color=color)))
    style(fig, height=int(total) + 10)
    fig.update_layout(shapes=canvas.shapes, margin=dict(l=10, r=10, t=10, b=10),
                      hovermode="closest", showlegend=False)
    fig.update_xaxes(visible=False, range=[0, 100], fixedrange=True)
    fig.update_yaxes(visible=False, range=[total, 0], fixedrange=True)
    return fig


def _row_positions(columns: list[list[dict]]) -> tuple[list[float], list[float], float]:
    """(height of each row: its tallest box across the columns, top of each row, the figure's height), in px from
    the top: the column titles above, a gap below each stem and block box for the ⊕ and what follows the
    addition, the key below."""
    n_rows = max(len(c) for c in columns)

    def height(row: dict) -> float:
        if row["kind"] in ("input", "output"):
            return LINE + 4
        return len(row["lines"]) * LINE + 2 * PAD

    heights = [max(height(c[i]) for c in columns if i < len(c)) for i in range(n_rows)]
    tops, y = [], float(HEADER)
    for i, h in enumerate(heights):
        tops.append(y)
        kind_here = columns[-1][i]["kind"] if i < len(columns[-1]) else "block"
        y += h + (GAP if kind_here in ("stem", "block") else 18)
    return heights, tops, y - 18 + FOOTER


@dataclass
class _Canvas:
    """What the figure collects before it is drawn: its shapes (boxes, lines, arcs, named) and the text outside
    the boxes, as (x, y, text, size, colour, position)."""

    shapes: list[dict] = field(default_factory=list)
    labels: list[tuple] = field(default_factory=list)

    def label(self, x, y, text, size=10, color=TEXT_COLOR, position="middle center") -> None:
        """Text outside the boxes, drawn at the end as one trace."""
        self.labels.append((x, y, text, size, color, position))


@dataclass
class _Column:
    """One net's column: where it sits (x in the axis' 0 … 100 units: its centre, the shortcut arcs, the stage
    brackets and their labels, on the outer side) and the text and markers collected box by box, drawn as a
    few traces (`_add_column_traces`)."""

    arch: Architecture
    cx: float
    name: str
    color: str
    arc_x: float
    bracket_x: float
    label_x: float
    outward: str
    text_x: list = field(default_factory=list)
    text_y: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    hovers: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    plus_x: list = field(default_factory=list)
    plus_y: list = field(default_factory=list)
    split_x: list = field(default_factory=list)
    split_y: list = field(default_factory=list)
    after_x: list = field(default_factory=list)
    after_y: list = field(default_factory=list)
    after_t: list = field(default_factory=list)
    tag_x: list = field(default_factory=list)
    tag_y: list = field(default_factory=list)
    tag_t: list = field(default_factory=list)
    stage_spans: dict[int, list[float]] = field(default_factory=dict)

    @classmethod
    def of(cls, a: Architecture, cx: float, alone: bool) -> "_Column":
        """The column of `a` centred at `cx`: labels on the right for the residual net or a net alone, on the left
        for the plain net beside its twin."""
        side = "right" if a.skip or alone else "left"
        bracket_x = cx + HALF + 7.5 if side == "right" else cx - HALF - 2.0
        return cls(a, cx, "residual" if a.skip else "plain", RESIDUAL_COLOR if a.skip else PLAIN_COLOR,
                   arc_x=cx + HALF + 2.5, bracket_x=bracket_x,
                   label_x=bracket_x + 0.6 if side == "right" else bracket_x - 0.6,
                   outward="middle right" if side == "right" else "middle left")


def _draw_row(canvas: _Canvas, col: _Column, row: dict, top: float, h: float, next_top: float | None) -> None:
    """One box of a column: the line down to the next box, the box's text, and its shape (stem and head grey,
    with their side label; a block by `_draw_block`; input and output are text only)."""
    cx, bottom, kind = col.cx, top + h, row["kind"]
    if next_top is not None:  # the line down to the next box
        canvas.shapes.append(dict(type="line", x0=cx, x1=cx, y0=bottom, y1=next_top, layer="below",
                                  line=dict(color="#999999", width=1.5), name="flow"))
    col.text_x.append(cx)
    col.text_y.append(top + h / 2)
    col.texts.append("<br>".join(row["lines"]))
    col.hovers.append(row.get("hover", row["lines"][0]))
    col.sizes.append(FONT + (1 if kind in ("input", "output") else 0))
    if kind in ("input", "output"):
        return
    if kind in ("stem", "head"):
        canvas.shapes.append(dict(type="rect", x0=cx - HALF, x1=cx + HALF, y0=top, y1=bottom, layer="below",
                                  fillcolor="#f4f4f4", line=dict(color=PART_COLOR, width=1.2),
                                  name=f"{kind}-{col.name}"))
        canvas.label(col.label_x, top + h / 2, row["side"], position=col.outward)
        return
    _draw_block(canvas, col, row, top, bottom)


def _draw_block(canvas: _Canvas, col: _Column, row: dict, top: float, bottom: float) -> None:
    """A block's box (He et al. 2016, Fig. 3): tinted in the net's colour, a purple border where it changes the
    shape, a deck of cards behind a box standing for several blocks; what follows the addition below it; in the
    residual net the shortcut arc from the split above the box to the addition ⊕ below it (dotted where the
    shape changes), tagged with the shortcut's kind."""
    cx, color = col.cx, col.color
    run: list[BlockInfo] = row["run"]
    b = run[0]
    border = DOWN_COLOR if b.downsample else color
    if len(run) > 1:  # a deck of cards: the collapsed blocks behind the box
        for k in (2, 1):
            canvas.shapes.append(dict(type="rect", x0=cx - HALF + 0.7 * k, x1=cx + HALF + 0.7 * k,
                                      y0=top - 4 * k, y1=bottom - 4 * k, layer="below", fillcolor="white",
                                      line=dict(color=border, width=1), name="stack"))
    canvas.shapes.append(dict(type="rect", x0=cx - HALF, x1=cx + HALF, y0=top, y1=bottom, layer="below",
                              fillcolor=_tint(color, 0.07) if not b.downsample else _tint(DOWN_COLOR, 0.07),
                              line=dict(color=border, width=2.6 if b.downsample else 1.3),
                              name=f"block-{col.name}"))
    col.stage_spans.setdefault(row["stage"].index, [top, bottom])[1] = bottom
    if b.after:  # what follows the addition (or, in the plain net, the branch)
        col.after_x.append(cx - 0.8)
        col.after_y.append(bottom + 27)
        col.after_t.append(b.after)
    if col.arch.skip:
        arc_x = col.arc_x
        ys, yp = top - 9, bottom + 12  # split point above the box, ⊕ below it
        rx, ry = 1.2, 8.0
        path = (f"M {cx},{ys} L {arc_x - rx},{ys} Q {arc_x},{ys} {arc_x},{ys + ry} "
                f"L {arc_x},{yp - ry} Q {arc_x},{yp} {arc_x - rx},{yp} L {cx + 0.9},{yp}")
        canvas.shapes.append(dict(type="path", path=path, layer="below", name="shortcut",
                                  line=dict(color=color, width=1.8, dash="dot" if b.downsample else "solid")))
        col.plus_x.append(cx)
        col.plus_y.append(yp)
        col.split_x.append(cx)
        col.split_y.append(ys)
        col.tag_x.append(arc_x + 0.5)
        col.tag_y.append((ys + yp) / 2)
        col.tag_t.append(b.tag)


def _draw_stages(canvas: _Canvas, col: _Column) -> None:
    """A bracket beside each stage's blocks, labelled with its blocks, output shape and parameters."""
    a = col.arch
    for stage_index, (y0, y1) in col.stage_spans.items():
        stage = a.stages[stage_index]
        canvas.shapes.append(dict(type="line", x0=col.bracket_x, x1=col.bracket_x, y0=y0, y1=y1, name="stage",
                                  line=dict(color="#bbbbbb", width=2)))
        title = "blocks" if len(a.stages) == 1 else f"stage {stage_index + 1}"
        canvas.label(col.label_x, (y0 + y1) / 2, f"<b>{title}</b><br>{len(stage.blocks)} block"
                     f"{'s' if len(stage.blocks) > 1 else ''}<br>→ {shape_text(stage.out_shape)}<br>"
                     f"{stage.params:,} params", position=col.outward)


def _add_column_traces(fig: go.Figure, col: _Column) -> None:
    """A column's text and markers as traces: the boxes' text (with its hover), what follows each addition, and
    in the residual net the split points, the additions ⊕ and the shortcuts' kinds."""
    name, color = col.name, col.color
    fig.add_trace(go.Scatter(x=col.text_x, y=col.text_y, text=col.texts, mode="text", name=name, showlegend=False,
                             textfont=dict(size=col.sizes, color=TEXT_COLOR), hovertext=col.hovers,
                             hovertemplate="%{hovertext}<extra>" + name + "</extra>"))
    if col.after_x:
        fig.add_trace(go.Scatter(x=col.after_x, y=col.after_y, text=col.after_t, mode="text",
                                 textposition="middle left", showlegend=False, hoverinfo="skip",
                                 name=f"{name}: after the addition", textfont=dict(size=10, color="#666666")))
    if col.plus_x:
        fig.add_trace(go.Scatter(x=col.split_x, y=col.split_y, mode="markers", showlegend=False, hoverinfo="skip",
                                 name="split", marker=dict(size=5, color=color)))
        fig.add_trace(go.Scatter(x=col.plus_x, y=col.plus_y, mode="markers", showlegend=False, name="⊕",
                                 hovertemplate="addition ⊕: F(x) + shortcut(x)<extra></extra>",
                                 marker=dict(symbol="circle-cross", size=15, color="white",
                                             line=dict(color=color, width=1.6))))
        fig.add_trace(go.Scatter(x=col.tag_x, y=col.tag_y, text=col.tag_t, mode="text", textposition="middle right",
                                 showlegend=False, hoverinfo="skip", name="shortcut kind",
                                 textfont=dict(size=10, color=color)))


def _key(nets: list[Architecture]) -> list[str]:
    """The key's lines below the figure: the border of the blocks that change the shape, and the shortcut kinds
    drawn (He 2016b Fig. 2)."""
    blocks = [b for a in nets for b in a.blocks]
    key = []
    if any(b.downsample for b in blocks):
        key.append(f"<span style='color:{DOWN_COLOR}'><b>purple border, ↓2</b></span>: the block changes the shape"
                   + (" (its shortcut is dotted, as in He 2016 Fig. 3)" if any(a.skip for a in nets) else ""))
    words = {"identity": "x identity", "option A": "A option A (subsample + zero-pad)", "conv": "1×1 projection",
             "gate": "g gate", "shortcut-gate": "g gate", "dropout": "drop dropout", "scaled": "λx constant scaling"}
    kinds = dict.fromkeys(words[b.shortcut_kind] for b in blocks if b.shortcut_kind in words)
    if kinds:
        key.append("⊕ addition · shortcut " + ", ".join(kinds))
    return key
