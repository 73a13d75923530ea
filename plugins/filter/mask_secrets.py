"""The antone.infra.mask_secrets filter: text with every secret value replaced by ********."""

from __future__ import annotations

from typing import Any

try:
    from ansible_collections.antone.infra.plugins.filter.urlquote import urlquote
except ImportError:  # pragma: no cover - only when loaded outside a collection path
    from urlquote import urlquote  # type: ignore[no-redef]

DOCUMENTATION = r"""
name: mask_secrets
author: antone.infra developers
version_added: "0.1.0"
short_description: Replace every secret value in a text with ********
description:
  - Masks each secret value, and its percent-encoded form (as it appears inside a URL), in the text,
    longest first, so that a log tail can be shown when a deployment fails.
  - Values shorter than 4 characters are masked too; empty values are ignored.
options:
  _input:
    description: The text to mask.
    type: str
    required: true
  secrets:
    description: The secrets, name -> value (or a list of values).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Show a failing service's log tail
  ansible.builtin.debug:
    msg: "{{ logs.stdout | antone.infra.mask_secrets(stack_secrets) }}"
"""

RETURN = r"""
_value:
  description: The text, masked.
  type: str
"""

MASK = "********"


def secret_values(secrets: Any) -> list[str]:
    """Each value and its percent-encoded form, longest first, without empties."""
    values = secrets.values() if isinstance(secrets, dict) else (secrets or [])
    forms = {form for value in values if str(value) for form in (str(value), urlquote(value))}
    return sorted(forms, key=lambda v: (-len(v), v))


def mask_secrets(text: Any, secrets: Any) -> str:
    result = str(text)
    for value in secret_values(secrets):
        result = result.replace(value, MASK)
    return result


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"mask_secrets": mask_secrets}
