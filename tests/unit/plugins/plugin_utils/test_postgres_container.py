"""Unit tests for the container sizing (plugin_utils/postgres_container.py)."""

from __future__ import annotations

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.memory import parse_memory
from ansible_collections.antone.infra.plugins.plugin_utils.pgtune import pgtune
from ansible_collections.antone.infra.plugins.plugin_utils.postgres_container import (
    PostgresContainerError,
    apply_work_mem,
    postgres_container,
    shm_size_mb,
)

HOST = pgtune(12288, cpus=6, max_connections=100)  # the user's host: 12 GB of 32 GB, 6 CPUs


def test_pgtune_settings_pass_through_without_departures() -> None:
    result = postgres_container(HOST, budget_mb=12288)
    assert result["settings"] == HOST
    assert result["memory_limit"] == "12288m"
    assert result["nr_hugepages"] == 0


def test_shm_holds_the_parallel_hash_tables() -> None:
    result = postgres_container(HOST, budget_mb=12288, parallel_queries=2, hash_mem_multiplier=8.0)
    hash_mb = parse_memory(HOST["work_mem"]) * 8.0 / 1024
    processes = HOST["max_parallel_workers_per_gather"] + 1
    assert result["shm_size_mb"] >= 2 * processes * hash_mb
    assert result["shm_size_mb"] % 64 == 0
    assert result["shm_size_mb"] > 64  # Docker's default is too small


def test_no_parallel_workers_needs_only_the_minimum_shm() -> None:
    small = pgtune(2048, cpus=2)
    assert shm_size_mb(small, 2) == 128


def test_memory_limit_covers_shared_memory_and_shm() -> None:
    settings = dict(HOST, shared_buffers="11GB")
    result = postgres_container(settings, budget_mb=12288)
    assert result["memory_limit_mb"] >= 11 * 1024 + result["shm_size_mb"]


def test_work_mem_cap_keeps_hash_memory() -> None:
    capped = apply_work_mem(HOST, 8, 2.0)
    assert capped["work_mem"] == "8MB"
    hash_kb = parse_memory(capped["work_mem"]) * capped["hash_mem_multiplier"]
    assert hash_kb == pytest.approx(parse_memory(HOST["work_mem"]) * 2.0, rel=0.01)


def test_hash_multiplier_scales_hash_memory_only() -> None:
    tuned = apply_work_mem(HOST, 0, 8.0)
    assert tuned["work_mem"] == HOST["work_mem"]
    assert tuned["hash_mem_multiplier"] == 8.0


def test_maintenance_cap() -> None:
    assert postgres_container(HOST, budget_mb=12288, maintenance_work_mem_cap_mb=128)["settings"]["maintenance_work_mem"] == "128MB"
    assert postgres_container(HOST, budget_mb=12288, maintenance_work_mem_cap_mb=0)["settings"]["maintenance_work_mem"] == "768MB"
    small = pgtune(1024, cpus=2)
    assert postgres_container(small, budget_mb=1024, maintenance_work_mem_cap_mb=128)["settings"]["maintenance_work_mem"] == "64MB"


def test_parallel_tuple_cost_only_when_asked() -> None:
    assert "parallel_tuple_cost" not in postgres_container(HOST, budget_mb=12288)["settings"]
    assert postgres_container(HOST, budget_mb=12288, parallel_tuple_cost=0.05)["settings"]["parallel_tuple_cost"] == 0.05


@pytest.mark.parametrize("workload", ["web", "oltp", "mixed"])
def test_jit_back_on_above_the_cost_where_pgtune_turns_it_off(workload: str) -> None:
    settings = pgtune(12288, cpus=6, workload=workload)
    assert settings["jit"] == "off"
    result = postgres_container(settings, budget_mb=12288, jit_above_cost=500000)["settings"]
    assert result["jit"] == "on"
    assert result["jit_above_cost"] == 500000


@pytest.mark.parametrize("workload", ["dw", "desktop"])
def test_jit_left_alone_where_pgtune_keeps_postgresql_default(workload: str) -> None:
    settings = pgtune(12288, cpus=6, workload=workload)
    result = postgres_container(settings, budget_mb=12288, jit_above_cost=500000)["settings"]
    assert "jit_above_cost" not in result
    assert result.get("jit") == settings.get("jit")


def test_jit_stays_off_without_the_departure() -> None:
    result = postgres_container(HOST, budget_mb=12288, jit_above_cost=0)["settings"]
    assert result["jit"] == "off"
    assert "jit_above_cost" not in result


def test_jit_does_not_need_a_restart() -> None:
    base = postgres_container(HOST, budget_mb=12288)["restart_token"]
    assert postgres_container(HOST, budget_mb=12288, jit_above_cost=500000)["restart_token"] == base


def test_no_departure_is_pgtune_exactly() -> None:
    assert apply_work_mem(HOST, 0, 2.0) == HOST
    assert apply_work_mem(HOST, 1024, 2.0) == HOST


