"""dpkg-query's answer read into what apt still has to do."""

from __future__ import annotations

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.dpkg import dpkg_packages, parse

ANSWER = """cron 3.0pl1-197 ii 
docker.io 26.1.5+dfsg1-9 hi 
docker-compose  un 
restic 0.18.0-1 rc 
libc6:amd64 2.41-12 ii 
"""


def test_each_line_gives_version_selection_and_whether_it_is_installed() -> None:
    found = parse(ANSWER)
    assert found["cron"] == {"version": "3.0pl1-197", "selection": "install", "installed": True}
    assert found["docker.io"]["selection"] == "hold" and found["docker.io"]["installed"]
    assert found["docker-compose"] == {"version": "", "selection": "unknown", "installed": False}
    assert not found["restic"]["installed"]  # only its configuration files are left
    assert found["libc6"]["installed"]  # the architecture is not part of the name


def test_missing_names_what_is_absent_removed_or_at_another_version() -> None:
    result = dpkg_packages(ANSWER, ["cron", "restic", "nftables", "docker.io=26.1.5+dfsg1-9", "libc6=2.40-1"])
    assert result["missing"] == ["restic", "nftables", "libc6=2.40-1"]
    assert result["installed"] == ["cron", "docker.io", "libc6"]
    assert result["selections"]["docker.io"] == "hold"


def test_nothing_missing_when_everything_is_there() -> None:
    assert dpkg_packages(ANSWER, ["cron"])["missing"] == []
    assert dpkg_packages("", [])["missing"] == []


@pytest.mark.parametrize(("text", "wanted"), [(None, []), ("", "cron"), ("", [""]), ("", [1])])
def test_bad_input_is_refused(text: object, wanted: object) -> None:
    with pytest.raises(TypeError):
        dpkg_packages(text, wanted)
