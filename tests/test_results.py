"""Computed view results kept on disk and shipped (resnet_viz.results, issue 35): the codec writes no pickle and
rebuilds only the lab's dataclasses, the key names everything a result depends on, the store touches only its own
entries, and every shipped result is the one a fresh computation gives."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil

import numpy as np
import pytest
import torch

from resnet_viz import results as R
from resnet_viz.captions import Caption
from resnet_viz.registry import VIEWS, Inputs, view
from resnet_viz.views.family import FamilySettings, FamilyView, ModelCost


@dataclasses.dataclass
class Foreign:  # a dataclass that is not the lab's: never stored
    x: int = 1


def _tree():
    """A result-like object with every kind of value a view's result holds."""
    cost = ModelCost(parameters=11, macs=12, layers=3, activation_bytes=40)
    return {
        "floats": [1.5, math.nan, math.inf, -math.inf, np.float32(0.25), np.float64(2.0)],
        "ints": (np.int64(7), 3, True, np.bool_(False)),
        "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([], dtype=np.float64),
                   np.array([True, False]), np.arange(4, dtype=np.int64)[::2]],
        "tensor": torch.linspace(0, 1, 5),
        (1, "a"): "a tuple key",
        3: frozenset({"b", "a"}),
        "caption": Caption("Short takeaway.", "The details."),
        "dataclass": cost,
        "none": None,
    }


def _same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert type(a) is type(b) and a == b


def test_a_result_reads_back_with_its_types_and_values(tmp_path):
    tree = _tree()
    R.write_result(tree, str(tmp_path))
    back = R.read_result(str(tmp_path))
    _same(tree, back)
    assert back["caption"].takeaway == "Short takeaway." and back["caption"].details == "The details."
    assert back["dataclass"].to_dict() == tree["dataclass"].to_dict()
    # No pickle: the entry is JSON and safetensors only.
    assert sorted(os.listdir(tmp_path)) == ["arrays.safetensors", "result.json"]
    json.loads((tmp_path / "result.json").read_text())


def test_what_is_not_the_labs_is_never_written_or_rebuilt(tmp_path):
    with pytest.raises(R.UnstorableResult):
        R.encode({"x": Foreign()}, {})
    with pytest.raises(R.UnstorableResult):
        R.encode([torch.nn.Linear(2, 2)], {})
    with pytest.raises(R.UnstorableResult):
        R.encode(np.array(["text"], dtype=object), {})
    # A crafted entry naming anything but a dataclass of the lab is refused, never imported and called.
    for name in ("os:system", "builtins:eval", "resnet_viz.results:study", "tests.test_results:Foreign"):
        with pytest.raises(ValueError):
            R.decode({"t": "dataclass", "class": name, "fields": {}}, {}, None)
    with pytest.raises(ValueError):
        R.decode({"t": "dataclass", "class": "resnet_viz.views.family:ModelCost", "fields": {"parameters": 1}}, {}, None)
    with pytest.raises(ValueError):
        R.decode({"t": "pickle", "data": "..."}, {}, None)


def _family(models=("resnet18",)) -> FamilyView:
    from resnet_viz.views.family import family_study

    return family_study(FamilySettings(models=models))


