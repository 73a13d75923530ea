"""The collection as a user gets it: the archive `ansible-galaxy collection build` makes carries no
development files and a LICENSE, installs into an empty collections path, and a playbook of one's
own that imports `antone.infra.site` passes a syntax check, lists every role's tags, and takes its
hosts from antone_hosts."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
DEVELOPMENT = ("molecule/", "testbed/", "tests/unit/", "tests/integration/", "tests/fakes/", "tools/", "bench/", ".config/", ".ci/", ".github/",
               "Makefile", "ansible.cfg", "requirements.txt", "pytest.ini", "inventories/sandbox/",
               "changelogs/fragments/", ".yamllint", ".ansible-lint")
AREA_TAGS = {"base", "time", "upgrades", "ssh", "users", "firewall", "journald", "docker", "tuning", "tunnel",
             "stack", "render", "deploy", "backup", "verify", "always"}


def galaxy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ansible-galaxy"), *args], cwd=cwd, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("build")
    galaxy("collection", "build", "--force", "--output-path", str(out), cwd=ROOT)
    archive = next(out.glob("antone-infra-*.tar.gz"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    target = tmp_path_factory.mktemp("collections")
    galaxy("collection", "install", "--no-deps", "--force", "-p", str(target), str(archive), cwd=out)
    return target, names


def test_the_archive_has_a_license_and_no_development_file(installed: tuple[Path, list[str]]) -> None:
    _, names = installed
    assert "LICENSE" in names and "playbooks/site.yml" in names and "meta/runtime.yml" in names
    assert "tests/sanity/ignore-2.19.txt" in names  # ansible-test sanity runs on the installed collection
    assert [n for n in names if n.startswith(DEVELOPMENT) or n in ("site.yml",) or "__pycache__" in n] == []
    assert not [n for n in names if Path(n).name.startswith("test_")]


def project(tmp_path: Path, collections: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "deploy.yml").write_text(yaml.safe_dump([
        {"name": "Our own site, made of antone.infra's", "ansible.builtin.import_playbook": "antone.infra.site"}]))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"web": {"hosts": {"web-1": {"ansible_host": "192.0.2.1"}}},
                                                        "antone": {"hosts": {"antone-1": {"ansible_host": "192.0.2.2"}}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1"})
    return tmp_path, env


def playbook(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "ansible-playbook"), "-i", "hosts.yml", "deploy.yml", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_project_imports_the_site_playbook_and_lists_its_tags(installed: tuple[Path, list[str]], tmp_path: Path) -> None:
    cwd, env = project(tmp_path, installed[0])
    assert "playbook: deploy.yml" in playbook(cwd, env, "--syntax-check")
    tags = set()
    for line in playbook(cwd, env, "--list-tags").splitlines():
        if "TASK TAGS:" in line:
            tags |= {t.strip() for t in line.split("[", 1)[1].rstrip("]").split(",") if t.strip()}
    assert tags == AREA_TAGS


def test_the_hosts_come_from_antone_hosts(installed: tuple[Path, list[str]], tmp_path: Path) -> None:
    cwd, env = project(tmp_path, installed[0])
    default = playbook(cwd, env, "--list-hosts")
    chosen = playbook(cwd, env, "--list-hosts", "-e", "antone_hosts=web")
    assert "antone-1" in default and "web-1" not in default
    assert "web-1" in chosen and "antone-1" not in chosen
