#!/usr/bin/env python3
"""Benchmark: the backup command's restic repository against a gzip dump per kept point.

A year of a growing database, seen only at the points the default retention keeps (7 daily and
12 monthly: the newest backup of each of the last 7 days and of each of the last 12 months, one
backup a day, on a timeline of --days days ending today). One events table (bigint key, two time
stamps, four small numbers, about 160 bytes of JSON-like text, the primary key and one more index),
its rows generated inside PostgreSQL 17 (antone-test/postgres17:local, stock settings) with
generate_series. Each simulated day inserts new rows equal to 1 % of the data and updates 0.2 %
of it in place (--update-pct: status, amount and updated_at of existing rows, keys unchanged;
PostgreSQL writes each new row version wherever it finds room, as it does in production). The days
between two kept points are simulated in bulk: one INSERT and one UPDATE for all of them, then
VACUUM ANALYZE (what autovacuum does meanwhile).

  * "1 % of the data": of the data of that day (compounding, --inserts-of current), the default.
    The newest kept points, which dominate both sides of the comparison, then change by exactly
    1 % a day, as the issue says; of the initial data (--inserts-of initial), the last days would
    add only about 0.2 % of the data a day. The database is about --size-mb at the newest point
    (38x smaller a year before), not at the start: 1 GB at the start would be 38 GB at the end.
  * Updated rows are drawn from the whole table (--update-window-days 0, the default), or from the
    rows inserted in the last N days before each kept point (an app that edits recent events only).

At each kept point: the backup command's own dump (dump_database: pg_dump --format=custom
--compress=0 in an exported snapshot, checked by pg_restore) stored with its own backup_snapshot,
--time set to the point's date; then the anchor (prodrigestivill/docker-postgres-backup-local:
pg_dump of the plain format, gzip -6, one file per kept point), whose bytes are counted and
thrown away. At the end the command's retention (restic forget --prune) runs once, and the
repository's size on disk is compared with the sum of the anchor's files. The last
--compare-points kept points are also dumped with pg_dump's default compression (gzip level 6)
into a second repository: the growth per point shows what --compress=0 buys restic's dedup.

Then the command itself, as cron runs it, on the final database a simulated day later: `run` into
the local repository; with moto_server (pip install 'moto[server]') as an S3 stand-in on loopback,
`run` with the off-site copy to an empty off-site repository, then a day later again; and a full
`restore` from the local repository into the database's container (from the off-site one too).

    python3 bench/backup/run.py [--size-mb 1024] [--days 365] [--update-window-days 0] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.util
import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ROOT / "roles" / "backup" / "files" / "antone_backup.py"
IMAGE = "antone-test/postgres17:local"
PREFIX = "bench-backup"  # the container, the compose project label and the temp folder
CONTAINER = f"{PREFIX}-pg"
USER = DB = "antone"
KEEP = {"daily": 7, "monthly": 12}  # the role's defaults (backup_keep_*)
TARGETS = {"storage_ratio": 0.25, "backup_seconds": 120.0, "restore_seconds": 300.0}
MB = 1_000_000
INSERT_PCT = 1.0
UPDATE_PCT = 0.2

SCHEMA_SQL = """\
CREATE TABLE events (
  id bigint PRIMARY KEY, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
  account_id integer NOT NULL, kind smallint NOT NULL, status smallint NOT NULL, amount integer NOT NULL,
  payload text NOT NULL);
CREATE INDEX events_account_created ON events (account_id, created_at);
"""
# Rows lo+1..hi, created evenly between two moments: JSON-like text that gzip shrinks about 4x.
INSERT_SQL = """\
SELECT setseed({seed});
INSERT INTO events
SELECT g, ts, ts, floor(random() * 5000)::int, floor(random() * 20)::int, 0, floor(random() * 100000)::int,
  format('{{"action":"%s","path":"/api/v1/%s/%s","ip":"10.%s.%s.%s","request":"%s","client":"%s"}}',
    (ARRAY['login','logout','view','create','update','delete','export','search'])[1 + floor(random() * 8)::int],
    (ARRAY['projects','tasks','users','reports','files','comments'])[1 + floor(random() * 6)::int],
    floor(random() * 1000000)::int, floor(random() * 256)::int, floor(random() * 256)::int,
    floor(random() * 256)::int, md5(random()::text),
    (ARRAY['web/2.14.1 (Linux; Firefox 128)', 'web/2.14.1 (Windows; Chrome 126)',
           'ios/5.3.0 (iPhone; iOS 17.5)', 'android/5.2.9 (Pixel 8; Android 14)'])[1 + floor(random() * 4)::int])