def test_the_store_keeps_reads_and_touches_only_its_own_entries(tmp_path):
    store = R.ResultStore(str(tmp_path), None, max_entries=2)
    foreign = tmp_path / ("0" * R.KEY_CHARS)  # a key's name, but not the store's folder
    foreign.mkdir()
    (foreign / "notes.txt").write_text("a student's file")
    first = _family()
    assert store.put("a" * R.KEY_CHARS, first) and store.has("a" * R.KEY_CHARS)
    back = store.get("a" * R.KEY_CHARS)
    assert back.to_dict() == first.to_dict() and back.captions() == first.captions()
    store.put("b" * R.KEY_CHARS, first)
    os.utime(tmp_path / ("a" * R.KEY_CHARS), (1, 1))  # the least recently used
    os.utime(foreign, (0, 0))  # older still, but not the store's
    store.put("d" * R.KEY_CHARS, first)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(["0" * R.KEY_CHARS, "b" * R.KEY_CHARS, "d" * R.KEY_CHARS])
    assert (foreign / "notes.txt").read_text() == "a student's file"
    # A temporary of the store left by a write cut off long ago is removed; a fresh one (a write going on) is not.
    old, fresh = tmp_path / (R.TMP_PREFIX + "old"), tmp_path / (R.TMP_PREFIX + "fresh")
    for t in (old, fresh):
        t.mkdir()
        (t / R.MARKER).write_text("")
    os.utime(old, (1, 1))
    store.put("e" * R.KEY_CHARS, first)
    assert not old.exists() and fresh.exists()
    shutil.rmtree(fresh)
    # A corrupt entry of the store is removed (and computed again by the caller); the foreign folder is not read.
    (tmp_path / ("d" * R.KEY_CHARS) / "arrays.safetensors").write_bytes(b"garbage")
    assert store.get("d" * R.KEY_CHARS) is None and not (tmp_path / ("d" * R.KEY_CHARS)).exists()
    assert store.get("0" * R.KEY_CHARS) is None and foreign.exists()


