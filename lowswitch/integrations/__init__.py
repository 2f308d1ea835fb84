"""Integrations with tuning frameworks, imported only when used.

- :mod:`lowswitch.integrations.optuna`: ``LowSwitchSampler`` (``pip install lowswitch[optuna]``).
- :mod:`lowswitch.integrations.ray`: ``LowSwitchSearcher`` for Ray Tune
  (``pip install lowswitch[ray]``).
"""

from __future__ import annotations

__all__: list[str] = []