FROM generate_series({lo} + 1, {hi}) AS g,
     LATERAL (SELECT timestamptz '{start}' + (g - {lo}) * interval '{step} seconds' AS ts) AS t;
"""
# In place: the same rows (same key), new values in columns no index covers.
UPDATE_SQL = """\
SELECT setseed({seed});
WITH updated AS (
  UPDATE events SET status = ((status + 1) % 5)::smallint, amount = floor(random() * 100000)::int,
    updated_at = timestamptz '{end}' - random() * interval '{days} days'
  WHERE id > {min_id} AND random() < {fraction} RETURNING 1)
SELECT count(*) FROM updated;
VACUUM (ANALYZE) events;
"""


# ---------------------------------------------------------------- pure functions


def timeline(today: dt.date, days: int) -> list[dt.date]:
    """One backup a day for `days` days, ending today; oldest first."""
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def kept_points(days: Sequence[dt.date], keep: Mapping[str, int]) -> list[dt.date]:
    """The days whose backup restic forget --keep-* keeps, one backup a day; oldest first.

    restic's rule: newest first, each policy counts down on every snapshot whose bucket (day, ISO
    week, month, year) differs from the last one that policy kept; a snapshot stays if any policy
    keeps it. So today's backup is both the newest daily and the newest monthly."""
    buckets: dict[str, Callable[[dt.date], Any]] = {
        "last": lambda day: day, "hourly": lambda day: day, "daily": lambda day: day,
        "weekly": lambda day: day.isocalendar()[:2], "monthly": lambda day: (day.year, day.month),
        "yearly": lambda day: day.year,
    }
    counts = {name: keep.get(name, 0) for name in buckets}
    last: dict[str, Any] = {}
    kept = []
    for day in sorted(set(days), reverse=True):
        keep_it = False
        for name, bucket in buckets.items():
            if counts[name] > 0 and bucket(day) != last.get(name):
                keep_it = True
                last[name] = bucket(day)
                counts[name] -= 1
        if keep_it:
            kept.append(day)
    return sorted(kept)


def growth_factor(days: int, inserts_of: str, pct: float = INSERT_PCT) -> float:
    """How much the data grows in `days` days of inserts equal to pct % of the current or initial data."""
    rate = pct / 100
    return (1 + rate) ** days if inserts_of == "current" else 1 + rate * days


def rows_at(initial_rows: int, day: int, inserts_of: str) -> int:
    """Rows on day `day` of the timeline (day 0: the initial rows)."""
    return round(initial_rows * growth_factor(day, inserts_of))


def updates_for(inserts: int, update_pct: float = UPDATE_PCT) -> int:
    """Rows updated over some days: 0.2 % of the data a day against 1 % inserted, on the same basis
    (current or initial data), is one fifth of the rows inserted over the same days."""
    return round(inserts * update_pct / INSERT_PCT)


def update_fraction(updates: int, eligible: int) -> float:
    """The share of the eligible rows to update (all of them when there are fewer)."""
    return min(1.0, updates / eligible) if eligible > 0 else 0.0


def ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.inf


def growth_per_point(sizes: Sequence[int]) -> float:
    """Mean growth between consecutive sizes (a repository's bytes after each kept point)."""
    return (sizes[-1] - sizes[0]) / (len(sizes) - 1) if len(sizes) > 1 else math.nan


def log_phases(log_text: str) -> dict[str, float]:
    """Seconds between the backup command's log lines (ISO time stamps, second resolution): what
    each phase of `run` took. The phase a line ends is named after that line's message."""
    marks = []
    for line in log_text.splitlines():
        stamp, _, message = line.partition(" ")
        with contextlib.suppress(ValueError):
            marks.append((dt.datetime.fromisoformat(stamp), message))
    names = (("dump checked", "dump+check"), ("local snapshot", "restic backup"),
             ("initialised the off-site", "off-site init"), ("copied to the off-site", "off-site copy"),
             ("retention applied", "forget --prune"))
    phases: dict[str, float] = {}
    for (before, _), (after, message) in zip(marks, marks[1:]):
        for prefix, name in names:
            if message.startswith(prefix):
                phases[name] = phases.get(name, 0.0) + (after - before).total_seconds()
    return phases


