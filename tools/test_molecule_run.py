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


def test_the_digest_keeps_the_failed_task_and_its_message_without_colours() -> None:
    log = [
        "\x1b[36mINFO    \x1b[0m stack \u279c converge: Executing",
        "  \u2502 TASK [antone.infra.stack : Wait for the stack] ***",
        "  \u2502 ok: [instance]",
        "  \u2502 TASK [Check the row survived] ***",
        "  \u2502 \x1b[31mfatal: [instance]: FAILED! => {\"msg\": \"row lost\"}\x1b[0m",
        "",
        "  \u2502 PLAY RECAP ***",
        "  \u2502 instance : ok=3 changed=0 unreachable=0 failed=1",
    ]
    lines = M.digest(log)
    assert lines[0] == "TASK [Check the row survived] ***"
    assert 'fatal: [instance]: FAILED! => {"msg": "row lost"}' in lines
    assert not any("\x1b" in line or "Wait for the stack" in line for line in lines)


def test_the_digest_keeps_only_the_last_lines() -> None:
    log = [f"fatal: [h]: FAILED! number {n}" for n in range(100)]
    assert M.digest(log, limit=5)[-1].endswith("number 99")
    assert len(M.digest(log, limit=5)) == 5
