"""The antone.infra.files module: a role's files and folders written in one call.

A role that writes many small files (env files, secrets, units, configuration) pays one module run per
file with ansible.builtin.copy in a loop; on a re-run that changes nothing that cost is most of the run.
This module takes them all at once, compares each with what is on disk and writes only what differs,
atomically. The decisions (what differs, what a prune removes) live in module_utils/files.py, shared with
antone.infra.host_state's O(writes); diff_items() shapes the diff; main() only reads, writes and reports.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
author: antone.infra developers (@antone)
version_added: "0.2.0"
short_description: Write a role's files and folders in one call, with check mode and diff
description:
  - Creates the folders in O(directories), then writes each file in O(files) whose content, mode,
    owner or group differs from what is on the host, through a temporary file in the same folder
    that replaces the old one at once. A file whose O(files[].validate) command fails is not written
    and the task fails with the command's output.
  - O(prune) names folders in which every regular file that O(files) does not list is removed (the
    env files of a service that is gone, for example). Subfolders are left alone.
  - A file's content comes from O(files[].content), shown in C(--diff), or from
    O(files[].private_content), never shown nor logged (a secret, or a file that holds one). With the
    action plugin, C(src) in a file's entry reads the content from the role's C(files/) folder.
  - Check mode reports what a real run would change, with the same diff, and writes nothing.
options:
  root:
    description: A folder that relative O(directories), O(files) and O(prune) paths are taken from.
    type: path
  directories:
    description: Folders to create (parents first) or correct.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The folder., type: str, required: true}
      mode: {description: Its mode as an octal string (C("0750")); left alone when omitted., type: str}
      owner: {description: Its owner (a name or a numeric id); left alone when omitted., type: str}
      group: {description: Its group (a name or a numeric id); left alone when omitted., type: str}
  files:
    description: Files to write. Their folders must exist or be listed in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The file., type: str, required: true}
      content:
        description: Its content, shown in C(--diff).
        type: str
      private_content:
        description: Its content, never shown in output or diff. Exactly one of this and O(files[].content).
        type: str
      mode: {description: Its mode as an octal string (C("0640")); C(0644) for a new file when omitted., type: str}
      owner: {description: Its owner (a name or a numeric id); the module's user for a new file when omitted., type: str}
      group: {description: Its group (a name or a numeric id); the user's group for a new file when omitted., type: str}
      validate:
        description:
          - A command run on the new content before it replaces the file; C(%s) stands for the
            temporary file's path (C(/usr/sbin/sshd -t -f %s)). Run without a shell.
        type: str
  prune:
    description: Folders in which regular files that O(files) does not list are removed.
    type: list
    elements: str
    default: []
  absent:
    description: Files to remove when they exist (a drop-in of a feature that was turned off).
    type: list
    elements: str
    default: []
notes:
  - Supports check mode and diff. Diff shows the content of O(files[].content) files and every change
    of mode, owner or group; a private file's content change shows as C(content hidden).
  - Content is text (UTF-8). Files above 256 KiB show no content diff.
"""

EXAMPLES = r"""
- name: Write the stack's project files
  antone.infra.files:
    root: /opt/antone
    directories:
      - {path: ., mode: "0750", owner: deploy, group: deploy}
      - {path: env, mode: "0700", owner: deploy, group: deploy}
    files:
      - {path: compose.yaml, content: "{{ compose_text }}", mode: "0640", owner: deploy, group: deploy}
      - {path: env/backend-api.env, private_content: "{{ api_env }}", mode: "0600", owner: deploy, group: deploy}
    prune: [env]
  register: project_files

- name: Restart the API when its env file changed
  ansible.builtin.debug:
    msg: restart
  when: "'env/backend-api.env' in project_files.changed_paths"
"""

RETURN = r"""
changed_paths:
  description: The O(files) paths (as given) that were written or corrected, or would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [compose.yaml, env/backend-api.env]
files:
  description: Every file of O(files), with what differed (C(created), C(content), C(mode), C(owner), C(group)).
  returned: always
  type: list
  elements: dict
  sample: [{path: compose.yaml, changed: true, reasons: [content]}]
directories:
  description: The O(directories) paths that were created or corrected.
  returned: always
  type: list
  elements: str
removed:
  description: The full paths of the files O(prune) and O(absent) removed (or would remove).
  returned: always
  type: list
  elements: str
"""

import os
import shlex
import stat
import subprocess
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.antone.infra.plugins.module_utils.files import (
    differences, file_content, full, group_id, name_of_group, name_of_user, parse_mode, read_present, unwanted, user_id,
    write_argument_spec)


DIFF_LIMIT = 256 * 1024


def attributes_text(mode: int | None, owner: str | None, group: str | None) -> str:
    return f"mode {mode:04o}, owner {owner}, group {group}\n" if mode is not None else f"owner {owner}, group {group}\n"


