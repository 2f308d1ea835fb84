"""Integrations with tuning frameworks, imported only when used.

- [`lowswitch.integrations.optuna`][lowswitch.integrations.optuna]: ``LowSwitchSampler`` (``pip
  install lowswitch[optuna]``).
- [`lowswitch.integrations.ray`][lowswitch.integrations.ray]: ``LowSwitchSearcher`` for Ray Tune
  (``pip install lowswitch[ray]``).
"""

from __future__ import annotations

__all__: list[str] = []
