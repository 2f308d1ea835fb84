"""``CampaignStore``: every SQL statement a campaign runs, behind one small interface.

``lowswitch.campaign.storage`` owns the connection and the table definitions,
[`lowswitch.campaign.migrate`][lowswitch.campaign.migrate] the schema's evolution; this module owns
every query. The campaign logic (``campaign``, ``summaries``) talks to a
[`CampaignTx`][lowswitch.campaign.repository.CampaignTx], a campaign seen inside one transaction,
and never to SQL.

* [`CampaignStore.write`][lowswitch.campaign.repository.CampaignStore.write] opens a transaction and
  locks the campaign's row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite is already
  write-locked by ``BEGIN IMMEDIATE``): committed on success, rolled back on any exception.
* [`CampaignStore.read`][lowswitch.campaign.repository.CampaignStore.read] is a consistent read, no
  lock.

Example:
    >>> store = CampaignStore(Storage("sqlite://"))
    >>> store.create_campaign("c", {"inputs": ["x"]}, [{"x": "a"}, {"x": "b"}])
    >>> with store.read("c") as tx:
    ...     tx.candidates(), tx.observations()
    ([{'x': 'a'}, {'x': 'b'}], ([], []))
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, select, update

from lowswitch.campaign.storage import (
    Storage,
    campaigns_table,
    candidates_table,
    experiments_table,
    fits_table,
    imports_table,
    measurements_table,
    voids_table,
)
from lowswitch.errors import InputError

_CHUNK = 500
"""Rows per ``IN (...)`` list (SQLite allows at most 999 bound parameters in old builds)."""


def now() -> float:
    """Wall-clock time stamp stored in rows (seconds since the epoch)."""
    return time.time()


class Fit(NamedTuple):
    """A stored hyperparameter fit: what it saw and the fitted values (JSON-safe)."""

    n_observations: int
    n_unique: int
    hyper: dict[str, Any]


class Experiment(NamedTuple):
    """One well: its number in the campaign, row id, candidate and place on the plate."""

    number: int
    id: int
    candidate: int
    plate: int
    block: int
    replicate: int
    status: str


class ImportRecord(NamedTuple):
    """One stored ``record`` / ``import`` call."""

    id: int
    source: str
    n_rows: int
    created_at: float


class Measurement(NamedTuple):
    """A measurement to store: experiment row id, value (None when failed) and failure flag."""

    experiment_id: int
    value: float | None
    failed: bool


class CampaignStore:
    """Every query of the campaign tables.

    Args:
        storage: an open [`Storage`][lowswitch.campaign.storage.Storage].
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def campaign_names(self) -> list[str]:
        """Names of the campaigns in this database, sorted."""
        with self.storage.engine.connect() as conn:
            return sorted(conn.execute(select(campaigns_table.c.name)).scalars().all())

    def create_campaign(
        self, name: str, config: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store a new campaign and its candidate rows (one transaction).

        Raises:
            InputError: a campaign of that name exists already.
        """
        with self.storage.transaction() as conn:
            exists = conn.execute(
                select(campaigns_table.c.id).where(campaigns_table.c.name == name)
            ).scalar_one_or_none()
            if exists is not None:
                raise InputError(f"name: a campaign called {name!r} exists already")
            campaign_id = conn.execute(
                campaigns_table.insert().values(
                    name=name, config=json.dumps(dict(config)), created_at=now(), n_plates=0,
                    n_experiments=0,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(candidates_table.insert(), [
                {"campaign_id": campaign_id, "idx": i, "data": json.dumps(dict(row))}
                for i, row in enumerate(candidates)
            ])

    @contextmanager
    def read(self, name: str) -> Iterator[CampaignTx]:
        """The campaign ``name`` inside a read transaction (no lock).

        Raises:
            InputError: no campaign of that name.
        """
        with self.storage.engine.connect() as conn:
            yield CampaignTx(conn, name, lock=False)

    @contextmanager
    def write(self, name: str) -> Iterator[CampaignTx]:
        """The campaign ``name`` inside a write transaction that holds its lock.

        Raises:
            InputError: no campaign of that name (nothing is written).
        """
        with self.storage.transaction() as conn:
            yield CampaignTx(conn, name, lock=True)


class CampaignTx:
    """One campaign inside one transaction (made by
    [`CampaignStore.read`][lowswitch.campaign.repository.CampaignStore.read] / ``write``).

    Attributes:
        id: row id of the campaign; name; config: decoded configuration;
        n_plates, n_experiments: the counters as read when the transaction began.
    """

    def __init__(self, conn: Connection, name: str, lock: bool) -> None:
        query = select(campaigns_table).where(campaigns_table.c.name == name)
        row = conn.execute(query.with_for_update() if lock else query).mappings().one_or_none()
        if row is None:
            raise InputError(f"name: no campaign called {name!r} in this storage")
        self._conn = conn
        self.id: int = int(row["id"])
        self.name = name
        self.config: dict[str, Any] = json.loads(row["config"])
        self.n_plates: int = int(row["n_plates"])
        self.n_experiments: int = int(row["n_experiments"])

    # ------------------------------------------------------------------ reads
    def candidates(self) -> list[dict[str, Any]]:
        """The candidate rows, in index order."""
        values = self._conn.execute(
            select(candidates_table.c.data)
            .where(candidates_table.c.campaign_id == self.id)
            .order_by(candidates_table.c.idx)
        ).scalars()
        return [json.loads(v) for v in values]

    def _live(self) -> Any:
        """Condition: a measurement of this campaign that is not voided."""
        voided = select(voids_table.c.measurement_id).where(voids_table.c.campaign_id == self.id)
        return (measurements_table.c.campaign_id == self.id) & measurements_table.c.id.not_in(
            voided
        )

    def observations(self) -> tuple[list[int], list[float]]:
        """Candidate index and value of every successful, not voided measurement, in
        recording order (what the GP sees)."""
        rows = self._conn.execute(
            select(experiments_table.c.candidate_idx, measurements_table.c.value)
            .join(experiments_table, measurements_table.c.experiment_id == experiments_table.c.id)
            .where(self._live())
            .where(measurements_table.c.failed.is_(False))
            .order_by(measurements_table.c.id)
        ).all()
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def experiments(self) -> list[Experiment]:
        """Every experiment of the campaign, by number."""
        rows = self._conn.execute(
            select(experiments_table.c.number, experiments_table.c.id,
                   experiments_table.c.candidate_idx, experiments_table.c.plate,
                   experiments_table.c.block, experiments_table.c.replicate,
                   experiments_table.c.status)
            .where(experiments_table.c.campaign_id == self.id)
            .order_by(experiments_table.c.number)
        ).all()
        return [Experiment(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
                           str(r[6])) for r in rows]

    def pending_elsewhere(self, numbers: Sequence[int]) -> list[str]:
        """Names of the other campaigns of the database with a pending experiment numbered
        like one of ``numbers``."""
        found: set[str] = set()
        wanted = sorted(set(numbers))
        for start in range(0, len(wanted), _CHUNK):
            found.update(self._conn.execute(
                select(campaigns_table.c.name)
                .join(experiments_table, experiments_table.c.campaign_id == campaigns_table.c.id)
                .where(campaigns_table.c.id != self.id)
                .where(experiments_table.c.status == "pending")
                .where(experiments_table.c.number.in_(wanted[start:start + _CHUNK]))
                .distinct()
            ).scalars())
        return sorted(found)

    def blocks_on_plate(self, plate: int) -> int:
        """Number of distinct blocks of plate ``plate``."""
        return int(self._conn.execute(
            select(func.count(func.distinct(experiments_table.c.block)))
            .where(experiments_table.c.campaign_id == self.id)
            .where(experiments_table.c.plate == plate)
        ).scalar_one())

    def latest_fit(self) -> Fit | None:
        """The newest stored hyperparameter fit, if any."""
        last = self._conn.execute(
            select(fits_table.c.n_observations, fits_table.c.n_unique, fits_table.c.hyper)
            .where(fits_table.c.campaign_id == self.id)
            .order_by(fits_table.c.id.desc())
            .limit(1)
        ).one_or_none()
        return None if last is None else Fit(int(last[0]), int(last[1]), json.loads(last[2]))

    def find_import(self, content_hash: str) -> ImportRecord | None:
        """The first import of this campaign with that content hash, if any."""
        row = self._conn.execute(
            select(imports_table.c.id, imports_table.c.source, imports_table.c.n_rows,
                   imports_table.c.created_at)
            .where(imports_table.c.campaign_id == self.id)
            .where(imports_table.c.content_hash == content_hash)
            .order_by(imports_table.c.id)
            .limit(1)
        ).one_or_none()
        return None if row is None else ImportRecord(int(row[0]), str(row[1]), int(row[2]),
                                                     float(row[3]))

    def history(self) -> list[tuple[Any, ...]]:
        """One row per measurement (or per experiment without one), by experiment number:
        number, plate, block, replicate, candidate, status, value, failed, measurement id,
        import id, void reason (None unless voided)."""
        joined = experiments_table.outerjoin(
            measurements_table, measurements_table.c.experiment_id == experiments_table.c.id
        ).outerjoin(voids_table, voids_table.c.measurement_id == measurements_table.c.id)
        rows = self._conn.execute(
            select(
                experiments_table.c.number, experiments_table.c.plate, experiments_table.c.block,
                experiments_table.c.replicate, experiments_table.c.candidate_idx,
                experiments_table.c.status, measurements_table.c.value,
                measurements_table.c.failed, measurements_table.c.id,
                measurements_table.c.import_id, voids_table.c.reason,
            )
            .select_from(joined)
            .where(experiments_table.c.campaign_id == self.id)
            .order_by(experiments_table.c.number, measurements_table.c.id)
        ).all()
        return [tuple(r) for r in rows]

    def counts(self) -> dict[str, Any]:
        """Raw counts: experiments by status, blocks, measurements, failed, voided."""
        by_status = {str(s): int(n) for s, n in self._conn.execute(
            select(experiments_table.c.status, func.count())
            .where(experiments_table.c.campaign_id == self.id)
            .group_by(experiments_table.c.status)
        ).all()}
        blocks = self._conn.execute(
            select(func.count()).select_from(
                select(experiments_table.c.plate, experiments_table.c.block)
                .where(experiments_table.c.campaign_id == self.id)
                .distinct()
                .subquery()
            )
        ).scalar_one()
        measurements = self._conn.execute(
            select(func.count()).where(measurements_table.c.campaign_id == self.id)
        ).scalar_one()
        failed = self._conn.execute(
            select(func.count()).where(self._live(), measurements_table.c.failed)
        ).scalar_one()
        voided = self._conn.execute(
            select(func.count()).where(voids_table.c.campaign_id == self.id)
        ).scalar_one()
        return {"experiments": by_status, "blocks": int(blocks),
                "measurements": int(measurements), "failed": int(failed), "voided": int(voided)}

    # ------------------------------------------------------------------ writes
    def add_fit(self, fit: Fit) -> None:
        """Store a hyperparameter fit."""
        self._conn.execute(fits_table.insert().values(
            campaign_id=self.id, n_observations=fit.n_observations, n_unique=fit.n_unique,
            hyper=json.dumps(fit.hyper), created_at=now(),
        ))

    def add_experiments(self, wells: Sequence[Mapping[str, Any]]) -> dict[int, int]:
        """Insert experiments (keys: number, candidate_idx, plate, block, replicate, status).

        Returns:
            Experiment number -> row id of the inserted experiments.
        """
        if not wells:
            return {}
        stamp = now()
        self._conn.execute(experiments_table.insert(), [
            {**dict(w), "campaign_id": self.id, "created_at": stamp} for w in wells
        ])
        numbers = sorted(int(w["number"]) for w in wells)
        return dict(self._conn.execute(  # type: ignore[arg-type]
            select(experiments_table.c.number, experiments_table.c.id)
            .where(experiments_table.c.campaign_id == self.id)
            .where(experiments_table.c.number.between(numbers[0], numbers[-1]))
        ).all())

    def set_counters(self, n_plates: int, n_experiments: int) -> None:
        """Store the plate and experiment counters."""
        self._conn.execute(
            update(campaigns_table).where(campaigns_table.c.id == self.id)
            .values(n_plates=n_plates, n_experiments=n_experiments)
        )
        self.n_plates, self.n_experiments = n_plates, n_experiments

    def add_import(self, source: str, n_rows: int, content_hash: str | None) -> int:
        """Store one import (a ``record`` / ``import`` call); returns its id."""
        return int(self._conn.execute(imports_table.insert().values(
            campaign_id=self.id, source=source, n_rows=n_rows, created_at=now(),
            content_hash=content_hash,
        )).inserted_primary_key[0])  # type: ignore[index]

    def add_measurements(self, import_id: int, rows: Sequence[Measurement]) -> None:
        """Store measurements of one import."""
        if not rows:
            return
        stamp = now()
        self._conn.execute(measurements_table.insert(), [
            {"campaign_id": self.id, "experiment_id": r.experiment_id, "import_id": import_id,
             "value": r.value, "failed": r.failed, "recorded_at": stamp}
            for r in rows
        ])

    def set_status(self, experiment_ids: Sequence[int], status: str) -> None:
        """Set the status of experiments (by row id)."""
        ids = sorted(set(experiment_ids))
        for start in range(0, len(ids), _CHUNK):
            self._conn.execute(
                update(experiments_table)
                .where(experiments_table.c.id.in_(ids[start:start + _CHUNK]))
                .values(status=status)
            )

    def void(self, experiment_id: int, reason: str) -> int:
        """Void every live measurement of an experiment (by row id) and drop the stored fits
        (they saw the voided values). Returns the number of measurements voided."""
        live = self._conn.execute(
            select(measurements_table.c.id)
            .where(self._live())
            .where(measurements_table.c.experiment_id == experiment_id)
            .order_by(measurements_table.c.id)
        ).scalars().all()
        if live:
            stamp = now()
            self._conn.execute(voids_table.insert(), [
                {"campaign_id": self.id, "measurement_id": m, "reason": reason,
                 "created_at": stamp} for m in live
            ])
            self._conn.execute(delete(fits_table).where(fits_table.c.campaign_id == self.id))
        return len(live)


__all__ = ["CampaignStore", "CampaignTx", "Experiment", "Fit", "ImportRecord", "Measurement",
           "now"]
