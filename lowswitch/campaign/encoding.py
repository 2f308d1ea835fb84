"""From a candidate table to a [`lowswitch.space.Space`][lowswitch.space.Space] and its exact
encoding.

A campaign does not have an encoder of its own: it describes its table as a shared
[`Space`][lowswitch.space.Space] (stored with the campaign as JSON) and lets the space encode
every candidate to ``[0, 1]^D``:

* categorical input column (any cell that is not a number): ``Categorical`` over its sorted
  distinct values, **one-hot** (one feature per value);
* categorical input with descriptor columns (numeric columns of the table whose value is a
  function of that input, e.g. a ligand's cone angle): ``Categorical(..., descriptors=...)``,
  encoded by the descriptors, each min-max scaled to [0, 1] (no one-hot for that input);
* numeric input column: ``Float(min, max)``, ``u = (v - min) / (max - min)``.

Distinct conditions get distinct encoded rows (one-hot and ``Float`` are injective; the space
refuses descriptor rows that coincide), so the GP never merges two conditions.

Example:
    >>> space = table_space([{"base": "B", "T": 20.0}, {"base": "A", "T": 40.0}], ["base", "T"])
    >>> space.to_dict()["base"]["choices"], encode_rows([{"base": "B", "T": 20.0}], space).tolist()
    (['A', 'B'], [[0.0, 1.0, 0.0]])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lowswitch.errors import InputError
from lowswitch.space import Categorical, Float, Param, Space


def _owner(rows: Sequence[Mapping[str, Any]], column: str, inputs: Sequence[str]) -> str:
    """The first categorical input whose value determines ``column`` in every row."""
    for col in inputs:
        if all(isinstance(r[col], float) for r in rows):
            continue
        mapping: dict[Any, Any] = {}
        if all(mapping.setdefault(r[col], r[column]) == r[column] for r in rows):
            return col
    raise InputError(
        f"descriptors: column {column!r} is not a function of any categorical input "
        f"({list(inputs)}); a descriptor must take one value per category"
    )


def _distinct_levels(column: str, param: Float, values: Sequence[float]) -> Float:
    """``param``, after checking that distinct levels of ``column`` get distinct encodings.

    ``Float`` resolves a value on a grid of ``2**-40`` of its range; two levels closer than
    that (``20`` and ``20.000000000001``) would be merged into one condition by the GP.
    """
    seen: dict[float, float] = {}
    for value in sorted(set(values)):
        u = param.encode_value(value)[0]
        if u in seen:
            raise InputError(
                f"candidates: column {column!r} has the levels {seen[u]!r} and {value!r}, "
                "which are too close to tell apart (the encoding resolves 2**-40 of the "
                "column's range); round them to one level or use text labels"
            )
        seen[u] = value
    return param


def table_space(
    rows: Sequence[Mapping[str, Any]], inputs: Sequence[str], descriptors: Sequence[str] = ()
) -> Space:
    """Describe a validated candidate table (see ``lowswitch.campaign.tables``) as a Space.

    Args:
        rows: candidate rows (column -> value; numbers as float, categories as str).
        inputs: condition columns, in encoding order.
        descriptors: numeric columns used to encode the categorical input they belong to.

    Returns:
        The space whose parameters are the ``inputs``.

    Raises:
        InputError: a descriptor column does not belong to one categorical input, or two
            categories share all their descriptor values.
    """
    owned: dict[str, list[str]] = {}
    for col in descriptors:
        owned.setdefault(_owner(rows, col, inputs), []).append(col)
    params: dict[str, Param] = {}
    for col in inputs:
        values = [r[col] for r in rows]
        if all(isinstance(v, float) for v in values):
            params[col] = _distinct_levels(col, Float(min(values), max(values)), values)
            continue
        choices = sorted({str(v) for v in values})
        if col in owned:
            first: dict[str, Mapping[str, Any]] = {}
            for r in rows:
                first.setdefault(str(r[col]), r)
            matrix = [[float(first[c][d]) for d in owned[col]] for c in choices]
            try:
                params[col] = Categorical(choices, descriptors=matrix)
            except InputError as err:
                raise InputError(
                    f"descriptors {owned[col]} of input {col!r}: two categories get the same "
                    f"values; add a descriptor or drop them ({err})"
                ) from None
        else:
            params[col] = Categorical(choices)
    return Space(params)


def encode_rows(rows: Sequence[Mapping[str, Any]], space: Space) -> torch.Tensor:
    """Encode candidate rows with ``space``.

    Args:
        rows: m candidate rows (extra columns such as descriptors are ignored).
        space: the campaign's space.

    Returns:
        (m, D) float64 tensor in ``[0, 1]^D``.
    """
    names = space.names
    return space.encode_many([{n: r[n] for n in names} for r in rows])


def space_rows(
    space: Space, float_levels: int = 11, limit: int = 200_000
) -> list[dict[str, Any]]:
    """Every condition of a search space, as candidate rows (a campaign is a finite table).

    ``Int`` and ``Categorical`` parameters contribute all their values; a ``Float`` parameter
    contributes ``float_levels`` levels, the decoded points ``u = k / (float_levels - 1)`` of
    its (log-)range, so every level encodes exactly to its grid point.

    Args:
        space: the search space.
        float_levels: levels per ``Float`` parameter (>= 2).
        limit: refuse spaces with more candidates than this.

    Returns:
        Rows in lexicographic order of the parameters.

    Raises:
        InputError: bad ``float_levels`` or more than ``limit`` candidates.

    Example:
        >>> from lowswitch.space import Categorical, Float, Int
        >>> space = Space({"T": Float(20.0, 60.0), "n": Int(1, 2), "s": Categorical(["a"])})
        >>> [tuple(r.values()) for r in space_rows(space, float_levels=3)][:3]
        [(20.0, 1, 'a'), (20.0, 2, 'a'), (40.0, 1, 'a')]
    """
    if isinstance(float_levels, bool) or not isinstance(float_levels, int) or float_levels < 2:
        raise InputError(f"float_levels: expected an int >= 2, got {float_levels!r}")
    levels: list[list[Any]] = []
    for param in space.params.values():
        if isinstance(param, Float):
            grid = [param.decode_value([k / (float_levels - 1)]) for k in range(float_levels)]
            levels.append(sorted(set(grid)))
        else:
            levels.append(list(param.values()))
    size = math.prod(len(v) for v in levels)
    if size > limit:
        raise InputError(f"space: {size} candidate conditions, more than limit={limit}; "
                         "use fewer float_levels or a candidates table")
    return [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*levels)]


__all__ = ["encode_rows", "space_rows", "table_space"]
