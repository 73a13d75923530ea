"""The antone.infra.timezone test: is a string a timezone of the IANA database?"""

from __future__ import annotations

import re
from typing import Any

DOCUMENTATION = r"""
name: timezone
author: antone.infra developers
version_added: "0.1.0"
short_description: Is the value a timezone name of the IANA database
description:
  - True for names such as C(Europe/Berlin) or C(Etc/UTC) that the controller's timezone
    database knows. Where the controller has no database at all, the name's shape is checked.
options:
  _input:
    description: The name to test.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Stop on a timezone that does not exist
  ansible.builtin.assert:
    that: base_timezone is antone.infra.timezone
"""

RETURN = r"""
_value:
  description: Whether the name is a known timezone.
  type: bool
"""

SHAPE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_+-]*)(?:/[A-Za-z0-9][A-Za-z0-9_+-]*)*$")


def known_timezones() -> set[str]:
    try:
        import zoneinfo

        return set(zoneinfo.available_timezones())
    except Exception:  # noqa: BLE001 - no database: fall back to the shape
        return set()


def is_timezone(value: Any, known: set[str] | None = None) -> bool:
    if not isinstance(value, str) or not SHAPE.match(value):
        return False
    database = known_timezones() if known is None else known
    return value in database if database else True


class TestModule:
    """Ansible test plugin entry point."""

    def tests(self) -> dict[str, Any]:
        return {"timezone": is_timezone}
