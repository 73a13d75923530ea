"""The antone.infra.dpkg_packages filter: dpkg-query's answer read into what apt still has to do."""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.dpkg import dpkg_packages
from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter

DOCUMENTATION = r"""
name: dpkg_packages
author: antone.infra developers
version_added: "0.2.0"
short_description: Which wanted packages dpkg lacks, from one dpkg-query
description:
  - Reads the output of C(dpkg-query --show --showformat '${Package} ${Version} ${db:Status-Abbrev}\n' PKG...)
    and says which of the wanted packages are missing (not installed, or at another version when one
    is pinned as C(name=version)), which are installed, and each one's selection (C(install), C(hold), ...).
  - The roles run apt only when something is missing, which saves apt's cache load on every re-run.
options:
  _input:
    description: dpkg-query's standard output.
    type: str
    required: true
  wanted:
    description: The packages, as C(name) or C(name=version).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Install what dpkg lacks
  ansible.builtin.apt:
    name: "{{ (dpkg_answer.stdout | antone.infra.dpkg_packages(['restic', 'cron'])).missing }}"
  when: (dpkg_answer.stdout | antone.infra.dpkg_packages(['restic', 'cron'])).missing | length > 0
"""

RETURN = r"""
_value:
  description: What dpkg has.
  type: dict
  contains:
    missing: {description: The wanted entries dpkg lacks (as given)., type: list}
    installed: {description: The installed packages among those asked about., type: list}
    selections: {description: Package -> its selection (install, hold, deinstall, purge, unknown)., type: dict}
"""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"dpkg_packages": ansible_filter("dpkg_packages", dpkg_packages)}