def verdicts(storage_ratio: float, backups: Mapping[str, float], restores: Mapping[str, float],
             targets: Mapping[str, float] = TARGETS) -> list[tuple[str, bool]]:
    """(text, met) for each target: storage, then every timed backup and restore it applies to."""
    checks = [(f"storage at most {targets['storage_ratio']:.2f}x the anchor's ({storage_ratio:.3f}x)",
               storage_ratio <= targets["storage_ratio"])]
    checks += [(f"backup under {targets['backup_seconds']:.0f} s: {name} ({seconds:.1f} s)",
                seconds < targets["backup_seconds"]) for name, seconds in backups.items()]
    checks += [(f"restore under {targets['restore_seconds']:.0f} s: {name} ({seconds:.1f} s)",
                seconds < targets["restore_seconds"]) for name, seconds in restores.items()]
    return checks


def mb(size: float) -> str:
    return f"{size / MB:.1f}"


# ---------------------------------------------------------------- running things


def load_command() -> ModuleType:
    """The backup command as a module (registered first: its dataclasses look themselves up)."""
    spec = importlib.util.spec_from_file_location("antone_backup", COMMAND)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ab = load_command()


def sh(*cmd: str, input_text: str | None = None, check: bool = True) -> str:
    result = subprocess.run(cmd, input=input_text, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(cmd)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def psql(sql: str) -> str:
    return sh("docker", "exec", "-i", CONTAINER, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
              "-U", USER, "-d", DB, input_text=sql).strip()


def disk_bytes(path: Path) -> int:
    """Bytes a folder takes on disk (allocated blocks, as du counts them)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def anchor_bytes() -> tuple[int, float]:
    """(bytes, seconds) of the anchor's dump: pg_dump's plain format in the container, gzip -6 on the
    host, as docker-postgres-backup-local's POSTGRES_EXTRA_OPTS=-Z6 makes it; counted, not kept."""
    started = time.monotonic()
    dump = subprocess.Popen(["docker", "exec", CONTAINER, "pg_dump", "-U", USER, "-d", DB, "--format=plain"],
                            stdout=subprocess.PIPE)
    gzip = subprocess.Popen(["gzip", "-6"], stdin=dump.stdout, stdout=subprocess.PIPE)
    assert dump.stdout and gzip.stdout
    dump.stdout.close()
    size = 0
    while chunk := gzip.stdout.read(1 << 20):
        size += len(chunk)
    if gzip.wait() != 0 or dump.wait() != 0:
        raise RuntimeError("the anchor's pg_dump | gzip failed")
    return size, time.monotonic() - started


def start_postgres() -> None:
    sh("docker", "rm", "-f", CONTAINER, check=False)
    sh("docker", "run", "-d", "--name", CONTAINER, "--label", f"com.docker.compose.project={PREFIX}",
       "--label", "com.docker.compose.service=postgres", "-e", f"POSTGRES_USER={USER}", "-e", f"POSTGRES_DB={DB}",
       "-e", "POSTGRES_PASSWORD=bench-only", "--shm-size", "256m", IMAGE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the entry point's init server listens on no TCP address
        if subprocess.run(["docker", "exec", CONTAINER, "pg_isready", "-h", "127.0.0.1", "-U", USER],
                          capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("the benchmark's PostgreSQL did not start")


def database_bytes() -> int:
    return int(psql(f"SELECT pg_database_size('{DB}')"))


def bytes_per_row(sample: int = 50_000) -> tuple[float, int]:
    """(bytes a row takes with its index entries, bytes of the empty database), from a sample."""
    psql(SCHEMA_SQL)
    empty = database_bytes()
    psql(INSERT_SQL.format(seed=0.5, lo=0, hi=sample, start="2000-01-01", step=1))
    per_row = int(psql("SELECT pg_total_relation_size('events')")) / sample
    psql("DROP TABLE events")
    psql(SCHEMA_SQL)
    return per_row, empty


def moment(day: dt.date) -> str:
    return f"{day.isoformat()} 00:00:00"


def insert_rows(lo: int, hi: int, first: dt.date, last: dt.date, seed: float) -> None:
    """Rows lo+1..hi created evenly from the start of `first` to the start of `last`."""
    seconds = max((last - first).days, 1) * 86400
    psql(INSERT_SQL.format(seed=seed, lo=lo, hi=hi, start=moment(first), step=seconds / max(hi - lo, 1)))


def update_rows(updates: int, min_id: int, rows: int, end: dt.date, days: int, seed: float) -> int:
    """Update about `updates` of the rows above min_id, each with the same chance; the rows it updated."""
    fraction = update_fraction(updates, rows - min_id)
    out = psql(UPDATE_SQL.format(seed=seed, end=moment(end), days=max(days, 1), min_id=min_id, fraction=fraction))
    return int(out.splitlines()[-1])


@dataclass
class Simulation:
    """The database's rows along the timeline."""

    start: dt.date
    initial_rows: int
    inserts_of: str
    window_days: int
    update_pct: float = UPDATE_PCT
    rows: int = 0
    day: int = 0
    updated: int = 0

    def load(self) -> None:
        """The initial rows, created over the year before the timeline starts."""
        insert_rows(0, self.initial_rows, self.start - dt.timedelta(days=365), self.start, seed=0.1)
        self.rows = self.initial_rows
        psql("VACUUM (ANALYZE) events; CHECKPOINT;")

    def advance_to(self, day: dt.date) -> tuple[int, int]:
        """Every simulated day up to `day` in bulk: (rows inserted, rows updated)."""
        target = (day - self.start).days
        gap = target - self.day
        if gap <= 0:
            return 0, 0
        rows = rows_at(self.initial_rows, target, self.inserts_of)
        inserts = rows - self.rows
        insert_rows(self.rows, rows, self.start + dt.timedelta(days=self.day), day, seed=(target % 997) / 1000)
        # Eligible: every row, or those created in the window before the point.
        min_id = 0 if self.window_days <= 0 else rows_at(self.initial_rows, max(target - self.window_days, 0),
                                                          self.inserts_of)
        updates = updates_for(inserts, self.update_pct)
        updated = update_rows(updates, min_id, rows, day, gap, seed=-(target % 991) / 1000)
        self.rows, self.day = rows, target
        self.updated += updated
        return inserts, updated


@dataclass
class Point:
    day: dt.date
    gap: int
    rows: int
    db_bytes: int
    dump_bytes: int
    anchor_bytes: int
    repo_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def timed_check() -> Iterator[list[float]]:
    """Seconds spent in the command's check of the dump (pg_restore --list and a full read)."""
    original = ab.check_dump
    spent = [0.0]

    def timed(*args: Any, **kwargs: Any) -> None:
        started = time.monotonic()
        try:
            original(*args, **kwargs)
        finally:
            spent[0] += time.monotonic() - started

    ab.check_dump = timed
    try:
        yield spent
    finally:
        ab.check_dump = original


def command_config(work: Path, offsite: dict[str, str] | None = None) -> dict[str, Any]:
    """The backup command's config.json for the benchmark's database."""
    return {"project": PREFIX, "host": PREFIX, "postgres": {"service": "postgres", "user": USER, "db": DB,
                                                            "image": IMAGE},
            "volumes": {}, "local_repository": str(work / "repo"), "offsite": offsite,
            "password_file": str(work / "password"), "retention": KEEP, "work_dir": str(work / "work"),
            "status_file": str(work / "work" / "status.json"), "cache_dir": str(work / "cache"),
            "lock_file": str(work / "lock"), "lock_wait": 0, "restic": "restic", "docker": "docker",
            "dump_compression": 0}


def backup_point(config: Any, local: Any, day: dt.date, log: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """The command's dump and restic backup, timed as of `day`; (manifest, seconds by phase)."""
    staging = config.work_dir / "staging" / "postgres"
    with timed_check() as check:
        started = time.monotonic()
        manifest = ab.dump_database(config, ab.postgres_container(config), staging, log)
        dump_seconds = time.monotonic() - started
    started = time.monotonic()
    ab.backup_snapshot(local, [str(staging)], [ab.POSTGRES_TAG], when=moment(day))
    seconds = {"dump": dump_seconds - check[0], "check": check[0], "restic": time.monotonic() - started}
    shutil.rmtree(staging, ignore_errors=True)
    return manifest, seconds


def store_points(sim: Simulation, points: list[dt.date], config: Any, compare: int, work: Path,
                 log: Any) -> tuple[list[Point], list[int]]:
    """Every kept point into the repository (and the anchor's bytes); the last `compare` ones also
    with pg_dump's default compression into a second repository, whose sizes are returned."""
    local = ab.Restic(config, config.local)
    local.init()
    zconfig = dataclasses.replace(config, dump_compression=6, work_dir=work / "work-z6",
                                  local=ab.Repository("compressed", str(work / "repo-z6"), config.local.password_file))
    zrestic = ab.Restic(zconfig, zconfig.local)
    zrestic.init()
    zsizes: list[int] = []
    stored = []
    print(f"{'point':10} {'gap d':>5} {'rows':>9} {'db MB':>7} {'dump MB':>8} {'gzip MB':>8} {'repo MB':>8} "
          f"{'+MB':>7} {'dump s':>6} {'check s':>7} {'restic s':>8} {'gzip s':>6}", flush=True)
    for number, day in enumerate(points):
        before = sim.day
        sim.advance_to(day)
        note_molecule("storing the kept points")
        manifest, seconds = backup_point(config, local, day, log)
        anchor, seconds["anchor"] = anchor_bytes()
        point = Point(day, sim.day - before, sim.rows, database_bytes(), manifest["dump_bytes"], anchor,
                      disk_bytes(Path(config.local.location)), seconds)
        growth = point.repo_bytes - (stored[-1].repo_bytes if stored else 0)
        stored.append(point)
        print(f"{day.isoformat():10} {point.gap:5} {point.rows:9} {mb(point.db_bytes):>7} {mb(point.dump_bytes):>8} "
              f"{mb(anchor):>8} {mb(point.repo_bytes):>8} {mb(growth):>7} {seconds['dump']:6.1f} "
              f"{seconds['check']:7.1f} {seconds['restic']:8.1f} {seconds['anchor']:6.1f}", flush=True)
        if number >= len(points) - compare:
            staging = zconfig.work_dir / "staging" / "postgres"
            ab.dump_database(zconfig, ab.postgres_container(zconfig), staging, log)
            ab.backup_snapshot(zrestic, [str(staging)], [ab.POSTGRES_TAG], when=moment(day))
            shutil.rmtree(staging, ignore_errors=True)
            zsizes.append(disk_bytes(work / "repo-z6"))
    return stored, zsizes


@contextlib.contextmanager
def moto_server(work: Path) -> Iterator[dict[str, str] | None]:
    """An S3 stand-in on loopback and the off-site entry of config.json, or None without moto."""
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(binary).exists():
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    credentials = work / "aws-credentials"
    credentials.write_text("[default]\naws_access_key_id = bench\naws_secret_access_key = bench-only\n")
    with open(work / "moto.log", "wb") as out:
        server = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"moto_server did not start (see {work / 'moto.log'})") from None
                time.sleep(0.3)
        yield {"repository": f"s3:http://127.0.0.1:{port}/{PREFIX}/offsite", "backend": "s3",
               "credentials_file": str(credentials)}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def timed_command(config_file: Path, *args: str) -> tuple[float, str, str]:
    """The backup command as cron runs it: (wall seconds, stdout, its log)."""
    note_molecule(f"timing {args[0]}")
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(COMMAND), "--config", str(config_file), *args],
                            capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"antone-backup {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout, result.stderr


def write_config(work: Path, offsite: dict[str, str] | None) -> Path:
    path = work / "config.json"
    path.write_text(json.dumps(command_config(work, offsite), indent=2))
    return path


def describe_phases(phases: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.0f}" for name, seconds in phases.items())


def restore_phases(log_text: str, seconds: float) -> str:
    """pg_restore's own seconds (the command logs them), and the rest (restic restore, roles, counts)."""
    for line in log_text.splitlines():
        if "database restored in " in line:
            load = float(line.split("database restored in ")[1].split()[0])
            return f"pg_restore {load:.0f}, restic restore and the rest {seconds - load:.0f}"
    return ""


def timings(sim: Simulation, work: Path, today: dt.date) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """The command's run and restore, timed: (backups, restores, lines describing them)."""
    backups: dict[str, float] = {}
    restores: dict[str, float] = {}
    lines: list[str] = []
    day = today

    def next_day() -> None:
        nonlocal day
        day += dt.timedelta(days=1)
        sim.advance_to(day)

    next_day()
    seconds, _, log_text = timed_command(write_config(work, None), "run")
    backups["nightly run, local repository"] = seconds
    lines.append(f"run, local: {seconds:.1f} s ({describe_phases(log_phases(log_text))})")
    with moto_server(work) as offsite:
        if offsite is None:
            lines.append("no moto_server: the off-site copy is not timed (pip install 'moto[server]')")
        else:
            config_file = write_config(work, offsite)
            next_day()
            seconds, _, log_text = timed_command(config_file, "run")
            lines.append(f"run, local + first off-site copy (empty S3 stand-in): {seconds:.1f} s "
                         f"({describe_phases(log_phases(log_text))})")
            backups["first run with the off-site copy"] = seconds
            next_day()
            seconds, _, log_text = timed_command(config_file, "run")
            lines.append(f"run, local + off-site copy, a day later: {seconds:.1f} s "
                         f"({describe_phases(log_phases(log_text))})")
            backups["nightly run with the off-site copy"] = seconds
        seconds, out, log_text = timed_command(work / "config.json", "restore", "--from", "local")
        restores["restore from the local repository"] = seconds
        rows = json.loads(out.strip().splitlines()[-1])["rows"]
        lines.append(f"restore, local: {seconds:.1f} s, {rows} rows ({restore_phases(log_text, seconds)})")
        if offsite is not None:
            seconds, out, log_text = timed_command(work / "config.json", "restore", "--from", "offsite")
            restores["restore from the off-site repository"] = seconds
            lines.append(f"restore, off-site: {seconds:.1f} s ({restore_phases(log_text, seconds)})")
    return backups, restores, lines


def molecule_running() -> bool:
    """Whether a Molecule command (test, converge, verify...) runs on this machine."""
    return subprocess.run(["pgrep", "-f", "(^|/)molecule [a-z]"], capture_output=True, check=False).returncode == 0


BUSY: list[str] = []  # the stages during which a Molecule run was going on


def note_molecule(stage: str) -> None:
    if molecule_running() and stage not in BUSY:
        BUSY.append(stage)


def wait_for_molecule(minutes: int) -> str:
    """Poll once a minute until no Molecule run is going on; a note when it gave up."""
    for _ in range(minutes):
        if not molecule_running():
            return ""
        print("a Molecule run is going on; waiting a minute", flush=True)
        time.sleep(60)
    return f"a Molecule run was still going on after {minutes} minutes: measured anyway" if molecule_running() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="database size at the newest kept point")
    parser.add_argument("--days", type=int, default=365, help="length of the timeline, ending today")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today(), help=argparse.SUPPRESS)
    parser.add_argument("--inserts-of", choices=("current", "initial"), default="current",
                        help="1 %% a day of the current data (compounding) or of the initial data")
    parser.add_argument("--update-window-days", type=int, default=0,
                        help="update rows created in the last N days only (0: any row)")
    parser.add_argument("--update-pct", type=float, default=UPDATE_PCT, help="rows updated a day, in %% of the data")
    parser.add_argument("--compare-points", type=int, default=4,
                        help="last kept points also stored with pg_dump's default compression")
    parser.add_argument("--wait-molecule", type=int, default=0, help="minutes to wait for a Molecule run to end")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 MB")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the repositories and logs")
    args = parser.parse_args()
    if args.quick:
        args.size_mb = 50
    points = kept_points(timeline(args.today, args.days), KEEP)
    start = args.today - dt.timedelta(days=args.days - 1)
    policy = ", ".join(f"{name} {count}" for name, count in KEEP.items())
    print(f"timeline {start} to {args.today}: {len(points)} kept points ({policy})")
    print(f"inserts: {INSERT_PCT} % a day of the {args.inserts_of} data"
          + (" (compounding: the last days change by 1 % of the data, as the issue says)"
             if args.inserts_of == "current" else " (linear growth)")
          + f"; updates: {args.update_pct} % a day of the same, in place, drawn from "
          + (f"the rows created in the last {args.update_window_days} days" if args.update_window_days > 0
             else "every row"))
    note = wait_for_molecule(args.wait_molecule) if args.wait_molecule else ""
    wall = time.monotonic()  # the benchmark's own time, without the wait
    work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    work.chmod(0o755)
    (work / "password").write_text("bench-only\n")
    log = ab.Log(io.StringIO())
    config = ab.parse_config(command_config(work))
    config.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        start_postgres()
        per_row, empty = bytes_per_row()
        final_rows = int((args.size_mb * 1024 * 1024 - empty) / per_row)
        initial = max(1000, round(final_rows / growth_factor((points[-1] - start).days, args.inserts_of)))
        print(f"target {args.size_mb} MiB at the newest point: {per_row:.0f} bytes a row with its index entries, "
              f"{initial} rows at the start, about {final_rows} at the end", flush=True)
        sim = Simulation(start, initial, args.inserts_of, args.update_window_days, args.update_pct)
        sim.load()
        print(f"start: {initial} rows, {mb(database_bytes())} MB", flush=True)
        stored, zsizes = store_points(sim, points, config, args.compare_points, work, log)
        local = ab.Restic(config, config.local)
        before = len(local.snapshots())
        started = time.monotonic()
        ab.apply_retention(local, config.keep)
        prune_seconds = time.monotonic() - started
        after = len(local.snapshots())
        repo = disk_bytes(work / "repo")
        anchor = sum(point.anchor_bytes for point in stored)
        storage_ratio = ratio(repo, anchor)
        compare = [point.repo_bytes for point in stored[-len(zsizes):]] if zsizes else []
        final_db = database_bytes()
        backups, restores, lines = timings(sim, work, args.today)
    finally:
        sh("docker", "rm", "-f", "--volumes", CONTAINER, check=False)
        if args.keep_workdir:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    last = stored[-1]
    print(f"\n== storage after {len(stored)} kept points and forget --prune ({prune_seconds:.0f} s; "
          f"it kept {after} of {before} snapshots)")
    print(f"database at the newest point: {mb(last.db_bytes)} MB ({last.rows} rows, {sim.updated} row updates "
          f"in all); its dump {mb(last.dump_bytes)} MB (custom format, --compress=0); "
          f"gzip -6: {mb(last.anchor_bytes)} MB")
    print(f"restic repository on disk:      {mb(repo):>9} MB")
    print(f"anchor, a .sql.gz a kept point: {mb(anchor):>9} MB")
    print(f"ratio:                          {storage_ratio:9.3f}x")
    if zsizes:
        print(f"growth per kept point over the last {len(zsizes)} (the nightly cost): --compress=0 "
              f"{mb(growth_per_point(compare))} MB, pg_dump's default (gzip 6) {mb(growth_per_point(zsizes))} MB; "
              f"the anchor adds {mb(sum(p.anchor_bytes for p in stored[-len(zsizes) + 1:]) / (len(zsizes) - 1))} MB")
    print(f"the newest point: pg_dump {last.seconds['dump']:.1f} s, its check {last.seconds['check']:.1f} s, "
          f"restic backup {last.seconds['restic']:.1f} s; the anchor's pg_dump | gzip {last.seconds['anchor']:.1f} s")
    print(f"\n== the command on the final database ({mb(final_db)} MB), a simulated day after the newest point")
    for line in lines:
        print(line)
    if note:
        print(note)
    if BUSY:
        print(f"a Molecule run was going on while {' and '.join(BUSY)}: the times are pessimistic")
    print(f"\nwall time {(time.monotonic() - wall) / 60:.1f} min")
    checks = verdicts(storage_ratio, {k: v for k, v in backups.items() if "nightly" in k}, restores)
    print("\ntargets:")
    for text, met in checks:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
    return 0 if all(met for _, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
