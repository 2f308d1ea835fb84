"""The one state header shared by lowswitch and mopps (lowswitch.bandit.state)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError
from mopps import MoPPSSampler, PromptSelector


def test_header_round_trip() -> None:
    assert read_header(state_header("mopps.PromptSelector", 2), "mopps.PromptSelector", {2}) == 2


def test_mopps_states_carry_the_shared_header() -> None:
    sel = PromptSelector(5, seed=1)
    assert sel.state_dict()["format"] == "mopps.PromptSelector"
    assert sel.state_dict()["version"] == 2
    smp = MoPPSSampler(PromptSelector(10, seed=2), batch_size=2)
    assert (smp.state_dict()["format"], smp.state_dict()["version"]) == ("mopps.MoPPSSampler", 2)


def _as_v1(state: dict[str, Any], kind: str) -> dict[str, Any]:
    """The layout written before the shared header: ``format`` = ``kind/1``, no version."""
    old = {k: v for k, v in state.items() if k not in ("format", "version")}
    old["format"] = f"{kind}/1"
    return old


def test_states_saved_before_the_shared_header_still_load() -> None:
    a = PromptSelector(20, seed=3)
    a.update([0, 1, 2], [3, 0, 8], [8, 8, 8])
    b = PromptSelector(20, seed=99)
    b.load_state_dict(_as_v1(a.state_dict(), "mopps.PromptSelector"))
    assert torch.equal(a.select(5), b.select(5))

    sa = MoPPSSampler(PromptSelector(20, seed=5), batch_size=3)
    it_a = iter(sa)
    _ = [next(it_a) for _ in range(4)]
    old = _as_v1(sa.state_dict(), "mopps.MoPPSSampler")
    old["selector"] = _as_v1(old["selector"], "mopps.PromptSelector")
    sb = MoPPSSampler(PromptSelector(20, seed=6), batch_size=3)
    sb.load_state_dict(old)
    it_b = iter(sb)
    assert [next(it_a) for _ in range(5)] == [next(it_b) for _ in range(5)]


def test_a_state_handed_to_the_wrong_class_names_both() -> None:
    smp = MoPPSSampler(PromptSelector(10, seed=2), batch_size=2)
    with pytest.raises(InputError, match=r"by 'mopps\.MoPPSSampler', expected 'mopps\.Prompt"):
        PromptSelector(10).load_state_dict(smp.state_dict())


def test_newer_and_malformed_versions_are_refused() -> None:
    state = PromptSelector(4).state_dict()
    with pytest.raises(InputError, match="newer release"):
        PromptSelector(4).load_state_dict({**state, "version": 3})
    for bad in (True, "2", 2.0, None):
        with pytest.raises(InputError, match="expected an int"):
            PromptSelector(4).load_state_dict({**state, "version": bad})
    with pytest.raises(InputError, match=r"mopps\.PromptSelector/2"):
        # an unknown legacy tag is not silently read as something else
        PromptSelector(4).load_state_dict(
            _as_v1(state, "mopps.PromptSelector") | {"format": "mopps.PromptSelector/2"}
        )


def test_lowswitch_legacy_header_is_version_only() -> None:
    assert read_header({"version": 1, "data": []}, "lowswitch.Tuner", {1}) == 1
    # the version-only form is lowswitch's legacy, never accepted for mopps
    with pytest.raises(InputError, match="no 'format' key"):
        read_header({"version": 1}, "mopps.PromptSelector", {1, 2})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=3)
    | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=8,
)


@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {
                "format": st.sampled_from(
                    ["mopps.PromptSelector", "mopps.PromptSelector/1", "mopps.PromptSelector/x"]
                )
                | st.text(max_size=25),
                "version": _json,
            },
        ),
    )
)
def test_any_input_gives_a_known_version_or_a_clear_error(state: Any) -> None:
    try:
        version = read_header(state, "mopps.PromptSelector", {1, 2})
    except InputError as err:
        assert str(err).startswith("state")
    else:
        assert version in {1, 2}


def test_lowswitch_states_carry_the_shared_header_and_old_ones_load() -> None:
    from lowswitch import LowSwitchGPUCB
    from lowswitch.space import Float, Space
    from lowswitch.tune import Tuner

    opt = LowSwitchGPUCB(torch.tensor([[0.0], [1.0]]), seed=1)
    for _ in range(3):
        b = opt.ask()
        opt.tell(b.x, torch.full((b.repeats,), float(b.x[0])))
    state = opt.state_dict()
    assert (state["format"], state["version"]) == ("lowswitch.LowSwitchPolicy", 2)
    old = {k: v for k, v in state.items() if k != "format"} | {"version": 1}
    again = LowSwitchGPUCB.from_state_dict(old)
    assert torch.equal(again.ask().x, opt.ask().x)

    tuner = Tuner(Space({"x": Float(0.0, 1.0)}), seed=0)
    trial = tuner.ask()
    tuner.tell(trial.trial_id, 0.5)
    tstate = tuner.state_dict()
    assert (tstate["format"], tstate["version"]) == ("lowswitch.Tuner", 2)
    fresh = Tuner(Space({"x": Float(0.0, 1.0)}), seed=0)
    fresh.load_state_dict({k: v for k, v in tstate.items() if k != "format"} | {"version": 1})
    assert fresh.state_dict() == tstate
    with pytest.raises(InputError, match=r"written by 'lowswitch\.LowSwitchPolicy'"):
        fresh.load_state_dict(state)
