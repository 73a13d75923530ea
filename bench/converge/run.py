#!/usr/bin/env python3
"""Benchmark: how long site.yml takes on a new host, how long a re-run that changes nothing takes,
and how the re-run grows with the stack's size.

On a new plain Debian 13 test host (antone-testhost:debian13: no Docker yet, unlike the sandbox's
image) with the sandbox's inventory (tunnel and backups against the stand-ins), it times:
1. the fresh converge of site.yml, every role, verify included;
2. a no-op re-run (changed=0 expected);
3. a converge with 15 more services (20 in all), then a no-op re-run of that stack.
Each run's ten slowest tasks are printed (ansible.posix.profile_tasks). Each no-op re-run is made
--repeat times (3 unless told) and its median counts: this VM's CPU speed swings by up to 1.8x over
tens of seconds, and one run of 20 s can land in either phase.

Targets (issue 17): a no-op re-run, verify included, under 20 s with changed=0 and at most 0.15x the
fresh converge; 20 services re-run in at most 1.3x the time of 5.

    python3 bench/converge/run.py [--keep] [--repeat N]

--keep leaves antone-bench running (docker rm -f antone-bench removes it). Run it alone: it takes
the machine's cores, and timings beside another run mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "antone-bench"
TASK_LINE = re.compile(r"^(?P<name>.+?) -+ (?P<seconds>[0-9.]+)s$")
RECAP = re.compile(r"changed=(\d+)")


def extra_services(count: int) -> dict[str, Any]:
    """count more services of the test app image, each with its own health check: every 30 s as on a
    server (every 2 s while it starts), so that 15 more checks do not load the two cores the controller
    shares with the host (every 5 s, they made every task of a re-run about 1.4x slower)."""
    return {f"extra-{i:02d}": {"image": "antone-test/app:local", "command": ["serve"],
                               "environment": {"PORT": 3100 + i},
                               "healthcheck": {"test": ["CMD", "wget", "--quiet", "--tries=1", "--spider",
                                                        f"http://localhost:{3100 + i}/health"],
                                               "interval": "30s", "start_interval": "2s", "start_period": "30s"}}
            for i in range(count)}


def inventory(directory: Path) -> Path:
    """The sandbox's group_vars for the benchmark's own host."""
    (directory / "group_vars").symlink_to(ROOT / "inventories" / "sandbox" / "group_vars")
    path = directory / "hosts.yml"
    path.write_text(f"antone:\n  hosts:\n    {HOST}:\n      ansible_connection: community.docker.docker\n"
                    "      ansible_user: root\n")
    return path


def slowest(output: str, count: int = 10) -> list[tuple[str, float]]:
    """profile_tasks' summary lines (name ---- 12.34s), slowest first."""
    found = []
    for line in output.splitlines():
        match = TASK_LINE.match(line.strip())
        if match:
            found.append((match.group("name").strip(), float(match.group("seconds"))))
    return sorted(found, key=lambda item: -item[1])[:count]


def changed_tasks(output: str) -> list[str]:
    """The tasks that reported a change (default callback: a TASK [...] line, then changed: lines)."""
    names, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK [") or line.startswith("RUNNING HANDLER ["):
            task = line[line.index("[") + 1:line.rindex("]")]
        elif line.startswith("changed:") and task and task not in names:
            names.append(task)
    return names


def playbook(inv: Path, *args: str) -> tuple[float, int, str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "40"}
    start = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", str(inv), "-e", f"sandbox_checkout={ROOT}", str(ROOT / "site.yml"),
                             *args],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"site.yml failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    changed = sum(int(n) for n in RECAP.findall(result.stdout.split("PLAY RECAP")[-1]))
    return seconds, changed, result.stdout


def median_run(runs: list[tuple[float, int, str]]) -> tuple[float, int, str]:
    """The median run by time (the slower middle one of an even count), its changed count the largest of
    all: a re-run that changed something once did not change nothing."""
    ordered = sorted(runs, key=lambda run: run[0])
    middle = ordered[len(ordered) // 2]
    return statistics.median(run[0] for run in runs), max(run[1] for run in runs), middle[2]


def repeated(name: str, runs: list[tuple[float, int, str]]) -> tuple[float, int, str]:
    """Reports the median of runs, with every run's time."""
    result = median_run(runs)
    report(f"{name} (median of {len(runs)}: {', '.join(f'{run[0]:.1f}' for run in runs)} s)", *result)
    return result


def report(name: str, seconds: float, changed: int, output: str) -> None:
    print(f"\n{name}: {seconds:.1f} s, changed={changed}")
    if "re-run" in name and changed:
        print("  changed on a re-run: " + "; ".join(changed_tasks(output)))
    for task, took in slowest(output):
        print(f"  {took:7.2f} s  {task}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="how many times each no-op re-run is made (the median counts)")
    args = parser.parse_args()
    subprocess.run(["docker", "rm", "--force", "--volumes", HOST], capture_output=True, check=False)
    with tempfile.TemporaryDirectory() as temp:
        inv = inventory(Path(temp))
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
        subprocess.run(["ansible-playbook", "-i", str(inv), "-e", f"sandbox_checkout={ROOT}",
                        "-e", f"testbed_cache_dir={ROOT / '.cache' / 'testbed'}", str(ROOT / "bench" / "converge" / "host.yml")],
                       check=True, env=env, cwd=ROOT, capture_output=True)
        try:
            fresh = playbook(inv)
            report("fresh converge (Docker installed from Debian's packages)", *fresh)
            noop = repeated("no-op re-run, 5 services", [playbook(inv) for _ in range(max(1, args.repeat))])
            big = json.dumps({"stack_services": {
                **{name: {"healthcheck": {"interval": "5s"}} for name in ("backend-api", "dashboard", "postgres")},
                **extra_services(15)}, "stack_memory_reserve_mb": 0, "stack_service_memory": "128m"})
            grown = playbook(inv, "-e", big)
            report("converge to 20 services", *grown)
            noop_big = repeated("no-op re-run, 20 services",
                                [playbook(inv, "-e", big) for _ in range(max(1, args.repeat))])
        finally:
            if not args.keep:
                subprocess.run(["docker", "rm", "--force", "--volumes", HOST], capture_output=True, check=False)
    print("\n| run | seconds | changed |\n| --- | --- | --- |")
    for name, (seconds, changed, _) in (("fresh converge", fresh), ("no-op re-run, 5 services", noop),
                                        ("converge to 20 services", grown), ("no-op re-run, 20 services", noop_big)):
        print(f"| {name} | {seconds:.1f} | {changed} |")
    ratio, growth = noop[0] / fresh[0], noop_big[0] / noop[0]
    print(f"\nno-op / fresh: {ratio:.2f}x (target at most 0.15x); no-op under 20 s: {noop[0] < 20}; "
          f"20 services / 5: {growth:.2f}x (target at most 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
