"""``Campaign``: a wet-lab optimisation campaign kept in a database.

A campaign is a finite table of allowed conditions (a candidates CSV, as in high-throughput
screens), an objective to maximise or minimise, and a low-switch policy that fills plates
with a few distinct conditions, each replicated. Nothing lives in memory between calls:
every [`Campaign.suggest`][lowswitch.campaign.campaign.Campaign.suggest] rebuilds the policy from
the stored rows (deterministic given the seed and the rows) inside one transaction that locks the
campaign, and every [`Campaign.record`][lowswitch.campaign.campaign.Campaign.record] validates a
whole results table and stores it in one transaction, or stores nothing. Any process, on any day,
can continue a campaign.

Accounting (see [`Campaign.status`][lowswitch.campaign.campaign.Campaign.status]):

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
    ['campaign', 'experiment_id', 'plate', 'block', 'replicate', 'base', 'T', 'yield']
    >>> plate["yield"] = [10, 11, 50, 52, 30, "failed"]
    >>> camp.record(plate)
    {'measured': 5, 'failed': 1, 'skipped': 0}
    >>> camp.status()["experiments"]
    {'pending': 0, 'done': 5, 'failed': 1}
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowswitch.campaign import summaries
from lowswitch.campaign.repository import CampaignStore, Measurement
from lowswitch.campaign.storage import Storage
from lowswitch.campaign.tables import (
    check_column_names,
    parse_history,
    parse_results,
    read_csv_text,
    validate_candidates,
)
from lowswitch.errors import InputError

if TYPE_CHECKING:  # pandas, torch and the GP stack load only in the methods that use them
    import pandas as pd
    import torch

    from lowswitch.campaign.planner import PlanConfig
    from lowswitch.policies.config import PolicyConfig
    from lowswitch.space import Space

DIRECTIONS = ("maximize", "minimize")


def _storage(storage: str | os.PathLike[str] | Storage, create: bool = True) -> Storage:
    return storage if isinstance(storage, Storage) else Storage(storage, create=create)


class Campaign:
    """Handle on a stored campaign (cheap; holds only the storage and the candidate table).

    Create one with [`create`][lowswitch.campaign.Campaign.create], reopen it anywhere with
    [`open`][lowswitch.campaign.Campaign.open].

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
        self.store = CampaignStore(self.storage)
        with self.store.read(name) as tx:
            self.id: int = tx.id
            self.config: dict[str, Any] = tx.config
            self.candidates: list[dict[str, Any]] = tx.candidates()
        self.inputs: list[str] = list(self.config["inputs"])
        self.objective: str = self.config["objective"]
        self.direction: str = self.config["direction"]
        self._X: torch.Tensor | None = None
        self._allowed = {c: {row[c] for row in self.candidates} for c in self.inputs}

    @cached_property
    def plan_config(self) -> PlanConfig:
        """The stored planner settings."""
        from lowswitch.campaign.planner import PlanConfig

        return PlanConfig.from_dict(self.config["plan"])

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
        seed: int | None = None,
        descriptors: Sequence[str] = (),
        policy: str = "ucb",
        switch_threshold: float | None = None,
        max_repeats: int | None = None,
        max_conditions: int | None = None,
        initial_conditions: int = 8,
        float_levels: int = 11,
        switch_cost: float | None = None,
        config: PolicyConfig | None = None,
    ) -> Campaign:
        """Create a campaign from a candidate table (or a search space) and store it.

        Args:
            storage: database URL, file path (SQLite) or
                [`Storage`][lowswitch.campaign.campaign.Storage].
            name: campaign name, unique in the storage.
            candidates: table (or CSV path) of allowed conditions, or a
                [`Space`][lowswitch.space.Space]: every combination of its values becomes a
                candidate (``Float`` parameters on ``float_levels`` evenly spaced levels of
                their (log-)range; see ``lowswitch.campaign.encoding.space_rows``), and
                the space's own encoding is used.
            inputs: condition columns of the table (for a space: its names, in order).
            objective: name of the measured quantity (a column of results files).
            direction: ``"maximize"`` or ``"minimize"``.
            seed: seed of the campaign (initial design, policy randomness; default
                ``PolicyConfig``'s, 0).
            descriptors: numeric columns of the table that encode the categorical input they
                belong to (see ``lowswitch.campaign.encoding``); other categoricals are
                one-hot.
            policy: a registered policy name (``"ucb"``, the default, ``"ei"``, ``"ts"`` or
                one added with [`lowswitch.policies.register`][lowswitch.policies.register]) or
                ``"random"``.
            switch_threshold: C of the switch rule; 1.0 = one well per decision (default
                ``PolicyConfig``'s, 2.0).
            max_repeats: cap on replicates per block.
            max_conditions: cap on distinct conditions per plate.
            initial_conditions: distinct conditions of the initial random design.
            float_levels: levels per ``Float`` parameter when ``candidates`` is a space.
            switch_cost: wells that setting up a new condition costs (0: the plain switch
                rule); new conditions then get more replicates, a plate fewer conditions.
            config: every policy setting as one
                [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] (options of the
                acquisition included), stored with the campaign as JSON and handed to each
                plate's policy (``direction`` sets ``maximize``; each plate derives its
                seed from ``config.seed``); then leave ``seed``, ``switch_threshold``,
                ``max_repeats`` and ``switch_cost`` out.

        Returns:
            The new campaign.

        Raises:
            InputError: bad table or settings, or a campaign of that name exists already.
        """
        from lowswitch.campaign.encoding import space_rows, table_space
        from lowswitch.campaign.planner import PlanConfig
        from lowswitch.policies.config import facade_config
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
            import pandas as pd

            frame = (
                read_csv_text(candidates, "candidates")
                if not isinstance(candidates, pd.DataFrame)
                else candidates
            )
            rows = validate_candidates(frame, inputs, descriptors)
            space = table_space(rows, inputs, descriptors)
        given = {"seed": seed, "switch_threshold": switch_threshold,
                 "max_repeats": max_repeats, "switch_cost": switch_cost}
        policy_config = facade_config(config, given).replace(maximize=direction == "maximize")
        plan = PlanConfig(
            policy=policy,
            config=policy_config,
            max_conditions=max_conditions,
            initial_conditions=initial_conditions,
        )
        policy_config.to_json()  # options must be storable: refuse now, not when reading
        stored = {
            "inputs": list(inputs),
            "objective": objective,
            "direction": direction,
            "descriptors": list(descriptors),
            "space": space.to_dict(),
            "plan": plan.to_dict(),
        }
        store = _storage(storage)
        CampaignStore(store).create_campaign(name, stored, rows)
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

    def history(self) -> pd.DataFrame:
        """Every experiment with its measurements (see ``.summaries.history``)."""
        return summaries.history(self)

    def export_csv(self, path: str | os.PathLike[str], escape_formulas: bool = True) -> Path:
        """Write [`history`][lowswitch.campaign.Campaign.history] to a CSV file (objective column
        named as in the campaign;
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
            empty objective column (to be filled and passed to
            [`record`][lowswitch.campaign.Campaign.record]).
        """
        from lowswitch.campaign.planner import plan_plate

        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise InputError(f"slots: expected an integer >= 1, got {slots!r}")
        X = self.features
        with self.store.write(self.name) as tx:
            obs_idx, obs_y = tx.observations()
            state = tx.experiments()
            pending = Counter(e.candidate for e in state if e.status == "pending")
            last_plate_blocks = tx.blocks_on_plate(tx.n_plates)
            handed_out = {e.candidate for e in state}
            plate = tx.n_plates + 1
            blocks, new_fit = plan_plate(
                X, obs_idx, obs_y, pending, slots, self.plan_config, plate,
                handed_out=handed_out, bounds=self.space.bounds, fit=tx.latest_fit(),
                expected_blocks=last_plate_blocks + 1 if last_plate_blocks else None,
            )
            if new_fit is not None:
                tx.add_fit(new_fit)
            number = tx.n_experiments
            wells: list[dict[str, Any]] = []
            for b, block in enumerate(blocks, start=1):
                for rep in range(1, block.replicates + 1):
                    number += 1
                    wells.append({
                        "number": number, "candidate_idx": block.candidate, "plate": plate,
                        "block": b, "replicate": rep, "status": "pending",
                    })
            tx.add_experiments(wells)
            tx.set_counters(plate, number)
            frame = self._plate_frame(wells, plate)
            if deliver is not None:
                deliver(frame)
        return frame

    def _plate_frame(self, wells: list[dict[str, Any]], plate: int) -> pd.DataFrame:
        records = []
        for w in wells:
            rec: dict[str, Any] = {"campaign": self.name, "experiment_id": w["number"],
                                   "plate": plate, "block": w["block"],
                                   "replicate": w["replicate"]}
            cand = self.candidates[int(w["candidate_idx"])]
            rec.update({c: cand[c] for c in self.inputs})
            rec[self.objective] = ""
            records.append(rec)
        import pandas as pd

        return pd.DataFrame.from_records(
            records, columns=["campaign", "experiment_id", "plate", "block", "replicate",
                              *self.inputs, self.objective]
        )

    def record(
        self,
        results: pd.DataFrame | str | os.PathLike[str],
        source: str | None = None,
        allow_duplicate: bool = False,
    ) -> dict[str, int]:
        """Store a results table (all of it, or nothing).

        Args:
            results: table or CSV path with ``experiment_id`` and the objective column
                (blank = not measured yet, ``failed`` = failed well); the other columns that
                ``suggest`` writes may be present and are checked.
            source: label stored with the import (default: the file name or ``"dataframe"``).
            allow_duplicate: store the table even if the same content (SHA-256 of the file's
                bytes, or of a DataFrame's CSV text) was recorded into this campaign before.

        Returns:
            Counts: measured (values stored), failed (failures stored), skipped (blank rows).

        Raises:
            InputError: the table is invalid (message names the row), belongs to another
                campaign, cannot be matched to this one safely, or was recorded before;
                nothing is stored.

        Identity (see ``lowswitch.campaign.identity``): plate files carry
        a ``campaign`` column, and every row must name this campaign. A table without it is
        accepted only when every experiment it names is still pending here and no other
        campaign of the storage has a pending experiment of the same number.
        """
        import pandas as pd

        from lowswitch.campaign.identity import (
            check_campaign_column,
            check_minimal_table,
            content_hash,
            split_identity,
        )

        if isinstance(results, pd.DataFrame):
            frame = results.astype(object).where(results.notna(), "").astype(str)
            label = source or "dataframe"
        else:
            frame = read_csv_text(results, "results")
            label = source or str(results)
        digest = content_hash(results)
        frame, names = split_identity(frame)
        check_campaign_column(names, self.name)
        with self.store.write(self.name) as tx:
            if not allow_duplicate and (seen := tx.find_import(digest)) is not None:
                raise InputError(
                    f"results: the same content was recorded already (import {seen.id}, "
                    f"{seen.source!r}, {seen.n_rows} rows); nothing stored. Record it again "
                    "only if these are new measurements: --allow-duplicate "
                    "(Python: allow_duplicate=True)"
                )
            by_number = {e.number: e for e in tx.experiments()}
            conditions = {n: self.candidates[e.candidate] for n, e in by_number.items()}
            placement = {n: (e.plate, e.block, e.replicate) for n, e in by_number.items()}
            parsed = parse_results(frame, self.objective, self.inputs, conditions, self._allowed,
                                   placement)
            if names is None:
                check_minimal_table(frame, self.name, by_number, tx.pending_elsewhere)
            import_id = tx.add_import(label, len(parsed), digest)
            tx.add_measurements(import_id, [
                Measurement(by_number[r.experiment].id, r.value, r.failed) for r in parsed
            ])
            done = {by_number[r.experiment].id for r in parsed if not r.failed}
            failed = {by_number[r.experiment].id for r in parsed
                      if r.failed and by_number[r.experiment].status != "done"} - done
            tx.set_status(sorted(done), "done")
            tx.set_status(sorted(failed), "failed")
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
        import pandas as pd

        if isinstance(history, pd.DataFrame):
            frame = history.astype(object).where(history.notna(), "").astype(str)
            label = source or "history dataframe"
        else:
            frame = read_csv_text(history, "history")
            label = source or str(history)
        rows = parse_history(frame, self.objective, self.inputs, self.candidates)
        with self.store.write(self.name) as tx:
            plate = tx.n_plates + 1
            number = tx.n_experiments
            import_id = tx.add_import(label, len(rows), None)
            blocks: dict[int, int] = {}
            reps: Counter[int] = Counter()
            wells: list[dict[str, Any]] = []
            for cand, _ in rows:
                number += 1
                blocks.setdefault(cand, len(blocks) + 1)
                reps[cand] += 1
                wells.append({
                    "number": number, "candidate_idx": cand, "plate": plate,
                    "block": blocks[cand], "replicate": reps[cand], "status": "done",
                })
            for well, (_, value) in zip(wells, rows, strict=True):
                well["status"] = "failed" if value is None else "done"
            ids = tx.add_experiments(wells)
            tx.add_measurements(import_id, [
                Measurement(ids[w["number"]], value, value is None)
                for w, (_, value) in zip(wells, rows, strict=True)
            ])
            tx.set_counters(plate if wells else plate - 1, number)
        n_failed = sum(v is None for _, v in rows)
        return {"measured": len(rows) - n_failed, "failed": n_failed,
                "skipped": len(frame) - len(rows)}

    def void(self, experiment: int, reason: str) -> int:
        """Void the measurements of one experiment: audited, kept, never shown to the GP.

        The measurement rows stay in the database and in
        [`history`][lowswitch.campaign.Campaign.history] / exports (column ``voided``, with the
        reason); the model, ``best``, ``suggest`` and the report's running best no longer see them.
        The stored GP fits are dropped (they saw the voided values): the next ``suggest`` refits
        without them. A new value can be recorded for the experiment afterwards (a re-measurement,
        with the plate file's ``campaign`` column).

        Args:
            experiment: experiment number (``experiment_id`` of the plate file).
            reason: why (stored with the void; required).

        Returns:
            Number of measurements voided.

        Raises:
            InputError: no such experiment, empty reason, or nothing left to void.
        """
        if isinstance(experiment, bool) or not isinstance(experiment, int) or experiment < 1:
            raise InputError(f"experiment: expected an experiment number >= 1, got {experiment!r}")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(f"reason: expected a non-empty text saying why, got {reason!r}")
        with self.store.write(self.name) as tx:
            found = {e.number: e for e in tx.experiments()}.get(experiment)
            if found is None:
                raise InputError(
                    f"experiment: no experiment {experiment} in campaign {self.name!r}"
                )
            n = tx.void(found.id, reason.strip())
            if n == 0:
                raise InputError(
                    f"experiment: experiment {experiment} has no measurement to void "
                    "(still pending, or voided already)"
                )
        return n

    # ------------------------------------------------------------------ summaries
    def status(self) -> dict[str, Any]:
        """Plates, experiments by status, switches, replicates; see
        ``lowswitch.campaign.summaries.status``."""
        return summaries.status(self)

    def best(self, k: int = 5, level: float = 0.95) -> pd.DataFrame:
        """Posterior mean and credible interval of the best measured conditions; see
        ``lowswitch.campaign.summaries.best``.

        Raises:
            InputError: ``k`` is not an integer >= 1.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k: expected an integer >= 1, got {k!r}")
        return summaries.best(self, k, level)


__all__ = ["DIRECTIONS", "Campaign"]
