"""Unit tests for PGTune's port (plugin_utils/pgtune.py, the pgtune filter): PGTune parity on its own output, properties, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.memory import KB_PER_MB, format_kb, parse_memory
from ansible_collections.antone.infra.plugins.plugin_utils.pgtune import (
    MEMORY_SETTINGS,
    PgtuneError,
    pgtune,
    pgtune_kb,
)

FIXTURES = json.loads((Path(__file__).parent / "pgtune_fixtures.json").read_text())


def as_fixture(settings: dict) -> dict:
    """Our filter output in the fixture's form: memory settings as <name>_kb integers."""
    out = {}
    for name, value in settings.items():
        if name in MEMORY_SETTINGS:
            out[f"{name}_kb"] = parse_memory(value)
        elif name == "max_wal_senders":
            out[name] = str(value)  # PGTune prints this one setting as a string
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("case", FIXTURES, ids=lambda c: "-".join(str(v) for v in c["input"].values()))
def test_matches_pgtune_exactly(case: dict) -> None:
    given = case["input"]
    kwargs = {
        "cpus": given["cpuNum"],
        "workload": given["dbType"],
        "storage": given["hdType"],
        "pg_version": given["dbVersion"],
    }
    if "connectionNum" in given:
        kwargs["max_connections"] = given["connectionNum"]
    result = pgtune(given["totalMemory"] * 1024, **kwargs)
    assert as_fixture(result) == case["output"]


def test_the_user_host_example() -> None:
    settings = pgtune(16384, cpus=6, max_connections=100, workload="web", storage="ssd", pg_version=17)
    assert settings["shared_buffers"] == "4GB"
    assert settings["work_mem"] == "39568kB"
    assert settings["checkpoint_completion_target"] == 0.9
    assert settings["huge_pages"] == "try"


@pytest.mark.parametrize(("kb", "text"), [(4194304, "4GB"), (524288, "512MB"), (39568, "39568kB"), (32, "32kB")])
def test_format_and_parse_round_trip(kb: int, text: str) -> None:
    assert format_kb(kb) == text
    assert parse_memory(text) == kb


MEMORIES_MB = [256, 512, 1024, 2048, 3000, 4096, 8192, 12288, 16384, 24576, 32768, 65536, 131072, 262144]
GRID = list(itertools.product(("web", "oltp", "dw", "mixed", "desktop"), (1, 2, 4, 6, 16, 32), (None, 20, 100, 500)))


@pytest.mark.parametrize(("workload", "cpus", "connections"), GRID)
def test_settings_grow_with_memory(workload: str, cpus: int, connections: int | None) -> None:
    previous = None
    for memory_mb in MEMORIES_MB:
        current = pgtune_kb(memory_mb * KB_PER_MB, cpus=cpus, max_connections=connections, workload=workload)
        if previous is not None:
            for name in ("shared_buffers", "effective_cache_size", "maintenance_work_mem", "wal_buffers", "work_mem"):
                assert current[name] >= previous[name], (name, memory_mb)
        previous = current


@pytest.mark.parametrize(("workload", "cpus", "connections"), GRID)
def test_bounds_hold_everywhere(workload: str, cpus: int, connections: int | None) -> None:
    for memory_mb in MEMORIES_MB:
        settings = pgtune_kb(memory_mb * KB_PER_MB, cpus=cpus, max_connections=connections, workload=workload)
        assert settings["work_mem"] >= 4 * KB_PER_MB
        assert 32 <= settings["wal_buffers"] <= 16 * KB_PER_MB
        assert settings["maintenance_work_mem"] <= 8 * 1024 * KB_PER_MB
        assert settings["shared_buffers"] < memory_mb * KB_PER_MB
        parallel = {k for k in settings if "parallel" in k or k == "max_worker_processes"}
        assert (parallel == set()) == (cpus < 4)


def test_every_value_is_postgresql_syntax() -> None:
    settings = pgtune(3000, cpus=6, workload="mixed", storage="hdd", pg_version=13)
    for name in MEMORY_SETTINGS:
        if name in settings:
            assert parse_memory(settings[name]) > 0
    assert settings["wal_compression"] == "on"


@pytest.mark.parametrize(
    ("memory", "kwargs", "message"),
    [
        (0, {}, "memory (MB) must be at least 1"),
        (-512, {}, "memory (MB) must be at least 1"),
        ("lots", {}, "memory (MB) must be a whole number"),
        (1.5, {}, "memory (MB) must be a whole number"),
        (True, {}, "memory (MB) must be a whole number"),
        (4096, {"cpus": -1}, "cpus must be 0 to 1024"),
        (4096, {"max_connections": 0}, "max_connections must be 1 to 262143"),
        (4096, {"workload": "olap"}, "workload must be one of web, oltp, dw, mixed, desktop"),
        (4096, {"storage": "tape"}, "storage must be one of ssd, hdd, san, nvme"),
        (4096, {"pg_version": 12}, "pg_version must be one of 13, 14, 15, 16, 17"),
        (4096, {"cpu": 4}, "unknown argument(s) cpu"),
    ],
)
def test_bad_input_raises_a_clear_error(memory: object, kwargs: dict, message: str) -> None:
    with pytest.raises(PgtuneError) as error:
        pgtune(memory, **kwargs)
    assert message in str(error.value)


def test_the_ansible_filter_raises_ansible_errors() -> None:
    from ansible.errors import AnsibleFilterError

    from ansible_collections.antone.infra.plugins.filter.pgtune import FilterModule

    with pytest.raises(AnsibleFilterError, match="^antone.infra.pgtune: workload must be one of"):
        FilterModule().filters()["pgtune"](4096, workload="olap")
