#!/usr/bin/env python3
"""Benchmark: what each kind of change costs the running stack.

On the Molecule stack scenario's test host (Debian 13, a real Docker engine, PostgreSQL 17 and the
test app behind the antone preset), one converge of the stack role per kind of change, each with a
steady request loop to the API (tools/probe.py on the host: a request every 0.1 s, the services
watched every 0.5 s). For each change the table gives the re-run's time, the containers it
recreated or restarted, the failed requests out of those sent, and the seconds each service was
down (missing, stopped, or running but not yet healthy).

Targets (issue 15): zero downtime and zero failed requests for a reloadable PostgreSQL setting, an
environment change of the worker, and a secret the API does not read.

    python3 bench/disruption/run.py [--reuse] [--keep]

--reuse skips `molecule create` and `converge` when the stack scenario's host already runs; --keep
leaves it running afterwards (`molecule destroy -s stack` removes it). Never beside another
Molecule run: the host's name is fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "stack-debian13"
PROBE = "/usr/local/bin/antone-probe.py"  # not /tmp: a tmpfs there hides what docker cp writes
CONTAINERS = ["postgres", "backend-api", "backend-worker", "dashboard"]
# Every run carries the baseline below plus its own change, so that each run changes one thing only.
SECRETS = {"postgres_password": "p$ss@w/rd:%40 $HOME", "jwt_secret": "jwt-first-value",
           "worker_token": "worker-first-value"}
BASELINE: dict[str, Any] = {
    "stack_test_extra": {"backend-worker": {"secrets": {"WORKER_TOKEN": "worker_token"}}},
    "stack_secrets": SECRETS,
    "postgres_tuning_memory_mb": 1024,
    "postgres_tuning_extra_settings": {},
    "stack_test_marker": "first",
    "stack_test_worker_marker": "first",
}


@dataclass(frozen=True)
class Change:
    name: str
    extra: dict[str, Any]
    target_zero: bool  # the target: no failed request, and no service down but the changed one
    changed_service: str = ""  # the one service the change recreates by design (its own restart is not downtime)


def changes() -> list[Change]:
    """Each change builds on the one before (the host keeps the last state)."""
    return [
        Change("baseline (settles the bench's own inventory)", {}, False),
        Change("nothing changed (re-run)", {}, True),
        Change("reloadable setting (random_page_cost)", {"postgres_tuning_extra_settings": {"random_page_cost": 1.3}},
               True),
        Change("worker environment", {"stack_test_worker_marker": "second"}, True, "backend-worker"),
        Change("secret the API does not read (worker's)",
               {"stack_secrets": {**SECRETS, "worker_token": "worker-second-value"}}, True, "backend-worker"),
        Change("dashboard environment", {"stack_test_marker": "second"}, False),
        Change("postmaster setting (memory budget)", {"postgres_tuning_memory_mb": 768}, False),
        Change("database password rotated", {"stack_secrets": {**SECRETS, "worker_token": "worker-second-value",
                                                              "postgres_password": "rotated-p@ss/w0rd"}}, False),
    ]


def sh(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)


def molecule_env() -> dict[str, str]:
    venv = ROOT / ".venv" / "bin"
    # the scenario's inventory reads MOLECULE_PROJECT_DIRECTORY (the image archives), as in verify's runs
    return {**os.environ, "PATH": f"{venv}:{os.environ['PATH']}", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "MOLECULE_PROJECT_DIRECTORY": str(ROOT),
            "MOLECULE_SCENARIO_DIRECTORY": str(ROOT / "molecule" / "stack")}


def inventory() -> Path:
    """The inventory Molecule wrote for the stack scenario (its ephemeral directory, the newest)."""
    found = sorted(Path.home().glob(".ansible/tmp/molecule.*.stack/inventory"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit("no inventory of the stack scenario under ~/.ansible/tmp: run without --reuse")
    return found[-1]


def host(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return sh(["docker", "exec", HOST, *argv])


def starts() -> dict[str, str]:
    """Each container's id and start time: a new value is a recreate or a restart."""
    result = host(["docker", "inspect", "--format", "{{.Name}} {{.Id}} {{.State.StartedAt}}",
                   *[f"antone-{c}-1" for c in CONTAINERS]])
    return {line.split()[0].lstrip("/"): line for line in result.stdout.splitlines() if line.strip()}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**base, **extra}


