"""Griffe extension used by the docs build: render this project's docstrings faithfully.

The project writes Google-style docstrings with an ``Example:`` heading, cross-links API
names with MkDocs autorefs (``[`Name`][pkg.mod.Name]``, resolved and checked by the strict
build; a test refuses Sphinx roles in the packages) and occasionally a ``.. math::``
block. Griffe's Google parser treats only ``Examples:`` as the examples section
(``Example:`` would become an admonition whose ``>>>`` lines render as nested quotes).
This extension rewrites, in the docstring text only (the code is untouched):

- a line ``Example:`` to ``Examples:``, so doctest blocks render as code;
- a ``.. math::`` directive block to a ``$$ ... $$`` display equation;
- a grouped argument entry ``a, b, c: text`` (numpy-style grouping, which griffe's Google
  parser reads as one unknown parameter) to one entry per name, each with the text.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters|Params):\s*$")
_GROUPED = re.compile(r"^(\s+)(\w+(?:\s*,\s*\w+)+)\s*:\s(.*)$")


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


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_grouped_args(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    section_indent: int | None = None
    while i < len(lines):
        line = lines[i]
        header = _ARGS_HEADER.match(line)
        if header:
            section_indent = len(header.group(1))
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip() and _indent(line) <= section_indent:
            section_indent = None
        match = _GROUPED.match(line) if section_indent is not None else None
        if match is None:
            out.append(line)
            i += 1
            continue
        indent, names, first = match.groups()
        body = [first]
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > len(indent):
            body.append(lines[i].strip())
            i += 1
        for name in (n.strip() for n in names.split(",")):
            out.append(f"{indent}{name}: {' '.join(body)}")
    return "\n".join(out)


def rewrite(text: str) -> str:
    """Return ``text`` with the three rewrites above applied.

    Examples:
        >>> rewrite("Example:\\n    >>> 1\\n    1")
        'Examples:\\n    >>> 1\\n    1'
        >>> print(rewrite("Mean:\\n\\n.. math::\\n    \\\\mu = m(x)\\n"))
        Mean:
        <BLANKLINE>
        $$
        \\mu = m(x)
        $$
        <BLANKLINE>
        >>> print(rewrite("Args:\\n    a, b: shared\\n        text.\\n    c: own."))
        Args:
            a: shared text.
            b: shared text.
            c: own.
    """
    text = _EXAMPLE.sub(r"\1Examples:", text)
    if ", " in text and ":" in text:
        text = _split_grouped_args(text)
    return _math(text) if ".. math::" in text else text


class DocstringCompat(griffe.Extension):
    """Apply :func:`rewrite` to every docstring as objects are loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of a freshly loaded object in place."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
