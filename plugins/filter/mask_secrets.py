"""The antone.infra.mask_secrets filter: text with every secret value replaced by ********."""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.secrets import mask_secrets

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


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"mask_secrets": ansible_filter("mask_secrets", mask_secrets)}
