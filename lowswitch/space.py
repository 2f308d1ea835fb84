"""Search spaces and their exact encoding to the GP's unit box.

A [`Space`][lowswitch.space.Space] maps a *config* (a ``dict`` from parameter name to value) to a
point of the box ``[0, 1]^D`` where the GP lives, and back. The map is designed so that **a config
maps to exactly one point**: two configs that mean the same thing encode to bit-identical float64
rows, so the unique-point GP merges their observations as repeats.

Encoding, parameter by parameter, in the order of the ``params`` dict:

============================  =======  ===================================================
parameter                     columns  encoding ``u`` of a value ``v``
============================  =======  ===================================================
``Float(a, b)``               1        ``u = snap((v - a) / (b - a))``
``Float(a, b, log=True)``     1        ``u = snap((ln v - ln a) / (ln b - ln a))``
``Int(a, b)``                 1        ``u = (v - a) / (b - a)``  (``u = 0`` when ``a == b``)
``Int(a, b, log=True)``       1        ``u = (ln v - ln a) / (ln b - ln a)``
``Categorical(c)``            ``k``    one-hot: column ``j`` is ``1.0`` iff ``v == c[j]``
``Categorical(c, desc)``      ``p``    row ``j`` of the descriptor matrix ``desc`` (k, p),
                                       each column min-max scaled to ``[0, 1]``
============================  =======  ===================================================

``snap(u) = round(u * 2**40) / 2**40`` (clipped to ``[0, 1]``): floats are resolved on a grid
of ``2**-40 ~ 9.1e-13`` of their (log-)range. On that grid ``encode(decode(u)) == u``
bit for bit (the float rounding of the affine / exp-log maps is ~1e-16, far below the grid
step), which is what makes [`Space.canonical`][lowswitch.space.Space.canonical] exact and
idempotent.

Decoding (``x`` may be any point of the box, e.g. from a continuous acquisition optimiser):
floats ``v = a + snap(u) (b - a)`` (``exp`` of the log-range map for ``log=True``), clipped
to ``[a, b]``, with ``u = 0`` and ``u = 1`` decoding to exactly ``a`` and ``b``; ints round
the linear (or log) map to the nearest integer in ``[a, b]``; one-hot categoricals take the
arg-max column (first on ties); descriptor categoricals take the choice whose scaled
descriptor row is nearest in Euclidean distance (first on ties).

Shapes: ``D = space.dim`` columns; [`Space.encode`][lowswitch.space.Space.encode] returns ``(D,)``,
[`Space.encode_many`][lowswitch.space.Space.encode_many] ``(n, D)``,
[`Space.bounds`][lowswitch.space.Space.bounds] is ``(2, D)`` (zeros, ones).

Example:
    >>> from lowswitch.space import Space, Float, Int, Categorical
    >>> space = Space({"lr": Float(1e-4, 1e-1, log=True), "depth": Int(2, 10),
    ...                "act": Categorical(["relu", "tanh"])})
    >>> space.dim
    4
    >>> x = space.encode({"lr": 1e-2, "depth": 6, "act": "tanh"})
    >>> [round(v, 4) for v in x.tolist()]
    [0.6667, 0.5, 0.0, 1.0]
    >>> space.decode(x)["depth"], space.decode(x)["act"]
    (6, 'tanh')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lowswitch.errors import InputError

_GRID = float(2**40)
ChoiceValue = str | int | float | bool | None


def _snap(u: float) -> float:
    """Snap a unit-interval coordinate to the ``2**-40`` grid (clipped to ``[0, 1]``)."""
    if not math.isfinite(u):
        raise InputError(f"x: expected finite coordinates, got {u!r}")
    return min(max(round(u * _GRID) / _GRID, 0.0), 1.0)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )



def _to_unit(v: float, low: float, high: float, log: bool) -> float:
    """Map ``v`` in ``[low, high]`` linearly (or in log scale) to ``[0, 1]``."""
    if high == low:
        return 0.0
    if log:
        return (math.log(v) - math.log(low)) / (math.log(high) - math.log(low))
    return (v - low) / (high - low)

@dataclass(frozen=True)
class Float:
    """A real parameter on ``[low, high]``, linear or log scale.

    Args:
        low: lower bound (``> 0`` when ``log``).
        high: upper bound, ``>= low``.
        log: search on the log scale.

    Example:
        >>> Float(0.0, 1.0).encode_value(0.25)
        [0.25]
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        for nm in ("low", "high"):
            v = getattr(self, nm)
            if not _is_real(v) or not math.isfinite(float(v)):
                raise InputError(f"Float.{nm}: expected a finite number, got {v!r}")
            object.__setattr__(self, nm, float(v))
        if self.high < self.low:
            raise InputError(f"Float: expected low <= high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise InputError(f"Float(log=True): expected low > 0, got low={self.low}")

    @property
    def n_columns(self) -> int:
        return 1

    def _fwd(self, v: float) -> float:
        return _to_unit(v, self.low, self.high, self.log)

    def _inv(self, u: float) -> float:
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high  # exactly, not exp(log(high)) one ulp off
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return min(max(v, self.low), self.high)

    def validate_value(self, name: str, value: Any) -> float:
        """Return ``value`` as a float, or raise ``InputError`` naming ``name``."""
        if not _is_real(value):
            raise InputError(f"{name}: expected a number in [{self.low}, {self.high}], "
                             f"got {value!r} ({type(value).__name__})")
        v = float(value)
        if not (self.low <= v <= self.high):  # also rejects NaN
            raise InputError(f"{name}: expected a value in [{self.low}, {self.high}], got {v!r}")
        return v

    def encode_value(self, value: Any) -> list[float]:
        """Encode one (already valid) value to its column(s)."""
        return [_snap(self._fwd(float(value)))]

    def decode_value(self, u: Sequence[float]) -> float:
        """Decode this parameter's column(s) to a value."""
        return self._inv(_snap(float(u[0])))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Int:
    """An integer parameter on ``{low, ..., high}``, linear or log scale.

    Args:
        low: smallest value (``>= 1`` when ``log``).
        high: largest value, ``>= low``.
        log: search on the log scale.

    Example:
        >>> Int(2, 10).decode_value([0.49])
        6
    """

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        for nm in ("low", "high"):
            v = getattr(self, nm)
            if not _is_real(v) or float(v) != int(v):
                raise InputError(f"Int.{nm}: expected an integer, got {v!r}")
            object.__setattr__(self, nm, int(v))
        if self.high < self.low:
            raise InputError(f"Int: expected low <= high, got low={self.low}, high={self.high}")
        if self.log and self.low < 1:
            raise InputError(f"Int(log=True): expected low >= 1, got low={self.low}")

    @property
    def n_columns(self) -> int:
        return 1

    def _fwd(self, v: float) -> float:
        return _to_unit(v, self.low, self.high, self.log)

    def validate_value(self, name: str, value: Any) -> int:
        """Return ``value`` as an int (integral floats accepted), or raise ``InputError``."""
        if not _is_real(value) or not math.isfinite(float(value)) or float(value) != int(value):
            raise InputError(f"{name}: expected an integer in [{self.low}, {self.high}], "
                             f"got {value!r} ({type(value).__name__})")
        v = int(value)
        if not (self.low <= v <= self.high):
            raise InputError(f"{name}: expected an integer in [{self.low}, {self.high}], got {v}")
        return v

    def encode_value(self, value: Any) -> list[float]:
        return [self._fwd(float(value))]

    def decode_value(self, u: Sequence[float]) -> int:
        w = min(max(float(u[0]), 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.low) + w * (math.log(self.high) - math.log(self.low)))
            # nearest integer on the log scale: compare the two neighbours in log space
            lo, hi = math.floor(v), math.ceil(v)
            lo, hi = max(lo, self.low), min(hi, self.high)
            t = math.log(v)
            r = lo if abs(math.log(lo) - t) <= abs(math.log(hi) - t) else hi
        else:
            r = round(self.low + w * (self.high - self.low))
        return int(min(max(r, self.low), self.high))

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log}


