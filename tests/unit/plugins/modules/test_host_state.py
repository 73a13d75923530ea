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
