"""``lowswitch campaign create`` options against ``PolicyConfig``: names, defaults, checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from lowswitch.campaign import Campaign
from lowswitch.campaign.cli import app
from lowswitch.errors import InputError
from lowswitch.policies import PolicyConfig

# PolicyConfig fields the campaign sets from its own options
FROM_CAMPAIGN = {"maximize": "direction", "n_initial": "initial_conditions", "options": "option"}
# plates are planned blind (the cost's extra repeats always up front): no option
# (tests/campaign/test_plan_switch_cost.py::test_plates_are_planned_blind_so_cost_up_front...)
NOT_FOR_PLATES = {"cost_up_front"}


def _create_params() -> dict[str, Any]:
    group = typer.main.get_command(app)
    command = group.commands["create"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def test_every_policy_config_field_has_an_option_with_the_same_default() -> None:
    params = _create_params()
    defaults = PolicyConfig()
    for f in dataclasses.fields(PolicyConfig):
        if f.name in FROM_CAMPAIGN:
            assert FROM_CAMPAIGN[f.name] in params, f.name
            continue
        if f.name in NOT_FOR_PLATES:
            assert f.name not in params
            continue
        assert f.name in params, f"PolicyConfig.{f.name} has no --{f.name} option"
        assert params[f.name].default == getattr(defaults, f.name), f.name
    assert params["direction"].default == "maximize" and defaults.maximize is True
    assert params["option"].multiple


BAD = [("switch_threshold", "inf"), ("seed", "-1"), ("max_repeats", "0"), ("budget", "0"),
       ("initial_repeats", "0"), ("num_restarts", "0"), ("raw_samples", "0"),
       ("refit_growth", "0.5"), ("fit_tolerance", "1.5"), ("switch_cost", "-1")]


@pytest.mark.parametrize(("field", "text"), BAD)
def test_a_bad_value_gets_policy_configs_own_message(tmp_path: Path, field: str,
                                                     text: str) -> None:
    with pytest.raises(InputError) as err:
        PolicyConfig(**{field: type(getattr(PolicyConfig(), field) or 1)(float(text))})
    cands = tmp_path / "c.csv"
    pd.DataFrame({"a": [0.0, 1.0, 2.0]}).to_csv(cands, index=False)
    db = str(tmp_path / "lab.db")
    res = CliRunner().invoke(app, ["create", "--storage", db, "--name", "n", "--candidates",
                                   str(cands), "--inputs", "a", "--objective", "y",
                                   f"--{field.replace('_', '-')}", text])
    assert res.exit_code == 2
    assert f"error: {err.value}" in res.output
    assert not Path(db).exists()  # refused before anything was stored


def test_options_reach_the_stored_config(tmp_path: Path) -> None:
    cands = tmp_path / "c.csv"
    pd.DataFrame({"a": [0.0, 1.0, 2.0]}).to_csv(cands, index=False)
    db = str(tmp_path / "lab.db")
    res = CliRunner().invoke(app, ["create", "--storage", db, "--name", "n", "--candidates",
                                   str(cands), "--inputs", "a", "--objective", "y",
                                   "--policy", "ucb", "--option", "beta=2.5",
                                   "--refit-growth", "1.5", "--direction", "minimize"])
    assert res.exit_code == 0, res.output
    cfg = Campaign.open(db, "n").plan_config.config
    assert cfg == PolicyConfig(maximize=False, refit_growth=1.5, options={"beta": 2.5})
