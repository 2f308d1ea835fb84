"""Tests for lowswitch.space: exact encoding, round trips, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lowswitch.errors import InputError
from lowswitch.space import Categorical, Float, Int, Space, param_from_dict


def _space() -> Space:
    return Space({
        "lr": Float(1e-5, 1.0, log=True),
        "frac": Float(-2.0, 3.0),
        "depth": Int(1, 12),
        "width": Int(8, 1024, log=True),
        "act": Categorical(["relu", "tanh", "gelu"]),
        "solvent": Categorical(["water", "dmso", "thf"], descriptors=[[1.0, 80.0],
                                                                      [2.0, 47.0],
                                                                      [3.0, 7.5]]),
        "flag": Categorical([True, False]),
    })


def test_dim_bounds_and_columns() -> None:
    s = _space()
    assert s.dim == 1 + 1 + 1 + 1 + 3 + 2 + 2
    assert s.bounds.shape == (2, s.dim)
    assert s.bounds.dtype == torch.float64
    assert s.columns("act") == slice(4, 7)
    assert s.columns("solvent") == slice(7, 9)


def test_encoding_matches_documented_formulas() -> None:
    s = _space()
    cfg = {"lr": 1e-3, "frac": 0.5, "depth": 4, "width": 64, "act": "tanh",
           "solvent": "dmso", "flag": False}
    x = s.encode(cfg).tolist()
    snap = lambda u: round(u * 2**40) / 2**40  # noqa: E731
    assert x[0] == snap((math.log(1e-3) - math.log(1e-5)) / (math.log(1.0) - math.log(1e-5)))
    assert x[1] == snap((0.5 + 2.0) / 5.0)
    assert x[2] == (4 - 1) / 11
    assert x[3] == (math.log(64) - math.log(8)) / (math.log(1024) - math.log(8))
    assert x[4:7] == [0.0, 1.0, 0.0]
    # descriptors min-max scaled per column
    assert x[7:9] == [0.5, (47.0 - 7.5) / (80.0 - 7.5)]
    assert x[9:11] == [0.0, 1.0]


def test_decode_encode_roundtrip_on_configs() -> None:
    s = _space()
    rng = np.random.default_rng(0)
    for cfg in s.sample(300, rng):
        c = s.canonical(cfg)
        assert s.decode(s.encode(c)) == c
        assert torch.equal(s.encode(c), s.encode(cfg))
        assert s.canonical(c) == c  # idempotent


def test_encode_decode_roundtrip_on_points() -> None:
    s = _space()
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        x = torch.rand(s.dim, generator=gen, dtype=torch.float64)
        x1 = s.encode(s.decode(x))
        # a decoded point is a fixed point: encode(decode(x1)) == x1 bit for bit
        assert torch.equal(s.encode(s.decode(x1)), x1)
        cfg = s.decode(x)
        for name, p in s.params.items():
            p.validate_value(name, cfg[name])  # inside the space


def test_float_grid_points_roundtrip_exactly() -> None:
    p = Float(1e-4, 10.0, log=True)
    s = Space({"a": p, "b": Float(-1.0, 1.0)})
    for k in range(0, 2**40 + 1, 2**40 // 97):
        u = k / 2**40
        x = torch.tensor([u, u], dtype=torch.float64)
        assert torch.equal(s.encode(s.decode(x)), x)


def test_user_values_merge_to_one_point() -> None:
    s = Space({"k": Int(0, 5), "c": Categorical([1, "1"]), "f": Float(0.0, 1.0)})
    a = s.encode({"k": 3, "c": 1, "f": 0.1})
    b = s.encode({"k": 3.0, "c": 1.0, "f": np.float64(0.1)})
    assert torch.equal(a, b)
    assert s.key({"k": 3, "c": 1, "f": 0.1}) == s.key({"k": np.int64(3), "c": 1, "f": 0.1})
    assert not torch.equal(a, s.encode({"k": 3, "c": "1", "f": 0.1}))
    # a value off the float grid canonicalises to the grid and keeps its point
    c = s.canonical({"k": 3, "c": 1, "f": 0.1 + 1e-15})
    assert torch.equal(s.encode(c), s.encode({"k": 3, "c": 1, "f": 0.1}))


def test_int_decode_rounds_to_nearest() -> None:
    assert Int(2, 10).decode_value([0.49]) == 6
    assert Int(2, 10).decode_value([-3.0]) == 2
    assert Int(2, 10).decode_value([7.0]) == 10
    p = Int(1, 1000, log=True)
    for v in (1, 2, 3, 10, 999, 1000):
        assert p.decode_value(p.encode_value(v)) == v


def test_descriptor_categorical_nearest_row() -> None:
    p = Categorical(["a", "b", "c"], descriptors=[[0.0], [1.0], [10.0]])
    assert p.decode_value([0.08]) == "b"  # scaled rows 0, 0.1, 1
    assert p.decode_value([0.6]) == "c"


def test_validation_errors_name_the_parameter() -> None:
    s = _space()
    good = {"lr": 1e-3, "frac": 0.5, "depth": 4, "width": 64, "act": "tanh",
            "solvent": "dmso", "flag": False}
    cases = [
        ({**good, "bogus": 1}, "bogus"),
        ({k: v for k, v in good.items() if k != "depth"}, "depth"),
        ({**good, "lr": 2.0}, "lr"),
        ({**good, "lr": float("nan")}, "lr"),
        ({**good, "frac": "0.5"}, "frac"),
        ({**good, "depth": 2.5}, "depth"),
        ({**good, "depth": True}, "depth"),
        ({**good, "depth": 13}, "depth"),
        ({**good, "act": "sigmoid"}, "act"),
        ({**good, "act": ["relu"]}, "act"),
        ({**good, "flag": 0}, "flag"),
    ]
    for cfg, name in cases:
        with pytest.raises(InputError, match=name):
            s.encode(cfg)
    with pytest.raises(InputError, match="dict"):
        s.validate([1, 2])  # type: ignore[arg-type]


def test_decode_rejects_bad_points() -> None:
    s = Space({"a": Float(0.0, 1.0)})
    with pytest.raises(InputError, match="shape"):
        s.decode(torch.zeros(2))
    with pytest.raises(InputError, match="finite"):
        s.decode(torch.tensor([float("nan")]))


def test_bad_parameter_definitions() -> None:
    with pytest.raises(InputError):
        Float(1.0, 0.0)
    with pytest.raises(InputError):
        Float(0.0, 1.0, log=True)
    with pytest.raises(InputError):
        Int(0, 10, log=True)
    with pytest.raises(InputError):
        Int(0.5, 3)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Categorical([])
    with pytest.raises(InputError):
        Categorical(["a", "a"])
    with pytest.raises(InputError):
        Categorical(["a", "b"], descriptors=[[1.0], [1.0]])
    with pytest.raises(InputError):
        Categorical(["a", "b"], descriptors=[[1.0, 2.0]])
    with pytest.raises(InputError):
        Space({})
    with pytest.raises(InputError):
        Space({"a": (0, 1)})  # type: ignore[dict-item]


def test_enumerate_discrete_space() -> None:
    s = Space({"k": Int(1, 3), "c": Categorical(["x", "y"])})
    configs = s.enumerate()
    assert s.is_discrete and s.size == 6 and len(configs) == 6
    assert configs[0] == {"k": 1, "c": "x"} and configs[-1] == {"k": 3, "c": "y"}
    X = s.encode_many(configs)
    assert torch.unique(X, dim=0).shape[0] == 6
    assert [s.decode(x) for x in X] == configs
    with pytest.raises(InputError, match="continuous"):
        Space({"f": Float(0.0, 1.0)}).enumerate()
    with pytest.raises(InputError, match="limit"):
        s.enumerate(limit=5)


def test_sample_is_seeded_and_valid() -> None:
    s = _space()
    a = s.sample(20, np.random.default_rng(3))
    b = s.sample(20, np.random.default_rng(3))
    assert a == b
    for cfg in a:
        assert s.canonical(cfg) == cfg


def test_to_dict_is_json_safe_and_roundtrips() -> None:
    s = _space()
    data = json.loads(json.dumps(s.to_dict()))
    s2 = Space.from_dict(data)
    assert s2 == s
    cfg = s.sample(1, np.random.default_rng(0))[0]
    assert torch.equal(s2.encode(cfg), s.encode(cfg))
    with pytest.raises(InputError):
        param_from_dict({"type": "complex"})


def test_float_bounds_decode_exactly() -> None:
    for p in (Float(0.5, 500.0, log=True), Float(3e-4, 3e-2, log=True), Float(-1.0, 0.3)):
        assert p.decode_value([1.0]) == p.high and p.decode_value([0.0]) == p.low
        assert p.encode_value(p.high) == [1.0] and p.encode_value(p.low) == [0.0]
