"""Several students on one server, without a browser: two AppTest sessions share the process-wide
run store (`st.cache_resource`), as two browser tabs share one `streamlit run`.

- a pair trained in one session does not appear in the other session's picker (but its
  runs are shared through the store, trained once);
- rendering every view page leaves the shared cached runs exactly as they were;
- the store stays bounded by $RESNET_VIZ_MAX_RUNS, and a dropped pair is retrained on demand.
"""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from conftest import assert_same_state, state_dict_copy
from resnet_viz.store import run_key
from ui.common import default_pair

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Generous: the first test here may train the default pair (minutes on a busy 2-core machine).
pytestmark = [pytest.mark.timeout(1500), pytest.mark.usefixtures("one_thread")]


def page(name: str) -> str:
    return os.path.join(ROOT, "pages", f"{name}.py")


def widget(elements, label):
    return next(e for e in elements if e.label == label)


def open_build_train() -> AppTest:
    at = AppTest.from_file(page("build_train"), default_timeout=300).run()
    assert not at.exception, at.exception
    return at


def train_tiny_pair(at: AppTest, width: int) -> None:
    """Train a tiny CNN pair (3 blocks, `width` channels, 1 epoch) with the sidebar form."""
    widget(at.sidebar.number_input, "Blocks (depth)").set_value(3)
    widget(at.sidebar.number_input, "Width").set_value(width)
    widget(at.sidebar.number_input, "Epochs").set_value(1)
    widget(at.sidebar.button, "Train plain + residual").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def session_pairs(at: AppTest) -> list:
    return list(at.session_state["pairs"])


def test_a_pair_trained_in_one_session_is_not_in_the_others_picker(seeded_store):
    alice, bob = open_build_train(), open_build_train()
    train_tiny_pair(alice, width=4)
    alice_pairs = session_pairs(alice)
    assert len(alice_pairs) == 2 and alice_pairs[1].net.depth == 3 and alice_pairs[1].net.width == 4
    assert len(widget(alice.sidebar.selectbox, "Trained pair").options) == 2

    # Bob's next run (any widget change, or simply a rerun) still offers only his own pairs.
    bob.run()
    assert not bob.exception
    assert len(widget(bob.sidebar.selectbox, "Trained pair").options) == 1
    assert session_pairs(bob) == [default_pair()]
    assert not any("3 blocks" in s.value for s in bob.subheader)

    # Alice's runs live in the shared store (so training them is not repeated for anyone) ...
    for net, cfg in alice_pairs[1].configs:
        assert seeded_store.get(run_key(net, cfg)) is not None
    # ... and Bob's own pair does not leak back to Alice.
    train_tiny_pair(bob, width=5)
    alice.run()
    assert not alice.exception
    assert [p.net.width for p in session_pairs(alice)] == [16, 4]
    assert [p.net.width for p in session_pairs(bob)] == [16, 5]
    assert "3 blocks" in widget(alice.sidebar.selectbox, "Trained pair").value.label


def test_rendering_every_view_leaves_the_shared_runs_untouched(seeded_store, default_pair_runs):
    saved = [state_dict_copy(r.model) for r in default_pair_runs]
    modes = [r.model.training for r in default_pair_runs]
    stored = [seeded_store.get(run_key(r.net, r.train)) for r in default_pair_runs]
    assert all(s is r for s, r in zip(stored, default_pair_runs))  # the pages get these very objects

    small_landscape = {"ls_grid": 5, "ls_span": 0.5, "ls_samples": 64}  # the landscape form's widget keys
    for name in ("build_train", "landscape", "shattering", "ensemble", "features"):
        at = AppTest.from_file(page(name), default_timeout=300)
        if name == "landscape":
            for k, v in small_landscape.items():
                at.session_state[k] = v
        if name == "ensemble":
            at.session_state["ens_samples"] = 4
            at.session_state["ens_batch"] = 32
        at.run()
        assert not at.exception, (name, at.exception)
        assert not at.error, (name, [e.value for e in at.error])
        assert at.get("plotly_chart"), name
        if name == "landscape":  # also the views that interpolate and take Hessian-vector products
            for view in ("Interpolation", "Curvature"):
                at.radio(key="landscape_view").set_value(view).run()
                assert not at.exception, (view, at.exception)
        for run, state, mode in zip(default_pair_runs, saved, modes):
            assert_same_state(run.model, state)
            assert run.model.training == mode, f"{name} switched a shared model's train/eval mode"
            assert all(p.grad is None for p in run.model.parameters()), f"{name} left gradients on a shared model"
    # Nothing replaced the shared runs either.
    assert [seeded_store.get(run_key(r.net, r.train)) for r in default_pair_runs] == stored


@pytest.fixture
def small_store(monkeypatch, default_pair_runs):
    """A fresh server-wide store limited to 4 runs (2 pairs), holding the default pair."""
    import streamlit as st

    from ui.common import run_store

    monkeypatch.setenv("RESNET_VIZ_MAX_RUNS", "4")
    run_store.clear()
    st.cache_data.clear()
    store = run_store()
    assert store.max_runs == 4
    for run in default_pair_runs:
        store.put(run)
    yield store
    run_store.clear()  # later tests get a store with the default limit
    st.cache_data.clear()


def test_the_store_stays_bounded_and_retrains_a_dropped_pair_on_demand(small_store):
    alice, bob = open_build_train(), open_build_train()
    train_tiny_pair(alice, width=4)
    tiny = session_pairs(alice)[1]
    tiny_keys = [run_key(n, c) for n, c in tiny.configs]
    assert len(small_store.keys()) == 4 and set(tiny_keys) <= set(small_store.keys())

    # Bob uses the default pair (most recently used now) and trains another pair: the store
    # drops the least recently used runs, Alice's tiny pair, and stays at its limit.
    bob.run()
    train_tiny_pair(bob, width=5)
    assert len(small_store.keys()) == 4
    assert not set(tiny_keys) & set(small_store.keys())

    # Alice still has her pair in her picker; showing it trains it again, with no error.
    alice.run()
    assert not alice.exception and not alice.error
    assert "3 blocks" in widget(alice.sidebar.selectbox, "Trained pair").value.label
    # Architecture, loss, accuracy, gradients, and the degradation study of its config (only depth and width
    # differ from the default pair, and the study sets both: the shipped default study).
    assert len(alice.get("plotly_chart")) == 6
    assert set(tiny_keys) <= set(small_store.keys()) and len(small_store.keys()) == 4
