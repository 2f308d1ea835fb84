"""Griffe extension used by the docs build: render this project's docstrings faithfully.

The project writes Google-style docstrings with an ``Example:`` heading and occasional
Sphinx roles (``:class:`Foo` ``). Griffe's Google parser treats only ``Examples:`` as the
examples section (``Example:`` would become an admonition whose ``>>>`` lines render as
nested quotes), and Markdown does not know Sphinx roles. This extension rewrites, in the
docstring text only (the code is untouched):

- a line ``Example:`` to ``Examples:``, so doctest blocks render as code;
- ``:role:`~pkg.mod.Name` `` to ``Name`` in code font, ``:role:`pkg.Name` `` to
  ``pkg.Name`` in code font (no link: an unresolved link would fail the strict build);
- a ``.. math::`` directive block to a ``$$ ... $$`` display equation.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|obj|data|exc|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _math(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == ".. math::":
            indent = len(line) - len(line.lstrip())
            body: list[str] = []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i].strip())
                i += 1
            eq = " ".join(b for b in body if b)
            out.extend([" " * indent + "$$", " " * indent + eq, " " * indent + "$$", ""])
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def rewrite(text: str) -> str:
    """Return ``text`` with the three rewrites above applied.

    Examples:
        >>> rewrite("Example:\\n    >>> 1\\n    1")
        'Examples:\\n    >>> 1\\n    1'
        >>> rewrite("see :class:`~lowswitch.gp.UniquePointGP`")
        'see `UniquePointGP`'
    """
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _ROLE.sub(_role, text)
    return _math(text) if ".. math::" in text else text


class SphinxCompat(griffe.Extension):
    """Apply :func:`rewrite` to every docstring as objects are loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of a freshly loaded object in place."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
