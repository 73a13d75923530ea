#!/usr/bin/env python3
"""ansible-test sanity on the collection as users install it: the archive `ansible-galaxy collection
build` makes, installed into a temporary ansible_collections tree (ansible-test runs from inside it).

    python3 tools/sanity.py [ansible-test sanity options, e.g. --test pep8]

ansible-test puts pip into each of its virtual environments with a script it downloads from
ci-files.testing.ansible.com; where that host is out of reach, tools/get_pip_substitute.py stands in
for it (pip from ensurepip, the pinned packages from the configured index).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CACHE = Path.home() / ".ansible" / "test" / "cache"


def pip_version() -> str:
    """The pip version ansible-test bootstraps into its virtual environments."""
    from ansible_test._internal.host_configs import NativePythonConfig
    from ansible_test._internal.python_requirements import get_venv_packages

    return get_venv_packages(NativePythonConfig(version=f"{sys.version_info[0]}.{sys.version_info[1]}"))["pip"]


def main(argv: list[str]) -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    script = CACHE / f"get_pip_{pip_version().replace('.', '_')}.py"
    if not script.exists():
        shutil.copy(ROOT / "tools" / "get_pip_substitute.py", script)
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", temp],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        archive = next(Path(temp).glob("antone-infra-*.tar.gz"))
        subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p",
                        f"{temp}/tree", str(archive)], cwd=temp, check=True, stdout=subprocess.DEVNULL)
        collection = Path(temp) / "tree" / "ansible_collections" / "antone" / "infra"
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return subprocess.run([str(BIN / "ansible-test"), "sanity", "--python", python, "--requirements", *argv],
                              cwd=collection, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
