"""antone.infra.host_state, run in-process as Ansible runs it, against files and commands of the test's
own machine: it reads, reports and never changes anything."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.antone.infra.plugins.modules import host_state as H

SHOW = """Id=cron.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled

Id=nope.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
"""


def run(args: dict[str, Any], check: bool = False) -> dict[str, Any]:
    out = io.StringIO()
    with patch_module_args({**args, "_ansible_check_mode": check}), contextlib.redirect_stdout(out), \
            pytest.raises(SystemExit):
        H.main()
    return json.loads(out.getvalue())


def test_systemctl_show_blocks_are_read_in_the_order_asked() -> None:
    units = H.parse_units(SHOW, ["cron.service", "nope.service"])
    assert units["cron.service"] == {"load_state": "loaded", "active_state": "active", "sub_state": "running",
                                     "unit_file_state": "enabled"}
    assert units["nope.service"]["load_state"] == "not-found"


def test_units_systemctl_did_not_answer_for_are_not_found() -> None:
    assert H.parse_units("", ["a.service"]) == {"a.service": {"load_state": "not-found", "active_state": "inactive",
                                                              "sub_state": "dead", "unit_file_state": ""}}


def test_sysctl_keys_map_to_proc_sys() -> None:
    assert H.sysctl_path("vm.nr_hugepages") == "/proc/sys/vm/nr_hugepages"


def test_files_folders_contents_and_commands_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw").write_text("hunter2")
    (tmp_path / "secrets" / "sub").mkdir()
    (tmp_path / "record.json").write_text('{"a": 1}\n')
    os.chmod(tmp_path / "record.json", 0o640)
    (tmp_path / "link").symlink_to(tmp_path / "record.json")
    result = run({"files": [str(tmp_path / "record.json"), str(tmp_path / "missing"), str(tmp_path / "link")],
                  "compare": [{"path": str(tmp_path / "secrets" / "pw"), "checksum": hashlib.sha1(b"hunter2").hexdigest()},
                              {"path": str(tmp_path / "record.json"), "checksum": "0" * 40},
                              {"path": str(tmp_path / "none"), "checksum": "0" * 40}],
                  "read": [str(tmp_path / "record.json"), str(tmp_path / "missing")],
                  "commands": [{"name": "echo", "argv": ["echo", "hello"]},
                               {"name": "here", "argv": ["pwd"], "chdir": str(tmp_path)},
                               {"name": "fails", "argv": ["sh", "-c", "echo no >&2; exit 3"]},
                               {"name": "absent", "argv": ["/no/such/command"]}]})
    assert result["changed"] is False
    record = result["files"][str(tmp_path / "record.json")]
    assert record["exists"] and record["mode"] == "0640" and not record["isdir"]
    assert record["checksum"] == hashlib.sha1(b'{"a": 1}\n').hexdigest()
    assert result["files"][str(tmp_path / "missing")] == {"exists": False}
    link = result["files"][str(tmp_path / "link")]
    assert link["islnk"] and link["lnk_source"] == str(tmp_path / "record.json") and "checksum" not in link
    # a known checksum is compared, never returned: true, false, or null for a missing file
    assert result["same"] == {str(tmp_path / "secrets" / "pw"): True, str(tmp_path / "record.json"): False,
                              str(tmp_path / "none"): None}
    assert "hunter2" not in json.dumps(result) and hashlib.sha1(b"hunter2").hexdigest() not in json.dumps(result)
    assert result["contents"] == {str(tmp_path / "record.json"): '{"a": 1}\n', str(tmp_path / "missing"): None}
    assert result["commands"]["echo"] == {"rc": 0, "stdout": "hello\n", "stderr": ""}
    assert result["commands"]["here"]["stdout"].strip() == str(tmp_path)
    assert result["commands"]["fails"] == {"rc": 3, "stdout": "", "stderr": "no\n"}
    assert result["commands"]["absent"]["rc"] == 127


def test_check_mode_reads_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    args = {"files": [str(tmp_path / "f")], "commands": [{"name": "t", "argv": ["true"]}]}
    assert run(args, check=True)["files"] == run(args)["files"]


def test_sysctl_reads_proc_sys_and_a_missing_key_is_null() -> None:
    result = run({"sysctl": ["kernel.ostype", "vm.no_such_setting"]})
    assert result["sysctl"] == {"kernel.ostype": "Linux", "vm.no_such_setting": None}
    assert isinstance(result["sysctl_writable"], bool)


def write_options(root: Path) -> dict[str, Any]:
    me, my_group = str(os.getuid()), str(os.getgid())
    return {"root": str(root),
            "directories": [{"path": ".", "mode": "0750"}, {"path": "env", "mode": "0700", "owner": me}],
            "files": [{"path": "compose.yaml", "content": "services: {}\n", "mode": "0640", "group": my_group},
                      {"path": "env/api.env", "private_content": "TOKEN=hunter2-secret\n", "mode": "0600"}],
            "prune": ["env"], "absent": ["old.conf"]}


def files_module_would_change(options: dict[str, Any], check: bool = True) -> list[str]:
    """What antone.infra.files itself reports (in check mode unless told) for the same options."""
    from ansible_collections.antone.infra.plugins.modules import files as F
    out = io.StringIO()
    with patch_module_args({**options, "_ansible_check_mode": check}), contextlib.redirect_stdout(out), \
            pytest.raises(SystemExit):
        F.main()
    result = json.loads(out.getvalue())
    return result["directories"] + result["changed_paths"] + result["removed"]


def test_writes_pending_names_what_the_files_module_would_change(tmp_path: Path) -> None:
    root = tmp_path / "project"
    options = write_options(root)
    assert run({"writes": options})["pending"] == [".", "env", "compose.yaml", "env/api.env"]
    root.mkdir(mode=0o750)
    (root / "env").mkdir(mode=0o700)
    (root / "compose.yaml").write_text("services: {}\n")
    (root / "compose.yaml").chmod(0o640)
    (root / "env" / "api.env").write_text("TOKEN=hunter2-secret\n")
    (root / "env" / "api.env").chmod(0o600)
    assert run({"writes": options})["pending"] == [] == files_module_would_change(options)
    # each kind of drift, one at a time, is named exactly as the files module would change it
    drifts = [(lambda: (root / "compose.yaml").write_text("services: {x: {}}\n"), ["compose.yaml"]),
              (lambda: (root / "env" / "api.env").chmod(0o644), ["env/api.env"]),
              (lambda: (root / "env").chmod(0o755), ["env"]),
              (lambda: (root / "env" / "stale.env").write_text("A=1\n"), [str(root / "env" / "stale.env")]),
              (lambda: (root / "old.conf").write_text("x\n"), [str(root / "old.conf")]),
              (lambda: (root / "env" / "api.env").write_text("TOKEN=other\n"), ["env/api.env"])]
    for make, expected in drifts:
        make()
        result = run({"writes": options})
        assert result["pending"] == expected == files_module_would_change(options)
        assert "hunter2" not in json.dumps(result)
        files_module_would_change(options, check=False)  # repair before the next
        assert run({"writes": options})["pending"] == []


def test_writes_the_host_cannot_make_as_asked_are_pending_not_errors(tmp_path: Path) -> None:
    (tmp_path / "folder.conf").mkdir()
    (tmp_path / "a.conf").write_text("a\n")
    options = {"root": str(tmp_path), "files": [
        {"path": "a.conf", "content": "a\n", "owner": "no-such-user-antone"},  # a user a later task creates
        {"path": "folder.conf", "content": "x\n"},  # a folder where a file should be: the write says so
        {"path": "b.conf", "content": "b\n", "mode": "u+rw"}]}
    assert run({"writes": options})["pending"] == ["a.conf", "folder.conf", "b.conf"]


def test_files_records_decide_the_same_on_the_controller(tmp_path: Path) -> None:
    """antone.infra.files_pending, from host_state's files records, agrees with the module in each drift."""
    from ansible_collections.antone.infra.plugins.filter.files_pending import files_pending
    me = str(os.getuid())
    options = {"directories": [{"path": str(tmp_path / "conf.d"), "mode": "0755", "owner": me}],
               "files": [{"path": str(tmp_path / "conf.d" / "a.conf"), "content": "a = 1\n", "mode": "0644"},
                         {"path": str(tmp_path / "b.nft"), "content": "table inet x {}\n", "group": str(os.getgid())}],
               "absent": [str(tmp_path / "old.conf")]}
    paths = [str(tmp_path / p) for p in ("conf.d", "conf.d/a.conf", "b.nft", "old.conf")]

    def decided() -> list[str]:
        return files_pending(run({"files": paths})["files"], options)

    assert decided() == [str(tmp_path / "conf.d"), str(tmp_path / "conf.d" / "a.conf"), str(tmp_path / "b.nft")]
    assert decided() == files_module_would_change(options)
    files_module_would_change(options, check=False)
    assert decided() == [] == files_module_would_change(options)
    for make in (lambda: (tmp_path / "conf.d" / "a.conf").write_text("a = 2\n"),
                 lambda: (tmp_path / "conf.d" / "a.conf").chmod(0o600),
                 lambda: (tmp_path / "conf.d").chmod(0o700),
                 lambda: (tmp_path / "b.nft").unlink(),
                 lambda: (tmp_path / "old.conf").write_text("x\n")):
        make()
        assert len(decided()) == 1 and decided() == files_module_would_change(options)
        files_module_would_change(options, check=False)
        assert decided() == []


def test_files_pending_refuses_what_records_cannot_decide() -> None:
    from ansible_collections.antone.infra.plugins.filter.files_pending import files_pending
    with pytest.raises(ValueError, match="prune"):
        files_pending({}, {"files": [], "prune": ["/etc/x"]})
    with pytest.raises(ValueError, match="private"):
        files_pending({"/s": {"exists": False}}, {"files": [{"path": "/s", "private_content": "pw"}]})
    with pytest.raises(ValueError, match="not among the records"):
        files_pending({}, {"files": [{"path": "/etc/a", "content": "x"}]})
    with pytest.raises(TypeError):
        files_pending([], {})  # type: ignore[arg-type]


def test_the_action_accepts_exactly_the_module_options() -> None:
    import yaml

    from ansible_collections.antone.infra.plugins.action.host_state import ActionModule

    assert ActionModule._VALID_ARGS == set(yaml.safe_load(H.DOCUMENTATION)["options"])
