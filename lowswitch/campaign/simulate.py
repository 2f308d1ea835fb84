"""A simulated laboratory: measures plates against a table of true outcomes, with noise.

Used by ``lowswitch demo``, the campaign benchmark and the end-to-end tests. The truth table
holds one true value per condition (e.g. the measured yield of the aryl halide screen); each
well returns ``truth + N(0, noise_sd^2)``, clipped to ``clip`` (yields live in [0, 100]), and a
well fails with probability ``failure_rate`` (written as ``failed``, as a chemist would).

Example:
    >>> import pandas as pd
    >>> lab = SimulatedLab(pd.DataFrame({"base": ["A", "B"], "yield": [10.0, 90.0]}),
    ...                    inputs=["base"], objective="yield", noise_sd=0.0, seed=0)
    >>> lab.measure(pd.DataFrame({"experiment_id": [1, 2], "base": ["B", "A"]}))["yield"].tolist()
    ['90.0', '10.0']
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from lowswitch.errors import InputError

ARYL_HALIDE_INPUTS = ("base", "ligand", "aryl_halide", "additive")
"""Condition columns of the bundled Buchwald-Hartwig screen."""


def aryl_halide_table() -> pd.DataFrame:
    """The bundled Buchwald-Hartwig screen (4,599 conditions, column ``yield`` in %).

    Example:
        >>> aryl_halide_table().shape
        (4599, 5)
    """
    with resources.files("lowswitch").joinpath("data", "aryl_halide.csv").open("r") as fh:
        frame = pd.read_csv(fh, dtype={c: str for c in ARYL_HALIDE_INPUTS}, keep_default_na=False)
    frame["yield"] = frame["yield"].astype(float)
    return frame


class SimulatedLab:
    """Measure wells against a truth table with Gaussian replicate noise.

    Args:
        truth: table with the input columns and the objective column (true values).
        inputs: condition columns.
        objective: objective column of ``truth``; also the column written by
            [`measure`][lowswitch.campaign.SimulatedLab.measure].
        noise_sd: standard deviation of the per-well Gaussian noise.
        clip: (low, high) range the measured values are clipped to, or None.
        failure_rate: probability that a well fails.
        seed: seed of the noise stream.

    Example:
        >>> lab = SimulatedLab(aryl_halide_table(), ARYL_HALIDE_INPUTS, "yield", seed=1)
        >>> round(lab.best_value, 1)
        100.0
    """

    def __init__(
        self,
        truth: pd.DataFrame,
        inputs: Sequence[str],
        objective: str,
        noise_sd: float = 5.0,
        clip: tuple[float, float] | None = (0.0, 100.0),
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        if noise_sd < 0 or not 0 <= failure_rate < 1:
            raise InputError(
                f"noise_sd >= 0 and 0 <= failure_rate < 1 expected, got {noise_sd}, {failure_rate}"
            )
        self.inputs = list(inputs)
        self.objective = objective
        self.noise_sd = float(noise_sd)
        self.clip = clip
        self.failure_rate = float(failure_rate)
        self._rng = np.random.default_rng(seed)
        keys = [self.key(row) for row in truth[self.inputs].astype(str).to_dict("records")]
        self._truth = dict(zip(keys, truth[objective].astype(float).tolist(), strict=True))
        self.best_value = max(self._truth.values())
        self.worst_value = min(self._truth.values())

    def key(self, row: dict[str, Any]) -> tuple[str, ...]:
        """Lookup key of a condition (input values as text)."""
        return tuple(str(row[c]).strip() for c in self.inputs)

    def true_value(self, row: dict[str, Any]) -> float:
        """True objective of a condition.

        Raises:
            InputError: the condition is not in the truth table.
        """
        try:
            return self._truth[self.key(row)]
        except KeyError:
            raise InputError(f"condition {self.key(row)} is not in the truth table") from None

    def measure(self, plate: pd.DataFrame) -> pd.DataFrame:
        """Fill the objective column of a plate (as text, like a CSV a chemist returns).

        Args:
            plate: rows with the input columns (e.g. the output of ``suggest``).

        Returns:
            A copy of ``plate`` with the objective column filled (``failed`` for failures).
        """
        out = plate.copy()
        values: list[str] = []
        for row in plate[self.inputs].to_dict("records"):
            truth = self.true_value(row)
            noisy = truth + self.noise_sd * float(self._rng.standard_normal())
            if self.clip is not None:
                noisy = min(max(noisy, self.clip[0]), self.clip[1])
            failed = self.failure_rate > 0 and float(self._rng.random()) < self.failure_rate
            values.append("failed" if failed else repr(round(noisy, 6)))
        out[self.objective] = values
        return out


__all__ = ["ARYL_HALIDE_INPUTS", "SimulatedLab", "aryl_halide_table"]
