"""The documentation builds in strict mode and every notebook executes (``-m docs``).

Needs the ``docs`` extra (``pip install -e ".[docs]"``): MkDocs + Material + mkdocstrings,
nbclient, nbformat, ipykernel. CI runs these in their own lane (``.ci/run``); a broken link,
an unresolved API reference or a failing notebook cell fails the lane.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# the notebooks the docs promise (docs/notebooks.md); each must exist
REQUIRED_NOTEBOOKS = [
    "01_unique_point_gp.ipynb",
    "02_tuning.ipynb",
    "03_campaign.ipynb",
    "04_rl_prompt_sampling.ipynb",
]
NOTEBOOK_TIMEOUT_S = 900  # per cell; the notebooks themselves take about a minute each

pytestmark = pytest.mark.docs


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "api" / "gp" / "index.html").is_file()


@pytest.mark.parametrize("name", REQUIRED_NOTEBOOKS)
def test_required_notebook_exists(name: str) -> None:
    assert (ROOT / "notebooks" / name).is_file(), f"notebooks/{name} is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    with_outputs = [
        i for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not with_outputs, f"{path.name}: cells {with_outputs} carry stored outputs"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec that runs *this* interpreter, whatever kernels the user has installed."""
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "lowswitch-docs"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lowswitch docs",
        "language": "python",
        # one BLAS/OpenMP thread, as in the unit tests (tests/conftest.py): on a shared or
        # small CI machine extra threads only add contention; results do not change
        "env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root), old]))
    yield "lowswitch-docs"
    if old is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_name: str, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    # run in a scratch copy of the notebooks folder so that files a notebook writes land there
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    client = nbclient.NotebookClient(
        nb,
        timeout=NOTEBOOK_TIMEOUT_S,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(work)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the traceback) on the first failure
    print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block of the quick start runs, in order, in one namespace."""
    pytest.importorskip("mkdocs")
    blocks = _python_blocks((ROOT / "docs" / "quickstart.md").read_text())
    assert blocks, "docs/quickstart.md has no python blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__quickstart__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"quickstart.md block {i + 1}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message is the point
            raise AssertionError(f"quickstart.md block {i + 1} failed:\n{block}") from err


MATHS_PAGES = sorted((ROOT / "docs" / "maths").glob("*.md"))


@pytest.mark.parametrize("page", MATHS_PAGES, ids=[p.name for p in MATHS_PAGES])
def test_maths_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code on the maths pages is complete and runs (the guides use placeholders)."""
    pytest.importorskip("mkdocs")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__mathsdoc__"}
    for i, block in enumerate(_python_blocks(page.read_text())):
        exec(compile(block, f"{page.name} block {i + 1}", "exec"), namespace)


def test_griffe_extension_rewrites() -> None:
    """The docs build's docstring rewrites (docs/_griffe/docstring_compat.py) do what they say."""
    pytest.importorskip("griffe")
    import doctest
    import importlib.util

    path = ROOT / "docs" / "_griffe" / "docstring_compat.py"
    spec = importlib.util.spec_from_file_location("docstring_compat", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = doctest.testmod(module)
    assert result.attempted >= 3 and result.failed == 0
