"""The antone.infra.host_state module: everything a role needs to know about the host, read in one run.

A module run costs about half a second over any connection (Python unpacks and imports the module on
the host each time), so a role that reads a package, a unit, a file and two commands one task at a
time spends seconds on a re-run that changes nothing. This module reads them all at once, the commands
side by side, and changes nothing; a role's converging tasks then run only where the state differs.
The pure functions (parse_units, file_record, sysctl_path) hold the parsing; main() only reads.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_state
author: antone.infra developers (@antone)
version_added: "0.2.0"
short_description: Read packages, units, files, kernel settings and command output in one run
description:
  - Reads, in one module run, what a role needs to decide what to change, and changes nothing.
  - O(packages) are asked of dpkg in one C(dpkg-query) call; O(units) of systemd in one
    C(systemctl show) call; O(files) are stat()ed (with a SHA-1 of their content); O(read) files
    are returned whole; O(compare) files are checked against a known SHA-1; O(writes) says which of a
    write's paths differ; O(sysctl) keys are read from C(/proc/sys); O(commands) run side by side.
  - Commands must only read. Their output is returned as it is, so do not list a command that prints
    a secret, nor a secret file in O(read); O(files) returns only a file's checksum.
options:
  packages:
    description: Debian packages; the result is C(dpkg-query)'s output in the format of RETURN's RV(dpkg).
    type: list
    elements: str
    default: []
  units:
    description: systemd units (C(name.service), C(name.timer)).
    type: list
    elements: str
    default: []
  files:
    description: Paths to stat, with the SHA-1 of regular files.
    type: list
    elements: path
    default: []
  compare:
    description:
      - Files to compare with a SHA-1 the caller knows (a secret's, say), answered in RV(same) with true,
        false, or null when the file does not exist. The checksums are never logged nor returned.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The file., type: path, required: true}
      checksum: {description: The SHA-1 (hex) its content should have (never logged)., type: str, required: true}
  writes:
    description:
      - The options of an M(antone.infra.files) task; RV(pending) lists the paths that task would create,
        correct or remove, so that a role runs it only then. As there, with the action plugin, C(src) in a
        file's entry reads its content from the role's C(files/) folder.
      - Decided by the same code as M(antone.infra.files); a private file's content is never logged.
    type: dict
    suboptions:
      root: {description: As M(antone.infra.files)' O(antone.infra.files#module:root)., type: path}
      directories:
        description: As M(antone.infra.files)' O(antone.infra.files#module:directories).
        type: list
        elements: dict
        default: []
        suboptions:
          path: {description: The folder., type: str, required: true}
          mode: {description: Its mode (C("0750"))., type: str}
          owner: {description: Its owner., type: str}
          group: {description: Its group., type: str}
      files:
        description: As M(antone.infra.files)' O(antone.infra.files#module:files).
        type: list
        elements: dict
        default: []
        suboptions:
          path: {description: The file., type: str, required: true}
          content: {description: Its content., type: str}
          private_content: {description: Its content (never logged)., type: str}
          mode: {description: Its mode (C("0640"))., type: str}
          owner: {description: Its owner., type: str}
          group: {description: Its group., type: str}
          validate: {description: Ignored (the write validates what it writes)., type: str}
      prune:
        description: As M(antone.infra.files)' O(antone.infra.files#module:prune).
        type: list
        elements: str
        default: []
      absent:
        description: As M(antone.infra.files)' O(antone.infra.files#module:absent).
        type: list
        elements: str
        default: []
  read:
    description: Small text files to return whole (at most 1 MiB each); a missing file reads as null.
    type: list
    elements: path
    default: []
  sysctl:
    description: Kernel settings (C(vm.swappiness)) to read from C(/proc/sys).
    type: list
    elements: str
    default: []
  commands:
    description: Read-only commands to run, each without a shell, at most 8 at once.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: The key of its result in RV(commands)., type: str, required: true}
      argv: {description: The command and its arguments., type: list, elements: str, required: true}
      chdir: {description: The folder it runs in; a missing folder gives rc 127 without running it., type: path}
notes:
  - Supports check mode (it reads the same way in both). It never reports a change.
"""

EXAMPLES = r"""
- name: Read what the role converges
  antone.infra.host_state:
    packages: [cron, restic]
    units: [cron.service]
    files: [/etc/cron.d/antone-backup]
    commands:
      - {name: restic, argv: [restic, version]}
  register: __backup_state

- name: Start cron only when it does not run
  ansible.builtin.systemd_service:
    name: cron.service
    state: started
  when: __backup_state.units['cron.service'].active_state != 'active'
"""

RETURN = r"""
dpkg:
  description: C(dpkg-query --show --showformat '${Package} ${Version} ${db:Status-Abbrev}\n') for O(packages).
  returned: always
  type: str
  sample: "cron 3.0pl1-197 ii \n"
units:
  description: Each unit's load, active and enablement state (C(not-found) when systemd does not know it).
  returned: always
  type: dict
  sample: {cron.service: {load_state: loaded, active_state: active, sub_state: running, unit_file_state: enabled}}
files:
  description: Each path's existence, type, mode (octal string), owner, group and SHA-1 (regular files).
  returned: always
  type: dict
  sample: {/etc/docker/daemon.json: {exists: true, isdir: false, mode: "0644", owner: root, group: root, checksum: "..."}}
same:
  description: For each O(compare) path, whether its content has the given SHA-1 (null when it does not exist).
  returned: always
  type: dict
  sample: {/opt/antone/secrets/postgres_password: true}
pending:
  description:
    - The paths an M(antone.infra.files) task with O(writes) would create, correct or remove (folders and
      files as given, removed files in full); empty when the host already has them all as asked.
  returned: always
  type: list
  elements: str
  sample: [compose.yaml, /opt/antone/env/old.env]
contents:
  description: Each O(read) file's text, or null when it does not exist.
  returned: always
  type: dict
sysctl:
  description: Each O(sysctl) key's current value (whitespace collapsed), or null when the kernel has no such key.
  returned: always
  type: dict
sysctl_writable:
  description: Whether the kernel's settings are writable here (C(/proc/sys) is read-only in most containers).
  returned: always
  type: bool
commands:
  description: Each command's rc, stdout and stderr (rc 127 when it could not be started).
  returned: always
  type: dict
  sample: {restic: {rc: 0, stdout: "restic 0.17.3 ...", stderr: ""}}
"""

