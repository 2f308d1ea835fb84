"""``Block``: one decision of a low-switch policy, a point and its number of repeats."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True, eq=False)
class Block:
    """A decision: evaluate ``x`` ``repeats`` times.

    Attributes:
        x: ``(d,)`` float64 point (exactly the value to evaluate).
        repeats: ``B_h >= 1`` evaluations the switch rule asks for.
        index: row of ``x`` in the candidate set, or ``None`` for a continuous box.

    Example:
        >>> import torch
        >>> b = Block(torch.tensor([0.5], dtype=torch.float64), repeats=3)
        >>> b.repeats, b.index
        (3, None)
    """

    x: Tensor
    repeats: int
    index: int | None = None


__all__ = ["Block"]
