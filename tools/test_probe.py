"""Unit tests for the request loop's pure parts (no engine, no network)."""

from __future__ import annotations

import probe

PS = (
    "postgres\trunning\tUp 5 minutes (healthy)\n"
    "backend-api\trunning\tUp 3 seconds (health: starting)\n"
    "backend-worker\texited\tExited (0) 1 second ago\n"
    "dashboard\trunning\tUp 2 minutes\n"
)


def test_a_service_is_up_when_it_runs_and_is_not_waiting_for_its_health() -> None:
    assert probe.parse_ps(PS) == {"postgres": True, "backend-api": False, "backend-worker": False, "dashboard": True}
    assert not probe.service_up("running", "Up 1 minute (unhealthy)")


def test_a_replaced_container_beside_its_successor_counts_as_up() -> None:
    assert probe.parse_ps("api\texited\tExited (0)\napi\trunning\tUp 1 second\n") == {"api": True}


def test_downtime_counts_missing_services_as_down() -> None:
    down = probe.add_downtime({}, {"postgres", "api"}, {"postgres": True}, 0.5)
    down = probe.add_downtime(down, {"postgres", "api"}, {"postgres": True, "api": False}, 0.5)
    assert down == {"postgres": 0.0, "api": 1.0}


def test_summary_adds_up_the_urls() -> None:
    result = probe.summary({"a": 10, "b": 5}, {"b": 2}, {"api": 1.04}, 12.34)
    assert result == {"requests": 15, "failed": 2, "by_url": {"a": {"requests": 10, "failed": 0},
                                                             "b": {"requests": 5, "failed": 2}},
                      "down_seconds": {"api": 1.0}, "seconds": 12.3}
