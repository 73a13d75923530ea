"""What a set of folders and files to write differs in from the disk: the decisions of the
antone.infra.files module, shared with antone.infra.host_state (which answers, read only, whether a
write has anything to do, so that a role runs the write only then).

Pure functions but read_present(), pending_writes() and unwanted(), which only read the disk.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from typing import Any


def write_argument_spec() -> dict[str, Any]:
    """The options of an antone.infra.files write: the files module's argument_spec, and host_state's writes."""
    entry = {"path": {"type": "str", "required": True}, "mode": {"type": "str"}, "owner": {"type": "str"},
             "group": {"type": "str"}}
    return {
        "root": {"type": "path"},
        "directories": {"type": "list", "elements": "dict", "default": [], "options": dict(entry)},
        "files": {"type": "list", "elements": "dict", "default": [],
                  "options": {**entry, "content": {"type": "str"}, "private_content": {"type": "str", "no_log": True},
                              "validate": {"type": "str"}},
                  "required_one_of": [("content", "private_content")],
                  "mutually_exclusive": [("content", "private_content")]},
        "prune": {"type": "list", "elements": "str", "default": []},
        "absent": {"type": "list", "elements": "str", "default": []},
    }


@dataclass(frozen=True)
class Present:
    """What is on disk at a path (content None when it is not a readable regular file)."""
    content: bytes | None
    mode: int
    uid: int
    gid: int


def parse_mode(value: str | None) -> int | None:
    """'0640' or '640' -> 0o640; None stays None. Symbolic modes are refused."""
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isdigit() or any(c not in "01234567" for c in text) or int(text, 8) > 0o7777:
        raise ValueError(f"mode {text!r} is not an octal mode such as 0640")
    return int(text, 8)


def differences(present: Present | None, content: bytes | None, mode: int | None, uid: int | None,
                gid: int | None) -> list[str]:
    """What differs between the disk and the wish; ['created'] for a missing file."""
    if present is None:
        return ["created"]
    found = []
    if content is not None and present.content != content:
        found.append("content")
    if mode is not None and stat.S_IMODE(present.mode) != mode:
        found.append("mode")
    if uid is not None and present.uid != uid:
        found.append("owner")
    if gid is not None and present.gid != gid:
        found.append("group")
    return found


def user_id(value: str | None) -> int | None:
    """A user name or numeric id -> its id (KeyError for a name the host lacks); None stays None."""
    if value in (None, ""):
        return None
    return int(value) if str(value).isdigit() else pwd.getpwnam(str(value)).pw_uid


def group_id(value: str | None) -> int | None:
    """A group name or numeric id -> its id (KeyError for a name the host lacks); None stays None."""
    if value in (None, ""):
        return None
    return int(value) if str(value).isdigit() else grp.getgrnam(str(value)).gr_gid


def name_of_user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def name_of_group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def full(root: str | None, path: str) -> str:
    """path under root (when given), normalised."""
    return os.path.normpath(os.path.join(root, path)) if root else os.path.normpath(path)


def read_present(path: str, want_content: bool) -> Present | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    content = None
    if want_content and stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            content = handle.read()
    return Present(content, info.st_mode, info.st_uid, info.st_gid)


def file_content(item: dict[str, Any]) -> bytes:
    """A file entry's content (private_content or content) as UTF-8 bytes."""
    private = item.get("private_content")
    return (private if private is not None else item.get("content") or "").encode("utf-8")


def unwanted(root: str | None, files: list[dict[str, Any]], prune: list[str], absent: list[str]) -> list[str]:
    """The full paths a write removes: the absent ones that exist and, in each prune folder, the regular
    files that files does not list; sorted."""
    listed = {full(root, f["path"]) for f in files}
    found = [full(root, p) for p in absent if os.path.lexists(full(root, p))]
    for folder in prune:
        directory = full(root, folder)
        if not os.path.isdir(directory):
            continue
        found += [os.path.join(directory, name) for name in os.listdir(directory)
                  if os.path.isfile(os.path.join(directory, name)) and not os.path.islink(os.path.join(directory, name))]
    return sorted(set(found) - listed)


def entry_differs(root: str | None, item: dict[str, Any], is_file: bool) -> bool:
    """Whether writing this folder or file entry would change the disk. An owner, group or mode the
    write cannot use, or a path of the wrong type, counts as a difference: the write reports it."""
    path = full(root, item["path"])
    try:
        wanted = parse_mode(item.get("mode")), user_id(item.get("owner")), group_id(item.get("group"))
        present = read_present(path, want_content=is_file)
    except (ValueError, KeyError, OSError):
        return True
    if present is not None and not (stat.S_ISREG if is_file else stat.S_ISDIR)(present.mode):
        return True
    return bool(differences(present, file_content(item) if is_file else None, *wanted))


def pending_writes(root: str | None, directories: list[dict[str, Any]], files: list[dict[str, Any]],
                   prune: list[str], absent: list[str]) -> list[str]:
    """The paths antone.infra.files would create, correct or remove with these options (folders and files
    as given, removed files in full), read only; [] when the disk already matches."""
    try:
        removed = unwanted(root, files, prune, absent)
    except OSError as error:
        removed = [str(error)]
    return ([item["path"] for item in directories if entry_differs(root, item, is_file=False)]
            + [item["path"] for item in files if entry_differs(root, item, is_file=True)]
            + removed)


def attributes_match(item: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether a host_state file record has the entry's mode, owner and group (each when given; an owner
    or group by name or by numeric id)."""
    mode = parse_mode(item.get("mode"))
    if mode is not None and int(record.get("mode", "-1"), 8) != mode:
        return False
    for key, number in (("owner", "uid"), ("group", "gid")):
        wanted = item.get(key)
        if wanted not in (None, "") and str(wanted) not in (str(record.get(key)), str(record.get(number))):
            return False
    return True


def pending_from_records(writes: dict[str, Any], records: dict[str, dict[str, Any]]) -> list[str]:
    """pending_writes() decided on the controller from antone.infra.host_state's `files` records (stat and
    SHA-1 of every path the write names), for a write whose content is known only after the host was read.
    No prune (it needs the folder listed), and no private file (its SHA-1 would be in the records)."""
    if writes.get("prune"):
        raise ValueError("prune needs the folder listed: use host_state's writes option")
    root = writes.get("root")

    def record(path: str) -> dict[str, Any]:
        found = records.get(full(root, path))
        if not isinstance(found, dict):
            raise ValueError(f"{full(root, path)} is not among the records (list it in host_state's files)")
        return found

    pending = []
    for item in writes.get("directories") or []:
        found = record(item["path"])
        if not (found.get("exists") and found.get("isdir") and attributes_match(item, found)):
            pending.append(item["path"])
    for item in writes.get("files") or []:
        if item.get("private_content") is not None:
            raise ValueError(f"{item['path']}: a private file's SHA-1 must not travel in records; use host_state's writes")
        found = record(item["path"])
        checksum = hashlib.sha1(file_content(item)).hexdigest()
        if not (found.get("exists") and found.get("checksum") == checksum and attributes_match(item, found)):
            pending.append(item["path"])
    return pending + [full(root, path) for path in writes.get("absent") or [] if record(path).get("exists")]
