"""antone.infra.files, run in-process as Ansible runs it (arguments through patch_module_args, the
printed JSON read back), against a temporary folder owned by the test's user."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.antone.infra.plugins.action.files import with_content
from ansible_collections.antone.infra.plugins.module_utils import files as U
from ansible_collections.antone.infra.plugins.modules import files as F

SECRET = "s3cret-value-0123456789"
ME = str(os.getuid())
MY_GROUP = str(os.getgid())


def run(args: dict[str, Any], check: bool = False, diff: bool = True) -> tuple[dict[str, Any], str]:
    out = io.StringIO()
    special = {"_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args({**args, **special}), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        F.main()
    return json.loads(out.getvalue()), out.getvalue()


def project(root: Path) -> dict[str, Any]:
    return {"root": str(root),
            "directories": [{"path": ".", "mode": "0750"}, {"path": "env", "mode": "0700"}],
            "files": [{"path": "compose.yaml", "content": "services: {}\n", "mode": "0640",
                       "owner": ME, "group": MY_GROUP},
                      {"path": "env/api.env", "private_content": f"TOKEN={SECRET}\n", "mode": "0600"}],
            "prune": ["env"]}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_run_creates_everything_and_a_second_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "antone"
    first, text = run(project(root))
    assert first["changed"] and first["changed_paths"] == ["compose.yaml", "env/api.env"]
    assert sorted(first["directories"]) == [".", "env"]
    assert (root / "compose.yaml").read_text() == "services: {}\n"
    assert mode(root / "env") == 0o700 and mode(root / "env" / "api.env") == 0o600
    assert SECRET not in text
    second, _ = run(project(root))
    assert not second["changed"] and second["changed_paths"] == [] and "diff" not in second


def test_check_mode_reports_the_drift_with_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "antone"
    run(project(root))
    (root / "compose.yaml").write_text("services: {edited: {}}\n")
    (root / "env" / "api.env").chmod(0o644)
    result, text = run(project(root), check=True)
    assert result["changed_paths"] == ["compose.yaml", "env/api.env"]
    assert [f["reasons"] for f in result["files"]] == [["content"], ["mode"]]
    headers = [d["after_header"] for d in result["diff"]]
    assert headers == [f"{root}/compose.yaml", f"{root}/env/api.env (attributes)"]
    assert result["diff"][0]["before"] == "services: {edited: {}}\n"
    assert result["diff"][1]["before"].startswith("mode 0644") and result["diff"][1]["after"].startswith("mode 0600")
    assert (root / "compose.yaml").read_text() == "services: {edited: {}}\n" and mode(root / "env" / "api.env") == 0o644
    assert SECRET not in text


def test_a_private_file_never_shows_its_content(tmp_path: Path) -> None:
    root = tmp_path / "antone"
    run(project(root))
    args = project(root)
    args["files"][1]["private_content"] = f"TOKEN={SECRET}-rotated\n"
    result, text = run(args)
    assert result["changed_paths"] == ["env/api.env"]
    assert result["diff"][0]["after"] == "(content hidden: private file, changed)\n"
    assert SECRET not in text and (root / "env" / "api.env").read_text() == f"TOKEN={SECRET}-rotated\n"


def test_prune_removes_unlisted_files_only_in_its_folders(tmp_path: Path) -> None:
    root = tmp_path / "antone"
    run(project(root))
    (root / "env" / "gone.env").write_text("X=1\n")
    (root / "env" / ".hidden").write_text("X=1\n")
    (root / "notes.txt").write_text("mine\n")
    check, _ = run(project(root), check=True)
    assert check["removed"] == [f"{root}/env/.hidden", f"{root}/env/gone.env"] and (root / "env" / "gone.env").exists()
    real, _ = run(project(root))
    assert real["removed"] == check["removed"] and not (root / "env" / "gone.env").exists()
    assert (root / "notes.txt").exists()


def test_a_refused_validation_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sshd.conf"
    target.write_text("old\n")
    result, _ = run({"files": [{"path": str(target), "content": "new\n", "validate": "false %s"}]})
    assert result["failed"] and "refused the new content" in result["msg"]
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["sshd.conf"]
    good, _ = run({"files": [{"path": str(target), "content": "new\n", "validate": "test -s %s"}]})
    assert good["changed"] and target.read_text() == "new\n"


def test_bad_input_fails_before_anything_is_written(tmp_path: Path) -> None:
    result, _ = run({"files": [{"path": str(tmp_path / "a"), "content": "x", "mode": "0600"},
                               {"path": str(tmp_path / "b"), "content": "x", "mode": "u+rw"}]})
    assert result["failed"] and "not an octal mode" in result["msg"] and not (tmp_path / "a").exists()
    owner, _ = run({"directories": [{"path": str(tmp_path / "d")}],
                    "files": [{"path": str(tmp_path / "a"), "content": "x", "owner": "no-such-user-here"}]})
    assert owner["failed"] and "no-such-user-here" in owner["msg"] and not (tmp_path / "d").exists()
    both, _ = run({"files": [{"path": str(tmp_path / "a"), "content": "x", "private_content": "secret-y"}]})
    assert both["failed"] and "mutually exclusive" in both["msg"]
    (tmp_path / "dir").mkdir()
    folder, _ = run({"files": [{"path": str(tmp_path / "dir"), "content": "x"}]})
    assert folder["failed"] and "not a regular file" in folder["msg"]


@pytest.mark.parametrize(("value", "expected"), [("0640", 0o640), ("750", 0o750), (None, None), ("", None)])
def test_modes_are_octal_strings(value: str | None, expected: int | None) -> None:
    assert U.parse_mode(value) == expected


@pytest.mark.parametrize("value", ["0648", "u=rw", "77777", "-1"])
def test_other_modes_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="octal mode"):
        U.parse_mode(value)


def test_differences_name_each_attribute() -> None:
    present = U.Present(b"a", stat.S_IFREG | 0o644, 0, 0)
    assert U.differences(None, b"a", None, None, None) == ["created"]
    assert U.differences(present, b"a", 0o644, 0, 0) == []
    assert U.differences(present, b"b", 0o600, 1, 2) == ["content", "mode", "owner", "group"]


def test_src_becomes_content_read_from_the_role() -> None:
    assert with_content({"path": "x", "src": "dev-ctl.sh", "mode": "0750"}, lambda s: f"read {s}") == \
        {"path": "x", "content": "read dev-ctl.sh", "mode": "0750"}
    assert with_content({"path": "x", "content": "c"}, lambda s: "") == {"path": "x", "content": "c"}


def test_absent_removes_a_file_only_when_it_exists(tmp_path: Path) -> None:
    dropin = tmp_path / "10-firewall.conf"
    assert not run({"absent": [str(dropin)]})[0]["changed"]
    dropin.write_text("[Unit]\n")
    check, _ = run({"absent": [str(dropin)]}, check=True)
    assert check["changed"] and check["removed"] == [str(dropin)] and dropin.exists()
    real, _ = run({"absent": [str(dropin)]})
    assert real["removed"] == [str(dropin)] and not dropin.exists()
    (tmp_path / "folder").mkdir()
    refused, _ = run({"absent": [str(tmp_path / "folder")]})
    assert refused["failed"] and "is a folder" in refused["msg"] and (tmp_path / "folder").is_dir()


def test_the_action_accepts_exactly_the_module_options() -> None:
    import yaml

    from ansible_collections.antone.infra.plugins.action.files import ActionModule

    assert ActionModule._VALID_ARGS == set(yaml.safe_load(F.DOCUMENTATION)["options"])
