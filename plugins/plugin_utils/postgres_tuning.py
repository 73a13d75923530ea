"""The postgres_tuning role's one plan: its inputs checked, the budget derived, PGTune's settings
computed and the container sized around them, and the final result checked against the host.

postgres_tuning_plan() is pure: the role hands it its variables (without the postgres_tuning_
prefix) and the host's memory and CPUs, and gets back the problems (each naming the variable to
fix; empty when the inputs make a tuning), the kernel settings to write and the one fact the role
publishes for the stack. The role's tasks assert there is no problem and write what it lists.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.memory import KB_PER_MB, MEMORY_VALUE, parse_memory
from ansible_collections.antone.infra.plugins.plugin_utils.pgtune import PG_VERSIONS, STORAGES, WORKLOADS, pgtune
from ansible_collections.antone.infra.plugins.plugin_utils.postgres_container import (
    HUGE_PAGE_KB,
    SETTING_NAME,
    postgres_container,
)

PREFIX = "postgres_tuning_"
MIN_BUDGET_MB = 256
BUDGET_STEP_MB = 256
MB_PER_CONNECTION = 12  # PGTune's work_mem reaches its 4 MB floor about here
DEFAULT_WORKER_PROCESSES = 8
# Settings PostgreSQL reads as memory: written with a unit here, since a bare number is read in the
# setting's own unit (8 kB pages for shared_buffers), a trap a unit makes impossible.
MEMORY_SETTINGS = frozenset((
    "shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem", "wal_buffers", "min_wal_size",
    "max_wal_size", "temp_buffers", "autovacuum_work_mem", "logical_decoding_work_mem",
))
AUTO_MEMORY_SETTINGS = frozenset(("wal_buffers", "autovacuum_work_mem"))  # -1: PostgreSQL sizes it
SETTING_VALUE = re.compile(r"^[^\x00-\x1f']*$")

DEFAULTS: dict[str, Any] = {
    "memory_mb": 0, "memory_fraction": 0.375, "memory_min_mb": 256, "memory_max_mb": 16384, "reserve_percent": 25,
    "workload": "web", "storage": "ssd", "max_connections": 100, "cpus": 0, "pg_version": 17,
    "work_mem_cap_mb": 0, "maintenance_work_mem_cap_mb": 128, "parallel_tuple_cost": 0.05, "jit_above_cost": 500000,
    "hash_mem_multiplier": 8.0, "parallel_queries": 2, "huge_pages": True, "swappiness": 10, "extra_settings": {},
}


def whole(inputs: dict[str, Any], key: str, minimum: int, maximum: int | None, problems: list[str]) -> int:
    """inputs[key] as a whole number within bounds; a problem naming the variable otherwise."""
    value = inputs.get(key, DEFAULTS[key])
    allowed = f"{minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if isinstance(value, bool) or number is None or (maximum is not None and number > maximum) or number < minimum:
        problems.append(f"{PREFIX}{key} must be a whole number, {allowed}; got {value!r}")
        return max(minimum, 1)
    return number


def decimal(inputs: dict[str, Any], key: str, minimum: float, maximum: float, problems: list[str],
            open_low: bool = False) -> float:
    value = inputs.get(key, DEFAULTS[key])
    try:
        number = float(str(value).strip())
    except ValueError:
        number = None
    if isinstance(value, bool) or number is None or math.isnan(number) or number > maximum or number < minimum or (
        open_low and number == minimum
    ):
        low = f"above {minimum:g}" if open_low else f"{minimum:g}"
        problems.append(f"{PREFIX}{key} must be a number from {low} to {maximum:g}; got {value!r}")
        return maximum if open_low else minimum
    return number


def choice(inputs: dict[str, Any], key: str, choices: tuple, problems: list[str]) -> Any:
    value = inputs.get(key, DEFAULTS[key])
    for option in choices:
        if str(value) == str(option):
            return option
    problems.append(f"{PREFIX}{key} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return choices[0]


def flag(inputs: dict[str, Any], key: str, problems: list[str]) -> bool:
    value = inputs.get(key, DEFAULTS[key])
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "on", "1"):
        return True
    if str(value).lower() in ("false", "no", "off", "0"):
        return False
    problems.append(f"{PREFIX}{key} must be true or false; got {value!r}")
    return False


def extra_setting_problems(extra: Any) -> list[str]:
    """Names that are PostgreSQL identifiers, plain values, and memory settings with a unit."""
    if not isinstance(extra, dict):
        return [f"{PREFIX}extra_settings must be a mapping of setting names to values"]
    problems = []
    for name, value in extra.items():
        where = f"{PREFIX}extra_settings.{name}"
        if not SETTING_NAME.match(str(name)):
            problems.append(f"{where}: not a PostgreSQL setting name (lower case letters, digits and _)")
        elif isinstance(value, (dict, list)) or value is None:
            problems.append(f"{where}: the value must be text, a number or a boolean")
        elif not SETTING_VALUE.match(str(value)):
            problems.append(f"{where}: the value may hold no quote and no control character")
        elif name in MEMORY_SETTINGS and not MEMORY_VALUE.match(str(value).strip()) and not (
            name in AUTO_MEMORY_SETTINGS and str(value).strip() == "-1"
        ):
            problems.append(f"{where}: a memory setting takes a whole number and a unit (kB, MB, GB or TB), "
                            f"for example 512MB; got {value!r}")
    return problems


def derive_budget(memory_mb: int, host_mb: int, fraction: float, minimum: int, maximum: int) -> int:
    """The inventory's budget, or the host's memory times fraction in 256 MB steps, within the bounds."""
    if memory_mb:
        return memory_mb
    return min(max(int(host_mb * fraction) // BUDGET_STEP_MB * BUDGET_STEP_MB, minimum), maximum)


def connections_max(budget_mb: int, cpus: int, workload: str) -> int:
    """The most connections a budget serves before PGTune's work_mem hits its floor."""
    workers = cpus if cpus >= 4 else DEFAULT_WORKER_PROCESSES
    shared_mb = budget_mb / (16 if workload == "desktop" else 4)
    return int((budget_mb - shared_mb) / MB_PER_CONNECTION) - workers


