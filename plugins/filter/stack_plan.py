"""The antone.infra.stack_plan filter: the stack role's one plan.

The code is in plugins/plugin_utils/stack_plan.py (checks, compose documents, env files, secrets,
the files each change touches); this file makes it a filter.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import stack_plan

DOCUMENTATION = r"""
name: stack_plan
author: antone.infra developers
version_added: "0.2.0"
short_description: The stack role's inputs checked, and every file it writes
description:
  - Checks the stack's inventory data (services, ports, volumes, networks, secrets, the project's
    name and directory) and returns C(problems), one message per mistake naming the variable to
    fix. While there is a problem, nothing else is planned.
  - Otherwise plans every file of the project with its path, mode, group and content (or C(src)),
    whether it holds a secret value (C(private)), and the services its change reaches; the compose
    file list; the state volumes; the PostgreSQL service's details; and the fact C(stack) the role
    publishes for later roles.
  - Every string from the inventory is escaped for compose (C($) becomes C($$)); image references
    become variables set in .env. Secret values appear only in the private files.
options:
  _input:
    description: >-
      The role's variables without the stack_ prefix (services, volumes, project_name, project_dir,
      project_owner, project_group, network, networks, secrets, secrets_as_files, secrets_gid,
      postgres_service, postgres_stop_grace_period, log_max_size, log_max_file, pull, wait_timeout),
      image_variables (service -> the variable naming its image, for messages) and postgres_tuning (the
      fact the postgres_tuning role published, or empty).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the stack
  ansible.builtin.set_fact:
    plan: >-
      {{ {'services': {'web': {'image': 'nginx:1.27', 'ports': [8080]}}, 'project_name': 'demo',
          'project_dir': '/opt/demo'} | antone.infra.stack_plan }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems:
      description: One message per problem, naming the variable; empty when the data makes a stack.
      type: list
    compose_files: {description: The compose files production runs, in order., type: list}
    compose_args: {description: "The same as docker compose options: -f file ...", type: list}
    directories: {description: "Folders of the project: path (relative), mode.", type: list}
    files:
      description: >-
        Every file: path, mode, group, content or src, private (holds a secret value), services (whose
        containers its change reaches) and restart (true when the role restarts them itself).
      type: list
    writes:
      description: >-
        The arguments of the antone.infra.files call that writes the project (root, directories, files,
        prune): owners added, private files as private_content, env/ and secrets/ pruned.
      type: dict
    volumes: {description: State volume key -> Docker volume name., type: dict}
    postgres:
      description: "The PostgreSQL service: service, container, image, user, db, volumes, password_secret; or empty."
      type: dict
    tuned: {description: Whether postgres_tuning's fact was given., type: bool}
    reload_settings: {description: PostgreSQL settings applied with ALTER SYSTEM and a reload., type: dict}
    ports:
      description: >-
        The enabled services' published ports (published, target, host_ip, protocol, and where: the service
        and port as a message names them), for antone.infra.stack_port_conflicts.
      type: list
    publication: {description: The fact C(stack) for later roles., type: dict}
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"stack_plan": ansible_filter("stack_plan", stack_plan)}
