"""The antone.infra.stack_port_conflicts filter: the stack's ports another process of the host holds.

The code is in plugins/plugin_utils/stack_plan.py, beside the plan whose other problems it completes.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import stack_port_conflicts

DOCUMENTATION = r"""
name: stack_port_conflicts
author: antone.infra developers
version_added: "0.2.0"
short_description: The stack's published ports that another process of the host already holds
description:
  - For each enabled service's published port, whether a process other than Docker's own (docker-proxy,
    dockerd) already listens on it, on the same address or on every address; compose would otherwise
    fail half way through starting the stack.
  - The one check of the stack role that needs to know what listens on the host, so the role plans
    (antone.infra.stack_plan) before it reads the host, and checks this after the read.
options:
  _input:
    description: ports (the published ports antone.infra.stack_plan lists, each with where, published,
      protocol and host_ip) and listeners (what C(ss -Htulnp) printed on the host).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check that no other process holds the stack's ports
  ansible.builtin.assert:
    that: "{{ {'ports': plan.ports, 'listeners': ss.stdout} | antone.infra.stack_port_conflicts | length == 0 }}"
"""

RETURN = r"""
_value:
  description: One message per conflict, naming the service, the port and the process that holds it.
  type: list
  elements: str
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"stack_port_conflicts": ansible_filter("stack_port_conflicts", stack_port_conflicts)}
