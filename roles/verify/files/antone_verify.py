#!/usr/bin/env python3
"""antone-verify: is the deployed stack what the inventory declares, and is it healthy?

    antone-verify [--config FILE] [--json] [--ping] [--persistence]

Reads the expectations the verify role wrote (/etc/antone/verify.json, root only), looks at the host
and prints one table: every compose service running, healthy and not restarting in a loop;
PostgreSQL reached over the stack's network from a helper container of its own image, running with
the tuned settings; each HTTP check answered over that network (the one the tunnel uses); the
tunnel ready; each state volume present, external and mounted; the backup cron entries and the
newest backup; the mode and owner of every env and secret file; nothing but SSH (and what the
inventory allows) listening on a non-loopback address; a pending reboot.

--persistence also writes a row, restarts the stack, waits for it and reads the row back.
--ping reports to healthchecks.io when the configuration names a URL (the body is the table).
Exit status: 0 nothing failed (warnings allowed), 1 a check failed (a check that could not look fails
its own row), 2 the configuration is unusable, 3 antone-verify itself broke.
Every failure says where to look. No secret is printed, and none is passed on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import grp
import re
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Callable

DEFAULT_CONFIG = "/etc/antone/verify.json"
OK, WARN, FAIL = "ok", "warn", "fail"
DHCP_CLIENT_PORTS = {("udp", 68), ("udp", 546)}  # a DHCP client's socket answers only its server
PING_BODY_LIMIT = 100_000  # healthchecks.io keeps the first 100 kB of a ping's body
LOOP_WINDOW = 600  # seconds: restarts count as a loop while the container's current start is this recent
EXIT_BROKEN = 3  # a check could not run (its own error, not the stack's)
MEMORY_UNITS_KB = {"B": 1 / 1024, "kB": 1, "8kB": 8, "MB": 1024, "16MB": 16 * 1024, "GB": 1024 * 1024}

Row = dict[str, str]
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def row(check: str, status: str, detail: str, look: str = "") -> Row:
    return {"check": check, "status": status, "detail": detail, "look": look if status != OK else ""}


# ---------------------------------------------------------------- pure checks


def started_seconds_ago(state: dict[str, Any], now: float) -> float:
    started = parse_time(str(state.get("StartedAt", ""))[:26].rstrip("Z") + "+00:00") if state.get("StartedAt") else None
    return now - started if started else float("inf")


def container_problem(container: dict[str, Any], expected: dict[str, Any], restart_limit: int, now: float) -> str:
    """Why one container of a service is not well, or ''. A container with a health status (from the
    compose file or its image) must be healthy; Docker's restarts count as a loop only while the
    container keeps restarting (its current start is recent), not for crashes long past."""
    state = container.get("State", {})
    status = state.get("Status", "unknown")
    health = state.get("Health") or {}
    restarts = int(container.get("RestartCount", 0))
    if state.get("Restarting") or status == "restarting":
        return f"restarting (Docker restarted it {restarts} times)"
    if status != "running":
        return f"{status} (exit code {state.get('ExitCode', '?')})"
    if (health or expected.get("healthcheck")) and health.get("Status") != "healthy":
        last = ((health.get("Log") or [{}])[-1].get("Output") or "").strip().splitlines()
        return f"running but {health.get('Status') or 'without health status'}" + (f": {last[-1][:120]}" if last else "")
    if restarts >= restart_limit and started_seconds_ago(state, now) < LOOP_WINDOW:
        return f"running, but Docker restarted it {restarts} times, the last {started_seconds_ago(state, now):.0f} s ago " \
               "(a restart loop)"
    return ""


def service_rows(config: dict[str, Any], containers: list[dict[str, Any]], now: float | None = None) -> list[Row]:
    """Each expected service: every container of it (replicas too; `compose run` one-offs aside) running,
    healthy and not restarting in a loop."""
    now = time.time() if now is None else now
    project = config["project"]
    by_service: dict[str, list[dict[str, Any]]] = {}
    for container in containers:
        labels = container.get("Config", {}).get("Labels") or {}
        if str(labels.get("com.docker.compose.oneoff", "False")).lower() == "true":
            continue
        by_service.setdefault(labels.get("com.docker.compose.service", ""), []).append(container)
    rows = []
    for name, expected in sorted(config["services"].items()):
        found = by_service.get(name, [])
        check = f"service {name}"
        look = f"docker compose -p {project} logs --tail 50 {name}"
        if not found:
            rows.append(row(check, FAIL, "no container: compose never created it, or it was removed",
                            f"docker compose -p {project} ps --all; re-run the stack role"))
            continue
        problems = [p for c in found if (p := container_problem(c, expected, int(config["restart_limit"]), now))]
        if problems:
            more = f" (and {len(problems) - 1} more of its {len(found)} containers)" if len(problems) > 1 else ""
            rows.append(row(check, FAIL, problems[0] + more, look))
        else:
            healthy = any(c.get("State", {}).get("Health") for c in found)
            rows.append(row(check, OK, ("running, healthy" if healthy else "running")
                            + (f" ({len(found)} containers)" if len(found) > 1 else "")))
    return rows


def container_ips(containers: list[dict[str, Any]], network: str) -> dict[str, str]:
    """Service -> its container's address on the stack's network, or on the first network of its own
    when it has none there (a service that joins only another of the stack's networks)."""
    ips = {}
    for container in containers:
        service = (container.get("Config", {}).get("Labels") or {}).get("com.docker.compose.service", "")
        networks = container.get("NetworkSettings", {}).get("Networks") or {}
        names = ([network] if network in networks else []) + sorted(n for n in networks if n != network)
        addresses = [networks[n].get("IPAddress") for n in names if (networks[n] or {}).get("IPAddress")]
        if service and addresses:
            ips[service] = addresses[0]
    return ips


def http_row(check: dict[str, Any], status: int | None, error: str, project: str) -> Row:
    """One HTTP answer against what the check expects: a status code, or any answer below 500."""
    name = f"{check.get('scheme', 'http')} {check['service']}:{check['port']}{check['path']}"
    look = f"docker compose -p {project} logs --tail 50 {check['service']}"
    if status is None:
        return row(name, FAIL, f"no answer over the stack's network: {error}", look)
    expect = check.get("expect", 200)
    limits = {"answers": (500, "an answer below 500"), "success": (400, "a status below 400, as a health check wants")}
    if expect in limits:
        good, wanted = status < limits[expect][0], limits[expect][1]
    else:
        good, wanted = status == int(expect), str(expect)
    return row(name, OK if good else FAIL, f"{status}" + ("" if good else f", expected {wanted}"), look)


def setting_kb(setting: str, unit: str) -> float | None:
    """pg_settings' setting and unit as kB, or None when the setting is not a memory size."""
    if unit not in MEMORY_UNITS_KB:
        return None
    try:
        return float(setting) * MEMORY_UNITS_KB[unit]
    except ValueError:
        return None


def same_text(expected: str, shown: str, setting: str) -> bool:
    """A non-memory setting: the same number (8 and 8.0), or the same words in any case."""
    for actual in (shown, setting):
        try:
            if float(actual) == float(expected):
                return True
        except ValueError:
            pass
        if actual.lower() == expected.lower():
            return True
    return False


def postgres_rows(config: dict[str, Any], observed: dict[str, tuple[str, str, str]] | None, error: str) -> list[Row]:
    """Whether PostgreSQL answered over the network, and each tuned setting against pg_settings
    (name -> (setting, unit, as SHOW prints it))."""
    pg = config["postgres"]
    look = f"docker compose -p {config['project']} logs --tail 50 {pg['service']}"
    if observed is None:
        return [row("postgres connection", FAIL, f"no connection over {pg.get('network') or config['network']}: {error}",
                    look)]
    rows = [row("postgres connection", OK,
                f"{pg['user']}@{pg['service']}/{pg['db']} over {pg.get('network') or config['network']}")]
    wrong = []
    for name, expected in sorted(pg["settings"].items()):
        if name not in observed:
            wrong.append(f"{name} unknown to the server")
            continue
        setting, unit, shown = observed[name]
        if "kb" in expected:
            actual = setting_kb(setting, unit)
            # the server rounds a size to its unit (wal_buffers 3932kB runs as 3936kB: 8 kB pages)
            if actual is None or abs(actual - float(expected["kb"])) >= max(MEMORY_UNITS_KB[unit], 1):
                wrong.append(f"{name} is {shown}, expected {expected['text']}")
        elif not same_text(str(expected["text"]), shown, setting):
            wrong.append(f"{name} is {shown}, expected {expected['text']}")
    if pg["settings"]:
        rows.append(row("postgres settings", FAIL if wrong else OK,
                        "; ".join(wrong) if wrong else f"{len(pg['settings'])} tuned settings as published",
                        f"docker exec {config['project']}-{pg['service']}-1 psql -U {pg['user']} -d {pg['db']} "
                        "-c 'SELECT name, setting, source FROM pg_settings WHERE source <> $$default$$'; "
                        "re-run site.yml (an ALTER SYSTEM by hand is drift)"))
    return rows


def volume_rows(config: dict[str, Any], volumes: dict[str, dict[str, Any]], declared: dict[str, Any],
                containers: list[dict[str, Any]]) -> list[Row]:
    """Each state volume: it exists, compose declares it external (down -v leaves it), and every
    service that names it has it mounted at its target."""
    mounts: dict[str, list[tuple[str, str]]] = {}
    for container in containers:
        service = (container.get("Config", {}).get("Labels") or {}).get("com.docker.compose.service", "")
        for mount in container.get("Mounts") or []:
            if mount.get("Type") == "volume":
                mounts.setdefault(service, []).append((mount.get("Name", ""), mount.get("Destination", "")))
    rows = []
    for key, name in sorted(config["volumes"].items()):
        check = f"volume {name}"
        problems = []
        if name not in volumes:
            problems.append("missing")
        if not (declared.get(key) or {}).get("external"):
            problems.append("not declared external in the compose files (down -v would remove it)")
        for service, expected in sorted(config["services"].items()):
            for mount in expected.get("mounts") or []:
                if mount["volume"] == name and (name, mount["target"]) not in mounts.get(service, []):
                    problems.append(f"not mounted at {mount['target']} in {service}")
        rows.append(row(check, FAIL if problems else OK, "; ".join(problems) if problems else "present, external, mounted",
                        f"docker volume inspect {name}; docker inspect {config['project']}-<service>-1 --format "
                        "'{{json .Mounts}}'"))
    return rows


def cron_rows(config: dict[str, Any], text: str | None) -> list[Row]:
    """Each named cron entry (ansible.builtin.cron's `#Ansible: NAME` marker) with its job line."""
    cron = config["cron"]
    lines = (text or "").splitlines()
    rows = []
    for name in cron["jobs"]:
        marker = f"#Ansible: {name}"
        index = lines.index(marker) if marker in lines else -1
        job = lines[index + 1].strip() if 0 <= index < len(lines) - 1 else ""
        good = bool(job) and not job.startswith("#")
        rows.append(row(f"cron {name}", OK if good else FAIL,
                        job.split(" /usr/bin/systemd-cat")[0] if good else f"missing from {cron['file']}",
                        f"cat {cron['file']}; re-run the backup role (playbooks/backup.yml)"))
    return rows


def parse_time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def backup_row(config: dict[str, Any], status: dict[str, Any] | None, now: float,
               scheduled_at: float | None = None) -> Row:
    """The newest backup: succeeded within the RPO plus the margin. No backup yet is a warning while the
    schedule (the cron file, scheduled_at) is younger than that (a first deployment), then a failure;
    a failed newest run with a recent success is a warning."""
    backup = config["backup"]
    look = "antone-backup status; journalctl -t antone-backup"
    limit = float(backup["max_age_hours"])
    success = (status or {}).get("last_success") or {}
    last = (status or {}).get("last_run") or {}
    if not success:
        if last:
            return row("backup newest", FAIL, f"no backup has succeeded; the last run ({last.get('started', '?')}) "
                       f"failed: {last.get('error', 'see the journal')}", look)
        waited = (now - scheduled_at) / 3600 if scheduled_at else 0.0
        if waited > limit:
            return row("backup newest", FAIL, f"no backup has run in the {waited:.1f} h since the schedule was written "
                       f"(more than {limit:g} h)", look + "; systemctl status cron")
        return row("backup newest", WARN, "no backup has run yet (a first deployment: the first runs at "
                   f"{backup.get('time', 'its scheduled time')})", look)
    finished = parse_time(str(success.get("finished", "")))
    age = (now - finished) / 3600 if finished else float("inf")
    if age > limit:
        return row("backup newest", FAIL, f"the newest good backup is {age:.1f} h old, more than {limit:g} h", look)
    if last.get("result") == "failure":
        return row("backup newest", WARN, f"the last run failed ({last.get('error', '?')}); the newest good backup "
                   f"is {age:.1f} h old", look)
    return row("backup newest", OK, f"succeeded {age:.1f} h ago ({success.get('finished')})")


def file_rows(expected: list[dict[str, Any]], seen: dict[str, dict[str, str] | None]) -> list[Row]:
    """Each env and secret file: its mode, owner and group (path -> {mode, owner, uid, group, gid} or
    None); an owner or group may be expected by name or by number."""
    rows = []
    for item in expected:
        found = seen.get(item["path"])
        want = f"{item['mode']} {item['owner']}:{item['group']}"
        if found is None:
            rows.append(row(f"file {item['path']}", FAIL, "missing", "re-run the stack role"))
        elif found["mode"] != item["mode"] or str(item["owner"]) not in (found["owner"], found["uid"]) \
                or str(item["group"]) not in (found["group"], found["gid"]):
            rows.append(row(f"file {item['path']}", FAIL, f"{found['mode']} {found['owner']}:{found['group']}, "
                            f"expected {want}", f"ls -l {item['path']}; re-run the stack role"))
    if not rows:
        rows.append(row("files", OK, f"{len(expected)} env and secret files with their mode and owner"))
    return rows


def parse_listeners(text: str) -> list[tuple[str, str, int, str]]:
    """`ss -Htulnp` -> (proto, address, port, process)."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] not in ("tcp", "udp"):
            continue
        address, _colon, port = parts[4].rpartition(":")
        address = address.strip("[]").split("%")[0]
        if port.isdigit():
            process = re.search(r'\(\("([^"]+)"', " ".join(parts[5:]))
            found.append((parts[0], "0.0.0.0" if address in ("*", "") else address, int(port),
                          process.group(1) if process else "?"))
    return found


def is_loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1" or address.startswith("::ffff:127.")


def listener_row(config: dict[str, Any], text: str) -> Row:
    allowed = {(str(p.get("proto", "tcp")), int(p["port"])) for p in config["listeners"]["allowed"]} | DHCP_CLIENT_PORTS
    extra = sorted({f"{address}:{port}/{proto} ({process})" for proto, address, port, process in parse_listeners(text)
                    if not is_loopback(address) and (proto, port) not in allowed})
    if extra:
        return row("listeners", FAIL, "listening beyond loopback without the inventory's leave: " + ", ".join(extra),
                   "ss -tulnp; stop the service, publish it on 127.0.0.1, or list the port in verify_allowed_ports")
    return row("listeners", OK, "only SSH and allowed ports beyond loopback")


def reboot_row(required: bool, packages: str) -> Row:
    if required:
        names = ", ".join(packages.split()) or "see /run/reboot-required"
        return row("reboot", WARN, f"the host needs a reboot (updated: {names})", "reboot in a quiet hour")
    return row("reboot", OK, "none needed")


def table(rows: list[Row]) -> str:
    """The report: one line a check, then what to look at for each failure and warning."""
    width = max([len(r["check"]) for r in rows] + [5])
    lines = [f"{'check'.ljust(width)}  result  detail"]
    lines += [f"{r['check'].ljust(width)}  {r['status'].upper().ljust(6)}  {r['detail']}" for r in rows]
    looks = [r for r in rows if r["look"]]
    if looks:
        lines.append("")
        lines += [f"{r['check']}: look at {r['look']}" for r in looks]
    failed = sum(r["status"] == FAIL for r in rows)
    warned = sum(r["status"] == WARN for r in rows)
    lines.append("")
    lines.append(f"{len(rows)} checks: {failed} failed, {warned} warnings" + ("" if failed else " - the stack is healthy"))
    return "\n".join(lines)


def config_problems(config: Any) -> list[str]:
    """What makes a configuration unusable (the role writes it; a hand edit may break it)."""
    if not isinstance(config, dict):
        return ["the configuration is not a JSON object"]
    needed = ("project", "project_dir", "network", "compose_files", "services", "restart_limit", "http", "postgres",
              "volumes", "cron", "backup", "files", "listeners")
    return [f"the configuration lacks {key}" for key in needed if key not in config]


# ---------------------------------------------------------------- looking at the host


def run(argv: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess(argv, 127, "", str(error))


class CheckError(Exception):
    """A check could not look (Docker does not answer, a file cannot be read): reported as its row."""


def inspect_containers(config: dict[str, Any], runner: Runner = run) -> list[dict[str, Any]]:
    listed = runner(["docker", "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={config['project']}"])
    if listed.returncode != 0:
        raise CheckError(f"docker ps failed: {listed.stderr.strip()[:200]}")
    ids = listed.stdout.split()
    if not ids:
        return []
    inspected = runner(["docker", "inspect", *ids])  # a container removed meanwhile: inspect the rest again
    if inspected.returncode != 0:
        inspected = runner(["docker", "inspect", *runner(["docker", "ps", "--all", "--quiet", "--filter",
                                                          f"label=com.docker.compose.project={config['project']}"]).stdout.split()])
    if inspected.returncode != 0:
        raise CheckError(f"docker inspect failed: {inspected.stderr.strip()[:200]}")
    return json.loads(inspected.stdout)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect is an answer, as for a health check
        return None


def http_status(url: str, host: str, timeout: float) -> tuple[int | None, str]:
    """The status an endpoint answers with: asked as its health check asks (Host: localhost:PORT), never
    through a proxy, a redirect not followed, an https certificate not checked (a container's address)."""
    handlers: list[Any] = [urllib.request.ProxyHandler({}), NoRedirect()]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))  # noqa: S323
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "antone-verify", "Host": host})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))


