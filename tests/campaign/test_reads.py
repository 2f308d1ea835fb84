"""``best`` reuses the GP fit that ``suggest`` stored instead of refitting (issue 13, item 10)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import INPUTS

from lowswitch.campaign import Campaign, SimulatedLab
from lowswitch.campaign.posterior import posterior_at_measured, reusable_hyper


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_best_uses_the_stored_fit(tmp_path: Path, screen: pd.DataFrame, direction: str) -> None:
    camp = Campaign.create(tmp_path / "b.db", "b", screen.drop(columns="yield"), inputs=INPUTS,
                           objective="yield", direction=direction, initial_conditions=6,
                           max_conditions=4)
    lab = SimulatedLab(screen, INPUTS, "yield", seed=0)
    for _ in range(3):
        camp.record(lab.measure(camp.suggest(slots=12)))
    plate = lab.measure(camp.suggest(slots=12))  # stores a fit on what was measured so far
    plate.loc[plate["block"] != 1, "yield"] = ""  # results of one new condition only
    camp.record(plate)
    with camp.store.read("b") as tx:
        fit = tx.latest_fit()
        idx, ys = tx.observations()
    assert fit is not None and fit.n_observations < len(idx)  # stored before the last plate
    hyper = reusable_hyper(fit, idx, camp.plan_config.refit_growth)
    assert hyper is not None
    sign = 1.0 if direction == "maximize" else -1.0
    internal = [sign * y for y in ys]
    measured, stored_mean, stored_sd = posterior_at_measured(camp.features, idx, internal, hyper)
    _, refit_mean, _ = posterior_at_measured(camp.features, idx, internal)
    # the two differ, so the comparison below tells which one best() used
    assert max(abs(a - b) for a, b in zip(stored_mean, refit_mean, strict=True)) > 1e-6
    top = camp.best(k=len(measured))
    by_condition = {tuple(r[c] for c in INPUTS): r for r in top.to_dict("records")}
    for j, i in enumerate(measured):
        row = by_condition[tuple(camp.candidates[i][c] for c in INPUTS)]
        assert row["mean"] == sign * stored_mean[j]
        assert row["sd"] == stored_sd[j]
    order = top["mean"].tolist()
    assert order == sorted(order, reverse=direction == "maximize")


def test_reusable_hyper_follows_the_planners_refit_rule() -> None:
    from lowswitch.campaign.repository import Fit

    fit = Fit(n_observations=10, n_unique=10, hyper={"x": [1.0]})
    assert reusable_hyper(None, list(range(12)), 1.2) is None
    assert reusable_hyper(fit, list(range(11)), 1.2) == {"x": [1.0]}  # 11 < 1.2 * 10
    assert reusable_hyper(fit, list(range(12)), 1.2) is None  # grown by the refit factor
    assert reusable_hyper(fit, list(range(9)), 1.2) is None  # fewer rows than it saw (a void)


@pytest.mark.slow
def test_read_cost_benchmark_runs(tmp_path: Path) -> None:
    import json

    from lowswitch.benchmark.campaign_reads import main

    assert main(["--conditions", "30", "--repeats", "1", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "reads.json").read_text())
    assert sorted(result["commands"]["this"]) == ["best", "report", "status", "suggest"]
    assert result["commands"]["this"]["suggest"]["ratio_to_suggest"] == 1.0
