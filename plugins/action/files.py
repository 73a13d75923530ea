"""Action plugin of antone.infra.files: reads O(files[].src) from the role's files/ folder on the
controller, then runs the module on the host once for every file. antone.infra.host_state's action
reads its O(writes.files[].src) the same way (files_read)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase


def with_content(item: dict[str, Any], read: Any) -> dict[str, Any]:
    """The file entry with `src` replaced by `content` (read(src) gives the text)."""
    if "src" not in item:
        return dict(item)
    if "content" in item or "private_content" in item:
        raise AnsibleActionFail(f"antone.infra.files: {item.get('path')}: give src or a content, not both")
    entry = {k: v for k, v in item.items() if k != "src"}
    entry["content"] = read(item["src"])
    return entry


def files_read(action: ActionBase, files: Any, module: str) -> list[Any]:
    """A files list with each entry's src read from the role's files/ folder (as the action's task finds it)."""
    if not isinstance(files, list):
        raise AnsibleActionFail(f"{module}: files must be a list")

    def read(src: str) -> str:
        path = action._find_needle("files", src)
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")

    return [with_content(item, read) if isinstance(item, dict) else item for item in files]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("root", "directories", "files", "prune", "absent"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        args["files"] = files_read(self, args.get("files") or [], "antone.infra.files")
        result.update(self._execute_module(module_name="antone.infra.files", module_args=args,
                                           task_vars=task_vars))
        return result
