"""MoPPS inside a real TRL ``GRPOTrainer`` on CPU (tiny random GPT-2, local tokenizer).

Everything is TRL / transformers / accelerate code (generation, reward gathering, the
``Trainer`` loop, checkpoint save and resume with batch skipping); nothing is downloaded.
"""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.integration

trl = pytest.importorskip("trl", reason="TRL is not installed (pip install 'lowswitch[trl]')")
datasets = pytest.importorskip("datasets")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

from lowswitch.errors import InputError, StateError  # noqa: E402
from mopps.integrations.trl import SAMPLER_FILE, MoPPSGRPOTrainer  # noqa: E402
from mopps.sampler import MoPPSSampler  # noqa: E402
from mopps.selector import PromptSelector  # noqa: E402

N_PROMPTS, G = 16, 2
WORDS = ["a", "b", "c", "d", "e", "f", "q"] + [str(i) for i in range(N_PROMPTS)]


def _tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, "[PAD]": 1, "[EOS]": 2, **{w: 3 + i for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]",
        bos_token="[EOS]",
    )


def _model(tok: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=len(tok), n_layer=2, n_embd=32, n_head=2, n_positions=64,
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return GPT2LMHeadModel(cfg)


class RewardLog:
    """A reward function (depends on the completion and the prompt) that logs its calls."""

    __name__ = "toy_reward"

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], list[float]]] = []

    def __call__(self, prompts, completions, mopps_index, **kwargs):
        pairs = zip(completions, mopps_index, strict=True)
        rewards = [float((len(c) + 3 * i) % 3 == 0) for c, i in pairs]
        self.calls.append((list(mopps_index), rewards))
        return rewards


def _trainer(
    out: str, log: RewardLog, max_steps: int, per_device: int = 4,
    config: dict | None = None, **kw,
) -> MoPPSGRPOTrainer:
    tok = _tokenizer()
    ds = datasets.Dataset.from_dict({"prompt": [f"q {i}" for i in range(N_PROMPTS)]})
    settings = dict(
        output_dir=out, use_cpu=True, report_to=[], seed=3, learning_rate=1e-2,
        per_device_train_batch_size=per_device, gradient_accumulation_steps=2, num_generations=G,
        max_completion_length=4, max_steps=max_steps, save_steps=3, save_strategy="steps",
        logging_steps=1, dataloader_num_workers=0, disable_tqdm=True,
    )
    settings.update(config or {})
    args = trl.GRPOConfig(**settings)
    return MoPPSGRPOTrainer(
        model=_model(tok), reward_funcs=[log], args=args, train_dataset=ds,
        processing_class=tok, success_threshold=0.5, **kw,
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("grpo"))
    log = RewardLog()
    trainer = _trainer(out, log, max_steps=6)
    trainer.train()
    return out, log, trainer


def test_layout_matches_repeat_sampler(full_run):
    _, _, trainer = full_run
    s = trainer.mopps_sampler
    ref = trl.trainer.utils.RepeatSampler(
        trainer.train_dataset, mini_repeat_count=G, batch_size=4, repeat_count=2, seed=0
    )
    assert isinstance(s, MoPPSSampler)
    assert (s.batch_size, s.mini_repeat_count, s.repeat_count) == (4, G, 2)
    assert len(s) == len(ref)


def test_sampler_receives_every_prompts_rewards(full_run):
    _, log, trainer = full_run
    fed = trainer.mopps_rows_fed
    assert len(fed) == 6 == len(log.calls)  # one generation batch per optimizer step here
    total = 0
    for rows, (idx, rewards) in zip(fed, log.calls, strict=True):
        assert rows.tolist() == idx  # rows gathered in the order TRL scored them
        groups = rows.view(-1, G)
        assert bool((groups == groups[:, :1]).all())  # each prompt's G completions together
        assert len(set(groups[:, 0].tolist())) == 4  # 4 distinct prompts per batch
        total += len(rewards)
    sel = trainer.mopps_sampler.selector
    assert float((sel.alpha + sel.beta - 2).sum()) == total  # decay 1: every completion counted
    succ = sum(sum(r) for _, r in log.calls)
    assert float((sel.alpha - 1).sum()) == succ


def test_checkpoint_holds_sampler_state_and_resume_is_identical(full_run, tmp_path):
    out, log_a, trainer_a = full_run
    ckpt = os.path.join(out, "checkpoint-3")
    assert os.path.isfile(os.path.join(ckpt, SAMPLER_FILE))
    log_b = RewardLog()
    trainer_b = _trainer(out, log_b, max_steps=6)
    trainer_b.train(resume_from_checkpoint=ckpt)
    # steps 4..6 after resume: same prompts, same completions' rewards, same posterior
    assert log_b.calls == log_a.calls[3:]
    assert [r.tolist() for r in trainer_b.mopps_rows_fed] == [
        r.tolist() for r in list(trainer_a.mopps_rows_fed)[3:]
    ]
    sa, sb = trainer_a.mopps_sampler.selector, trainer_b.mopps_sampler.selector
    assert torch.equal(sa.alpha, sb.alpha) and torch.equal(sa.beta, sb.beta)


