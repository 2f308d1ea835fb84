"""MoPPS inside the real verl package (0.7.x curriculum hook, 0.9.x trainer mixin).

What runs here (CPU, no Ray workers, no vLLM): verl's ``RLHFDataset`` over a local
parquet, verl's own ``RayPPOTrainer._create_dataloader`` (which calls verl's
``create_rl_sampler`` on 0.6/0.7 and builds the ``StatefulDataLoader``), verl's
``collate_fn`` and ``DataProto`` (``from_single_dict``, ``repeat``), and verl's checkpoint
format for the dataloader (``torch.save(train_dataloader.state_dict())``). Rollouts are
replaced by deterministic rewards written into ``token_level_scores`` as verl's reward
manager does (score on the last token). A full ``RayPPOTrainer.fit`` needs GPU workers and
a vLLM/SGLang server and is not run.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.integration

verl = pytest.importorskip("verl", reason="verl is not installed (pip install 'lowswitch[verl]')")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
from omegaconf import OmegaConf, open_dict  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo.ray_trainer import RayPPOTrainer  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset  # noqa: E402

from lowswitch.errors import InputError  # noqa: E402
from mopps.integrations import verl as mv  # noqa: E402
from mopps.selector import PromptSelector  # noqa: E402

HAS_HOOK = hasattr(mv, "MoPPSCurriculumSampler")  # verl 0.6 / 0.7
N_PROMPTS, BATCH, ROLLOUTS, T = 40, 4, 3, 5


def _tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, "[PAD]": 1, "q": 2, **{str(i): 3 + i for i in range(100)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")


def reported_index(row: int) -> int:
    """extra_info.index of a row: deliberately not the row number."""
    return 1000 + 7 * ((row * 13) % N_PROMPTS)


def _parquet(path, with_index: bool = True) -> str:
    rows = []
    for r in range(N_PROMPTS):
        extra = {"split": "train", "index": reported_index(r)} if with_index else {"split": "train"}
        rows.append(
            {
                "data_source": "toy",
                "prompt": [{"role": "user", "content": f"q {r}"}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(r)},
                "extra_info": extra,
            }
        )
    file = os.path.join(path, "train.parquet" if with_index else "noindex.parquet")
    pd.DataFrame(rows).to_parquet(file)
    return file


def _config(file: str, decay: float = 0.8):
    data_yaml = os.path.join(os.path.dirname(verl.__file__), "trainer/config/data/legacy_data.yaml")
    data = OmegaConf.load(data_yaml)
    data.train_files = file
    data.val_files = file
    data.train_batch_size = BATCH
    data.dataloader_num_workers = 0
    data.filter_overlong_prompts = False
    data.seed = 17
    if HAS_HOOK:
        data.sampler.class_path = "pkg://mopps.integrations.verl"
        data.sampler.class_name = "MoPPSCurriculumSampler"
    data.mopps = {"decay": decay, "success_threshold": 0.5}
    trainer = {"total_epochs": 1, "total_training_steps": None}
    return OmegaConf.create({"data": data, "trainer": trainer})


def _trainer(file: str, decay: float = 0.8):
    """A RayPPOTrainer (with the MoPPS mixin) whose dataloaders verl itself builds."""
    cls = mv.MoPPSRayPPOTrainer
    trainer = cls.__new__(cls)  # no Ray workers: only the data side is constructed
    trainer.config = _config(file, decay)
    trainer.tokenizer, trainer.processor = _tokenizer(), None
    ds = RLHFDataset(data_files=file, tokenizer=trainer.tokenizer, config=trainer.config.data)
    sampler = None if HAS_HOOK else mv.make_sampler(trainer.config.data, ds)
    trainer._create_dataloader(ds, ds, None, sampler)
    return trainer


def reward(index: int, rollout: int, step: int) -> float:
    return 1.0 if (index * 31 + rollout * 17 + step * 7) % 5 < (index % 4) else 0.0


def _step(trainer, batch_dict, step: int) -> DataProto:
    """What fit() does with a batch, minus generation: uid, repeat, scores, feedback."""
    batch = DataProto.from_single_dict(batch_dict)
    n = len(batch)
    batch.non_tensor_batch["uid"] = np.array([f"s{step}-p{j}" for j in range(n)], dtype=object)
    batch = batch.repeat(repeat_times=ROLLOUTS, interleave=True)
    scores = torch.zeros(len(batch), T)
    for j, idx in enumerate(batch.non_tensor_batch["index"].tolist()):
        scores[j, -1] = reward(int(idx), j % ROLLOUTS, step)
    batch.batch["token_level_scores"] = scores
    sampler = trainer.train_dataloader.sampler
    if HAS_HOOK:  # verl 0.6/0.7: the trainer's own end-of-step call
        from verl.experimental.dataset.sampler import AbstractCurriculumSampler

        assert isinstance(sampler, AbstractCurriculumSampler)
        sampler.update(batch=batch)
    else:  # verl 0.9: the mixin feeds before the actor update
        trainer._mopps_feed(batch)
    return batch


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("verl_data"))


def test_verl_builds_the_sampler_and_pull_based_stream_matches_reference(data_dir):
    file = _parquet(data_dir)
    trainer = _trainer(file)
    sampler = trainer.train_dataloader.sampler
    assert isinstance(sampler, mv.VerlMoPPSSampler)
    assert len(trainer.train_dataloader) == N_PROMPTS // BATCH

    # naive reference: a bare selector, feedback mapped by hand from index to row
    ref = PromptSelector(N_PROMPTS, decay=0.8, seed=17)
    to_row = {reported_index(r): r for r in range(N_PROMPTS)}
    for step, batch_dict in enumerate(trainer.train_dataloader):
        if step == 6:
            break
        got_rows = [to_row[int(i)] for i in batch_dict["index"]]
        assert got_rows == ref.select(BATCH).tolist()
        _step(trainer, batch_dict, step)
        rows = torch.tensor(got_rows)
        succ = torch.tensor(
            [sum(reward(reported_index(r), k, step) for k in range(ROLLOUTS)) for r in got_rows],
            dtype=torch.float64,
        )
        order = torch.argsort(rows)
        ref.update(rows[order], succ[order], ROLLOUTS)
        assert torch.equal(sampler.selector.alpha, ref.alpha)
        assert torch.equal(sampler.selector.beta, ref.beta)


def test_save_and_resume_mid_epoch_bit_identical(data_dir, tmp_path):
    file = _parquet(data_dir)
    a = _trainer(file)
    stream_a, ckpt = [], os.path.join(tmp_path, "data.pt")
    for step, batch_dict in enumerate(a.train_dataloader):
        if step == 7:
            break
        stream_a.append([int(i) for i in batch_dict["index"]])
        _step(a, batch_dict, step)
        if step == 2:  # verl's _save_checkpoint: torch.save(train_dataloader.state_dict())
            torch.save(a.train_dataloader.state_dict(), ckpt)

    assert torch.load(ckpt, weights_only=True)  # plain data, loadable without pickle code
    b = _trainer(file)
    b.train_dataloader.load_state_dict(torch.load(ckpt, weights_only=False))  # as verl loads
    stream_b = []
    for step, batch_dict in zip(range(3, 7), b.train_dataloader, strict=False):
        stream_b.append([int(i) for i in batch_dict["index"]])
        _step(b, batch_dict, step)
    assert stream_b == stream_a[3:]
    sa, sb = a.train_dataloader.sampler.selector, b.train_dataloader.sampler.selector
    assert torch.equal(sa.alpha, sb.alpha) and torch.equal(sa.beta, sb.beta)


def test_feedback_lands_on_the_rows_of_extra_info_index(data_dir):
    file = _parquet(data_dir)
    trainer = _trainer(file, decay=1.0)
    batch_dict = next(iter(trainer.train_dataloader))
    _step(trainer, batch_dict, 0)
    sel = trainer.train_dataloader.sampler.selector
    for idx in batch_dict["index"]:
        row = (int(idx) - 1000) // 7 * pow(13, -1, N_PROMPTS) % N_PROMPTS
        assert reported_index(row) == int(idx)
        wins = sum(reward(int(idx), k, 0) for k in range(ROLLOUTS))
        assert float(sel.alpha[row]) == 1.0 + wins
        assert float(sel.beta[row]) == 1.0 + ROLLOUTS - wins
    assert float((sel.alpha + sel.beta - 2).sum()) == BATCH * ROLLOUTS


def test_missing_extra_info_index_fails_loudly(data_dir):
    file = _parquet(data_dir, with_index=False)
    with pytest.raises(InputError, match=r"extra_info\.index"):
        _trainer(file)


def test_mixin_feeds_before_the_actor_update_and_only_once(data_dir):
    file = _parquet(data_dir)
    trainer = _trainer(file, decay=1.0)
    batch_dict = next(iter(trainer.train_dataloader))
    batch = DataProto.from_single_dict(batch_dict)
    batch.non_tensor_batch["uid"] = np.array([f"u{j}" for j in range(len(batch))], dtype=object)
    batch = batch.repeat(repeat_times=ROLLOUTS, interleave=True)
    batch.batch["token_level_scores"] = torch.ones(len(batch), T) / T  # reward 1 per response
    sel = trainer.train_dataloader.sampler.selector
    # verl's real _update_actor cannot run without workers; the feedback must already be in
    with pytest.raises(Exception):  # noqa: B017
        trainer._update_actor(batch)
    fed = float((sel.alpha - 1).sum())
    assert fed == BATCH * ROLLOUTS
    trainer.train_dataloader.sampler.update(batch=batch)  # the 0.6/0.7 hook, same batch
    assert float((sel.alpha - 1).sum()) == fed


def test_rollouts_from_batch_reads_non_tensor_rewards(data_dir):
    file = _parquet(data_dir)
    trainer = _trainer(file)
    batch = DataProto.from_single_dict(next(iter(trainer.train_dataloader)))
    batch.non_tensor_batch["acc"] = np.array([1.0, 0.0, 1.0, 1.0])
    idx, r = mv.rollouts_from_batch(batch, reward_key="acc")
    assert r.tolist() == [1.0, 0.0, 1.0, 1.0] and len(idx) == BATCH
    with pytest.raises(InputError, match="reward_key"):
        mv.rollouts_from_batch(batch, reward_key="nope")


def test_task_runner_wraps_verls_own_runner():
    import importlib

    try:
        module = importlib.import_module("verl.trainer.main_ppo_v0")  # 0.9.x
    except ImportError:
        module = importlib.import_module("verl.trainer.main_ppo")  # 0.7 / 0.8
    # the two names the runner swaps inside its actor must exist upstream
    assert callable(module.create_rl_sampler) and module.RayPPOTrainer is RayPPOTrainer
    runner = mv.mopps_task_runner()  # a Ray actor class; Ray itself is not started
    cls = runner.__ray_actor_class__
    base = getattr(module.TaskRunner, "__ray_actor_class__", module.TaskRunner)
    assert issubclass(cls, base) and cls.run is not base.run
    assert issubclass(mv.MoPPSRayPPOTrainer, RayPPOTrainer)


class _NoGPUWorkers:
    """Stands in for the actor worker group (GPU processes, not available here): it only
    receives the save/load calls. Everything else in the checkpoint path is verl's code."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def save_checkpoint(self, local_path, *args, **kwargs):
        self.calls.append(f"save {os.path.basename(os.path.dirname(local_path))}")

    def load_checkpoint(self, local_path, *args, **kwargs):
        self.calls.append(f"load {os.path.basename(os.path.dirname(local_path))}")


