"""Captions computed from the results (what this run shows, not what it should show): the width and roughness of
each basin along rays from θ* (`basin`, Li et al. 2018 §5), the barrier on an interpolation (Goodfellow et al.
2015), the share of a path in its PCA plane (Li §7) and the convexity at and around θ* (Li §6, Fig. 7), each
compared between the plain net and its residual twin with stated margins."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...captions import Caption
from ...numbers import num, pct, times
from .curvature import Curvature
from .paths import Interpolation, Trajectory
from .surfaces import CurvatureMap, Surface

SAME_RATIO = 0.2  # relative difference below which two curvature measures count as "about the same"
BASIN_RISE = 1.0  # basin edge: where the loss has risen this much (nats) above L(θ*)
RAYS = 16  # rays from θ* in a plane along which width and roughness are measured
WIDER = 1.25  # one basin radius at least this many times the other: "wider"
ROUGH = 0.05  # share of a surface's variation along the rays that goes downhill away from θ*: "rough"
LOSS_CEILING = 1e12  # overflowed losses (inf/NaN) count as this high on the rays


def _compare(a: float, b: float, same: float, relative: bool = False) -> int:
    """-1 when a < b, 1 when a > b, 0 when they are within `same` (absolute or relative)."""
    gap = abs(a - b) / max(abs(a), abs(b), 1e-300) if relative else abs(a - b)
    return 0 if gap <= same else (1 if a > b else -1)


def _ray_values(s: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(distances from θ* in axis units, losses [ray, point]) along rays from the centre: the two halves of a
    line, or RAYS evenly spread rays of a plane, each as long as the span (inside the grid), sampled every half
    grid step by (bi)linear interpolation of the grid. Overflowed losses count as LOSS_CEILING."""
    z = np.clip(np.where(np.isfinite(s.loss), s.loss, LOSS_CEILING), 0.0, LOSS_CEILING)
    n = len(s.alphas)
    c = (n - 1) / 2
    t = np.arange(0, 2 * c + 1) / 2  # index steps of one half grid step, 0 … c
    dist = t * (s.alphas[-1] / c)
    if s.dim == 1:
        return dist, np.stack([np.interp(c + t, np.arange(n), z), np.interp(c - t, np.arange(n), z)])
    out = []
    for theta in np.linspace(0, 2 * np.pi, RAYS, endpoint=False):
        rows, cols = c + t * np.sin(theta), c + t * np.cos(theta)
        r0, c0 = np.clip(np.floor(rows).astype(int), 0, n - 2), np.clip(np.floor(cols).astype(int), 0, n - 2)
        fr, fc = rows - r0, cols - c0
        out.append(z[r0, c0] * (1 - fr) * (1 - fc) + z[r0 + 1, c0] * fr * (1 - fc)
                   + z[r0, c0 + 1] * (1 - fr) * fc + z[r0 + 1, c0 + 1] * fr * fc)
    return dist, np.stack(out)


@dataclass(frozen=True)
class Basin:
    """How wide and how rough a surface is around θ*, measured along rays from the centre
    (Li et al. 2018 §5–6 compare the width of minima and the convexity of the surface; these numbers
    measure both without counting grid points, so they do not depend on the grid's resolution beyond
    interpolation, nor on the loss at θ*).

    radius:    mean distance (axis units of the filter-normalized directions) along the rays at which the
               loss has first risen by `rise` nats above L(θ*); a ray that never rises that much within the
               span counts as the span (`censored` says how many did).
    roughness: share of the total variation of log10 loss along the rays that goes downhill while moving
               away from θ* (0 for a bowl whose contours are nested; larger for a chaotic surface with dips).
    """

    radius: float
    censored: int
    rays: int
    roughness: float
    rise: float = BASIN_RISE


def basin(s: Surface, rise: float = BASIN_RISE) -> Basin:
    """The `Basin` of an evaluated line or plane: width (where the loss has risen by `rise` nats above its value
    at θ*, interpolated between samples) and roughness along rays from θ* (Li et al. 2018 §5)."""
    dist, losses = _ray_values(s)
    center = s.center_loss if math.isfinite(s.center_loss) else LOSS_CEILING
    radii, censored = [], 0
    for loss in losses:
        above = loss - center >= rise
        if not above.any():
            radii.append(dist[-1])
            censored += 1
            continue
        k = int(np.argmax(above))
        lo, hi = loss[k - 1] - center, loss[k] - center
        f = 0.0 if k == 0 or hi <= lo else (rise - lo) / (hi - lo)
        radii.append(dist[max(k - 1, 0)] + f * (dist[k] - dist[max(k - 1, 0)]))
    steps = np.diff(np.log10(np.maximum(losses, 1e-12)), axis=1)
    total = float(np.abs(steps).sum())
    rough = float(np.maximum(-steps, 0).sum() / total) if total > 0 else 0.0
    return Basin(float(np.mean(radii)), censored, len(losses), rough, rise)


