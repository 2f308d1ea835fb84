"""MoPPS benchmarks: ``python -m mopps.benchmark <name> ...``.

``grpo``: a real GRPO study through TRL's ``GRPOTrainer`` on a locally generated arithmetic
task (needs ``pip install 'lowswitch[trl]'``). Importing this package imports nothing heavy;
each benchmark module is imported only when it runs.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {"grpo": "mopps.benchmark.grpo"}

__all__ = ["BENCHMARKS"]
