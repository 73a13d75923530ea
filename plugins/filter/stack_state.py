"""The antone.infra.stack_state and antone.infra.local_file_signature filters.

stack_state turns one antone.infra.host_state answer into the stack role's decisions (code in
plugins/plugin_utils/stack_state.py); local_file_signature names a controller file's size and
modification time, so that an image archive is copied to the host only when it changed.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.plugin_utils.stack_state import stack_state

DOCUMENTATION = r"""
name: stack_state
author: antone.infra developers
version_added: "0.2.0"
short_description: The stack role's decisions from one read of the host
description:
  - Takes the antone.infra.host_state result the stack role registers and the plan's volumes, and returns
    what the role must change (volumes to create, archives to copy and load, units to correct), what the
    host has (volumes with their creation times, the database record, the project's containers) and
    the database record the role writes after a deployment.
options:
  _input:
    description: >-
      state (the host_state result), volumes (key -> Docker name), database_volumes (key -> name),
      postgres_service, archives (stack_image_archives), signatures (src -> local_file_signature),
      database_record_file, archive_record_file, units (unit -> {enabled, active}), services,
      services_record_file and plan_current.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Create only the volumes the host lacks
  community.docker.docker_volume:
    name: "{{ item.value }}"
  loop: "{{ (inputs | antone.infra.stack_state).missing_volumes | dict2items }}"
"""

RETURN = r"""
_value:
  description: The decisions and what the host has.
  type: dict
  contains:
    missing_volumes: {description: The plan's volumes Docker lacks (key -> name)., type: dict}
    found_volumes: {description: Every volume on the host -> its creation time., type: dict}
    recorded: {description: The database record the role wrote last time (key -> name and created)., type: dict}
    database_record: {description: The record as the volumes stand now., type: dict}
    database_volumes_found: {description: Whether every database volume exists now., type: bool}
    postgres_running: {description: Whether the PostgreSQL service's container runs., type: bool}
    archives_to_load: {description: The archives to copy and load (changed, new, or an image missing)., type: list}
    images: {description: The engine's images (name:tag)., type: list}
    archive_record: {description: What the host records after loading them., type: dict}
    unit_actions: {description: The units whose state differs from the wanted one., type: list}
    compose_current: {description: Whether compose up has nothing to do., type: bool}
"""


def local_file_signature(path: str) -> str:
    """A controller file's size and modification time ("817804800:1795700000123456789"), or "" when it
    does not exist."""
    try:
        info = os.stat(path)
    except OSError:
        return ""
    return f"{info.st_size}:{info.st_mtime_ns}"


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"stack_state": ansible_filter("stack_state", stack_state),
                "local_file_signature": ansible_filter("local_file_signature", local_file_signature)}