def _times(a: float, b: float) -> str:
    """How many times wider a is than b ("×2.1"; "much" when b is 0)."""
    return times(a / b) if b > 0 else "much"


def _radius(b: Basin) -> str:
    return f"≥ {b.radius:.2f}" if b.censored == b.rays else f"{b.radius:.2f}"


def _radius_text(b: Basin) -> str:
    return _radius(b) + (
        f" ({b.censored} of {b.rays} rays never rise that much within the span)" if 0 < b.censored < b.rays else "")


def width_comparison(plain: Basin, residual: Basin) -> int:
    """1 when the residual basin is wider by at least the factor WIDER, -1 when the plain one is, 0 otherwise."""
    if residual.radius >= WIDER * plain.radius:
        return 1
    if plain.radius >= WIDER * residual.radius:
        return -1
    return 0


def surfaces_caption(plain: Surface, residual: Surface, classes: int) -> str:
    """Caption of the plain and residual loss planes from what they show (Li et al. 2018 Fig. 5: a wide,
    convex-looking basin for the residual net, a narrower, chaotic one for a deep plain net): each basin's
    width and roughness along the same rays (`basin`), compared with margins (a factor WIDER for width,
    ROUGH for roughness); the loss at θ* is named, since width is measured from each net's own minimum."""
    bp, br = basin(plain), basin(residual)
    head = (f"Same directions (one seed), one colour scale. The white line is each basin's edge, where the loss has "
            f"risen {BASIN_RISE:g} nat above its value at θ*: along {bp.rays} rays it lies at a mean distance of "
            f"{_radius_text(bp)} for the plain net and {_radius_text(br)} for the residual net. ")
    c = width_comparison(bp, br)
    takeaway = (f"The residual net's basin is {_times(br.radius, bp.radius)} wider than the plain net's (edge at "
                f"{_radius(br)} vs {_radius(bp)}), as in Li et al." if c > 0 else
                f"Here the plain net's basin is {_times(bp.radius, br.radius)} wider than the residual net's (edge at "
                f"{_radius(bp)} vs {_radius(br)}), unlike Li et al." if c < 0 else
                f"Both basins are about as wide (edge at {_radius(bp)} plain vs {_radius(br)} residual, within a factor "
                f"{WIDER:g}).")
    if c > 0:
        width = f"The residual net's basin is {_times(br.radius, bp.radius)} wider, as in Li et al. 2018 (Fig. 5)."
    elif c < 0:
        width = (f"Here the plain net's basin is {_times(bp.radius, br.radius)} wider, unlike Li et al.'s Fig. 5, "
                 "where the deep no-skip net sits in the narrower one; at this depth and budget the twins differ "
                 "less than ResNet-56 and its no-skip twin on CIFAR-10 (Li et al. see little difference at 20 layers).")
    else:
        width = (f"Both basins are about as wide (within a factor {WIDER:g}); Li et al. see this at 20 layers and the "
                 "gap only from 56 layers on.")
    if bp.roughness >= ROUGH and bp.roughness > 2 * br.roughness:
        rough = (f" The plain surface is the rougher one ({pct(bp.roughness)} of its rise along the rays goes downhill "
                 f"away from θ*, {pct(br.roughness)} for the residual net): Li et al.'s chaotic no-skip surface.")
    elif br.roughness >= ROUGH and br.roughness > 2 * bp.roughness:
        rough = (f" Here the residual surface is the rougher one ({pct(br.roughness)} of its rise goes downhill away "
                 f"from θ*, {pct(bp.roughness)} for the plain net), unlike Li et al.")
    else:
        rough = (f" Both rise smoothly away from θ* (roughness {pct(bp.roughness)} and {pct(br.roughness)}: the share "
                 "of the rise along the rays that goes downhill): the chaotic no-skip surfaces of Li et al. belong to "
                 "56–110-layer nets trained for hundreds of epochs on CIFAR-10; at this toy scale the twins differ in "
                 "width, not in chaos.")
    lp, lr = plain.center_loss, residual.center_loss
    ratio = lp / lr if lr > 0 else math.inf
    minima = ""
    if ratio >= 10 or ratio <= 0.1:
        worse = "plain" if ratio >= 10 else "residual"
        minima = (f" The {worse} net's minimum is also higher (loss at θ* {num(lp)} against {num(lr)}); each width is "
                  "measured from the net's own minimum.")
    return Caption(takeaway, head + width + rough + minima)


