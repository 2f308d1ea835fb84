"""A batched UniquePointGP against a loop of b separate models: build, fit and posterior.

``b`` training sets of ``t`` rows each (``t / q`` replicates of ``q`` unique inputs in
``[0, 1]^d``, a different set of inputs and a different function per set) are modelled
(a) by one ``UniquePointGP`` on ``(b, t, d)`` data (a ``BatchedUniquePointGP``) and
(b) by ``b`` unbatched ``UniquePointGP``\\ s in a loop. Timed per repetition, side by side:

* ``build``: constructing the model(s) from the rows (grouping, standardisation);
* ``fit``: ``fit_gp`` on freshly built model(s), from the default hyperparameters (one
  joint L-BFGS-B run over the sum of the b objectives, against b runs; building untimed);
* ``posterior``: posterior mean and variance at ``m`` test points (factor included:
  hyperparameters are set, so each repetition starts from an empty cache).

Medians of ``--reps`` repetitions; ratios are loop time / batched time. Also reported:
the largest difference between the per-set objective (log-likelihood + log priors) that
the joint fit reached and the one each separate fit reached (optimiser tolerance).
Prints a table and writes ``gp_batched.json`` in ``--out`` (default
``results/gp_batched``).

Example:
    python -m lowswitch.benchmark gp-batched --b 8 --t 2000 --q 50 --reps 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lowswitch.gp.fit import fit_gp
from lowswitch.gp.model import UniquePointGP

DT = torch.float64


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m lowswitch.benchmark gp-batched", description=__doc__
    )
    p.add_argument("--b", type=int, default=8, help="training sets (model batch)")
    p.add_argument("--t", type=int, default=2_000, help="rows per set")
    p.add_argument("--q", type=int, default=50, help="unique inputs per set")
    p.add_argument("--d", type=int, default=3)
    p.add_argument("--m", type=int, default=256, help="posterior test points")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/gp_batched"))
    return p.parse_args(argv)


def make_data(b: int, t: int, q: int, d: int, seed: int) -> tuple[Tensor, Tensor]:
    """``(b, t, d)`` inputs (each of q unique inputs repeated t / q times) and outcomes."""
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(b, q, d, generator=g, dtype=DT)
    idx = torch.arange(t) % q
    X = U[:, idx[torch.randperm(t, generator=g)]]
    freq = 1.0 + 3.0 * torch.rand(b, 1, 1, generator=g, dtype=DT)
    Y = torch.sin(freq * X).sum(-1, keepdim=True) + 0.3 * torch.randn(
        b, t, 1, generator=g, dtype=DT
    )
    return X, Y


def _objective(model: Any) -> float:
    """Exact log-likelihood + log priors of an unbatched model."""
    with torch.no_grad():
        value = model.exact_marginal_log_likelihood() + sum(
            p.log_prob(c(m)).sum() for _, m, p, c, _ in model.named_priors()
        )
    return float(value)


def unbatched_set(batched: Any, X: Tensor, Y: Tensor, j: int) -> UniquePointGP:
    """Set ``j`` of a batched model as an unbatched model with its hyperparameters.

    ``batched`` is a ``BatchedUniquePointGP`` with the default modules, built on ``X``
    ``(b, t, d)`` and ``Y`` ``(b, t, 1)``; the result is ``UniquePointGP(X[j], Y[j])``
    with set ``j``'s lengthscales ``(1, d)``, mean constant and noise ``(1,)``.
    """
    single = UniquePointGP(X[j], Y[j])
    with torch.no_grad():
        single.covar_module.lengthscale = batched.covar_module.lengthscale[j]
        single.mean_module.constant.copy_(batched.mean_module.constant[j])
        single.likelihood.noise = batched.likelihood.noise[j]
    return single


def _median_time(
    fn: Callable[[Any], Any], reps: int, setup: Callable[[], Any] = lambda: None
) -> tuple[float, Any]:
    """Median wall time of ``fn(setup())`` over ``reps`` runs (setup untimed), last output."""
    times, out = [], None
    for _ in range(reps):
        arg = setup()
        start = time.perf_counter()
        out = fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run(args: argparse.Namespace) -> dict[str, Any]:
    X, Y = make_data(args.b, args.t, args.q, args.d, args.seed)
    Xt = torch.rand(args.m, args.d, generator=torch.Generator().manual_seed(1), dtype=DT)
    b = args.b
    rec: dict[str, Any] = {"b": b, "t": args.t, "q": args.q, "d": args.d, "m": args.m}

    def build_batched() -> Any:
        return UniquePointGP(X, Y)

    def build_loop() -> list[UniquePointGP]:
        return [UniquePointGP(X[j], Y[j]) for j in range(b)]

    rec["build_batched_s"], _ = _median_time(lambda _: build_batched(), args.reps)
    rec["build_loop_s"], _ = _median_time(lambda _: build_loop(), args.reps)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec["fit_batched_s"], batched = _median_time(fit_gp, args.reps, build_batched)
        rec["fit_loop_s"], loop = _median_time(
            lambda models: [fit_gp(m) for m in models], args.reps, build_loop
        )
    gaps = [_objective(unbatched_set(batched, X, Y, j)) - _objective(loop[j]) for j in range(b)]
    rec["joint_minus_separate_objective_max_abs"] = max(abs(v) for v in gaps)

    def posterior_batched() -> Tensor:
        batched.clear_cache()
        with torch.no_grad():
            post = batched.posterior(Xt)
            return post.mean + post.variance

    def posterior_loop() -> list[Tensor]:
        out = []
        for m in loop:
            m.clear_cache()
            with torch.no_grad():
                post = m.posterior(Xt)
                out.append(post.mean + post.variance)
        return out

    posterior_batched()  # untimed warm-up (first-call costs)
    posterior_loop()
    rec["posterior_batched_s"], pb = _median_time(lambda _: posterior_batched(), args.reps)
    rec["posterior_loop_s"], _ = _median_time(lambda _: posterior_loop(), args.reps)
    assert pb.shape == (b, args.m, 1)
    for stage in ("build", "fit", "posterior"):
        rec[f"{stage}_loop_over_batched"] = rec[f"{stage}_loop_s"] / rec[f"{stage}_batched_s"]
    return rec


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rec = run(args)
    print(
        f"gp-batched: b={args.b} sets of t={args.t} rows, q={args.q} unique each, d={args.d}, "
        f"posterior at m={args.m}; medians of {args.reps}"
    )
    print(f"{'stage':>10} {'batched s':>10} {'loop s':>10} {'loop/batched':>13}")
    for stage in ("build", "fit", "posterior"):
        print(
            f"{stage:>10} {rec[f'{stage}_batched_s']:>10.4f} {rec[f'{stage}_loop_s']:>10.4f} "
            f"{rec[f'{stage}_loop_over_batched']:>13.2f}"
        )
    print(
        "largest |joint - separate| per-set objective after fitting: "
        f"{rec['joint_minus_separate_objective_max_abs']:.2e} nats"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"args": {k: str(v) for k, v in vars(args).items()}, "record": rec}
    (args.out / "gp_batched.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out / 'gp_batched.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
