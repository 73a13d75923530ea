"""Action plugin of antone.infra.host_state: reads O(writes.files[].src) from the role's files/ folder on
the controller, as antone.infra.files' action does, then runs the module on the host once."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.antone.infra.plugins.action.files import files_read


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("packages", "units", "files", "compare", "writes", "read", "sysctl", "commands"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        writes = args.get("writes")
        if isinstance(writes, dict) and "files" in writes:
            args["writes"] = {**writes, "files": files_read(self, writes["files"] or [], "antone.infra.host_state")}
        result.update(self._execute_module(module_name="antone.infra.host_state", module_args=args,
                                           task_vars=task_vars))
        return result
