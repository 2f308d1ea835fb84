"""Framework hooks for :mod:`mopps`: verl (:mod:`mopps.integrations.verl`) and TRL
(:mod:`mopps.integrations.trl`).

Each submodule imports its framework at import time, so import the one you use;
``import mopps`` and ``import mopps.integrations`` import neither.

Example:
    >>> import mopps.integrations
    >>> import sys
    >>> "verl" in sys.modules or "trl" in sys.modules
    False
"""

from __future__ import annotations

__all__: list[str] = []