def postgres_password(pg: dict[str, Any]) -> str:
    """The password from the stack's secret file, or from the service's env file (VAR='value')."""
    if pg.get("password_file"):
        with open(pg["password_file"], encoding="utf-8") as handle:
            return handle.read().rstrip("\n")
    with open(pg["env_file"], encoding="utf-8") as handle:
        for line in handle:
            name, _equals, value = line.rstrip("\n").partition("=")
            if name == "POSTGRES_PASSWORD":
                return value[1:-1] if value[:1] == value[-1:] == "'" and len(value) > 1 else value
    return ""


def psql(config: dict[str, Any], sql: str, runner: Runner = run) -> subprocess.CompletedProcess[str]:
    """One query from a throwaway container of PostgreSQL's own image on the stack's network; the
    password travels on standard input, never in an argument or the environment of `docker`."""
    pg = config["postgres"]
    script = 'IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -X -A -t -F "|" -v ON_ERROR_STOP=1 ' \
             '-h "$1" -U "$2" -d "$3" -c "$4"'
    return runner(["docker", "run", "--rm", "-i", "--pull", "never", "--network", pg.get("network") or config["network"],
                   "--label", "org.antone.verify=helper", "--entrypoint", "sh", pg["image"], "-c", script,
                   "antone-verify", pg["service"], pg["user"], pg["db"], sql],
                  stdin=postgres_password(pg) + "\n", timeout=90)


