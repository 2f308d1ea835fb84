"""Report: running best against a naive reference, files written, HTML self-contained."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from campaign_helpers import INPUTS

from lowswitch.campaign import Campaign, SimulatedLab, write_report
from lowswitch.campaign.report import running_best
from lowswitch.errors import InputError


def naive_running_best(conds, values, blocks, maximize):
    out_best, out_sw = [], []
    for t in range(1, len(values) + 1):
        frame = pd.DataFrame({"c": conds[:t], "y": values[:t]})
        means = frame.groupby("c")["y"].mean()
        out_best.append(means.max() if maximize else means.min())
        out_sw.append(len(set(blocks[:t])))
    return np.array(out_best), np.array(out_sw)


def test_running_best_matches_naive() -> None:
    rng = np.random.default_rng(0)
    conds = rng.integers(0, 6, 40).tolist()
    values = rng.normal(size=40).tolist()
    blocks = [(t // 8, c) for t, c in enumerate(conds)]
    for maximize in (True, False):
        best, sw = running_best(conds, values, blocks, maximize)
        ref_best, ref_sw = naive_running_best(conds, values, blocks, maximize)
        np.testing.assert_allclose(best, ref_best, rtol=0, atol=1e-12)
        assert sw.tolist() == ref_sw.tolist()


def test_report_files(tmp_path, screen: pd.DataFrame) -> None:
    camp = Campaign.create(f"sqlite:///{tmp_path / 'r.db'}", "r", screen.drop(columns="yield"),
                           INPUTS, "yield", initial_conditions=4)
    lab = SimulatedLab(screen, INPUTS, "yield", failure_rate=0.1, seed=2)
    for _ in range(3):
        camp.record(lab.measure(camp.suggest(slots=8)))
    camp.suggest(slots=4)  # pending wells appear in the history, not in the curves
    paths = write_report(camp, tmp_path / "out", k=5)
    png = paths["png"].read_bytes()
    assert png.startswith(b"\x89PNG")
    page = paths["html"].read_text()
    embedded = page.split("data:image/png;base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(embedded) == png
    assert "http://" not in page and "https://" not in page
    summary = json.loads(paths["json"].read_text())
    assert summary["status"]["experiments"]["pending"] == 4
    assert len(summary["best"]) == 5
    hist = pd.read_csv(paths["csv"])
    assert len(hist) == 28 and "yield" in hist.columns


def test_dollar_signs_in_names_do_not_break_the_report(tmp_path) -> None:
    """Issue 13 item 9: two `$` in a name were parsed as mathtext and the PNG failed."""
    camp = Campaign.create(f"sqlite:///{tmp_path / 'r.db'}", "plate $#1$",
                           pd.DataFrame({"x": ["$a", "b$^{$", "c"]}), ["x"], "y$^$",
                           initial_conditions=3)
    plate = camp.suggest(3)
    plate["y$^$"] = [1, 2, 3]
    camp.record(plate)
    paths = write_report(camp, tmp_path / "out")
    assert paths["png"].read_bytes().startswith(b"\x89PNG")


def test_report_onto_an_existing_file_is_refused(tmp_path) -> None:
    camp = Campaign.create("sqlite://", "r", pd.DataFrame({"x": ["a", "b"]}), ["x"], "y")
    target = tmp_path / "report.html"
    target.write_text("keep me")
    with pytest.raises(InputError, match="expected a folder for the report"):
        write_report(camp, target)
    assert target.read_text() == "keep me"
