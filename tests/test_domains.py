"""Every view over the domain its settings declare (issue 36), with Hypothesis.

The strategies are generated from the declarations (`resnet_viz.settings`): what a widget, a link, a flag, a preset
or the Python API may set. Properties:

- every value of the domain passes `validate()` or is refused with the lab's one-line ConfigError (a rule between
  fields), never anything else; every value outside it is refused in one line, by `validate()` and by the flag;
- the command line accepts every value of the domain (written as text, its flag reads it back);
- each view's study, its captions, its report figures and its `to_dict()` raise nothing but the lab's one-line
  errors, every number in a caption is finite, and the JSON round-trips. The work's budget is capped (`CAPS`: the
  grid, the steps, the nets' size), everything else is drawn from the whole domain; the pair views run on small
  trained pairs, among them the extreme ones (a diverged net, a net at chance, a 1-block net).

Examples: fixed counts, derandomized (the "ci" profile of conftest.py); `HYPOTHESIS_PROFILE=long` multiplies them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from resnet_viz import settings as S
from resnet_viz.cli import build_parser
from resnet_viz.data import DatasetError
from resnet_viz.models import NetConfig
from resnet_viz.registry import VIEWS, Inputs
from resnet_viz.registry import view as view_named
from resnet_viz.train import TrainConfig, net_config_for, train
from resnet_viz.util import json_safe

pytestmark = pytest.mark.usefixtures("one_thread")
SCALE = int(os.environ.get("RESNET_VIZ_EXAMPLES_SCALE", "10" if os.environ.get("HYPOTHESIS_PROFILE") == "long"
                           else "1"))
LAB_ERRORS = (S.ConfigError, DatasetError)


def examples(n: int) -> int:
    """`n` examples in CI, more under the long profile."""
    return n * SCALE


def _item_strategy(spec: S.Spec, kind, cap):
    if spec.options is not None:
        return st.sampled_from(spec.options)
    if kind is bool:
        return st.booleans()
    hi = spec.max if cap is None else min(spec.max, cap)
    if kind is int:
        lo, hi = int(spec.min), int(hi)
        values = st.integers(lo, hi)
        if spec.picks:
            values = st.one_of(values, st.sampled_from([p for p in spec.picks if lo <= p <= hi] or [lo]))
        if spec.odd:
            values = st.integers((lo + 1) // 2 - (1 if lo % 2 else 0), (hi - 1) // 2).map(lambda k: 2 * k + 1)
            values = values.filter(lambda v: lo <= v <= hi)
        return values.filter(lambda v: v not in spec.exclude)
    if kind is float:
        values = st.floats(spec.min, hi, allow_nan=False, allow_infinity=False)
        if spec.picks:
            values = st.one_of(values, st.sampled_from([p for p in spec.picks if p <= hi] or [spec.min]))
        return st.one_of(values, st.sampled_from([spec.min, hi])).filter(lambda v: v not in spec.exclude)
    return st.text(max_size=20)


def domain(spec: S.Spec, cap=None):
    """The values of `spec`'s declared domain (numbers at most `cap`: the test's budget)."""
    if spec.kind is tuple:
        item = _item_strategy(spec, spec.item, cap)
        most = spec.max_items if spec.max_items is not None else len(spec.options) if spec.options else 6
        if cap is not None and spec.options is not None:
            most = min(most, cap)
        return st.lists(item, min_size=spec.min_items, max_size=max(most, spec.min_items),
                        unique=spec.unique).map(tuple)
    values = _item_strategy(spec, spec.kind, cap)
    return st.one_of(st.none(), values) if spec.optional else values


def settings_of(cls, caps: dict | None = None, fixed: dict | None = None):
    """Settings objects of `cls` with every declared field drawn from its domain (caps: field -> largest number or
    most items; fixed: fields held)."""
    caps, fixed = caps or {}, fixed or {}
    fields = {s.name: st.just(fixed[s.name]) if s.name in fixed else domain(s, caps.get(s.name))
              for s in S.specs(cls) if s.name not in ("input_shape", "classes")}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


def one_line(e: Exception) -> None:
    text = str(e)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


# --- the declarations themselves ----------------------------------------------------------------------------

CLASSES = [v.settings for v in VIEWS] + [NetConfig, TrainConfig]


def _validate(obj):
    if isinstance(obj, VIEWS[-1].settings):  # the features view checks against the pair: 15 blocks, 10 classes
        return obj.validate(15, 10)
    return obj.validate()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_value_of_the_domain_validates_or_is_refused_in_one_line(cls):
    @hsettings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(settings_of(cls))
    def check(obj):
        try:
            _validate(obj)
        except S.ConfigError as e:  # a rule between fields (or, for a config, the memory check)
            one_line(e)

    check()


def _subcommand_flags():
    """{settings class: {field: argparse action}} from the real parser."""
    out: dict = {}
    parser = build_parser()
    subs = parser._subparsers._group_actions[0].choices
    for v in VIEWS:
        if v.command:
            out[v.settings] = {a.dest: a for a in subs[v.command]._actions if a.option_strings}
    out[NetConfig] = out[TrainConfig] = {a.dest: a for a in subs["train"]._actions if a.option_strings}
    return out


FLAGS = _subcommand_flags()


def _outside(spec: S.Spec) -> list:
    """Values just outside the domain of `spec`."""
    if spec.options is not None:
        bad = ["not-an-option"] if spec.kind in (str, tuple) else [object()]
        return [tuple(bad)] if spec.kind is tuple else bad
    if spec.kind is bool:
        return [2]
    kind = spec.item if spec.kind is tuple else spec.kind
    out = [float("nan"), float("inf")] if kind is float else [1.5]
    if spec.min is not None:
        out.append(kind(spec.min - 1))
    if spec.max is not None:
        out.append(kind(spec.max + 1))
    if spec.odd:
        out.append(int(spec.min) + 1)
    out += list(spec.exclude)
    return [(v,) for v in out] if spec.kind is tuple else out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_value_outside_the_domain_is_refused_in_one_line_by_validate_and_flag(cls):
    flags = FLAGS[cls]
    for spec in S.specs(cls):
        for bad in _outside(spec):
            obj = dataclasses.replace(cls(), **{spec.name: bad})
            with pytest.raises(S.ConfigError) as e:
                _validate(obj)
            one_line(e.value)
            action = flags.get(spec.name)
            if action is not None and action.type is not None and not (spec.options and spec.kind is not tuple):
                text = ",".join(map(str, bad)) if isinstance(bad, tuple) else str(bad)
                if spec.kind is tuple and spec.parse is not None and not all(isinstance(v, int) for v in bad):
                    continue
                with pytest.raises(Exception) as e:
                    action.type(text)
                one_line(e.value)


def _as_flag_text(spec: S.Spec, value) -> str:
    from resnet_viz.cli import cli_name

    if spec.kind is tuple:
        return spec.show(value) if spec.show else ",".join(cli_name(v) if spec.options else repr(v) for v in value)
    if spec.options is not None:
        return cli_name(value)
    return repr(value)




@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_command_line_reads_back_every_value_of_the_domain(cls):
    """A flag accepts every value of its field's domain, not only the widget's picks (`shatter --width 128`,
    `landscape --grid 17 --samples 300`, `lesion --samples 10`, `shatter --sweep ""`)."""
    specs = [s for s in S.specs(cls) if s.flag and s.kind is not bool and s.name in FLAGS[cls]
             and FLAGS[cls][s.name].type is not None]

    @hsettings(max_examples=examples(40), deadline=None)
    @given(st.data())
    def check(data):
        for spec in specs:
            value = data.draw(domain(spec), label=spec.name)
            if value is None:
                continue
            read = FLAGS[cls][spec.name].type(_as_flag_text(spec, value))
            if spec.kind is tuple and spec.parse is not None:
                value = tuple(sorted(set(value)))  # the depth lists are read sorted, without repeats
            assert read == value, (spec.name, value, read)

    check()


def test_the_issues_command_lines_parse():
    parser = build_parser()
    assert parser.parse_args(["shatter", "--width", "128"]).width == 128
    args = parser.parse_args(["landscape", "--grid", "17", "--samples", "300"])
    assert (args.grid, args.samples) == (17, 300)
    assert parser.parse_args(["lesion", "--samples", "10"]).samples == 10
    assert parser.parse_args(["shatter", "--sweep", ""]).sweep == ()


# --- studies over the domain, on small budgets -----------------------------------------------------------------

_NUMBER = re.compile(r"\b(nan|inf|None)\b|NaN|e\+\d|e-\d")


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def _check_result(view, result, inputs) -> None:
    """Captions (their numbers finite), figures (report sections) and the JSON of one result."""
    captions = result.captions() if hasattr(result, "captions") else {}
    for key, text in captions.items():
        assert isinstance(text, str), key
        assert not re.search(r"\b(nan|inf)\b|NaN", text), f"{key}: {text}"
    d = result.to_dict()
    safe = json_safe(json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else
                                           o.to_dict() if hasattr(o, "to_dict") else str(o), allow_nan=True)))
    text = json.dumps(safe, allow_nan=False)
    assert json.loads(text) == safe
    for s in _strings(safe.get("captions", {})):
        assert not re.search(r"\b(nan|inf)\b|NaN", s), s
    if view.sections is not None:
        for section in view.sections(result, inputs):
            assert not re.search(r"\b(nan|inf)\b|NaN", section.caption), section.caption
            if section.figure is not None:
                section.figure.to_dict()


def _study(view, settings, inputs):
    try:
        return view.compute(settings, inputs)
    except LAB_ERRORS as e:
        one_line(e)
        return None


SHATTER_CAPS = dict(depth=6, width=24, seeds=3, points=64, sweep=6)


@hsettings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_of(view_named("shattering").settings, caps={**SHATTER_CAPS, "sweep": 8}).filter(
    lambda s: len(s.sweep) <= 4))
def test_shattering_over_its_domain(settings):
    v = view_named("shattering")
    result = _study(v, settings, Inputs())
    if result is not None:
        _check_result(v, result, Inputs())


PLAYGROUND_CAPS = dict(depth=6, width=8, steps=40, frames=6, points=300, batch_size=64)


@hsettings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_of(view_named("playground").settings, caps=PLAYGROUND_CAPS))
def test_playground_over_its_domain(settings):
    v = view_named("playground")
    result = _study(v, settings, Inputs())
    if result is not None:
        _check_result(v, result, Inputs())


def test_playground_caption_of_a_deep_relu_pair_without_batch_norm():
    """The issue's crash: a deep ReLU pair without BN whose plain net's first block gets exactly zero gradient
    (ZeroDivisionError in `gradient_sentence`)."""
    from resnet_viz.views.playground import PlaygroundSettings, gradient_sentence

    v = view_named("playground")
    s = PlaygroundSettings(depth=30, width=8, activation="relu", norm="none", steps=40, frames=4)
    result = v.compute(s, Inputs())
    text = gradient_sentence(result)
    assert "nan" not in text and "inf" not in text
    _check_result(v, result, Inputs())


# Small trained pairs: an ordinary one, one whose plain net diverged, one at chance, and a 1-block MLP pair.
PAIRS = {
    "cnn-3": dict(net=dict(arch="cnn", depth=3, width=4), train=dict(epochs=1)),
    "diverged": dict(net=dict(arch="mlp", depth=4, width=16, norm="none", shortcut_scale=2.0),
                     train=dict(epochs=1, lr=10.0)),
    "chance": dict(net=dict(arch="cnn", depth=3, width=4), train=dict(epochs=1, lr=1e-6)),
    "mlp-1": dict(net=dict(arch="mlp", depth=1, width=8), train=dict(epochs=1)),
}


@pytest.fixture(scope="module")
def pairs():
    out = {}
    for name, p in PAIRS.items():
        cfg = TrainConfig(grad_norm_steps=5, checkpoints_per_epoch=2, **p["train"])
        net = net_config_for("digits", **p["net"])
        out[name] = {"plain": train(net.twin(), cfg), "residual": train(net, cfg)}
    return out


def _pair_inputs(runs):
    first = runs["residual"]
    return Inputs(net=first.net, train=first.train, runs=runs)


LANDSCAPE_CAPS = dict(grid=5, samples=48, max_iterations=6, map_grid=3)
ENSEMBLE_CAPS = dict(samples=4, batch=48, max_k=4)
PAIR_VIEWS = {"landscape": (LANDSCAPE_CAPS, 6), "ensemble": (ENSEMBLE_CAPS, 5)}  # caps, examples


@pytest.mark.parametrize("slug", list(PAIR_VIEWS))
@pytest.mark.parametrize("pair", list(PAIRS))
def test_pair_views_over_their_domain(pairs, pair, slug):
    v = view_named(slug)
    caps, n = PAIR_VIEWS[slug]

    @hsettings(max_examples=examples(n), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(settings_of(v.settings, caps=caps))
    def check(settings):
        inputs = _pair_inputs(pairs[pair])
        result = _study(v, settings, inputs)
        if result is not None:
            _check_result(v, result, inputs)

    check()


@pytest.mark.parametrize("pair", list(PAIRS))
def test_features_over_its_domain(pairs, pair):
    from resnet_viz.data import load_dataset

    v = view_named("features")
    data = load_dataset("digits")

    @hsettings(max_examples=examples(5), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(settings_of(v.settings, caps=dict(steps=16, target=12, cam_block=5, block=5)),
           st.integers(0, len(data.y_test) - 1))
    def check(settings, index):
        inputs = _pair_inputs(pairs[pair])
        inputs.extra["x"] = data.x_test[index:index + 1]
        result = _study(v, settings, inputs)
        if result is not None:
            _check_result(v, result, inputs)

    check()


def test_family_over_its_domain():
    v = view_named("family")

    @hsettings(max_examples=examples(5), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(settings_of(v.settings, caps=dict(models=2, image_size=512)))
    def check(settings):
        result = _study(v, settings, Inputs())
        if result is not None:
            _check_result(v, result, Inputs())

    check()


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["build_train", "identity"])
def test_training_studies_over_their_domain(pairs, slug):
    """The studies that train nets of their own, on a tiny MLP base pair and budgets: one seed, deep nets that fail,
    learning rates that diverge, all of the domain's shortcut variants."""
    v = view_named(slug)
    caps = dict(depths=2, seeds=2, width=8, epochs=1, warmup_epochs=1, sweep_width=16, sweep_seeds=2,
                sweep_points=32, sweep_depths=3) | ({"depths": 2} if slug == "build_train" else {})
    base_net = net_config_for("digits", arch="mlp", depth=2, width=8)
    base_train = TrainConfig(epochs=1, grad_norm_steps=3, checkpoints_per_epoch=0)
    small = settings_of(v.settings, caps=caps)
    if slug == "build_train":
        small = small.filter(lambda s: max(s.depths) <= 6)
    else:
        small = small.filter(lambda s: len(s.variants) <= 2 and (not s.random_nets or max(s.sweep_depths) <= 6))

    @hsettings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                               HealthCheck.filter_too_much])
    @given(small)
    def check(settings):
        inputs = Inputs(net=base_net, train=base_train, runs=pairs["mlp-1"])
        result = _study(v, settings, inputs)
        if result is not None:
            _check_result(v, result, inputs)

    check()


def test_numbers_in_captions_are_finite_on_extreme_pairs(pairs):
    """Every caption of the pair views on the extreme pairs at their default settings: finite numbers only. A
    diverged net has no loss landscape: that view says so in one line (`_study`) instead."""
    drawn = set()
    for pair, runs in pairs.items():
        for slug in ("landscape", "ensemble"):
            v = view_named(slug)
            inputs = _pair_inputs(runs)
            caps = LANDSCAPE_CAPS if slug == "landscape" else ENSEMBLE_CAPS
            s = dataclasses.replace(v.settings(), **{k: min(getattr(v.settings(), k), c) if not k == "grid" else 7
                                                     for k, c in caps.items() if k != "max_k"})
            result = _study(v, s, inputs)  # refused in one line: a diverged net's landscape, a 1-block ensemble
            if result is not None:
                drawn.add((pair, slug))
                _check_result(v, result, inputs)
    assert {("cnn-3", "landscape"), ("chance", "landscape"), ("mlp-1", "landscape"), ("diverged", "ensemble"),
            ("chance", "ensemble")} <= drawn
