"""The antone.infra.urlquote filter: percent-encoding for a URL's user or password.

Ansible's urlencode leaves `/` alone, which is right in a path and wrong in a password: in
postgresql://antone:a/b@postgres/antone the password would end at the slash. This filter
encodes every character but the unreserved ones of RFC 3986.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.secrets import urlquote

DOCUMENTATION = r"""
name: urlquote
author: antone.infra developers
version_added: "0.1.0"
short_description: Percent-encode text for the user or password part of a URL
description:
  - Encodes every character except letters, digits and C(-._~) (RFC 3986's unreserved set), so
    that C(@), C(/), C(:), C($) and C(%) in a password survive inside a URL such as DATABASE_URL.
options:
  _input:
    description: The text to encode.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Build a DATABASE_URL
  ansible.builtin.set_fact:
    database_url: "postgresql://antone:{{ vault_postgres_password | antone.infra.urlquote }}@postgres:5432/antone"
  no_log: true
"""

RETURN = r"""
_value:
  description: The encoded text.
  type: str
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"urlquote": ansible_filter("urlquote", urlquote)}