def slices_caption(surfaces: dict[str, Surface]) -> str:
    """Caption of the 1-D slices (β = 0 rows) from their values: the loss at θ* and at both ends of the
    slice for each net, and how far from θ* the loss has risen by BASIN_RISE nats along the slice (Li et
    al. 2018 §5 relate flat, wide minima to generalisation), compared with the margin WIDER."""
    parts, widths = [], {}
    for label, s in surfaces.items():
        g = s.subgrid()
        row = g.loss if g.dim == 1 else g.loss[(len(g.betas) - 1) // 2]
        ends = np.nan_to_num(row[[0, -1]], nan=np.inf)
        line = Surface(g.alphas, None, row, np.zeros_like(row), np.ones_like(row, dtype=bool), g.settings)
        widths[label] = basin(line)
        parts.append(f"{label} {num(s.center_loss)} at θ*, {num(ends[0])} / {num(ends[-1])} at α = ±{num(g.alphas[-1])}, "
                     f"{BASIN_RISE:g} nat higher at |α| = {_radius_text(widths[label])}")
    text = ("The β = 0 row of each plane: the same filter-normalized direction δ through both nets. Loss: "
            + "; ".join(parts) + ". ")
    rise = f"{BASIN_RISE:g} nat higher at |α| = "
    if set(widths) >= {"plain", "residual"}:
        c = width_comparison(widths["plain"], widths["residual"])
        text += ("Both rise about as fast away from θ*." if c == 0 else
                 f"The {'plain' if c > 0 else 'residual'} net's loss rises faster away from θ* (the sharper minimum).")
        at = f"({rise}{_radius(widths['plain'])} plain, {_radius(widths['residual'])} residual)"
        takeaway = (f"Along the same direction, both nets' loss rises about as fast away from θ* {at}." if c == 0 else
                    f"Along the same direction, the {'plain' if c > 0 else 'residual'} net's loss rises faster away "
                    f"from θ* {at}.")
    else:
        takeaway = "Along this direction, " + "; ".join(
            f"the {label} net's loss is {num(s.center_loss)} at θ* and {rise}{_radius(widths[label])}"
            for label, s in surfaces.items()) + "."
    return Caption(takeaway, text)


def interpolation_barrier(interp: Interpolation) -> float:
    """Largest rise of the loss along the segment t ∈ [0, 1] above the running minimum before it
    (0 for a monotone decrease): the barrier on the straight line (Goodfellow et al. 2015)."""
    inside = (interp.ts >= 0) & (interp.ts <= 1)
    vals = np.nan_to_num(interp.loss[inside], nan=np.inf)
    if vals.size < 2:
        return 0.0
    return float(np.max(vals - np.minimum.accumulate(vals)))


def interpolation_caption(curves: dict[str, Interpolation], tol: float = 1e-3) -> str:
    """Caption of init → trained interpolations from the curves (Goodfellow et al. 2015 found a
    monotone decrease, no barrier, on this line): says per curve whether the loss falls
    monotonically on [0, 1] or how high the barrier is."""
    parts, short = [], []
    for label, c in curves.items():
        b = interpolation_barrier(c)
        parts.append(f"{label}: the loss falls monotonically from t = 0 to 1 (no barrier on this line)" if b <= tol
                     else f"{label}: a barrier of {num(b)} above the lowest loss before it")
        short.append(f"the {label} net's loss falls monotonically" if b <= tol else
                     f"the {label} net's loss crosses a barrier of {num(b)}")
    return Caption("From initial to trained weights, " + "; ".join(short) + ".", "; ".join(parts) + ".")


def trajectory_caption(trajectories: dict[str, "Trajectory"]) -> str:
    """Caption of the optimisation paths from their PCA (Li et al. 2018 §7 find the paths lie in a
    very low-dimensional space): the variance share of the first two directions per net and
    what it means for how well the plane shows the path."""
    parts = []
    for label, tr in trajectories.items():
        share = float(np.sum(tr.explained_variance))
        verdict = ("most of the path lies in this plane" if share >= 0.8 else
                   "a good part of the path lies in this plane" if share >= 0.5 else
                   "less than half of the path's variance lies in this plane, so the picture misses much of it")
        parts.append(f"{label}: {pct(tr.explained_variance[0], 0)} + {pct(tr.explained_variance[1], 0)} "
                     f"= {pct(share, 0)} of the variance, {verdict}")
    held = " and ".join(f"{pct(float(np.sum(tr.explained_variance)), 0)} of the {label} path's"
                        for label, tr in trajectories.items())
    return Caption(f"The plane of the first two PCA directions holds {held} variance.",
                   "Weight checkpoints projected on the first two PCA directions of θ_i − θ_final (Li et al. §7), over "
                   "the loss in that plane. " + "; ".join(parts) + ".")


def curvature_caption(curvatures: dict[str, Curvature]) -> str:
    """Caption of the extreme Hessian eigenvalues at θ* from the measured values (Li et al. 2018 §6):
    which parameters, convergence, and which net is the more nearly convex at its minimum."""
    any_c = next(iter(curvatures.values()))
    which = ("the weight tensors only (conv kernels and linear weights; biases and BN γ/β held fixed), as "
             "Li et al. do" if any_c.params == "weights" else "every parameter (weights, biases, BN γ/β)")
    parts = []
    for label, c in curvatures.items():
        end = (f"converged in {c.iterations} Lanczos steps, relative residual {num(c.relative_residual, 1)}"
               if c.converged else f"NOT converged after {c.iterations} steps (relative residual "
               f"{num(c.relative_residual, 1)}): raise the step limit")
        parts.append(f"{label}: λmax {num(c.lambda_max, 4)}, λmin {num(c.lambda_min, 4)}, |λmin/λmax| "
                     f"{num(c.ratio)} ({end})")
    text = (f"Hessian of the loss at θ* w.r.t. {which} ({any_c.n_params:,} parameters), by Lanczos on "
            f"Hessian-vector products. " + "; ".join(parts) + ". ")
    if set(curvatures) >= {"plain", "residual"}:
        p, r = curvatures["plain"].ratio, curvatures["residual"].ratio
        c = _compare(p, r, SAME_RATIO, relative=True)
        text += ("Both minima are about equally convex by this measure." if c == 0 else
                 f"The {'residual' if c > 0 else 'plain'} net's minimum is the more nearly convex here "
                 f"(smaller |λmin/λmax|).")
        ratios = f"|λmin/λmax| {num(r)} residual vs {num(p)} plain"
        takeaway = (f"Both minima are about equally convex ({ratios})." if c == 0 else
                    f"The {'residual' if c > 0 else 'plain'} net's minimum is the more nearly convex ({ratios}).")
    else:
        takeaway = "At θ*, " + "; ".join(f"the {label} net's |λmin/λmax| is {num(c.ratio)}"
                                         for label, c in curvatures.items()) + " (near 0: locally convex)."
    return Caption(takeaway, text + " Near 0 means locally convex; larger values mean negative curvature a 2-D plot "
                                    "can hide.")


def curvature_map_caption(maps: dict[str, CurvatureMap], convex: float = 0.1) -> str:
    """Caption of the |λmin/λmax| maps (Li et al. 2018 Fig. 7, where the residual net's region
    around θ* is convex-looking and a deep plain net's is not) from the measured maps: mean ratio
    and share of nearly convex points (ratio < `convex`) per net, and which is more convex."""
    stats = {}
    for label, m in maps.items():
        r = m.ratio[np.isfinite(m.ratio)]
        stats[label] = (float(r.mean()) if r.size else float("nan"),
                        float(np.mean(r < convex)) if r.size else float("nan"), int((~m.converged).sum()))
    parts = [f"{label}: mean {num(mean)}, {pct(share, 0)} of the points below {convex:g}"
             + (f", {bad} not converged" if bad else "") for label, (mean, share, bad) in stats.items()]
    m0 = next(iter(maps.values()))
    text = (f"|λmin/λmax| on a {len(m0.alphas)}×{len(m0.betas)} grid of the same directions as the loss plane, one "
            f"colour scale (Li et al. 2018 Fig. 7; dark = locally convex). " + "; ".join(parts) + ". ")
    if set(stats) >= {"plain", "residual"}:
        c = _compare(stats["plain"][0], stats["residual"][0], SAME_RATIO, relative=True)
        text += ("Both planes are about equally convex on average." if c == 0 else
                 "The residual net's region is the more convex, as in Li et al." if c > 0 else
                 "The plain net's region is the more convex here, unlike Li et al.'s deep no-skip nets (their Fig. 7 "
                 "contrast is for 56–110-layer nets trained to convergence on CIFAR-10)")
        means = f"mean |λmin/λmax| {num(stats['residual'][0])} residual vs {num(stats['plain'][0])} plain"
        takeaway = (f"Across the plane both nets are about equally convex ({means})." if c == 0 else
                    f"Across the plane the residual net's region is the more convex ({means}), as in Li et al." if c > 0
                    else f"Across the plane the plain net's region is the more convex ({means}), unlike Li et al.")
    else:
        takeaway = "Across the plane, " + "; ".join(
            f"the {label} net's mean |λmin/λmax| is {num(mean)}, {pct(share, 0)} of points below {convex:g}"
            for label, (mean, share, _) in stats.items()) + "."
    return Caption(takeaway, text)


def surface_stats(s: Surface, classes: int) -> str:
    """Loss and accuracy at θ*, the median loss over the plane and the basin's width and roughness (`basin`)."""
    b = basin(s)
    return (f"loss at θ* {num(s.center_loss)} ({pct(s.center_accuracy, 0)} accuracy on the evaluation set), median "
            f"over the plane {num(np.nanmedian(s.loss))}, {BASIN_RISE:g} nat higher at a distance of {_radius_text(b)}, "
            f"roughness {pct(b.roughness)}")
