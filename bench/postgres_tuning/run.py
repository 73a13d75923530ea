#!/usr/bin/env python3
"""Benchmark: stock PostgreSQL 17 settings against PGTune's and the postgres_tuning role's.

One PostgreSQL 17 image (the test bed's antone-test/postgres17:local) and the same data: pgbench at
--scale, initialised once into a pristine volume and copied afresh into each configuration's own
volume before every round (pgbench read-write changes the table). In every round the three
configurations run side by side, each in a freshly started server of its own, and take turns
workload by workload: stock's sort, PGTune's sort, the role's sort, then the hash aggregate in
the same way, and so on, with the order rotating from round to round. This VM's CPU speed drifts
by up to 1.8x over tens of seconds; measurements taken seconds apart share the drift, where a
configuration's whole turn (minutes) did not. A warm-up round comes first and is not counted.
Query times are psql's own (\\timing), without docker exec's start-up. "first" is a workload's
first run in the server (PostgreSQL's own buffers cold for it), "warm" its second run in the same
server: the steady state a server that runs for days lives in. Both are reported, with the targets.
Before every run the database's files are read into the OS page cache, so that every
configuration starts from the same cache whatever this VM's reclaim has evicted meanwhile.
Huge pages are reserved (vm.nr_hugepages, as the role's sysctl file does) for the servers whose
configuration reserves them, so it runs as root; the host's reservation is put back at the end.
Run it on an otherwise idle machine: other work on two cores swamps the differences.

Workloads: pgbench read-write and read-only (TPS, higher is better), and report queries bound
by work_mem and maintenance_work_mem (seconds, lower is better): a large sort, a hash
aggregate and an index build. Prints each workload's median and min-max per configuration,
the ratios of medians to stock (above 1 is faster), their geometric mean, and the targets.

    sudo python3 bench/postgres_tuning/run.py [--scale 100] [--rounds 5] [--budget-mb 8192] [--phases first|both]
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

from ansible_collections.antone.infra.plugins.plugin_utils.pgtune import pgtune  # noqa: E402
from ansible_collections.antone.infra.plugins.plugin_utils.postgres_container import (  # noqa: E402
    command_args,
    postgres_container,
)

IMAGE = "antone-test/postgres17:local"
PREFIX = "antone-bench"  # containers and volumes: antone-bench-<config>, antone-bench-pgdata-<config>
PRISTINE = f"{PREFIX}-pgdata-pristine"  # pgbench's data as initialised, never written by a workload
PASSWORD = "bench-only"
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
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
WORKLOADS = ("sort", "hash_agg", "index", "pgbench_ro", "pgbench_rw")
HIGHER_IS_BETTER = {"pgbench_rw", "pgbench_ro"}


@dataclass
class Config:
    name: str
    settings: dict
    shm_size: str = "64m"
    memory: str | None = None
    hugepages: int = 0  # huge pages the host reserves for this server (the role's vm.nr_hugepages)
    results: dict[str, list[float]] = field(default_factory=dict)  # "phase/workload" -> values

    @property
    def container(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def volume(self) -> str:
        """The data this configuration's rounds run on, copied from PRISTINE before each round."""
        return f"{PREFIX}-pgdata-{self.name}"


def sh(*cmd: str, check: bool = True, capture: bool = True) -> str:
    result = subprocess.run(cmd, capture_output=capture, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result.stdout if capture else ""


def psql(container: str, *commands: str) -> str:
    """Run each command (SQL, or one psql meta-command) in one psql session, in order."""
    args = [arg for command in commands for arg in ("-c", command)]
    return sh("docker", "exec", container, "psql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-At", *args).strip()


def start(config: Config, volume: str | None = None) -> None:
    """A fresh server for the configuration, on its own volume unless another is given."""
    sh("docker", "rm", "-f", config.container, check=False)
    args = ["docker", "run", "-d", "--name", config.container, "-e", f"POSTGRES_PASSWORD={PASSWORD}",
            "-v", f"{volume or config.volume}:{DATA_DIR}", "--shm-size", config.shm_size]
    if config.memory:
        args += ["--memory", config.memory]
    sh(*args, IMAGE, "postgres", *command_args(config.settings))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "exec", config.container, "pg_isready", "-U", "postgres", "-h", "127.0.0.1"],
                          capture_output=True, check=False).returncode == 0:
            return
        if sh("docker", "inspect", "-f", "{{.State.Running}}", config.container).strip() != "true":
            break  # PostgreSQL refused to start (shared memory, a bad setting): its log says why
        time.sleep(0.5)
    logs = subprocess.run(["docker", "logs", "--tail", "30", config.container], capture_output=True, text=True,
                          check=False)
    sys.exit(f"{config.name}: PostgreSQL did not start\n{logs.stdout}{logs.stderr}")


