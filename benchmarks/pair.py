"""Benchmark: a pair's twins trained side by side against one net, measured in the same run (issue 35).

The app trains a pair's two nets at once through the server's job gate (`RunStore.get_or_train_all`, one PyTorch
thread a job, as many jobs as cores). On two cores the pair should take about one net's time: the goal is a ratio
(pair wall time / one net's wall time) of at most 1.2. Also prints the ratio of training the twins one after the
other, the old way (about 2).

With --study: the degradation study of the Build & train page (depths 3 and 9, one seed, the page's width and
epochs: four nets), computed as the server computes it (the study holding a slot of the job gate, its trainer the
run store's), with one slot (one net after the other, as before) and with a slot a core (its nets trained side by
side: `RunStore.prefetch`, `JobGate.lent`); prints the ratio of the two (goal: about 1 / cores).

    python benchmarks/pair.py [--depth 9] [--width 16] [--epochs 3] [--repeat 2]
    python benchmarks/pair.py --study [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import time

from resnet_viz.jobs import JobGate
from resnet_viz.store import RunStore
from resnet_viz.train import TrainConfig, net_config_for, train


def study(repeat: int, jobs: int) -> None:
    """The degradation study's wall time with one job slot and with `jobs`, fresh nets each time."""
    from resnet_viz.registry import Inputs, view
    from resnet_viz.views.degradation import DegradationSettings

    v = view("build_train")
    times: dict[int, list[float]] = {1: [], jobs: []}
    for r in range(repeat):
        for slots in times:
            seed = 2000 + 10 * r + slots  # new nets each time: nothing is stored yet
            net, cfg = net_config_for("digits"), TrainConfig()
            settings = DegradationSettings(depths=(3, 9), seeds=1, first_seed=seed)
            gate = JobGate(slots)
            inputs = Inputs(net=net, train=cfg, trainer=RunStore(folder=None, gate=gate).trainer())
            t = time.perf_counter()
            with gate.slot():  # as ui.common.cached_compute runs it
                v.compute(settings, inputs)
            times[slots].append(time.perf_counter() - t)
    one, side = min(times[1]), min(times[jobs])
    print(f"{os.cpu_count()} cores; degradation study, depths 3 and 9, one seed (four nets)")
    print(f"one slot (one net after the other): {one:.2f} s; {jobs} slots (side by side): {side:.2f} s; "
          f"ratio {side / one:.2f} (goal about {1 / jobs:.2f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=9)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="job slots (the server's: cores)")
    p.add_argument("--study", action="store_true", help="instead: the degradation study, one slot against a slot a core")
    a = p.parse_args()
    if a.study:
        return study(a.repeat, a.jobs)
    base = net_config_for("digits", depth=a.depth, width=a.width)
    one, pair, serial = [], [], []
    for r in range(a.repeat):
        seed = 1000 + r  # a new pair each time: nothing is stored yet
        cfg = TrainConfig(epochs=a.epochs, seed=seed)
        configs = [(base.replace(skip=False, seed=seed), cfg), (base.replace(skip=True, seed=seed), cfg)]
        t = time.perf_counter()
        train(*configs[1], threads=1)
        one.append(time.perf_counter() - t)
        t = time.perf_counter()
        for net, c in configs:
            train(net, c, threads=1)
        serial.append(time.perf_counter() - t)
        store = RunStore(folder=None, gate=JobGate(a.jobs))
        t = time.perf_counter()
        store.get_or_train_all(configs)
        pair.append(time.perf_counter() - t)
    best = min(one)
    print(f"{os.cpu_count()} cores, {a.jobs} job slots; {a.depth} blocks, width {a.width}, {a.epochs} epochs")
    print(f"one net: {best:.2f} s; twins one after the other: {min(serial):.2f} s; side by side: {min(pair):.2f} s")
    print(f"ratio side by side / one net: {min(pair) / best:.2f} (goal <= 1.2); one after the other: "
          f"{min(serial) / best:.2f}")


if __name__ == "__main__":
    main()
