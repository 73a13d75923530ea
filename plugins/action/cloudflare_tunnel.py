"""Action plugin of antone.infra.cloudflare_tunnel: the whole call runs here, in the task's worker on the
controller (plugins/plugin_utils/cloudflare_tunnel.py), with the task's check mode, diff and no_log.

A module would cost a Python process and ansible-core's import on every call (about a second here, for a
few requests that take milliseconds); the calls talk to Cloudflare's API only, never to the host.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.antone.infra.plugins.plugin_utils.cloudflare_tunnel import run_tunnel


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        result.update(run_tunnel(dict(self._task.args), check=bool(self._task.check_mode),
                                 diff=bool(self._task.diff), no_log=bool(self._task.no_log)))
        return result
