#!/usr/bin/env python3
"""What ansible-test fetches from ci-files.testing.ansible.com to put pip into its empty virtual
environments (get-pip.py), for machines that cannot reach that host: pip comes from the standard
library's ensurepip, then installs what ansible-test asked for (its pinned pip included) from the
configured package index.

    tools/sanity.py places it at ~/.ansible/test/cache/get_pip_<version>.py; ansible-test runs it as
    `python get_pip.py [pip options] [--no-setuptools] [--no-wheel] package==version ...`.
"""

from __future__ import annotations

import subprocess
import sys


def pip_arguments(argv: list[str]) -> list[str]:
    """get-pip.py's own flags dropped; the rest is for `pip install`."""
    return [a for a in argv if a not in ("--no-setuptools", "--no-wheel")]


def main(argv: list[str]) -> int:
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pip", "install", *pip_arguments(argv)], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
