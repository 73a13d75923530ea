"""The antone.infra.pgtune filter: PGTune's PostgreSQL settings for a memory budget.

A faithful port of PGTune (le0pard/pgtune at commit 830d3bb) for Linux; the code is in
plugins/plugin_utils/pgtune.py, shared with the postgres_tuning role's plan.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.pgtune import pgtune

DOCUMENTATION = r"""
name: pgtune
author: antone.infra developers
version_added: "0.1.0"
short_description: PGTune's PostgreSQL settings for a memory budget
description:
  - Turns the memory given to PostgreSQL into PGTune's settings (Linux), as a dict of setting
    names to values written as PostgreSQL accepts them (C(4GB), C(39568kB), C(0.9), C(try)).
  - A faithful port of PGTune (le0pard/pgtune at commit 830d3bb); tested against PGTune's own
    output for 32 inputs.
options:
  _input:
    description: Memory given to PostgreSQL, in MB.
    type: int
    required: true
  cpus:
    description: CPUs PostgreSQL may use. Below 4, no parallel settings are returned.
    type: int
    default: 0
  max_connections:
    description: Expected connections; PGTune's default for the workload when left out.
    type: int
  workload:
    description: Kind of database.
    type: str
    default: web
    choices: [web, oltp, dw, mixed, desktop]
  storage:
    description: Kind of storage under the data directory.
    type: str
    default: ssd
    choices: [ssd, hdd, san, nvme]
  pg_version:
    description: PostgreSQL major version.
    type: int
    default: 17
    choices: [13, 14, 15, 16, 17]
"""

EXAMPLES = r"""
- name: PGTune's settings for 16 GB on 6 CPUs
  ansible.builtin.debug:
    msg: "{{ 16384 | antone.infra.pgtune(cpus=6, max_connections=100, workload='web', storage='ssd', pg_version=17) }}"
"""

RETURN = r"""
_value:
  description: "Setting names to values, for example C({'shared_buffers': '4GB', 'work_mem': '39568kB', 'jit': 'off'})."
  type: dict
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"pgtune": ansible_filter("pgtune", pgtune)}
