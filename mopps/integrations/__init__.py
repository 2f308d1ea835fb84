"""Framework hooks for :mod:`mopps`: verl (:mod:`mopps.integrations.verl`) and TRL
(:mod:`mopps.integrations.trl`).

Each submodule imports its framework at import time, so import the one you use;
``import mopps`` and ``import mopps.integrations`` import neither.

Example:
    >>> import mopps.integrations
    >>> mopps.integrations.__all__
    []
"""

from __future__ import annotations

__all__: list[str] = []