def test_resume_without_sampler_state_fails_loudly(tmp_path):
    bare = tmp_path / "checkpoint-1"
    bare.mkdir()
    trainer = _trainer(str(tmp_path), RewardLog(), max_steps=2)
    with pytest.raises(StateError, match="MoPPS sampler state"):
        trainer.train(resume_from_checkpoint=str(bare))


def test_selector_size_must_match_dataset(tmp_path):
    with pytest.raises(InputError, match="n_prompts"):
        _trainer(str(tmp_path), RewardLog(), max_steps=1, prompt_selector=PromptSelector(3))


_RANK_SCRIPT = """
import json, os, sys
sys.path.insert(0, os.environ["MOPPS_TEST_DIR"])
import test_trl as T
out = os.environ["MOPPS_OUT"]
log = T.RewardLog()
tr = T._trainer(os.path.join(out, "run"), log, max_steps=4, per_device=2)
tr.train()
rank = tr.accelerator.process_index
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump({"world": tr.accelerator.num_processes,
               "fed": [r.tolist() for r in tr.mopps_rows_fed],
               "local": [c[0] for c in log.calls],
               "alpha": tr.mopps_sampler.selector.alpha.tolist(),
               "beta": tr.mopps_sampler.selector.beta.tolist()}, f)
# Tear the gloo group down while the interpreter is alive: left to finalization, its worker
# threads can abort the process (SIGABRT, "terminate called without an active exception").
tr.accelerator.end_training()
import torch.distributed
assert not torch.distributed.is_initialized()
"""


def test_two_processes_keep_identical_samplers(tmp_path):
    """torchrun, 2 CPU processes (gloo): each scores half of a generation batch; after the
    gathered feedback both ranks hold the same posterior and drew the same prompts."""
    import json
    import subprocess
    import sys

    script = tmp_path / "rank.py"
    script.write_text(_RANK_SCRIPT)
    env = dict(os.environ, MOPPS_TEST_DIR=os.path.dirname(__file__), MOPPS_OUT=str(tmp_path))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["fed"] == r1["fed"] and len(r0["fed"]) == 4
    assert r0["alpha"] == r1["alpha"] and r0["beta"] == r1["beta"]
    for fed, loc0, loc1 in zip(r0["fed"], r0["local"], r1["local"], strict=True):
        assert fed == loc0 + loc1  # rank 0 scored the first half, rank 1 the second


def test_generation_reuse_layout_and_resume(tmp_path):
    """steps_per_generation=4 with gradient_accumulation_steps=2 and num_iterations=2: one
    generation batch serves 4 optimizer steps (TRL reuses it), the sampler yields each block
    8 times, and resuming at a generation boundary continues identically."""
    config = {"steps_per_generation": 4, "num_iterations": 2, "save_steps": 4}
    log_a = RewardLog()
    a = _trainer(str(tmp_path), log_a, max_steps=12, per_device=2, config=config)
    s = a.mopps_sampler
    assert (s.batch_size, s.mini_repeat_count, s.repeat_count) == (4, G, 8)
    a.train()
    assert len(log_a.calls) == 3  # 12 optimizer steps / 4 per generation batch
    for rows in a.mopps_rows_fed:
        assert len(set(rows.tolist())) == 4 and rows.numel() == 4 * G
    log_b = RewardLog()
    b = _trainer(str(tmp_path), log_b, max_steps=12, per_device=2, config=config)
    b.train(resume_from_checkpoint=os.path.join(str(tmp_path), "checkpoint-4"))
    assert log_b.calls == log_a.calls[1:]
    sa, sb = a.mopps_sampler.selector, b.mopps_sampler.selector
    assert torch.equal(sa.alpha, sb.alpha) and torch.equal(sa.beta, sb.beta)


def test_resume_inside_a_reused_generation_batch_counts_it_once(tmp_path):
    """Checkpoint 2 of 4 steps that share one generation batch: TRL regenerates that batch
    on resume; MoPPS must not count it twice, so the next batch's prompts match."""
    config = {"steps_per_generation": 4, "num_iterations": 2, "save_steps": 2}
    log_a = RewardLog()
    a = _trainer(str(tmp_path), log_a, max_steps=8, per_device=2, config=config)
    a.train()
    log_b = RewardLog()
    b = _trainer(str(tmp_path), log_b, max_steps=8, per_device=2, config=config)
    b.train(resume_from_checkpoint=os.path.join(str(tmp_path), "checkpoint-2"))
    assert [c[0] for c in log_b.calls] == [c[0] for c in log_a.calls]  # batch 0 regenerated
    assert b.mopps_sampler.n_feedback == a.mopps_sampler.n_feedback == 2
    sel = b.mopps_sampler.selector
    assert float((sel.alpha + sel.beta - 2).sum()) == 2 * 4 * G  # two batches, counted once
