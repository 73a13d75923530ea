#!/usr/bin/python3
"""antone-backup: the stack's PostgreSQL database and state volumes, backed up with restic.

Installed by the antone.infra.backup role as /usr/local/sbin/antone-backup and driven by the
JSON configuration it writes (/etc/antone-backup/config.json). Standard library only.

    antone-backup run [--tag TAG] [--wait SECONDS]   dump, store locally, copy off-site, prune
    antone-backup init                                create the repositories that are missing
    antone-backup status [--json]                     the last run and the last success
    antone-backup list [--json]                       snapshots of both repositories
    antone-backup restore-test [--from REPO]          newest snapshot into a throwaway PostgreSQL
    antone-backup restore [--from REPO] [--snapshot ID]   a snapshot into the stack's database

One run: lock, ping start, dump the database once (pg_dump in custom format inside one exported
snapshot, with the row count of every table read in that same snapshot, and pg_dumpall
--globals-only), check the dump, store it and the state volumes in the local restic repository,
copy the new snapshots to the off-site one, apply the retention to both, write the status file,
ping success or failure. Credentials are read from files (restic --password-file, an AWS
shared-credentials file for B2's S3 API); no secret is put on a command line.

Exit codes: 0 success, 1 failure, 2 configuration error, 3 a restore failed before it changed the
database, 75 another run holds the lock.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CONFIG_FILE = "/etc/antone-backup/config.json"
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_UNTOUCHED = 3  # restore: failed before the database was changed
EXIT_LOCKED = 75
POSTGRES_TAG = "antone-postgres"
VOLUME_TAG_PREFIX = "volume:"
DUMP_FILE = "database.dump"
GLOBALS_FILE = "globals.sql"
MANIFEST_FILE = "manifest.json"
PING_BODY_LIMIT = 100_000  # healthchecks.io keeps the first 100 kB of a ping body
RESTORE_TEST_LABEL = "org.antone.backup.restore-test"
SAFETY_TAG = "pre-restore"  # the backup restore.yml takes before replacing a database: never "latest"

# Row counts of every ordinary table, read inside the dump's own snapshot: one line of JSON.
ROW_COUNTS_SQL = """\
SELECT coalesce(json_object_agg(t, n ORDER BY t), '{}') FROM (
  SELECT format('%I.%I', ns.nspname, c.relname) AS t,
         (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', ns.nspname, c.relname),
          false, true, '')))[1]::text::bigint AS n
  FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
  WHERE c.relkind = 'r' AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
    AND ns.nspname NOT LIKE 'pg\\_toast%' AND ns.nspname NOT LIKE 'pg\\_temp%') AS counts;"""


class BackupError(Exception):
    """A failure with a message meant for the person reading the log."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Repository:
    """One restic repository: where it is, and the files that unlock it."""

    name: str  # "local" or "offsite"
    location: str
    password_file: str
    credentials_file: str = ""  # AWS shared-credentials file (S3 API)
    backend: str = "local"  # local, s3 or b2

    def env(self) -> dict[str, str]:
        """The environment restic needs for this repository: paths to files, never a secret."""
        env = {"RESTIC_REPOSITORY": self.location, "RESTIC_PASSWORD_FILE": self.password_file}
        if self.backend == "s3" and self.credentials_file:
            env["AWS_SHARED_CREDENTIALS_FILE"] = self.credentials_file
            env["AWS_PROFILE"] = "default"
        if self.backend == "b2" and self.credentials_file:
            # restic's native b2 backend reads its keys from the environment only: its own child's.
            env.update(read_b2_credentials(self.credentials_file))
        return env


@dataclass(frozen=True)
class Config:
    """What config.json holds (written by the backup role)."""

    project: str
    host: str
    postgres_service: str
    postgres_user: str
    postgres_db: str
    postgres_image: str
    volumes: tuple[tuple[str, str], ...]  # (key, Docker volume name)
    local: Repository
    offsite: Repository | None
    keep: dict[str, int]
    work_dir: Path
    status_file: Path
    lock_file: Path
    lock_wait: int
    dump_compression: int
    ping_backup: str = ""
    ping_restore_test: str = ""
    restic: str = "restic"
    docker: str = "docker"
    cache_dir: str = ""
    log_tail_lines: int = 40
    restore_test_timeout: int = 300
    offsite_wait: int = 300


