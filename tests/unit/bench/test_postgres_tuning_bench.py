"""The benchmark's bookkeeping: its ratios and targets, and the configurations it compares."""

from __future__ import annotations

import pytest
from bench_loader import load  # tests/unit/bench/bench_loader.py

bench = load("postgres_tuning")

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
    assert role.hugepages == 1118 and stock.hugepages == pgtune.hugepages == 0  # 2 GB of shared_buffers
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


def fake_round(monkeypatch: pytest.MonkeyPatch, number: int, role_hugepages: int = 0) -> tuple[list, list]:
    """Run one round with docker replaced: what it ran, and the measurements in the order taken."""
    calls: list[tuple[str, ...]] = []
    taken: list[tuple[str, str]] = []
    containers = {f"{bench.PREFIX}-{name}": name for name in ("stock", "pgtune", "role")}
    monkeypatch.setattr(bench, "sh", lambda *cmd, **_: calls.append(cmd) or "")
    monkeypatch.setattr(bench, "start", lambda config, volume=None: calls.append(("start", config.volume)))
    monkeypatch.setattr(bench, "set_hugepages", lambda pages: calls.append(("hugepages", str(pages))))
    monkeypatch.setattr(bench, "prewarm_page_cache", lambda container: None)
    monkeypatch.setattr(
        bench, "measure", lambda container, workload, seconds, rows: taken.append((containers[container], workload)) or 1.0
    )
    all_configs = [bench.Config(name, {}) for name in ("stock", "pgtune", "role")]
    all_configs[2].hugepages = role_hugepages
    bench.run_round(all_configs, number, seconds=1, rows=10, record=True, phases=("first", "warm"))
    return calls, taken


def test_every_configuration_starts_from_the_pristine_data(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, _ = fake_round(monkeypatch, 1)
    for name in ("stock", "pgtune", "role"):
        volume = f"{bench.PREFIX}-pgdata-{name}"
        copy = next(index for index, cmd in enumerate(calls) if f"{volume}:/to" in cmd)
        assert f"{bench.PRISTINE}:/from:ro" in calls[copy]
        assert calls.index(("start", volume)) > copy


def test_configurations_take_turns_workload_by_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    _, taken = fake_round(monkeypatch, 1)
    assert taken[:6] == [("pgtune", "sort"), ("role", "sort"), ("stock", "sort")] * 2  # first, then warm
    assert [workload for _, workload in taken[::6]] == list(bench.WORKLOADS)


def test_the_order_rotates_from_round_to_round() -> None:
    configs = [bench.Config(name, {}) for name in ("stock", "pgtune", "role")]
    firsts = [bench.turns(configs, number)[0].name for number in range(6)]
    assert firsts == ["stock", "pgtune", "role"] * 2
    assert all(sorted(c.name for c in bench.turns(configs, n)) == ["pgtune", "role", "stock"] for n in range(3))


def test_only_the_role_finds_huge_pages_reserved(monkeypatch: pytest.MonkeyPatch) -> None:
    # huge_pages=try takes what the pool holds at start-up: stock and PGTune start on an empty pool.
    calls, _ = fake_round(monkeypatch, 0, role_hugepages=1118)
    pool = [cmd for cmd in calls if cmd[0] in ("start", "hugepages")]
    assert pool == [
        ("hugepages", "0"),
        ("start", f"{bench.PREFIX}-pgdata-stock"),
        ("start", f"{bench.PREFIX}-pgdata-pgtune"),
        ("hugepages", "1118"),
        ("start", f"{bench.PREFIX}-pgdata-role"),
    ]


def test_a_short_reservation_stops_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    class StingyKernel:
        """/proc/sys/vm/nr_hugepages on a host whose memory is too fragmented for the request."""

        def write_text(self, text: str) -> None:
            self.asked = int(text)

        def read_text(self) -> str:
            return "100\n"

    monkeypatch.setattr(bench, "NR_HUGEPAGES", StingyKernel())
    with pytest.raises(SystemExit, match="only 100 of 1118 huge pages"):
        bench.set_hugepages(1118)
