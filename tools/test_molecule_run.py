"""tools/molecule_run.py: the order the scenarios start in, and the summary."""

from __future__ import annotations

from pathlib import Path

import molecule_run as M


def test_the_longest_scenario_starts_first_and_an_unbudgeted_one_before_it() -> None:
    budgets = {"stack": 1000, "docker": 100, "default": 800}
    assert M.order(["docker", "new", "stack", "default"], budgets) == ["new", "stack", "default", "docker"]


def test_the_summary_names_failures_and_overruns() -> None:
    text = M.summary([M.Result("stack", True, 1100, 1000), M.Result("docker", False, 90, 100)], 1200)
    lines = text.splitlines()
    assert lines[1].split() == ["docker", "90", "100", "FAILED"]
    assert lines[2].endswith("passed, 100 s over budget")
    assert lines[-1] == "1 passed, 1 failed; 1190 s of scenarios in 1200 s"


def test_every_scenario_has_a_budget_and_every_budget_a_scenario() -> None:
    import yaml

    root = Path(__file__).resolve().parents[1]
    budgets = yaml.safe_load((root / "molecule" / "budgets.yml").read_text())
    assert sorted(budgets) == M.scenarios(root)
