"""Heavy work on a Dask cluster (issue 27): a `distributed.LocalCluster` of 2 worker processes with one thread
each stands in for a course's cluster. The oracle of every result is the same work done in this process
(`executor.InProcess`) with the lab's thread policy: equal bit for bit on the CPU."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import tempfile
import threading
import warnings

import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")

from resnet_viz import executor as EX  # noqa: E402
from resnet_viz.assets import default_pair_configs, load_shipped  # noqa: E402
from resnet_viz.cli import main  # noqa: E402
from resnet_viz.data import load_dataset  # noqa: E402
from resnet_viz.store import run_key  # noqa: E402
from resnet_viz.train import TrainConfig, net_config_for  # noqa: E402
from resnet_viz.views import landscape as L  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster():
    # Worker processes are spawned, and a spawned process first runs the parent's __main__ file again: in a
    # full test run that is the last script AppTest ran, which fails outside it. A __main__ without a file
    # while the cluster lives (its nannies restart killed workers too).
    import sys
    import types

    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield from _cluster()
    finally:
        sys.modules["__main__"] = main


def _cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up notes (ports, dashboard)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                      silence_logs=40) as c, distributed.Client(c, set_as_default=False) as client:
            client.wait_for_workers(2)
            yield c, client


@pytest.fixture
def on_cluster(cluster):
    return EX.DaskExecutor(cluster[0].scheduler_address, client=cluster[1])


def _tiny(seed=0, **net):
    return net_config_for("digits", **{"arch": "mlp", "depth": 3, "width": 16, "seed": seed, **net}), \
        TrainConfig(epochs=2, seed=seed)


def _same_run(a, b) -> None:
    assert a.net == b.net and a.train == b.train
    assert a.history.step_loss == b.history.step_loss
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_a_plane_split_over_two_workers_equals_the_in_process_plane(cluster, on_cluster):
    """Li et al.'s plane of the default residual net: chunks of grid points on both workers, the same numbers."""
    run = load_shipped(*default_pair_configs()[1])
    data = load_dataset("digits")
    kw = dict(grid=9, samples=256, seed=3)
    expected = []
    here = L.plane(run.model, data.x_train, data.y_train, executor=EX.InProcess(), **kw,
                   preview=lambda s: expected.append(int(s.evaluated.sum())))
    previews, messages = [], []
    with distributed.get_task_stream(client=cluster[1]) as stream:
        there = L.plane(run.model, data.x_train, data.y_train, executor=on_cluster, **kw,
                        preview=lambda s: previews.append(int(s.evaluated.sum())),
                        progress=lambda f, m: messages.append(m))
    assert np.array_equal(here.loss, there.loss) and np.array_equal(here.accuracy, there.accuracy)
    assert there.complete and np.isfinite(there.loss).all()
    assert previews == expected and len(previews) >= 2 and previews[-1] == 81  # coarse to fine, a level at a time
    workers = {t["worker"] for t in stream.data if str(t["key"]).startswith("grid-")}
    assert len(workers) == 2, stream.data
    assert messages[-1].startswith("81/81 grid points")


def test_a_curvature_map_on_the_cluster_equals_the_in_process_map(on_cluster):
    net, cfg = _tiny()
    run = EX.InProcess().train(net, cfg, threads=1)
    data = load_dataset("digits")
    kw = dict(grid=3, samples=128, max_iterations=12)
    here = L.curvature_map(run.model, data.x_train, data.y_train, executor=EX.InProcess(), **kw)
    there = L.curvature_map(run.model, data.x_train, data.y_train, executor=on_cluster, **kw)
    for a, b in [(here.lambda_min, there.lambda_min), (here.lambda_max, there.lambda_max),
                 (here.iterations, there.iterations)]:
        assert np.array_equal(a, b)
    assert here.settings == there.settings


