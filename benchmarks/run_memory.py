"""Peak memory of one training run against the lab's estimate (issue 16: weight snapshots).

In a fresh process each, trains the issue's MLP (depth 2, width 1024) on digits for the given
epochs and prints the process's peak RSS (the import of PyTorch and the data included), the
growth over the process before training, the snapshots kept and the estimate the memory
check now uses (`train.check_run_memory`: weights, gradients, momentum, activations and the
snapshots). The reference is the same process with 1 epoch, measured in the same run, so the
ratio says how much more memory the long run takes.

    python benchmarks/run_memory.py [--epochs 20 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import torch
torch.set_num_threads(1)
from resnet_viz.data import load_dataset
from resnet_viz.train import TrainConfig, check_run_memory, checkpoint_count, net_config_for, train
data = load_dataset("digits")
net = net_config_for("digits", arch="mlp", depth=2, width=1024)
cfg = TrainConfig(epochs=int(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
snaps = checkpoint_count(cfg, 12)
estimate = check_run_memory(net, cfg, snaps)
run = train(net, cfg, data=data)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "estimate": estimate, "snapshots": int(run.trajectory.shape[0]),
                  "seconds": run.history.seconds}))
"""


def measure(epochs: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(epochs)], capture_output=True, text=True, check=True,
                         timeout=1800, env={"OMP_NUM_THREADS": "1", **__import__("os").environ})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[20, 200])
    args = ap.parse_args()
    gib = 1024**3
    ref = measure(1)
    print(f"reference, 1 epoch: peak RSS {ref['peak'] / gib:.2f} GiB (+{(ref['peak'] - ref['before']) / gib:.2f} "
          f"GiB while training), {ref['snapshots']} snapshots", flush=True)
    for e in args.epochs:
        m = measure(e)
        print(f"{e} epochs: peak RSS {m['peak'] / gib:.2f} GiB (+{(m['peak'] - m['before']) / gib:.2f} GiB while "
              f"training), {m['snapshots']} snapshots, estimate {m['estimate'] / gib:.2f} GiB, "
              f"{m['seconds']:.0f} s; peak / reference peak {m['peak'] / ref['peak']:.2f}", flush=True)


if __name__ == "__main__":
    main()
