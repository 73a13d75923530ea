#!/usr/bin/env python3
"""Benchmark: stock PostgreSQL 17 settings against PGTune's and the postgres_tuning role's.

One PostgreSQL 17 image (the test bed's antone-test/postgres17:local) and the same data: pgbench at
--scale, initialised once into a pristine volume and copied afresh before every configuration's
turn (pgbench read-write changes the table). The configurations alternate in every round after a
warm-up round. Each configuration starts a fresh server; each workload then runs twice in it.
Query times are psql's own (\\timing), without docker exec's start-up. "first" is the
first run after the restart (PostgreSQL's own buffers cold), "warm" the second run right after it:
the steady state a server that runs for days lives in. Both are reported, with the targets.
Before every run the database's files are read into the OS page cache, so that every
configuration starts from the same cache whatever this VM's reclaim has evicted meanwhile.
Run it on an otherwise idle machine: other work on two cores swamps the differences.

Workloads: pgbench read-write and read-only (TPS, higher is better), and report queries bound
by work_mem and maintenance_work_mem (seconds, lower is better): a large sort, a hash
aggregate and an index build. Prints each workload's median and min-max per configuration,
the ratios of medians to stock (above 1 is faster), their geometric mean, and the targets.

    python3 bench/postgres_tuning/run.py [--scale 100] [--rounds 5] [--budget-mb 8192] [--phases first|both]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.antone.infra.plugins.filter.pgtune import pgtune  # noqa: E402
from ansible_collections.antone.infra.plugins.filter.postgres_container import (  # noqa: E402
    postgres_container,
)

IMAGE = "antone-test/postgres17:local"
CONTAINER = "antone-bench-postgres"
VOLUME = "antone-bench-pgdata"  # the data every round runs on, copied from PRISTINE before it
PRISTINE = "antone-bench-pgdata-pristine"  # pgbench's data as initialised, never written by a workload
PASSWORD = "bench-only"
DATA_DIR = "/var/lib/postgresql/data"

QUERIES = {
    # A full sort of every row on a random key, far larger than work_mem: an external sort.
    "sort": "SELECT * FROM (SELECT aid, bid, abalance FROM pgbench_accounts ORDER BY hashint4(aid)) s OFFSET {rows}",
    # A hash aggregate with one group per 10 rows (1 M groups): spills to disk when work_mem is small.
    # The outer sum keeps the inner one: a sum nobody reads is dropped by the planner, which turns
    # the query into a DISTINCT over the primary key's index.
    "hash_agg": "SELECT count(*), sum(total) FROM (SELECT aid / 10 AS g, sum(abalance) AS total"
                " FROM pgbench_accounts GROUP BY 1) s",
    # An index build: maintenance_work_mem.
    "index": "CREATE INDEX bench_idx ON pgbench_accounts (filler, aid)",
}
HIGHER_IS_BETTER = {"pgbench_rw", "pgbench_ro"}


@dataclass
class Config:
    name: str
    settings: dict
    shm_size: str = "64m"
    memory: str | None = None
    results: dict[str, list[float]] = field(default_factory=dict)  # "phase/workload" -> values


def sh(*cmd: str, check: bool = True, capture: bool = True) -> str:
    result = subprocess.run(cmd, capture_output=capture, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result.stdout if capture else ""


def psql(*commands: str) -> str:
    """Run each command (SQL, or one psql meta-command) in one psql session, in order."""
    args = [arg for command in commands for arg in ("-c", command)]
    return sh("docker", "exec", CONTAINER, "psql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-At", *args).strip()


def start(config: Config, volume: str = VOLUME) -> None:
    sh("docker", "rm", "-f", CONTAINER, check=False)
    args = ["docker", "run", "-d", "--name", CONTAINER, "-e", f"POSTGRES_PASSWORD={PASSWORD}",
            "-v", f"{volume}:{DATA_DIR}", "--shm-size", config.shm_size]
    if config.memory:
        args += ["--memory", config.memory]
    command = [arg for name, value in sorted(config.settings.items()) for arg in ("-c", f"{name}={value}")]
    sh(*args, IMAGE, "postgres", *command)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "exec", CONTAINER, "pg_isready", "-U", "postgres", "-h", "127.0.0.1"],
                          capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.5)
    sys.exit(sh("docker", "logs", "--tail", "30", CONTAINER, check=False))


def restore_data() -> None:
    """Give the next configuration byte-identical data: a copy of the pristine volume.

    pgbench read-write updates about 200 000 rows a minute; each updated row moves to another page.
    Without the copy every round ran on a table more scattered than the round before, and the
    role's in-memory hash table, which pays for scattered groups in cache misses, ran slower round
    after round (without JIT: 2.0 s on the pristine table, 2.8 s after 1.2 M updates; stock 3.5 s
    and 3.7 s).
    """
    sh("docker", "rm", "-f", CONTAINER, check=False)
    sh("docker", "run", "--rm", "-v", f"{PRISTINE}:/from:ro", "-v", f"{VOLUME}:/to", "--entrypoint", "sh", IMAGE,
       "-c", "find /to -mindepth 1 -delete && cp -a /from/. /to/ && sync")


def prewarm_page_cache() -> None:
    """Read the database's files into the OS page cache (not into PostgreSQL's buffers).

    This VM's DAMON reclaim pages out file pages left unread for about 30 s, so without this the
    first run of a workload reads from disk or from memory by chance, and measures the disk.
    """
    sh("docker", "exec", CONTAINER, "sh", "-c", f"cat {DATA_DIR}/base/*/* > /dev/null")


def psql_seconds(output: str) -> float:
    """The query's time from psql's \\timing line ("Time: 1234.567 ms (00:01.235)"), in seconds."""
    for line in output.splitlines():
        if line.startswith("Time: ") and line.split()[2] == "ms":
            return float(line.split()[1]) / 1000
    raise ValueError(f"no timing in psql output: {output!r}")


def timed_query(sql: str) -> float:
    """The query's round trip as psql measures it: without docker exec's own start-up (about 0.1 s)."""
    return psql_seconds(psql("\\timing on", sql))


def pgbench(seconds: int, read_only: bool) -> float:
    args = ["docker", "exec", CONTAINER, "pgbench", "-U", "postgres", "-n", "-c", "4", "-j", "2", "-T", str(seconds)]
    if read_only:
        args.append("-S")
    out = sh(*args, "postgres")
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    sys.exit(f"no tps in pgbench output:\n{out}")


def run_round(config: Config, seconds: int, rows: int, record: bool, phases: tuple[str, ...]) -> None:
    restore_data()
    start(config)
    measurements = {
        "sort": lambda: timed_query(QUERIES["sort"].format(rows=rows)),
        "hash_agg": lambda: timed_query(QUERIES["hash_agg"]),
        "index": lambda: timed_query(QUERIES["index"]),
        "pgbench_ro": lambda: pgbench(seconds, read_only=True),
        "pgbench_rw": lambda: pgbench(seconds, read_only=False),
    }
    for workload, measure in measurements.items():
        # "first": the first run after the restart; "warm": the run right after it, in the same server.
        for phase in ("first", "warm"):
            prewarm_page_cache()
            value = measure()
            if workload == "index":
                psql("DROP INDEX bench_idx")
            if workload == "pgbench_rw":  # the warm run gets a vacuumed table, and no autovacuum to race
                psql("VACUUM ANALYZE pgbench_accounts")
                psql("CHECKPOINT")
            if record and phase in phases:
                config.results.setdefault(f"{phase}/{workload}", []).append(value)
            print(f"  {config.name:7} {phase:5} {workload:11} {value:10.2f}", flush=True)
            if phases == ("first",):
                break


def prepare(scale: int) -> None:
    """The pristine volume at this scale: kept from an earlier run with --keep, or initialised."""
    present = subprocess.run(["docker", "volume", "inspect", PRISTINE], capture_output=True, check=False).returncode == 0
    stamp = f"scale={scale}"
    if present:
        start(Config("stock", {}), volume=PRISTINE)
        have = psql("SELECT coalesce(obj_description('pgbench_accounts'::regclass), '')") if psql(
            "SELECT to_regclass('pgbench_accounts') IS NOT NULL") == "t" else ""
        if have == stamp:
            sh("docker", "stop", "-t", "60", CONTAINER)
            return
        sh("docker", "rm", "-f", CONTAINER)
        sh("docker", "volume", "rm", PRISTINE)
    print(f"initialising pgbench at scale {scale} (about {scale * 15} MB)...", flush=True)
    start(Config("stock", {"maintenance_work_mem": "1GB", "max_wal_size": "8GB"}), volume=PRISTINE)
    sh("docker", "exec", CONTAINER, "pgbench", "-U", "postgres", "-i", "-q", "-s", str(scale), "postgres")
    psql(f"COMMENT ON TABLE pgbench_accounts IS '{stamp}'")
    psql("VACUUM ANALYZE")
    psql("CHECKPOINT")
    sh("docker", "stop", "-t", "60", CONTAINER)  # a clean shutdown: every copy starts without recovery


def configs(budget_mb: int, cpus: int) -> list[Config]:
    tuned = pgtune(budget_mb, cpus=cpus, max_connections=100, workload="web", storage="ssd", pg_version=17)
    role_defaults = role_departures()
    role = postgres_container(tuned, budget_mb=budget_mb, **role_defaults)
    pgtune_container = postgres_container(tuned, budget_mb=budget_mb)
    # PGTune has no opinion on the container: it gets the same shm and memory as the role, so the
    # comparison is of the settings alone.
    return [
        Config("stock", {}, shm_size="64m", memory=role["memory_limit"]),
        Config("pgtune", tuned, shm_size=pgtune_container["shm_size"], memory=role["memory_limit"]),
        Config("role", role["settings"], shm_size=role["shm_size"], memory=role["memory_limit"]),
    ]


def role_departures() -> dict:
    """The role's defaults for its departures from PGTune, read from defaults/main.yml."""
    import yaml

    defaults = yaml.safe_load((ROOT / "roles/postgres_tuning/defaults/main.yml").read_text())
    return {
        "work_mem_cap_mb": defaults["postgres_tuning_work_mem_cap_mb"],
        "hash_mem_multiplier": float(defaults["postgres_tuning_hash_mem_multiplier"]),
        "maintenance_work_mem_cap_mb": defaults["postgres_tuning_maintenance_work_mem_cap_mb"],
        "parallel_tuple_cost": float(defaults["postgres_tuning_parallel_tuple_cost"]),
        "jit_above_cost": int(defaults["postgres_tuning_jit_above_cost"]),
        "parallel_queries": defaults["postgres_tuning_parallel_queries"],
    }


