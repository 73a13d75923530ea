#!/usr/bin/env python3
"""A steady request loop and a service watch, for measuring what a change costs the users.

Runs on the host that runs the stack (stdlib only), until a stop file appears:
  probe.py --url http://127.0.0.1:3001/health --project antone --stop-file /tmp/probe.stop --out /tmp/probe.json

Every --interval seconds it asks each URL once (a failure is anything but a 2xx answer within
--timeout), and every --watch-interval seconds it reads the compose project's containers: a
service counts as down while its container is missing, not running, or running but not yet healthy
when it has a health check. At the stop file it writes a JSON summary: requests, failed requests
(per URL), the seconds each service was down, and how long it ran. The Molecule stack scenario
asserts on it; bench/disruption prints it as a table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PS_FORMAT = '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}'


def service_up(state: str, status: str) -> bool:
    """A container serves when it runs and, if it has a health check, reports healthy."""
    if state != "running":
        return False
    return "(health: starting)" not in status and "(unhealthy)" not in status


def parse_ps(text: str) -> dict[str, bool]:
    """docker ps lines (service, state, status) -> service -> up. A service with several containers
    (one replaced by another) is up when any of them is."""
    up: dict[str, bool] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0]:
            continue
        service, state, status = parts
        up[service] = up.get(service, False) or service_up(state, status)
    return up


def add_downtime(down: dict[str, float], known: set[str], up: dict[str, bool], seconds: float) -> dict[str, float]:
    """Adds seconds to each known service that is not up now (missing counts as down)."""
    result = dict(down)
    for service in known | set(up):
        result.setdefault(service, 0.0)
        if not up.get(service, False):
            result[service] += seconds
    return result


def summary(requests: dict[str, int], failed: dict[str, int], down: dict[str, float], seconds: float) -> dict[str, Any]:
    return {
        "requests": sum(requests.values()),
        "failed": sum(failed.values()),
        "by_url": {url: {"requests": requests[url], "failed": failed.get(url, 0)} for url in sorted(requests)},
        "down_seconds": {service: round(value, 1) for service, value in sorted(down.items())},
        "seconds": round(seconds, 1),
    }


def ask(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a URL we were given
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def read_ps(project: str) -> dict[str, bool] | None:
    result = subprocess.run(
        ["docker", "ps", "--all", "--filter", f"label=com.docker.compose.project={project}", "--format", PS_FORMAT],
        capture_output=True, text=True, check=False,
    )
    return parse_ps(result.stdout) if result.returncode == 0 else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    stop = Path(args.stop_file)
    requests = {url: 0 for url in args.url}
    failed = {url: 0 for url in args.url}
    down: dict[str, float] = {}
    known: set[str] = set()
    start = last_watch = time.monotonic()
    while not stop.exists():
        for url in args.url:
            requests[url] += 1
            if not ask(url, args.timeout):
                failed[url] += 1
        now = time.monotonic()
        if args.project and now - last_watch >= args.watch_interval:
            up = read_ps(args.project)
            if up is not None:
                known |= set(up)
                down = add_downtime(down, known, up, now - last_watch)
            last_watch = now
        time.sleep(args.interval)
    return summary(requests, failed, down, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", default=[], help="a URL to ask (repeat for more)")
    parser.add_argument("--project", default="", help="the compose project whose services to watch")
    parser.add_argument("--stop-file", required=True, help="stop when this file exists")
    parser.add_argument("--out", required=True, help="write the JSON summary here")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--watch-interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    result = run(args)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
