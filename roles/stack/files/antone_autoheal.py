#!/usr/bin/env python3
"""antone-autoheal: restart the stack's containers that Docker reports unhealthy.

Docker runs a container's health check and marks it unhealthy, but never restarts it (restart
policies act on exits only). Run every minute by a systemd timer, this asks Docker for the
project's running containers whose health is "unhealthy", restarts each once, and logs every
restart (to stdout, which the journal keeps under antone-autoheal):

    antone-autoheal --project antone [--dry-run]

A container restarted less than --grace seconds ago is left alone, so that a slow start is not
cut short by a restart loop. Exit status: 0 when nothing was wrong or every restart succeeded, 1
when a restart failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from typing import Any


def unhealthy(inspected: list[dict[str, Any]], now: dt.datetime, grace_s: int) -> list[dict[str, str]]:
    """The containers to restart: running, unhealthy, and started at least grace_s ago."""
    chosen = []
    for container in inspected:
        state = container.get("State") or {}
        health = (state.get("Health") or {}).get("Status", "")
        if not state.get("Running") or health != "unhealthy":
            continue
        started = parse_time(state.get("StartedAt", ""))
        if started is not None and (now - started).total_seconds() < grace_s:
            continue
        log = (state.get("Health") or {}).get("Log") or []
        chosen.append({
            "name": str(container.get("Name", "")).lstrip("/"),
            "service": str(((container.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.service", "")),
            "failing": str(state.get("Health", {}).get("FailingStreak", "")),
            "last_output": str(log[-1].get("Output", "")).strip()[:200] if log else "",
        })
    return chosen


def parse_time(text: str) -> dt.datetime | None:
    """Docker's RFC 3339 time with nanoseconds -> an aware datetime (None when unreadable)."""
    if not text or text.startswith("0001-"):
        return None
    head, _dot, rest = text.partition(".")
    zone = rest[rest.find("Z"):] if "Z" in rest else rest[next((i for i, c in enumerate(rest) if c in "+-"), len(rest)):]
    fraction = rest[: len(rest) - len(zone)][:6] if rest else ""
    try:
        value = dt.datetime.fromisoformat(f"{head}.{fraction or '0'}{'+00:00' if zone in ('Z', '') else zone}")
    except ValueError:
        return None
    return value


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the compose project whose containers to watch")
    parser.add_argument("--grace", type=int, default=120, help="seconds after a start before a restart")
    parser.add_argument("--dry-run", action="store_true", help="say what would be restarted")
    args = parser.parse_args()
    listed = docker("ps", "--quiet", "--filter", f"label=com.docker.compose.project={args.project}",
                    "--filter", "health=unhealthy")
    if listed.returncode != 0:
        print(f"antone-autoheal: docker ps failed: {listed.stderr.strip()}", file=sys.stderr)
        return 1
    ids = listed.stdout.split()
    if not ids:
        return 0
    inspected = json.loads(docker("inspect", *ids).stdout or "[]")
    failed = 0
    for container in unhealthy(inspected, dt.datetime.now(dt.timezone.utc), args.grace):
        what = (f"{container['name']} (service {container['service']}) is unhealthy after "
                f"{container['failing']} failed checks; last check said: {container['last_output'] or '-'}")
        if args.dry_run:
            print(f"would restart {what}")
            continue
        result = docker("restart", container["name"])
        if result.returncode == 0:
            print(f"restarted {what}")
        else:
            failed += 1
            print(f"could not restart {what}: {result.stderr.strip()}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
