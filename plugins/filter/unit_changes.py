"""The antone.infra.unit_changes filter: the units whose state differs from what a role wants.

The code is in plugins/plugin_utils/units.py; this file makes it a filter.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.units import unit_changes

DOCUMENTATION = r"""
name: unit_changes
author: antone.infra developers
version_added: "0.2.0"
short_description: The systemd units whose state differs from the wanted one
description:
  - Compares antone.infra.host_state's C(units) answer with the wanted state of each unit and returns
    the units a role must correct, so that ansible.builtin.systemd_service runs only for those.
  - A unit systemd does not know (not installed, or its unit file not written yet) always differs.
options:
  _input:
    description: host_state's C(units) result (unit -> load_state, active_state, unit_file_state).
    type: dict
    required: true
  wanted:
    description: >-
      unit -> {enabled, active, masked}, each a bool or null; a null or absent key is not compared
      (a unit left stopped or started as it is, for example).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Start cron only when it is not enabled and running
  ansible.builtin.systemd_service:
    name: cron.service
    enabled: true
    state: started
  when: "'cron.service' in state.units | antone.infra.unit_changes({'cron.service': {'enabled': true, 'active': true}})"
"""

RETURN = r"""
_value:
  description: The units to correct, in the order of O(wanted).
  type: list
  elements: str
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"unit_changes": ansible_filter("unit_changes", unit_changes)}
