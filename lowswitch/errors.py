"""Exceptions shared by ``lowswitch`` and ``mopps``.

Pure Python, no third-party imports, so that every sub-package (including the
torch-only [`lowswitch.bandit`][lowswitch.bandit] and ``mopps``) can raise them.
"""

from __future__ import annotations


class LowSwitchError(Exception):
    """Base class of every error raised on purpose by this project.

    Example:
        >>> issubclass(InputError, LowSwitchError) and issubclass(StateError, LowSwitchError)
        True
    """


class InputError(LowSwitchError, ValueError):
    """An argument at a public boundary is not what was expected.

    The message names the argument, what was expected and what came.

    Example:
        >>> try:
        ...     raise InputError("train_Y: expected shape (t, 1), got (3, 2)")
        ... except ValueError as err:
        ...     print(err)
        train_Y: expected shape (t, 1), got (3, 2)
    """


class StateError(LowSwitchError, RuntimeError):
    """An object is asked to do something its current state does not allow.

    Example:
        >>> try:
        ...     raise StateError("ask: the evaluation budget (60) is exhausted")
        ... except RuntimeError as err:
        ...     print(type(err).__name__, err)
        StateError ask: the evaluation budget (60) is exhausted
    """


__all__ = ["InputError", "LowSwitchError", "StateError"]