def set_hugepages(pages: int) -> None:
    """Reserve this many huge pages on the host, as the role's sysctl file does (needs root)."""
    try:
        NR_HUGEPAGES.write_text(f"{pages}\n")
    except OSError as error:
        sys.exit(f"cannot reserve huge pages ({error}): run the benchmark as root")
    if int(NR_HUGEPAGES.read_text()) < pages:
        sys.exit(f"the kernel reserved only {NR_HUGEPAGES.read_text().strip()} of {pages} huge pages")


def start_all(all_configs: list[Config]) -> None:
    """A fresh server for every configuration, huge pages reserved only for those that reserve them.

    huge_pages=try (stock's default, and PGTune's setting) takes huge pages only if the host has
    them when the server starts. The servers that reserve none start while the pool is empty, as on
    a host nobody reserved them on; then the pool grows by each remaining server's reservation
    right before it starts.
    """
    reserved = 0
    set_hugepages(reserved)
    for config in sorted(all_configs, key=lambda config: config.hugepages > 0):
        if config.hugepages:
            reserved += config.hugepages
            set_hugepages(reserved)
        start(config)
        print(f"  {config.name:7} huge pages: {psql(config.container, 'SHOW huge_pages_status')}", flush=True)


def restore_data(config: Config) -> None:
    """Give the configuration byte-identical data: a copy of the pristine volume.

    pgbench read-write updates about 200 000 rows a minute; each updated row moves to another page.
    Without the copy every round ran on a table more scattered than the round before, and the
    role's in-memory hash table, which pays for scattered groups in cache misses, ran slower round
    after round (without JIT: 2.0 s on the pristine table, 2.8 s after 1.2 M updates; stock 3.5 s
    and 3.7 s).
    """
    sh("docker", "rm", "-f", config.container, check=False)
    sh("docker", "run", "--rm", "-v", f"{PRISTINE}:/from:ro", "-v", f"{config.volume}:/to", "--entrypoint", "sh",
       IMAGE, "-c", "find /to -mindepth 1 -delete && cp -a /from/. /to/ && sync")


def prewarm_page_cache(container: str) -> None:
    """Read the database's files into the OS page cache (not into PostgreSQL's buffers).

    This VM's DAMON reclaim pages out file pages left unread for about 30 s, so without this the
    first run of a workload reads from disk or from memory by chance, and measures the disk.
    """
    # PostgreSQL may remove a file between the glob and cat (pg_internal.init): not an error here.
    sh("docker", "exec", container, "sh", "-c", f"cat {DATA_DIR}/base/*/* > /dev/null 2>&1 || true")


def psql_seconds(output: str) -> float:
    """The query's time from psql's \\timing line ("Time: 1234.567 ms (00:01.235)"), in seconds."""
    for line in output.splitlines():
        if line.startswith("Time: ") and line.split()[2] == "ms":
            return float(line.split()[1]) / 1000
    raise ValueError(f"no timing in psql output: {output!r}")


def timed_query(container: str, sql: str) -> float:
    """The query's round trip as psql measures it: without docker exec's own start-up (about 0.1 s)."""
    return psql_seconds(psql(container, "\\timing on", sql))


def pgbench(container: str, seconds: int, read_only: bool) -> float:
    args = ["docker", "exec", container, "pgbench", "-U", "postgres", "-n", "-c", "4", "-j", "2", "-T", str(seconds)]
    if read_only:
        args.append("-S")
    out = sh(*args, "postgres")
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    sys.exit(f"no tps in pgbench output:\n{out}")