def load_config(path: str) -> Config:
    """Read and check config.json; every mistake becomes a BackupError naming the key."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"cannot read the configuration {path}: {error}") from error
    return parse_config(raw)


def parse_config(raw: dict[str, Any]) -> Config:
    """config.json's mapping as a Config; a missing or wrong key is a BackupError that names it."""
    try:
        password_file = str(raw["password_file"])
        offsite_raw = raw.get("offsite") or None
        offsite = None
        if offsite_raw:
            offsite = Repository("offsite", str(offsite_raw["repository"]), password_file,
                                 str(offsite_raw.get("credentials_file", "")), str(offsite_raw.get("backend", "s3")))
        keep = {k: int(v) for k, v in dict(raw.get("retention", {})).items() if int(v) > 0}
        pings = read_json_file(raw.get("healthchecks_file", ""))
        config = Config(
            project=str(raw["project"]),
            host=str(raw["host"]),
            postgres_service=str(raw["postgres"]["service"]),
            postgres_user=str(raw["postgres"]["user"]),
            postgres_db=str(raw["postgres"]["db"]),
            postgres_image=str(raw["postgres"]["image"]),
            volumes=tuple(sorted((str(k), str(v)) for k, v in dict(raw.get("volumes") or {}).items())),
            local=Repository("local", str(raw["local_repository"]), password_file),
            offsite=offsite,
            keep=keep,
            work_dir=Path(raw["work_dir"]),
            status_file=Path(raw["status_file"]),
            lock_file=Path(raw["lock_file"]),
            lock_wait=int(raw.get("lock_wait", 0)),
            dump_compression=int(raw.get("dump_compression", 0)),
            ping_backup=str(pings.get("backup", "")),
            ping_restore_test=str(pings.get("restore_test", "")),
            restic=str(raw.get("restic", "restic")),
            docker=str(raw.get("docker", "docker")),
            cache_dir=str(raw.get("cache_dir", "")),
            log_tail_lines=int(raw.get("log_tail_lines", 40)),
            restore_test_timeout=int(raw.get("restore_test_timeout", 300)),
            offsite_wait=int(raw.get("offsite_wait", 300)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BackupError(f"configuration: missing or invalid {error}") from error
    if not config.keep.get("daily") and not config.keep.get("last"):
        raise BackupError("configuration: retention must keep at least one daily snapshot")
    if config.offsite and config.offsite.backend not in ("s3", "b2"):
        raise BackupError(f"configuration: offsite backend must be s3 or b2, not {config.offsite.backend!r}")
    return config


def read_json_file(path: str) -> dict[str, Any]:
    """A JSON mapping from a file, or {} when no file is named or it does not exist."""
    if not path or not Path(path).is_file():
        return {}
    return dict(json.loads(Path(path).read_text()))


def read_b2_credentials(path: str) -> dict[str, str]:
    """B2_ACCOUNT_ID and B2_ACCOUNT_KEY from an AWS-style credentials file."""
    values = parse_credentials(Path(path).read_text())
    return {"B2_ACCOUNT_ID": values.get("aws_access_key_id", ""),
            "B2_ACCOUNT_KEY": values.get("aws_secret_access_key", "")}


def parse_credentials(text: str) -> dict[str, str]:
    """The [default] section of an AWS shared-credentials file."""
    values: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line and section == "default":
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


# ---------------------------------------------------------------- pure helpers


def endpoint_of(location: str) -> str:
    """The URL to probe for a restic repository location: s3:URL/bucket/path -> URL's origin;
    b2:bucket:path -> B2's API; local paths -> ''."""
    if location.startswith("s3:"):
        url = location[3:]
        if not url.startswith(("http://", "https://")):
            url = "https://" + url
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/"
    if location.startswith("b2:"):
        return "https://api.backblazeb2.com/"
    return ""


def forget_args(keep: dict[str, int]) -> list[str]:
    """restic forget's --keep-* options for a retention policy, in a stable order."""
    order = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
    return [arg for name in order if keep.get(name, 0) > 0 for arg in (f"--keep-{name}", str(keep[name]))]


def tail(text: str, lines: int) -> str:
    """The last lines of a log."""
    return "\n".join(text.splitlines()[-lines:])


def ping_url(base: str, kind: str) -> str:
    """healthchecks.io's URL for a ping: base for success, base/start, base/fail."""
    base = base.rstrip("/")
    return base if kind == "success" else f"{base}/{kind}"


def newest(snapshots: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The snapshot with the latest time, or None."""
    return max(snapshots, key=lambda s: s["time"], default=None)


def count_mismatches(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """Each table whose row count differs from the manifest, or is missing on one side."""
    problems = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append(f"{table}: in the manifest ({expected[table]} rows), missing after restore")
        elif table not in expected:
            problems.append(f"{table}: restored ({actual[table]} rows), not in the manifest")
        elif expected[table] != actual[table]:
            problems.append(f"{table}: {actual[table]} rows restored, {expected[table]} in the manifest")
    return problems


def split_ident(qualified: str) -> list[str]:
    """'"My Schema"."t"' -> ['My Schema', 't'] (format('%I.%I') quotes only what needs it)."""
    parts, current, quoted, i = [], "", False, 0
    while i < len(qualified):
        ch = qualified[i]
        if quoted and ch == '"' and qualified[i + 1:i + 2] == '"':
            current += '"'
            i += 1
        elif ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    return [*parts, current]


def dump_problems(manifest_tables: set[str], listing: str) -> list[str]:
    """What `pg_restore --list` shows missing from a dump: a counted table without its TABLE DATA.
    The listing prints names unquoted ("TABLE DATA My Schema t owner"), so each table is looked for
    by its own schema and name rather than by splitting the line."""
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    missing = []
    for table in sorted(manifest_tables):
        schema, name = (split_ident(table) + [""])[:2]
        needle = f" TABLE DATA {schema} {name} "
        if not any(needle in entry + " " for entry in entries):
            missing.append(table)
    return [f"the dump has no data for {', '.join(missing)}"] if missing else []


def quote_ident(name: str) -> str:
    """An SQL identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def globals_without_password(sql: str, user: str) -> str:
    """pg_dumpall --globals-only output without the PASSWORD of one role's ALTER ROLE line."""
    prefixes = tuple(f"ALTER ROLE {name} WITH " for name in (user, quote_ident(user)))
    lines = []
    for line in sql.splitlines():
        if line.startswith(prefixes):
            line = re.sub(r" PASSWORD '(?:[^']|'')*'", "", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- running things


class Log:
    """Lines with a time stamp, to stderr and to a buffer whose tail goes into the fail ping."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self.stream = stream
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        line = f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} {message}"
        self.lines.append(line)
        print(line, file=self.stream, flush=True)

    def text(self) -> str:
        return "\n".join(self.lines)


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None, input_text: str | None = None, what: str = "") -> str:
    """Run a command; its output as text, or a BackupError quoting its error output."""
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run(list(cmd), env=full_env, stdin=stdin, input=input_text.encode() if input_text else None,
                            stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                            check=False)
    if result.returncode != 0:
        detail = tail(result.stderr.decode(errors="replace").strip(), 15)
        raise BackupError(f"{what or cmd[0]} failed (exit {result.returncode}): {detail}")
    return result.stdout.decode(errors="replace") if result.stdout is not None else ""


class Restic:
    """restic against one repository."""

    def __init__(self, config: Config, repo: Repository) -> None:
        self.config = config
        self.repo = repo

    def base(self) -> list[str]:
        cmd = [self.config.restic]
        if self.config.cache_dir:
            cmd += ["--cache-dir", self.config.cache_dir]
        return cmd

    def __call__(self, *args: str, what: str = "", stdout: IO[bytes] | None = None) -> str:
        return run([*self.base(), *args], env=self.repo.env(), stdout=stdout,
                   what=what or f"restic {args[0]} ({self.repo.name})")

    def exists(self) -> bool:
        try:
            self("cat", "config")
        except BackupError:
            return False
        return True

    def init(self, chunker_from: Restic | None = None) -> bool:
        """Initialise the repository unless it exists; True when this call created it."""
        if self.exists():
            return False
        args = ["init", "--repository-version", "2"]
        env = self.repo.env()
        if chunker_from is not None:
            # The same chunker parameters as the source, so that `restic copy` keeps deduplicating.
            args += ["--copy-chunker-params", "--from-repo", chunker_from.repo.location,
                     "--from-password-file", chunker_from.repo.password_file]
            env = {**chunker_from.repo.env(), **env}
            env.pop("RESTIC_REPOSITORY", None)
            args += ["--repo", self.repo.location]
        run([*self.base(), *args], env=env, what=f"restic init ({self.repo.name})")
        return True

    def snapshots(self, *filters: str) -> list[dict[str, Any]]:
        return json.loads(self("snapshots", "--json", *filters) or "[]") or []


# ---------------------------------------------------------------- docker and PostgreSQL


def postgres_container(config: Config) -> str:
    """The id of the stack's running PostgreSQL container, found by compose's labels."""
    out = run([config.docker, "ps", "--quiet",
               "--filter", f"label=com.docker.compose.project={config.project}",
               "--filter", f"label=com.docker.compose.service={config.postgres_service}"],
              what="docker ps").split()
    if not out:
        raise BackupError(f"no running container for service {config.postgres_service!r} of project "
                          f"{config.project!r}: is the stack up?")
    return out[0]


def exec_cmd(config: Config, container: str, *args: str, interactive: bool = False) -> list[str]:
    return [config.docker, "exec", *(["--interactive"] if interactive else []), container, *args]


def volume_mountpoint(config: Config, name: str) -> str:
    out = run([config.docker, "volume", "inspect", "--format", "{{ .Mountpoint }}", name],
              what=f"docker volume inspect {name}").strip()
    if not out:
        raise BackupError(f"volume {name} has no mount point")
    return out


class SnapshotSession:
    """A psql session holding a REPEATABLE READ transaction whose snapshot pg_dump imports."""

    def __init__(self, config: Config, container: str) -> None:
        self.process = subprocess.Popen(
            exec_cmd(config, container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                     "-U", config.postgres_user, "-d", config.postgres_db, interactive=True),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, sql: str) -> str:
        """Send one statement and read its one-line answer."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(sql.rstrip() + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            error = self.process.stderr.read() if self.process.stderr else ""
            raise BackupError(f"psql ended early: {tail(error.strip(), 10)}")
        return line.strip()

    def open(self) -> tuple[str, dict[str, int]]:
        """Begin, export the snapshot, count rows in it: (snapshot id, row counts)."""
        assert self.process.stdin
        self.process.stdin.write("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\n")
        snapshot = self.ask("SELECT pg_export_snapshot();")
        counts = json.loads(self.ask(ROW_COUNTS_SQL.replace("\n", " ")))
        return snapshot, {str(k): int(v) for k, v in counts.items()}

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.process.stdin
                self.process.stdin.write("COMMIT;\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def dump_database(config: Config, container: str, staging: Path, log: Log) -> dict[str, Any]:
    """pg_dump and pg_dumpall --globals-only into staging, with the manifest; checked before returning."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=0o700)
    session = SnapshotSession(config, container)
    started = time.monotonic()
    try:
        snapshot, counts = session.open()
        log(f"snapshot {snapshot} exported; {len(counts)} tables, {sum(counts.values())} rows")
        with open(staging / DUMP_FILE, "wb") as out:
            run(exec_cmd(config, container, "pg_dump", "--format=custom", f"--compress={config.dump_compression}",
                         f"--snapshot={snapshot}", "-U", config.postgres_user, "-d", config.postgres_db),
                stdout=out, what="pg_dump")
    finally:
        session.close()
    with open(staging / GLOBALS_FILE, "wb") as out:
        run(exec_cmd(config, container, "pg_dumpall", "--globals-only", "-U", config.postgres_user,
                     "-l", config.postgres_db), stdout=out, what="pg_dumpall --globals-only")
    dump_bytes = (staging / DUMP_FILE).stat().st_size
    check_dump(config, container, staging / DUMP_FILE, set(counts))
    manifest = {
        "database": config.postgres_db,
        "user": config.postgres_user,
        "image": config.postgres_image,
        "snapshot": snapshot,
        "dump_compression": config.dump_compression,
        "dump_bytes": dump_bytes,
        "globals_bytes": (staging / GLOBALS_FILE).stat().st_size,
        "row_counts": counts,
        "dump_seconds": round(time.monotonic() - started, 1),
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"dump checked: {dump_bytes} bytes (compression {config.dump_compression}), "
        f"{manifest['dump_seconds']} s")
    return manifest


def check_dump(config: Config, container: str, dump: Path, tables: set[str]) -> None:
    """Refuse a dump pg_restore cannot read to the end, or whose contents lack a counted table."""
    if dump.stat().st_size == 0:
        raise BackupError("the dump is empty")
    with open(dump, "rb") as source:
        listing = run(exec_cmd(config, container, "pg_restore", "--list", interactive=True), stdin=source,
                      what="pg_restore --list (checking the dump)")
    problems = dump_problems(tables, listing)
    if problems:
        raise BackupError("the dump is incomplete: " + "; ".join(problems))
    with open(dump, "rb") as source:  # read every byte of it: a truncated archive fails here
        run(exec_cmd(config, container, "pg_restore", "--file=/dev/null", interactive=True), stdin=source,
            what="pg_restore (reading the whole dump)")


# ---------------------------------------------------------------- status and pings


def reachable(url: str) -> str:
    """'' when an HTTP server answers at url (any status), else why not."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10):  # noqa: S310
            return ""
    except urllib.error.HTTPError:
        return ""  # it answered
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def wait_for_endpoint(repo: Repository, seconds: int, log: Log) -> None:
    """Fail fast and clearly when the off-site endpoint does not answer within `seconds`: restic
    itself would retry a refused connection for many minutes before giving up."""
    url = endpoint_of(repo.location)
    if not url:
        return
    deadline = time.monotonic() + seconds
    while True:
        why = reachable(url)
        if not why:
            return
        if time.monotonic() >= deadline:
            raise BackupError(f"the {repo.name} repository's endpoint {url} did not answer within {seconds} s: {why}")
        log(f"the {repo.name} endpoint {url} does not answer ({why}); trying again")
        time.sleep(min(10, max(1, seconds // 10)))


def ping(url: str, kind: str, body: str, log: Log) -> None:
    """Ping healthchecks.io (kind: start, success, fail); a failed ping is logged, never fatal."""
    if not url:
        return
    data = body.encode()[-PING_BODY_LIMIT:] if body else b""
    for attempt in range(5):
        try:
            request = urllib.request.Request(ping_url(url, kind), data=data, method="POST",
                                             headers={"User-Agent": "antone-backup"})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - URL from root's config
                response.read()
            return
        except (urllib.error.URLError, OSError) as error:
            if attempt == 4:
                log(f"warning: ping {kind} failed: {error}")
            time.sleep(min(2 ** attempt, 8) if attempt < 4 else 0)


def read_status(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (mode 0640)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=2, sort_keys=True) + "\n")
    tmp.chmod(0o640)
    tmp.replace(path)


@contextlib.contextmanager
def locked(path: Path, wait: int, log: Log) -> Iterator[None]:
    """Hold an exclusive lock; wait up to `wait` seconds for another run to finish."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "?"
                if time.monotonic() >= deadline:
                    raise LockBusy(f"another antone-backup run (pid {holder}) holds {path}") from None
                if not announced:
                    log(f"waiting up to {wait} s for the run holding the lock (pid {holder})")
                    announced = True
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


class LockBusy(BackupError):
    """Another run holds the lock."""


# ---------------------------------------------------------------- the commands


def restic_for(config: Config) -> tuple[Restic, Restic | None]:
    local = Restic(config, config.local)
    return local, Restic(config, config.offsite) if config.offsite else None


def backup_snapshot(restic: Restic, paths: list[str], tags: list[str], when: str = "") -> str:
    """restic backup of paths; the new snapshot's id."""
    args = ["backup", "--json", "--host", restic.config.host, *[a for t in tags for a in ("--tag", t)]]
    if when:
        args += ["--time", when]
    out = restic(*args, *paths, what=f"restic backup ({restic.repo.name})")
    for line in reversed(out.splitlines()):
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if message.get("message_type") == "summary":
                return full_id(restic, str(message["snapshot_id"]))
    raise BackupError("restic backup printed no summary")


def full_id(restic: Restic, snapshot_id: str) -> str:
    """A snapshot's full id (restic 0.14 prints short ones)."""
    if len(snapshot_id) == 64:
        return snapshot_id
    for snap in restic.snapshots(snapshot_id):
        return str(snap["id"])
    raise BackupError(f"snapshot {snapshot_id} not found in the {restic.repo.name} repository")


def apply_retention(restic: Restic, keep: dict[str, int]) -> None:
    """forget + prune by policy, per group of host and paths (the database, each volume)."""
    restic("forget", "--host", restic.config.host, "--group-by", "host,paths", *forget_args(keep), "--prune",
           what=f"restic forget --prune ({restic.repo.name})")


def command_run(config: Config, args: argparse.Namespace, log: Log) -> int:
    status = read_status(config.status_file)
    started = time.time()
    record: dict[str, Any] = {"started": iso(started), "result": "failure", "host": config.host}
    ping(config.ping_backup, "start", "", log)
    try:
        with locked(config.lock_file, lock_wait(config, args), log):
            backup_once(config, args.tag or [], record, log)
    except LockBusy as error:
        log(f"refused: {error}")
        ping(config.ping_backup, "fail", tail(log.text(), config.log_tail_lines), log)
        return EXIT_LOCKED
    except BackupError as error:
        record["error"] = str(error)
        log(f"FAILED: {error}")
    finished = time.time()
    record.update(finished=iso(finished), duration_seconds=round(finished - started, 1))
    if "error" not in record:
        record["result"] = "success"
    status["last_run"] = record
    if record["result"] == "success":
        status["last_success"] = record
    write_status(config.status_file, status)
    if record["result"] == "success":
        log(f"backup succeeded in {record['duration_seconds']} s")
        ping(config.ping_backup, "success", tail(log.text(), config.log_tail_lines), log)
        return 0
    ping(config.ping_backup, "fail", tail(log.text(), config.log_tail_lines), log)
    return EXIT_FAILURE


def backup_once(config: Config, extra_tags: list[str], record: dict[str, Any], log: Log) -> None:
    """One backup under the lock, filling record as it goes, so that a failure still shows which
    snapshots were made (a failed off-site copy keeps the local ones and applies no retention)."""
    local, offsite = restic_for(config)
    if local.init():
        log(f"initialised the local repository {config.local.location}")
    staging = config.work_dir / "staging" / "postgres"
    manifest = dump_database(config, postgres_container(config), staging, log)
    record.update(row_counts=manifest["row_counts"], dump_bytes=manifest["dump_bytes"],
                  snapshots={"local": {}, "offsite": {}})
    local_ids: dict[str, str] = record["snapshots"]["local"]
    local_ids["postgres"] = backup_snapshot(local, [str(staging)], [POSTGRES_TAG, *extra_tags])
    log(f"local snapshot {local_ids['postgres'][:8]} (database)")
    for key, name in config.volumes:
        local_ids[key] = backup_snapshot(local, [volume_mountpoint(config, name)],
                                         [VOLUME_TAG_PREFIX + key, *extra_tags])
        log(f"local snapshot {local_ids[key][:8]} (volume {name})")
    shutil.rmtree(staging, ignore_errors=True)
    record["local_repository_bytes"] = repository_size(local)
    if offsite is not None:
        try:
            wait_for_endpoint(offsite.repo, config.offsite_wait, log)
            if offsite.init(chunker_from=local):
                log(f"initialised the off-site repository {offsite.repo.location}")
            offsite("copy", "--from-repo", config.local.location, "--from-password-file",
                    config.local.password_file, *local_ids.values(), what="restic copy (to off-site)")
            copies = {s.get("original"): s["id"] for s in offsite.snapshots("--host", config.host)}
        except BackupError as error:
            raise BackupError(f"{error} - the local snapshots are kept; no retention was applied") from error
        record["snapshots"]["offsite"] = {k: copies.get(v, "") for k, v in local_ids.items()}
        missing = [k for k, v in record["snapshots"]["offsite"].items() if not v]
        if missing:
            raise BackupError(f"restic copy left no off-site copy of {missing}; no retention was applied")
        log("copied to the off-site repository: "
            + ", ".join(f"{k} {v[:8]}" for k, v in record["snapshots"]["offsite"].items()))
    apply_retention(local, config.keep)
    if offsite is not None:
        apply_retention(offsite, config.keep)
    log(f"retention applied to {'both repositories' if offsite else 'the local repository'} "
        f"({' '.join(forget_args(config.keep))})")


def repository_size(restic: Restic) -> int:
    with contextlib.suppress(BackupError, ValueError, KeyError):
        return int(json.loads(restic("stats", "--json", "--mode", "raw-data"))["total_size"])
    return -1


def command_init(config: Config, args: argparse.Namespace, log: Log) -> int:
    """Create whichever repository is missing (the off-site one with the local one's chunker)."""
    local, offsite = restic_for(config)
    created: dict[str, bool] = {}
    try:
        with locked(config.lock_file, lock_wait(config, args), log):
            created["local"] = local.init()
            if offsite is not None:
                wait_for_endpoint(offsite.repo, config.offsite_wait, log)
                created["offsite"] = offsite.init(chunker_from=local)
    except BackupError as error:
        log(f"init failed: {error}")
        return EXIT_LOCKED if isinstance(error, LockBusy) else EXIT_FAILURE
    print(json.dumps({"created": sorted(k for k, v in created.items() if v), "repositories": sorted(created)}))
    return 0


def command_status(config: Config, args: argparse.Namespace, log: Log) -> int:
    status = read_status(config.status_file)
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        for key in ("last_run", "last_success", "last_restore_test"):
            entry = status.get(key)
            if not entry:
                print(f"{key}: none")
                continue
            print(f"{key}: {entry.get('result')} at {entry.get('finished')} ({entry.get('duration_seconds')} s)"
                  + (f" - {entry['error']}" if entry.get("error") else ""))
            for repo, ids in entry.get("snapshots", {}).items():
                if ids:
                    print(f"  {repo}: " + ", ".join(f"{k} {v[:8]}" for k, v in ids.items()))
    last = status.get("last_run") or {}
    return 0 if last.get("result") == "success" else EXIT_FAILURE


def command_list(config: Config, args: argparse.Namespace, log: Log) -> int:
    listing: dict[str, Any] = {}
    rc = 0
    for restic in filter(None, restic_for(config)):
        try:
            listing[restic.repo.name] = restic.snapshots()
        except BackupError as error:
            listing[restic.repo.name] = {"error": str(error)}
            rc = EXIT_FAILURE
    if args.json:
        print(json.dumps(listing, indent=2, sort_keys=True))
        return rc
    for name, snaps in listing.items():
        print(f"== {name} repository")
        if isinstance(snaps, dict):
            print(f"  {snaps['error']}")
            continue
        for snap in sorted(snaps, key=lambda s: s["time"]):
            print(f"  {snap['short_id']}  {snap['time'][:19]}  {snap.get('hostname', '')}  "
                  f"{','.join(snap.get('tags') or [])}  {' '.join(snap.get('paths') or [])}")
    return rc


def pick_snapshot(restic: Restic, wanted: str, host: str) -> dict[str, Any]:
    """The database snapshot to restore: an id, or latest for the host."""
    snaps = restic.snapshots("--tag", POSTGRES_TAG, *(["--host", host] if host else []))
    if wanted and wanted != "latest":
        for snap in snaps:
            if snap["id"].startswith(wanted) or snap.get("short_id") == wanted:
                return snap
        raise BackupError(f"no database snapshot {wanted} in the {restic.repo.name} repository")
    chosen = newest([s for s in snaps if SAFETY_TAG not in (s.get("tags") or [])])
    if chosen is None:
        raise BackupError(f"the {restic.repo.name} repository has no database snapshot for host {host}")
    return chosen


def fetch_snapshot(restic: Restic, snapshot: dict[str, Any], target: Path) -> tuple[Path, dict[str, Any]]:
    """Restore a database snapshot into target; (folder of its files, manifest)."""
    restic("restore", snapshot["id"], "--target", str(target), what=f"restic restore ({restic.repo.name})")
    found = list(target.rglob(MANIFEST_FILE))
    if len(found) != 1:
        raise BackupError(f"snapshot {snapshot['short_id']} holds no single {MANIFEST_FILE}")
    folder = found[0].parent
    return folder, json.loads(found[0].read_text())


def load_into(config: Config, container: str, folder: Path, manifest: dict[str, Any], log: Log) -> dict[str, int]:
    """Roles, then the database, into a PostgreSQL container; the row counts read back."""
    user, db = manifest["user"], manifest["database"]
    # Roles that exist already (the image's own superuser) report an error and are left as they are;
    # the stack's own user keeps its current password (the vault's), not the one of the backup's day.
    sql = globals_without_password((folder / GLOBALS_FILE).read_text(), user)
    result = subprocess.run(exec_cmd(config, container, "psql", "-X", "-q", "-U", user, "-d", "postgres",
                                     interactive=True), input=sql.encode(), capture_output=True, check=False)
    errors = [l for l in result.stderr.decode(errors="replace").splitlines()
              if "ERROR" in l and "already exists" not in l]
    if result.returncode != 0 or errors:
        raise BackupError("restoring roles failed: " + tail("\n".join(errors), 10))
    run(exec_cmd(config, container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "postgres",
                 "-c", f"DROP DATABASE IF EXISTS {quote_ident(db)} WITH (FORCE)"), what="dropping the database")
    started = time.monotonic()
    with open(folder / DUMP_FILE, "rb") as dump:
        run(exec_cmd(config, container, "pg_restore", "--exit-on-error", "--create", "-U", user, "-d", "postgres",
                     interactive=True), stdin=dump, what="pg_restore")
    log(f"database restored in {time.monotonic() - started:.1f} s")
    return row_counts(config, container, user, db)


def row_counts(config: Config, container: str, user: str, db: str) -> dict[str, int]:
    out = run(exec_cmd(config, container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", user,
                       "-d", db, "-c", ROW_COUNTS_SQL.replace("\n", " ")), what="counting rows")
    return {str(k): int(v) for k, v in json.loads(out.strip() or "{}").items()}


def lock_wait(config: Config, args: argparse.Namespace) -> int:
    """Seconds to wait for the lock: --wait, else the configuration's."""
    return args.wait if args.wait is not None else config.lock_wait


def source_repository(config: Config, name: str | None, log: Log) -> Restic:
    """The repository to restore from (default: off-site when there is one), its endpoint answering."""
    local, offsite = restic_for(config)
    name = name or ("offsite" if offsite else "local")
    if name == "offsite" and offsite is None:
        raise BackupError("no off-site repository is configured")
    restic = offsite if name == "offsite" and offsite else local
    wait_for_endpoint(restic.repo, config.offsite_wait, log)
    return restic


def check_counts(manifest: dict[str, Any], counts: dict[str, int]) -> None:
    """Raise when the restored row counts differ from the snapshot's manifest."""
    problems = count_mismatches(manifest["row_counts"], counts)
    if problems:
        raise BackupError("row counts differ from the manifest: " + "; ".join(problems))


@contextlib.contextmanager
def throwaway_postgres(config: Config, manifest: dict[str, Any], log: Log) -> Iterator[str]:
    """A PostgreSQL container of the stack's image on an isolated network; removed afterwards."""
    name = f"antone-restore-test-{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="antone-restore-test-"))
    password = workdir / "password"
    password.write_text(secrets.token_urlsafe(24))
    password.chmod(0o644)  # the entry point reads it as root; the folder is root's alone (0700)
    try:
        run([config.docker, "network", "create", "--internal", "--label", f"{RESTORE_TEST_LABEL}=1", name],
            what="docker network create")
        run([config.docker, "run", "--detach", "--name", name, "--network", name,
             "--label", f"{RESTORE_TEST_LABEL}=1",
             "--env", f"POSTGRES_USER={manifest['user']}", "--env", f"POSTGRES_DB={manifest['database']}",
             "--env", "POSTGRES_PASSWORD_FILE=/run/antone-restore-test/password",
             "--volume", f"{password}:/run/antone-restore-test/password:ro",
             config.postgres_image], what="docker run (throwaway PostgreSQL)")
        wait_ready(config, name, manifest["user"], config.restore_test_timeout)
        log(f"throwaway PostgreSQL {name} ready ({config.postgres_image})")
        yield name
    finally:
        cleanup_throwaways(config, name)
        shutil.rmtree(workdir, ignore_errors=True)


def wait_ready(config: Config, container: str, user: str, timeout: int) -> None:
    """Until the container's final server accepts TCP (the init server listens on no address)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(exec_cmd(config, container, "pg_isready", "-h", "127.0.0.1", "-U", user),
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return
        state = subprocess.run([config.docker, "inspect", "--format", "{{ .State.Running }}", container],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state == "false":
            logs = subprocess.run([config.docker, "logs", "--tail", "20", container], capture_output=True,
                                  text=True, check=False)
            raise BackupError(f"the throwaway PostgreSQL stopped: {tail(logs.stdout + logs.stderr, 20)}")
        time.sleep(1)
    raise BackupError(f"the throwaway PostgreSQL was not ready within {timeout} s")


def cleanup_throwaways(config: Config, name: str = "") -> None:
    """Remove restore-test containers and networks: the one named, or every leftover."""
    filters = ["--filter", f"label={RESTORE_TEST_LABEL}"] + (["--filter", f"name=^{name}$"] if name else [])
    ids = subprocess.run([config.docker, "ps", "--all", "--quiet", *filters], capture_output=True, text=True,
                         check=False).stdout.split()
    if ids:
        subprocess.run([config.docker, "rm", "--force", "--volumes", *ids], capture_output=True, check=False)
    nets = subprocess.run([config.docker, "network", "ls", "--quiet", *filters], capture_output=True, text=True,
                          check=False).stdout.split()
    if nets:
        subprocess.run([config.docker, "network", "rm", *nets], capture_output=True, check=False)


def command_restore_test(config: Config, args: argparse.Namespace, log: Log) -> int:
    started = time.time()
    ping(config.ping_restore_test, "start", "", log)
    try:
        with locked(config.lock_file, lock_wait(config, args), log):
            cleanup_throwaways(config)
            restic = source_repository(config, args.source, log)
            snapshot = pick_snapshot(restic, "latest", config.host)
            log(f"restore test of {restic.repo.name} snapshot {snapshot['short_id']} from {snapshot['time'][:19]}")
            with tempfile.TemporaryDirectory(prefix="antone-restore-", dir=str(config.work_dir)) as tmp:
                folder, manifest = fetch_snapshot(restic, snapshot, Path(tmp))
                with throwaway_postgres(config, manifest, log) as container:
                    counts = load_into(config, container, folder, manifest, log)
            check_counts(manifest, counts)
    except LockBusy as error:
        log(f"refused: {error}")
        ping(config.ping_restore_test, "fail", tail(log.text(), config.log_tail_lines), log)
        return EXIT_LOCKED
    except BackupError as error:
        log(f"RESTORE TEST FAILED: {error}")
        record_restore_test(config, "failure", started, str(error))
        ping(config.ping_restore_test, "fail", tail(log.text(), config.log_tail_lines), log)
        return EXIT_FAILURE
    log(f"restore test passed: {len(counts)} tables, {sum(counts.values())} rows match the manifest "
        f"({time.time() - started:.1f} s)")
    record_restore_test(config, "success", started, "", snapshot["short_id"])
    ping(config.ping_restore_test, "success", tail(log.text(), config.log_tail_lines), log)
    return 0


def record_restore_test(config: Config, result: str, started: float, error: str, snapshot: str = "") -> None:
    status = read_status(config.status_file)
    status["last_restore_test"] = {"result": result, "started": iso(started), "finished": iso(time.time()),
                                   "duration_seconds": round(time.time() - started, 1), "snapshot": snapshot,
                                   **({"error": error} if error else {})}
    write_status(config.status_file, status)


def command_restore(config: Config, args: argparse.Namespace, log: Log) -> int:
    """Replace the stack's database with a snapshot (the writers must be stopped first). Exit 3
    when it failed before the database was touched, 1 when it failed after."""
    started = time.monotonic()
    touched = False
    try:
        with locked(config.lock_file, lock_wait(config, args), log):
            restic = source_repository(config, args.source, log)
            snapshot = pick_snapshot(restic, args.snapshot, args.host or config.host)
            log(f"restoring {restic.repo.name} snapshot {snapshot['short_id']} from {snapshot['time'][:19]}")
            with tempfile.TemporaryDirectory(prefix="antone-restore-", dir=str(config.work_dir)) as tmp:
                folder, manifest = fetch_snapshot(restic, snapshot, Path(tmp))
                container = postgres_container(config)
                touched = True
                counts = load_into(config, container, folder, manifest, log)
            check_counts(manifest, counts)
    except BackupError as error:
        log(f"RESTORE FAILED: {error}")
        if isinstance(error, LockBusy):
            return EXIT_LOCKED
        if not touched:
            log("the database was not changed")
            return EXIT_UNTOUCHED
        return EXIT_FAILURE
    result = {"snapshot": snapshot["short_id"], "snapshot_time": snapshot["time"], "tables": len(counts),
              "rows": sum(counts.values()), "seconds": round(time.monotonic() - started, 1)}
    log(f"restore done: {json.dumps(result, sort_keys=True)}")
    print(json.dumps(result, sort_keys=True))
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="antone-backup", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--config", default=os.environ.get("ANTONE_BACKUP_CONFIG", CONFIG_FILE))
    sub = main.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="back up now")
    run_p.add_argument("--tag", action="append", help="an extra tag for the snapshots (repeatable)")
    status_p = sub.add_parser("status", help="the last run and the last success; exit 1 if the last run failed")
    status_p.add_argument("--json", action="store_true")
    init_p = sub.add_parser("init", help="create the repositories that do not exist yet")
    list_p = sub.add_parser("list", help="snapshots of both repositories")
    list_p.add_argument("--json", action="store_true")
    test_p = sub.add_parser("restore-test", help="restore the newest snapshot into a throwaway PostgreSQL")
    restore_p = sub.add_parser("restore", help="replace the stack's database with a snapshot")
    restore_p.add_argument("--snapshot", default="latest", help="snapshot id, or latest")
    restore_p.add_argument("--host", default="", help="the host the snapshot was made on (default: this one)")
    for sub_p in (test_p, restore_p):
        sub_p.add_argument("--from", dest="source", choices=("local", "offsite"),
                           help="repository to restore from (default: offsite when configured)")
    for sub_p in (run_p, init_p, test_p, restore_p):
        sub_p.add_argument("--wait", type=int, default=None, help="seconds to wait for another run's lock")
    return main


COMMANDS = {"run": command_run, "init": command_init, "status": command_status, "list": command_list,
            "restore-test": command_restore_test, "restore": command_restore}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)
    log = Log()
    try:
        config = load_config(args.config)
    except BackupError as error:
        log(f"antone-backup: {error}")
        return EXIT_CONFIG
    config.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return COMMANDS[args.command](config, args, log)


if __name__ == "__main__":
    sys.exit(main())
