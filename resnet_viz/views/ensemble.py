"""Residual networks as ensembles of shallow paths (Veit, Wilber & Belongie 2016).

n residual blocks y_i = y_{i-1} + F_i(y_{i-1}) unroll into 2^n paths from input to
output: a path goes through the residual branch F_i of some blocks and the shortcut
of the others; its length (number of branches it passes) follows Binomial(n, 1/2)
(Veit §3, Fig. 1). Three experiments follow the paper:

* Lesion (§4.1, §4.2, Fig. 3-5): delete blocks at test time. A deleted residual block
  y = x + F(x) becomes y = x; a deleted plain block y = F(x) becomes y = x too
  (DESIGN.md, model contract). At a downsampling block the shapes change, so the
  deleted block becomes y = shortcut(x) (the parameter-free option-A shortcut:
  subsample and zero-pad); those blocks are marked in every result. Deleting one
  block barely hurts a residual net and ruins a plain one; the error grows smoothly
  with the number k of deleted blocks; swapping pairs of blocks (reordering)
  degrades smoothly too.
* Gradient by path length (§4.3, Fig. 6): in the backward pass, route the gradient
  through the residual branch of k sampled blocks and through the shortcut of the
  others; the gradient magnitude g(k) at the input of the first block falls fast
  with k, so the total C(n, k)·g(k) comes from short paths ("effective paths").

Nothing here mutates a model: every study runs `model.stem`, its own sequence of
blocks and `model.head` on an eval-mode deep copy (`util.eval_copy`).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..captions import Caption, takeaway_of
from ..data import DatasetError, load_dataset
from ..models import MAX_DEPTH, ConfigError
from ..numbers import num, pct, points, times
from ..progress import Progress, notify, part
from ..settings import MAX_SEED, check_all, setting
from ..util import eval_copy, model_device

MIN_BLOCKS = 2  # one block unrolls into two paths: nothing to see
MAX_DIAGRAM_BLOCKS = 6  # 64 lanes is the most a drawing stays readable with
DEFAULT_SAMPLES = 20  # random subsets per k (all subsets when C(n, k) is smaller)
DEFAULT_REORDER_SAMPLES = 8  # random reorderings per number of swaps
DEFAULT_GRADIENT_BATCH = 128  # test inputs whose gradients are averaged
MAX_SAMPLES = 1000  # random subsets per k, at most
MAX_GRADIENT_BATCH = 4096  # test inputs of the gradient study, at most
DEFAULT_MAX_EXAMPLES = 1000  # test examples evaluated in the lesion studies
_ACTIVATION_BUDGET_BYTES = 256 * 1024**2  # cap on activations kept at once


# --- counting paths --------------------------------------------------------------


def path_counts(n: int) -> dict:
    """Path-length distribution of n unrolled residual blocks (Veit et al. 2016, §3).

    Returns {"path_length": [0..n], "count": [C(n, k)], "probability": [C(n, k) / 2^n]}:
    the counts sum to 2^n paths and the lengths follow Binomial(n, 1/2).
    """
    if not isinstance(n, int) or n < 0:
        raise ConfigError(f"the number of blocks must be a non-negative integer, got {n!r}")
    counts = [math.comb(n, k) for k in range(n + 1)]
    return {"path_length": list(range(n + 1)), "count": counts,
            "probability": [c / 2**n for c in counts]}


def unrolled_paths(n: int) -> list[tuple[int, ...]]:
    """All 2^n paths through n residual blocks, shortest first (Veit Fig. 1b).

    A path is a tuple of n flags: 1 where it passes the residual branch F_i, 0 where it
    takes the shortcut; its length is the sum of the flags.
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"the unrolled view needs at least one block, got {n!r}")
    paths = list(itertools.product((0, 1), repeat=n))
    return sorted(paths, key=lambda p: (sum(p), tuple(-f for f in p)))


def effective_range(contribution: Sequence[float], share: float = 0.9) -> tuple[int, int]:
    """The shortest window of path lengths [a, b] holding `share` of the total gradient.

    Veit et al. (§4.3) call the paths in this window the effective paths (5-17 of 54
    blocks for their ResNet-110). `contribution[k]` is C(n, k)·g(k).
    """
    c = [max(float(v), 0.0) for v in contribution]
    total = sum(c)
    if not c or total <= 0:
        return (0, len(c) - 1)
    best = (0, len(c) - 1)
    for a in range(len(c)):
        run = 0.0
        for b in range(a, len(c)):
            run += c[b]
            if run >= share * total - 1e-12:
                if b - a < best[1] - best[0]:
                    best = (a, b)
                break
    return best


# --- data and model checks ---------------------------------------------------------


def evaluation_data(run, max_examples: int | None = DEFAULT_MAX_EXAMPLES) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split of the run's dataset (at most `max_examples`, the first ones).

    Loads `load_dataset(run.train.dataset, run.train.data_root, run.train.data_limit)`;
    a dataset that is no longer present raises DatasetError saying so.
    """
    t = run.train
    try:
        data = load_dataset(t.dataset, t.data_root, t.data_limit)
    except DatasetError as e:
        raise DatasetError(f"this run was trained on {t.dataset!r}, which is no longer available: {e}") from None
    if tuple(data.input_shape) != tuple(run.net.input_shape):
        raise DatasetError(f"dataset {t.dataset!r} now gives inputs of shape {tuple(data.input_shape)}, "
                           f"but the run expects {tuple(run.net.input_shape)}")
    x, y = data.x_test, data.y_test
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    if len(x) == 0:
        raise DatasetError(f"dataset {t.dataset!r} has no test examples")
    return x, y


def chance_accuracy(y: torch.Tensor) -> float:
    """Accuracy of always guessing the most frequent class of `y` (the chance level)."""
    counts = torch.bincount(y.reshape(-1).long())
    return float(counts.max()) / max(len(y), 1)


def check_net(model: nn.Module, classifier: bool = True) -> int:
    """Number of blocks of `model`, raising ConfigError when the ensemble view does not apply."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not hasattr(model, "stem") or not hasattr(model, "head"):
        raise ConfigError("the ensemble view needs a net with stem, blocks and head (resnet_viz.models)")
    n = len(blocks)
    if n < MIN_BLOCKS:
        raise ConfigError(f"the ensemble view needs at least {MIN_BLOCKS} blocks; this net has {n} "
                          f"(its 2 paths show nothing): train a deeper net")
    if classifier:
        cfg = getattr(model, "config", None)
        if cfg is not None and cfg.classes < 2:
            raise ConfigError("the lesion study measures accuracy, so it needs a classifier (2 or more classes)")
    return n