def measure(container: str, workload: str, seconds: int, rows: int) -> float:
    """One run of the workload, then what puts the server back for the next one."""
    if workload.startswith("pgbench"):
        value = pgbench(container, seconds, read_only=workload == "pgbench_ro")
    else:
        value = timed_query(container, QUERIES[workload].format(rows=rows))
    if workload == "index":
        psql(container, "DROP INDEX bench_idx")
    if workload == "pgbench_rw":  # the warm run gets a vacuumed table, and no autovacuum to race
        psql(container, "VACUUM ANALYZE pgbench_accounts")
        psql(container, "CHECKPOINT")
    return value


def turns(all_configs: list[Config], number: int) -> list[Config]:
    """The order the configurations take their turns in, rotated by one every round."""
    shift = number % len(all_configs)
    return all_configs[shift:] + all_configs[:shift]


def run_round(all_configs: list[Config], number: int, seconds: int, rows: int, record: bool,
              phases: tuple[str, ...]) -> None:
    """Fresh data and a fresh server for every configuration, then every workload in turns."""
    for config in all_configs:
        restore_data(config)
    start_all(all_configs)
    order = turns(all_configs, number)
    for workload in WORKLOADS:
        # "first": the workload's first run in the server; "warm": its second, in the same server.
        for phase in phases:
            for config in order:
                prewarm_page_cache(config.container)
                value = measure(config.container, workload, seconds, rows)
                if record:
                    config.results.setdefault(f"{phase}/{workload}", []).append(value)
                print(f"  {config.name:7} {phase:5} {workload:11} {value:10.2f}", flush=True)
    for config in all_configs:
        sh("docker", "rm", "-f", config.container, check=False)


def prepare(scale: int) -> None:
    """The pristine volume at this scale: kept from an earlier run with --keep, or initialised."""
    present = subprocess.run(["docker", "volume", "inspect", PRISTINE], capture_output=True, check=False).returncode == 0
    stamp = f"scale={scale}"
    loader = Config("prepare", {"maintenance_work_mem": "1GB", "max_wal_size": "8GB"})
    if present:
        start(loader, volume=PRISTINE)
        have = psql(loader.container, "SELECT coalesce(obj_description(to_regclass('pgbench_accounts')), '')")
        if have == stamp:
            sh("docker", "stop", "-t", "60", loader.container)
            sh("docker", "rm", loader.container)
            return
        sh("docker", "rm", "-f", loader.container)
        sh("docker", "volume", "rm", PRISTINE)
    print(f"initialising pgbench at scale {scale} (about {scale * 15} MB)...", flush=True)
    start(loader, volume=PRISTINE)
    sh("docker", "exec", loader.container, "pgbench", "-U", "postgres", "-i", "-q", "-s", str(scale), "postgres")
    psql(loader.container, f"COMMENT ON TABLE pgbench_accounts IS '{stamp}'", "VACUUM ANALYZE", "CHECKPOINT")
    sh("docker", "stop", "-t", "60", loader.container)  # a clean shutdown: every copy starts without recovery
    sh("docker", "rm", loader.container)


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
        Config("role", role["settings"], shm_size=role["shm_size"], memory=role["memory_limit"],
               hugepages=role["nr_hugepages"]),
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
        "huge_pages": bool(defaults["postgres_tuning_huge_pages"]),
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
    hugepages_before = int(NR_HUGEPAGES.read_text())
    try:
        print("warm-up round", flush=True)
        run_round(all_configs, 0, args.seconds, rows, record=False, phases=phases)
        for number in range(1, args.rounds + 1):
            print(f"round {number}", flush=True)
            run_round(all_configs, number, args.seconds, rows, record=True, phases=phases)
    finally:
        for config in all_configs:
            sh("docker", "rm", "-f", config.container, check=False)
        set_hugepages(hugepages_before)
    if not args.keep:
        sh("docker", "volume", "rm", PRISTINE, *(config.volume for config in all_configs), check=False)
    met = [report(all_configs, phase) for phase in phases]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
