r"""Two methods compared seed by seed: wins, losses, ties and a sign test, per problem.

A suite run gives every method the same seeds, so on a given problem and seed two methods
face the same objective and the same noise stream. Comparing their regrets *per seed*
(paired) says more than comparing two medians of ten: a median ratio of 1.5 can come from
one method being worse on most seeds or from a few seeds landing in different basins.

For each problem, with ``A`` and ``B`` and the regret each had at the problem's equal-cost
point for switch cost ``s`` (``regret_at_cost_s<s>`` of the suite's per-seed rows; ``s = 0``
reads the final ``simple_regret`` at equal evaluations):

* ``wins`` / ``losses`` / ``ties``: seeds where ``A``'s regret is below / above / equal to
  ``B``'s (ties mostly mean the two trajectories were identical up to that cost);
* ``ratio``: ``A``'s median over ``B``'s median (the suite tables' figure);
* ``p``: the two-sided sign test of "``A`` below ``B`` as often as above", i.e. the exact
  binomial probability, under :math:`\text{Binomial}(w + l, 1/2)`, of a split at least as
  uneven as the observed one (ties dropped; ``1`` when every seed ties).

The pooled row sums wins and losses over all problems (one test over every non-tied pair)
and gives the geometric mean of the per-problem ratios. Pooling treats problems as
exchangeable draws, which a hand-picked suite is not: read it as "how often", not as a
population estimate.

Example:
    python -m lowswitch.benchmark paired --json docs/benchmarks/bo-suite-stay-10seeds.json \\
        --compare ei-C2-s10:ei-C2@10 --compare ei-C2-s100:ei-C2@100 --out results/paired
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

from lowswitch.errors import InputError

Row = dict[str, Any]


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test of ``wins`` against ``losses`` (ties already dropped).

    Example:
        >>> sign_test_p(5, 5), round(sign_test_p(9, 1), 4), sign_test_p(0, 0)
        (1.0, 0.0215, 1.0)
    """
    from scipy.stats import binomtest

    if wins < 0 or losses < 0:
        raise InputError(f"sign test: counts must be >= 0, got {wins} and {losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    return float(binomtest(wins, n, 0.5).pvalue)


def parse_comparison(text: str) -> tuple[str, str, float]:
    """``"A:B@s"`` -> ``(A, B, s)``; ``"A:B"`` means ``s = 0`` (equal evaluations).

    Example:
        >>> parse_comparison("ei-C2-s10:ei-C2@10"), parse_comparison("ei-C2:random")
        (('ei-C2-s10', 'ei-C2', 10.0), ('ei-C2', 'random', 0.0))
    """
    pair, at, cost = text.partition("@")
    a, sep, b = pair.partition(":")
    a, b = a.strip(), b.strip()
    if not sep or not a or not b or a == b:
        raise InputError(f"--compare: expected A:B@s with two different methods, got {text!r}")
    try:
        s = float(cost) if at else 0.0
    except ValueError:
        raise InputError(
            f"--compare: the switch cost after '@' must be a number, got {text!r}"
        ) from None
    if not math.isfinite(s) or s < 0:
        raise InputError(f"--compare: the switch cost must be finite and >= 0, got {text!r}")
    return a, b, s


def _regret_key(s: float) -> str:
    return "simple_regret" if s == 0 else f"regret_at_cost_s{s:g}"


def _by_seed(rows: list[Row], key: str) -> dict[tuple[str, str], dict[int, float]]:
    """``{(problem, method): {seed: value of key}}`` over ``rows``, NaN values left out."""
    out: dict[tuple[str, str], dict[int, float]] = {}
    for r in rows:
        if key not in r:
            raise InputError(f"the per-seed rows have no {key!r} (costs stored: "
                             f"{sorted(k for k in r if k.startswith('regret_at_cost'))})")
        value = float(r[key])
        if not math.isnan(value):
            out.setdefault((r["problem"], r["method"]), {})[int(r["seed"])] = value
    return out


def paired_rows(rows: list[Row], a: str, b: str, s: float) -> list[Row]:
    """Per-problem paired comparison of ``a`` against ``b`` at switch cost ``s``, then a pooled row.

    Args:
        rows: per-seed rows (``problem``, ``method``, ``seed`` and the regret column for
            ``s``), as ``suite.per_seed_rows`` writes them.
        a, b: method names.
        s: the switch cost whose equal-cost column is compared (``0``: final regret).

    Returns:
        one dict per problem that both methods ran (seeds both ran, with a finite regret),
        sorted by problem, then ``{"problem": "all", ...}`` with the summed counts, the
        pooled sign test and the geometric mean of the ratios.

    Raises:
        InputError: a method has no rows, or no problem has seeds run by both.
    """
    methods = {r["method"] for r in rows}
    missing = [m for m in (a, b) if m not in methods]
    if missing:
        raise InputError(f"no per-seed rows for {missing}; the file has {sorted(methods)}")
    values = _by_seed(rows, _regret_key(s))
    out: list[Row] = []
    for problem in sorted({r["problem"] for r in rows}):
        ra, rb = values.get((problem, a), {}), values.get((problem, b), {})
        seeds = sorted(set(ra) & set(rb))
        if not seeds:
            continue
        wins = sum(ra[k] < rb[k] for k in seeds)
        losses = sum(ra[k] > rb[k] for k in seeds)
        med_a = statistics.median(ra[k] for k in seeds)
        med_b = statistics.median(rb[k] for k in seeds)
        out.append({
            "problem": problem, "a": a, "b": b, "s": s, "seeds": len(seeds),
            "wins": wins, "losses": losses, "ties": len(seeds) - wins - losses,
            "median_a": med_a, "median_b": med_b, "ratio": _ratio(med_a, med_b),
            "p": sign_test_p(wins, losses),
        })
    if not out:
        raise InputError(f"{a} and {b} share no (problem, seed) with a regret at s = {s:g}")
    wins, losses = sum(r["wins"] for r in out), sum(r["losses"] for r in out)
    ratios = [r["ratio"] for r in out if 0 < r["ratio"] < math.inf]
    geo = statistics.geometric_mean(ratios) if ratios else math.nan
    out.append({
        "problem": "all", "a": a, "b": b, "s": s, "seeds": sum(r["seeds"] for r in out),
        "wins": wins, "losses": losses, "ties": sum(r["ties"] for r in out),
        "median_a": math.nan, "median_b": math.nan, "ratio": geo, "p": sign_test_p(wins, losses),
    })
    return out


def _ratio(x: float, y: float) -> float:
    if y > 0:
        return x / y
    return 1.0 if x == y else math.inf


def markdown(table: list[Row]) -> str:
    """A markdown table of ``paired_rows`` output (several comparisons may be concatenated)."""
    lines = [
        "| comparison | problem | A below B | A above B | ties | median A / median B "
        "| sign test p |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        name = f"`{r['a']}` vs `{r['b']}`, s = {r['s']:g}"
        prob = "**all (pooled)**" if r["problem"] == "all" else f"`{r['problem']}`"
        ratio = f"{r['ratio']:.2f}" + (" (geo. mean)" if r["problem"] == "all" else "")
        lines.append(f"| {name} | {prob} | {r['wins']} | {r['losses']} | {r['ties']} | "
                     f"{ratio} | {r['p']:.2g} |")
    return "\n".join(lines)


def load_rows(paths: list[str]) -> list[Row]:
    """Per-seed rows from suite files (``per_seed``) or benchmark results (``runs``).

    A ``results.json`` of ``bo --suite`` holds whole runs; their per-seed rows are computed
    with ``suite.per_seed_rows`` over the runs *of that file* (its equal-cost points).
    """
    rows: list[Row] = []
    for path in paths:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read a JSON file ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("per_seed"), list):
            rows.extend(data["per_seed"])
        elif isinstance(data, dict) and isinstance(data.get("runs"), list):
            from lowswitch.benchmark.bo import RunResult
            from lowswitch.benchmark.suite import per_seed_rows

            rows.extend(per_seed_rows([RunResult(**r) for r in data["runs"]]))
        else:
            raise InputError(f"{path}: expected a suite file with 'per_seed' rows or a "
                             "results file with 'runs'")
    return rows


def plot(tables: list[list[Row]], rows: list[Row], path: Path) -> None:
    """One panel per comparison: per seed, log10 of A's regret over B's, by problem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4.8), squeeze=False)
    for ax, table in zip(axes[0], tables, strict=True):
        a, b, s = table[0]["a"], table[0]["b"], table[0]["s"]
        values = _by_seed(rows, _regret_key(s))
        problems = [r["problem"] for r in table if r["problem"] != "all"]
        for i, problem in enumerate(problems):
            ra, rb = values[problem, a], values[problem, b]
            logs = [math.log10(ra[k] / rb[k]) for k in sorted(set(ra) & set(rb))
                    if ra[k] > 0 and rb[k] > 0]
            colours = ["tab:green" if v < 0 else "tab:red" if v > 0 else "grey" for v in logs]
            ax.scatter(logs, [i] * len(logs), c=colours, s=18, alpha=0.7)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(problems)), problems)
        ax.invert_yaxis()
        pooled = table[-1]
        ax.set_title(f"{a} vs {b}, s = {s:g}\nbelow {pooled['wins']}, above {pooled['losses']}, "
                     f"sign test p = {pooled['p']:.2g}", fontsize=9)
        ax.set_xlabel(f"log10(regret {a} / regret {b}), one dot per seed\n(left of 0: {a} better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark paired",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json", required=True,
                   help="comma list of suite files (per_seed rows) or bo results.json files")
    p.add_argument("--compare", action="append", required=True,
                   help="A:B@s (repeatable): A against B at switch cost s (A:B = final regret)")
    p.add_argument("--out", default="results/paired")
    p.add_argument("--no-plot", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lowswitch.benchmark paired``."""
    p = build_parser()
    args = p.parse_args(argv)
    try:
        comparisons = [parse_comparison(c) for c in args.compare]
        rows = load_rows([x.strip() for x in args.json.split(",") if x.strip()])
        tables = [paired_rows(rows, a, b, s) for a, b, s in comparisons]
    except InputError as exc:
        p.error(str(exc))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown([r for t in tables for r in t])
    print(text)
    payload = {"sources": args.json, "comparisons": tables}
    (out / "paired.json").write_text(json.dumps(payload, indent=1, default=float))
    (out / "paired.md").write_text(text + "\n")
    written = [out / "paired.json", out / "paired.md"]
    if not args.no_plot:
        plot(tables, rows, out / "paired.png")
        written.append(out / "paired.png")
    print("wrote " + ", ".join(str(w) for w in written))
    return 0


__all__ = ["load_rows", "markdown", "paired_rows", "parse_comparison", "sign_test_p"]
