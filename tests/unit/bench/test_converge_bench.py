"""The converge benchmark's bookkeeping: profile_tasks' lines read back, the extra services valid for
the stack role, the benchmark's own inventory."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.antone.infra.plugins.plugin_utils.compose import stack_problems
from bench_loader import load  # tests/unit/bench/bench_loader.py

bench = load("converge")


def test_the_slowest_tasks_are_read_from_profile_tasks() -> None:
    output = """PLAY RECAP ***
antone-bench : ok=3 changed=0
===============================================================================
antone.infra.stack : Write the env files and secret files --------------- 9.25s
antone.infra.docker : Install the engine -------------------------------- 1.89s
Gathering Facts --------------------------------------------------------- 12.10s
"""
    assert bench.slowest(output, 2) == [("Gathering Facts", 12.10),
                                        ("antone.infra.stack : Write the env files and secret files", 9.25)]


def test_the_extra_services_are_a_valid_stack() -> None:
    services = bench.extra_services(15)
    assert len(services) == 15
    assert stack_problems(services) == []
    assert len({s["environment"]["PORT"] for s in services.values()}) == 15


def test_the_inventory_uses_the_sandbox_group_vars(tmp_path: Path) -> None:
    hosts = bench.inventory(tmp_path)
    assert "antone-bench" in hosts.read_text()
    assert (tmp_path / "group_vars").resolve() == (bench.ROOT / "inventories" / "sandbox" / "group_vars").resolve()


def test_the_tasks_a_re_run_changed_are_named() -> None:
    output = "TASK [antone.infra.base : Set the timezone] ***\nok: [h]\n\nTASK [antone.infra.docker : Write x] ***\n" \
             "changed: [h]\n\nRUNNING HANDLER [antone.infra.docker : Restart docker] ***\nchanged: [h]\n"
    assert bench.changed_tasks(output) == ["antone.infra.docker : Write x", "antone.infra.docker : Restart docker"]


def test_a_repeated_run_counts_its_median_and_any_change() -> None:
    runs = [(21.0, 0, "slow"), (15.0, 0, "fast"), (16.0, 1, "middle")]
    assert bench.median_run(runs) == (16.0, 1, "middle")
    assert bench.median_run(runs[:2]) == (18.0, 0, "slow")
