"""A new acquisition defined here only, registered by name, run through every façade.

``GreedyMean`` is pure exploitation: the point with the highest posterior mean plus
``jitter`` times a standard normal draw (from the ask's generator). ``jitter`` is its own
option; every ``_select`` call records the value it saw in ``SEEN``, so each façade's test
checks that the option set at the façade really reached the policy that chose the points.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lowswitch.campaign import Campaign
from lowswitch.campaign.cli import app as campaign_app
from lowswitch.errors import InputError
from lowswitch.integrations.optuna import LowSwitchSampler
from lowswitch.policies import LowSwitchPolicy, PolicyConfig, get_policy, policy_names, register
from lowswitch.policies.selection import argmax_scores
from lowswitch.tune import Float, Int, Space, Tuner, minimize

SEEN: list[float] = []


@register("greedy-mean")
class GreedyMean(LowSwitchPolicy):
    """Maximise the posterior mean (+ ``jitter`` x N(0, 1) per point)."""

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        jitter = cfg.get("jitter", 0.0)
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not (
            math.isfinite(jitter) and jitter >= 0
        ):
            raise InputError(f"jitter: expected a finite number >= 0, got {jitter!r}")
        return {"jitter": float(jitter)}

    def _apply_extra(self, extra: dict[str, Any]) -> None:
        self.jitter: float = extra["jitter"]

    def _extra_config(self) -> dict[str, Any]:
        return {"jitter": self.jitter}

    def _select(self, model: Any, generator: torch.Generator, exclude_x: list[torch.Tensor],
                exclude_index: list[int | None]) -> tuple[torch.Tensor, int | None]:
        SEEN.append(self.jitter)
        lo, hi = self.bounds
        pool = self.candidates
        if pool is None:
            u = torch.rand(64, self.dim, generator=generator, dtype=torch.float64)
            pool = torch.cat([lo + (hi - lo) * u, model.unique_X.detach()])
        with torch.no_grad():
            mean = model.posterior(pool).mean.reshape(-1)
        score = mean + self.jitter * torch.randn(mean.shape, generator=generator,
                                                 dtype=mean.dtype)
        if self.candidates is not None:
            i = argmax_scores(score, exclude_index)
            return self.candidates[i].clone(), i
        taken = {tuple(e.tolist()) for e in exclude_x}
        for j in torch.argsort(score, descending=True).tolist():
            if tuple(pool[j].tolist()) not in taken:
                return pool[j].clone(), None
        raise AssertionError("pool exhausted")  # pragma: no cover


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()


def test_registered_by_name_and_its_option_is_checked() -> None:
    assert get_policy("greedy-mean") is GreedyMean and "greedy-mean" in policy_names()
    box = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    assert GreedyMean(box, jitter=0.5).config.options == {"jitter": 0.5}
    with pytest.raises(InputError, match="jitter"):
        GreedyMean(box, config=PolicyConfig(options={"jitter": -1.0}))
    with pytest.raises(InputError, match=r"takes no option\(s\) \['jiter'\]"):
        GreedyMean(box, jiter=0.5)
    with pytest.raises(InputError, match="already"):
        register("greedy-mean", get_policy("ucb"))
    with pytest.raises(InputError, match="lowercase name"):
        register("random", GreedyMean)
    with pytest.raises(InputError, match="LowSwitchPolicy subclass"):
        register("not-a-policy", dict)  # type: ignore[arg-type]


def _x_objective(config: dict[str, Any], repeat: int) -> float:
    return (config["x"] - 0.3) ** 2 + 0.05 * ((repeat * 7919) % 13 - 6) / 6


def test_tuner_by_name_with_its_option() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    tuner = Tuner(space, policy="greedy-mean", policy_kwargs={"jitter": 0.25}, seed=1)
    for _ in range(12):
        t = tuner.ask()
        tuner.tell(t, _x_objective(t.config, t.repeat))
    assert isinstance(tuner.policy, GreedyMean) and tuner.policy.jitter == 0.25
    assert SEEN and set(SEEN) == {0.25}
    with pytest.raises(InputError, match="jiter"):
        Tuner(space, policy="greedy-mean", policy_kwargs={"jiter": 0.25})


def test_minimize_by_name_with_a_policy_config() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    config = PolicyConfig(seed=2, switch_threshold=1.5, options={"jitter": 0.125})
    result = minimize(_x_objective, space, budget=14, policy="greedy-mean", config=config,
                      progress=False)
    assert len(result.trials) == 14
    assert SEEN and set(SEEN) == {0.125}


def test_optuna_sampler_by_name_with_a_policy_config() -> None:
    space = Space({"k": Int(0, 9)})

    def objective(trial: optuna.Trial) -> float:
        k = trial.suggest_int("k", 0, 9)
        return float((k - 6) ** 2) + float(np.random.default_rng(trial.number).normal())

    sampler = LowSwitchSampler(space, policy="greedy-mean",
                               config=PolicyConfig(seed=0, n_initial=2,
                                                   options={"jitter": 0.5}))
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8)
    assert SEEN and set(SEEN) == {0.5}
    with pytest.raises(InputError, match="jiter"):  # refused at construction
        LowSwitchSampler(space, policy="greedy-mean",
                         config=PolicyConfig(options={"jiter": 0.5}))


def _table() -> pd.DataFrame:
    grid = [(a, b) for a in range(5) for b in range(5)]
    return pd.DataFrame({"a": [float(a) for a, _ in grid], "b": [float(b) for _, b in grid]})


def _measure(plate: pd.DataFrame) -> pd.DataFrame:
    out = plate.copy()
    out["y"] = [-(float(a) - 3) ** 2 - (float(b) - 1) ** 2 for a, b in zip(out["a"], out["b"],
                                                                          strict=True)]
    return out


def _run_plates(camp: Campaign, plates: int) -> None:
    for _ in range(plates):
        camp.record(_measure(camp.suggest(slots=6)))


def test_campaign_by_name_with_a_policy_config(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lab.db'}"
    camp = Campaign.create(db, "greedy", _table(), inputs=["a", "b"], objective="y",
                           policy="greedy-mean", initial_conditions=3,
                           config=PolicyConfig(seed=5, options={"jitter": 0.75}))
    stored = Campaign.open(db, "greedy").plan_config
    assert stored.policy == "greedy-mean" and stored.config.options == {"jitter": 0.75}
    _run_plates(camp, 3)
    assert SEEN and set(SEEN) == {0.75}
    with pytest.raises(InputError, match="jitter"):  # refused at creation, nothing stored
        Campaign.create(db, "bad", _table(), inputs=["a", "b"], objective="y",
                        policy="greedy-mean", config=PolicyConfig(options={"jitter": "x"}))


def test_cli_by_name_with_an_option(tmp_path: Path) -> None:
    cands = tmp_path / "conditions.csv"
    _table().to_csv(cands, index=False)
    db = str(tmp_path / "lab.db")
    runner = CliRunner()
    args = ["create", "--storage", db, "--name", "cli", "--candidates", str(cands),
            "--inputs", "a,b", "--objective", "y", "--policy", "greedy-mean",
            "--initial-conditions", "3", "--option", "jitter=0.375"]
    res = runner.invoke(campaign_app, args)
    assert res.exit_code == 0, res.output
    camp = Campaign.open(db, "cli")
    assert camp.plan_config.config.options == {"jitter": 0.375}
    for r in range(3):
        out = tmp_path / f"plate{r}.csv"
        res = runner.invoke(campaign_app, ["suggest", "--storage", db, "--name", "cli",
                                           "--slots", "6", "--out", str(out)])
        assert res.exit_code == 0, res.output
        _measure(pd.read_csv(out)).to_csv(tmp_path / f"results{r}.csv", index=False)
        res = runner.invoke(campaign_app, ["record", "--storage", db, "--name", "cli",
                                           "--results", str(tmp_path / f"results{r}.csv")])
        assert res.exit_code == 0, res.output
    assert SEEN and set(SEEN) == {0.375}
    bad = runner.invoke(campaign_app, [*args[:4], "cli2", *args[5:-1], "jitter=-2"])
    assert bad.exit_code == 2 and "jitter: expected a finite number >= 0" in bad.output
