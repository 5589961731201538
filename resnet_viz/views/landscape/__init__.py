"""Loss landscapes of a trained net (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

f(α, β) = L(θ* + αδ + βη), with δ, η drawn from a Gaussian and filter-normalized: for every filter (output channel
of a conv, row of a linear layer) d ← d / ‖d‖ · ‖θ‖ (Li §4). Directions for biases and BatchNorm parameters are
zero by default (Li's "ignore biasbn"; included, their direction is the parameter itself, as in Li's code);
BatchNorm running statistics are buffers, not parameters, and stay at θ*'s values. Every point is evaluated in
eval mode on one fixed evaluation subset of the training data, on a symmetric grid that contains (0, 0) exactly.

Also here: 1-D interpolation between two weight sets (Goodfellow et al. 2015), the optimisation path projected on
the PCA directions of θ_i − θ_final (Li §7), and the extreme Hessian eigenvalues at θ* by Lanczos on
Hessian-vector products (Li §6, |λmin/λmax| as a measure of non-convexity).

One module per concern, each importing only those before it:

    directions  filter-normalized random directions (Li §4)
    grid        the grid around θ*, the fixed evaluation subset, the flat-buffer evaluator of one point
    curvature   Lanczos on Hessian-vector products: the extreme eigenvalues at a point (Li §6)
    surfaces    the grid job; loss planes and lines (Li Fig. 1, 5) and the |λmin/λmax| map (Li Fig. 7)
    paths       interpolation (Goodfellow et al. 2015) and the optimisation path on its PCA plane (Li §7)
    captions    basin width and roughness, and the captions computed from the results
    study       the view: LandscapeSettings, LandscapeView, landscape_study, view_study

This package re-exports each module's public names, so `resnet_viz.views.landscape` reads as one module.

Speed: the model is deep-copied once, its parameters are re-pointed into one flat buffer, and each grid point
costs two vector operations on that buffer plus one forward pass of the evaluation set (the bound a benchmark
compares against). The caller's model is never written to, so its weights and train/eval mode are the same
afterwards, also when an evaluation fails half-way.
"""

from __future__ import annotations

from .captions import (
    BASIN_RISE,
    LOSS_CEILING,
    RAYS,
    ROUGH,
    SAME_RATIO,
    WIDER,
    Basin,
    basin,
    curvature_caption,
    curvature_map_caption,
    interpolation_barrier,
    interpolation_caption,
    slices_caption,
    surface_stats,
    surfaces_caption,
    trajectory_caption,
    width_comparison,
)
from .curvature import (
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_TOL,
    HESSIAN_PARAMS,
    MAX_ITERATIONS,
    Curvature,
    hessian_extremes,
    hessian_parameters,
    lanczos_extremes,
)
from .directions import NORMALIZATIONS, normalize_direction, random_direction, random_directions, unflatten
from .grid import DEFAULT_CHUNK, MAX_GRID, MAX_SAMPLES, SUBSET_SEED, coarse_to_fine_order, evaluation_subset, grid_coords
from .paths import Interpolation, Trajectory, interpolate, pca_directions, trajectory
from .study import (
    MAX_TRAJECTORY_GRID,
    SURFACE_VIEWS,
    VIEWS,
    LandscapeSettings,
    LandscapeView,
    landscape_study,
    view_study,
)
from .surfaces import MAP_SAMPLES, MAP_TOL, CurvatureMap, GridJob, Surface, curvature_map, line, plane, surface

# The package is these classes' home: a kept result names each dataclass by module and qualified name
# ("resnet_viz.views.landscape:Surface", `results.encode`; the shipped results are written so), and the notebook
# API names a view after its settings' module (`api.name_of`: `rv.landscape`).
for _cls in (Surface, GridJob, CurvatureMap, Curvature, Interpolation, Trajectory, Basin, LandscapeSettings,
             LandscapeView):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "BASIN_RISE", "DEFAULT_CHUNK", "DEFAULT_MAX_ITERATIONS", "DEFAULT_TOL", "HESSIAN_PARAMS", "LOSS_CEILING",
    "MAP_SAMPLES", "MAP_TOL", "MAX_GRID", "MAX_ITERATIONS", "MAX_SAMPLES", "MAX_TRAJECTORY_GRID", "NORMALIZATIONS",
    "RAYS", "ROUGH", "SAME_RATIO", "SUBSET_SEED", "SURFACE_VIEWS", "VIEWS", "WIDER",
    "Basin", "Curvature", "CurvatureMap", "GridJob", "Interpolation", "LandscapeSettings", "LandscapeView", "Surface",
    "Trajectory",
    "basin", "coarse_to_fine_order", "curvature_caption", "curvature_map", "curvature_map_caption",
    "evaluation_subset", "grid_coords", "hessian_extremes", "hessian_parameters", "interpolate",
    "interpolation_barrier", "interpolation_caption", "lanczos_extremes", "landscape_study", "line",
    "normalize_direction", "pca_directions", "plane", "random_direction", "random_directions", "slices_caption",
    "surface", "surface_stats", "surfaces_caption", "trajectory", "trajectory_caption", "unflatten", "view_study",
    "width_comparison",
]
