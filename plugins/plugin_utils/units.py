"""Which systemd units differ from what a role wants, from antone.infra.host_state's `units` answer.

A role reads its units once (host_state) and runs ansible.builtin.systemd_service only for the units
this function names: a re-run whose units are as wanted runs no unit task at all.
"""

from __future__ import annotations

from typing import Any

ENABLED = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")
ACTIVE = ("active", "activating", "reloading")


def unit_changes(units: dict[str, dict[str, str]], wanted: dict[str, dict[str, Any]]) -> list[str]:
    """The units (in wanted's order) whose state differs from wanted: {unit: {enabled, active, masked}},
    each key optional (an absent key is not checked). A unit systemd does not know always differs."""
    if not isinstance(units, dict) or not isinstance(wanted, dict):
        raise TypeError(f"takes the units host_state read and the wanted states, both mappings, got {units!r}, {wanted!r}")
    changes = []
    for unit, want in wanted.items():
        have = units.get(unit) or {}
        masked = have.get("unit_file_state") == "masked" or have.get("load_state") == "masked"
        state = {"masked": masked,
                 "enabled": have.get("unit_file_state") in ENABLED,
                 "active": have.get("active_state") in ACTIVE}
        known = have.get("load_state") == "loaded" or (masked and bool(want.get("masked")))
        if not known or any(bool(want[key]) != state[key] for key in ("masked", "enabled", "active")
                            if want.get(key) is not None):
            changes.append(unit)
    return changes
