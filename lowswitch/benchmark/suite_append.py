"""Add new runs to a stored suite table (``suite.json``) without the traces it was built from.

``python -m lowswitch.benchmark bo --suite ... --from-json`` rebuilds a merged suite from the
``results.json`` files of its runs (with every run's trace). Those files are large and are not
kept; the docs keep the compact ``suite.json`` (per-seed rows and acceptance rows). This tool
adds the runs of new ``results.json`` files to such a table:

* ``--rename-stored OLD=NEW`` renames stored rows first (e.g. when a default changed, the old
  default's rows get the explicit name of the old configuration);
* each new run becomes one per-seed row, under ``--rename`` if given, with its regret at the
  problem's *stored* equal-cost points (``cost_s10``, ``cost_s100``);
* the acceptance rows are kept as they are; a new method that they read (the default
  ``ei-C2``, its ``-s10`` / ``-s100`` forms, ``optuna-gp``, ``optuna-tpe``, ``random``) is
  refused, as is a (problem, method, seed) already stored, a problem the table does not have,
  and a run whose final total cost is below a stored equal-cost point (it would have moved
  the comparison point of every other run, which needs their traces: rerun the merge with
  ``--from-json`` instead).

Example:
    python -m lowswitch.benchmark suite-append --into docs/benchmarks/bo-suite.json \\
        --runs results/ts-new/results.json --rename ts-C2-p512-g1.1=ts-C2 \\
        --rename-stored ts-C2=ts-C2-p1024-g1
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from lowswitch.errors import InputError

ACCEPTANCE_METHODS = frozenset(
    {"ei-C2", "ei-C2-s10", "ei-C2-s100", "optuna-gp", "optuna-tpe", "random"}
)
"""Methods the stored acceptance rows were computed from: never replaced by this tool."""


def parse_renames(pairs: list[str]) -> dict[str, str]:
    """``["a=b", ...]`` -> ``{"a": "b"}``; one target per source, no empty names.

    Example:
        >>> parse_renames(["ts-C2-p512-g1.1=ts-C2"])
        {'ts-C2-p512-g1.1': 'ts-C2'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip() or old.strip() in out:
            raise InputError(f"rename: expected OLD=NEW with each OLD once, got {pair!r}")
        out[old.strip()] = new.strip()
    return out


def append_runs(
    stored: dict[str, Any],
    runs: list[Any],
    rename: dict[str, str],
    rename_stored: dict[str, str],
) -> dict[str, Any]:
    """The table ``stored`` with its rows renamed and one row per run of ``runs`` added.

    Args:
        stored: a ``suite.json`` (``{"acceptance": [...], "per_seed": [...]}``).
        runs: ``RunResult`` list (with traces).
        rename: method name of a new run -> name it is stored under.
        rename_stored: method name of a stored row -> its new name (applied first).

    Returns:
        A new table (``stored`` is not modified); per-seed rows sorted by (problem, method,
        seed) as ``per_seed_rows`` writes them.

    Raises:
        InputError: see the module docstring.
    """
    from lowswitch.benchmark.bo import regret_at_cost
    from lowswitch.benchmark.suite import belongs_at, per_seed_rows

    if set(rename_stored) & ACCEPTANCE_METHODS:
        raise InputError(f"rename-stored: the acceptance rows read "
                         f"{sorted(set(rename_stored) & ACCEPTANCE_METHODS)}; not renamed")
    rows = [dict(r, method=rename_stored.get(r["method"], r["method"]))
            for r in stored["per_seed"]]
    keys = {(r["problem"], r["method"], r["seed"]) for r in rows}
    if len(keys) != len(rows):
        raise InputError("rename-stored: two stored methods would get the same name")
    limits = {(r["problem"], s): r[f"cost_s{s:g}"] for r in rows for s in (10.0, 100.0)}
    by_key = {(r.problem, r.method, r.seed): r for r in runs}
    for row in per_seed_rows(runs):
        run = by_key[row["problem"], row["method"], row["seed"]]
        name = rename.get(row["method"], row["method"])
        key = (row["problem"], name, row["seed"])
        if name in ACCEPTANCE_METHODS:
            raise InputError(f"runs: {name!r} is read by the stored acceptance rows; "
                             "rebuild the suite with --from-json instead")
        if key in keys:
            raise InputError(f"runs: {key} is already stored")
        if (row["problem"], 10.0) not in limits:
            raise InputError(f"runs: the table has no problem {row['problem']!r}")
        row["method"] = name
        for s in (10.0, 100.0):
            limit = limits[row["problem"], s]
            final = run.trace[-1][0] + s * run.trace[-1][1]
            if belongs_at(run.method, s) and final < limit:
                raise InputError(
                    f"runs: {key} ends at total cost {final:g} < the stored comparison point "
                    f"{limit:g} at s = {s:g}; rebuild the suite with --from-json instead")
            row[f"cost_s{s:g}"] = limit
            row[f"regret_at_cost_s{s:g}"] = (
                regret_at_cost(run, s, limit) if belongs_at(run.method, s) else math.nan)
        keys.add(key)
        rows.append(row)
    rows.sort(key=lambda r: (r["problem"], r["method"], r["seed"]))
    return {"acceptance": stored["acceptance"], "per_seed": rows}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lowswitch.benchmark suite-append``."""
    from lowswitch.benchmark.bo import RunResult

    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark suite-append",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--into", type=Path, required=True, help="suite.json to extend (rewritten)")
    p.add_argument("--runs", required=True, help="comma list of results.json files")
    p.add_argument("--rename", action="append", default=[], help="NEW-RUN-NAME=STORED-NAME")
    p.add_argument("--rename-stored", action="append", default=[], help="OLD=NEW")
    args = p.parse_args(argv)
    try:
        stored = json.loads(args.into.read_text())
        runs = [RunResult(**r) for path in args.runs.split(",") if path.strip()
                for r in json.loads(Path(path.strip()).read_text())["runs"]]
        table = append_runs(stored, runs, parse_renames(args.rename),
                            parse_renames(args.rename_stored))
    except (OSError, ValueError, KeyError, InputError) as err:
        print(f"error: {err}")
        return 2
    args.into.write_text(json.dumps(table, indent=0, default=float))
    print(f"wrote {args.into}: {len(table['per_seed'])} per-seed rows "
          f"({len(runs)} added)")
    return 0


__all__ = ["ACCEPTANCE_METHODS", "append_runs", "main", "parse_renames"]