import hashlib
import os
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.antone.infra.plugins.module_utils.files import (
    name_of_group, name_of_user, pending_writes, write_argument_spec)

DPKG_FORMAT = "${Package} ${Version} ${db:Status-Abbrev}\n"
UNIT_PROPERTIES = {"Id": "id", "LoadState": "load_state", "ActiveState": "active_state", "SubState": "sub_state",
                   "UnitFileState": "unit_file_state"}
READ_LIMIT = 1 << 20


def parse_units(text: str, units: list[str]) -> dict[str, dict[str, str]]:
    """`systemctl show -p Id,LoadState,... u1 u2` prints one block per unit, in order, blank-line separated."""
    blocks = [block for block in text.strip().split("\n\n") if block.strip()] if text.strip() else []
    result: dict[str, dict[str, str]] = {}
    for unit, block in zip(units, blocks):
        record = {key: "" for key in UNIT_PROPERTIES.values()}
        for line in block.splitlines():
            key, separator, value = line.partition("=")
            if separator and key in UNIT_PROPERTIES:
                record[UNIT_PROPERTIES[key]] = value.strip()
        record.pop("id", None)
        result[unit] = record
    for unit in units[len(blocks):]:
        result[unit] = {"load_state": "not-found", "active_state": "inactive", "sub_state": "dead", "unit_file_state": ""}
    return result


def sysctl_path(key: str) -> str:
    """vm.nr_hugepages -> /proc/sys/vm/nr_hugepages."""
    return "/proc/sys/" + key.replace(".", "/")


def file_record(path: str) -> dict[str, Any]:
    """What the host has at path: existence, type, mode, owner, group and, for a regular file, its SHA-1."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    record: dict[str, Any] = {
        "exists": True, "isdir": stat.S_ISDIR(info.st_mode), "islnk": stat.S_ISLNK(info.st_mode),
        "mode": f"{stat.S_IMODE(info.st_mode):04o}", "uid": info.st_uid, "gid": info.st_gid,
        "owner": name_of_user(info.st_uid), "group": name_of_group(info.st_gid), "size": info.st_size,
    }
    if stat.S_ISLNK(info.st_mode):
        record["lnk_target"] = os.readlink(path)
        record["lnk_source"] = os.path.realpath(path)
    if stat.S_ISREG(info.st_mode):
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
        record["checksum"] = digest.hexdigest()
    return record


def same_content(path: str, checksum: str) -> bool | None:
    """Whether path's content has the SHA-1 checksum; None when path is not a regular file."""
    record = file_record(path)
    return None if "checksum" not in record else record["checksum"] == checksum.lower()


def read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(READ_LIMIT).decode("utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def read_sysctl(key: str) -> str | None:
    text = read_text(sysctl_path(key))
    return None if text is None else " ".join(text.split())


def run(argv: list[str], chdir: str | None = None) -> dict[str, Any]:
    try:
        done = subprocess.run(argv, cwd=chdir or None, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        return {"rc": 127, "stdout": "", "stderr": str(error)}
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
            "files": {"type": "list", "elements": "path", "default": []},
            "compare": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "checksum": {"type": "str", "required": True, "no_log": True}}},
            "writes": {"type": "dict", "options": write_argument_spec()},
            "read": {"type": "list", "elements": "path", "default": []},
            "sysctl": {"type": "list", "elements": "str", "default": []},
            "commands": {"type": "list", "elements": "dict", "default": [], "options": {
                "name": {"type": "str", "required": True},
                "argv": {"type": "list", "elements": "str", "required": True},
                "chdir": {"type": "path"}}},
        },
        supports_check_mode=True,
    )
    params = module.params
    jobs: dict[str, tuple[list[str], str | None]] = {
        item["name"]: (item["argv"], item["chdir"]) for item in params["commands"]}
    if params["packages"]:
        jobs["__dpkg"] = (["dpkg-query", "--show", "--showformat", DPKG_FORMAT, *params["packages"]], None)
    if params["units"]:
        jobs["__units"] = (["systemctl", "show", "--property", ",".join(UNIT_PROPERTIES), "--", *params["units"]], None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(run, argv, chdir) for name, (argv, chdir) in jobs.items()}
        results = {name: future.result() for name, future in futures.items()}
    dpkg, units = results.pop("__dpkg", {"stdout": ""}), results.pop("__units", {"stdout": ""})
    writes = params["writes"]
    module.exit_json(
        changed=False,
        dpkg=dpkg["stdout"],
        units=parse_units(units["stdout"], params["units"]),
        files={path: file_record(path) for path in params["files"]},
        same={item["path"]: same_content(item["path"], item["checksum"]) for item in params["compare"]},
        pending=pending_writes(**writes) if writes else [],
        contents={path: read_text(path) for path in params["read"]},
        sysctl={key: read_sysctl(key) for key in params["sysctl"]},
        sysctl_writable=os.access("/proc/sys/vm/swappiness", os.W_OK),
        commands=results,
    )


if __name__ == "__main__":
    main()