def read_settings(config: dict[str, Any], runner: Runner = run) -> tuple[dict[str, tuple[str, str, str]] | None, str]:
    names = sorted(config["postgres"]["settings"])
    listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names) or "''"
    result = psql(config, "SELECT name, setting, coalesce(unit, ''), current_setting(name) FROM pg_settings "
                  f"WHERE name IN ({listed})", runner)
    if result.returncode != 0:
        return None, (result.stderr.strip().splitlines() or ["psql failed"])[-1][:300]
    observed = {}
    for line in result.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 4:
            observed[parts[0]] = (parts[1], parts[2], parts[3])
    return observed, ""


def compose_volumes(config: dict[str, Any], runner: Runner = run) -> dict[str, Any]:
    argv = ["docker", "compose", "--project-directory", config["project_dir"]]
    for name in config["compose_files"]:
        argv += ["-f", os.path.join(config["project_dir"], name)]
    result = runner(argv + ["config", "--format", "json"])
    return (json.loads(result.stdout).get("volumes") or {}) if result.returncode == 0 else {}


def stat_file(path: str) -> dict[str, str] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None

    def name(lookup: Callable[[int], Any], number: int) -> str:
        try:
            return str(lookup(number)[0])
        except KeyError:
            return str(number)
    return {"mode": f"{stat.S_IMODE(info.st_mode):04o}", "owner": name(pwd.getpwuid, info.st_uid),
            "uid": str(info.st_uid), "group": name(grp.getgrgid, info.st_gid), "gid": str(info.st_gid)}


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def persistence_row(config: dict[str, Any], runner: Runner = run) -> Row:
    """Write a row, restart the stack, wait until every service is healthy again, read the row back
    (and remove it, whatever happened)."""
    token = f"verify-{int(time.time())}-{os.getpid()}"
    look = f"docker compose -p {config['project']} logs {config['postgres']['service']}"
    written = psql(config, "CREATE TABLE IF NOT EXISTS antone_verify_persistence (token text PRIMARY KEY, "
                   f"written timestamptz DEFAULT now()); INSERT INTO antone_verify_persistence (token) VALUES ('{token}')",
                   runner)
    if written.returncode != 0:
        return row("persistence", FAIL, "could not write the test row", look)
    try:
        argv = ["docker", "compose", "--project-directory", config["project_dir"]]
        for name in config["compose_files"]:
            argv += ["-f", os.path.join(config["project_dir"], name)]
        if runner(argv + ["restart"], timeout=600).returncode != 0:
            return row("persistence", FAIL, "docker compose restart failed", look)
        wait = float(config.get("wait_timeout", 300))
        deadline = time.monotonic() + wait
        while not all(r["status"] == OK for r in service_rows(config, inspect_containers(config, runner))):
            if time.monotonic() >= deadline:
                return row("persistence", FAIL, f"the stack was not healthy {wait:g} s after its restart", look)
            time.sleep(2)
        read = psql(config, f"SELECT count(*) FROM antone_verify_persistence WHERE token = '{token}'", runner)
        if read.returncode != 0:
            return row("persistence", FAIL, "could not read the test row back after the restart", look)
        if read.stdout.strip() != "1":
            return row("persistence", FAIL, "the row written before the restart is gone", look)
        return row("persistence", OK, "a row written before a restart of the stack was read back after it")
    finally:
        psql(config, f"DELETE FROM antone_verify_persistence WHERE token = '{token}'", runner)


