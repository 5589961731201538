"""The twins train side by side (issue 35): a pair that Build & train (or a link, or a preset) needs trains both
nets at once through the server's job gate, and the runs equal those trained one after the other, bit for bit."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(600)


def test_a_linked_pair_trains_both_nets_at_once_and_as_one_after_the_other(seeded_store, monkeypatch):
    from resnet_viz import executor
    from resnet_viz.train import train

    if seeded_store.gate is None or seeded_store.gate.slots < 2:
        pytest.skip("the server's job gate runs one training at a time on this machine")
    spans: dict[bool, list[float]] = {}
    real = executor.InProcess.train

    def timed(self, net, cfg, **kw):
        start = time.monotonic()
        run = real(self, net, cfg, **kw)
        spans[net.skip] = [start, time.monotonic(), threading.current_thread().name]
        return run

    monkeypatch.setattr(executor.InProcess, "train", timed)
    at = AppTest.from_file(os.path.join(ROOT, "pages", "build_train.py"), default_timeout=300)
    link = {"arch": "mlp", "depth": "6", "width": "32", "epochs": "3", "seed": "4321"}
    for k, v in link.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    assert set(spans) == {False, True}, spans
    (p0, p1, pname), (r0, r1, rname) = spans[False], spans[True]
    assert max(p0, r0) < min(p1, r1), spans  # the two trainings overlapped in time
    assert pname != rname  # each in a thread of its own

    from resnet_viz.store import run_key

    pair = at.session_state["current_pair"]
    assert (pair.net.depth, pair.net.width, pair.train.epochs, pair.net.seed) == (6, 32, 3, 4321)
    for net, cfg in pair.configs:  # one after the other, in this thread: the same, bit for bit
        alone = train(net, cfg)
        stored = seeded_store.get(run_key(net, cfg))
        for (name, a), b in zip(alone.model.state_dict().items(), stored.model.state_dict().values()):
            assert torch.equal(a, b), name
        assert alone.history.step_loss == stored.history.step_loss


def test_the_command_line_trains_twins_side_by_side(tmp_path):
    """`train --twins`: both nets, as `train` and `train --no-skip` give them one after the other, bit for bit."""
    import json

    from resnet_viz.cli import main
    from resnet_viz.train import load_run

    tiny = ["--arch", "mlp", "--depth", "3", "--width", "8", "--epochs", "1", "--quiet"]
    assert main(["train", *tiny, "--twins", "--out", str(tmp_path / "pair"), "--json", str(tmp_path / "p.json")]) == 0
    summary = json.loads((tmp_path / "p.json").read_text())
    assert set(summary) == {"plain", "residual"}
    assert main(["train", *tiny, "--no-skip", "--out", str(tmp_path / "plain")]) == 0
    assert main(["train", *tiny, "--out", str(tmp_path / "residual")]) == 0
    for label in ("plain", "residual"):
        twin, alone = load_run(str(tmp_path / "pair" / label)), load_run(str(tmp_path / label))
        assert twin.net == alone.net and twin.net.skip == (label == "residual")
        for (name, a), b in zip(twin.model.state_dict().items(), alone.model.state_dict().values()):
            assert torch.equal(a, b), name
