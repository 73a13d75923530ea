#!/usr/bin/env python3
"""Run Molecule scenarios, a few at a time, longest first, and say how long each took against its
budget (molecule/budgets.yml).

    python3 tools/molecule_run.py [--jobs 2] [SCENARIO ...]

Each scenario's output goes to .cache/molecule/<scenario>.log; a failed scenario's log is printed
whole when it ends, a passed one's last lines, and the run ends with each failure's digest (the
failed tasks and their messages), so that the last lines of a CI log say what went wrong. Scenarios never share a test host, a network or a
fake's port, so two can run at once; on two cores the engine and Ansible keep both busy while the
other waits for containers. Exit status 1 when a scenario failed. Over budget is a warning: the
docs/development.md's scenario table and the budgets file are where a new figure is argued.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".cache" / "molecule"
PASSED_TAIL = 15
DIGEST_LINES = 20  # CI shows about the last 25 lines of a run
WIDTH = 240
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOX = re.compile(r"^\s*[\u2502\u2514\u250c\u251c]\s?")
FAILURE = re.compile(r"fatal:|FAILED!|failed: \[|Traceback|\bfailed=[1-9]")  # Ansible's words, not Molecule's
PRINT = threading.Lock()


@dataclass(frozen=True)
class Result:
    scenario: str
    passed: bool
    seconds: float
    budget: int


def scenarios(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "molecule").glob("*/molecule.yml"))


def order(names: list[str], budgets: dict[str, int]) -> list[str]:
    """Longest budget first (a scenario without one counts as the longest), so that the short ones
    fill in at the end and the lanes finish close together."""
    longest = max(budgets.values(), default=0) + 1
    return sorted(names, key=lambda name: (-budgets.get(name, longest), name))


def summary(results: list[Result], wall: float) -> str:
    lines = ["scenario          seconds  budget  result"]
    for r in sorted(results, key=lambda r: r.scenario):
        note = "passed" if r.passed else "FAILED"
        if r.budget and r.seconds > r.budget:
            note += f", {r.seconds - r.budget:.0f} s over budget"
        lines.append(f"{r.scenario:<16}  {r.seconds:7.0f}  {r.budget or '-':>6}  {note}")
    passed = sum(r.passed for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed; {sum(r.seconds for r in results):.0f} s of "
                 f"scenarios in {wall:.0f} s")
    return "\n".join(lines)


def digest(lines: list[str], limit: int = DIGEST_LINES) -> list[str]:
    """The lines that say why a scenario failed: each failure line with the task header before it
    and the message lines after it, without colour codes, at most `limit` lines (the last ones)."""
    plain = [BOX.sub("", ANSI.sub("", line)).rstrip() for line in lines]
    keep: set[int] = set()
    task = -1
    for index, line in enumerate(plain):
        if "TASK [" in line:
            task = index
        if FAILURE.search(line):
            if task >= 0:
                keep.add(task)
            keep.update(range(index, min(index + 6, len(plain))))
    picked = [plain[i][:WIDTH] for i in sorted(keep) if plain[i].strip()]
    return picked[-limit:]


def say(text: str) -> None:
    with PRINT:
        print(text, flush=True)


def run(scenario: str, budget: int, molecule: str) -> Result:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{scenario}.log"
    say(f"=== molecule test -s {scenario} (budget {budget or '?'} s; output in {log.relative_to(ROOT)})")
    start = time.monotonic()
    with log.open("w") as handle:
        env = {"MOLECULE_GLOB": "molecule/*/molecule.yml", **os.environ}  # the scenarios stay in molecule/
        code = subprocess.run([molecule, "test", "-s", scenario], stdout=handle, stderr=subprocess.STDOUT,
                              cwd=ROOT, env=env, check=False).returncode
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace").splitlines()
    shown = text if code else text[-PASSED_TAIL:]
    say("\n".join([f"=== {scenario}: {'passed' if code == 0 else 'FAILED'} in {seconds:.0f} s"
                   + ("" if code == 0 else " - its whole log follows"), *shown, f"=== end of {scenario}"]))
    return Result(scenario, code == 0, seconds, budget)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MOLECULE_JOBS", "2")))
    parser.add_argument("scenario", nargs="*")
    args = parser.parse_args(argv)
    budgets = {str(k): int(v) for k, v in (yaml.safe_load((ROOT / "molecule" / "budgets.yml").read_text()) or {}).items()}
    known = scenarios(ROOT)
    unknown = sorted(set(args.scenario) - set(known))
    if unknown:
        print(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(known)})", file=sys.stderr)
        return 2
    names = order(args.scenario or known, budgets)
    molecule = str(Path(sys.executable).parent / "molecule")
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda name: run(name, budgets.get(name, 0), molecule), names))
    say("molecule:\n" + summary(results, time.monotonic() - start))
    for result in results:
        if not result.passed:
            lines = (LOGS / f"{result.scenario}.log").read_text(errors="replace").splitlines()
            say("\n".join([f"=== why {result.scenario} failed (the end of it; all in .cache/molecule/{result.scenario}.log)",
                            *digest(lines)]))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
