"""Vectorised Beta-Bernoulli arms with the discounted streaming update (MoPPS).

Arm ``i`` has an unknown success probability ``gamma_i`` with posterior
``Beta(alpha_i, beta_i)`` and prior ``Beta(a0_i, b0_i)``. After ``k_i`` rollouts with
``s_i`` successes (or ``s_i`` = sum of fractional rewards in ``[0, 1]``), with forgetting
factor ``lambda`` in ``(0, 1]``::

    alpha_i <- lambda * alpha_i + (1 - lambda) * a0_i + s_i
    beta_i  <- lambda * beta_i  + (1 - lambda) * b0_i + (k_i - s_i)

``lambda = 1`` is plain conjugate counting. Arms that were not rolled out keep their
posterior. The same formula holds for ``k_i = 1`` (no special case).

Shapes: ``m`` arms; ``alpha``, ``beta`` are ``(m,)``; feedback for ``n`` arms is
``index (n,)``, ``successes (n,)``, ``trials (n,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from lowswitch.bandit.rng import Generator, beta_variates
from lowswitch.errors import InputError

__all__ = ["BetaArms", "check_feedback", "discounted_update"]

Prior = float | torch.Tensor
ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


def discounted_update(
    alpha: ArrayT,
    beta: ArrayT,
    successes: ArrayT,
    trials: ArrayT,
    decay: float,
    prior_alpha: float | ArrayT = 1.0,
    prior_beta: float | ArrayT = 1.0,
) -> tuple[ArrayT, ArrayT]:
    """One discounted Beta-Bernoulli update, elementwise (pure function).

    Works on torch tensors and numpy arrays alike (only ``*`` and ``+``).

    ``alpha' = decay * alpha + (1 - decay) * prior_alpha + successes`` and
    ``beta' = decay * beta + (1 - decay) * prior_beta + (trials - successes)``.

    Args:
        alpha: ``(n,)`` current first parameters.
        beta: ``(n,)`` current second parameters.
        successes: ``(n,)`` successes (sum of rewards in [0, 1]) per arm.
        trials: ``(n,)`` rollouts per arm.
        decay: forgetting factor ``lambda`` in ``(0, 1]``.
        prior_alpha: scalar or ``(n,)`` prior first parameters (the decay target).
        prior_beta: scalar or ``(n,)`` prior second parameters.

    Returns:
        ``(alpha', beta')``, each ``(n,)``.

    Example:
        >>> a, b = discounted_update(torch.tensor([1.0]), torch.tensor([1.0]),
        ...                          torch.tensor([3.0]), torch.tensor([4.0]), 1.0)
        >>> a.item(), b.item()
        (4.0, 2.0)
    """
    new_alpha = decay * alpha + (1.0 - decay) * prior_alpha + successes
    new_beta = decay * beta + (1.0 - decay) * prior_beta + (trials - successes)
    return new_alpha, new_beta


def _np_1d(name: str, value: Any) -> np.ndarray:
    """``value`` as a 1-D numpy array (zero-copy for CPU tensors / arrays)."""
    try:
        tensor = isinstance(value, torch.Tensor)
        arr = value.detach().cpu().numpy() if tensor else np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"{name}: expected a 1-D tensor or sequence, got {value!r}") from err
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a 1-D tensor, got shape {tuple(arr.shape)}")
    return arr


def _np_float(name: str, value: Any) -> np.ndarray:
    arr = _np_1d(name, value)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_index(index: Any, n_arms: int, name: str = "index") -> torch.Tensor:
    """Validate arm indices and return them as a 1-D int64 CPU tensor.

    Args:
        index: ``(n,)`` integer indices (tensor, array or sequence).
        n_arms: number of arms ``m``; valid indices are ``0 .. m-1``.
        name: argument name for error messages.

    Returns:
        ``(n,)`` int64 tensor on the CPU.

    Raises:
        InputError: non-integer dtype, wrong shape, or an index out of range.

    Example:
        >>> check_index([2, 0], 3).tolist()
        [2, 0]
    """
    arr = _np_1d(name, index)
    if arr.size == 0:
        return torch.empty(0, dtype=torch.int64)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{name}: expected integer indices, got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_arms:
        raise InputError(f"{name}: expected indices in [0, {n_arms}), got {lo if lo < 0 else hi}")
    return torch.from_numpy(arr.astype(np.int64, copy=False))


def check_feedback(
    index: Any, successes: Any, trials: Any, n_arms: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate rollout feedback at the public boundary.

    Args:
        index: ``(n,)`` arm indices in ``[0, n_arms)``.
        successes: ``(n,)`` successes per arm (sum of rewards in [0, 1]; may be fractional).
        trials: ``(n,)`` rollouts per arm (> 0), or a scalar used for every arm.

    Returns:
        ``(index int64, successes float64, trials float64)``, each ``(n,)`` on the CPU.

    Raises:
        InputError: wrong lengths, NaN / inf, negative successes, non-positive trials,
            or successes > trials.

    Example:
        >>> i, s, k = check_feedback([0, 2], [1, 0.5], 4, n_arms=3)
        >>> k.tolist()
        [4.0, 4.0]
    """
    idx = check_index(index, n_arms)
    n = idx.numel()
    s = _np_float("successes", successes)
    k = _np_float("trials", trials)
    if np.ndim(trials) == 0:  # one rollout count for every arm
        k = np.full(n, k[0])
    if s.size != n or k.size != n:
        raise InputError(
            f"successes, trials: expected length {n} (len(index)), got {s.size} and {k.size}"
        )
    if not (np.isfinite(s).all() and np.isfinite(k).all()):
        raise InputError("successes, trials: expected finite values, got NaN or inf")
    if n and s.min() < 0:
        raise InputError(f"successes: expected >= 0 (rewards in [0, 1]), got {s.min()}")
    if n and k.min() <= 0:
        raise InputError(f"trials: expected > 0 rollouts per arm, got {k.min()}")
    over = s > k
    if over.any():
        j = int(np.flatnonzero(over)[0])
        raise InputError(
            f"successes: expected <= trials (rewards in [0, 1]), got successes={s[j]} "
            f"> trials={k[j]} for index {int(idx[j])}"
        )
    return idx, torch.from_numpy(s), torch.from_numpy(k)


