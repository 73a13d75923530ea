"""The antone.infra.stack_problems filter: every mistake in the stack's inventory data."""

from __future__ import annotations

from typing import Any

try:
    from ansible_collections.antone.infra.plugins.filter.compose_stack import stack_problems
except ImportError:  # pragma: no cover - only when loaded outside a collection path
    from compose_stack import stack_problems  # type: ignore[no-redef]

DOCUMENTATION = r"""
name: stack_problems
author: antone.infra developers
version_added: "0.1.0"
short_description: The stack role's cross-field checks, as a list of messages
description:
  - Returns one message per problem, each naming the variable, so that a preflight assert can stop
    the play before anything changes. An empty list means the data makes a stack.
  - Checks unknown keys, missing images, depends_on naming a service that is not enabled (or
    itself), a port published twice, PostgreSQL published beyond loopback, a secret without a
    value, a value an env file cannot hold, a volume not declared in stack_volumes, two volume
    keys naming one Docker volume, and a state volume mounted writable by two services.
  - Secret values are read to check them and never appear in a message.
options:
  _input:
    description: Services by name, as for antone.infra.compose_stack.
    type: dict
    required: true
  volumes:
    description: State volumes by key.
    type: dict
    default: {}
  project:
    description: Compose project name (volume names default to project_key).
    type: str
    default: antone
  secrets:
    description: The secrets, name -> value.
    type: raw
    default: []
  secrets_as_files:
    description: Whether services with file_secrets get their secrets as files.
    type: bool
    default: true
  postgres_service:
    description: The PostgreSQL service, which may be published on loopback only.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Stop on any problem in the stack's data
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ stack_effective_services | antone.infra.stack_problems(volumes=stack_effective_volumes) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when there is none.
  type: list
  elements: str
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"stack_problems": stack_problems}