def test_a_training_on_a_worker_equals_the_in_process_training(on_cluster):
    net, cfg = _tiny(seed=1)
    messages = []
    there = on_cluster.train(net, cfg, progress=lambda f, m: messages.append(m), threads=1)
    _same_run(there, EX.InProcess().train(net, cfg, threads=1))
    assert any(re.search(r"on the cluster.s worker tcp://", m) for m in messages), messages  # the page says where it trains


def test_a_killed_worker_s_training_completes_on_the_other(cluster, on_cluster):
    net, cfg = net_config_for("digits", depth=6, width=16, seed=5), TrainConfig(epochs=4, seed=5)
    killed, messages = [], []

    def progress(fraction, message):
        messages.append(message)
        found = re.search(r"worker (tcp://\S+)", message)
        if found and fraction > 0.05 and not killed:  # mid-training: that worker's process dies
            killed.append(found.group(1))
            pid = cluster[1].run(os.getpid, workers=[found.group(1)])[found.group(1)]
            os.kill(pid, signal.SIGKILL)

    there = on_cluster.train(net, cfg, progress=progress, threads=1)
    assert killed, messages
    assert any(EX.RETRYING in m for m in messages), messages  # the student's page says so
    _same_run(there, EX.InProcess().train(net, cfg, threads=1))
    cluster[1].wait_for_workers(2, timeout=60)  # the nanny restarts it, for the tests after this one


def test_a_study_s_nets_train_side_by_side_on_the_cluster(cluster, on_cluster, tmp_path):
    """A study asks for its nets one after another; prefetched (ui.results does it with the view's `nets`), they
    train at the same time on both workers, and the study's sequential calls get those very runs."""
    from resnet_viz.store import RunStore

    pairs = [_tiny(seed=20 + i, depth=4) for i in range(4)]
    store = RunStore(folder=str(tmp_path), executor=on_cluster)
    with distributed.get_task_stream(client=cluster[1]) as stream:
        held = store.prefetch(pairs)
        runs = [store.get_or_train(n, c)[1] for n, c in pairs]
        del held
    spans = [(t["worker"], min(s["start"] for s in t["startstops"]), max(s["stop"] for s in t["startstops"]))
             for t in stream.data if str(t["key"]).startswith("train-")]
    assert len(spans) == 4 and len({w for w, _, _ in spans}) == 2, spans  # each trained once, on both workers
    assert any(a[1] < b[2] and b[1] < a[2] for a in spans for b in spans if a is not b), spans  # at the same time
    _same_run(runs[0], EX.InProcess().train(*pairs[0], threads=1))
    assert store.prefetch(pairs) is None  # all kept now: nothing to start


def test_two_servers_asking_at_once_share_one_training_task(cluster):
    """Two app servers, two clients of one scheduler: the training's key is the same, so it runs once."""
    address = cluster[0].scheduler_address
    servers = [EX.DaskExecutor(address) for _ in range(2)]
    try:
        net, cfg = _tiny(seed=2, depth=4)
        results = [None, None]

        def ask(i):
            results[i] = servers[i].train(net, cfg, threads=1)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        _same_run(results[0], results[1])
        key = f"train-{run_key(net, cfg)}-t1"
        started = [e for _, e in cluster[1].get_events(EX.PROGRESS_TOPIC) if e["key"] == key and e["message"] == "started"]
        assert len(started) == 1, started  # the scheduler's own event log: one task ran
    finally:
        for s in servers:
            s.close()


