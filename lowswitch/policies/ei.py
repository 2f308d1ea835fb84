"""Low-switch GP-EI: ``x_h = argmax`` of an expected-improvement rule, then ``B_h`` repeats.

Three rules (``ei_variant``), all on the unique-point posterior and all maximising:

* ``"plain"`` (default): BoTorch ``LogExpectedImprovement`` with the best posterior mean
  over the evaluated points as incumbent.
* ``"augmented"``: augmented EI for noisy observations (Huang et al., 2006),
  in log space. The incumbent is the posterior mean at the evaluated point with the best
  lower bound ``mu - sigma`` (a lucky, rarely-evaluated point does not set the bar), and
  EI is multiplied by ``1 - sigma_n / sqrt(sigma^2(x) + sigma_n^2)``: the fraction of the
  predictive standard deviation that the latent uncertainty accounts for. At a point whose
  latent variance is already far below the noise (one evaluated many times) the factor is
  about ``sigma^2 / (2 sigma_n^2)``, so EI no longer asks to repeat a well-known point,
  however high its mean; with no noise the factor is 1 and the rule is plain EI.
  Derivation and assumptions: ``docs/maths/ei.md``.
* ``"noisy"``: BoTorch ``qLogNoisyExpectedImprovement`` with ``X_baseline`` the model's
  unique inputs (Monte Carlo over the joint posterior of the baseline and ``x``; its
  base samples are seeded from the ask's generator).

Why ``"plain"`` stays the default: on the public noisy suite (12 problems, 100
evaluations, 5 seeds; ``docs/benchmarks/bo.md``) augmented EI was better on 6 of 12
problems (much better under heavy noise: Hartmann-3 at 20 % noise, 0.03 vs 0.18) but
switched 65 % more (median 68 vs 41 switches per 100 evaluations), and at equal total cost
with ``s = 10`` the plain rule had the lower regret on more problems; on the tuning
benchmark it made 29 switches in 40 evaluations against 18. A rule that switches more is
the wrong default for a low-switch toolkit; choose ``"augmented"`` when the noise is
large against the function's variation and switches are cheap.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import (
    LogExpectedImprovement,
    qLogNoisyExpectedImprovement,
)
from botorch.acquisition.analytic import AnalyticAcquisitionFunction, _log_ei_helper
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.policies.base import LowSwitchPolicy

EI_VARIANTS = ("plain", "augmented", "noisy")
#: Monte Carlo samples of the ``"noisy"`` rule
NOISY_EI_SAMPLES = 64


def posterior_mean_incumbent(model: Any) -> float:
    """``max_i mu(u_i)`` over the model's unique inputs (the ``"plain"`` rule's incumbent).

    Args:
        model: a fitted [`UniquePointGP`][lowswitch.gp.model.UniquePointGP].

    Returns:
        The best posterior mean (model units, maximisation).

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.1], [0.5], [0.9]], dtype=torch.float64)
        >>> m = UniquePointGP(X, torch.tensor([[0.0], [1.0], [0.5]], dtype=torch.float64))
        >>> isinstance(posterior_mean_incumbent(m.eval()), float)
        True
    """
    with torch.no_grad():
        mean = model.posterior(model.unique_X).mean.reshape(-1)
    return float(mean.max())


def lower_bound_incumbent(mean: Tensor, std: Tensor, c: float = 1.0) -> float:
    """``mean[j]`` at ``j = argmax_i mean_i - c std_i`` (the augmented rule's incumbent).

    Args:
        mean, std: ``(q,)`` latent posterior means and standard deviations at the
            evaluated unique points.
        c: width of the lower bound.

    Example:
        >>> mean = torch.tensor([1.0, 0.9], dtype=torch.float64)
        >>> std = torch.tensor([0.5, 0.1], dtype=torch.float64)
        >>> lower_bound_incumbent(mean, std)   # 0.9 - 0.1 beats 1.0 - 0.5
        0.9
    """
    return float(mean[int(torch.argmax(mean - c * std))])


def log_augmentation(sigma: Tensor, noise_sd: float) -> Tensor:
    """``log(1 - s_n / sqrt(sigma^2 + s_n^2))``, stable for ``sigma << s_n`` and ``s_n = 0``.

    Uses ``1 - s_n / r = sigma^2 / (r (r + s_n))`` with ``r = sqrt(sigma^2 + s_n^2)``.

    Args:
        sigma: latent posterior standard deviations (any shape, > 0).
        noise_sd: observation noise standard deviation ``s_n >= 0`` (same units).

    Example:
        >>> log_augmentation(torch.tensor([1.0]), 0.0).tolist()   # no noise: factor 1
        [0.0]
        >>> round(float(log_augmentation(torch.tensor([1e-4]), 1.0).exp() / 0.5e-8), 4)
        1.0
    """
    r = torch.sqrt(sigma.square() + noise_sd**2)
    return 2.0 * sigma.log() - r.log() - (r + noise_sd).log()


class LogAugmentedEI(AnalyticAcquisitionFunction):
    """``log EI(x; best_f) + log(1 - s_n / sqrt(sigma^2(x) + s_n^2))`` (single output, q=1).

    Args:
        model: a single-output BoTorch model (here the unique-point GP or a hallucinated copy).
        best_f: the incumbent (``lower_bound_incumbent``).
        noise_sd: observation noise standard deviation in the model's output units.

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.1], [0.5], [0.9]], dtype=torch.float64)
        >>> m = UniquePointGP(X, torch.tensor([[0.0], [1.0], [0.5]], dtype=torch.float64)).eval()
        >>> LogAugmentedEI(m, best_f=1.0, noise_sd=0.1)(X.unsqueeze(1)).shape
        torch.Size([3])
    """

    _log = True

    def __init__(self, model: Any, best_f: float, noise_sd: float) -> None:
        super().__init__(model=model)
        self.best_f = float(best_f)
        self.noise_sd = float(noise_sd)

    @t_batch_mode_transform(expected_q=1)  # type: ignore[arg-type]
    def forward(self, X: Tensor) -> Tensor:
        """Values at ``X`` ``(b, 1, d)`` -> ``(b,)``."""
        mean, sigma = self._mean_and_sigma(X)
        assert sigma is not None
        log_ei = _log_ei_helper((mean - self.best_f) / sigma) + sigma.log()
        return (log_ei + log_augmentation(sigma, self.noise_sd)).squeeze(-1)


class LowSwitchGPEI(LowSwitchPolicy):
    """Rarely-switching GP-EI with ask/tell (log-EI; augmented or noisy EI as options).

    Takes the arguments of [`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy].

    Options (a keyword, or in ``PolicyConfig.options``):
        ``ei_variant``: ``"plain"`` (default), ``"augmented"`` or ``"noisy"`` (module
        docstring).

    Example:
        >>> import torch
        >>> from lowswitch import LowSwitchGPEI
        >>> cands = torch.linspace(0, 1, 11, dtype=torch.float64).unsqueeze(-1)
        >>> opt = LowSwitchGPEI(torch.tensor([[0.0], [1.0]]), candidates=cands, seed=1)
        >>> for _ in range(5):
        ...     b = opt.ask()
        ...     opt.tell(b.x, torch.full((b.repeats,), float(b.x[0])))
        >>> opt.recommend().shape, opt.ei_variant
        (torch.Size([1]), 'plain')
    """

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        variant = cfg.get("ei_variant", "plain")
        if variant not in EI_VARIANTS:
            raise InputError(f"ei_variant: expected one of {list(EI_VARIANTS)}, got {variant!r}")
        return {"ei_variant": variant}

    def _apply_extra(self, extra: dict[str, Any]) -> None:
        self.ei_variant: str = extra["ei_variant"]

    def _extra_config(self) -> dict[str, Any]:
        return {"ei_variant": self.ei_variant}

    def acquisition(self, model: Any, generator: torch.Generator | None = None) -> Any:
        """The BoTorch acquisition of this policy's rule on ``model`` (internal sign).

        The incumbent and the noise come from the real (told) model: hallucinated
        repeats leave means unchanged and only shrink variances.
        """
        real = self._model
        if self.ei_variant == "plain":
            return LogExpectedImprovement(model, best_f=posterior_mean_incumbent(real))
        if self.ei_variant == "noisy":
            seed = 0 if generator is None else int(
                torch.randint(0, 2**31 - 1, (1,), generator=generator)
            )
            sampler = SobolQMCNormalSampler(torch.Size([NOISY_EI_SAMPLES]), seed=seed)
            return qLogNoisyExpectedImprovement(
                model, X_baseline=real.unique_X, sampler=sampler, prune_baseline=False,
                cache_root=False,
            )
        with torch.no_grad():
            post = real.posterior(real.unique_X)
            mean = post.mean.reshape(-1)
            std = post.variance.reshape(-1).clamp_min(1e-12).sqrt()
        noise_sd = float(real.noise_variance) ** 0.5
        return LogAugmentedEI(model, lower_bound_incumbent(mean, std), noise_sd)

    def _select(
        self,
        model: Any,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        acq = self.acquisition(model, generator)
        return self._argmax_acquisition(acq, generator, exclude_x, exclude_index)


__all__ = [
    "EI_VARIANTS",
    "LogAugmentedEI",
    "LowSwitchGPEI",
    "log_augmentation",
    "lower_bound_incumbent",
    "posterior_mean_incumbent",
]
