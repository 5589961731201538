"""Shared fixtures: the default trained pair (trained once per test session) and app-test helpers."""

from __future__ import annotations

import os

# Training in tests runs with one thread: on a busy 2-core machine PyTorch's two spinning OpenMP
# threads run many times slower than one, and tests check behaviour, not speed. Set before torch
# is imported; the streamlit servers of the browser tests inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The tests that train on two threads share the machine with the other pytest worker (pytest.ini: -n 2):
# OpenMP threads that spin 1,000 times (not libgomp's 300,000) before they sleep give the core back to it
# (the default pair on two threads beside a busy core: 39 s spinning, 22 s so). Waiting changes no result.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# AppTests read .streamlit/config.toml, which shows students an uncaught exception's type only (ui/errors.py):
# a failing test wants its message and traceback. (The browser tests' servers keep the lab's setting.)
from streamlit import config as _streamlit_config  # noqa: E402

_streamlit_config.set_option("client.showErrorDetails", "full")

# Page tests seed the run store themselves; no background training of the default pair.
os.environ.setdefault("RESNET_VIZ_WARM", "0")
# Runs the app trains in tests are kept on disk in a folder of this test session (not ~/.cache).
if "RESNET_VIZ_RUN_STORE" not in os.environ:
    import tempfile

    os.environ["RESNET_VIZ_RUN_STORE"] = tempfile.mkdtemp(prefix="resnet-viz-runs-")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests, whatever OMP_NUM_THREADS says (a module opts in with
    `pytestmark = pytest.mark.usefixtures("one_thread")`): its nets are too small to gain from
    threads, and on a shared, loaded machine a second thread only spin-waits; no result depends on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def default_pair_runs():
    """(plain, residual) runs of the app's default pair on digits: the shipped ones (resnet_viz/shipped/runs,
    checked in test_assets.py), trained when they are missing.

    Tests must treat them as read-only (as the app does with its cached runs).
    """
    from resnet_viz.assets import default_pair_configs, load_shipped
    from resnet_viz.train import train

    return tuple(load_shipped(net, cfg) or train(net, cfg) for net, cfg in default_pair_configs())


@pytest.fixture
def seeded_store(default_pair_runs):
    """The app's run store holding the default pair, so page tests do not retrain it.

    Streamlit's data caches and the pages' kept results (ui.common.cached_compute) are cleared
    before and after each test.
    """
    import streamlit as st

    from ui.common import clear_computed, run_store

    st.cache_data.clear()
    clear_computed()
    store = run_store()
    for run in default_pair_runs:
        store.put(run)
    yield store
    st.cache_data.clear()
    clear_computed()


def tiny_preset(preset, depth: int = 6):
    """The same preset (resnet_viz.presets) at toy-of-toy scale, so every study runs in a test."""
    import dataclasses

    from resnet_viz.views.degradation import DegradationSettings
    from resnet_viz.views.ensemble import EnsembleSettings
    from resnet_viz.views.identity import IdentitySettings
    from resnet_viz.views.landscape import LandscapeSettings
    from resnet_viz.views.playground import PlaygroundSettings
    from resnet_viz.views.shattering import ShatteringSettings

    s = preset.settings
    if isinstance(s, DegradationSettings):
        s = dataclasses.replace(s, depths=(3, 6), seeds=1, width=4, epochs=2)
    if isinstance(s, LandscapeSettings):
        s = dataclasses.replace(s, grid=5, samples=64)
    if isinstance(s, EnsembleSettings):
        s = dataclasses.replace(s, samples=4)
    if isinstance(s, ShatteringSettings):
        s = dataclasses.replace(s, width=25, seeds=1, sweep=(1, 4))
    if isinstance(s, IdentitySettings):
        s = dataclasses.replace(s, sweep_width=25, sweep_depths=(1, 4))
    if isinstance(s, PlaygroundSettings):
        s = dataclasses.replace(s, depth=min(s.depth, 4), points=200, steps=20, frames=4, batch_size=32)
    return dataclasses.replace(preset, net={**preset.net, "depth": depth, "width": 4},
                               train={**preset.train, "epochs": 1, "warmup_epochs": 0.0}, settings=s)


def state_dict_copy(model: torch.nn.Module) -> dict:
    """A deep copy of a model's state, to check later that it was not changed."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(model: torch.nn.Module, saved: dict) -> None:
    """Assert the model's state equals `saved` exactly."""
    now = model.state_dict()
    assert now.keys() == saved.keys()
    for k, v in saved.items():
        assert torch.equal(now[k], v), f"{k} changed"


@pytest.fixture(scope="session")
def lab_server():
    """One `streamlit run app.py` (its warm-up on, its own run store) shared by the browser tests' modules, as one
    server holds a lecture's sessions: started by the first module that asks, stopped at the end of the run."""
    import tempfile

    from browser_util import streamlit_server

    with tempfile.TemporaryDirectory() as folder, \
            streamlit_server(env={"RESNET_VIZ_WARM": "1", "RESNET_VIZ_RUN_STORE": folder}) as url:
        yield url

# Property-based tests (tests/test_domains.py): derandomized with fixed example counts in CI ("ci"); a longer local
# run: HYPOTHESIS_PROFILE=long (ten times the examples, random seeds).
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                                      suppress_health_check=[HealthCheck.too_slow])
_hypothesis_settings.register_profile("long", deadline=None, suppress_health_check=[HealthCheck.too_slow])
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