def test_an_unreachable_scheduler_falls_back_in_process_and_says_so_once(monkeypatch):
    import socket

    from browser_util import ROOT
    from streamlit.testing.v1 import AppTest

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = EX.DaskExecutor(f"tcp://127.0.0.1:{port}", connect_timeout_s=1, retry_s=3600)
    net, cfg = _tiny(seed=3, depth=2)
    with pytest.warns(RuntimeWarning, match="cannot be reached") as said:
        first = ex.train(net, cfg, threads=1)
        ex.train(net, cfg, threads=1)
    assert len(said) == 1 and not ex.remote
    _same_run(first, EX.InProcess().train(net, cfg, threads=1))
    ex.close()
    # The lecturer's Home page says it, once a session.
    monkeypatch.setenv("RESNET_VIZ_DASK", f"tcp://127.0.0.1:{port}")
    EX.close()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            at = AppTest.from_file(os.path.join(ROOT, "lab.py"), default_timeout=120).run()  # opens Home
            assert not at.exception
            notes = [w.value for w in at.warning if "cannot be reached" in w.value]
            assert len(notes) == 1
            at.run()
            assert not [w.value for w in at.warning if "cannot be reached" in w.value]
    finally:
        EX.close()


def test_a_link_cannot_send_work_anywhere(monkeypatch):
    """Where work goes is the server's setting: a link naming a scheduler changes nothing."""
    from browser_util import ROOT
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("RESNET_VIZ_DASK", raising=False)
    EX.close()
    at = AppTest.from_file(os.path.join(ROOT, "lab.py"), default_timeout=120)
    at.query_params.update({"dask": "tcp://10.9.9.9:8786", "scheduler": "tcp://10.9.9.9:8786",
                            "RESNET_VIZ_DASK": "tcp://10.9.9.9:8786"})
    at.run()
    assert not at.exception and isinstance(EX.current(), EX.InProcess)
    assert "in this server process" in EX.current().describe()


def test_the_command_line_sends_work_to_the_scheduler_it_is_given(cluster, tmp_path, capsys):
    with distributed.get_task_stream(client=cluster[1]) as stream:
        status = main(["--scheduler", cluster[0].scheduler_address, "train", "--arch", "mlp", "--depth", "2",
                       "--width", "8", "--epochs", "1", "--quiet", "--json", str(tmp_path / "run.json")])
    assert status == 0 and (tmp_path / "run.json").is_file()
    assert any(str(t["key"]).startswith("train-") for t in stream.data)
    assert main(["--scheduler", "http://127.0.0.1:8786", "train"]) == 2
    assert "tcp://HOST:PORT or tls://HOST:PORT" in capsys.readouterr().err


def test_the_lecturer_line_names_the_cluster_its_workers_and_dashboard(on_cluster):
    line = on_cluster.describe()
    assert "2 workers, 2 threads" in line and "dashboard: http" in line


# --- two `streamlit run` servers on one run store ------------------------------------------------------------


@pytest.mark.timeout(600)
def test_two_app_servers_on_one_run_store_train_a_config_once():
    """Two replicas of the app (two `streamlit run` processes, no cluster) on one shared run-store folder; a
    student on each opens the same new pair at the same moment: it is trained once (each server's log names
    the runs it trained), the other server waits and loads it from the folder, and both pages draw."""
    import st_protocol
    from browser_util import streamlit_server

    query = "depth=3&width=4&epochs=1&seed=7"
    env = {"RESNET_VIZ_WARM": "0", "RESNET_VIZ_SHIPPED_RUNS": "none"}
    with tempfile.TemporaryDirectory() as folder:
        env["RESNET_VIZ_RUN_STORE"] = folder
        with streamlit_server(env=env) as a, streamlit_server(env=env) as b:
            async def open_both():
                sessions = [st_protocol.Session(u) for u in (a, b)]
                for s in sessions:
                    await s.connect()
                try:
                    return await asyncio.gather(*(s.open_page("features", query, timeout=300) for s in sessions))
                finally:
                    for s in sessions:
                        await s.close()

            runs = asyncio.run(open_both())
            logs = [open(u.log).read() for u in (a, b)]
        stored = sorted(e for e in os.listdir(folder) if not e.startswith("."))
    for r in runs:
        assert r.error is None and r.charts >= 1, r
    trained = [line for log in logs for line in log.splitlines() if "trained run" in line]
    assert len(trained) == 2, logs  # the plain and the residual net, once each across both servers
    assert sorted(re.search(r"trained run (\w+)", t).group(1) for t in trained) == stored
