"""dev-ctl.sh (DATA-001): every spelling that removes volumes needs the project's name typed at a
terminal and is refused without one; everything else reaches docker compose unchanged. A fake
`docker` on PATH records what would have run."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "stack" / "files" / "dev-ctl.sh"

DANGEROUS = [
    ["down", "-v"],
    ["down", "--volumes"],
    ["down", "--volumes=true"],
    ["down", "--volumes=1"],
    ["down", "--volumes=t"],
    ["down", "--volumes=T"],
    ["down", "--volumes=TRUE"],
    ["down", "--volumes=True"],
    ["down", "-v=true"],
    ["down", "-v=1"],
    ["rm", "-s", "--volumes=true", "api"],
    ["--project-name=antone", "down", "-v"],
    ["-f", "docker-compose.yml", "--env-file", ".env", "down", "--volumes"],
    ["down", "--remove-orphans", "-v"],
    ["down", "-tv", "5"],
    ["rm", "-fsv"],
    ["rm", "-v", "backend-api"],
    ["rm", "-vf"],
    ["-p", "antone", "down", "-v"],
    ["--profile", "x", "rm", "--volumes"],
]
HARMLESS = [
    ["ps"],
    ["down"],
    ["down", "--rmi", "local"],
    ["rm", "-f", "backend-worker"],
    ["logs", "-f", "--tail", "5", "dashboard"],
    ["up", "-d", "--wait"],
    ["down", "--", "-v"],
    ["down", "--volumes=false"],
    ["down", "--volumes=0"],
    ["down", "-v=false"],
    ["rm", "--force", "--stop"],
]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "antone"
    directory.mkdir()
    shutil.copy(SCRIPT, directory / "dev-ctl.sh")
    (directory / ".env").write_text("ANTONE_DEV_COMPOSE_FILE='docker-compose.yml:docker-compose.dev.yml'\n"
                                    "COMPOSE_FILE='docker-compose.yml:docker-compose.prod.yml'\nCOMPOSE_PROJECT_NAME='antone'\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/ran"\n')
    fake.chmod(0o755)
    return directory


def env_for(project: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{project.parent / 'bin'}:{os.environ['PATH']}"}


def run(project: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(project / "dev-ctl.sh"), *args], env=env_for(project), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=10,
    )


def ran(project: Path) -> list[str] | None:
    record = project.parent / "ran"
    return record.read_text().splitlines() if record.exists() else None


def run_at_terminal(project: Path, args: list[str], typed: str) -> tuple[int, str]:
    """Runs dev-ctl.sh with a pseudo-terminal as stdin, typing `typed` at its prompt."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(project / "dev-ctl.sh"), *args], env=env_for(project), stdin=follower,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    os.close(follower)
    os.write(leader, typed.encode() + b"\n")
    _out, err = process.communicate(timeout=10)
    os.close(leader)
    return process.returncode, err


@pytest.mark.parametrize("args", HARMLESS, ids=" ".join)
def test_harmless_commands_reach_compose_unchanged(project: Path, args: list[str]) -> None:
    result = run(project, args)
    assert result.returncode == 0, result.stderr
    assert ran(project) == ["compose", "--project-directory", str(project), *args]


def test_dev_runs_base_and_dev_files(project: Path) -> None:
    assert run(project, ["--dev", "up", "-d"]).returncode == 0
    assert ran(project) == [
        "compose", "--project-directory", str(project),
        "-f", f"{project}/docker-compose.yml", "-f", f"{project}/docker-compose.dev.yml", "up", "-d",
    ]


@pytest.mark.parametrize("args", DANGEROUS, ids=" ".join)
def test_volume_removal_is_refused_without_a_terminal(project: Path, args: list[str]) -> None:
    result = run(project, args)
    assert result.returncode == 2
    assert "Refused" in result.stderr
    assert ran(project) is None


def test_volume_removal_goes_on_when_the_project_name_is_typed(project: Path) -> None:
    code, err = run_at_terminal(project, ["down", "-v"], "antone")
    assert code == 0, err
    assert ran(project) == ["compose", "--project-directory", str(project), "down", "-v"]


@pytest.mark.parametrize("typed", ["y", "yes", "", "Antone"])
def test_anything_but_the_project_name_aborts(project: Path, typed: str) -> None:
    code, err = run_at_terminal(project, ["down", "--volumes"], typed)
    assert code == 1
    assert "Aborted" in err
    assert ran(project) is None