def result_problems(container: dict[str, Any], budget_mb: int, usable_mb: int, host_mb: int) -> list[str]:
    """The computed shared memory, huge pages and container limit against the budget and the host."""
    problems = []
    shared_mb = parse_memory(container["settings"]["shared_buffers"]) // KB_PER_MB
    if shared_mb > budget_mb:
        problems.append(f"{PREFIX}extra_settings: shared_buffers {container['settings']['shared_buffers']} is more "
                        f"than the budget of {budget_mb} MB; raise {PREFIX}memory_mb or lower shared_buffers")
    if container["memory_limit_mb"] > usable_mb:
        problems.append(f"{PREFIX}memory_mb: the container would need {container['memory_limit_mb']} MB (shared_buffers, "
                        f"/dev/shm and headroom), more than the {usable_mb} MB this host's {host_mb} MB leave "
                        f"after {PREFIX}reserve_percent")
    huge_mb = container["nr_hugepages"] * HUGE_PAGE_KB // KB_PER_MB
    if huge_mb > usable_mb:
        problems.append(f"{PREFIX}huge_pages: {container['nr_hugepages']} huge pages ({huge_mb} MB) would be "
                        f"reserved, more than the {usable_mb} MB this host can give")
    return problems


def postgres_tuning_plan(inputs: dict[str, Any], host_memory_mb: Any, host_cpus: Any) -> dict[str, Any]:
    """Everything the postgres_tuning role does, from its variables and the host's facts."""
    if not isinstance(inputs, dict):
        raise TypeError("the input must be a mapping of the role's variables, without the postgres_tuning_ prefix")
    problems: list[str] = []
    unknown = sorted(set(inputs) - set(DEFAULTS))
    if unknown:
        problems.append(f"unknown postgres_tuning inputs {unknown}")
    host_mb = int(host_memory_mb)
    memory_mb = whole(inputs, "memory_mb", 0, None, problems)
    fraction = decimal(inputs, "memory_fraction", 0, 1, problems, open_low=True)
    minimum = whole(inputs, "memory_min_mb", MIN_BUDGET_MB, None, problems)
    maximum = whole(inputs, "memory_max_mb", MIN_BUDGET_MB, None, problems)
    if minimum > maximum:
        problems.append(f"{PREFIX}memory_min_mb ({minimum}) must be at most {PREFIX}memory_max_mb ({maximum})")
    reserve = whole(inputs, "reserve_percent", 0, 99, problems)
    settings = {
        "workload": choice(inputs, "workload", WORKLOADS, problems),
        "storage": choice(inputs, "storage", STORAGES, problems),
        "max_connections": whole(inputs, "max_connections", 1, 262143, problems),
        "pg_version": choice(inputs, "pg_version", PG_VERSIONS, problems),
    }
    cpus = whole(inputs, "cpus", 0, 1024, problems) or int(host_cpus)
    container_inputs = {
        "work_mem_cap_mb": whole(inputs, "work_mem_cap_mb", 0, None, problems),
        "maintenance_work_mem_cap_mb": whole(inputs, "maintenance_work_mem_cap_mb", 0, None, problems),
        "parallel_tuple_cost": decimal(inputs, "parallel_tuple_cost", 0, 1000, problems),
        "jit_above_cost": whole(inputs, "jit_above_cost", 0, None, problems),
        "hash_mem_multiplier": decimal(inputs, "hash_mem_multiplier", 1, 1000, problems),
        "parallel_queries": whole(inputs, "parallel_queries", 1, 1024, problems),
        "huge_pages": flag(inputs, "huge_pages", problems),
        "extra_settings": inputs.get("extra_settings") or {},
    }
    swappiness = whole(inputs, "swappiness", 0, 200, problems)
    problems += extra_setting_problems(container_inputs["extra_settings"])
    budget_mb = derive_budget(memory_mb, host_mb, fraction, minimum, maximum)
    usable_mb = host_mb * (100 - reserve) // 100
    plan: dict[str, Any] = {"budget_mb": budget_mb, "host_memory_mb": host_mb, "usable_mb": usable_mb, "cpus": cpus}
    if not problems and not MIN_BUDGET_MB <= budget_mb <= usable_mb:
        problems.append(f"{PREFIX}memory_mb={budget_mb} does not fit this host: allowed is {MIN_BUDGET_MB} to "
                        f"{usable_mb} MB ({100 - reserve} % of its {host_mb} MB; {PREFIX}reserve_percent={reserve} "
                        "keeps the rest for the OS and the other services)")
    if not problems and settings["max_connections"] > connections_max(budget_mb, cpus, settings["workload"]):
        problems.append(f"{PREFIX}max_connections={settings['max_connections']} is more than a {budget_mb} MB budget "
                        f"can serve: allowed is 1 to {max(connections_max(budget_mb, cpus, settings['workload']), 0)} "
                        f"(each connection needs about {MB_PER_CONNECTION} MB beside shared_buffers). Raise "
                        f"{PREFIX}memory_mb or put a connection pooler in front.")
    if problems:
        return {**plan, "problems": problems, "fact": {}, "sysctl": []}
    container = postgres_container(pgtune(budget_mb, cpus=cpus, **settings), budget_mb=budget_mb, **container_inputs)
    problems = result_problems(container, budget_mb, usable_mb, host_mb)
    if problems:
        return {**plan, "problems": problems, "fact": {}, "sysctl": []}
    huge_pages = container_inputs["huge_pages"]
    return {
        **plan,
        "problems": [],
        "fact": {
            "budget_mb": budget_mb,
            "settings": container["settings"],
            "contexts": container["contexts"],
            "reload_settings": container["reload_settings"],
            "command": container["command"],
            "shm_size": container["shm_size"],
            "memory_limit": container["memory_limit"],
            "nr_hugepages": container["nr_hugepages"],
            "huge_pages": huge_pages,
            "restart_token": container["restart_token"],
        },
        "sysctl": [
            {"name": "vm.swappiness", "value": str(swappiness), "state": "present"},
            {"name": "vm.nr_hugepages", "value": str(container["nr_hugepages"]),
             "state": "present" if huge_pages else "absent"},
        ],
    }
