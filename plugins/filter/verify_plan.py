"""The antone.infra.verify_plan filter: the verify role's one plan.

The code is in plugins/plugin_utils/verify_plan.py; the checks themselves run on the host
(roles/verify/files/antone_verify.py), from the configuration this plan computes.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.verify_plan import verify_plan

DOCUMENTATION = r"""
name: verify_plan
author: antone.infra developers
version_added: "0.3.0"
short_description: What antone-verify checks on the host, from the facts the roles published
description:
  - Checks the verify role's variables and the facts it needs, and returns C(problems), one message
    per mistake naming the variable to fix. While there is a problem, nothing else is planned.
  - Otherwise returns C(config), the configuration antone-verify reads (services and their health
    checks, the HTTP endpoints each health check names, asked over the stack's network, PostgreSQL's
    connection and tuned settings, the state volumes and their mount points, the backup's cron entries
    and status file, the env and secret files' modes, the listeners allowed beyond loopback, the
    healthchecks.io URL), and C(timer), the schedule of the timer that runs the same checks.
options:
  _input:
    description: >-
      The role's variables without the verify_ prefix (restart_limit, backup_margin_hours,
      allowed_ports, http_checks, healthchecks_url, timer, timer_interval, wait_timeout, http_timeout)
      and the facts stack, postgres_tuning, backup and base.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the verification
  ansible.builtin.set_fact:
    plan: "{{ {'stack': stack, 'postgres_tuning': postgres_tuning | default({})} | antone.infra.verify_plan }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems:
      description: One message per problem, naming the variable; empty when the plan is complete.
      type: list
    config: {description: antone-verify's configuration (JSON on the host)., type: dict}
    timer: {description: "The timer: enabled, interval.", type: dict}
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"verify_plan": ansible_filter("verify_plan", verify_plan)}