def test_restart_token_changes_exactly_when_a_restart_is_needed() -> None:
    base = postgres_container(HOST, budget_mb=12288)["restart_token"]
    reload_only = postgres_container(dict(HOST, random_page_cost=2.0), budget_mb=12288)["restart_token"]
    assert reload_only == base
    restart = postgres_container(dict(HOST, shared_buffers="2GB"), budget_mb=12288)["restart_token"]
    assert restart != base
    bigger_container = postgres_container(HOST, budget_mb=14336)["restart_token"]
    assert bigger_container != base


def test_huge_pages_cover_shared_buffers() -> None:
    result = postgres_container(HOST, budget_mb=12288, huge_pages=True)
    assert result["nr_hugepages"] * 2048 >= parse_memory(HOST["shared_buffers"])
    assert result["settings"]["huge_pages"] == "try"


@pytest.mark.parametrize(
    ("budget_mb", "connections", "postgres_needs"),
    [
        # PostgreSQL 17's own figure for each configuration: postgres -C shared_memory_size_in_huge_pages
        (256, 100, 38),
        (1024, 100, 140),
        (4096, 100, 540),
        (8192, 100, 1068),
        (12288, 100, 1594),
        (16384, 100, 2123),
        (1024, 400, 147),
        (16384, 1000, 2144),
    ],
)
def test_huge_pages_hold_what_postgres_asks_for(budget_mb: int, connections: int, postgres_needs: int) -> None:
    # Too few and huge_pages=try quietly falls back to 4 kB pages; too many sit idle all the same.
    settings = pgtune(budget_mb, cpus=6, max_connections=connections)
    reserved = postgres_container(settings, budget_mb=budget_mb, huge_pages=True)["nr_hugepages"]
    assert postgres_needs <= reserved <= postgres_needs * 1.1 + 32


def test_extra_settings_win() -> None:
    result = postgres_container(HOST, budget_mb=12288, extra_settings={"jit": "on", "log_min_duration_statement": 500})
    assert result["settings"]["jit"] == "on"
    assert result["settings"]["log_min_duration_statement"] == 500


@pytest.mark.parametrize(
    ("settings", "kwargs", "message"),
    [
        ({}, {"budget_mb": 1024}, "must be the pgtune filter's settings"),
        (HOST, {"budget_mb": 0}, "budget_mb must be a whole number of at least 1"),
        (HOST, {"budget_mb": 1024, "parallel_queries": 0}, "parallel_queries must be"),
        (HOST, {"budget_mb": 1024, "work_mem_cap_mb": -1}, "work_mem_cap_mb must be 0 or more"),
        (HOST, {"budget_mb": 1024, "hash_mem_multiplier": 0.5}, "hash_mem_multiplier must be 1 to 1000"),
        (HOST, {"budget_mb": 1024, "maintenance_work_mem_cap_mb": -5}, "maintenance_work_mem_cap_mb must be 0 or more"),
        (HOST, {"budget_mb": 1024, "parallel_tuple_cost": -1}, "parallel_tuple_cost must be 0"),
        (HOST, {"budget_mb": 1024, "jit_above_cost": -1}, "jit_above_cost must be 0 or more"),
        (HOST, {"budget_mb": 1024, "jit_above_cost": 0.5}, "jit_above_cost must be 0 or more"),
    ],
)
def test_bad_input(settings: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(PostgresContainerError, match=message):
        postgres_container(settings, **kwargs)


def test_command_passes_the_postmaster_settings_and_the_rest_are_reloadable() -> None:
    result = postgres_container(HOST, budget_mb=12288, extra_settings={"log_checkpoints": True})
    command = result["command"]
    assert command[0] == "postgres"
    assert "shared_buffers=3GB" in command
    assert "log_checkpoints=on" in command  # unknown to the role: the command line, to be safe
    assert not any(arg.startswith(("work_mem=", "random_page_cost=")) for arg in command)
    postmaster = [name for name, context in result["contexts"].items() if context == "postmaster"]
    assert command.count("-c") == len(postmaster)
    assert set(result["reload_settings"]) | set(postmaster) == set(result["settings"])
    assert result["contexts"]["shared_buffers"] == "postmaster" and result["contexts"]["work_mem"] == "reload"
    assert result["reload_settings"]["jit"] in ("on", "off")  # PostgreSQL text, as ALTER SYSTEM takes it


def test_extra_settings_must_be_setting_names() -> None:
    with pytest.raises(PostgresContainerError, match="are not PostgreSQL settings"):
        postgres_container(HOST, budget_mb=12288, extra_settings={"work_mem = '1GB'; DROP": 1})
    result = postgres_container(HOST, budget_mb=12288, extra_settings={"auto_explain.log_min_duration": "1s"})
    assert result["contexts"]["auto_explain.log_min_duration"] == "postmaster"