# --- running a plan of blocks --------------------------------------------------------
#
# A plan lists what runs at each position: entry i >= 0 runs block i intact, entry
# -(i + 1) runs block i deleted (y = x, or y = shortcut(x) where the shape changes).


def deletion_plan(n: int, deleted: Sequence[int] = ()) -> tuple[int, ...]:
    """The plan of n blocks in order with the blocks in `deleted` deleted."""
    gone = set(deleted)
    bad = [i for i in gone if not 0 <= i < n]
    if bad:
        raise ConfigError(f"block index {bad[0]} out of range: this net has {n} blocks (0..{n - 1})")
    return tuple(-(i + 1) if i in gone else i for i in range(n))


def _run_entry(blocks: nn.ModuleList, entry: int, x: torch.Tensor) -> torch.Tensor:
    if entry >= 0:
        return blocks[entry](x)
    # Deleted: only the shortcut path is left (identity; option A where the shape changes; a
    # 1×1 shortcut or a gated one keeps its layer: Block.deleted).
    return blocks[-entry - 1].deleted(x)


def run_plan(model: nn.Module, x: torch.Tensor, plan: Sequence[int]) -> torch.Tensor:
    """Logits of `model` on `x` with its blocks run as `plan` (Veit §4.1-4.2).

    `plan` lists, per position, a block index (run intact) or -(i+1) (block i deleted:
    y = x, or y = shortcut(x) at a downsampling block or a block with its own shortcut layer,
    `models.Block.deleted`). Runs on an eval-mode copy under
    no_grad; the model is not touched.
    """
    net = eval_copy(model)
    with torch.no_grad():
        h = net.stem(x.to(model_device(net)))
        for entry in plan:
            h = _run_entry(net.blocks, entry, h)
        return net.head(h)


