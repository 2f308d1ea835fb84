"""The GP refuses observations outside the documented measurement range at its boundary
(issue 13, item 3): before, |y| ~ 1e160 was accepted and the fit failed later in the
noise prior."""

from __future__ import annotations

import math

import pytest
import torch

from lowswitch.errors import InputError
from lowswitch.gp.model import UniquePointGP
from lowswitch.validation import MAX_ABS_MEASUREMENT


@pytest.mark.parametrize("bad", [1e160, -1.0001e100, math.inf, -math.inf, math.nan])
def test_out_of_range_y_is_refused_at_construction_and_at_add(bad: float) -> None:
    X = torch.linspace(0, 1, 4, dtype=torch.float64).unsqueeze(-1)
    Y = torch.tensor([[0.1], [0.4], [bad], [0.2]], dtype=torch.float64)
    # NaN/inf were refused before (by the tensor check); huge finite values are new
    match = r"train_Y: expected finite values" + (r".*1e\+100.*row 2" if math.isfinite(bad)
                                                   else "")
    with pytest.raises(InputError, match=match):
        UniquePointGP(X, Y)
    model = UniquePointGP(X, torch.zeros(4, 1, dtype=torch.float64))
    with pytest.raises(InputError, match="expected finite values"):
        model.add_observations(X[:1], torch.tensor([[bad]], dtype=torch.float64))


def test_the_bound_itself_is_accepted() -> None:
    X = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    Y = torch.tensor([[MAX_ABS_MEASUREMENT], [-MAX_ABS_MEASUREMENT]], dtype=torch.float64)
    assert UniquePointGP(X, Y).n_unique == 2
