"""Run ``lowswitch`` with a pause injected inside a transaction (durability tests only).

The pause is a SQLAlchemy engine event installed here, in the test's own process wrapper:
the library has no test hooks. ``STAGE`` picks the statement after which the process sleeps,
inside its still-open transaction:

* ``record``: the measurement rows are inserted; the experiments are not yet marked done and
  nothing is committed;
* ``suggest``: the plate's experiment rows are inserted; the counters are not yet updated.

Usage::

    python faults.py STAGE SECONDS MARK -- ARGS...   # MARK: file touched before sleeping, or -
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

AFTER = {"record": "INSERT INTO lowswitch_measurements",
         "suggest": "INSERT INTO lowswitch_experiments"}


def install(stage: str, seconds: float, mark: str) -> None:
    """Sleep ``seconds`` after the first statement of ``stage`` (see the module doc)."""
    prefix = AFTER[stage]
    fired: list[bool] = []

    @event.listens_for(Engine, "after_cursor_execute")
    def _pause(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired or not statement.lstrip().startswith(prefix):
            return
        fired.append(True)
        if mark != "-":
            Path(mark).touch()
        time.sleep(seconds)


def main() -> None:
    stage, seconds, mark, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: faults.py STAGE SECONDS MARK -- ARGS..."
    install(stage, float(seconds), mark)
    sys.argv = ["lowswitch", *args]
    from lowswitch.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
