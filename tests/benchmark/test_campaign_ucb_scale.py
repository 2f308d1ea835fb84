"""The campaign benchmark's ``--ucb-scale``: what the UCB methods plan with, and bad values."""

from __future__ import annotations

import json

import pytest

from lowswitch.benchmark.campaign import main, plan_config
from lowswitch.campaign.planner import PLATE_UCB_SCALE, build_policy
from lowswitch.policies.beta import IGPUCBBeta


def test_plan_config_sets_the_width_for_ucb_methods_only() -> None:
    cfg = plan_config("low-switch C=2, s=10", 8, seed=3, ucb_scale=0.1)
    assert cfg.config.options["beta"] == IGPUCBBeta(scale=0.1)
    assert cfg.switch_cost == 10.0 and cfg.switch_threshold == 2.0 and cfg.config.seed == 3
    assert "beta" not in plan_config("low-switch C=2, s=10", 8, seed=3).config.options
    assert "beta" not in plan_config("random", 8, seed=3, ucb_scale=0.1).config.options


def test_the_width_reaches_the_plate_policy() -> None:
    import torch

    X = torch.rand(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    box = torch.stack([torch.zeros(2), torch.ones(2)]).double()
    idx, ys = [0, 0, 1, 1, 2, 2], [0.1, 0.2, 0.5, 0.4, 0.9, 1.0]
    for scale, want in ((0.05, 0.05), (None, PLATE_UCB_SCALE)):
        cfg = plan_config("low-switch C=2", 8, seed=1, ucb_scale=scale)
        assert build_policy(X, box, idx, ys, cfg, seed=2).beta_schedule == IGPUCBBeta(scale=want)


def test_quick_run_records_the_width(tmp_path) -> None:
    assert main(["--quick", "--methods", "low-switch C=2", "--ucb-scale", "0.15",
                 "--out", str(tmp_path), "--no-plot"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["setting"]["ucb_scale"] == 0.15


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf"])
def test_bad_width_is_refused(bad: str, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--quick", "--ucb-scale", bad, "--out", str(tmp_path)])
    assert "--ucb-scale: expected a number > 0" in capsys.readouterr().err
