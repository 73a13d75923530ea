"""Unit tests for the timezone test plugin."""

from __future__ import annotations

import pytest

from ansible_collections.antone.infra.plugins.test.timezone import is_timezone, known_timezones


@pytest.mark.parametrize("name", ["Etc/UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC"])
def test_real_timezones(name: str) -> None:
    assert is_timezone(name)


@pytest.mark.parametrize("name", ["Europe/Atlantis", "Mars/Olympus_Mons", "", "../etc/passwd", "Europe//Berlin", 42, None])
def test_bad_timezones(name: object) -> None:
    if isinstance(name, str) and name and "/" in name and ".." not in name and "//" not in name and not known_timezones():
        pytest.skip("no timezone database on this machine: only the shape is checked")
    assert not is_timezone(name)


def test_without_a_database_the_shape_decides() -> None:
    assert is_timezone("Europe/Atlantis", known=set())
    assert not is_timezone("../etc", known=set())
