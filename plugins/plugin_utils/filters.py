"""How every antone.infra filter reports an error: one style, naming the filter.

A filter's pure function raises ValueError (or TypeError for a value of the wrong kind) with a
message that names what to fix; the wrapper turns it into Ansible's AnsibleFilterError,
prefixed with the filter's full name: "antone.infra.pgtune: cpus must be 0 to 1024, got -1".
"""

from __future__ import annotations

import functools
from typing import Any, Callable

COLLECTION = "antone.infra"


def error_message(name: str, error: Exception) -> str:
    """The message a user sees: the filter's full name, then what is wrong."""
    return f"{COLLECTION}.{name}: {error}"


def ansible_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a pure function as the filter `name`: its ValueError or TypeError becomes Ansible's
    AnsibleFilterError, in the collection's one error style."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (ValueError, TypeError) as error:
            from ansible.errors import AnsibleFilterError  # here: the pure code needs no Ansible

            raise AnsibleFilterError(error_message(name, error)) from error

    return run


def plain(value: Any) -> Any:
    """value with Ansible's str, int, dict and list subclasses (tagged or unsafe values) turned
    into the plain Python types, so that YAML and JSON dumpers take it."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
