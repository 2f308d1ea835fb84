"""Every docstring example in ``lowswitch`` and ``mopps`` runs and prints what it shows.

One test per module, collected by walking the packages, so a new module's examples are run
without registering it anywhere. A module that needs an optional framework (Optuna, Ray,
verl, TRL) is skipped, with the reason, where that framework is not installed; CI runs this
file again in each framework's own environment. Examples run in a temporary working
directory, so files they write never land in the checkout.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

PACKAGES = ("lowswitch", "mopps")

# module prefix -> the import that the module needs beyond the core dependencies
OPTIONAL = {
    "lowswitch.integrations.optuna": "optuna",
    "lowswitch.integrations.ray": "ray",
    "mopps.integrations.verl": "verl",
    "mopps.integrations.trl": "trl",
    "mopps.benchmark.grpo": "trl",
    "mopps.benchmark.trainers": "trl",
    "mopps.benchmark.arith": "transformers",
}

# Alembic's migration scripts run against a live migration context when imported: they are
# exercised by tests/campaign/test_migrations.py, not imported here.
NOT_IMPORTABLE = ("lowswitch.campaign.migrations",)


def _modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1] != "__main__" and not info.name.startswith(
                NOT_IMPORTABLE
            ):
                names.append(info.name)
    return sorted(names)


MODULES = _modules()


def _needs(module: str) -> str | None:
    for prefix, framework in OPTIONAL.items():
        if module == prefix or module.startswith(prefix + "."):
            return framework
    return None


def test_every_package_module_is_collected() -> None:
    """The walk finds the modules it should (a broken walk would silently test nothing)."""
    assert {"lowswitch.gp.model", "lowswitch.policies.base", "mopps.selector"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    framework = _needs(name)
    if framework is not None:
        pytest.importorskip(framework, reason=f"{name} needs {framework}")
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test, out=failures.append)
    if failures:
        pytest.fail("".join(failures), pytrace=False)
