"""``Campaign``: a wet-lab optimisation campaign kept in a database.

A campaign is a finite table of allowed conditions (a candidates CSV, as in high-throughput
screens), an objective to maximise or minimise, and a low-switch policy that fills plates
with a few distinct conditions, each replicated. Nothing lives in memory between calls:
every :meth:`Campaign.suggest` rebuilds the policy from the stored rows (deterministic given
the seed and the rows) inside one transaction that locks the campaign, and every
:meth:`Campaign.record` validates a whole results table and stores it in one transaction,
or stores nothing. Any process, on any day, can continue a campaign.

Accounting (see :meth:`Campaign.status`):

* an *experiment* is one well; its status is ``pending`` until recorded, then ``done`` or
  ``failed`` (a failed well is not a measurement of zero and never reaches the GP);
* a *switch* is one block: a (plate, condition) pair, i.e. one set-up of a condition;
* *replicates* of a condition are its successful measurements (re-measurements included).

Example:
    >>> import pandas as pd
    >>> cands = pd.DataFrame({"base": list("ABCDEF") * 2, "T": [20] * 6 + [40] * 6})
    >>> camp = Campaign.create("sqlite://", "demo", cands, inputs=["base", "T"],
    ...                        objective="yield", initial_conditions=3)
    >>> plate = camp.suggest(slots=6)
    >>> plate.columns.tolist()
    ['experiment_id', 'plate', 'block', 'replicate', 'base', 'T', 'yield']
    >>> plate["yield"] = [10, 11, 50, 52, 30, "failed"]
    >>> camp.record(plate)
    {'measured': 5, 'failed': 1, 'skipped': 0}
    >>> camp.status()["experiments"]
    {'pending': 0, 'done': 5, 'failed': 1}
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, func, select, update

from lowswitch.campaign import summaries
from lowswitch.campaign.storage import (
    Storage,
    campaigns_table,
    candidates_table,
    debug_pause,
    experiments_table,
    fits_table,
    imports_table,
    lock_campaign,
    measurements_table,
    now,
    read_campaign,
)
from lowswitch.campaign.summaries import observations
from lowswitch.campaign.tables import (
    check_column_names,
    parse_history,
    parse_results,
    read_csv_text,
    validate_candidates,
)
from lowswitch.errors import InputError

if TYPE_CHECKING:  # torch and the GP stack load only when a command plans or fits
    import torch

    from lowswitch.campaign.planner import PlanConfig
    from lowswitch.space import Space

DIRECTIONS = ("maximize", "minimize")


def _storage(storage: str | os.PathLike[str] | Storage, create: bool = True) -> Storage:
    return storage if isinstance(storage, Storage) else Storage(storage, create=create)


class Campaign:
    """Handle on a stored campaign (cheap; holds only the storage and the candidate table).

    Create one with :meth:`create`, reopen it anywhere with :meth:`open`.

    Example:
        >>> import pandas as pd
        >>> c = Campaign.create("sqlite://", "c1", pd.DataFrame({"x": ["a", "b"]}),
        ...                     inputs=["x"], objective="y")
        >>> c.name, c.inputs, c.objective, c.direction
        ('c1', ['x'], 'y', 'maximize')
    """

    def __init__(self, storage: str | os.PathLike[str] | Storage, name: str) -> None:
        self.storage = _storage(storage, create=False)
        self.name = name
        with self.storage.engine.connect() as conn:
            row = read_campaign(conn, name)
            self.id: int = row["id"]
            self.config: dict[str, Any] = row["config"]
            values = conn.execute(
                select(candidates_table.c.data)
                .where(candidates_table.c.campaign_id == self.id)
                .order_by(candidates_table.c.idx)
            ).scalars()
            self.candidates: list[dict[str, Any]] = [json.loads(v) for v in values]
        self.inputs: list[str] = list(self.config["inputs"])
        self.objective: str = self.config["objective"]
        self.direction: str = self.config["direction"]
        self._X: torch.Tensor | None = None
        self._allowed = {c: {row[c] for row in self.candidates} for c in self.inputs}

    @cached_property
    def plan_config(self) -> PlanConfig:
        """The stored planner settings."""
        from lowswitch.campaign.planner import PlanConfig

        return PlanConfig(**self.config["plan"])

    @cached_property
    def space(self) -> Space:
        """The stored search space that encodes the candidates."""
        from lowswitch.space import Space

        return Space.from_dict(self.config["space"])

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        storage: str | os.PathLike[str] | Storage,
        name: str,
        candidates: pd.DataFrame | str | os.PathLike[str] | Space,
        inputs: Sequence[str],
        objective: str,
        direction: str = "maximize",
        seed: int = 0,
        descriptors: Sequence[str] = (),
        policy: str = "ucb",
        switch_threshold: float = 2.0,
        max_repeats: int | None = None,
        max_conditions: int | None = None,
        initial_conditions: int = 8,
        float_levels: int = 11,
    ) -> Campaign:
        """Create a campaign from a candidate table (or a search space) and store it.

        Args:
            storage: database URL, file path (SQLite) or :class:`Storage`.
            name: campaign name, unique in the storage.
            candidates: table (or CSV path) of allowed conditions, or a
                :class:`~lowswitch.space.Space`: every combination of its values becomes a
                candidate (``Float`` parameters on ``float_levels`` evenly spaced levels of
                their (log-)range; see :func:`lowswitch.campaign.encoding.space_rows`), and
                the space's own encoding is used.
            inputs: condition columns of the table (for a space: its names, in order).
            objective: name of the measured quantity (a column of results files).
            direction: ``"maximize"`` or ``"minimize"``.
            seed: seed of the campaign (initial design, policy randomness).
            descriptors: numeric columns of the table that encode the categorical input they
                belong to (see :mod:`lowswitch.campaign.encoding`); other categoricals are
                one-hot.
            policy: ``"ucb"`` (default), ``"ei"``, ``"ts"`` or ``"random"``.
            switch_threshold: C of the switch rule; 1.0 = one well per decision.
            max_repeats: cap on replicates per block.
            max_conditions: cap on distinct conditions per plate.
            initial_conditions: distinct conditions of the initial random design.
            float_levels: levels per ``Float`` parameter when ``candidates`` is a space.

        Returns:
            The new campaign.

        Raises:
            InputError: bad table or settings, or a campaign of that name exists already.
        """
        from lowswitch.campaign.encoding import space_rows, table_space
        from lowswitch.campaign.planner import PlanConfig
        from lowswitch.space import Space

        if direction not in DIRECTIONS:
            raise InputError(f"direction: expected one of {DIRECTIONS}, got {direction!r}")
        if not name or len(name) > 200:
            raise InputError(f"name: expected 1-200 characters, got {name!r}")
        check_column_names(list(inputs), list(descriptors), objective)
        if isinstance(candidates, Space):
            space = candidates
            if list(inputs) != space.names:
                raise InputError(f"inputs: expected the space's names {space.names}, got "
                                 f"{list(inputs)}")
            rows = space_rows(space, float_levels)
        else:
            frame = (
                read_csv_text(candidates, "candidates")
                if not isinstance(candidates, pd.DataFrame)
                else candidates
            )
            rows = validate_candidates(frame, inputs, descriptors)
            space = table_space(rows, inputs, descriptors)
        plan = PlanConfig(
            policy=policy,
            switch_threshold=float(switch_threshold),
            maximize=direction == "maximize",
            seed=int(seed),
            max_repeats=max_repeats,
            max_conditions=max_conditions,
            initial_conditions=int(initial_conditions),
        )
        config = {
            "inputs": list(inputs),
            "objective": objective,
            "direction": direction,
            "descriptors": list(descriptors),
            "space": space.to_dict(),
            "plan": plan.to_dict(),
        }
        store = _storage(storage)
        with store.transaction() as conn:
            exists = conn.execute(
                select(campaigns_table.c.id).where(campaigns_table.c.name == name)
            ).scalar_one_or_none()
            if exists is not None:
                raise InputError(f"name: a campaign called {name!r} exists already")
            campaign_id = conn.execute(
                campaigns_table.insert().values(
                    name=name, config=json.dumps(config), created_at=now(), n_plates=0,
                    n_experiments=0,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                candidates_table.insert(),
                [
                    {"campaign_id": campaign_id, "idx": i, "data": json.dumps(row)}
                    for i, row in enumerate(rows)
                ],
            )
        return cls(store, name)

    @classmethod
    def open(cls, storage: str | os.PathLike[str] | Storage, name: str) -> Campaign:
        """Open a stored campaign (any process, any time)."""
        return cls(storage, name)

    # ------------------------------------------------------------------ reading
    @property
    def features(self) -> torch.Tensor:
        """(m, d) float64 encoded candidates (cached)."""
        if self._X is None:
            from lowswitch.campaign.encoding import encode_rows

            self._X = encode_rows(self.candidates, self.space)
        return self._X

    def _observations(self, conn: Connection) -> tuple[list[int], list[float]]:
        return observations(conn, self.id)

    def history(self) -> pd.DataFrame:
        """Every experiment with its measurements (see :func:`.summaries.history`)."""
        return summaries.history(self)

    def export_csv(self, path: str | os.PathLike[str], escape_formulas: bool = True) -> Path:
        """Write :meth:`history` to a CSV file (objective column named as in the campaign;
        formula cells neutralised unless ``escape_formulas`` is False)."""
        return summaries.export_csv(self, path, escape_formulas)

    # ------------------------------------------------------------------ planning
    def suggest(
        self, slots: int, deliver: Callable[[pd.DataFrame], None] | None = None
    ) -> pd.DataFrame:
        """Plan the next plate of ``slots`` wells and store it as pending experiments.

        One transaction: lock the campaign, read observations and pending wells, rebuild the
        policy, plan, insert the experiments.

        Args:
            slots: number of wells (>= 1).
            deliver: called with the plate inside the transaction, before it commits (e.g.
                to write the plate file); if it raises, nothing is stored.

        Returns:
            One row per well: experiment_id, plate, block, replicate, the input columns and an
            empty objective column (to be filled and passed to :meth:`record`).
        """
        from lowswitch.campaign.planner import Fit, plan_plate

        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise InputError(f"slots: expected an integer >= 1, got {slots!r}")
        X = self.features
        with self.storage.transaction() as conn:
            row = lock_campaign(conn, self.name)
            obs_idx, obs_y = self._observations(conn)
            state = conn.execute(
                select(experiments_table.c.candidate_idx, experiments_table.c.status)
                .where(experiments_table.c.campaign_id == self.id)
            ).all()
            pending = Counter(int(r[0]) for r in state if r[1] == "pending")
            last_plate_blocks = conn.execute(
                select(func.count(func.distinct(experiments_table.c.block)))
                .where(experiments_table.c.campaign_id == self.id)
                .where(experiments_table.c.plate == int(row["n_plates"]))
            ).scalar_one()
            handed_out = {int(r[0]) for r in state}
            plate = int(row["n_plates"]) + 1
            last = conn.execute(
                select(fits_table.c.n_observations, fits_table.c.n_unique, fits_table.c.hyper)
                .where(fits_table.c.campaign_id == self.id)
                .order_by(fits_table.c.id.desc())
                .limit(1)
            ).one_or_none()
            fit = None if last is None else Fit(int(last[0]), int(last[1]), json.loads(last[2]))
            blocks, new_fit = plan_plate(
                X, obs_idx, obs_y, pending, slots, self.plan_config, plate,
                handed_out=handed_out, bounds=self.space.bounds, fit=fit,
                expected_blocks=int(last_plate_blocks) + 1 if last_plate_blocks else None,
            )
            if new_fit is not None:
                conn.execute(fits_table.insert().values(
                    campaign_id=self.id, n_observations=new_fit.n_observations,
                    n_unique=new_fit.n_unique, hyper=json.dumps(new_fit.hyper), created_at=now(),
                ))
            number = int(row["n_experiments"])
            stamp = now()
            wells: list[dict[str, Any]] = []
            for b, block in enumerate(blocks, start=1):
                for rep in range(1, block.replicates + 1):
                    number += 1
                    wells.append({
                        "campaign_id": self.id, "number": number,
                        "candidate_idx": block.candidate, "plate": plate, "block": b,
                        "replicate": rep, "status": "pending", "created_at": stamp,
                    })
            conn.execute(experiments_table.insert(), wells)
            debug_pause("suggest")
            conn.execute(
                update(campaigns_table)
                .where(campaigns_table.c.id == self.id)
                .values(n_plates=plate, n_experiments=number)
            )
            frame = self._plate_frame(wells, plate)
            if deliver is not None:
                deliver(frame)
        return frame

    def _plate_frame(self, wells: list[dict[str, Any]], plate: int) -> pd.DataFrame:
        records = []
        for w in wells:
            rec: dict[str, Any] = {"experiment_id": w["number"], "plate": plate,
                                   "block": w["block"], "replicate": w["replicate"]}
            cand = self.candidates[int(w["candidate_idx"])]
            rec.update({c: cand[c] for c in self.inputs})
            rec[self.objective] = ""
            records.append(rec)
        return pd.DataFrame.from_records(
            records, columns=["experiment_id", "plate", "block", "replicate", *self.inputs,
                              self.objective]
        )

    def record(
        self, results: pd.DataFrame | str | os.PathLike[str], source: str | None = None
    ) -> dict[str, int]:
        """Store a results table (all of it, or nothing).

        Args:
            results: table or CSV path with ``experiment_id`` and the objective column
                (blank = not measured yet, ``failed`` = failed well); the other columns that
                ``suggest`` writes may be present and are checked.
            source: label stored with the import (default: the file name or ``"dataframe"``).

        Returns:
            Counts: measured (values stored), failed (failures stored), skipped (blank rows).

        Raises:
            InputError: the table is invalid (message names the row); nothing is stored.
        """
        if isinstance(results, pd.DataFrame):
            frame = results.astype(object).where(results.notna(), "").astype(str)
            label = source or "dataframe"
        else:
            frame = read_csv_text(results, "results")
            label = source or str(results)
        with self.storage.transaction() as conn:
            lock_campaign(conn, self.name)
            exps = conn.execute(
                select(experiments_table.c.number, experiments_table.c.id,
                       experiments_table.c.candidate_idx, experiments_table.c.status,
                       experiments_table.c.plate, experiments_table.c.block,
                       experiments_table.c.replicate)
                .where(experiments_table.c.campaign_id == self.id)
            ).all()
            by_number = {int(e[0]): e for e in exps}
            conditions = {n: self.candidates[int(e[2])] for n, e in by_number.items()}
            placement = {n: (int(e[4]), int(e[5]), int(e[6])) for n, e in by_number.items()}
            parsed = parse_results(frame, self.objective, self.inputs, conditions, self._allowed,
                                   placement)
            stamp = now()
            import_id = conn.execute(
                imports_table.insert().values(
                    campaign_id=self.id, source=label, n_rows=len(parsed), created_at=stamp
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            rows = [
                {"campaign_id": self.id, "experiment_id": by_number[r.experiment][1],
                 "import_id": import_id, "value": r.value, "failed": r.failed,
                 "recorded_at": stamp}
                for r in parsed
            ]
            half = len(rows) // 2
            if rows[:half]:
                conn.execute(measurements_table.insert(), rows[:half])
            debug_pause("record")
            if rows[half:]:
                conn.execute(measurements_table.insert(), rows[half:])
            done = sorted({by_number[r.experiment][1] for r in parsed if not r.failed})
            failed = sorted(
                {by_number[r.experiment][1] for r in parsed
                 if r.failed and by_number[r.experiment][3] != "done"} - set(done)
            )
            for ids, status in ((done, "done"), (failed, "failed")):
                for start in range(0, len(ids), 500):
                    conn.execute(
                        update(experiments_table)
                        .where(experiments_table.c.id.in_(ids[start:start + 500]))
                        .values(status=status)
                    )
        n_failed = sum(r.failed for r in parsed)
        return {"measured": len(parsed) - n_failed, "failed": n_failed,
                "skipped": len(frame) - len(parsed)}

    def import_history(
        self, history: pd.DataFrame | str | os.PathLike[str], source: str | None = None
    ) -> dict[str, int]:
        """Import measurements made outside the plan (earlier screens, literature).

        One transaction, all rows or none. The rows become one *imported plate* (the next
        plate number; one block per distinct condition) of done/failed experiments, so they
        count in the accounting like planned wells.

        Args:
            history: table or CSV path with exactly the input columns and the objective
                (a number, ``failed``, or blank = skipped).
            source: label stored with the import.

        Returns:
            Counts: measured, failed, skipped.

        Raises:
            InputError: bad table (message names the row); nothing is stored.
        """
        if isinstance(history, pd.DataFrame):
            frame = history.astype(object).where(history.notna(), "").astype(str)
            label = source or "history dataframe"
        else:
            frame = read_csv_text(history, "history")
            label = source or str(history)
        rows = parse_history(frame, self.objective, self.inputs, self.candidates)
        with self.storage.transaction() as conn:
            camp = lock_campaign(conn, self.name)
            plate = int(camp["n_plates"]) + 1
            number = int(camp["n_experiments"])
            stamp = now()
            import_id = conn.execute(
                imports_table.insert().values(
                    campaign_id=self.id, source=label, n_rows=len(rows), created_at=stamp
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            blocks: dict[int, int] = {}
            reps: Counter[int] = Counter()
            wells = []
            for cand, _ in rows:
                number += 1
                blocks.setdefault(cand, len(blocks) + 1)
                reps[cand] += 1
                wells.append({
                    "campaign_id": self.id, "number": number, "candidate_idx": cand,
                    "plate": plate, "block": blocks[cand], "replicate": reps[cand],
                    "status": "done", "created_at": stamp,
                })
            for well, (_, value) in zip(wells, rows, strict=True):
                well["status"] = "failed" if value is None else "done"
            if wells:
                conn.execute(experiments_table.insert(), wells)
                ids = dict(conn.execute(
                    select(experiments_table.c.number, experiments_table.c.id)
                    .where(experiments_table.c.campaign_id == self.id)
                    .where(experiments_table.c.plate == plate)
                ).all())
                conn.execute(measurements_table.insert(), [
                    {"campaign_id": self.id, "experiment_id": ids[w["number"]],
                     "import_id": import_id, "value": value, "failed": value is None,
                     "recorded_at": stamp}
                    for w, (_, value) in zip(wells, rows, strict=True)
                ])
            conn.execute(
                update(campaigns_table)
                .where(campaigns_table.c.id == self.id)
                .values(n_plates=plate if wells else plate - 1, n_experiments=number)
            )
        n_failed = sum(v is None for _, v in rows)
        return {"measured": len(rows) - n_failed, "failed": n_failed,
                "skipped": len(frame) - len(rows)}

    # ------------------------------------------------------------------ summaries
    def status(self) -> dict[str, Any]:
        """Plates, experiments by status, switches, replicates; see
        :func:`lowswitch.campaign.summaries.status`."""
        return summaries.status(self)

    def best(self, k: int = 5, level: float = 0.95) -> pd.DataFrame:
        """Posterior mean and credible interval of the best measured conditions; see
        :func:`lowswitch.campaign.summaries.best`.

        Raises:
            InputError: ``k`` is not an integer >= 1.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k: expected an integer >= 1, got {k!r}")
        return summaries.best(self, k, level)


__all__ = ["DIRECTIONS", "Campaign"]
