"""Which units a role must correct, from host_state's answer."""

from __future__ import annotations

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.units import unit_changes

RUNNING = {"load_state": "loaded", "active_state": "active", "unit_file_state": "enabled"}
STOPPED = {"load_state": "loaded", "active_state": "inactive", "unit_file_state": "disabled"}
MASKED = {"load_state": "masked", "active_state": "inactive", "unit_file_state": "masked"}
UNKNOWN = {"load_state": "not-found", "active_state": "inactive", "unit_file_state": ""}


def test_a_unit_as_wanted_needs_nothing() -> None:
    assert unit_changes({"cron.service": RUNNING}, {"cron.service": {"enabled": True, "active": True}}) == []


@pytest.mark.parametrize(("have", "want"), [
    (STOPPED, {"enabled": True, "active": True}),
    (RUNNING, {"enabled": False, "active": False}),
    (STOPPED, {"active": True}),
    (RUNNING, {"masked": True}),
    (MASKED, {"masked": False}),
])
def test_a_difference_names_the_unit(have: dict[str, str], want: dict[str, bool]) -> None:
    assert unit_changes({"u.service": have}, {"u.service": want}) == ["u.service"]


def test_a_key_left_out_or_null_is_not_compared() -> None:
    assert unit_changes({"t.service": {**RUNNING, "active_state": "inactive"}},
                        {"t.service": {"enabled": True, "active": None}}) == []


def test_a_masked_unit_that_should_be_masked_needs_nothing() -> None:
    assert unit_changes({"nftables.service": MASKED}, {"nftables.service": {"masked": True, "enabled": False}}) == []


def test_a_unit_systemd_does_not_know_always_differs_in_wanted_order() -> None:
    assert unit_changes({"b.timer": UNKNOWN}, {"a.service": {"enabled": True}, "b.timer": {}}) == ["a.service", "b.timer"]


def test_static_units_count_as_enabled() -> None:
    assert unit_changes({"s.service": {**RUNNING, "unit_file_state": "static"}}, {"s.service": {"enabled": True}}) == []


def test_bad_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        unit_changes([], {})  # type: ignore[arg-type]
