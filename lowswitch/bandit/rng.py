"""Random-number handling for the Thompson-sampling core, in one place.

Library code never touches a global RNG: every random draw takes an explicit
generator, either a ``torch.Generator`` or a ``numpy.random.Generator``.
This module builds them from integer seeds, draws the two variates the core needs
(standard normals and Beta variates) from either kind, and saves / restores generator
state as JSON-safe plain data, so that a resumed run reproduces the same stream
bit for bit.

Why two kinds: ``torch.distributions.Beta.sample`` takes no generator, and the
torch Gamma kernel that accepts one is private API and 2-4x slower on CPU than numpy's
Gamma sampler (measured at 1e6 arms, see ``docs/benchmarks/mopps.md``). Beta arms
therefore default to a numpy generator; Gaussian arms default to a torch generator
(draws land on the tensor's device).

State formats (all JSON-safe):

* torch: ``{"kind": "torch", "device": "cpu", "state": [int, ...]}`` (the bytes of
  ``torch.Generator.get_state``).
* numpy: ``{"kind": "numpy", "state": bit_generator.state}`` (a dict of str/int).
"""

from __future__ import annotations

import secrets
from typing import Any, TypeAlias

import numpy as np
import torch

from lowswitch.errors import InputError

Generator: TypeAlias = torch.Generator | np.random.Generator
"""Either kind of explicit random generator accepted by [`lowswitch.bandit`][lowswitch.bandit]."""

__all__ = [
    "Generator",
    "beta_variates",
    "generator_from_state",
    "get_state",
    "numpy_generator",
    "set_state",
    "standard_normal",
    "torch_generator",
]


def _check_seed(seed: int | None) -> int:
    if seed is None:
        # Fresh OS entropy, 63 bits so that it also suits torch.manual_seed.
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed: expected an int or None, got {type(seed).__name__}")
    if seed < 0:
        raise InputError(f"seed: expected a non-negative int, got {seed}")
    return int(seed)


def numpy_generator(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return a numpy ``Generator`` (PCG64) built from ``seed``.

    Args:
        seed: a non-negative int, ``None`` for fresh OS entropy, or an existing
            generator (returned as is).

    Returns:
        A ``numpy.random.Generator``.

    Example:
        >>> a = numpy_generator(3).random(2)
        >>> b = numpy_generator(3).random(2)
        >>> bool((a == b).all())
        True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(_check_seed(seed)))


def torch_generator(
    seed: int | torch.Generator | None = 0, device: str | torch.device = "cpu"
) -> torch.Generator:
    """Return a ``torch.Generator`` on ``device`` seeded with ``seed``.

    Args:
        seed: a non-negative int, ``None`` for fresh OS entropy, or an existing
            generator (returned as is).
        device: device of the generator (draws made with it land there).

    Returns:
        A seeded ``torch.Generator``.

    Example:
        >>> g = torch_generator(5)
        >>> torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch_generator(5)))
        True
    """
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=device)
    gen.manual_seed(_check_seed(seed))
    return gen


