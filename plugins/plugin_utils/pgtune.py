"""PGTune's PostgreSQL settings for a memory budget.

A faithful port of PGTune (le0pard/pgtune, configurationSlice.js at commit 830d3bb) for Linux:
for the same inputs it returns the same settings with the same values. It knows nothing of
containers or of the other services on the host; postgres_container and postgres_tuning add that.
"""

from __future__ import annotations

import math
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.memory import KB_PER_GB, KB_PER_MB, format_kb

WORKLOADS = ("web", "oltp", "dw", "mixed", "desktop")
STORAGES = ("ssd", "hdd", "san", "nvme")
PG_VERSIONS = (13, 14, 15, 16, 17)

DEFAULT_CONNECTIONS = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}
DEFAULT_WORKER_PROCESSES = 8  # PostgreSQL's own default, used by work_mem below 4 CPUs
WAL_SIZES_MB = {  # (min_wal_size, max_wal_size)
    "web": (1024, 4096),
    "oltp": (2048, 8192),
    "dw": (4096, 16384),
    "desktop": (100, 2048),
    "mixed": (1024, 4096),
}
IO_CONCURRENCY = {"hdd": 2, "ssd": 200, "san": 300, "nvme": 1000}
MEMORY_SETTINGS = (
    "shared_buffers",
    "effective_cache_size",
    "maintenance_work_mem",
    "wal_buffers",
    "work_mem",
    "min_wal_size",
    "max_wal_size",
    "autovacuum_work_mem",
)


class PgtuneError(ValueError):
    """Bad input to the pgtune filter: the message names the argument and its allowed values."""


def _whole(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PgtuneError(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PgtuneError(f"{name} must be a whole number, got {value!r}") from None
    if number != float(value):
        raise PgtuneError(f"{name} must be a whole number, got {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        allowed = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise PgtuneError(f"{name} must be {allowed}, got {number}")
    return number


def _choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise PgtuneError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def shared_buffers_kb(memory_kb: int, workload: str) -> int:
    return memory_kb // 16 if workload == "desktop" else memory_kb // 4


def effective_cache_size_kb(memory_kb: int, workload: str) -> int:
    return memory_kb // 4 if workload == "desktop" else memory_kb * 3 // 4


def maintenance_work_mem_kb(memory_kb: int, workload: str) -> int:
    value = memory_kb // 8 if workload == "dw" else memory_kb // 16
    return min(value, 8 * KB_PER_GB)


def wal_buffers_kb(shared_kb: int) -> int:
    value = min(3 * shared_kb // 100, 16 * KB_PER_MB)
    if 14 * KB_PER_MB < value < 16 * KB_PER_MB:
        value = 16 * KB_PER_MB
    return max(value, 32)


def parallel_settings(cpus: int, workload: str) -> dict[str, int]:
    """PGTune's parallel settings (PostgreSQL 11+); none below 4 CPUs."""
    if cpus < 4:
        return {}
    per_gather = math.ceil(cpus / 2)
    if workload != "dw":
        per_gather = min(per_gather, 4)
    return {
        "max_worker_processes": cpus,
        "max_parallel_workers_per_gather": per_gather,
        "max_parallel_workers": cpus,
        "max_parallel_maintenance_workers": min(math.ceil(cpus / 2), 4),
    }


def work_mem_kb(memory_kb: int, shared_kb: int, connections: int, workers: int, workload: str) -> int:
    per_connection = (memory_kb - shared_kb) / ((connections + workers) * 3)
    divisor = {"web": 1, "oltp": 1, "dw": 2, "mixed": 2, "desktop": 6}[workload]
    return max(math.floor(per_connection / divisor), 4 * KB_PER_MB)


def pgtune_kb(
    memory_kb: int,
    cpus: int = 0,
    max_connections: int | None = None,
    workload: str = "web",
    storage: str = "ssd",
    pg_version: int = 17,
) -> dict[str, Any]:
    """PGTune's settings with memory values in kB (ints), after validation."""
    connections = max_connections or DEFAULT_CONNECTIONS[workload]
    shared = shared_buffers_kb(memory_kb, workload)
    maintenance = maintenance_work_mem_kb(memory_kb, workload)
    parallel = parallel_settings(cpus, workload)
    workers = parallel.get("max_worker_processes", DEFAULT_WORKER_PROCESSES)
    min_wal_mb, max_wal_mb = WAL_SIZES_MB[workload]

    settings: dict[str, Any] = {
        "max_connections": connections,
        "shared_buffers": shared,
        "effective_cache_size": effective_cache_size_kb(memory_kb, workload),
        "maintenance_work_mem": maintenance,
        "checkpoint_completion_target": 0.9,
        "wal_buffers": wal_buffers_kb(shared),
        "default_statistics_target": 500 if workload == "dw" else 100,
        "random_page_cost": 4 if storage == "hdd" or workload == "dw" else 1.1,
        "effective_io_concurrency": IO_CONCURRENCY[storage],
        "work_mem": work_mem_kb(memory_kb, shared, connections, workers, workload),
        "huge_pages": "try" if shared >= 2 * KB_PER_GB else "off",
        "wal_compression": "lz4" if pg_version >= 15 else "on",
        "min_wal_size": min_wal_mb * KB_PER_MB,
        "max_wal_size": max_wal_mb * KB_PER_MB,
    }
    if workload in ("web", "oltp", "mixed"):
        settings["jit"] = "off"
    if cpus >= 32:
        settings["autovacuum_max_workers"] = 5
    elif cpus >= 16:
        settings["autovacuum_max_workers"] = 4
    if maintenance >= 2 * KB_PER_GB:
        settings["autovacuum_work_mem"] = 2 * KB_PER_GB
    settings.update(parallel)
    if workload == "desktop":
        settings["wal_level"] = "minimal"
        settings["max_wal_senders"] = 0
    return settings


def validate(
    memory_mb: Any,
    cpus: Any = 0,
    max_connections: Any = None,
    workload: Any = "web",
    storage: Any = "ssd",
    pg_version: Any = 17,
) -> dict[str, Any]:
    """Checks every input and returns them normalised; raises PgtuneError naming the bad one."""
    return {
        "memory_kb": _whole("memory (MB)", memory_mb, 1) * KB_PER_MB,
        "cpus": _whole("cpus", cpus, 0, 1024),
        "max_connections": None if max_connections in (None, "") else _whole("max_connections", max_connections, 1, 262143),
        "workload": _choice("workload", workload, WORKLOADS),
        "storage": _choice("storage", storage, STORAGES),
        "pg_version": _choice("pg_version", _whole("pg_version", pg_version, 0), PG_VERSIONS),
    }


def pgtune(memory_mb: Any, **kwargs: Any) -> dict[str, Any]:
    """The filter: PGTune's settings for memory_mb, memory values formatted for PostgreSQL."""
    unknown = set(kwargs) - {"cpus", "max_connections", "workload", "storage", "pg_version"}
    if unknown:
        raise PgtuneError(f"unknown argument(s) {', '.join(sorted(unknown))}")
    settings = pgtune_kb(**validate(memory_mb, **kwargs))
    return {k: format_kb(v) if k in MEMORY_SETTINGS else v for k, v in settings.items()}