def guarded(name: str, check: Callable[[], list[Row]]) -> list[Row]:
    """A check's rows, or one failed row saying why the check itself could not look."""
    try:
        return check()
    except (CheckError, OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
        return [row(name, FAIL, f"the check could not run: {type(error).__name__}: {str(error)[:200]}",
                    "antone-verify --json on the host; /etc/antone/verify.json")]


def listeners_text(runner: Runner) -> str:
    result = runner(["ss", "-Htulnp"])
    if result.returncode != 0:
        raise CheckError(f"ss failed: {result.stderr.strip()[:200]}")
    return result.stdout


def mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def collect(config: dict[str, Any], persistence: bool = False, runner: Runner = run) -> list[Row]:
    """Every check; one that cannot look (Docker down, a file unreadable) fails on its own row. The
    PostgreSQL query (a helper container, the slowest check) and the HTTP checks run side by side with
    the others, so a stack of many services is checked in about the time of one."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        settings = pool.submit(read_settings, config, runner) if config["postgres"] else None
        return collect_rows(config, pool, settings, persistence, runner)


def http_check(config: dict[str, Any], check: dict[str, Any], ips: dict[str, str]) -> Row:
    """One HTTP check's row, asked of the service's address on the stack's network."""
    address = ips.get(check["service"])
    scheme = check.get("scheme", "http")
    status, error = (http_status(f"{scheme}://{address}:{check['port']}{check['path']}", f"localhost:{check['port']}",
                                 float(config.get("timeout", 10)))
                     if address else (None, f"{check['service']} has no address on the stack's networks"))
    return http_row(check, status, error, config["project"])


def collect_rows(config: dict[str, Any], pool: ThreadPoolExecutor, settings: Future[Any] | None, persistence: bool,
                 runner: Runner) -> list[Row]:
    found: list[list[dict[str, Any]]] = []
    rows = guarded("services", lambda: found.append(inspect_containers(config, runner)) or service_rows(config, found[0]))
    containers = found[0] if found else []
    ips = container_ips(containers, config["network"])
    rows += list(pool.map(lambda check: http_check(config, check, ips), config["http"]))
    if settings is not None:
        rows += guarded("postgres connection", lambda: postgres_rows(config, *settings.result()))
    if config["volumes"]:
        def volumes() -> list[Row]:
            inspected = runner(["docker", "volume", "inspect", *config["volumes"].values()])
            present = {v["Name"]: v for v in json.loads(inspected.stdout)} if inspected.stdout.strip() else {}
            return volume_rows(config, present, compose_volumes(config, runner), containers)
        rows += guarded("volumes", volumes)
    if config["cron"]:
        rows += guarded("cron", lambda: cron_rows(config, read_text(config["cron"]["file"])))
    if config["backup"]:
        def newest() -> list[Row]:
            text = read_text(config["backup"]["status_file"])
            return [backup_row(config, json.loads(text) if text else None, time.time(),
                               mtime(config["cron"]["file"]) if config["cron"] else None)]
        rows += guarded("backup newest", newest)
    rows += guarded("files", lambda: file_rows(config["files"], {i["path"]: stat_file(i["path"]) for i in config["files"]}))
    rows += guarded("listeners", lambda: [listener_row(config, listeners_text(runner))])
    rows.append(reboot_row(os.path.exists("/run/reboot-required"), read_text("/run/reboot-required.pkgs") or ""))
    if persistence and config["postgres"]:
        rows += guarded("persistence", lambda: [persistence_row(config, runner)])
    return rows


def ping(url: str, failed: bool, body: str) -> str:
    """Report to healthchecks.io: the check's URL on success, URL/fail on failure; '' or why not."""
    target = url.rstrip("/") + ("/fail" if failed else "")
    request = urllib.request.Request(target, data=body.encode()[:PING_BODY_LIMIT], method="POST",
                                     headers={"User-Agent": "antone-verify"})
    for attempt in range(3):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - URL from root's config
                response.read()
            return ""
        except (urllib.error.URLError, OSError) as error:
            if attempt == 2:
                return str(getattr(error, "reason", error))
            time.sleep(2 ** attempt)
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="antone-verify", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--json", action="store_true", help="print the rows and the table as one JSON object")
    parser.add_argument("--ping", action="store_true", help="report to healthchecks.io when a URL is configured")
    parser.add_argument("--persistence", action="store_true", help="also write a row, restart the stack, read it back")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"antone-verify: cannot read {args.config}: {error}", file=sys.stderr)
        return 2
    if problems := config_problems(config):
        print(f"antone-verify: {args.config}: " + "; ".join(problems), file=sys.stderr)
        return 2
    try:
        rows = collect(config, persistence=args.persistence)
    except Exception as error:  # noqa: BLE001 - said plainly, with its own exit status, never as a stack failure
        print(f"antone-verify: the checks could not run: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_BROKEN
    failed = any(r["status"] == FAIL for r in rows)
    report = table(rows)
    print(json.dumps({"rows": rows, "table": report}) if args.json else report)
    if args.ping and config.get("healthchecks_url"):
        if why := ping(config["healthchecks_url"], failed, report):
            print(f"antone-verify: warning: the healthchecks.io ping failed: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
