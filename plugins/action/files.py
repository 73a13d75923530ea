"""Action plugin of antone.infra.files: reads O(files[].src) from the role's files/ folder on the
controller, then runs the module on the host once for every file."""

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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("root", "directories", "files", "prune", "absent"))

    def _read(self, src: str) -> str:
        path = self._find_needle("files", src)
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        files = args.get("files") or []
        if not isinstance(files, list):
            raise AnsibleActionFail("antone.infra.files: files must be a list")
        args["files"] = [with_content(item, self._read) if isinstance(item, dict) else item for item in files]
        result.update(self._execute_module(module_name="antone.infra.files", module_args=args,
                                           task_vars=task_vars))
        return result
