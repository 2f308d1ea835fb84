"""The storage boundary: no SQL outside the storage layer, no test hooks in the library."""

from __future__ import annotations

import ast
from pathlib import Path

import lowswitch.campaign

PACKAGE = Path(lowswitch.campaign.__file__).parent
STORAGE_LAYER = {"repository.py", "migrate.py", "storage.py"}
"""repository.py runs every query, migrate.py (+ migrations/) changes the schema, storage.py
opens connections (its only statements are the SQLite PRAGMAs and BEGIN IMMEDIATE)."""

SQL_CALLS = {"execute", "exec_driver_sql", "executemany", "executescript"}
SQL_BUILDERS = {"select", "insert", "update", "delete", "text"}


def _sql_uses(path: Path) -> list[str]:
    """Places in a module that run SQL or build statements (line: what)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found.append(f"{node.lineno}: imports from {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.startswith("sqlalchemy")
                                                  for a in node.names):
            found.append(f"{node.lineno}: imports sqlalchemy")
        if isinstance(node, ast.ImportFrom) and node.module == "lowswitch.campaign.storage":
            tables = [a.name for a in node.names if a.name.endswith("_table")]
            if tables:
                found.append(f"{node.lineno}: imports the tables {tables}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SQL_CALLS:
                found.append(f"{node.lineno}: .{func.attr}(...)")
            elif isinstance(func, ast.Name) and func.id in SQL_BUILDERS:
                found.append(f"{node.lineno}: {func.id}(...)")
    return found


def test_no_sql_outside_the_storage_layer() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "migrations" or rel.name in STORAGE_LAYER:
            continue
        uses = _sql_uses(path)
        if uses:
            offenders[str(rel)] = uses
    assert offenders == {}


def test_storage_module_runs_no_queries() -> None:
    """storage.py: connection set-up only (PRAGMAs and BEGIN IMMEDIATE), no statements."""
    tree = ast.parse((PACKAGE / "storage.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in SQL_BUILDERS, f"line {node.lineno}: {name}(...)"
            if name in SQL_CALLS:
                arg = node.args[0]
                assert isinstance(arg, (ast.Constant, ast.JoinedStr)), f"line {node.lineno}"
                sql = ast.unparse(arg).strip("'\"f")
                assert sql.startswith(("PRAGMA", "BEGIN IMMEDIATE")), f"line {node.lineno}: {sql}"


def test_library_has_no_test_hooks() -> None:
    """Fault injection lives in tests/campaign/faults.py (engine events), not in lowswitch."""
    root = PACKAGE.parent
    hits = [str(p.relative_to(root)) for p in root.rglob("*.py") if "LOWSWITCH_TEST" in
            p.read_text()]
    assert hits == []