def _occurrence_rank(idx: np.ndarray) -> np.ndarray:
    """``(n,)`` rank of each element among equal indices, in order of appearance."""
    n = idx.size
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    pos = np.arange(n)
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = sorted_idx[1:] != sorted_idx[:-1]
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = pos - run_start
    return rank


def _as_1d(name: str, value: Any) -> torch.Tensor:
    try:
        t = torch.as_tensor(value) if not isinstance(value, torch.Tensor) else value
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"{name}: expected a 1-D tensor or sequence, got {value!r}") from err
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() != 1:
        raise InputError(f"{name}: expected a 1-D tensor, got shape {tuple(t.shape)}")
    return t


def _check_params(name: str, value: Any, n: int | None = None) -> torch.Tensor:
    t = _as_1d(name, value)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if n is not None and t.numel() != n:
        raise InputError(f"{name}: expected length {n}, got {t.numel()}")
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise InputError(f"{name}: expected finite values > 0")
    return t


def _check_decay(decay: float) -> float:
    d = float(decay)
    if not (0.0 < d <= 1.0) or math.isnan(d):
        raise InputError(f"decay: expected a forgetting factor in (0, 1], got {decay}")
    return d


class BetaArms:
    """``m`` Beta-Bernoulli arms with in-place vectorised discounted updates.

    Holds ``alpha`` and ``beta`` (``(m,)``, float64 by default: 16 bytes per arm) and a
    prior that is either a scalar pair or per-arm ``(m,)`` tensors (another 16 bytes per
    arm). Implements the [`lowswitch.bandit.Arms`][lowswitch.bandit.Arms] protocol.

    The state lives on the CPU: it is small (16 MB for a million prompts), Beta draws use
    numpy's generator, and updates run on numpy views of the tensors, which stay
    single-threaded (torch's OpenMP kernels slow down badly on oversubscribed hosts).

    Args:
        alpha: ``(m,)`` positive first parameters.
        beta: ``(m,)`` positive second parameters.
        prior_alpha: scalar or ``(m,)`` prior / decay target ``a0``.
        prior_beta: scalar or ``(m,)`` prior / decay target ``b0``.
        decay: forgetting factor ``lambda`` in ``(0, 1]``.

    Example:
        >>> arms = BetaArms.uniform(3)
        >>> arms.update([0, 2], [3, 0], [4, 4])
        >>> arms.alpha.tolist(), arms.beta.tolist()
        ([4.0, 1.0, 1.0], [2.0, 1.0, 5.0])
    """

    def __init__(
        self,
        alpha: torch.Tensor,
        beta: torch.Tensor,
        prior_alpha: Prior = 1.0,
        prior_beta: Prior = 1.0,
        decay: float = 1.0,
    ) -> None:
        a = _check_params("alpha", alpha)
        b = _check_params("beta", beta, a.numel())
        if b.dtype != a.dtype:
            raise InputError(f"beta: expected dtype {a.dtype} like alpha, got {b.dtype}")
        if a.device.type != "cpu" or b.device.type != "cpu":
            raise InputError(f"alpha, beta: expected CPU tensors, got device {a.device}")
        self.alpha: torch.Tensor = a
        self.beta: torch.Tensor = b
        self.prior_alpha: Prior = self._check_prior("prior_alpha", prior_alpha)
        self.prior_beta: Prior = self._check_prior("prior_beta", prior_beta)
        self.decay: float = _check_decay(decay)

    def _check_prior(self, name: str, value: Prior | Sequence[float]) -> Prior:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            v = float(value)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{name}: expected a finite value > 0, got {value}")
            return v
        return _check_params(name, value, self.n_arms).to(self.alpha.dtype)

    @classmethod
    def uniform(
        cls,
        n_arms: int,
        prior: tuple[float, float] = (1.0, 1.0),
        decay: float = 1.0,
        dtype: torch.dtype = torch.float64,
    ) -> BetaArms:
        """``n_arms`` arms all at the prior ``Beta(prior[0], prior[1])``.

        Example:
            >>> BetaArms.uniform(2, prior=(2.0, 3.0)).mean.tolist()
            [0.4, 0.4]
        """
        if isinstance(n_arms, bool) or not isinstance(n_arms, (int, np.integer)) or n_arms < 0:
            raise InputError(f"n_arms: expected an int >= 0, got {n_arms!r}")
        a0, b0 = float(prior[0]), float(prior[1])
        return cls(
            torch.full((int(n_arms),), a0, dtype=dtype),
            torch.full((int(n_arms),), b0, dtype=dtype),
            a0,
            b0,
            decay,
        )

    @property
    def n_arms(self) -> int:
        """Number of arms ``m``."""
        return int(self.alpha.numel())

    @property
    def mean(self) -> torch.Tensor:
        """``(m,)`` posterior mean ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> torch.Tensor:
        """``(m,)`` posterior variance ``ab / ((a + b)^2 (a + b + 1))``."""
        s = self.alpha + self.beta
        return self.alpha * self.beta / (s * s * (s + 1.0))

    @property
    def nbytes(self) -> int:
        """Bytes held by the posterior state (alpha, beta and any per-arm prior)."""
        total = self.alpha.element_size() * self.alpha.numel()
        total += self.beta.element_size() * self.beta.numel()
        for p in (self.prior_alpha, self.prior_beta):
            if isinstance(p, torch.Tensor):
                total += p.element_size() * p.numel()
        return total

    def prior_at(self, index: torch.Tensor) -> tuple[Prior, Prior]:
        """Prior parameters ``(a0, b0)`` of the arms at ``index`` (scalars if shared)."""
        pa, pb = self.prior_alpha, self.prior_beta
        a0 = pa[index] if isinstance(pa, torch.Tensor) else pa
        b0 = pb[index] if isinstance(pb, torch.Tensor) else pb
        return a0, b0

    def sample(
        self, generator: Generator, n_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Thompson draws ``gamma_i ~ Beta(alpha_i, beta_i)``.

        Args:
            generator: numpy generator (fast path) or torch generator.
            n_samples: number of joint draws.
            index: optional ``(c,)`` arm indices to sample (default: all arms).

        Returns:
            ``(n_samples, m)`` (or ``(n_samples, c)``) float64 draws.

        Example:
            >>> from lowswitch.bandit import numpy_generator
            >>> BetaArms.uniform(5).sample(numpy_generator(0), 3).shape
            torch.Size([3, 5])
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise InputError(f"n_samples: expected an int >= 1, got {n_samples!r}")
        a, b = self.alpha, self.beta
        if index is not None:
            idx = check_index(index, self.n_arms).numpy()
            a = torch.from_numpy(a.numpy()[idx])
            b = torch.from_numpy(b.numpy()[idx])
        if n_samples == 1:
            return beta_variates(generator, a, b).unsqueeze(0)
        shape = (n_samples, a.numel())
        return beta_variates(generator, a.expand(shape), b.expand(shape))

    def update(self, index: Any, successes: Any, trials: Any) -> None:
        """Apply the discounted update to the arms at ``index`` (in place).

        Repeated indices are applied one after the other in order of appearance (with
        ``decay = 1`` this is the same as summing their counts). On bad input nothing
        changes.

        Args:
            index: ``(n,)`` arm indices.
            successes: ``(n,)`` successes or summed rewards in ``[0, trials]``.
            trials: ``(n,)`` rollouts (> 0), or one scalar for all.

        Raises:
            InputError: see [`check_feedback`][lowswitch.bandit.beta.check_feedback].

        Example:
            >>> arms = BetaArms.uniform(2, decay=0.5)
            >>> arms.update([1], [2.0], [2])
            >>> arms.alpha.tolist(), arms.beta.tolist()
            ([1.0, 3.0], [1.0, 1.0])
        """
        idx, s, k = check_feedback(index, successes, trials, self.n_arms)
        self._apply(idx, s, k)

    def _apply(self, idx: torch.Tensor, s: torch.Tensor, k: torch.Tensor) -> None:
        """Update from already-validated feedback (CPU int64 index, float64 s and k).

        Works on numpy views of the state tensors (single-threaded, in place).
        """
        if idx.numel() == 0:
            return
        i_all, s_all, k_all = idx.numpy(), s.numpy(), k.numpy()
        A, B = self.alpha.numpy(), self.beta.numpy()
        pa, pb = self.prior_alpha, self.prior_beta
        PA = pa.numpy() if isinstance(pa, torch.Tensor) else None
        PB = pb.numpy() if isinstance(pb, torch.Tensor) else None
        rank = _occurrence_rank(i_all) if i_all.size > 1 else np.zeros(1, dtype=np.int64)
        n_rounds = int(rank.max()) + 1
        for r in range(n_rounds):  # one round unless an index repeats
            m = slice(None) if n_rounds == 1 else (rank == r)
            i = i_all[m]
            a0 = PA[i] if PA is not None else pa
            b0 = PB[i] if PB is not None else pb
            new_a, new_b = discounted_update(A[i], B[i], s_all[m], k_all[m], self.decay, a0, b0)
            A[i] = new_a
            B[i] = new_b

    def set_prior(
        self, index: Any, prior_alpha: Any, prior_beta: Any, reset: bool = True
    ) -> None:
        """Give the arms at ``index`` their own prior (and decay target).

        Converts a shared scalar prior into per-arm ``(m,)`` tensors the first time.

        Args:
            index: ``(n,)`` arm indices.
            prior_alpha: ``(n,)`` positive values ``a0_i``.
            prior_beta: ``(n,)`` positive values ``b0_i``.
            reset: also set ``alpha_i, beta_i`` to the new prior.

        Example:
            >>> arms = BetaArms.uniform(3)
            >>> arms.set_prior([1], [4.0], [2.0])
            >>> arms.alpha.tolist()
            [1.0, 4.0, 1.0]
        """
        idx = check_index(index, self.n_arms)
        a0 = _check_params("prior_alpha", prior_alpha, idx.numel()).to(self.alpha.dtype)
        b0 = _check_params("prior_beta", prior_beta, idx.numel()).to(self.alpha.dtype)
        pa, pb = self.prior_alpha, self.prior_beta
        if not isinstance(pa, torch.Tensor):
            pa = torch.full_like(self.alpha, pa)
        if not isinstance(pb, torch.Tensor):
            pb = torch.full_like(self.beta, pb)
        pa[idx] = a0.to(pa.device)
        pb[idx] = b0.to(pb.device)
        self.prior_alpha, self.prior_beta = pa, pb
        if reset:
            self.alpha[idx] = a0.to(self.alpha.device)
            self.beta[idx] = b0.to(self.beta.device)

    def grow(self, n_new: int, prior: tuple[float, float] | None = None) -> None:
        """Append ``n_new`` arms at the prior.

        Args:
            n_new: number of arms to add (>= 0).
            prior: ``(a0, b0)`` of the new arms; default: the shared prior, or ``(1, 1)``
                when priors are per arm.

        Example:
            >>> arms = BetaArms.uniform(2)
            >>> arms.grow(3)
            >>> arms.n_arms
            5
        """
        if isinstance(n_new, bool) or not isinstance(n_new, (int, np.integer)) or n_new < 0:
            raise InputError(f"n_new: expected an int >= 0, got {n_new!r}")
        if prior is None:
            a0 = self.prior_alpha if isinstance(self.prior_alpha, float) else 1.0
            b0 = self.prior_beta if isinstance(self.prior_beta, float) else 1.0
        else:
            a0, b0 = float(prior[0]), float(prior[1])
            if not (math.isfinite(a0) and math.isfinite(b0) and a0 > 0 and b0 > 0):
                raise InputError(f"prior: expected two finite values > 0, got {prior}")
        n_new = int(n_new)
        new_a = torch.full((n_new,), a0, dtype=self.alpha.dtype, device=self.alpha.device)
        new_b = torch.full((n_new,), b0, dtype=self.beta.dtype, device=self.beta.device)
        pa, pb = self.prior_alpha, self.prior_beta
        shared = isinstance(pa, float) and isinstance(pb, float) and (pa, pb) == (a0, b0)
        if not shared:  # priors become (or stay) per arm
            pa_t = pa if isinstance(pa, torch.Tensor) else torch.full_like(self.alpha, pa)
            pb_t = pb if isinstance(pb, torch.Tensor) else torch.full_like(self.beta, pb)
            self.prior_alpha = torch.cat([pa_t, new_a])
            self.prior_beta = torch.cat([pb_t, new_b])
        self.alpha = torch.cat([self.alpha, new_a])
        self.beta = torch.cat([self.beta, new_b])