def test_a_store_that_cannot_write_still_gives_the_result(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = R.ResultStore(str(blocked), None)
    calls = []
    fam = view("family")
    counting = dataclasses.replace(fam, study=lambda s, i: calls.append(1) or _family())
    out = R.study(counting, FamilySettings(models=("resnet18",)), Inputs(), store=store)
    assert isinstance(out, FamilyView) and calls == [1]
    assert store.last_write_error and "cannot save a result" in store.last_write_error


def test_study_computes_once_and_reads_the_kept_result_after(tmp_path):
    store = R.ResultStore(str(tmp_path), None)
    calls = []
    counting = dataclasses.replace(view("family"), study=lambda s, i: calls.append(s) or _family(s.models))
    settings = FamilySettings(models=("resnet18", "resnet34"))
    first = R.study(counting, settings, Inputs(), store=store)
    second = R.study(counting, settings, Inputs(), store=store)
    assert len(calls) == 1 and second.to_dict() == first.to_dict()
    R.study(counting, FamilySettings(models=("resnet18",)), Inputs(), store=store)  # another key
    assert len(calls) == 2
    # A new result version of the view is a miss: its numbers may differ.
    R.study(dataclasses.replace(counting, result_version=2), settings, Inputs(), store=store)
    assert len(calls) == 3


def test_the_key_names_the_weights_of_a_pair_and_the_configs_of_a_study(default_pair_runs):
    plain, residual = default_pair_runs
    landscape, degradation = view("landscape"), view("build_train")
    runs = {"plain": plain, "residual": residual}
    s = landscape.settings()
    key = R.result_key(landscape, s, runs=runs)
    # Display fields change no number: the same key.
    display = [f.name for f in dataclasses.fields(s) if f.name not in R.computation(s)]
    assert display, "the landscape settings have display fields"
    assert R.result_key(landscape, dataclasses.replace(s, **{display[0]: getattr(s, display[0])}), runs=runs) == key
    # One weight changed by one ulp: another pair, another key.
    other = dataclasses.replace(residual, model=_copy_model(residual.model))
    with torch.no_grad():
        p = next(other.model.parameters())
        p.view(-1)[0] = torch.nextafter(p.view(-1)[0], torch.tensor(math.inf))
    assert R.result_key(landscape, s, runs={"plain": plain, "residual": other}) != key
    # A study that trains its own nets is keyed by the pair's configs.
    d = degradation.settings()
    k1 = R.result_key(degradation, d, net=residual.net, train=residual.train)
    assert k1 == R.result_key(degradation, d, net=residual.net, train=residual.train, runs=runs)
    assert k1 != R.result_key(degradation, d, net=residual.net.replace(width=residual.net.width + 1),
                              train=residual.train)


def _copy_model(model):
    import copy

    return copy.deepcopy(model)


def test_a_result_that_names_a_run_no_longer_available_is_computed_again(tmp_path, default_pair_runs):
    plain, residual = default_pair_runs
    tree = {"runs": {"plain": plain}}
    R.write_result(tree, str(tmp_path))
    back = R.read_result(str(tmp_path), lambda n, c: plain if (n, c) == (plain.net, plain.train) else None)
    assert back["runs"]["plain"] is plain
    with pytest.raises(LookupError):
        R.read_result(str(tmp_path), lambda n, c: None)


# --- the shipped results ----------------------------------------------------------------------------------------


def _manifest():
    from resnet_viz.assets import RESULTS_DIR

    with open(os.path.join(RESULTS_DIR, "manifest.json")) as f:
        return json.load(f)


def test_every_preset_and_every_stored_default_ships_its_result():
    from resnet_viz.shipping import shipped_results

    purposes = {p for entry in _manifest()["results"].values() for p in entry["for"]}
    assert purposes == {purpose for purpose, _, _ in shipped_results()}
    assert {v.slug for v in VIEWS if v.stored} <= {e["view"] for e in _manifest()["results"].values()}


def _shipped_cases():
    from resnet_viz.shipping import shipped_results

    return [pytest.param(purpose, v, s, id=purpose.replace(" ", "-")) for purpose, v, s in shipped_results()]


@pytest.mark.parametrize("purpose,v,settings", _shipped_cases())
def test_a_shipped_result_is_what_a_fresh_computation_gives(purpose, v, settings, tmp_path):
    """The shipped result is found under the key of the shipped pair (or the preset's), and equals the study
    computed now, number for number (its JSON, captions included): a change in a study that forgets to raise the
    view's `result_version` fails here (regenerate with `python -m resnet_viz.shipping --results-only`)."""
    from resnet_viz.assets import RESULTS_DIR
    from resnet_viz.shipping import shipped_inputs

    inputs = shipped_inputs(purpose, v)
    key = R.result_key(v, settings, net=inputs.net, train=inputs.train, runs=inputs.runs)
    shipped = R.ResultStore(None, RESULTS_DIR).get(key, R.shipped_resolver())
    assert shipped is not None, f"{purpose}: no shipped result under its key; run python -m resnet_viz.shipping --results-only"
    fresh = v.compute(R.shared_settings(settings), inputs)
    a, b = shipped.to_dict(), fresh.to_dict()
    assert _close(a, b), f"{purpose}: the shipped result differs from a fresh computation"


def _close(a, b, rel=1e-4, abs_=1e-6) -> bool:
    """Equal JSON trees, floats to a relative tolerance (a thread count may change the last bits of a sum), wall
    times ("seconds") left out."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            k == "seconds" or _close(a[k], b[k], rel, abs_) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_close(x, y, rel, abs_) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return a == b


@pytest.mark.parametrize("preset", __import__("resnet_viz.presets", fromlist=["PRESETS"]).PRESETS, ids=lambda p: p.slug)
def test_every_preset_opens_from_its_shipped_result_without_computing(seeded_store, preset, monkeypatch):
    """A preset clicked on Home shows its figures from the shipped result: no study is computed, no net trained."""
    from streamlit.testing.v1 import AppTest

    import resnet_viz.executor as executor_mod
    from resnet_viz import registry
    from ui.common import clear_computed

    clear_computed()  # nothing kept in memory from other tests
    monkeypatch.setattr(registry.View, "compute", lambda *a, **k: pytest.fail(f"{preset.slug}: computed"))
    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail(f"{preset.slug}: trained"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    at = AppTest.from_file(os.path.join(root, "lab.py"), default_timeout=60)
    at.run()
    at.button(key=f"preset_{preset.slug}").click().run()
    assert at.title[0].value == preset.view_record.title
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    assert at.get("plotly_chart"), preset.slug
