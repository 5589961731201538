"""Small helpers the library shares: flat parameter vectors, private eval-mode copies of a
model, the device to compute on, and JSON without NaN/inf.

Each lives here once; the modules that need one import it from here.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

# --- flat parameter vectors -----------------------------------------------------------


def flatten(tensors: Iterable[torch.Tensor], *, dtype: torch.dtype | None = None,
            device: torch.device | str | None = None) -> torch.Tensor:
    """One new flat vector of `tensors` (in order), detached from autograd.

    dtype, device: of the vector (None: as the tensors, which share one device).
    """
    return torch.cat([t.detach().reshape(-1) for t in tensors]).to(device=device, dtype=dtype)


def flat_params(model: nn.Module, *, dtype: torch.dtype | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """`model.parameters()`, in that order, as one new flat vector detached from autograd
    (`torch.nn.utils.parameters_to_vector`). The landscape's directions and the training
    trajectory index parameters by this order.

    dtype, device: of the vector (None: the parameters' own).
    """
    return parameters_to_vector(p.detach() for p in model.parameters()).to(device=device, dtype=dtype)


# --- models and devices ---------------------------------------------------------------


def eval_copy(model: nn.Module, *, device: torch.device | str | None = None, frozen: bool = True) -> nn.Module:
    """A private deep copy of `model` in eval mode (BatchNorm uses its running statistics, so
    one input's output does not depend on the others). Runs are shared by every session:
    the views work on such a copy, and the run is never changed.

    device:  where the copy lives (None: where `model` is).
    frozen:  its parameters do not require gradients (input gradients still flow).
    """
    net = copy.deepcopy(model)
    if device is not None:
        net = net.to(device)
    net.eval()
    if frozen:
        for p in net.parameters():
            p.requires_grad_(False)
    return net


def pick_device(device: torch.device | str | None = None) -> torch.device:
    """`device` as a torch.device; None picks CUDA when a GPU is present, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """Where `model`'s parameters live (the CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --- JSON ---------------------------------------------------------------------------------


def json_safe(o):
    """`o` with every NaN/inf float (Python or NumPy) replaced by None, as JSON has neither
    (dicts and lists are rebuilt, tuples become lists; anything else is returned as it is)."""
    if isinstance(o, (float, np.floating)) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    return o
