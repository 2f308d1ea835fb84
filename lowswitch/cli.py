"""The ``lowswitch`` command: ``lowswitch demo`` and ``lowswitch campaign ...``.

Example:
    >>> from typer.testing import CliRunner
    >>> CliRunner().invoke(app, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lowswitch.campaign.cli import app as campaign_app

app = typer.Typer(
    help="lowswitch: rarely-switching Bayesian optimisation for labs and tuning.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(campaign_app, name="campaign")


@app.command()
def demo(
    plates: Annotated[int, typer.Option(help="Rounds of suggest -> measure -> record.")] = 8,
    slots: Annotated[int, typer.Option(help="Wells per plate.")] = 24,
    noise_sd: Annotated[float, typer.Option(help="Replicate noise sd (yield points).")] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the campaign and of the noise.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for the database and the report.")] = Path(
        "results/demo"
    ),
    policy: Annotated[
        str, typer.Option(help="A registered policy (ucb, ei, ts, ...) or random.")
    ] = "ucb",
    switch_threshold: Annotated[float, typer.Option(help="C of the switch rule.")] = 2.0,
) -> None:
    """Simulated wet-lab campaign on the bundled aryl halide screen (about a minute)."""
    from lowswitch.campaign.demo import run_demo

    run_demo(plates=plates, slots=slots, noise_sd=noise_sd, seed=seed, out=out, policy=policy,
             switch_threshold=switch_threshold)


def limit_threads() -> None:
    """Use one torch thread unless ``OMP_NUM_THREADS`` says otherwise.

    A campaign's GP is small (hundreds of unique points): one thread is fastest, and on a
    shared machine several threads per process mostly wait on each other (measured here:
    a 47-dimensional hyperparameter fit ran 10x faster with one thread than with two on a
    busy two-core machine). Setting ``OMP_NUM_THREADS`` instead of calling
    ``torch.set_num_threads`` keeps torch out of commands that do not need it.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:  # already initialised: the variable is read at import only
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def main() -> None:
    """Console-script entry point (``lowswitch = lowswitch.cli:main``)."""
    limit_threads()
    app()


__all__ = ["app", "main"]


if __name__ == "__main__":
    main()
