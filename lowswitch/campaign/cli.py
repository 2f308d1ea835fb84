"""``lowswitch campaign ...``: the campaign loop from the command line.

Every command is a separate process that opens the campaign from storage, does one thing in
one transaction and exits, so a campaign can be continued from any machine that reaches
the database::

    lowswitch campaign create  --storage lab.db --name screen --candidates conditions.csv \\
        --inputs base,ligand,aryl_halide,additive --objective yield --direction maximize
    lowswitch campaign suggest --storage lab.db --name screen --slots 24 --out plate1.csv
    lowswitch campaign record  --storage lab.db --name screen --results plate1.csv
    lowswitch campaign status  --storage lab.db --name screen
    lowswitch campaign best    --storage lab.db --name screen --json
    lowswitch campaign report  --storage lab.db --name screen --out report/
    lowswitch campaign import  --storage lab.db --name screen --history past.csv
    lowswitch campaign export  --storage lab.db --name screen --out all.csv
    lowswitch campaign void    --storage lab.db --name screen --experiment 17 --reason "spill"
    lowswitch campaign upgrade --storage lab.db

Errors in user input and storage problems print ``error: ...`` on stderr and exit with
status 2; nothing is stored. The module imports only Typer at start-up: torch, the GP stack
and matplotlib load inside the commands that need them, so ``status`` and ``list`` start fast.

Example:
    >>> from typer.testing import CliRunner
    >>> CliRunner().invoke(app, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from lowswitch.errors import LowSwitchError

app = typer.Typer(
    help="Wet-lab campaigns: plates of replicated conditions, stored in a database.",
    no_args_is_help=True,
    add_completion=False,
)

Storage = Annotated[
    str,
    typer.Option("--storage", help="Database URL (sqlite:///f.db, postgresql://...) or file path."),
]
Name = Annotated[str, typer.Option("--name", help="Campaign name.")]


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


EscapeFormulas = Annotated[
    bool,
    typer.Option(
        "--escape-formulas/--no-escape-formulas",
        help="Write text cells starting with = + - @ (tab, CR) with a leading ' so that "
        "spreadsheets do not run them as formulas.",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into ``error: ...`` and exit status 2 (no traceback)."""
    try:
        yield
    except (LowSwitchError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    except Exception as err:
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is not None and isinstance(err, sa_exc.SQLAlchemyError):
            detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise _fail(f"storage: {type(err).__name__}: {detail}") from None
        raise


def _open(storage: str, name: str) -> Any:
    from lowswitch.campaign.campaign import Campaign

    return Campaign.open(storage, name)


def _parse_options(items: list[str]) -> dict[str, Any]:
    """``["beta=2.5", "ei_variant=plain"]`` -> ``{"beta": 2.5, "ei_variant": "plain"}``.

    A value is read as JSON when it parses (numbers, true/false, null, lists), else kept
    as text.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option: expected NAME=VALUE, got {item!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[name.strip()] = value
    return out


# Every PolicyConfig field has an option here with the same default; the values go into
# one PolicyConfig, so the checks are PolicyConfig's (tests/campaign/test_cli_config.py
# compares the two). Exceptions: ``maximize`` is ``--direction``; ``n_initial`` is the
# campaign's ``--initial-conditions`` (the planner sets the policy's design size);
# ``cost_up_front`` has none, since plates are always planned blind (up front).
@app.command()
def create(
    name: Name,
    candidates: Annotated[Path, typer.Option(help="CSV of allowed conditions.")],
    inputs: Annotated[str, typer.Option(help="Comma-separated condition columns.")],
    objective: Annotated[str, typer.Option(help="Name of the measured quantity.")],
    storage: Storage = "lowswitch.db",
    direction: Annotated[str, typer.Option(help="maximize or minimize.")] = "maximize",
    seed: Annotated[int, typer.Option(help="Campaign seed.")] = 0,
    descriptors: Annotated[
        str, typer.Option(help="Comma-separated numeric columns describing a categorical input.")
    ] = "",
    policy: Annotated[
        str, typer.Option(help="A registered policy (ucb, ei, ts, ...) or random.")
    ] = "ucb",
    switch_threshold: Annotated[
        float, typer.Option(help="C of the switch rule (1 = one well per decision).")
    ] = 2.0,
    max_repeats: Annotated[int | None, typer.Option(help="Cap on replicates per block.")] = None,
    max_conditions: Annotated[int | None, typer.Option(help="Cap on conditions per plate.")] = None,
    initial_conditions: Annotated[int, typer.Option(help="Conditions of the random start.")] = 8,
    switch_cost: Annotated[
        float, typer.Option(help="Wells that setting up a new condition costs (0 = ignore).")
    ] = 0.0,
    budget: Annotated[
        int | None, typer.Option(help="Cap on the wells one plate's policy may plan.")
    ] = None,
    initial_repeats: Annotated[
        int | None, typer.Option(help="Policy: evaluations per design point (default 2 if C > 1).")
    ] = None,
    num_restarts: Annotated[
        int, typer.Option(help="Policy: acquisition optimiser restarts (continuous boxes).")
    ] = 4,
    raw_samples: Annotated[
        int, typer.Option(help="Policy: Sobol points scored for the restarts (continuous boxes).")
    ] = 256,
    refit_growth: Annotated[
        float | None,
        typer.Option(help="Policy: refit once its evaluations grew by this factor (default: "
                     "at every plate; plates otherwise follow the campaign's own schedule)."),
    ] = None,
    fit_tolerance: Annotated[
        float | None,
        typer.Option(help="Policy: a refit stops when an iteration gains less than this per "
                     "unique point (default: the policy's, 1e-6)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="Acquisition option NAME=VALUE (JSON value), repeatable, "
                     "e.g. --option beta=2.5."),
    ] = None,
) -> None:
    """Create a campaign from a candidates CSV."""
    from lowswitch.campaign.campaign import Campaign
    from lowswitch.policies.config import PolicyConfig

    with _user_errors():
        config = PolicyConfig(
            switch_threshold=switch_threshold, maximize=direction == "maximize", seed=seed,
            max_repeats=max_repeats, budget=budget, initial_repeats=initial_repeats,
            num_restarts=num_restarts, raw_samples=raw_samples, refit_growth=refit_growth,
            fit_tolerance=fit_tolerance, switch_cost=switch_cost,
            options=_parse_options(option or []),
        )
        camp = Campaign.create(
            storage, name, candidates, inputs=_csv_list(inputs), objective=objective,
            direction=direction, descriptors=_csv_list(descriptors), policy=policy,
            max_conditions=max_conditions, initial_conditions=initial_conditions,
            config=config,
        )
    typer.echo(f"created campaign {name!r}: {len(camp.candidates)} candidates, "
               f"{camp.features.shape[1]} features, storage {camp.storage.url}")


@app.command()
def suggest(
    name: Name,
    slots: Annotated[int, typer.Option(help="Wells on the plate.")],
    storage: Storage = "lowswitch.db",
    out: Annotated[Path | None, typer.Option(help="CSV to write (default: stdout).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
    escape_formulas: EscapeFormulas = True,
) -> None:
    """Plan the next plate; write it as CSV (fill the objective column, then `record`).

    With --out, the plate file is written (to a temporary name in the same folder) before
    the plate is stored, and renamed into place once it is: if writing fails, nothing is
    stored; an existing file is never overwritten unless --force.
    """
    from lowswitch.campaign.csvio import check_writable, format_cell, stage_csv

    staged: list[Path] = []

    def deliver(plate: Any) -> None:
        assert out is not None
        staged.append(stage_csv(plate, out, escape_formulas))

    with _user_errors():
        if out is not None:
            check_writable(out, "out", overwrite=force)
        try:
            plate = _open(storage, name).suggest(slots, deliver=None if out is None else deliver)
        except BaseException:
            for path in staged:
                path.unlink(missing_ok=True)
            raise
    number = int(plate["plate"].iloc[0])
    if out is None:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([format_cell(c, escape_formulas) for c in plate.columns])
        for row in plate.itertuples(index=False):
            writer.writerow([format_cell(v, escape_formulas) for v in row])
        return
    try:
        staged[0].replace(out)
    except OSError as err:
        raise _fail(
            f"plate {number} is stored, but renaming {str(staged[0])!r} to {str(out)!r} "
            f"failed ({err}); the plate is complete in {str(staged[0])!r}: rename or copy "
            "that file yourself"
        ) from None
    typer.echo(f"plate {number}: {len(plate)} wells, {plate['block'].nunique()} "
               f"conditions -> {out}")


@app.command()
def record(
    name: Name,
    results: Annotated[Path, typer.Option(help="CSV with experiment_id and the objective.")],
    storage: Storage = "lowswitch.db",
    allow_duplicate: Annotated[bool, typer.Option(
        help="Record a file whose content was recorded before (only if it holds new "
        "measurements).")] = False,
) -> None:
    """Store a results CSV (all rows or none; blank = not measured, `failed` = failed well)."""
    with _user_errors():
        counts = _open(storage, name).record(results, allow_duplicate=allow_duplicate)
    typer.echo(f"recorded {counts['measured']} values, {counts['failed']} failed wells, "
               f"{counts['skipped']} blank rows skipped")


@app.command("import")
def import_history(
    name: Name,
    history: Annotated[Path, typer.Option(help="CSV with the input columns and the objective.")],
    storage: Storage = "lowswitch.db",
) -> None:
    """Import past measurements (not from a plate) as done experiments, all rows or none."""
    with _user_errors():
        counts = _open(storage, name).import_history(history)
    typer.echo(f"imported {counts['measured']} values, {counts['failed']} failed wells, "
               f"{counts['skipped']} blank rows skipped")


def _print_json_or(data: Any, as_json: bool, show: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        show()


@app.command()
def status(
    name: Name,
    storage: Storage = "lowswitch.db",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plates, experiments by status, switches and replicates."""
    with _user_errors():
        info = _open(storage, name).status()

    def show() -> None:
        for key, value in info.items():
            typer.echo(f"{key:>26}: {value}")

    _print_json_or(info, as_json, show)


@app.command()
def best(
    name: Name,
    storage: Storage = "lowswitch.db",
    k: Annotated[int, typer.Option(help="How many conditions.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Best measured conditions: GP posterior mean and 95% interval."""
    with _user_errors():
        table = _open(storage, name).best(k=k)
    _print_json_or(json.loads(table.to_json(orient="records")), as_json,
                   lambda: typer.echo(table.to_string(index=False, float_format="%.2f")))


@app.command()
def report(
    name: Name,
    out: Annotated[Path, typer.Option(help="Output folder.")],
    storage: Storage = "lowswitch.db",
    escape_formulas: EscapeFormulas = True,
) -> None:
    """Write report.png, report.html (self-contained), summary.json and history.csv."""
    from lowswitch.campaign.report import write_report

    with _user_errors():
        paths = write_report(_open(storage, name), out, escape_formulas=escape_formulas)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def export(
    name: Name,
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    storage: Storage = "lowswitch.db",
    escape_formulas: EscapeFormulas = True,
) -> None:
    """Export every experiment and measurement as CSV."""
    from lowswitch.campaign.csvio import check_writable

    with _user_errors():
        check_writable(out, "out", overwrite=True)
        path = _open(storage, name).export_csv(out, escape_formulas=escape_formulas)
    typer.echo(f"wrote {path}")


@app.command()
def void(
    name: Name,
    experiment: Annotated[int, typer.Option(help="Experiment number (experiment_id).")],
    reason: Annotated[str, typer.Option(help="Why the measurement is void (stored).")],
    storage: Storage = "lowswitch.db",
) -> None:
    """Void an experiment's measurements: kept in the history, excluded from the model."""
    with _user_errors():
        n = _open(storage, name).void(experiment, reason)
    typer.echo(f"voided {n} measurement(s) of experiment {experiment}: {reason.strip()}")


@app.command()
def upgrade(storage: Storage = "lowswitch.db") -> None:
    """Upgrade a database written by an older lowswitch to this version's schema."""
    from lowswitch.campaign.storage import SCHEMA_VERSION
    from lowswitch.campaign.storage import Storage as Store

    with _user_errors():
        found = Store(storage, upgrade=True, create=False).found_version
    if found == SCHEMA_VERSION:
        typer.echo(f"schema version {SCHEMA_VERSION}: already up to date")
    else:
        typer.echo(f"upgraded schema version {found} -> {SCHEMA_VERSION}")


@app.command("list")
def list_campaigns(storage: Storage = "lowswitch.db") -> None:
    """Names of the campaigns in a storage."""
    from lowswitch.campaign.storage import Storage as Store

    with _user_errors():
        for name in Store(storage, create=False).campaign_names():
            typer.echo(name)


__all__ = ["app"]
