"""The antone.infra.postgres_tuning_plan filter: the postgres_tuning role's one plan.

The code is in plugins/plugin_utils/postgres_tuning.py (budget, PGTune, container sizing, the
connection and memory checks); this file makes it a filter.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.postgres_tuning import postgres_tuning_plan

DOCUMENTATION = r"""
name: postgres_tuning_plan
author: antone.infra developers
version_added: "0.2.0"
short_description: The postgres_tuning role's inputs checked, and everything it writes and publishes
description:
  - Derives the memory budget (the inventory's, or a share of the host's memory in 256 MB steps),
    computes PGTune's settings for it (the antone.infra.pgtune filter's code), applies the role's
    documented departures and sizes the container (/dev/shm, memory limit, huge pages).
  - Checks every input, the budget against the host, the connections against the budget, the
    names, values and units of extra settings, and the computed shared memory, container limit and
    huge pages against the host, before anything is applied. Each problem names the variable to fix.
options:
  _input:
    description: >-
      The role's variables without the postgres_tuning_ prefix (memory_mb, memory_fraction,
      memory_min_mb, memory_max_mb, reserve_percent, workload, storage, max_connections, cpus,
      pg_version, work_mem_cap_mb, maintenance_work_mem_cap_mb, parallel_tuple_cost, jit_above_cost,
      hash_mem_multiplier, parallel_queries, huge_pages, swappiness, extra_settings).
    type: dict
    required: true
  host_memory_mb:
    description: The host's memory in MB (ansible_facts['memtotal_mb']).
    type: int
    required: true
  host_cpus:
    description: The host's CPUs (ansible_facts['processor_vcpus']), used when cpus is 0.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Plan the tuning for a 12 GB budget on this host
  ansible.builtin.set_fact:
    plan: >-
      {{ {'memory_mb': 12288, 'max_connections': 100} | antone.infra.postgres_tuning_plan(
           host_memory_mb=ansible_facts['memtotal_mb'], host_cpus=ansible_facts['processor_vcpus']) }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems:
      description: One message per problem, naming the variable; empty when the inputs make a tuning.
      type: list
    budget_mb: {description: The memory budget in MB., type: int}
    usable_mb: {description: The host's memory less the reserve., type: int}
    cpus: {description: The CPUs tuned for., type: int}
    sysctl:
      description: "Kernel settings to write: name, value, state (present or absent)."
      type: list
    fact:
      description: >-
        The fact the role publishes: budget_mb, settings, contexts, reload_settings, command (postmaster
        settings only), shm_size, memory_limit, nr_hugepages, huge_pages, restart_token.
      type: dict
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"postgres_tuning_plan": ansible_filter("postgres_tuning_plan", postgres_tuning_plan)}