def get_state(generator: Generator) -> dict[str, Any]:
    """Return the state of ``generator`` as JSON-safe plain data.

    Args:
        generator: a torch or numpy generator.

    Returns:
        A dict of str / int / list values; see the module docstring for the layout.

    Example:
        >>> import json
        >>> g = numpy_generator(0)
        >>> s = json.loads(json.dumps(get_state(g)))
        >>> x = g.random()
        >>> set_state(g, s)
        >>> g.random() == x
        True
    """
    if isinstance(generator, torch.Generator):
        raw = generator.get_state()
        return {
            "kind": "torch",
            "device": str(generator.device),
            "state": [int(v) for v in raw.tolist()],
        }
    if isinstance(generator, np.random.Generator):
        return {"kind": "numpy", "state": _plain(generator.bit_generator.state)}
    raise InputError(
        "generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def _plain(value: Any) -> Any:
    """Recursively convert numpy scalars / arrays inside a state dict to builtins."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def set_state(generator: Generator, state: dict[str, Any]) -> None:
    """Restore ``generator`` from a dict made by [`get_state`][lowswitch.bandit.rng.get_state] (in
    place).

    Args:
        generator: a generator of the same kind as the saved one.
        state: the saved state.

    Raises:
        InputError: if the kinds do not match or the state is malformed; the
            generator is then left unchanged.

    Example:
        >>> g = torch_generator(1)
        >>> s = get_state(g)
        >>> a = torch.rand(2, generator=g)
        >>> set_state(g, s)
        >>> torch.equal(a, torch.rand(2, generator=g))
        True
    """
    if not isinstance(state, dict) or "kind" not in state or "state" not in state:
        raise InputError("state: expected a dict with keys 'kind' and 'state' from get_state()")
    kind = state["kind"]
    if isinstance(generator, torch.Generator):
        if kind != "torch":
            raise InputError(f"state: expected kind 'torch' for a torch.Generator, got {kind!r}")
        try:
            raw = torch.tensor(list(state["state"]), dtype=torch.uint8)
            generator.set_state(raw)
        except (TypeError, ValueError, RuntimeError, OverflowError) as err:
            raise InputError(f"state: not a valid torch generator state ({err})") from err
        return
    if isinstance(generator, np.random.Generator):
        if kind != "numpy":
            raise InputError(f"state: expected kind 'numpy' for a numpy Generator, got {kind!r}")
        inner = state["state"]
        name = type(generator.bit_generator).__name__
        if not isinstance(inner, dict) or inner.get("bit_generator") != name:
            raise InputError(
                f"state: expected a {name} bit-generator state, got "
                f"{inner.get('bit_generator') if isinstance(inner, dict) else type(inner).__name__}"
            )
        try:
            generator.bit_generator.state = inner
        except (TypeError, ValueError, KeyError) as err:
            raise InputError(f"state: not a valid numpy generator state ({err})") from err
        return
    raise InputError(
        "generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def generator_from_state(state: dict[str, Any]) -> Generator:
    """Build a new generator of the saved kind and restore ``state`` into it.

    Args:
        state: a dict from [`get_state`][lowswitch.bandit.rng.get_state].

    Returns:
        A torch or numpy generator positioned exactly where the saved one was.

    Example:
        >>> g = numpy_generator(9)
        >>> h = generator_from_state(get_state(g))
        >>> g.random() == h.random()
        True
    """
    if not isinstance(state, dict):
        raise InputError(f"state: expected a dict from get_state(), got {type(state).__name__}")
    kind = state.get("kind")
    gen: Generator
    if kind == "torch":
        gen = torch.Generator(device=str(state.get("device", "cpu")))
    elif kind == "numpy":
        inner = state.get("state")
        name = inner.get("bit_generator") if isinstance(inner, dict) else None
        bit_cls = getattr(np.random, str(name), None)
        if bit_cls is None or not isinstance(bit_cls, type):
            raise InputError(f"state: unknown numpy bit generator {name!r}")
        gen = np.random.Generator(bit_cls())
    else:
        raise InputError(f"state: expected kind 'torch' or 'numpy', got {kind!r}")
    set_state(gen, state)
    return gen


def standard_normal(
    generator: Generator,
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Draw i.i.d. N(0, 1) variates of ``shape`` with an explicit generator.

    Args:
        generator: torch generator (drawn on its own device, then moved) or numpy generator.
        shape: output shape.
        dtype: output dtype.
        device: output device.

    Returns:
        Tensor of ``shape``.

    Example:
        >>> standard_normal(torch_generator(0), (2, 3)).shape
        torch.Size([2, 3])
    """
    if isinstance(generator, torch.Generator):
        z = torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)
        return z.to(device)
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.standard_normal(shape)).to(dtype=dtype, device=device)
    raise InputError(
        "generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def _numpy_gamma_ratio(
    generator: np.random.Generator, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """``X / (X + Y)`` with ``X ~ Gamma(a)``, ``Y ~ Gamma(b)``; both-underflow -> ``beta``."""
    x = generator.standard_gamma(a)
    y = generator.standard_gamma(b)
    y += x
    bad = y == 0.0
    x /= np.where(bad, 1.0, y)
    if bad.any():
        x[bad] = generator.beta(np.broadcast_to(a, x.shape)[bad], np.broadcast_to(b, x.shape)[bad])
    return np.asarray(x, dtype=np.float64)


def beta_variates(generator: Generator, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Draw one ``Beta(alpha_i, beta_i)`` variate per element with an explicit generator.

    Both kinds of generator use the Gamma-ratio construction
    ``X / (X + Y)``, ``X ~ Gamma(alpha)``, ``Y ~ Gamma(beta)``, which is an exact Beta
    draw. With a numpy generator the Gammas come from
    ``numpy.random.Generator.standard_gamma`` on float64 views of the inputs
    (zero-copy for float64 CPU tensors); this is ~4x faster than
    ``numpy.random.Generator.beta`` at the uniform prior ``alpha = beta = 1`` (which
    numpy handles by rejection) and as fast elsewhere. Arms at exactly ``alpha = beta = 1``
    (never rolled out, uniform prior: most of a large pool) are drawn as
    ``Uniform(0, 1)``, which is the same law and ~10x cheaper. In the rare case where both
    Gammas underflow to 0 (shape parameters far below 1), that element is redrawn with
    ``Generator.beta``. With a torch generator, torch's generator-aware Gamma kernel
    is used (slower on CPU, but draws stay on the tensors' device); a double underflow
    there becomes a ``Bernoulli(alpha / (alpha + beta))`` draw, the limit of the Beta
    law as both shapes go to 0. torch's Gamma kernel clamps very small draws to the
    smallest normal float, which biases the torch path for shape parameters below about
    0.01; use a numpy generator there.

    Args:
        alpha: ``(...)`` positive first shape parameters.
        beta: ``(...)`` positive second shape parameters, same shape as ``alpha``.
        generator: the random source.

    Returns:
        ``(...)`` float64 tensor on the inputs' device.

    Example:
        >>> a = torch.tensor([1.0, 10.0], dtype=torch.float64)
        >>> x = beta_variates(numpy_generator(0), a, a)
        >>> bool(((x > 0) & (x < 1)).all())
        True
    """
    if isinstance(generator, np.random.Generator):
        a = alpha.detach().to(device="cpu", dtype=torch.float64).numpy()
        b = beta.detach().to(device="cpu", dtype=torch.float64).numpy()
        flat = (a == 1.0) & (b == 1.0)  # Beta(1, 1) is exactly Uniform(0, 1)
        n_flat = int(np.count_nonzero(flat))
        if n_flat == 0:
            out = _numpy_gamma_ratio(generator, a, b)
        elif n_flat == flat.size:
            out = generator.random(flat.shape)
        else:
            out = np.empty(flat.shape)
            out[flat] = generator.random(n_flat)
            rest = ~flat
            out[rest] = _numpy_gamma_ratio(generator, a[rest], b[rest])
        return torch.from_numpy(out).to(alpha.device)
    if isinstance(generator, torch.Generator):
        a64 = alpha.detach().to(torch.float64)
        b64 = beta.detach().to(torch.float64)
        gx = torch._standard_gamma(a64, generator=generator)
        gy = torch._standard_gamma(b64, generator=generator)
        total = gx + gy
        ratio = gx / total
        both_zero = total == 0.0  # both Gammas underflowed: mass sits at 0 or 1
        if bool(both_zero.any()):
            coin = torch.bernoulli(a64 / (a64 + b64), generator=generator)
            ratio = torch.where(both_zero, coin, ratio)
        return ratio
    raise InputError(
        "generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )
