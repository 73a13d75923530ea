"""What PGTune does not know about containers.

Takes PGTune's settings (plugin_utils/pgtune.py) and the memory budget, and returns what
the stack needs to run PostgreSQL in a container: the final settings (with the role's documented
departures from PGTune), the container's /dev/shm size and memory limit, the huge pages to
reserve on the host, and a token that changes exactly when PostgreSQL must restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import math
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.memory import KB_PER_MB, format_kb, parse_memory

DEFAULT_HASH_MEM_MULTIPLIER = 2.0  # PostgreSQL 15+ default
MAX_HASH_MEM_MULTIPLIER = 1000.0
SHM_BASE_MB = 64  # small DSM segments every parallel query sets up
SHM_MIN_MB = 128
SHM_STEP_MB = 64
HUGE_PAGE_KB = 2048
HEADROOM_MB = 256  # backends' own memory on top of shared_buffers and /dev/shm


# Settings whose context in pg_settings is user, superuser or sighup, among those the role writes:
# a change is applied to the running server with ALTER SYSTEM and pg_reload_conf(). Any other
# setting (postmaster context, or one this list does not know) goes on the command line and
# restarts the server when it changes.
RELOADABLE_SETTINGS = frozenset((
    "effective_cache_size", "maintenance_work_mem", "checkpoint_completion_target", "default_statistics_target",
    "random_page_cost", "seq_page_cost", "effective_io_concurrency", "maintenance_io_concurrency", "work_mem",
    "hash_mem_multiplier", "min_wal_size", "max_wal_size", "max_parallel_workers_per_gather", "max_parallel_workers",
    "max_parallel_maintenance_workers", "parallel_tuple_cost", "parallel_setup_cost", "jit", "jit_above_cost",
    "jit_inline_above_cost", "jit_optimize_above_cost", "checkpoint_timeout", "wal_compression",
    "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor", "autovacuum_naptime",
    "log_min_duration_statement", "statement_timeout", "idle_in_transaction_session_timeout", "temp_buffers",
    "bgwriter_delay", "bgwriter_lru_maxpages", "bgwriter_lru_multiplier", "cpu_tuple_cost",
))


SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def setting_context(name: str) -> str:
    """'reload' for a setting the running server takes with pg_reload_conf(), else 'postmaster'."""
    return "reload" if name in RELOADABLE_SETTINGS else "postmaster"


class PostgresContainerError(ValueError):
    """Bad input: the message names the argument."""


def round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def apply_work_mem(settings: dict[str, Any], cap_mb: int, hash_multiplier: float) -> dict[str, Any]:
    """Sorts get PGTune's work_mem, lowered to the cap; hash tables get PGTune's work_mem times
    hash_multiplier, whatever the cap (through hash_mem_multiplier)."""
    out = dict(settings)
    pgtune_kb = parse_memory(settings["work_mem"])
    work_mem_kb = min(pgtune_kb, cap_mb * KB_PER_MB) if cap_mb > 0 else pgtune_kb
    out["work_mem"] = format_kb(work_mem_kb)
    multiplier = min(hash_multiplier * pgtune_kb / work_mem_kb, MAX_HASH_MEM_MULTIPLIER)
    if round(multiplier, 1) != DEFAULT_HASH_MEM_MULTIPLIER:
        out["hash_mem_multiplier"] = round(multiplier, 1)
    return out


def apply_maintenance_cap(settings: dict[str, Any], cap_mb: int) -> dict[str, Any]:
    """Lower maintenance_work_mem to the cap (index builds sort in it, like queries in work_mem)."""
    out = dict(settings)
    if cap_mb > 0 and parse_memory(settings["maintenance_work_mem"]) > cap_mb * KB_PER_MB:
        out["maintenance_work_mem"] = format_kb(cap_mb * KB_PER_MB)
    return out


def apply_jit(settings: dict[str, Any], above_cost: int) -> dict[str, Any]:
    """JIT back on where PGTune turned it off, for queries priced above above_cost alone."""
    out = dict(settings)
    if above_cost > 0 and out.get("jit") == "off":
        out["jit"] = "on"
        out["jit_above_cost"] = above_cost
    return out


def hash_memory_kb(settings: dict[str, Any]) -> float:
    multiplier = float(settings.get("hash_mem_multiplier", DEFAULT_HASH_MEM_MULTIPLIER))
    return parse_memory(settings["work_mem"]) * multiplier


def shm_size_mb(settings: dict[str, Any], parallel_queries: int) -> int:
    """/dev/shm for parallel hash joins: each shares a hash table of hash memory per process."""
    processes = int(settings.get("max_parallel_workers_per_gather", 0)) + 1
    if processes == 1:
        return SHM_MIN_MB
    need_mb = SHM_BASE_MB + parallel_queries * processes * hash_memory_kb(settings) / KB_PER_MB
    return max(SHM_MIN_MB, round_up(need_mb, SHM_STEP_MB))


def memory_limit_mb(settings: dict[str, Any], budget_mb: int, shm_mb: int) -> int:
    """The container's limit: the budget, and never less than shared memory, /dev/shm and headroom
    (tmpfs pages count against the container's memory)."""
    shared_mb = parse_memory(settings["shared_buffers"]) / KB_PER_MB
    return max(budget_mb, round_up(shared_mb + shm_mb + HEADROOM_MB, SHM_STEP_MB))


def nr_hugepages(settings: dict[str, Any]) -> int:
    """Huge pages for the main shared memory segment: shared_buffers plus about 6 % and 64 MB."""
    shared_kb = parse_memory(settings["shared_buffers"])
    return int(math.ceil((shared_kb * 1.06 + 64 * KB_PER_MB) / HUGE_PAGE_KB))


def restart_token(postmaster_settings: dict[str, Any], shm_mb: int, limit_mb: int) -> str:
    """Changes exactly when the container must restart: a postmaster setting, /dev/shm or the memory limit."""
    blob = json.dumps({"settings": postmaster_settings, "shm_mb": shm_mb, "limit_mb": limit_mb}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pg_value(value: Any) -> str:
    """A setting's value as postgres -c reads it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def command_args(settings: dict[str, Any]) -> list[str]:
    """postgres -c name=value ... for each setting, in a stable order."""
    args = []
    for name in sorted(settings):
        args += ["-c", f"{name}={pg_value(settings[name])}"]
    return args


def postgres_container(
    pgtune_settings: dict[str, Any],
    budget_mb: int,
    work_mem_cap_mb: int = 0,
    hash_mem_multiplier: float = DEFAULT_HASH_MEM_MULTIPLIER,
    maintenance_work_mem_cap_mb: int = 0,
    parallel_tuple_cost: float = 0,
    jit_above_cost: int = 0,
    parallel_queries: int = 2,
    huge_pages: bool = False,
    extra_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if not isinstance(pgtune_settings, dict) or "shared_buffers" not in pgtune_settings:
        raise PostgresContainerError("the input must be the pgtune filter's settings")
    for name, value in (("budget_mb", budget_mb), ("parallel_queries", parallel_queries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PostgresContainerError(f"{name} must be a whole number of at least 1, got {value!r}")
    for name, value in (
        ("work_mem_cap_mb", work_mem_cap_mb),
        ("maintenance_work_mem_cap_mb", maintenance_work_mem_cap_mb),
        ("jit_above_cost", jit_above_cost),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PostgresContainerError(f"{name} must be 0 or more, got {value!r}")
    if isinstance(hash_mem_multiplier, bool) or not isinstance(hash_mem_multiplier, (int, float)) or not (
        1.0 <= hash_mem_multiplier <= MAX_HASH_MEM_MULTIPLIER
    ):
        raise PostgresContainerError(
            f"hash_mem_multiplier must be 1 to 1000, got {hash_mem_multiplier!r}"
        )
    settings = apply_work_mem(pgtune_settings, work_mem_cap_mb, float(hash_mem_multiplier))
    settings = apply_maintenance_cap(settings, maintenance_work_mem_cap_mb)
    if isinstance(parallel_tuple_cost, bool) or not isinstance(parallel_tuple_cost, (int, float)) or parallel_tuple_cost < 0:
        raise PostgresContainerError(
            f"parallel_tuple_cost must be 0 (PostgreSQL's own) or more, got {parallel_tuple_cost!r}"
        )
    if parallel_tuple_cost > 0:
        settings["parallel_tuple_cost"] = parallel_tuple_cost
    settings = apply_jit(settings, jit_above_cost)
    if huge_pages:
        settings["huge_pages"] = "try"
    bad_names = [name for name in (extra_settings or {}) if not SETTING_NAME.match(str(name))]
    if bad_names:
        raise PostgresContainerError(f"extra_settings names {bad_names} are not PostgreSQL settings")
    settings.update(extra_settings or {})
    shm_mb = shm_size_mb(settings, parallel_queries)
    limit_mb = memory_limit_mb(settings, budget_mb, shm_mb)
    contexts = {name: setting_context(name) for name in sorted(settings)}
    postmaster = {name: value for name, value in settings.items() if contexts[name] == "postmaster"}
    return {
        "settings": settings,
        "contexts": contexts,
        "reload_settings": {name: pg_value(settings[name]) for name in sorted(settings) if contexts[name] == "reload"},
        "shm_size_mb": shm_mb,
        "shm_size": f"{shm_mb}m",
        "memory_limit_mb": limit_mb,
        "memory_limit": f"{limit_mb}m",
        "nr_hugepages": nr_hugepages(settings) if huge_pages else 0,
        "restart_token": restart_token(postmaster, shm_mb, limit_mb),
        "command": ["postgres", *command_args(postmaster)],
    }