def _with_checkpointing(trainer, ckpt_dir: str):
    extra = {
        "trainer": {
            "default_local_dir": ckpt_dir, "default_hdfs_dir": None, "resume_mode": "auto",
            "resume_from_path": None, "del_local_ckpt_after_load": False,
            "max_actor_ckpt_to_keep": None, "max_critic_ckpt_to_keep": None,
            "remove_previous_ckpt_in_save": False,
        },
        "actor_rollout_ref": {"actor": {"checkpoint": {"async_save": False}}},
    }
    with open_dict(trainer.config):  # verl's _create_dataloader made the config struct
        trainer.config.merge_with(extra)
    trainer.actor_rollout_wg, trainer.use_critic, trainer.global_steps = _NoGPUWorkers(), False, 0
    return trainer


def test_verls_own_checkpoint_save_and_resume(data_dir, tmp_path):
    """fit()'s order per step: feedback (mixin, before the actor update), then
    _save_checkpoint; a new trainer's _load_checkpoint (resume_mode=auto) restores the
    sampler from global_step_N/data.pt and continues with the same prompts."""
    file, ckpt = _parquet(data_dir), str(tmp_path / "ckpt")
    a = _with_checkpointing(_trainer(file), ckpt)
    stream_a = []
    for step, batch_dict in enumerate(a.train_dataloader, start=1):
        if step == 8:
            break
        a.global_steps = step
        stream_a.append([int(i) for i in batch_dict["index"]])
        batch = _step_batch(batch_dict, step)
        a._mopps_feed(batch)  # what MoPPSTrainerMixin._update_actor does first
        if step == 3:
            a._save_checkpoint()
    assert os.path.isfile(os.path.join(ckpt, "global_step_3", "data.pt"))

    b = _with_checkpointing(_trainer(file), ckpt)
    b._load_checkpoint()
    assert b.global_steps == 3 and b.actor_rollout_wg.calls == ["load global_step_3"]
    stream_b = []
    for step, batch_dict in zip(range(4, 8), b.train_dataloader, strict=False):
        stream_b.append([int(i) for i in batch_dict["index"]])
        b._mopps_feed(_step_batch(batch_dict, step))
    assert stream_b == stream_a[3:]
    sa, sb = a.train_dataloader.sampler.selector, b.train_dataloader.sampler.selector
    assert torch.equal(sa.alpha, sb.alpha) and torch.equal(sa.beta, sb.beta)


def _step_batch(batch_dict, step: int) -> DataProto:
    batch = DataProto.from_single_dict(batch_dict)
    batch.non_tensor_batch["uid"] = np.array([f"s{step}-p{j}" for j in range(len(batch))],
                                             dtype=object)
    batch = batch.repeat(repeat_times=ROLLOUTS, interleave=True)
    scores = torch.zeros(len(batch), T)
    for j, idx in enumerate(batch.non_tensor_batch["index"].tolist()):
        scores[j, -1] = reward(int(idx), j % ROLLOUTS, step)
    batch.batch["token_level_scores"] = scores
    return batch
