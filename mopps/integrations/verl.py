"""MoPPS prompt selection inside verl's PPO/GRPO trainer (``RayPPOTrainer``).

Two ways in, depending on the verl release (see ``docs/guides/rl-prompt-sampling.md``):

- **verl 0.6 / 0.7, config only.** Their ``create_rl_sampler`` loads
  ``data.sampler.class_path`` / ``data.sampler.class_name`` and the trainer calls
  ``sampler.update(batch=batch)`` after every step. Point them at
  [`MoPPSCurriculumSampler`][mopps.integrations.verl.MoPPSCurriculumSampler]
  (``pkg://mopps.integrations.verl``). In those releases the checkpoint of step ``t`` is written
  *before* the hook feeds step ``t`` back, so a resumed run misses that one step of feedback;
  [`MoPPSTrainerMixin`][mopps.integrations.verl.MoPPSTrainerMixin] fixes it.
- **verl 0.7 / 0.8 / 0.9.x legacy trainer** (on 0.9 ``trainer.use_v1=False``; 0.8 and 0.9
  have no sampler hook, ``RayPPOTrainer`` takes ``train_sampler``): build the sampler with
  [`make_sampler`][mopps.integrations.verl.make_sampler] and the trainer with ``MoPPSRayPPOTrainer``
  (``RayPPOTrainer`` + [`MoPPSTrainerMixin`][mopps.integrations.verl.MoPPSTrainerMixin]), which
  feeds each step's rewards back before the actor/critic update, hence before the checkpoint.
  [`mopps_task_runner`][mopps.integrations.verl.mopps_task_runner] gives a verl ``TaskRunner`` that
  does both. verl 0.9's default V1 trainer (``trainer.use_v1=True``, TransferQueue + replay buffer)
  is not supported.

Rows: verl's ``RLHFDataset`` puts each row's ``extra_info.index`` into
``batch.non_tensor_batch["index"]`` and silently uses 0 when it is missing. The sampler
yields dataset *rows*; [`IndexMap`][mopps.integrations.verl.IndexMap] maps ``extra_info.index`` back
to rows explicitly and refuses datasets in which every index is 0 or an index repeats.

Options (all optional) live under ``data.mopps`` (``+data.mopps.KEY=VALUE`` on the command
line): ``target`` (0.5), ``decay`` (1.0), ``strategy`` ("topk"), ``prior`` ([1, 1]),
``band`` ([0.3, 0.7]), ``seed`` (``data.seed`` or 0), ``success_threshold`` (null: rewards
in [0, 1]), ``reward_key`` ("token_level_scores"; a tensor key, summed over tokens, or a
``non_tensor_batch`` key such as "acc"), ``index_key`` ("index"), ``history_blocks`` (2).
The batch size is ``data.gen_batch_size`` or ``data.train_batch_size``; the dataloader
must run with ``data.dataloader_num_workers=0`` so that each batch is pulled after the
previous step's feedback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from lowswitch.errors import InputError
from mopps.sampler import MoPPSSampler
from mopps.selector import PromptSelector

__all__ = [
    "IndexMap",
    "MoPPSTrainerMixin",
    "VerlMoPPSSampler",
    "dataset_index_ids",
    "make_sampler",
    "mopps_task_runner",
    "rollouts_from_batch",
]

_DEFAULTS: dict[str, Any] = {
    "target": 0.5,
    "decay": 1.0,
    "strategy": "topk",
    "prior": (1.0, 1.0),
    "band": (0.3, 0.7),
    "seed": None,
    "success_threshold": None,
    "reward_key": "token_level_scores",
    "index_key": "index",
    "history_blocks": 2,
}


def _cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    getter = getattr(cfg, "get", None)
    return getter(key, default) if getter is not None else getattr(cfg, key, default)


def mopps_options(data_config: Any) -> dict[str, Any]:
    """The ``data.mopps`` options merged over the defaults (unknown keys are an error).

    Example:
        >>> mopps_options({"mopps": {"decay": 0.5}})["decay"]
        0.5
    """
    given = _cfg_get(data_config, "mopps", None) or {}
    given = dict(given.items()) if hasattr(given, "items") else dict(given)
    unknown = sorted(set(given) - set(_DEFAULTS))
    if unknown:
        raise InputError(
            f"data.mopps: unknown keys {unknown}; expected some of {sorted(_DEFAULTS)}"
        )
    out = dict(_DEFAULTS)
    out.update(given)
    if out["seed"] is None:
        seed = _cfg_get(data_config, "seed", None)
        out["seed"] = 0 if seed is None else int(seed)
    return out


def dataset_index_ids(dataset: Any, index_key: str = "index") -> torch.Tensor:
    """``extra_info[index_key]`` of every dataset row, as verl will report it (0 if missing).

    Reads the ``extra_info`` column of an ``RLHFDataset``'s ``dataframe`` without
    tokenising; other datasets are indexed row by row (``dataset[i][index_key]``).

    Args:
        dataset: verl ``RLHFDataset`` (or any sized dataset of dicts).
        index_key: key inside ``extra_info``.

    Returns:
        ``(n,)`` int64, entry ``r`` = the index verl reports for row ``r``.

    Example:
        >>> dataset_index_ids([{"index": 7}, {"index": 3}]).tolist()
        [7, 3]
    """
    frame = getattr(dataset, "dataframe", None)
    if frame is not None and hasattr(frame, "column_names"):
        n = len(frame)
        if "extra_info" not in frame.column_names:
            return torch.zeros(n, dtype=torch.int64)
        column = frame.select_columns(["extra_info"])["extra_info"]
        values = [int((e or {}).get(index_key, 0) or 0) for e in column]
        return torch.as_tensor(np.asarray(values, dtype=np.int64))
    values = []
    for i in range(len(dataset)):
        row = dataset[i]
        values.append(int(row.get(index_key, 0) or 0) if isinstance(row, Mapping) else 0)
    return torch.tensor(values, dtype=torch.int64)


class IndexMap:
    """Explicit map from verl's ``extra_info.index`` values to dataset rows.

    Args:
        ids: ``(n,)`` the index of each row (see
            [`dataset_index_ids`][mopps.integrations.verl.dataset_index_ids]).

    Raises:
        InputError: every index is 0 (``extra_info.index`` missing: verl would report 0 for
            every prompt and all feedback would land on one row), or an index repeats.

    Example:
        >>> m = IndexMap(torch.tensor([10, 30, 20]))
        >>> m.rows(torch.tensor([20, 10, 20])).tolist()
        [2, 0, 2]
    """

    def __init__(self, ids: torch.Tensor) -> None:
        ids = torch.as_tensor(ids, dtype=torch.int64).reshape(-1)
        n = ids.numel()
        if n > 1 and bool((ids == 0).all()):
            raise InputError(
                "extra_info.index: every one of the dataset's rows reports index 0, so verl "
                "cannot tell prompts apart in the batch (the field is probably missing). Store "
                "a distinct extra_info={'index': i} in every row when preparing the parquet."
            )
        self.n_rows = n
        self.identity = bool(torch.equal(ids, torch.arange(n)))
        self._sorted, self._order = torch.sort(ids)
        dup = (self._sorted[1:] == self._sorted[:-1]).nonzero()
        if dup.numel() > 0:
            value = int(self._sorted[int(dup[0, 0])])
            raise InputError(
                f"extra_info.index: expected distinct values per row, value {value} repeats"
            )

    def rows(self, ids: Any) -> torch.Tensor:
        """``(m,)`` dataset rows of ``(m,)`` reported indices (InputError on unknown ones)."""
        q = torch.as_tensor(np.asarray(ids, dtype=np.int64)).reshape(-1)
        if self.identity:
            if q.numel() and (int(q.min()) < 0 or int(q.max()) >= self.n_rows):
                raise InputError(f"index: expected values in [0, {self.n_rows}), got {q.tolist()}")
            return q
        pos = torch.searchsorted(self._sorted, q).clamp(max=max(self.n_rows - 1, 0))
        found = self._sorted[pos] == q
        if not bool(found.all()):
            raise InputError(
                f"index: value {int(q[~found][0])} is not the extra_info.index of any row"
            )
        return self._order[pos]


def rollouts_from_batch(
    batch: Any, reward_key: str = "token_level_scores", index_key: str = "index"
) -> tuple[np.ndarray, torch.Tensor]:
    """Per-response ``(reported index, scalar reward)`` from a verl ``DataProto``.

    Args:
        batch: ``DataProto`` after reward computation (one row per response).
        reward_key: a key of ``batch.batch`` (``(n, T)`` token-level, summed over ``T``, or
            ``(n,)``) or of ``batch.non_tensor_batch`` (``(n,)`` numbers, e.g. ``"acc"``).
        index_key: key of ``batch.non_tensor_batch`` with the reported prompt index.

    Returns:
        ``(n,)`` int64 numpy indices and ``(n,)`` float64 rewards.

    Raises:
        InputError: a key is missing, or every index is 0 in a batch of several responses
            from different prompts (uids).

    Example:
        ```python
        # inside a verl trainer step, after the reward function has run:
        rows, rewards = rollouts_from_batch(batch)            # token_level_scores summed
        rows, acc = rollouts_from_batch(batch, reward_key="acc")
        ```
    """
    ntb = batch.non_tensor_batch
    if index_key not in ntb:
        raise InputError(
            f"batch.non_tensor_batch[{index_key!r}]: missing; keys are {sorted(ntb)}"
        )
    idx = np.asarray(ntb[index_key], dtype=np.int64).reshape(-1)
    tensors = batch.batch
    # TensorDict refuses `key in td`; ask its keys()
    if tensors is not None and reward_key in tensors.keys():  # noqa: SIM118
        r = torch.as_tensor(tensors[reward_key]).detach().to("cpu", torch.float64)
        r = r.sum(-1) if r.dim() > 1 else r
    elif reward_key in ntb:
        r = torch.as_tensor(np.asarray(ntb[reward_key], dtype=np.float64)).reshape(-1)
    else:
        keys = sorted(tensors.keys()) if tensors is not None else []
        raise InputError(
            f"reward_key: {reward_key!r} is in neither batch.batch ({keys}) nor "
            f"batch.non_tensor_batch ({sorted(ntb)})"
        )
    if r.numel() != idx.size:
        raise InputError(f"{reward_key}: expected {idx.size} rewards, got {r.numel()}")
    uids = ntb.get("uid")
    if idx.size > 1 and not idx.any() and (uids is None or len(set(uids.tolist())) > 1):
        raise InputError(
            f"batch.non_tensor_batch[{index_key!r}]: every response reports index 0; the "
            "dataset rows lack extra_info.index, so the feedback cannot be attributed"
        )
    return idx, r


class VerlMoPPSSampler(Sampler[int]):
    """A [`MoPPSSampler`][mopps.MoPPSSampler] that also reads verl ``DataProto`` feedback.

    Args:
        data_source: the training dataset (verl ``RLHFDataset``).
        data_config: verl's ``data`` config (``train_batch_size``, ``gen_batch_size``,
            ``seed``, ``dataloader_num_workers``, and the optional ``mopps`` options).

    Example:
        >>> rows = [{"index": 100 + i} for i in range(8)]
        >>> s = VerlMoPPSSampler(rows, {"train_batch_size": 2, "dataloader_num_workers": 0})
        >>> len(s), s.index_map.rows([103]).tolist()
        (8, [3])
    """

    def __init__(self, data_source: Sized, data_config: Any) -> None:
        opts = mopps_options(data_config)
        workers = _cfg_get(data_config, "dataloader_num_workers", 0)
        if workers not in (0, None):
            raise InputError(
                f"data.dataloader_num_workers: expected 0 for a feedback-driven sampler "
                f"(workers would prefetch batches before the feedback), got {workers}"
            )
        batch_size = _cfg_get(data_config, "gen_batch_size", None) or _cfg_get(
            data_config, "train_batch_size", None
        )
        if batch_size is None:
            raise InputError("data.train_batch_size: missing from the data config")
        self.index_map = IndexMap(dataset_index_ids(data_source, opts["index_key"]))
        selector = PromptSelector(
            len(data_source),
            target=float(opts["target"]),
            decay=float(opts["decay"]),
            prior=(float(opts["prior"][0]), float(opts["prior"][1])),
            strategy=str(opts["strategy"]),
            seed=int(opts["seed"]),
            band=(float(opts["band"][0]), float(opts["band"][1])),
        )
        self.sampler = MoPPSSampler(
            selector, int(batch_size), history_blocks=int(opts["history_blocks"])
        )
        self.reward_key: str = str(opts["reward_key"])
        self.index_key: str = str(opts["index_key"])
        threshold = opts["success_threshold"]
        self.success_threshold = None if threshold is None else float(threshold)
        self._last_uid: str | None = None

    @property
    def selector(self) -> PromptSelector:
        """The underlying [`PromptSelector`][mopps.PromptSelector]."""
        return self.sampler.selector

    def __iter__(self) -> Iterator[int]:
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)

    def update(self, batch: Any) -> None:
        """Feed one step's rewards back (verl's curriculum-sampler call).

        The same batch given twice (same first ``uid``: the trainer mixin feeds it and the
        verl 0.6/0.7 hook feeds it again) is counted once.
        """
        uids = batch.non_tensor_batch.get("uid")
        token = None if uids is None or len(uids) == 0 else str(uids[0])
        if token is not None and token == self._last_uid:
            return
        idx, rewards = rollouts_from_batch(batch, self.reward_key, self.index_key)
        rows = self.index_map.rows(idx)
        self.sampler.update_from_rollouts(rows, rewards, self.success_threshold)
        self._last_uid = token

    def state_dict(self) -> dict[str, Any]:
        """Sampler state (with the selector and its RNG) plus the last fed batch's uid."""
        return {"mopps": self.sampler.state_dict(), "last_uid": self._last_uid}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict``; the next iterator continues mid-epoch."""
        if not isinstance(state, dict) or "mopps" not in state:
            raise InputError("state: expected a dict from VerlMoPPSSampler.state_dict")
        self.sampler.load_state_dict(state["mopps"])
        self._last_uid = state.get("last_uid")


def make_sampler(data_config: Any, dataset: Sized) -> VerlMoPPSSampler:
    """Build the verl sampler (same call shape as verl's ``create_rl_sampler``).

    On verl 0.6/0.7 this returns a
    [`MoPPSCurriculumSampler`][mopps.integrations.verl.MoPPSCurriculumSampler] (so the built-in hook
    also drives it), elsewhere a [`VerlMoPPSSampler`][mopps.integrations.verl.VerlMoPPSSampler].

    Example:
        >>> s = make_sampler({"train_batch_size": 2}, [{"index": i + 1} for i in range(4)])
        >>> len(s)
        4
    """
    cls = _CURRICULUM or VerlMoPPSSampler
    return cls(dataset, data_config)


_CURRICULUM: type[VerlMoPPSSampler] | None = None

try:  # verl 0.6 / 0.7: the curriculum-sampler hook
    from verl.experimental.dataset.sampler import (  # type: ignore[import-not-found]
        AbstractCurriculumSampler as _AbstractCurriculumSampler,
    )
except ImportError:  # verl 0.9+ (no hook) or verl not installed
    pass
else:

    class MoPPSCurriculumSampler(  # type: ignore[misc]
        VerlMoPPSSampler, _AbstractCurriculumSampler
    ):
        """[`VerlMoPPSSampler`][mopps.integrations.verl.VerlMoPPSSampler] registered as a verl
        0.6/0.7 curriculum sampler.

        Config: ``data.sampler.class_path=pkg://mopps.integrations.verl``,
        ``data.sampler.class_name=MoPPSCurriculumSampler``, ``data.dataloader_num_workers=0``.
        """

    _CURRICULUM = MoPPSCurriculumSampler
    __all__.append("MoPPSCurriculumSampler")


class MoPPSTrainerMixin:
    """Feeds each step's rewards to the MoPPS sampler before the actor/critic update.

    Mix in front of verl's ``RayPPOTrainer`` (0.7.x, 0.9.x legacy trainer): the first of
    ``_update_critic`` / ``_update_actor`` called in a step hands the batch (rewards
    computed, ``index`` per response) to ``self.train_dataloader.sampler.update``. That is
    before the step's checkpoint is written, so a resumed run continues from exactly the
    posterior the uninterrupted run had. Does nothing when the sampler is not a
    [`VerlMoPPSSampler`][mopps.integrations.verl.VerlMoPPSSampler].

    Example:
        ```python
        from verl.trainer.ppo.ray_trainer import RayPPOTrainer
        from mopps.integrations.verl import MoPPSTrainerMixin, make_sampler

        class Trainer(MoPPSTrainerMixin, RayPPOTrainer):
            pass

        trainer = Trainer(config=config, ..., train_sampler=make_sampler(config.data, dataset))
        ```
    """

    def _mopps_feed(self, batch: Any) -> None:
        sampler = getattr(getattr(self, "train_dataloader", None), "sampler", None)
        if isinstance(sampler, VerlMoPPSSampler):
            sampler.update(batch)

    def _update_critic(self, batch: Any) -> Any:
        self._mopps_feed(batch)
        return super()._update_critic(batch)  # type: ignore[misc]

    def _update_actor(self, batch: Any) -> Any:
        self._mopps_feed(batch)
        return super()._update_actor(batch)  # type: ignore[misc]


def __getattr__(name: str) -> Any:
    if name == "MoPPSRayPPOTrainer":
        from verl.trainer.ppo.ray_trainer import RayPPOTrainer  # type: ignore[import-not-found]

        cls = type(
            "MoPPSRayPPOTrainer",
            (MoPPSTrainerMixin, RayPPOTrainer),
            {"__doc__": "verl RayPPOTrainer with MoPPS reward feedback (MoPPSTrainerMixin)."},
        )
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mopps_task_runner() -> Any:
    """verl's own PPO ``TaskRunner`` (a Ray actor class) training with MoPPS (verl 0.7-0.9).

    Inside its own Ray actor process it swaps the two module-level names that verl's
    ``TaskRunner.run`` uses (``verl.trainer.main_ppo_v0`` on 0.9.x, ``verl.trainer.main_ppo``
    on 0.7/0.8): ``create_rl_sampler`` -> [`make_sampler`][mopps.integrations.verl.make_sampler] and
    ``RayPPOTrainer`` -> ``MoPPSRayPPOTrainer``, then runs verl's ``run``. Pass it to verl's
    ``run_ppo(config, task_runner_class=mopps_task_runner())``; on 0.9 set ``trainer.use_v1=False``.

    Example:
        ```python
        from verl.trainer.main_ppo import run_ppo
        from mopps.integrations.verl import mopps_task_runner

        run_ppo(config, task_runner_class=mopps_task_runner())  # config.trainer.use_v1=False
        ```
    """
    import importlib

    import ray  # type: ignore[import-not-found]

    module: Any
    try:
        module = importlib.import_module("verl.trainer.main_ppo_v0")  # 0.9.x
    except ImportError:
        module = importlib.import_module("verl.trainer.main_ppo")  # 0.7 / 0.8
    runner = module.TaskRunner
    base = getattr(runner, "__ray_actor_class__", runner)
    trainer_cls = __getattr__("MoPPSRayPPOTrainer")

    class MoPPSTaskRunner(base):  # type: ignore[misc,valid-type]
        def run(self, config: Any) -> Any:
            saved = module.create_rl_sampler, module.RayPPOTrainer
            module.create_rl_sampler, module.RayPPOTrainer = make_sampler, trainer_cls
            try:
                return super().run(config)
            finally:
                module.create_rl_sampler, module.RayPPOTrainer = saved

    return ray.remote(num_cpus=1)(MoPPSTaskRunner)