def diff_items(path: str, reasons: list[str], private: bool, before: bytes | None, after: bytes,
               before_attrs: str, after_attrs: str) -> list[dict[str, str]]:
    """The --diff entries of one changed file: its content (or 'content hidden' for a private file)
    and its mode/owner/group when those change."""
    items: list[dict[str, str]] = []
    if "created" in reasons or "content" in reasons:
        if private:
            items.append({"before_header": path, "after_header": path,
                          "before": "" if before is None else "(content hidden: private file)\n",
                          "after": "(content hidden: private file, changed)\n"})
        elif max(len(before or b""), len(after)) <= DIFF_LIMIT:
            items.append({"before_header": path, "after_header": path,
                          "before": (before or b"").decode("utf-8", "replace"),
                          "after": after.decode("utf-8", "replace")})
    if any(r in reasons for r in ("mode", "owner", "group")):
        items.append({"before_header": f"{path} (attributes)", "after_header": f"{path} (attributes)",
                      "before": before_attrs, "after": after_attrs})
    return items


def write_atomically(path: str, content: bytes, mode: int, uid: int, gid: int, validate: str | None) -> None:
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        os.fchmod(handle, mode)
        os.fchown(handle, uid, gid)
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        if validate:
            argv = [part.replace("%s", temporary) for part in shlex.split(validate)]
            run = subprocess.run(argv, capture_output=True, text=True, check=False)
            if run.returncode != 0:
                raise RuntimeError(f"{path}: `{validate}` refused the new content "
                                   f"(exit {run.returncode}): {(run.stderr or run.stdout).strip()}")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec=write_argument_spec(),
        supports_check_mode=True,
    )
    params = module.params
    root = params["root"]
    check = module.check_mode
    result: dict[str, Any] = {"changed": False, "changed_paths": [], "files": [], "directories": [], "removed": []}
    diffs: list[dict[str, str]] = []

    try:
        wanted = {id(item): (parse_mode(item["mode"]), user_id(item["owner"]), group_id(item["group"]))
                  for item in params["directories"] + params["files"]}
    except (ValueError, KeyError) as error:
        module.fail_json(msg=f"antone.infra.files: {error}; nothing was changed", **result)

    try:
        for item in params["directories"]:
            path = full(root, item["path"])
            mode, uid, gid = wanted[id(item)]
            present = read_present(path, want_content=False)
            if present is not None and not stat.S_ISDIR(present.mode):
                module.fail_json(msg=f"{path} exists and is not a folder", **result)
            reasons = differences(present, None, mode, uid, gid)
            if not reasons:
                continue
            result["directories"].append(item["path"])
            before = "" if present is None else attributes_text(
                stat.S_IMODE(present.mode), name_of_user(present.uid), name_of_group(present.gid))
            diffs.append({"before_header": f"{path}/", "after_header": f"{path}/", "before": before,
                          "after": attributes_text(mode, item["owner"], item["group"])})
            if not check:
                if present is None:
                    os.makedirs(path, mode=mode if mode is not None else 0o755, exist_ok=True)
                if mode is not None:
                    os.chmod(path, mode)
                if uid is not None or gid is not None:
                    os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)

        for item in params["files"]:
            path = full(root, item["path"])
            private = item["private_content"] is not None
            content = file_content(item)
            mode, uid, gid = wanted[id(item)]
            present = read_present(path, want_content=True)
            if present is not None and not stat.S_ISREG(present.mode):
                module.fail_json(msg=f"{path} exists and is not a regular file", **result)
            reasons = differences(present, content, mode, uid, gid)
            result["files"].append({"path": item["path"], "changed": bool(reasons), "reasons": reasons})
            if not reasons:
                continue
            result["changed_paths"].append(item["path"])
            before_attrs = "" if present is None else attributes_text(
                stat.S_IMODE(present.mode), name_of_user(present.uid), name_of_group(present.gid))
            diffs.extend(diff_items(path, reasons, private, None if present is None else present.content, content,
                                    before_attrs, attributes_text(mode, item["owner"], item["group"])))
            if check:
                continue
            final_mode = mode if mode is not None else (stat.S_IMODE(present.mode) if present else 0o644)
            final_uid = uid if uid is not None else (present.uid if present else os.geteuid())
            final_gid = gid if gid is not None else (present.gid if present else os.getegid())
            if set(reasons) <= {"mode", "owner", "group"}:
                os.chmod(path, final_mode)
                os.chown(path, final_uid, final_gid)
            else:
                write_atomically(path, content, final_mode, final_uid, final_gid, item["validate"])

        for path in unwanted(root, params["files"], params["prune"], params["absent"]):
            if os.path.isdir(path) and not os.path.islink(path):
                module.fail_json(msg=f"antone.infra.files: {path} is a folder; absent removes files only", **result)
            result["removed"].append(path)
            diffs.append({"before_header": path, "after_header": path, "before": "(file present)\n",
                          "after": "(removed)\n"})
            if not check:
                os.unlink(path)
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        module.fail_json(msg=f"antone.infra.files: {error}", **result)

    result["changed"] = bool(result["changed_paths"] or result["directories"] or result["removed"])
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
