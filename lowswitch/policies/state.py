"""Checks of a saved policy state: every table and counter before anything is rebuilt."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lowswitch.errors import InputError

_DTYPE = torch.float64


def state_matrix(name: str, value: Any, d: int) -> Tensor:
    """A saved ``(t, d)`` list of rows, checked for shape (no silent reshape)."""
    t = state_tensor(name, value)
    if t.numel() == 0:
        return t.reshape(0, d)
    if t.dim() != 2 or t.shape[1] != d:
        raise InputError(f"state: {name}: expected shape (t, {d}), got {tuple(t.shape)}")
    return t


def state_vector(name: str, value: Any) -> Tensor:
    t = state_tensor(name, value)
    if t.dim() != 1:
        raise InputError(f"state: {name}: expected a flat list of numbers, got shape "
                         f"{tuple(t.shape)}")
    return t


def state_tensor(name: str, value: Any) -> Tensor:
    if not isinstance(value, list):
        raise InputError(f"state: {name}: expected a list, got {type(value).__name__}")
    try:
        t = torch.tensor(value, dtype=_DTYPE)
    except (TypeError, ValueError) as err:
        raise InputError(f"state: {name}: expected numbers ({err})") from None
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"state: {name}: expected finite values")
    return t


def state_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"state: {name}: expected a non-negative int, got {value!r}")
    return value


__all__ = ["state_count", "state_matrix", "state_tensor", "state_vector"]