class Categorical:
    """A categorical parameter: one-hot columns, or numeric descriptor columns.

    Args:
        choices: distinct JSON-safe values (str, int, float, bool, None).
        descriptors: optional ``(k, p)`` numbers, one row per choice (e.g. physico-chemical
            descriptors of reagents); columns are min-max scaled to ``[0, 1]``. Rows must be
            distinct so that each choice has its own point.

    Example:
        >>> Categorical(["a", "b", "c"]).encode_value("b")
        [0.0, 1.0, 0.0]
        >>> Categorical(["a", "b"], descriptors=[[1.0], [3.0]]).encode_value("b")
        [1.0]
    """

    def __init__(
        self, choices: Sequence[ChoiceValue], descriptors: Any = None
    ) -> None:
        choices = list(choices)
        if not choices:
            raise InputError("Categorical.choices: expected at least one choice, got none")
        for c in choices:
            if c is not None and not isinstance(c, (str, int, float, bool)):
                raise InputError(f"Categorical.choices: expected str/int/float/bool/None, "
                                 f"got {c!r} ({type(c).__name__})")
        keys = [self._key(c) for c in choices]
        if len(set(keys)) != len(keys):
            raise InputError(f"Categorical.choices: expected distinct choices, got {choices!r}")
        self.choices: list[ChoiceValue] = choices
        self._index = {k: i for i, k in enumerate(keys)}
        self.descriptors: list[list[float]] | None = None
        self._rows: list[list[float]]
        if descriptors is None:
            k = len(choices)
            self._rows = [[1.0 if j == i else 0.0 for j in range(k)] for i in range(k)]
        else:
            d = np.asarray(descriptors, dtype=np.float64)
            if d.ndim != 2 or d.shape[0] != len(choices) or d.shape[1] < 1:
                raise InputError(f"Categorical.descriptors: expected shape ({len(choices)}, p), "
                                 f"got {tuple(d.shape)}")
            if not np.isfinite(d).all():
                raise InputError("Categorical.descriptors: expected finite numbers")
            lo, hi = d.min(axis=0), d.max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            scaled = (d - lo) / span
            rows = [[float(v) for v in r] for r in scaled]
            if len({tuple(r) for r in rows}) != len(rows):
                raise InputError("Categorical.descriptors: expected distinct rows, one per choice")
            self.descriptors = d.tolist()
            self._rows = rows

    @staticmethod
    def _key(value: Any) -> tuple[str, Any]:
        if isinstance(value, (bool, np.bool_)):
            return ("bool", bool(value))
        if _is_real(value):
            return ("num", float(value))
        if value is None:
            return ("none", None)
        return (type(value).__name__, value)

    @property
    def n_columns(self) -> int:
        return len(self._rows[0])

    def index(self, name: str, value: Any) -> int:
        """Position of ``value`` in ``choices``, or ``InputError`` naming ``name``."""
        try:
            return self._index[self._key(value)]
        except (KeyError, TypeError):
            raise InputError(f"{name}: expected one of {self.choices!r}, got {value!r}") from None

    def validate_value(self, name: str, value: Any) -> ChoiceValue:
        return self.choices[self.index(name, value)]

    def encode_value(self, value: Any) -> list[float]:
        return list(self._rows[self.index("value", value)])

    def decode_value(self, u: Sequence[float]) -> ChoiceValue:
        w = np.asarray([float(v) for v in u], dtype=np.float64)
        if self.descriptors is None:
            return self.choices[int(np.argmax(w))]
        dist = ((np.asarray(self._rows) - w) ** 2).sum(axis=1)
        return self.choices[int(np.argmin(dist))]

    def values(self) -> list[ChoiceValue]:
        return list(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices),
                "descriptors": self.descriptors}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Categorical) and self.to_dict() == other.to_dict())

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        extra = "" if self.descriptors is None else f", descriptors={self.descriptors!r}"
        return f"Categorical({self.choices!r}{extra})"


