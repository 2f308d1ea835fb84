"""MoPPS benchmarks: ``python -m mopps.benchmark <name> ...``.

``grpo``: a real GRPO study through TRL's ``GRPOTrainer`` on a locally generated arithmetic
task (needs ``pip install 'lowswitch[trl]'``). ``feature-overhead``: the selector's cost
with the feature prior at 1e5 prompts (no TRL). Importing this package imports nothing heavy;
each benchmark module is imported only when it runs.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "grpo": "mopps.benchmark.grpo",
    "feature-overhead": "mopps.benchmark.feature_overhead",
}

__all__ = ["BENCHMARKS"]
