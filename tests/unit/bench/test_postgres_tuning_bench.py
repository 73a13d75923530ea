"""The benchmark's bookkeeping: its ratios and targets, and the configurations it compares."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[3] / "bench" / "postgres_tuning" / "run.py"
spec = importlib.util.spec_from_file_location("bench_postgres_tuning_run", RUN)
assert spec and spec.loader
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench
spec.loader.exec_module(bench)

WORKLOADS = ("sort", "hash_agg", "index", "pgbench_ro", "pgbench_rw")


def configs_with(role: dict[str, float], pgtune: float = 1.0) -> list:
    """Stock at 10 s / 1000 tps; PGTune and the role at the given speed-ups (above 1 is faster)."""

    def results(speedup: dict[str, float]) -> dict[str, list[float]]:
        out = {}
        for workload in WORKLOADS:
            factor = speedup.get(workload, 1.0)
            value = 1000 * factor if workload in bench.HIGHER_IS_BETTER else 10 / factor
            out[f"first/{workload}"] = [value] * 5
        return out

    return [
        bench.Config("stock", {}, results=results({})),
        bench.Config("pgtune", {}, results=results({w: pgtune for w in WORKLOADS})),
        bench.Config("role", {}, results=results(role)),
    ]


def test_all_targets_met() -> None:
    role = {"sort": 1.1, "hash_agg": 1.6, "index": 1.1, "pgbench_ro": 1.1, "pgbench_rw": 1.1}
    assert bench.report(configs_with(role), "first") is True


@pytest.mark.parametrize(
    ("role", "pgtune", "missed"),
    [
        ({"sort": 1.3, "hash_agg": 1.49, "index": 1.3, "pgbench_ro": 1.3, "pgbench_rw": 1.3}, 1.0, "hash aggregate"),
        ({"sort": 0.94, "hash_agg": 2.0, "index": 1.2, "pgbench_ro": 1.2, "pgbench_rw": 1.2}, 1.0, "below 0.95x"),
        ({"sort": 1.0, "hash_agg": 1.5, "index": 1.0, "pgbench_ro": 1.0, "pgbench_rw": 1.0}, 1.0, "at least 1.15x"),
        ({"sort": 1.2, "hash_agg": 1.5, "index": 1.2, "pgbench_ro": 1.2, "pgbench_rw": 1.2}, 1.3, "PGTune's"),
    ],
)
def test_each_target_can_be_missed(role: dict, pgtune: float, missed: str, capsys: pytest.CaptureFixture) -> None:
    assert bench.report(configs_with(role, pgtune), "first") is False
    missed_lines = [line for line in capsys.readouterr().out.splitlines() if "MISSED" in line]
    assert len(missed_lines) == 1 and missed in missed_lines[0]


def test_throughput_ratio_is_not_inverted(capsys: pytest.CaptureFixture) -> None:
    bench.report(configs_with({"pgbench_ro": 2.0}), "first")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("first/pgbench_ro   role"))
    assert line.endswith("2.00x")


def test_hash_query_reads_the_inner_aggregate() -> None:
    # An inner sum nobody reads is dropped by the planner, and the query stops being an aggregate.
    query = bench.QUERIES["hash_agg"]
    assert "sum(abalance) AS total" in query and query.startswith("SELECT count(*), sum(total)")


def test_role_config_applies_the_departures() -> None:
    stock, pgtune, role = bench.configs(8192, 6)
    assert stock.settings == {}
    assert "hash_mem_multiplier" not in pgtune.settings
    assert role.settings["hash_mem_multiplier"] == 8.0
    assert role.settings["maintenance_work_mem"] == "128MB"
    assert pgtune.settings["jit"] == "off" and "jit_above_cost" not in pgtune.settings
    assert role.settings["jit"] == "on" and role.settings["jit_above_cost"] == 500000
    assert stock.memory == pgtune.memory == role.memory


@pytest.mark.parametrize(
    ("output", "seconds"),
    [
        ("Timing is on.\n1000001|0\nTime: 3012.246 ms (00:03.012)", 3.012246),
        ("Timing is on.\nCREATE INDEX\nTime: 13183.537 ms (00:13.184)", 13.183537),
        ("Timing is on.\nTime: 0.412 ms", 0.000412),
    ],
)
def test_query_time_is_read_from_psql(output: str, seconds: float) -> None:
    assert bench.psql_seconds(output) == pytest.approx(seconds)


def test_missing_timing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no timing"):
        bench.psql_seconds("Timing is on.\n1000001|0")


def test_every_configuration_starts_from_the_pristine_data(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(bench, "sh", lambda *cmd, **_: calls.append(cmd) or "")
    monkeypatch.setattr(bench, "start", lambda config, volume=bench.VOLUME: calls.append(("start", volume)))
    monkeypatch.setattr(bench, "prewarm_page_cache", lambda: None)
    monkeypatch.setattr(bench, "timed_query", lambda sql: 1.0)
    monkeypatch.setattr(bench, "pgbench", lambda seconds, read_only: 100.0)
    monkeypatch.setattr(bench, "psql", lambda *commands: "")
    bench.run_round(bench.Config("role", {}), seconds=1, rows=10, record=False, phases=("first",))
    copy = next(index for index, cmd in enumerate(calls) if f"{bench.PRISTINE}:/from:ro" in cmd)
    assert f"{bench.VOLUME}:/to" in calls[copy]
    assert calls.index(("start", bench.VOLUME)) > copy
