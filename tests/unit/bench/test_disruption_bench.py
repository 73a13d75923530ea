"""The disruption benchmark's bookkeeping: one change per run, and the targets in its table."""

from __future__ import annotations

from bench_loader import load  # tests/unit/bench/bench_loader.py

bench = load("disruption")


def test_each_change_changes_one_thing_against_the_state_before() -> None:
    state = dict(bench.BASELINE)
    for change in bench.changes()[1:]:
        new = bench.merge(state, change.extra)
        assert len([k for k in new if new[k] != state.get(k)]) <= 1, change.name
        state = new


def test_the_zero_targets_are_the_issues_three_and_the_no_op() -> None:
    assert [c.name for c in bench.changes() if c.target_zero] == [
        "nothing changed (re-run)", "reloadable setting (random_page_cost)", "worker environment",
        "secret the API does not read (worker's)"]


def test_the_table_marks_a_missed_target() -> None:
    row = {"change": "worker environment", "seconds": 30.0, "changed": "2", "touched": ["backend-worker"],
           "failed": 1, "requests": 300, "down": {"backend-worker": 4.1}, "target_zero": True,
           "changed_service": "backend-worker"}
    assert "[TARGET MISSED]" in bench.table([row])
    assert "[target met]" in bench.table([{**row, "failed": 0}])  # the worker's own restart is not downtime
    assert "[TARGET MISSED]" in bench.table([{**row, "failed": 0, "down": {"backend-api": 0.5}}])
