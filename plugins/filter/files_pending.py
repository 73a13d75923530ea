"""The antone.infra.files_pending filter: which paths of an antone.infra.files write differ from the host,
decided from antone.infra.host_state's `files` records.

The code is in plugins/module_utils/files.py (pending_from_records), beside the module's own decisions.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.antone.infra.plugins.module_utils.files import pending_from_records
from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter

DOCUMENTATION = r"""
name: files_pending
author: antone.infra developers
version_added: "0.2.0"
short_description: The paths an antone.infra.files write would create, correct or remove
description:
  - For a write whose content is known only after the host was read (the base role's firewall, which
    admits the SSH ports host_state found), host_state's C(files) records of the write's paths decide on
    the controller what antone.infra.host_state's C(writes) option decides on the host, so that the write
    runs only when something differs.
  - Private files and O(writes.prune) are refused (a private file's SHA-1 would travel in the records, a
    prune needs the folder listed); host_state's C(writes) option decides those.
options:
  _input:
    description: antone.infra.host_state's C(files) result, with every path the write names.
    type: dict
    required: true
  writes:
    description: The antone.infra.files options (root, directories, files, absent).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the firewall only when it differs
  antone.infra.files:
    files: "{{ firewall_files }}"
  when: "state.files | antone.infra.files_pending({'files': firewall_files}) | length > 0"
"""

RETURN = r"""
_value:
  description: The folders and files (as given) and the absent paths (in full) that differ, in that order.
  type: list
  elements: str
"""


def files_pending(records: dict[str, Any], writes: dict[str, Any]) -> list[str]:
    if not isinstance(records, dict) or not isinstance(writes, dict):
        raise TypeError("expects host_state's files records and the write's options, both dicts")
    return pending_from_records(writes, records)


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"files_pending": ansible_filter("files_pending", files_pending)}
