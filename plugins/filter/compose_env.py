"""The antone.infra.compose_env filter: an env file that compose reads back exactly.

Values are written in single quotes, which compose's env-file parser takes literally: no ${...}
interpolation, no escapes. So a `$` in a password reaches the container unchanged. A value that
single quotes cannot hold (a quote, a line break, a trailing backslash) is refused with the
variable's name and never its value; stack_problems refuses it earlier, at preflight.
"""

from __future__ import annotations

from typing import Any

try:
    from ansible_collections.antone.infra.plugins.filter.compose_stack import StackError, env_text_problem, scalar_text
    from ansible_collections.antone.infra.plugins.filter.pgtune import as_ansible_filter
except ImportError:  # pragma: no cover - only when loaded outside a collection path
    from compose_stack import StackError, env_text_problem, scalar_text  # type: ignore[no-redef]
    from pgtune import as_ansible_filter  # type: ignore[no-redef]

DOCUMENTATION = r"""
name: compose_env
author: antone.infra developers
version_added: "0.1.0"
short_description: Env-file text from an env plan and the secrets
description:
  - Turns one service's env plan (from antone.infra.compose_stack) into the text of its env file,
    one C(NAME='value') line per variable, sorted. Plain values and secrets are written as given;
    a file secret becomes C(NAME_FILE='/run/secrets/name').
  - With C(example=true), secret values are left blank, as in .env.example.
options:
  _input:
    description: "Variable -> {value: text} | {secret: name} | {file: path}."
    type: dict
    required: true
  secrets:
    description: The secrets, name -> value.
    type: dict
    default: {}
  example:
    description: Leave secret values blank.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Write a service's env file
  ansible.builtin.copy:
    content: "{{ stack_compose.env_files['backend-api'] | antone.infra.compose_env(secrets=stack_secrets) }}"
    dest: /opt/antone/env/backend-api.env
    mode: "0600"
  no_log: true
  diff: false
"""

RETURN = r"""
_value:
  description: The env file's text, ending in a newline (empty for no variables).
  type: str
"""


def env_line(variable: str, value: str) -> str:
    if reason := env_text_problem(value):
        raise StackError(f"compose_env: the value of {variable} {reason}; an env file cannot hold it")
    return f"{variable}='{value}'"


def compose_env(plan: dict[str, dict[str, Any]], secrets: dict[str, Any] | None = None, example: bool = False) -> str:
    secrets = secrets or {}
    lines = []
    for variable in sorted(plan):
        entry = plan[variable]
        if "value" in entry:
            value = scalar_text(entry["value"])
        elif "file" in entry:
            value = str(entry["file"])
        elif example:
            value = ""
        elif entry.get("secret") in secrets:
            value = scalar_text(secrets[entry["secret"]])
        else:
            raise StackError(f"compose_env: {variable} needs the secret {entry.get('secret')!r}, which has no value")
        lines.append(env_line(variable, value))
    return "".join(f"{line}\n" for line in lines)


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"compose_env": as_ansible_filter(compose_env)}
