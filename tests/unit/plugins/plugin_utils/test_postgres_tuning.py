"""The postgres_tuning role's one plan: the same inputs give the same plan, every problem names the
variable to fix, and nothing is computed past a problem."""

from __future__ import annotations

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.postgres_tuning import (
    DEFAULTS,
    postgres_tuning_plan,
)

USER_HOST = {"host_memory_mb": 32768, "host_cpus": 6}  # the user's i5, 32 GB


def plan(host: dict | None = None, **inputs: object) -> dict:
    return postgres_tuning_plan(inputs, **(host or USER_HOST))


def test_the_same_inputs_give_the_same_plan() -> None:
    assert plan(memory_mb=12288) == plan(memory_mb=12288)
    assert plan() == postgres_tuning_plan(dict(DEFAULTS), **USER_HOST)


def test_the_users_host_gets_12_gb_and_one_fact() -> None:
    result = plan()
    assert result["problems"] == []
    assert result["budget_mb"] == 12288 and result["cpus"] == 6 and result["usable_mb"] == 24576
    fact = result["fact"]
    assert set(fact) == {"budget_mb", "settings", "contexts", "reload_settings", "command", "shm_size",
                         "memory_limit", "nr_hugepages", "huge_pages", "restart_token"}
    assert fact["settings"]["shared_buffers"] == "3GB"
    assert "-c" in fact["command"] and not any(a.startswith("work_mem=") for a in fact["command"])
    assert fact["reload_settings"]["random_page_cost"] == "1.1"
    assert result["sysctl"] == [
        {"name": "vm.swappiness", "value": "10", "state": "present"},
        {"name": "vm.nr_hugepages", "value": str(fact["nr_hugepages"]), "state": "present"},
    ]


def test_numbers_given_as_text_by_an_inventory_are_read() -> None:
    assert plan(memory_mb="8192", cpus="4", huge_pages="false")["fact"] == plan(memory_mb=8192, cpus=4,
                                                                                huge_pages=False)["fact"]


def test_without_huge_pages_the_sysctl_is_removed() -> None:
    assert plan(huge_pages=False)["sysctl"][1]["state"] == "absent"


@pytest.mark.parametrize("inputs, variable", [
    ({"memory_mb": -1}, "postgres_tuning_memory_mb must be a whole number"),
    ({"memory_mb": "lots"}, "postgres_tuning_memory_mb must be a whole number"),
    ({"memory_mb": True}, "postgres_tuning_memory_mb must be a whole number"),
    ({"memory_fraction": 0}, "postgres_tuning_memory_fraction"),
    ({"memory_fraction": 1.5}, "postgres_tuning_memory_fraction"),
    ({"memory_min_mb": 8192, "memory_max_mb": 4096}, "postgres_tuning_memory_min_mb (8192) must be at most"),
    ({"reserve_percent": 100}, "postgres_tuning_reserve_percent"),
    ({"workload": "olap"}, "postgres_tuning_workload must be one of"),
    ({"storage": "tape"}, "postgres_tuning_storage must be one of"),
    ({"pg_version": 12}, "postgres_tuning_pg_version must be one of"),
    ({"max_connections": 0}, "postgres_tuning_max_connections"),
    ({"cpus": -2}, "postgres_tuning_cpus"),
    ({"hash_mem_multiplier": 0.5}, "postgres_tuning_hash_mem_multiplier must be a number from 1 to 1000"),
    ({"parallel_queries": 0}, "postgres_tuning_parallel_queries"),
    ({"huge_pages": "maybe"}, "postgres_tuning_huge_pages must be true or false"),
    ({"swappiness": 300}, "postgres_tuning_swappiness"),
    ({"memory_mb": 1048576}, "postgres_tuning_memory_mb=1048576 does not fit this host: allowed is 256 to 24576"),
    ({"memory_mb": 128}, "postgres_tuning_memory_mb=128 does not fit this host"),
    ({"memory_mb": 1024, "max_connections": 5000}, "postgres_tuning_max_connections=5000 is more than a 1024 MB"),
    ({"extra_settings": {"Shared-Buffers": "1GB"}}, "postgres_tuning_extra_settings.Shared-Buffers: not a PostgreSQL"),
    ({"extra_settings": {"work_mem": 4096}}, "postgres_tuning_extra_settings.work_mem: a memory setting takes"),
    ({"extra_settings": {"shared_buffers": "4gb"}}, "postgres_tuning_extra_settings.shared_buffers: a memory"),
    ({"extra_settings": {"search_path": "a'; DROP"}}, "postgres_tuning_extra_settings.search_path: the value may"),
    ({"extra_settings": {"jit": ["on"]}}, "postgres_tuning_extra_settings.jit: the value must be"),
    ({"extra_settings": ["jit"]}, "postgres_tuning_extra_settings must be a mapping"),
    ({"memory_mb": 4096, "extra_settings": {"shared_buffers": "64GB"}},
     "shared_buffers 64GB is more than the budget of 4096 MB"),
    ({"favourite": 1}, "unknown postgres_tuning inputs ['favourite']"),
])
def test_every_problem_names_the_variable_and_nothing_is_computed(inputs: dict, variable: str) -> None:
    result = plan(**inputs)
    assert any(variable in problem for problem in result["problems"]), result["problems"]
    assert result["fact"] == {} and result["sysctl"] == []


def test_the_container_is_checked_against_a_small_host() -> None:
    # 2 GB host, 75 % usable: a 1.5 GB budget whose shared_buffers leave no room for /dev/shm and headroom
    result = plan({"host_memory_mb": 2048, "host_cpus": 2}, memory_mb=1536, max_connections=20,
                  extra_settings={"shared_buffers": "1400MB"})
    assert any("the container would need" in p and "postgres_tuning_memory_mb" in p for p in result["problems"])


def test_fine_extra_settings_pass_and_win() -> None:
    result = plan(extra_settings={"wal_buffers": -1, "random_page_cost": 1.3, "log_min_duration_statement": "500ms"})
    assert result["problems"] == []
    assert result["fact"]["reload_settings"]["random_page_cost"] == "1.3"
    assert "wal_buffers=-1" in result["fact"]["command"]


def test_the_derived_budget_stays_within_its_bounds() -> None:
    assert plan({"host_memory_mb": 1024, "host_cpus": 1})["budget_mb"] == 256
    assert plan({"host_memory_mb": 131072, "host_cpus": 16})["budget_mb"] == 16384
    assert plan({"host_memory_mb": 7900, "host_cpus": 2})["budget_mb"] == 2816  # 2962 down to 256 MB steps


def test_a_mapping_is_required() -> None:
    with pytest.raises(TypeError):
        postgres_tuning_plan(["memory_mb"], 1024, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("value, mb", [("512m", 512), ("1g", 1024), ("1.5GiB", 1536), ("1024M", 1024),
                                       (1073741824, 1024), ("1000k", 1), ("2gb", 2048)])
def test_docker_memory_sizes_are_read_in_mb(value: object, mb: int) -> None:
    from ansible_collections.antone.infra.plugins.plugin_utils.memory import docker_memory_mb

    assert docker_memory_mb(value) == mb