def run_change(change: Change, state: dict[str, Any]) -> dict[str, Any]:
    extra = merge(state, change.extra)
    host(["rm", "-f", "/tmp/antone-probe.stop", "/tmp/antone-probe.json"])
    sh(["docker", "exec", "-d", HOST, "sh", "-c", f"python3 {PROBE} --url http://127.0.0.1:3001/health --project antone"
        " --stop-file /tmp/antone-probe.stop --out /tmp/antone-probe.json > /tmp/antone-probe.log 2>&1"])
    time.sleep(1.0)
    before = starts()
    began = time.monotonic()
    result = sh(["ansible-playbook", "--inventory", str(inventory()), "--limit", HOST,
                 str(ROOT / "molecule" / "stack" / "stack_only.yml"), "-e", json.dumps(extra)], env=molecule_env())
    seconds = time.monotonic() - began
    time.sleep(2.0)  # the loop sees the services settle
    after = starts()
    host(["touch", "/tmp/antone-probe.stop"])
    for _ in range(50):
        probe = host(["cat", "/tmp/antone-probe.json"])
        if probe.returncode == 0 and probe.stdout.strip():
            break
        time.sleep(0.2)
    if result.returncode != 0:
        sys.exit(f"{change.name}: the converge failed\n{result.stdout[-3000:]}")
    if not probe.stdout.strip():
        sys.exit(f"{change.name}: the request loop wrote no summary: {host(['cat', '/tmp/antone-probe.log']).stdout}")
    summary = json.loads(probe.stdout)
    recap = [line for line in result.stdout.splitlines() if "changed=" in line]
    return {
        "change": change.name,
        "seconds": round(seconds, 1),
        "changed": recap[-1].split("changed=")[1].split()[0] if recap else "?",
        "touched": sorted(name.removeprefix("antone-").removesuffix("-1") for name in after
                          if after[name] != before.get(name)),
        "failed": summary["failed"],
        "requests": summary["requests"],
        "down": {k: v for k, v in summary["down_seconds"].items() if v > 0},
        "target_zero": change.target_zero,
        "changed_service": change.changed_service,
        "extra": extra,
    }


def target_met(row: dict[str, Any]) -> bool:
    """No failed request, and no service down but the one the change recreates by design."""
    return row["failed"] == 0 and set(row["down"]) <= {row.get("changed_service", "")} - {""}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'change':<46} {'re-run':>7} {'chg':>4}  {'failed/requests':>15}  {'touched':<40} down (s)"]
    for row in rows:
        touched = ", ".join(row["touched"]) or "-"
        down = ", ".join(f"{k} {v}" for k, v in row["down"].items()) or "0"
        mark = ""
        if row["target_zero"]:
            mark = "  [target met]" if target_met(row) else "  [TARGET MISSED]"
        lines.append(f"{row['change']:<46} {row['seconds']:>6}s {row['changed']:>4}  "
                     f"{row['failed']:>6}/{row['requests']:<8}  {touched:<40} {down}{mark}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="the stack scenario's host already runs")
    parser.add_argument("--keep", action="store_true", help="leave the host running afterwards")
    args = parser.parse_args()
    env = molecule_env()
    if not args.reuse:
        for step in ("destroy", "create", "converge"):
            result = sh(["molecule", step, "-s", "stack"], env=env, cwd=ROOT)
            if result.returncode != 0:
                sys.exit(f"molecule {step} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    sh(["docker", "cp", str(ROOT / "tools" / "probe.py"), f"{HOST}:{PROBE}"])
    rows, state = [], dict(BASELINE)
    try:
        for change in changes():
            row = run_change(change, state)
            state = row.pop("extra")
            rows.append(row)
            print(f"{row['change']}: {row['seconds']} s, touched {row['touched'] or '-'}, "
                  f"{row['failed']}/{row['requests']} failed, down {row['down'] or 0}", flush=True)
    finally:
        if not args.keep:
            sh(["molecule", "destroy", "-s", "stack"], env=env, cwd=ROOT)
    print()
    print(table(rows))
    missed = [r["change"] for r in rows if r["target_zero"] and not target_met(r)]
    print(f"\ntargets: {'all met' if not missed else 'missed for ' + ', '.join(missed)}")


if __name__ == "__main__":
    main()