Param = Float | Int | Categorical


def param_from_dict(data: Mapping[str, Any]) -> Param:
    """Rebuild a parameter from [`to_dict`][lowswitch.space.Space.to_dict] output.

    Example:
        >>> param_from_dict({"type": "int", "low": 1, "high": 3, "log": False})
        Int(low=1, high=3, log=False)
    """
    kind = data.get("type")
    if kind == "float":
        return Float(data["low"], data["high"], log=bool(data.get("log", False)))
    if kind == "int":
        return Int(data["low"], data["high"], log=bool(data.get("log", False)))
    if kind == "categorical":
        return Categorical(data["choices"], descriptors=data.get("descriptors"))
    raise InputError(f"param: expected type float/int/categorical, got {kind!r}")


class Space:
    """An ordered set of named parameters with an exact encoding to ``[0, 1]^D``.

    See the module docstring for the encoding. Every method that takes a config validates it
    first ([`validate`][lowswitch.space.Space.validate]) and raises
    [`InputError`][lowswitch.errors.InputError] naming the offending parameter.

    Args:
        params: name -> [`Float`][lowswitch.space.Float] / [`Int`][lowswitch.space.Int] /
            [`Categorical`][lowswitch.space.Categorical], in column order.

    Example:
        >>> space = Space({"x": Float(-1.0, 1.0), "k": Int(1, 3)})
        >>> space.canonical({"x": 0.5, "k": 2.0})
        {'x': 0.5, 'k': 2}
        >>> space.bounds.tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """

    def __init__(self, params: Mapping[str, Param]) -> None:
        if not isinstance(params, Mapping) or not params:
            raise InputError(f"params: expected a non-empty dict of name -> parameter, "
                             f"got {params!r}")
        self.params: dict[str, Param] = {}
        for name, p in params.items():
            if not isinstance(name, str) or not name:
                raise InputError(f"params: expected non-empty string names, got {name!r}")
            if not isinstance(p, (Float, Int, Categorical)):
                raise InputError(f"params[{name!r}]: expected Float, Int or Categorical, "
                                 f"got {type(p).__name__}")
            self.params[name] = p
        self._slices: dict[str, slice] = {}
        start = 0
        for name, p in self.params.items():
            self._slices[name] = slice(start, start + p.n_columns)
            start += p.n_columns
        self.dim: int = start

    # ----------------------------------------------------------------- structure
    @property
    def names(self) -> list[str]:
        """Parameter names in column order."""
        return list(self.params)

    @property
    def bounds(self) -> torch.Tensor:
        """``(2, D)`` float64 box of the encoding: row 0 zeros, row 1 ones."""
        return torch.stack([torch.zeros(self.dim, dtype=torch.float64),
                            torch.ones(self.dim, dtype=torch.float64)])

    def columns(self, name: str) -> slice:
        """The slice of encoded columns that belongs to parameter ``name``."""
        return self._slices[name]

    @property
    def is_discrete(self) -> bool:
        """True when no parameter is a ``Float`` (the space can be enumerated)."""
        return all(not isinstance(p, Float) for p in self.params.values())

    @property
    def size(self) -> float:
        """Number of distinct configs (``inf`` when a ``Float`` is present)."""
        if not self.is_discrete:
            return math.inf
        counts = [len(p.values()) for p in self.params.values()]  # type: ignore[union-attr]
        return float(math.prod(counts))

    # ----------------------------------------------------------------- configs
    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Check names, types and ranges; return the config with normalised Python types.

        Raises:
            InputError: unknown or missing names, wrong types, values outside the space.
        """
        if not isinstance(config, Mapping):
            raise InputError(f"config: expected a dict, got {type(config).__name__}")
        unknown = [k for k in config if k not in self.params]
        if unknown:
            raise InputError(f"config: unknown parameter(s) {unknown!r}; "
                             f"expected names {self.names!r}")
        missing = [k for k in self.params if k not in config]
        if missing:
            raise InputError(f"config: missing parameter(s) {missing!r}")
        return {name: p.validate_value(name, config[name]) for name, p in self.params.items()}

    def encode(self, config: Mapping[str, Any]) -> torch.Tensor:
        """Encode a config to its ``(D,)`` float64 point of ``[0, 1]^D``."""
        cfg = self.validate(config)
        row: list[float] = []
        for name, p in self.params.items():
            row.extend(p.encode_value(cfg[name]))
        return torch.tensor(row, dtype=torch.float64)

    def encode_many(self, configs: Iterable[Mapping[str, Any]]) -> torch.Tensor:
        """Encode several configs to an ``(n, D)`` float64 tensor."""
        rows = [self.encode(c) for c in configs]
        if not rows:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return torch.stack(rows)

    def decode(self, x: Any) -> dict[str, Any]:
        """Decode a ``(D,)`` point (any point of the box; clipped) to a canonical config."""
        t = torch.as_tensor(x, dtype=torch.float64).detach().cpu()
        if t.shape != (self.dim,):
            raise InputError(f"x: expected shape ({self.dim},), got {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"x: expected finite coordinates, got {t.tolist()}")
        vals = t.tolist()
        return {name: p.decode_value(vals[self._slices[name]])
                for name, p in self.params.items()}

    def canonical(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The unique representative of ``config``: ``decode(encode(config))``.

        Idempotent; ``encode(canonical(c))`` equals ``encode(c)`` bit for bit.
        """
        return self.decode(self.encode(config))

    def key(self, config: Mapping[str, Any]) -> tuple[float, ...]:
        """A hashable key (the encoded row) under which repeats of a config merge."""
        return tuple(self.encode(config).tolist())

    def enumerate(self, limit: int = 1_000_000) -> list[dict[str, Any]]:
        """All configs of a fully discrete space, in lexicographic column order.

        Raises:
            InputError: a [`Float`][lowswitch.space.Float] is present, or more than ``limit``
                configs.
        """
        if not self.is_discrete:
            floats = [n for n, p in self.params.items() if isinstance(p, Float)]
            raise InputError(f"enumerate: the space has continuous parameter(s) {floats!r}")
        if self.size > limit:
            raise InputError(f"enumerate: the space has {int(self.size)} configs, "
                             f"more than limit={limit}")
        values = [p.values() for p in self.params.values()]  # type: ignore[union-attr]
        return [dict(zip(self.names, combo, strict=True))
                for combo in itertools.product(*values)]

    def sample(self, n: int, generator: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` canonical configs drawn uniformly on the encoded (log-)scales.

        Example:
            >>> import numpy as np
            >>> s = Space({"x": Float(0.0, 1.0)})
            >>> len(s.sample(3, np.random.default_rng(0)))
            3
        """
        out: list[dict[str, Any]] = []
        for _ in range(int(n)):
            cfg: dict[str, Any] = {}
            for name, p in self.params.items():
                if isinstance(p, Categorical):
                    cfg[name] = p.choices[int(generator.integers(len(p.choices)))]
                elif isinstance(p, Int) and not p.log:
                    cfg[name] = int(generator.integers(p.low, p.high + 1))
                else:
                    cfg[name] = p.decode_value([float(generator.random())])
            out.append(cfg)
        return out

    # ----------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description; ``from_dict`` rebuilds an equal space."""
        return {name: p.to_dict() for name, p in self.params.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Space:
        """Rebuild a space from [`to_dict`][lowswitch.space.Space.to_dict] output."""
        return cls({name: param_from_dict(d) for name, d in data.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {p!r}" for n, p in self.params.items())
        return f"Space({{{inner}}})"


__all__ = ["Categorical", "Float", "Int", "Param", "Space", "param_from_dict"]
