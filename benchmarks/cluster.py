"""Benchmark of the Dask executor (`resnet_viz.executor`, issue 27): a queue of distinct trainings, as a class
whose students each train their own net, in this process against a local Dask cluster, measured in one run.

Reference: the server's in-process queue, `jobs.JobGate` with as many slots as the cluster has workers, each
training with the lab's thread policy (one PyTorch thread) in a thread of this process. Cluster: a
`distributed.LocalCluster` of the same number of worker processes, one thread each, the same trainings
submitted through `DaskExecutor.train` from as many threads (one a student). Both queues hold the same
`--jobs` trainings (digits, depth 6, width 16, `--epochs` epochs, seeds 1000+), none of them shipped or stored.
Prints both wall times and their ratio (cluster / in-process), then, from the cluster's measured cost per
training on one worker, what N workers would give for this queue and for a course of 300 students training a
pair each (600 trainings), assuming the scheduler's overhead stays as measured.

    python benchmarks/cluster.py [--jobs 20] [--workers 2] [--epochs 2]
"""

from __future__ import annotations

import argparse
import math
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor


def configs(jobs: int, epochs: int):
    from resnet_viz.train import TrainConfig, net_config_for

    return [(net_config_for("digits", depth=6, width=16, seed=1000 + i), TrainConfig(epochs=epochs, seed=1000 + i))
            for i in range(jobs)]


def warm_up() -> None:
    """A worker's (or this process's) first-use costs: the imports, the dataset, PyTorch's first passes."""
    from resnet_viz.train import train

    train(*configs(1, 1)[0], threads=1)


def in_process(pairs, workers: int) -> float:
    """Seconds for the queue in this process: `workers` slots of a JobGate, one thread a training."""
    from resnet_viz.executor import InProcess
    from resnet_viz.jobs import JobGate

    gate, ex = JobGate(workers), InProcess()

    def one(pair):
        with gate.slot():
            ex.train(*pair, threads=1)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(pairs)) as pool:
        list(pool.map(one, pairs))
    return time.perf_counter() - start


def on_cluster(pairs, workers: int) -> tuple[float, float]:
    """(seconds for the queue, mean seconds of one training as its worker measured it) on a LocalCluster."""
    import distributed

    from resnet_viz.executor import DaskExecutor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(workers)
            client.run(warm_up)  # each worker's imports, data and first-use costs, once, before timing
            ex = DaskExecutor(cluster.scheduler_address, client=client)
            seconds, lock = [], threading.Lock()

            def one(pair):
                run = ex.train(*pair, threads=1)
                with lock:
                    seconds.append(run.history.seconds)

            start = time.perf_counter()
            with ThreadPoolExecutor(len(pairs)) as pool:
                list(pool.map(one, pairs))
            return time.perf_counter() - start, sum(seconds) / len(seconds)
    finally:
        cluster.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    pairs = configs(args.jobs, args.epochs)
    warm_up()  # this process's first-use costs, once
    print(f"{args.jobs} trainings (digits, 6 blocks, width 16, {args.epochs} epochs), {args.workers} workers, "
          "one PyTorch thread each")
    here = in_process(pairs, args.workers)
    print(f"in-process (JobGate, {args.workers} slots): {here:.2f} s")
    there, per_job = on_cluster(pairs, args.workers)
    print(f"local Dask cluster ({args.workers} workers): {there:.2f} s")
    print(f"ratio cluster / in-process: {there / here:.2f}")
    rounds = math.ceil(args.jobs / args.workers)
    overhead = max(there / rounds - per_job, 0.0)  # the scheduler's and the transfers' share of each round
    print(f"one training on a worker: {per_job:.2f} s; scheduler and transfer overhead: {overhead:.2f} s a training")
    print(f"  this server alone (in-process, {args.workers} slots): 300 students' pairs ≈ "
          f"{here * 600 / args.jobs / 60:.1f} min")
    for n in (2, 8, 32, 128):
        queue = math.ceil(args.jobs / n) * (per_job + overhead)
        course = math.ceil(600 / n) * (per_job + overhead)
        print(f"  {n:4d} workers: this queue ≈ {queue:6.1f} s; 300 students' pairs (600 trainings) ≈ "
              f"{course / 60:6.1f} min")


if __name__ == "__main__":
    main()