def report(all_configs: list[Config], phase: str) -> bool:
    stock = all_configs[0]
    workloads = [key for key in stock.results if key.startswith(f"{phase}/")]
    print(f"\n== {phase}: " + ("the first run of each workload after a restart" if phase == "first"
                               else "the second run, in the same server (steady state)"))
    print("workload           config    median      min-max            ratio to stock")
    geomeans: dict[str, float] = {}
    ratios: dict[str, dict[str, float]] = {}
    for config in all_configs:
        ratios[config.name] = {}
        for workload in workloads:
            values = config.results[workload]
            median = statistics.median(values)
            base = statistics.median(stock.results[workload])
            higher_is_better = workload.split("/")[1] in HIGHER_IS_BETTER
            ratio = median / base if higher_is_better else base / median
            ratios[config.name][workload] = ratio
            unit = "tps" if higher_is_better else "s"
            print(f"{workload:18} {config.name:7} {median:9.2f}{unit:3} {min(values):8.2f}-{max(values):<8.2f} {ratio:6.2f}x")
        geomeans[config.name] = math.exp(statistics.fmean(math.log(r) for r in ratios[config.name].values()))
    print("\ngeometric mean of the median ratios to stock: "
          + ", ".join(f"{name} {value:.2f}x" for name, value in geomeans.items()))
    role = ratios["role"]
    checks = {
        "no workload below 0.95x stock": min(role.values()) >= 0.95,
        "hash aggregate at least 1.5x stock": role[f"{phase}/hash_agg"] >= 1.5,
        "geometric mean at least 1.15x stock": geomeans["role"] >= 1.15,
        "geometric mean no worse than PGTune's": geomeans["role"] >= geomeans["pgtune"],
    }
    print(f"\ntargets (role, {phase}):")
    for text, ok in checks.items():
        print(f"  {'met ' if ok else 'MISSED'} {text}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100, help="pgbench scale (100 = 10 M rows, about 1.5 GB)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after the warm-up (at least 5)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each pgbench run")
    parser.add_argument("--budget-mb", type=int, default=8192, help="memory for PostgreSQL")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", action="store_true", help="keep the data volumes for the next run")
    parser.add_argument("--phases", choices=("first", "both"), default="both",
                        help="first: only the first run after each restart; both: also the warm second run")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    rows = args.scale * 100_000
    prepare(args.scale)
    all_configs = configs(args.budget_mb, args.cpus)
    for config in all_configs:
        print(f"{config.name}: shm {config.shm_size}, memory {config.memory}, {config.settings}")
    phases = ("first",) if args.phases == "first" else ("first", "warm")
    print("warm-up round", flush=True)
    for config in all_configs:
        run_round(config, args.seconds, rows, record=False, phases=phases)
    for number in range(args.rounds):
        order = all_configs if number % 2 == 0 else list(reversed(all_configs))
        print(f"round {number + 1}", flush=True)
        for config in order:
            run_round(config, args.seconds, rows, record=True, phases=phases)
    sh("docker", "rm", "-f", CONTAINER, check=False)
    if not args.keep:
        sh("docker", "volume", "rm", VOLUME, PRISTINE, check=False)
    met = [report(all_configs, phase) for phase in phases]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
