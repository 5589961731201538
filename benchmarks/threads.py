"""Thread policy for a shared server: PyTorch intra-op threads 1 vs 2, OpenMP wait policy, with
several training jobs at once in one process (as the app's sessions share one server process).

For each setting a fresh process runs N jobs at once (threads, each training the default
residual net for one epoch) and reports the wall time; the reference is one job with one
thread, measured in the same run. Ratio = wall time / (N × reference): 1.0 means the jobs
shared the cores without loss, below 1 that they overlapped usefully, above 1 that they
fought for the cores.

    python benchmarks/threads.py [--jobs 1,2,4] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, threading, time
import torch
torch.set_num_threads(int(sys.argv[1]))
from resnet_viz.data import load_dataset
from resnet_viz.train import TrainConfig, net_config_for, train
jobs, epochs = int(sys.argv[2]), int(sys.argv[3])
data = load_dataset("digits")
cfg = TrainConfig(epochs=epochs, checkpoints_per_epoch=0)
nets = [net_config_for("digits", seed=s) for s in range(jobs)]
train(net_config_for("digits", depth=3, width=4), TrainConfig(epochs=1), data=data)  # warm-up
start = time.perf_counter()
threads = [threading.Thread(target=train, args=(n, cfg), kwargs=dict(data=data)) for n in nets]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def run(threads: int, jobs: int, epochs: int, wait_policy: str | None) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    else:
        env.pop("OMP_WAIT_POLICY", None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(jobs), str(epochs)], env=env,
                         capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", default="1,2,4", help="numbers of concurrent jobs (default %(default)s)")
    p.add_argument("--epochs", type=int, default=1)
    args = p.parse_args()
    ref = run(1, 1, args.epochs, None)
    print(f"reference: 1 job, 1 thread: {ref:.2f} s", flush=True)
    for jobs in (int(j) for j in args.jobs.split(",")):
        for threads in (1, 2):
            for policy in (None, "PASSIVE", "ACTIVE"):
                if threads == 1 and policy is not None:
                    continue  # one thread never waits for another
                s = run(threads, jobs, args.epochs, policy)
                print(f"{jobs} job(s), {threads} thread(s), wait policy {policy or 'default'}: {s:.2f} s, "
                      f"ratio {s / (jobs * ref):.2f}", flush=True)


if __name__ == "__main__":
    main()
