"""antone-autoheal's choice of containers to restart (pure; no engine)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from source_loader import load_source  # tests/unit/source_loader.py

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "stack" / "files" / "antone_autoheal.py"
autoheal = load_source("antone_autoheal", SCRIPT)

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.timezone.utc)


def container(name: str, health: str, started: str = "2026-11-26T11:00:00.123456789Z", running: bool = True) -> dict:
    return {"Name": f"/{name}", "Config": {"Labels": {"com.docker.compose.service": name.split("-")[1]}},
            "State": {"Running": running, "StartedAt": started,
                      "Health": {"Status": health, "FailingStreak": 3, "Log": [{"Output": "connection refused\n"}]}}}


def test_only_running_unhealthy_containers_past_their_grace_are_chosen() -> None:
    chosen = autoheal.unhealthy([
        container("antone-worker-1", "unhealthy"),
        container("antone-api-1", "healthy"),
        container("antone-dashboard-1", "unhealthy", running=False),
        container("antone-fresh-1", "unhealthy", started="2026-11-26T11:59:30.5+00:00"),
    ], NOW, 120)
    assert chosen == [{"name": "antone-worker-1", "service": "worker", "failing": "3",
                       "last_output": "connection refused"}]


def test_docker_times_with_nanoseconds_and_zones_are_read() -> None:
    assert autoheal.parse_time("2026-11-26T11:00:00.123456789Z") == dt.datetime(
        2026, 11, 26, 11, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert autoheal.parse_time("2026-11-26T12:00:00.5+01:00") == dt.datetime(
        2026, 11, 26, 11, 0, 0, 500000, tzinfo=dt.timezone.utc)
    assert autoheal.parse_time("0001-01-01T00:00:00Z") is None
    assert autoheal.parse_time("garbage") is None
