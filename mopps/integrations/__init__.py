"""Framework hooks for ``mopps``: verl ([`mopps.integrations.verl`][mopps.integrations.verl]) and
TRL
([`mopps.integrations.trl`][mopps.integrations.trl]).

Each submodule imports its framework at import time, so import the one you use;
``import mopps`` and ``import mopps.integrations`` import neither.

Example:
    >>> import mopps.integrations
    >>> mopps.integrations.__all__
    []
"""

from __future__ import annotations

__all__: list[str] = []
