"""Every public class and function has a docstring with a runnable example.

"Public" means: the names exported (``__all__``) by the top-level packages and by the
modules the API reference documents (``docs/api/*.md``). Names defined outside this project
(re-exported third-party types) and constants are not checked. A module whose optional
framework is not installed (verl, TRL, Ray, Optuna) is read statically with :mod:`ast`, so
the check does not depend on which extras are installed.

A failure lists the names without an ``Example`` section, to pass on to their owners.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules whose public names the API reference documents (keep in sync with docs/api/).
PUBLIC_MODULES = [
    "lowswitch",
    "lowswitch.gp",
    "lowswitch.policies",
    "lowswitch.bandit",
    "lowswitch.space",
    "lowswitch.tune",
    "lowswitch.campaign",
    "lowswitch.errors",
    "lowswitch.integrations.optuna",
    "lowswitch.integrations.ray",
    "mopps",
    "mopps.selector",
    "mopps.sampler",
    "mopps.metrics",
    "mopps.features",
    "mopps.integrations.verl",
    "mopps.integrations.trl",
]
OURS = ("lowswitch", "mopps")


@dataclass(frozen=True)
class Entry:
    """One public class or function: where it is exported, its full name, its docstring."""

    exported_as: str
    qualname: str
    doc: str | None


def _module_file(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return None if spec is None or spec.origin is None else Path(spec.origin)


def _static_entries(module: str, path: Path) -> list[Entry]:
    """Public top-level classes/functions of a module that cannot be imported here."""
    tree = ast.parse(path.read_text())
    exported: list[str] | None = None
    defs: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                exported = list(ast.literal_eval(node.value)) if node.value else []
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            defs[node.name] = ast.get_docstring(node)
    names = exported if exported is not None else [n for n in defs if not n.startswith("_")]
    return [Entry(f"{module}.{n}", f"{module}.{n}", defs[n]) for n in names if n in defs]


def _imported_entries(module: str) -> list[Entry]:
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n for n, v in vars(mod).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module
        ]
    entries = []
    for name in names:
        obj = getattr(mod, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not getattr(obj, "__module__", "").startswith(OURS):
            continue
        qualname = f"{obj.__module__}.{obj.__qualname__}"
        entries.append(Entry(f"{module}.{name}", qualname, inspect.getdoc(obj)))
    return entries


def public_entries() -> tuple[list[Entry], list[str]]:
    """All public classes/functions (deduplicated by definition) and modules not found."""
    seen: dict[str, Entry] = {}
    missing: list[str] = []
    for module in PUBLIC_MODULES:
        path = _module_file(module)
        if path is None:
            missing.append(module)
            continue
        try:
            entries = _imported_entries(module)
        except ImportError as err:
            if err.name is not None and err.name.split(".")[0] in OURS:
                raise
            entries = _static_entries(module, path)  # optional framework not installed
        for e in entries:
            seen.setdefault(e.qualname, e)
    return sorted(seen.values(), key=lambda e: e.qualname), missing


def _has_example(doc: str | None) -> bool:
    return doc is not None and "Example" in doc


def test_public_api_is_found() -> None:
    entries, _ = public_entries()
    names = {e.qualname.rsplit(".", 1)[-1] for e in entries}
    # the contract's core names; a rename here must be reflected in the docs
    assert {"UniquePointGP", "fit_gp", "UniqueStats", "PromptSelector"} <= names


def test_every_public_class_and_function_has_an_example() -> None:
    entries, missing_modules = public_entries()
    without_doc = [e.exported_as for e in entries if not e.doc]
    without_example = [e.exported_as for e in entries if e.doc and not _has_example(e.doc)]
    message = []
    if without_doc:
        message.append("no docstring: " + ", ".join(without_doc))
    if without_example:
        message.append("docstring without an 'Example' section: " + ", ".join(without_example))
    assert not message, "\n".join(message)
    if missing_modules:
        pytest.skip(f"modules not written yet: {', '.join(missing_modules)}")


def test_static_reader_matches_import() -> None:
    """The ast fallback sees the same names and docstrings as an import does."""
    module = "lowswitch.gp.likelihood"
    path = _module_file(module)
    assert path is not None
    static = {e.exported_as: e.doc for e in _static_entries(module, path)}
    imported = {e.exported_as: e.doc for e in _imported_entries(module)}
    assert static == imported


def test_docstrings_cross_link_with_autorefs_not_sphinx_roles() -> None:
    """API names link as ``[`Name`][dotted.path]`` (MkDocs autorefs, checked by the strict
    docs build); a Sphinx role (``:class:`...```) would render as raw text, since the docs
    build no longer rewrites them."""
    import re

    role = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|obj|data|exc|const):`")
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for pkg in ("lowswitch", "mopps")
        for path in sorted((ROOT / pkg).rglob("*.py"))
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if role.search(line)
    ]
    assert not offenders, f"Sphinx roles left (use [`Name`][dotted.path]): {offenders}"
