"""One header for every saved state in both packages: ``{"format": kind, "version": n}``.

Every ``state_dict()`` in ``lowswitch`` and ``mopps`` starts with the same two keys:

- ``"format"``: the dotted name of the class that wrote it (``"mopps.PromptSelector"``,
  ``"lowswitch.LowSwitchGPUCB"``, ...), so a state handed to the wrong class is refused
  with a message naming both;
- ``"version"``: an integer bumped whenever the layout changes.

[`read_header`][lowswitch.bandit.state.read_header] checks both and returns the version, accepting
the older headers written before this convention (``{"version": 1}`` alone in ``lowswitch``,
``{"format": "mopps.PromptSelector/1"}`` in ``mopps``), so states saved by earlier releases still
load.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from lowswitch.errors import InputError


def state_header(kind: str, version: int) -> dict[str, Any]:
    """The two leading keys of a saved state.

    Args:
        kind: dotted name of the writing class, e.g. ``"mopps.PromptSelector"``.
        version: layout version (an int >= 1).

    Returns:
        ``{"format": kind, "version": version}``.

    Example:
        >>> state_header("mopps.PromptSelector", 2)
        {'format': 'mopps.PromptSelector', 'version': 2}
    """
    return {"format": kind, "version": version}


def _legacy_version(state: dict[str, Any], kind: str) -> int | None:
    fmt = state.get("format")
    if isinstance(fmt, str) and "/" in fmt:  # mopps before the shared header: "kind/1"
        name, _, ver = fmt.rpartition("/")
        if name == kind and ver == "1" and "version" not in state:  # only "/1" was written
            return 1
    if "format" not in state and kind.startswith("lowswitch."):  # lowswitch: version only
        version = state.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            return version
    return None


def read_header(state: Any, kind: str, versions: Collection[int]) -> int:
    """Check a saved state's header and return its layout version.

    Args:
        state: what ``state_dict()`` returned (possibly after a JSON or torch round trip).
        kind: the class expected to have written it.
        versions: the layout versions this reader understands.

    Returns:
        The state's version (one of ``versions``).

    Raises:
        InputError: not a dict, written by another class, or a version not understood;
            the message says what was expected.

    Example:
        >>> read_header({"format": "mopps.PromptSelector", "version": 2},
        ...             "mopps.PromptSelector", {1, 2})
        2
        >>> read_header({"format": "mopps.PromptSelector/1"}, "mopps.PromptSelector", {1, 2})
        1
        >>> read_header({"format": "mopps.Sampler", "version": 2}, "lowswitch.Tuner", {1})
        Traceback (most recent call last):
        ...
        lowswitch.errors.InputError: state: written by 'mopps.Sampler', expected 'lowswitch.Tuner'
    """
    wanted = sorted(versions)
    if not isinstance(state, dict):
        raise InputError(f"state: expected a dict from {kind}.state_dict(), "
                         f"got {type(state).__name__}")
    legacy = _legacy_version(state, kind)
    version: Any = legacy
    if legacy is None:
        fmt, version = state.get("format"), state.get("version")
        if fmt != kind:
            got = f"written by {fmt!r}" if isinstance(fmt, str) else "no 'format' key"
            raise InputError(f"state: {got}, expected {kind!r}")
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(f"state['version']: expected an int in {wanted}, got {version!r}")
    if version not in versions:
        raise InputError(f"state['version']: {kind} reads versions {wanted}, got {version}; "
                         "was it saved by a newer release?")
    return version


__all__ = ["read_header", "state_header"]
