"""One caption style across the lab (issue 32): every caption of every view at its default settings and of every
preset, on the page (the result's `captions()`), in the command line's JSON (`to_dict()["captions"]`) and in the
report (`slides`' sections), is checked for the styles the issue forbids, and the page's captions for a takeaway.

The forbidden styles: a Python exponent ("4.13e+04": numbers are m×10ⁿ), the old "·10" (now ×10ⁿ), "nan", "None" and
"inf" as words (a missing value is "—" with a footnote), "% from" (an accuracy difference is in percentage points),
"1 points" and "over 100%". The takeaway: every non-empty caption of `captions()` is a `captions.Caption` whose
takeaway is one sentence of at most MAX_TAKEAWAY_WORDS words.

Cost: each view's default and each preset is computed once from the shipped runs (no training), results shared by
every check; a preset whose computation is a default's (the same view, settings and pair) reuses it. The landscapes
preset differs from the default landscape view only in its finer grid (21×21 against 15×15: 19 s here, the slowest
of all): its captions are checked at the default's grid, the same code and branches.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from resnet_viz import presets as PR
from resnet_viz.captions import MAX_TAKEAWAY_WORDS, Caption, takeaway_of, words
from resnet_viz.registry import VIEWS, Inputs

pytestmark = pytest.mark.usefixtures("one_thread")

STYLES = {
    "e-exponent": re.compile(r"\d[eE][+-]?\d"),
    "·10": re.compile(r"·10"),
    "nan": re.compile(r"\bnan\b"),  # as Python prints a float (a reason's "NaN or infinite" is a word)
    "None": re.compile(r"\bNone\b"),
    "inf": re.compile(r"\binf\b"),
    "% from": re.compile(r"%\s*from"),
    "1 points": re.compile(r"(?<![\d.,])1(?:\.0+)? points"),
    "over 100%": re.compile(r"over 100\s*%"),
}
TAKEAWAY = "takeaway"  # the page's captions are Captions with a short takeaway

# (source, style) pairs not yet converted (issue 32 is being done view by view): they may fail, and show what remains.
NOT_YET: dict[tuple[str, str], str] = {}

SOURCES = [f"view:{v.slug}" for v in VIEWS] + [f"preset:{p.slug}" for p in PR.PRESETS]
CHEAPER = {"landscapes": "its grid at the default's (15×15, not 21×21): the same captions' code, 19 s less"}


def _inputs(view, net, cfg, data, trainer, runs=None) -> Inputs:
    if view.inputs == "none":
        return Inputs()
    return Inputs(net=net, train=cfg, data=data, trainer=trainer, runs=runs)


class _Sources:
    """Each source's captions, computed once: {where: text} with where "page:NAME", "json:NAME" or "report:TITLE"."""

    def __init__(self) -> None:
        self.texts: dict[str, dict[str, str]] = {}
        self.page: dict[str, dict] = {}  # source -> captions() as the page gets them
        self.takeaways: dict[str, dict | None] = {}  # source -> to_dict()["takeaways"] (None without)
        self._results: dict = {}  # (view, computation, pair) -> (result, inputs)

    def _compute(self, view, settings, net, cfg):
        from resnet_viz.assets import default_trainer
        from resnet_viz.data import load_dataset
        from resnet_viz.results import computation

        key = (view.slug, repr(computation(settings)), net.to_json() if view.inputs != "none" else "",
               cfg.to_json() if view.inputs != "none" else "")
        if key not in self._results:
            data = trainer = runs = None
            if view.inputs != "none":
                data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
                trainer = default_trainer(data)  # the shipped runs: nothing is trained
                if view.inputs == "pair":
                    runs = {"plain": trainer(net.twin(), cfg), "residual": trainer(net, cfg)}
            inputs = _inputs(view, net, cfg, data, trainer, runs)
            if view.cli_input is not None:  # the features view's input: test image no. 1, as its page opens
                inputs.extra = {"x": data.x_test[0].numpy()}
            self._results[key] = (view.compute(settings, inputs), inputs)
        return self._results[key]

    def get(self, source: str) -> dict[str, str]:
        if source in self.texts:
            return self.texts[source]
        from resnet_viz.assets import default_pair_configs

        kind, slug = source.split(":")
        if kind == "view":
            view = next(v for v in VIEWS if v.slug == slug)
            settings = view.settings()
            _, (net, cfg) = default_pair_configs()
        else:
            preset = PR.get_preset(slug)
            view, settings = preset.view_record, preset.settings
            if slug in CHEAPER:
                settings = dataclasses.replace(settings, grid=view.settings().grid)
            net, cfg = PR.preset_pair(preset)
        result, inputs = self._compute(view, settings, net, cfg)
        caps = result.captions()
        self.page[source] = caps
        out = {f"page:{k}": str(v) for k, v in caps.items()}
        d = result.to_dict()
        out |= {f"json:{k}": str(v) for k, v in (d.get("captions") or {}).items()}
        self.takeaways[source] = d.get("takeaways")
        if view.sections is not None:
            out |= {f"report:{s.title}": str(s.caption) for s in view.sections(result, inputs)}
        self.texts[source] = out
        return out


@pytest.fixture(scope="module")
def sources():
    return _Sources()


def _params():
    for source in SOURCES:
        for style in [*STYLES, TAKEAWAY]:
            why = NOT_YET.get((source.split(":")[1], style)) or NOT_YET.get((source, style))
            marks = [pytest.mark.xfail(reason=why, strict=False)] if why else []
            yield pytest.param(source, style, marks=marks, id=f"{source}-{style}")


@pytest.mark.parametrize("source, style", list(_params()))
def test_captions_follow_the_style(sources, source, style):
    texts = sources.get(source)
    if style == TAKEAWAY:
        bad = {k: (words(v.takeaway) if isinstance(v, Caption) else "not a Caption", str(v)[:120])
               for k, v in sources.page[source].items()
               if v and not (isinstance(v, Caption) and v.takeaway.endswith(".")
                             and 0 < words(v.takeaway) <= MAX_TAKEAWAY_WORDS)}
        assert not bad, f"{source}: captions without a takeaway of at most {MAX_TAKEAWAY_WORDS} words: {bad}"
        return
    pattern = STYLES[style]
    bad = {where: pattern.findall(text) for where, text in texts.items() if pattern.search(text)}
    assert not bad, f"{source}: {style!r} in {bad}"


def test_every_view_and_preset_has_captions(sources):
    # The check is not vacuous: every source gives captions to read, and the report's sections where it has them.
    for source in SOURCES:
        texts = sources.get(source)
        assert any(k.startswith("page:") and v for k, v in texts.items()), source
        kind, slug = source.split(":")
        view = PR.get_preset(slug).view_record if kind == "preset" else next(v for v in VIEWS if v.slug == slug)
        assert (view.sections is None) == (not any(k.startswith("report:") for k in texts)), source


def test_the_json_keeps_each_takeaway_beside_its_whole_caption(sources):
    # The command line's JSON holds each caption whole under "captions" and its takeaway under "takeaways".
    for source in SOURCES:
        texts = sources.get(source)
        page = sources.page[source]
        assert sources.takeaways[source] == {k: takeaway_of(v) for k, v in page.items()}, source
        assert all(texts[f"json:{k}"] == str(v) for k, v in page.items()), source
