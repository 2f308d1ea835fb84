"""Smoke test of ``python -m mopps.benchmark grpo --quick`` (real TRL GRPOTrainer, CPU).

No accuracy assertion: the quick configuration trains for 4 steps. It checks the study's
bookkeeping: every method ran on the same seed from the same warm start, every generated
rollout was counted, DAPO-style kept only informative groups, the streaming runs moved to
fresh chunks and the feature prior set their priors, and the outputs were written.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("trl", reason="TRL is not installed (pip install 'lowswitch[trl]')")

from mopps.benchmark import grpo  # noqa: E402
from mopps.benchmark.trainers import METHODS  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("grpo"))
    assert grpo.main(["--quick", "--out", out, "--no-progress"]) == 0
    with open(os.path.join(out, "grpo.json")) as f:
        return out, json.load(f)


def test_outputs_and_every_method(study):
    out, result = study
    for name in ("grpo.json", "grpo.png", "grpo_calibration.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert [r["method"] for r in result["runs"]] == list(METHODS)
    assert set(result["summary"]) == set(METHODS)
    # the warm start was cached once per seed and reused
    assert len([f for f in os.listdir(os.path.join(out, "cache")) if f.endswith(".pt")]) == 1


def test_rollouts_are_counted_and_budgets_match(study):
    _, result = study
    cfg = result["config"]
    per_step = cfg["prompts_per_step"] * cfg["num_generations"]
    for run in result["runs"]:
        # DAPO-style runs steps / over_sample steps of over_sample x the rollouts
        assert run["rollouts"] == cfg["steps"] * per_step == result["budget_rollouts"]
        curve = run["curve"]
        assert curve[0]["rollouts"] == 0 and curve[-1]["rollouts"] == run["rollouts"]
        assert all(a["wall_s"] <= b["wall_s"] for a, b in itertools.pairwise(curve))
        assert 0.0 <= run["informative_fraction"] <= 1.0
    dapo = next(r for r in result["runs"] if r["method"] == "dapo")
    assert 0 <= dapo["kept_groups_mean"] <= cfg["prompts_per_step"]


def test_streaming_runs_set_feature_priors_on_new_prompts(study):
    _, result = study
    cfg = result["config"]
    feature = next(r for r in result["runs"] if r["method"] == "stream-feature")
    plain = next(r for r in result["runs"] if r["method"] == "stream-mopps")
    assert plain["new_prompt_pairs"] == [] and plain["prior_seconds"] == 0.0
    # chunk 1 arrived at step arrive_every: its prompts got predictions, and those that
    # were rolled out afterwards are paired with their first observed success rate
    assert 0 < len(feature["new_prompt_pairs"]) <= cfg["chunk_size"]
    assert all(0.0 < p < 1.0 and 0.0 <= o <= 1.0 for p, o in feature["new_prompt_pairs"])
    assert result["feature_prior"]["n_pairs"] == len(feature["new_prompt_pairs"])
