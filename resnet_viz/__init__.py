"""ResNet Lab: plain networks against their residual twins, as a library, a command line and a Streamlit app.

In a notebook (`resnet_viz.api`):

    import resnet_viz as rv

    pair = rv.default_pair()          # the app's default pair, loaded from the runs shipped with the lab
    r = rv.landscape(pair, grid=21)   # one view, its settings as the page names them; r shows its figures
    r.captions, r.figures(), r.to_dict()

`import resnet_viz` is cheap: it loads no PyTorch. The names below load the API on first use (`__getattr__`).

One function per view: `degradation`, `playground`, `landscape`, `shattering`, `ensemble`, `identity`, `family`,
`features`. Each is named after its view's library module, and is that module made callable: `rv.landscape` is the
module `resnet_viz.landscape` (the view's study, settings and result), and `rv.landscape(pair, grid=21)` calls
`resnet_viz.api.landscape`, whose signature and docstring it shows. So `from resnet_viz import landscape` keeps
meaning the module, whichever was imported first.
"""

from __future__ import annotations

import copyreg
import sys
import types

_API = ("ConfigError", "Pair", "UnknownSetting", "ViewResult", "default_pair", "run_store", "train_pair")
# The view functions, by their modules' names (`api.name_of`); tests/test_api.py checks them against the registry.
_VIEWS = ("degradation", "playground", "landscape", "shattering", "ensemble", "identity", "family", "features")
__all__ = [*_API, *_VIEWS]


class _ViewModule(types.ModuleType):
    """A view's library module, callable: calling it computes the view (`resnet_viz.api`, same arguments)."""

    @property
    def __call__(self):
        from . import api

        return api.FUNCTIONS[self.__name__.rpartition(".")[2]]

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(self.__call__)


def _reduce_view_module(module: _ViewModule):
    """Pickled as a module is (cloudpickle, Dask): imported again by name."""
    import importlib

    return importlib.import_module, (module.__name__,)


copyreg.pickle(_ViewModule, _reduce_view_module)


class _Package(types.ModuleType):
    """This package: a view's module becomes callable when it is imported (set here as an attribute)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _VIEWS and type(value) is types.ModuleType and value.__name__ == f"{self.__name__}.{name}":
            value.__class__ = _ViewModule
        super().__setattr__(name, value)


def __getattr__(name: str):
    if name in _VIEWS:  # imported now; its import sets it here, callable
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


sys.modules[__name__].__class__ = _Package
