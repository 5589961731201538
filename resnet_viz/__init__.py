"""ResNet Lab: plain networks against their residual twins, as a library, a command line and a Streamlit app.

In a notebook (`resnet_viz.api`):

    import resnet_viz as rv

    pair = rv.default_pair()          # the app's default pair, loaded from the runs shipped with the lab
    r = rv.landscape(pair, grid=21)   # one view, its settings as the page names them; r shows its figures
    r.captions, r.figures(), r.to_dict()

One function per view: `degradation`, `playground`, `landscape`, `shattering`, `ensemble`, `identity`, `family`,
`features` (`resnet_viz.api`, generated from the view registry); each view's own module (its settings, study and
result) is `resnet_viz.views.<name>`.

`import resnet_viz` is cheap: it loads no PyTorch. The names below load the API on first use (a module
`__getattr__`, PEP 562).
"""

from __future__ import annotations

_API = ("ConfigError", "Pair", "UnknownSetting", "ViewResult", "default_pair", "run_store", "train_pair")
# The view functions (`api.FUNCTIONS`); tests/test_api.py checks them against the registry.
_VIEWS = ("degradation", "playground", "landscape", "shattering", "ensemble", "identity", "family", "features")
__all__ = [*_API, *_VIEWS]


def __getattr__(name: str):
    if name in __all__:
        from . import api  # the API loads PyTorch: imported on first use only

        return api.FUNCTIONS[name] if name in _VIEWS else getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
