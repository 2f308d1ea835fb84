"""`import lowswitch.bandit` and `import mopps` stay torch + numpy only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lowswitch.bandit import Arms, BetaArms, GaussianArms

CODE = """
import sys
import {module}
{extra}
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('gpytorch', 'botorch', 'scipy',
             'linear_operator', 'pandas', 'sqlalchemy'))
print(','.join(bad))
"""


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("lowswitch.bandit", ""),
        ("mopps", "mopps.PromptSelector(10).select(2)"),
        ("mopps.selector", ""),
    ],
)
def test_no_gp_stack_imported(module, extra):
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(module=module, extra=extra)],
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"


def test_both_arm_kinds_satisfy_protocol():
    import torch

    assert isinstance(BetaArms.uniform(2), Arms)
    assert isinstance(GaussianArms(torch.zeros(2, dtype=torch.float64),
                                   torch.eye(2, dtype=torch.float64)), Arms)
