"""Each view's settings (a frozen dataclass of `resnet_viz`) as the widgets of its page.

A page draws its widgets under the keys listed here, reads them back with `settings(...)`,
and hands that settings object to the view's one study function. A preset (a pair plus a
settings object) opens its page by writing `state(settings)` into the session: the same
table both ways, so a preset can only set what the page's widgets show.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from resnet_viz.degradation import DegradationSettings
from resnet_viz.ensemble import EnsembleSettings
from resnet_viz.identity import IdentitySettings
from resnet_viz.landscape import LandscapeSettings
from resnet_viz.playground import PlaygroundSettings
from resnet_viz.shattering import ShatteringSettings, parse_depths


def _same(v):
    return v


@dataclass(frozen=True)
class ViewKeys:
    """How one view's settings map to its page's widgets.

    keys:     settings field -> widget key (also the URL query name of that widget).
    to_widget, from_widget: conversions where a widget holds another type (a tuple of depths
              as a list or as text).
    run_key:  the session key that says "computed on request: show it" (None: always shown).
    """

    keys: dict[str, str]
    to_widget: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    from_widget: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    run_key: str | None = None


VIEW_KEYS: dict[type, ViewKeys] = {
    DegradationSettings: ViewKeys(
        {"depths": "deg_depths", "seeds": "deg_seeds", "width": "deg_width", "epochs": "deg_epochs"},
        to_widget={"depths": list}, from_widget={"depths": lambda v: tuple(int(d) for d in v)}, run_key="deg_run"),
    LandscapeSettings: ViewKeys(
        {"view": "landscape_view", "grid": "ls_grid", "span": "ls_span", "samples": "ls_samples", "seed": "ls_seed",
         "normalization": "ls_normalization", "bias_bn": "ls_bias_bn", "hessian_params": "landscape_hessian_params",
         "tol": "landscape_tol", "max_iterations": "landscape_lanczos", "curvature_map": "landscape_map_on",
         "map_grid": "landscape_map_grid", "mode": "landscape_mode", "clip": "landscape_clip"}),
    ShatteringSettings: ViewKeys(
        {"depth": "sh_depth", "width": "sh_width", "lam": "sh_lam", "seeds": "sh_seeds", "points": "sh_points",
         "bn": "sh_bn", "module": "sh_block", "looks_linear": "sh_looks_linear", "sweep": "sh_sweep"},
        to_widget={"sweep": lambda t: ",".join(map(str, t))}, from_widget={"sweep": parse_depths}),
    EnsembleSettings: ViewKeys(
        {"samples": "ens_samples", "seed": "ens_seed", "max_k": "ens_max_k",
         "include_downsampling": "ens_include_downsampling", "batch": "ens_batch",
         "diagram_blocks": "ensemble_diagram_n"}),
    PlaygroundSettings: ViewKeys(
        {"dataset": "pg_dataset", "noise": "pg_noise", "train_ratio": "pg_train_ratio", "points": "pg_points",
         "depth": "pg_depth", "width": "pg_width", "activation": "pg_activation", "norm": "pg_bn", "lr": "pg_lr",
         "batch_size": "pg_batch", "l2": "pg_l2", "features": "pg_features", "steps": "pg_steps",
         "frames": "pg_frames", "seed": "pg_seed", "data_seed": "pg_data_seed"},
        to_widget={"norm": lambda v: v == "batch", "features": list},
        from_widget={"norm": lambda on: "batch" if on else "none", "features": tuple}),
    IdentitySettings: ViewKeys(
        {"variants": "id_variants", "plain": "id_plain", "seeds": "id_seeds", "gate_bias": "id_gate_bias",
         "dropout": "id_dropout", "random_nets": "id_random_nets"},
        to_widget={"variants": list}, from_widget={"variants": tuple}),
}


def state(settings) -> dict[str, Any]:
    """Widget key -> widget value for every field of `settings` that its page shows (and the
    view's run flag set, so a preset shows its whole comparison at once)."""
    vk = VIEW_KEYS[type(settings)]
    out = {key: vk.to_widget.get(f, _same)(getattr(settings, f)) for f, key in vk.keys.items()}
    if vk.run_key:
        out[vk.run_key] = True
    return out


def settings(cls: type, values, base=None):
    """The `cls` settings from widget values (a mapping such as `st.session_state`): fields whose
    widget holds no value keep `base`'s (default: the class defaults). ValueError/ConfigError
    for values the settings refuse (e.g. a sweep text that is not a list of depths)."""
    vk = VIEW_KEYS[cls]
    base = base if base is not None else cls()
    kw = {}
    for f, key in vk.keys.items():
        if key in values and values[key] is not None:
            kw[f] = vk.from_widget.get(f, _same)(values[key])
    return dataclasses.replace(base, **kw)


def defaults(cls: type) -> dict[str, Any]:
    """Widget key -> the default settings' widget value (what a page starts with)."""
    return {k: v for k, v in state(cls()).items() if k != VIEW_KEYS[cls].run_key}