class _PlanEvaluator:
    """Accuracy of many plans on fixed data, sharing work between plans.

    Plans are evaluated in lexicographic order, keeping the activations of the
    previous plan: a plan that starts like the previous one restarts from the
    first position where they differ (most random subsets share long prefixes).
    Examples are processed in chunks so the kept activations stay under a budget.
    """

    def __init__(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        self.net, self.x, self.y = net, x, y
        self.device = model_device(net)
        n = len(net.blocks)
        with torch.no_grad():
            probe = net.stem(x[:1].to(self.device))
            widest = probe.numel()
            for b in net.blocks:
                probe = b(probe)
                widest = max(widest, probe.numel())
        per_example = 4 * widest * (n + 1)
        self.chunk = max(1, min(len(x), _ACTIVATION_BUDGET_BYTES // max(per_example, 1)))

    def accuracies(self, plans: Sequence[tuple[int, ...]], progress: Progress | None = None,
                   label: str = "") -> dict[tuple[int, ...], float]:
        unique = sorted(set(plans))
        correct = {p: 0 for p in unique}
        chunks = range(0, len(self.x), self.chunk)
        total, done = len(unique) * len(chunks), 0
        with torch.no_grad():
            for start in chunks:
                xb = self.x[start:start + self.chunk].to(self.device)
                yb = self.y[start:start + self.chunk].to(self.device)
                stack = [self.net.stem(xb)]  # stack[j] = activation after j positions
                prev: tuple[int, ...] = ()
                for plan in unique:
                    common = 0
                    while common < min(len(prev), len(plan)) and prev[common] == plan[common]:
                        common += 1
                    del stack[common + 1:]
                    for entry in plan[common:]:
                        stack.append(_run_entry(self.net.blocks, entry, stack[-1]))
                    prev = plan
                    correct[plan] += int((self.net.head(stack[-1]).argmax(1) == yb).sum())
                    done += 1
                    if done % 4 == 0 or done == total:
                        notify(progress, done / total, label)
        return {p: c / len(self.x) for p, c in correct.items()}


# --- lesion studies --------------------------------------------------------------------


def downsampling_blocks(model: nn.Module) -> list[int]:
    """Indices of the blocks that change resolution or width (deleted as y = shortcut(x))."""
    return [i for i, b in enumerate(model.blocks) if getattr(b, "downsample", False)]


def single_block_deletion(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Accuracy on (x, y) after deleting each single block in turn (Veit §4.1, Fig. 3a).

    Entry i is the accuracy with block i deleted (y = x; y = shortcut(x) at a
    downsampling block) and all others intact.
    """
    n = check_net(model)
    ev = _PlanEvaluator(eval_copy(model), x, y)
    plans = [deletion_plan(n, [i]) for i in range(n)]
    acc = ev.accuracies(plans)
    return [acc[p] for p in plans]


def _subsets(pool: Sequence[int], k: int, samples: int, rng: random.Random) -> tuple[list[tuple[int, ...]], bool]:
    # All C(|pool|, k) subsets when there are few enough, else `samples` distinct random ones.
    total = math.comb(len(pool), k)
    if total <= samples:
        return [tuple(c) for c in itertools.combinations(pool, k)], True
    seen: set[tuple[int, ...]] = set()
    while len(seen) < samples:
        seen.add(tuple(sorted(rng.sample(list(pool), k))))
    return sorted(seen), False


def _check_k(max_k: int | None, limit: int, what: str) -> int:
    if max_k is None:
        return limit
    if not isinstance(max_k, int) or max_k < 0:
        raise ConfigError(f"k must be a non-negative integer, got {max_k!r}")
    if max_k > limit:
        raise ConfigError(f"k = {max_k} is larger than the {limit} {what} of this net")
    return max_k


@dataclass
class KSweep:
    """Accuracy against the number k of deleted blocks (Veit §4.2, Fig. 3b/5a)."""

    k: list[int]
    mean: list[float]
    std: list[float]
    min: list[float]
    max: list[float]
    subsets: list[int]  # subsets evaluated at each k
    exhaustive: list[bool]  # True where every subset of size k was evaluated
    accuracies: list[list[float]]  # every evaluated subset's accuracy, per k
    pool: list[int]  # the blocks the subsets were drawn from


def k_deletion_sweep(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, samples: int = DEFAULT_SAMPLES,
                     seed: int = 0, max_k: int | None = None, include_downsampling: bool = False,
                     progress: Progress | None = None) -> KSweep:
    """Accuracy after deleting k blocks at once, for k = 0..max_k (Veit §4.2, Fig. 3b).

    For each k, every subset of k blocks is evaluated when there are at most `samples`
    of them, else `samples` distinct random subsets (seeded); mean, spread and every
    subset's accuracy are returned. Downsampling blocks are kept unless
    `include_downsampling` (deleting them is a different lesion, Veit §4.1).
    """
    n = check_net(model)
    if not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples must be a positive integer, got {samples!r}")
    down = set(downsampling_blocks(model))
    pool = [i for i in range(n) if include_downsampling or i not in down]
    what = "blocks" if include_downsampling or not down else "deletable (non-downsampling) blocks"
    max_k = _check_k(max_k, len(pool), what)
    rng = random.Random(seed)
    per_k = [_subsets(pool, k, samples, rng) for k in range(max_k + 1)]
    plans = [deletion_plan(n, s) for subs, _ in per_k for s in subs]
    acc = _PlanEvaluator(eval_copy(model), x, y).accuracies(plans, progress, "deleting k blocks")
    out = KSweep([], [], [], [], [], [], [], [], pool)
    for k, (subs, full) in enumerate(per_k):
        a = torch.tensor([acc[deletion_plan(n, s)] for s in subs], dtype=torch.float64)
        out.k.append(k)
        out.mean.append(float(a.mean()))
        out.std.append(float(a.std(unbiased=False)))
        out.min.append(float(a.min()))
        out.max.append(float(a.max()))
        out.subsets.append(len(subs))
        out.exhaustive.append(full)
        out.accuracies.append(a.tolist())
    return out


def kendall_tau(order: Sequence[int]) -> float:
    """Kendall's rank correlation between `order` and 0..n-1 (1 = unchanged, -1 = reversed)."""
    n = len(order)
    if n < 2:
        return 1.0
    concordant = sum(1 if order[i] < order[j] else -1 for i in range(n) for j in range(i + 1, n))
    return concordant / (n * (n - 1) / 2)


def block_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(input shape, output shape) of each block for one example of `x`."""
    net = eval_copy(model)
    shapes = []
    with torch.no_grad():
        h = net.stem(x[:1].to(model_device(net)))
        for b in net.blocks:
            out = b(h)
            shapes.append((tuple(h.shape[1:]), tuple(out.shape[1:])))
            h = out
    return shapes


def swap_groups(model: nn.Module, x: torch.Tensor) -> list[list[int]]:
    """Groups of blocks that may trade places: same input and output shape, not downsampling."""
    groups: dict[tuple, list[int]] = {}
    for i, ((sin, sout), b) in enumerate(zip(block_shapes(model, x), model.blocks)):
        if sin == sout and not getattr(b, "downsample", False):
            groups.setdefault(sin, []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


@dataclass
class ReorderSweep:
    """Accuracy after swapping random pairs of same-shape blocks (Veit §4.2, Fig. 3c)."""

    swaps: list[int]  # number of swaps, per evaluated order
    kendall_tau: list[float]  # rank correlation of the order with the original
    accuracy: list[float]
    orders: list[list[int]]
    mean_swaps: list[int]  # 0..max_swaps
    mean_accuracy: list[float]  # mean over the orders with that many swaps


def reorder_sweep(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, samples: int = DEFAULT_REORDER_SAMPLES,
                  max_swaps: int | None = None, seed: int = 0, progress: Progress | None = None) -> ReorderSweep:
    """Accuracy after s random swaps of same-shape blocks, s = 0..max_swaps (Veit §4.2, Fig. 3c).

    Each swap exchanges two blocks of one group of equal input/output shapes (so the
    net still runs); the Kendall τ of the resulting order measures how far it is from
    the original. `samples` orders per s, seeded.
    """
    n = check_net(model)
    groups = swap_groups(model, x)
    if not groups:
        raise ConfigError("no two blocks of this net have the same shapes, so none can be swapped")
    movable = sum(len(g) for g in groups)
    max_swaps = min(movable, 8) if max_swaps is None else max_swaps
    rng = random.Random(seed)
    records = []
    for s in range(max_swaps + 1):
        for _ in range(1 if s == 0 else samples):
            order = list(range(n))
            for _ in range(s):
                g = rng.choice(groups)
                a, b = rng.sample(g, 2)
                order[a], order[b] = order[b], order[a]
            records.append((s, tuple(order)))
    acc = _PlanEvaluator(eval_copy(model), x, y).accuracies([o for _, o in records], progress, "reordering blocks")
    out = ReorderSweep([], [], [], [], [], [])
    for s, o in records:
        out.swaps.append(s)
        out.kendall_tau.append(kendall_tau(o))
        out.accuracy.append(acc[o])
        out.orders.append(list(o))
    for s in range(max_swaps + 1):
        vals = [a for sw, a in zip(out.swaps, out.accuracy) if sw == s]
        out.mean_swaps.append(s)
        out.mean_accuracy.append(sum(vals) / len(vals))
    return out


@dataclass
class LesionResult:
    """Everything the lesion view shows for one net (Veit §4.1-4.2)."""

    label: str  # "plain" or "residual"
    skip: bool
    n_blocks: int
    examples: int  # test examples evaluated
    base_accuracy: float
    chance: float
    single_block_accuracy: list[float]
    downsampling_blocks: list[int]
    k_sweep: KSweep | None = None
    reorder: ReorderSweep | None = None
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON summary: base_accuracy, single_block_accuracy, downsampling_blocks,
        k_deleted (k -> mean accuracy), chance, and the full sweeps."""
        d = {k: v for k, v in asdict(self).items() if k not in ("k_sweep", "reorder")}
        if self.k_sweep is not None:
            ks = self.k_sweep
            d["k_deleted"] = {str(k): m for k, m in zip(ks.k, ks.mean)}
            d["k_deleted_std"] = {str(k): s for k, s in zip(ks.k, ks.std)}
            d["k_sweep"] = asdict(ks)
        if self.reorder is not None:
            d["reorder"] = asdict(self.reorder)
        return d


def lesion_study(run, *, samples: int = DEFAULT_SAMPLES, seed: int = 0, max_k: int | None = None,
                 include_downsampling: bool = False, reorder: bool = True,
                 reorder_samples: int = DEFAULT_REORDER_SAMPLES, max_examples: int | None = DEFAULT_MAX_EXAMPLES,
                 progress: Progress | None = None) -> LesionResult:
    """Veit's lesion experiments on a trained run, on the test split of its dataset.

    Intact accuracy, accuracy after deleting each single block, the k-deletion sweep
    (`k_deletion_sweep`) and, with `reorder`, the block-swap sweep (`reorder_sweep`).
    The run's model is never modified.
    """
    model = run.model
    n = check_net(model)
    x, y = evaluation_data(run, max_examples)
    notify(progress, 0.0, "deleting single blocks")
    net = eval_copy(model)
    ev = _PlanEvaluator(net, x, y)
    plans = [deletion_plan(n, [])] + [deletion_plan(n, [i]) for i in range(n)]
    acc = ev.accuracies(plans)
    result = LesionResult(run.label, bool(run.net.skip), n, len(x), acc[plans[0]], chance_accuracy(y),
                          [acc[p] for p in plans[1:]], downsampling_blocks(model),
                          settings=dict(samples=samples, seed=seed, max_k=max_k,
                                        include_downsampling=include_downsampling,
                                        reorder_samples=reorder_samples))
    share = 0.75 if reorder else 1.0
    result.k_sweep = k_deletion_sweep(
        net, x, y, samples=samples, seed=seed, max_k=max_k, include_downsampling=include_downsampling,
        progress=part(progress, 0.0, share))
    if reorder and swap_groups(net, x):
        result.reorder = reorder_sweep(
            net, x, y, samples=reorder_samples, seed=seed,
            progress=part(progress, share, 1.0))
    notify(progress, 1.0, "done")
    return result


# --- gradient by path length ---------------------------------------------------------------


class _PathBackward:
    """Per-block vector-Jacobian products of the intact forward pass, reused for every path.

    For block i with input x_i, out = act(F(x_i) + λ·shortcut(x_i)). The gradient of
    a path that takes the branch at block i is J_F(x_i)^T act'(·) g, the one that takes
    the shortcut is λ J_shortcut^T act'(·) g: the same as back-propagating through
    `act(F(x) + λ·shortcut(x).detach())` or `act(λ·shortcut(x) + F(x).detach())` (Veit
    §4.3), since the forward values are those of the intact net. The graphs are kept,
    so each path costs only its backward products, and paths that agree on their last
    blocks share them. For the variants of He et al. 2016b the two terms are `Block.terms`:
    a gated block's shortcut term (1 − g(x))·x depends on x through the gate too, and a
    path through it follows that term's whole Jacobian.
    """

    def __init__(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        self.blocks = []
        with torch.enable_grad():
            h = net.stem(x.to(model_device(net))).detach()
            self.input_shape = tuple(h.shape)
            for block in net.blocks:
                xi = h.detach().requires_grad_(True)
                f, s = block.terms(xi)  # branch and shortcut terms (gates and scales included)
                pre = (f + s if s is not None else f).detach().requires_grad_(True)
                out = block.out_act(pre)
                self.blocks.append((xi, f, s, pre, out))
                h = out.detach()
            hn = h.requires_grad_(True)
            loss = F.cross_entropy(net.head(hn), y.to(hn.device), reduction="sum")
            # Summed loss: in eval mode each example's gradient is its own loss's gradient.
            (self.top,) = torch.autograd.grad(loss, hn)

    def step(self, i: int, g: torch.Tensor, through_branch: bool) -> torch.Tensor:
        xi, f, s, pre, out = self.blocks[i]
        if out.requires_grad:
            (g,) = torch.autograd.grad(out, pre, g, retain_graph=True)
        if through_branch:
            if not f.requires_grad:  # a branch that does not depend on its input
                return torch.zeros_like(xi)
            (g,) = torch.autograd.grad(f, xi, g, retain_graph=True, allow_unused=True)
            return torch.zeros_like(xi) if g is None else g
        if s is None:
            raise ConfigError("a plain block has no shortcut: a plain net has a single path")
        (g,) = torch.autograd.grad(s, xi, g, retain_graph=True)
        return g

    def gradients(self, subsets: Sequence[frozenset[int]], progress: Progress | None = None):
        """Yield (subset, gradient at the first block's input) for each subset of branch blocks."""
        n = len(self.blocks)
        keyed = sorted(((tuple(int(i in S) for i in reversed(range(n))), S) for S in subsets),
                       key=lambda t: t[0])
        stack = [self.top]  # stack[j] = gradient at the input of block n - j
        prev: tuple[int, ...] = ()
        for done, (key, S) in enumerate(keyed, 1):
            common = 0
            while common < len(prev) and prev[common] == key[common]:
                common += 1
            del stack[common + 1:]
            for j in range(common, n):
                stack.append(self.step(n - 1 - j, stack[-1], bool(key[j])))
            prev = key
            if done % 4 == 0 or done == len(keyed):
                notify(progress, done / len(keyed), "gradient by path length")
            yield S, stack[-1]


def path_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, branch_blocks: Sequence[int]) -> torch.Tensor:
    """Gradient of the summed cross-entropy at the input of the first block along one path.

    The path goes through the residual branch of the blocks in `branch_blocks` and the
    shortcut of the others (Veit §4.3); shape = the first block's input for the batch
    `x`. Summed over all 2^n paths it is the full gradient (the Jacobian of a
    product of (F_i' + λ·S_i') expands into one product per path). Eval mode, on a copy.
    """
    n = check_net(model, classifier=False)
    if not all(getattr(b, "skip", False) for b in model.blocks):
        raise ConfigError("paths need residual blocks: a plain net has a single path through every block")
    S = frozenset(int(i) for i in branch_blocks)
    if any(not 0 <= i < n for i in S):
        raise ConfigError(f"block index out of range: this net has {n} blocks (0..{n - 1})")
    (_, g), = list(_PathBackward(eval_copy(model), x, y).gradients([S]))
    return g


@dataclass
class PathGradientResult:
    """Gradient magnitude by path length (Veit §4.3, Fig. 6)."""

    n_blocks: int
    examples: int
    path_length: list[int]  # k = 0..max_k
    count: list[int]  # C(n, k) paths of length k
    gradient_norm: list[float]  # g(k): mean over sampled paths of the mean per-example ‖∂L/∂x_0‖
    gradient_std: list[float]  # spread of g over the sampled paths of length k
    paths_sampled: list[int]
    contribution: list[float]  # C(n, k) · g(k): total gradient from paths of length k
    effective: tuple[int, int]  # shortest window of lengths holding 90 % of the contribution
    full_gradient_norm: float  # mean per-example ‖∂L/∂x_0‖ of the intact net
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON summary (path_length, gradient_norm, contribution, ...)."""
        d = asdict(self)
        d["effective"] = list(self.effective)
        return d


def gradient_by_path_length(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, samples: int = DEFAULT_SAMPLES,
                            seed: int = 0, max_k: int | None = None, progress: Progress | None = None
                            ) -> PathGradientResult:
    """g(k) and C(n, k)·g(k) for path lengths k = 0..max_k (Veit §4.3, Fig. 6).

    For each k, up to `samples` random sets of k blocks (all of them when C(n, k) is
    smaller) take the residual branch, the rest the shortcut; g(k) is the mean over
    those paths of the per-example gradient norm of the cross-entropy at the first
    block's input, averaged over the inputs `x`.
    """
    n = check_net(model, classifier=False)
    if not all(getattr(b, "skip", False) for b in model.blocks):
        raise ConfigError("the gradient by path length needs a residual net: "
                          "a plain net has a single path, of length n, through every block")
    if not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples must be a positive integer, got {samples!r}")
    max_k = _check_k(max_k, n, "blocks")
    rng = random.Random(seed)
    per_k = [_subsets(list(range(n)), k, samples, rng)[0] for k in range(max_k + 1)]
    net = eval_copy(model)
    bw = _PathBackward(net, x, y)
    norms: dict[frozenset[int], float] = {}

    def mean_norm(g: torch.Tensor) -> float:
        return float(g.reshape(len(g), -1).norm(dim=1).mean())

    for S, g in bw.gradients([frozenset(s) for subs in per_k for s in subs], progress):
        norms[S] = mean_norm(g)
    with torch.enable_grad():  # the intact gradient, by ordinary autograd, for reference
        h0 = net.stem(x.to(model_device(net))).detach().requires_grad_(True)
        h = h0
        for b in net.blocks:
            h = b(h)
        (full,) = torch.autograd.grad(F.cross_entropy(net.head(h), y.to(h.device), reduction="sum"), h0)
    out = PathGradientResult(n, len(x), [], [], [], [], [], [], (0, 0), mean_norm(full),
                             settings=dict(samples=samples, seed=seed, max_k=max_k))
    for k, subs in enumerate(per_k):
        v = torch.tensor([norms[frozenset(s)] for s in subs], dtype=torch.float64)
        out.path_length.append(k)
        out.count.append(math.comb(n, k))
        out.gradient_norm.append(float(v.mean()))
        out.gradient_std.append(float(v.std(unbiased=False)))
        out.paths_sampled.append(len(subs))
        out.contribution.append(math.comb(n, k) * float(v.mean()))
    out.effective = effective_range(out.contribution)
    return out


def path_gradient_study(run, *, samples: int = DEFAULT_SAMPLES, seed: int = 0, max_k: int | None = None,
                        batch: int = DEFAULT_GRADIENT_BATCH, progress: Progress | None = None) -> PathGradientResult:
    """`gradient_by_path_length` on the first `batch` test examples of a trained run."""
    check_net(run.model, classifier=True)
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be a positive integer, got {batch!r}")
    x, y = evaluation_data(run, batch)
    if len(y) < batch:
        raise ConfigError(f"inputs for the gradient study: {batch} asked for, but the test split of "
                          f"{run.train.dataset} has {len(y)}")
    return gradient_by_path_length(run.model, x, y, samples=samples, seed=seed, max_k=max_k, progress=progress)


# --- captions computed from the results (what this run shows, in Veit's terms) ------------------

BARELY = 0.9  # keeps at least this share of its margin over chance: "barely notices"
NEAR_CHANCE = 0.15  # keeps at most this share: "falls to near chance"
CHANCE_BAND = 0.05  # or is at most this far above chance (a net that barely trained has little margin to keep)
CLEARLY = 0.5  # a verdict is called the opposite of the paper's only past this share of the margin
OUTLIER = 0.2  # a block whose deletion keeps this much less of the margin than the median block: named
WEAK = 0.5  # an intact net below this share of the way from chance to 100 % "barely trained"
SMOOTH = 0.5  # no single step of a sweep takes more than this share of its whole fall: "smooth"
FAST_DECAY = 10.0  # g(k) falls by at least this factor over the sampled lengths: "shrinks fast"
TOY_NOTE = ("Veit et al.'s nets have 54 blocks on CIFAR-10; with fewer blocks each one carries a larger share of "
            "the work, so deleting one costs more")


def margin_kept(accuracy: float, base: float, chance: float) -> float:
    """Share of the intact net's margin over chance that is left: (acc − chance) / (base − chance)
    (1 = unharmed, 0 = at chance). NaN when the intact net itself is at chance."""
    gap = base - chance
    return (accuracy - chance) / gap if gap > 1e-9 else float("nan")


def _ordinary(result: LesionResult) -> list[tuple[int, float]]:
    """(block, accuracy with it deleted) for the non-downsampling blocks (all blocks if every one downsamples)."""
    keep = [(i, a) for i, a in enumerate(result.single_block_accuracy) if i not in result.downsampling_blocks]
    return keep or list(enumerate(result.single_block_accuracy))


def one_block_accuracy(result: LesionResult) -> float:
    """Median test accuracy with one non-downsampling block deleted (Veit §4.1): the typical block, which a
    single outlier block does not drag down (`deletion_outliers` names those)."""
    return float(np.median([a for _, a in _ordinary(result)]))


def deletion_outliers(result: LesionResult) -> list[tuple[int, float]]:
    """(block, accuracy) of the non-downsampling blocks whose deletion keeps at least OUTLIER less of the margin
    over chance than the median block does (Veit Fig. 3a: such blocks stand out from the flat row of bars)."""
    typical = margin_kept(one_block_accuracy(result), result.base_accuracy, result.chance)
    if math.isnan(typical):
        return []
    return [(i, a) for i, a in _ordinary(result)
            if margin_kept(a, result.base_accuracy, result.chance) < typical - OUTLIER]


def near_chance(accuracy: float, r: LesionResult) -> bool:
    """True when `accuracy` keeps at most NEAR_CHANCE of the intact net's margin over chance, or lies within
    CHANCE_BAND of chance."""
    return margin_kept(accuracy, r.base_accuracy, r.chance) <= NEAR_CHANCE or accuracy - r.chance <= CHANCE_BAND


def _deletion_verdict(r: LesionResult) -> str:
    kept = margin_kept(one_block_accuracy(r), r.base_accuracy, r.chance)
    if math.isnan(kept):
        return "is at chance even intact, so deleting blocks shows nothing"
    if kept >= BARELY:
        return "barely notices"
    if near_chance(one_block_accuracy(r), r):
        return "falls to near chance"
    return f"is hurt: it keeps {pct(kept, 0)} of its margin over chance"


def _blocks(items) -> str:
    items = list(items)
    return ", ".join(f"{i}" for i in items[:-1]) + (" and " if len(items) > 1 else "") + f"{items[-1]}" if items else ""


def _deletion_clause(r: LesionResult) -> str:
    """What deleting one (median) block does to one net, in a few words with its numbers: the takeaway's part."""
    one, kept = one_block_accuracy(r), margin_kept(one_block_accuracy(r), r.base_accuracy, r.chance)
    if math.isnan(kept):
        return f"shows nothing for the {r.label} net, at chance ({pct(r.chance, 0)}) even intact"
    if near_chance(one, r):
        return f"drops the {r.label} net to near chance ({pct(one)}; chance {pct(r.chance, 0)})"
    if one >= r.base_accuracy:
        return f"leaves the {r.label} net unharmed ({points(one - r.base_accuracy)})"
    lost = points(r.base_accuracy - one).lstrip("+")
    return f"costs the {r.label} net {'only ' if kept >= BARELY else ''}{lost}"


def deletion_caption(results: Sequence[LesionResult]) -> Caption:
    """Caption of the single-block deletion bars from the measured accuracies (Veit et al. 2016 §4.1,
    Fig. 3a: deleting one block barely hurts a residual net and drops a plain net to chance).

    Takeaway: what deleting the median block does to each net (`_deletion_clause`). Details, per net: the intact
    accuracy, the median over the non-downsampling blocks with one deleted (its verdict from the share of the
    margin over chance that survives), the blocks that stand out (`deletion_outliers`) and what deleting each
    downsampling block does. A verdict is said to agree with Veit et al. when it is theirs, to differ only when
    it is clearly the opposite (past CLEARLY of the margin), and otherwise that it lies between, with why a
    toy-scale net may."""
    parts = []
    for r in results:
        verdict, kept = _deletion_verdict(r), margin_kept(one_block_accuracy(r), r.base_accuracy, r.chance)
        text = (f"{r.label} net: intact {pct(r.base_accuracy)}; with one block deleted the median block leaves "
                f"{pct(one_block_accuracy(r))} (chance {pct(r.chance, 0)}), so it {verdict}")
        if not math.isnan(kept):
            if r.skip:
                text += (" (as Veit et al. found)" if kept >= BARELY else
                         f" (unlike Veit et al.'s residual nets; {TOY_NOTE})" if kept < CLEARLY else
                         f" (less robust than Veit et al.'s residual nets: {TOY_NOTE})")
            else:
                text += (" (as Veit et al. found for a plain net)" if near_chance(one_block_accuracy(r), r) else
                         " (unlike Veit et al.'s plain net, which falls to chance)" if kept > CLEARLY else
                         " (most of the way to chance, as Veit et al. found for a plain net)")
        weak = r.base_accuracy - r.chance < WEAK * (1 - r.chance)
        if weak and not math.isnan(kept):
            text += "; intact it barely trained, so its deletions say little"
        # Blocks are numbered from 1, as on the bars.
        out = deletion_outliers(r)
        if out:
            text += ("; except block " if len(out) == 1 else "; except blocks ") + _blocks(
                f"{i + 1} ({pct(a, 0)})" for i, a in out)
            if 0 in [i for i, _ in out]:
                text += " (block 1 is the first after the stem)"
        if r.downsampling_blocks:
            text += ("; deleting a downsampling block (y = shortcut(x)) leaves " + _blocks(
                f"{pct(r.single_block_accuracy[i], 0)} (block {i + 1})" for i in r.downsampling_blocks))
        parts.append(text)
    order = sorted(results, key=lambda r: not r.skip)  # the residual net first: it is the lesson
    takeaway = "Deleting one block (median) " + " and ".join(_deletion_clause(r) for r in order) + "."
    return Caption(takeaway, "; ".join(parts) + ".")


def _sweep_shape(xs: Sequence[float]) -> tuple[float, float]:
    """(whole fall from the first to the lowest value, largest single-step fall) of a sweep."""
    if len(xs) < 2:
        return 0.0, 0.0
    fall = xs[0] - min(xs)
    step = max(max(a - b for a, b in zip(xs, xs[1:])), 0.0)
    return fall, step


ABRUPT = 0.25  # a single step of a sweep must take at least this share of the margin to count as abrupt
GRADUAL = 0.75  # keeps at least this share of its margin after one more deletion or swap: "gradual"


def _shape(means: Sequence[float], r: LesionResult, what: str) -> tuple[str, bool | None]:
    """(words, agrees) for one net's sweep (k deleted blocks or s swaps): how much of the margin over chance
    it keeps after one step and at the end, and whether it falls smoothly (no single step takes more than
    SMOOTH of the whole fall) or collapses at once. `agrees` says whether that is Veit et al.'s finding for
    this kind of net (residual: gradual; plain: at chance after one step), None when between."""
    fall, step = _sweep_shape(means)
    k1 = margin_kept(means[1], r.base_accuracy, r.chance)
    if math.isnan(k1):
        return "is at chance even intact", None
    if fall <= 0.02:
        return "hardly changes", bool(r.skip)
    words = f"keeps {pct(max(k1, 0), 0)} of its margin over chance after one {what}"
    if near_chance(means[1], r):
        return words + ": it collapses at once", not r.skip
    # Abrupt: one step takes most of the fall and a large part of the margin (the means over a few random
    # sets are noisy: a small wobble is no collapse).
    smooth = step <= SMOOTH * fall or step <= ABRUPT * (r.base_accuracy - r.chance)
    words += (" and falls smoothly from there" if smooth else
              f", then falls abruptly ({pct(step / fall, 0)} of the fall in one step)")
    if r.skip:
        return words, True if k1 >= GRADUAL and smooth else (False if k1 < CLEARLY else None)
    return words, False if k1 > CLEARLY else None


def _agreement(agrees: bool | None, skip: bool, finding: str) -> str:
    if agrees is True:
        return f", as Veit et al. found ({finding})"
    if agrees is False:
        return f", unlike Veit et al. ({finding})" + (f"; {TOY_NOTE}" if skip else "")
    return f", between the two outcomes ({finding})" + (f"; {TOY_NOTE}" if skip else "")


def _trend(words: str) -> str:
    """The few words of a sweep's shape (`_shape`) that a takeaway gives."""
    for short in ("is at chance even intact", "hardly changes", "collapses at once", "falls smoothly", "falls abruptly"):
        if short in words:
            return short
    return "falls"


def _sweep_takeaway(doing: str, rows: list) -> str:
    """One sentence over the nets' sweeps, the residual net first; `rows`: (net, its shape words, the mean after
    one step, the mean at the end, the end's name)."""
    clauses = []
    for i, (r, words, first, last, end) in enumerate(sorted(rows, key=lambda row: not row[0].skip)):
        trend = _trend(words)
        numbers = ("" if trend == "is at chance even intact" else
                   f" ({pct(first, 0)})" if i and trend == "collapses at once" else
                   f" ({pct(first, 0)} after one)" if i or trend == "collapses at once" else
                   f" ({pct(first, 0)} after one, {pct(last, 0)} after {end})")
        clauses.append(f"the {r.label} net {trend}{numbers}")
    return f"{doing}, " + "; ".join(clauses) + "."


def k_sweep_caption(results: Sequence[LesionResult]) -> Caption:
    """Caption of the k-deletion sweep from the measured means (Veit Fig. 3b: a residual net's error grows
    smoothly with the number of deleted blocks; a plain net is at chance from k = 1), per net with its
    numbers and whether that is Veit et al.'s finding (`_shape`); the takeaway gives each net's shape."""
    parts, rows = [], []
    for r in results:
        ks = r.k_sweep
        if ks is None or len(ks.mean) < 2:
            continue
        words, agrees = _shape(ks.mean, r, "deletion")
        rows.append((r, words, ks.mean[1], ks.mean[-1], str(ks.k[-1])))
        finding = "a residual net degrades smoothly, Fig. 3b" if r.skip else "a plain net is at chance after one"
        parts.append(f"{r.label}: {pct(ks.mean[0], 0)} at k = 0, {pct(ks.mean[1], 0)} at k = 1, {pct(ks.mean[-1], 0)} "
                     f"at k = {ks.k[-1]}: it {words}{_agreement(agrees, r.skip, finding)}")
    kept = any(r.k_sweep is not None and not r.settings.get("include_downsampling") and r.downsampling_blocks
               for r in results)
    text = (f"Mean test accuracy over random sets of k deleted blocks{', downsampling blocks kept' if kept else ''} "
            "(band: min to max, dots: single sets). ")
    if not parts:
        return Caption("No sweep of deleted blocks was computed.", text)
    return Caption(_sweep_takeaway("Deleting more blocks", rows), text + "; ".join(parts) + ".")


def reorder_caption(results: Sequence[LesionResult]) -> Caption:
    """Caption of the block-swap sweep from the measured means (Veit Fig. 3c: reordering degrades a residual
    net gradually; a plain net collapses): per net, accuracy in the trained order, after one swap and after
    the most, and whether that is Veit et al.'s finding (`_shape`); the takeaway gives each net's shape."""
    parts, rows = [], []
    for r in results:
        ro = r.reorder
        if ro is None or len(ro.mean_accuracy) < 2:
            continue
        words, agrees = _shape(ro.mean_accuracy, r, "swap")
        rows.append((r, words, ro.mean_accuracy[1], ro.mean_accuracy[-1], str(ro.mean_swaps[-1])))
        finding = "reordering degrades a residual net gradually, Fig. 3c" if r.skip else "a plain net collapses"
        parts.append(f"{r.label}: {pct(ro.mean_accuracy[0], 0)} in the trained order, {pct(ro.mean_accuracy[1], 0)} "
                     f"after one swap, {pct(ro.mean_accuracy[-1], 0)} after {ro.mean_swaps[-1]}: it {words}"
                     f"{_agreement(agrees, r.skip, finding)}")
    text = ("Random swaps of blocks with the same shapes (mean over random orders per number of swaps); Kendall τ = 1 "
            "is the trained order. ")
    if not parts:
        return Caption("No two blocks have the same shapes, so none could be swapped.", text)
    return Caption(_sweep_takeaway("Swapping blocks", rows), text + "; ".join(parts) + ".")


def path_gradient_caption(result: PathGradientResult, plain_depth: int | None = None) -> Caption:
    """Caption of the gradient-by-path-length study from the measured g(k) and C(n, k)·g(k) (Veit
    §4.3, Fig. 6: the gradient along one path shrinks fast with its length, so the total comes
    from paths much shorter than the typical length n/2). The takeaway: where the window holding 90 % of the
    total gradient lies against n/2; the details: how much g falls, and the opposite when it does."""
    n = result.n_blocks
    g = [v for v in result.gradient_norm]
    k_last = result.path_length[-1]
    text = (f"Residual net, {n} blocks, {2 ** n:,} paths. Middle: the gradient at the first block's input when it "
            f"flows through the residual branches of k sampled blocks and the shortcuts of the others")
    if len(g) >= 2 and g[0] > 0 and g[-1] > 0:
        factor = g[0] / g[-1]
        per_step = factor ** (1 / max(k_last, 1))
        if factor >= FAST_DECAY:
            text += (f": it falls from {num(g[0], 2)} at k = 0 to {num(g[-1], 2)} at k = {k_last}, a factor "
                     f"{num(factor)} (about {times(1 / per_step)} per extra branch): it shrinks fast with k")
        elif factor > 1:
            text += (f": it falls only from {num(g[0], 2)} to {num(g[-1], 2)} (a factor {num(factor)}) by k = {k_last}: "
                     f"it shrinks slowly with k")
        else:
            text += f": it does not shrink with k ({num(g[0], 2)} at k = 0, {num(g[-1], 2)} at k = {k_last})"
    text += ". "
    a, b = result.effective
    half = n / 2
    takeaway = f"90 % of the gradient comes from paths through {a}–{b} of {n} blocks, "
    text += f"Right: summed over all C(n, k) paths of each length, 90 % of the gradient comes from paths of length {a}–{b}"
    if b < half:
        takeaway += f"all shorter than the typical length {half:g}, as Veit et al. found."
        text += (f", all shorter than the typical path (n/2 = {half:g}): the gradient comes from short paths, as Veit "
                 f"et al. found (Fig. 6: 5–17 of 54 blocks)")
    elif (a + b) / 2 < half:
        takeaway += f"mostly shorter than the typical length {half:g}, though the window reaches it."
        text += (f": mostly shorter than the typical path (n/2 = {half:g}), though the window reaches it; Veit et al.'s "
                 f"effective paths (5–17 of 54 blocks, Fig. 6) lie well below it, and with {n} blocks the binomial "
                 "spread of path lengths is narrow next to n/2")
    else:
        takeaway += f"around or above the typical length {half:g}, unlike Veit et al.'s nets."
        text += (f", a window around or above the typical path length n/2 = {half:g}: here the gradient does not come "
                 f"mainly from short paths, unlike Veit et al.'s Fig. 6 (5–17 of 54 blocks); with {n} blocks the "
                 "gradient of a path shrinks too little with its length to favour short paths")
    text += "."
    if plain_depth is not None:
        text += f" The plain twin has a single path, through all {plain_depth} blocks."
    return Caption(takeaway, text)


# --- the view: one computation for the page, the CLI and the report --------------------------


@dataclass(frozen=True)
class EnsembleSettings:
    """Everything the unrolled-ensemble view computes from (Veit et al. 2016).

    samples: random block subsets (and paths) per k; seed: their sampling seed; max_k: the
    largest k deleted at once and the longest path sampled (0: every block);
    include_downsampling: let the k-sweep delete downsampling blocks; batch: test inputs whose
    gradients are averaged for the path-length study; diagram_blocks: blocks unrolled in the
    drawing (Veit Fig. 1).
    """

    samples: int = setting(DEFAULT_SAMPLES, "Random subsets per k", min=1, max=MAX_SAMPLES,
                           picks=(4, 8, 12, 20, 32, 50), key="ens_samples",
                           help="Each k uses every subset of k blocks when there are fewer than this.")
    seed: int = setting(0, "Sampling seed", min=0, max=MAX_SEED, step=1, key="ens_seed")
    max_k: int = setting(0, "Largest k (0 = every deletable block)", min=0, max=MAX_DEPTH, step=1, key="ens_max_k",
                         help="At most the net's blocks.")
    include_downsampling: bool = setting(False, "Delete downsampling blocks too", key="ens_include_downsampling",
                                         help="Deleted downsampling blocks become y = shortcut(x) (subsample + "
                                              "zero-pad).")
    batch: int = setting(DEFAULT_GRADIENT_BATCH, "Inputs for the gradient study", min=1, max=MAX_GRADIENT_BATCH,
                         picks=(32, 64, 128, 256, 360), key="ens_batch",
                         help="Test inputs, at most the test split of the pair's data (digits: 360).")
    diagram_blocks: int = setting(3, "Blocks to unroll", min=1, max=MAX_DIAGRAM_BLOCKS, step=1, widget="slider",
                                  key="ensemble_diagram_n", cli=False)

    def validate(self) -> None:
        """ConfigError with a one-line message for settings outside their declared domains (`settings.check_all`).
        What depends on the pair is checked by the study: k at most the net's blocks, the batch at most the test
        split."""
        check_all(self)

    def computation(self) -> dict:
        """The fields that determine the numbers (a cache key): all but the drawing's `diagram_blocks`."""
        return {k: v for k, v in asdict(self).items() if k != "diagram_blocks"}

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


@dataclass
class EnsembleView:
    """What the unrolled-ensemble view shows for a trained pair: lesions of both nets, and the
    residual net's gradient by path length, with the captions their numbers support."""

    settings: EnsembleSettings
    lesions: list[LesionResult]  # plain, residual (the command line may study one of them alone)
    paths: PathGradientResult | None  # None without a residual net
    plain_depth: int | None  # None without a plain net

    @property
    def residual(self) -> LesionResult:
        """The residual net's lesion result."""
        return self.lesions[-1]

    def captions(self) -> dict[str, str]:
        """Run-derived captions: "deletion", "k_sweep", "reorder" ("" without swaps) and "paths"."""
        return {"deletion": deletion_caption(self.lesions), "k_sweep": k_sweep_caption(self.lesions),
                "reorder": reorder_caption(self.lesions) if any(r.reorder is not None for r in self.lesions) else "",
                "paths": path_gradient_caption(self.paths, self.plain_depth) if self.paths is not None else ""}

    def to_dict(self) -> dict:
        """JSON-ready results with their captions (whole) and their takeaways."""
        caps = self.captions()
        return {"settings": self.settings.to_dict(), "lesions": [r.to_dict() for r in self.lesions],
                "paths": self.paths.to_dict() if self.paths is not None else None, "captions": caps,
                "takeaways": {k: takeaway_of(c) for k, c in caps.items()}}


def ensemble_study(plain, residual, settings: EnsembleSettings = EnsembleSettings(), *,
                   progress: Progress | None = None) -> EnsembleView:
    """Veit et al. 2016's view of a trained pair: `lesion_study` of the plain and the residual
    run (delete one block, k blocks, reorder) and `path_gradient_study` of the residual run.

    `plain`, `residual`: trained `Run`s (one of them may be None: the other is studied alone, as the command
    line's single `--run` asks). `progress(fraction, message)` as the work goes on.
    """
    settings.validate()
    runs = [r for r in (plain, residual) if r is not None]
    if not runs:
        raise ConfigError("the unrolled-ensemble view needs a trained net")
    if residual is not None:
        check_net(residual.model)
    max_k = settings.max_k or None
    steps = len(runs) + (residual is not None)
    lesions = [lesion_study(run, samples=settings.samples, seed=settings.seed, max_k=max_k,
                            include_downsampling=settings.include_downsampling,
                            progress=part(progress, i / steps, (i + 1) / steps, f"deleting blocks of the {run.label} net"))
               for i, run in enumerate(runs)]
    paths = None if residual is None else path_gradient_study(
        residual, samples=settings.samples, seed=settings.seed, batch=settings.batch,
        progress=part(progress, (steps - 1) / steps, 1.0, "gradient by path length"))
    notify(progress, 1.0, "done")
    return EnsembleView(settings, lesions, paths, plain.net.depth if plain is not None else None)


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: EnsembleSettings, inputs) -> EnsembleView:
    """The registry's computation of the unrolled-ensemble view: `ensemble_study` of the trained pair (`inputs.runs`:
    "plain" and "residual", or one of them)."""
    return ensemble_study(inputs.runs.get("plain"), inputs.runs.get("residual"), settings, progress=inputs.progress)
