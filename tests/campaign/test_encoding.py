"""Candidate tables described as a shared Space: one-hot, numeric and descriptor encodings."""

from __future__ import annotations

import pytest
import torch

from lowswitch.campaign.encoding import encode_rows, table_space
from lowswitch.errors import InputError
from lowswitch.space import Categorical, Float, Space


def test_onehot_and_numeric_match_a_hand_built_space() -> None:
    rows = [{"b": "y", "T": 20.0}, {"b": "x", "T": 60.0}, {"b": "z", "T": 40.0}]
    space = table_space(rows, ["b", "T"])
    assert space == Space({"b": Categorical(["x", "y", "z"]), "T": Float(20.0, 60.0)})
    X = encode_rows(rows, space)
    expected = torch.tensor([[0, 1, 0, 0.0], [1, 0, 0, 1.0], [0, 0, 1, 0.5]], dtype=torch.float64)
    assert torch.equal(X, expected)


def test_descriptors_replace_the_onehot_of_their_input() -> None:
    rows = [{"lig": "a", "s": "p", "cone": 100.0}, {"lig": "b", "s": "p", "cone": 150.0},
            {"lig": "a", "s": "q", "cone": 100.0}, {"lig": "c", "s": "q", "cone": 200.0}]
    space = table_space(rows, ["lig", "s"], ["cone"])
    assert space.to_dict()["lig"]["descriptors"] == [[100.0], [150.0], [200.0]]
    X = encode_rows(rows, space)
    assert X.shape == (4, 3)  # one descriptor column + one-hot of s
    assert X[:, 0].tolist() == [0.0, 0.5, 0.0, 1.0]
    assert len({tuple(r) for r in X.tolist()}) == 4


def test_descriptor_must_belong_to_one_input() -> None:
    rows = [{"lig": "a", "cone": 1.0}, {"lig": "a", "cone": 2.0}, {"lig": "b", "cone": 2.0}]
    with pytest.raises(InputError, match="not a function of any categorical input"):
        table_space(rows, ["lig"], ["cone"])


def test_descriptor_clash_is_refused() -> None:
    rows = [{"lig": "a", "cone": 1.0}, {"lig": "b", "cone": 1.0}]
    with pytest.raises(InputError, match="same values"):
        table_space(rows, ["lig"], ["cone"])


def test_levels_closer_than_the_encoding_resolves_are_refused() -> None:
    """Issue 13 item 9: 20 and 20.000000000001 used to encode to the same row."""
    rows = [{"T": 20.0}, {"T": 20.000000000001}, {"T": 40.0}]
    with pytest.raises(InputError, match="too close to tell apart"):
        table_space(rows, ["T"])
    table_space([{"T": 20.0}, {"T": 20.001}, {"T": 40.0}], ["T"])  # resolvable: accepted
