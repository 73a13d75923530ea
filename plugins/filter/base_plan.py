"""The antone.infra.base_plan filter: the base role's checks of its inputs.

The code is in plugins/plugin_utils/base_plan.py; this file makes it a filter.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.base_plan import base_plan
from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter

DOCUMENTATION = r"""
name: base_plan
author: antone.infra developers
version_added: "0.2.0"
short_description: The problems of the base role's inputs, before anything changes
description:
  - Checks the timezone, the automatic reboot time, the public ports, the deploy user and its keys,
    root's login and how the play connects, and returns every problem, each naming the variable to fix.
options:
  _input:
    description: >-
      timezone, reboot_time, public_ports, deploy_user, deploy_user_keys, permit_root_login, connect_user,
      connects_as_deploy, connection_key (the public key line of the key file the play connects with, or
      empty), connection (ansible_connection) and uses_password (whether the play has an SSH password).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the input before changing anything
  ansible.builtin.assert:
    that: __base_plan.problems | length == 0
    fail_msg: "{{ __base_plan.problems }}"
  vars:
    __base_plan: "{{ __base_plan_inputs | antone.infra.base_plan }}"
"""

RETURN = r"""
_value:
  description: >-
    C(problems), a list of messages (empty when the role may run), and C(deploy_keys_exclusive), whether the
    deploy user's keys may replace the host's (not when the play connects as that user with a key it cannot read).
  type: dict
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"base_plan": ansible_filter("base_plan", base_plan)}
