"""antone-verify (roles/verify/files/antone_verify.py): each check's verdict from what the host shows,
the table, and the collection with a fake `docker` runner. Molecule's default scenario runs it on a
real stack, with faults and drift."""

from __future__ import annotations

import json
import subprocess
from datetime import timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from source_loader import load_source  # tests/unit/source_loader.py

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "verify" / "files" / "antone_verify.py"


def load() -> ModuleType:
    return load_source("antone_verify", SCRIPT)


V = load()
NOW = 1_800_000_000.0

CONFIG: dict[str, Any] = {
    "project": "antone", "project_dir": "/opt/antone", "compose_files": ["docker-compose.yml"],
    "network": "antone-network", "restart_limit": 3, "wait_timeout": 5, "timeout": 2,
    "services": {"backend-api": {"healthcheck": True, "mounts": []},
                 "postgres": {"healthcheck": True,
                              "mounts": [{"volume": "antone_postgres_data", "target": "/var/lib/postgresql/data"}]},
                 "worker": {"healthcheck": False, "mounts": []}},
    "http": [{"service": "backend-api", "port": 3001, "path": "/health", "expect": 200}],
    "postgres": {"service": "postgres", "image": "postgres:17", "user": "antone", "db": "antone",
                 "password_file": "", "env_file": "",
                 "settings": {"shared_buffers": {"text": "256MB", "kb": 262144}, "random_page_cost": {"text": "1.1"}}},
    "volumes": {"postgres_data": "antone_postgres_data"},
    "cron": {"file": "/etc/cron.d/antone-backup", "jobs": ["antone-backup nightly backup"]},
    "backup": {"status_file": "/var/lib/antone-backup/status.json", "max_age_hours": 30, "time": "02:00"},
    "files": [{"path": "/opt/antone/env/postgres.env", "mode": "0600", "owner": "root", "group": "root"}],
    "listeners": {"allowed": [{"port": 22, "proto": "tcp"}]},
    "healthchecks_url": "",
}


def container(service: str, status: str = "running", health: str = "healthy", restarts: int = 0,
              mounts: list[dict[str, str]] | None = None, exit_code: int = 0, started_ago: float = 86400.0,
              oneoff: bool = False) -> dict[str, Any]:
    started = V.datetime.fromtimestamp(V.time.time() - started_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f123Z")
    state: dict[str, Any] = {"Status": status, "Restarting": status == "restarting", "ExitCode": exit_code,
                             "StartedAt": started}
    if health:
        state["Health"] = {"Status": health, "Log": [{"Output": "wget: server returned error: 500\n"}]}
    labels = {"com.docker.compose.service": service, "com.docker.compose.oneoff": str(oneoff)}
    return {"Config": {"Labels": labels}, "State": state, "RestartCount": restarts,
            "Mounts": mounts or [], "NetworkSettings": {"Networks": {"antone-network": {"IPAddress": f"10.0.0.{len(service)}"}}}}


def healthy() -> list[dict[str, Any]]:
    return [container("backend-api"), container("worker", health=""),
            container("postgres", mounts=[{"Type": "volume", "Name": "antone_postgres_data",
                                           "Destination": "/var/lib/postgresql/data"}])]


def statuses(rows: list[dict[str, str]]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in rows}


def test_a_healthy_stack_passes_every_service_check() -> None:
    assert statuses(V.service_rows(CONFIG, healthy())) == {
        "service backend-api": "ok", "service postgres": "ok", "service worker": "ok"}


@pytest.mark.parametrize(("broken", "detail"), [
    (container("backend-api", status="exited", health="", exit_code=130), "exited (exit code 130)"),
    (container("backend-api", health="unhealthy"), "running but unhealthy: wget: server returned error: 500"),
    (container("backend-api", status="restarting"), "restarting"),
    (container("backend-api", restarts=3, started_ago=20), "restarted it 3 times, the last "),
])
def test_a_broken_service_fails_and_says_where_to_look(broken: dict[str, Any], detail: str) -> None:
    rows = {r["check"]: r for r in V.service_rows(CONFIG, [broken] + healthy()[1:])}
    assert rows["service backend-api"]["status"] == "fail"
    assert detail in rows["service backend-api"]["detail"]
    assert rows["service backend-api"]["look"] == "docker compose -p antone logs --tail 50 backend-api"


def test_a_missing_container_fails() -> None:
    rows = {r["check"]: r for r in V.service_rows(CONFIG, healthy()[1:])}
    assert rows["service backend-api"]["status"] == "fail"
    assert "no container" in rows["service backend-api"]["detail"]


@pytest.mark.parametrize(("expect", "status", "result"), [
    (200, 200, "ok"), (200, 503, "fail"), ("answers", 404, "ok"), ("answers", 502, "fail"), (200, None, "fail")])
def test_http_answers_are_judged_by_what_the_check_expects(expect: Any, status: int | None, result: str) -> None:
    check = {"service": "dashboard", "port": 3000, "path": "/", "expect": expect}
    assert V.http_row(check, status, "connection refused", "antone")["status"] == result


def test_postgres_settings_compare_memory_in_kb_and_the_rest_as_text() -> None:
    good = {"shared_buffers": ("32768", "8kB", "256MB"), "random_page_cost": ("1.10", "", "1.10")}
    assert statuses(V.postgres_rows(CONFIG, good, "")) == {"postgres connection": "ok", "postgres settings": "ok"}
    drifted = {**good, "random_page_cost": ("4", "", "4")}
    rows = {r["check"]: r for r in V.postgres_rows(CONFIG, drifted, "")}
    assert rows["postgres settings"]["status"] == "fail"
    assert rows["postgres settings"]["detail"] == "random_page_cost is 4, expected 1.1"
    wal = {**CONFIG, "postgres": {**CONFIG["postgres"], "settings": {"wal_buffers": {"text": "3932kB", "kb": 3932}}}}
    assert V.postgres_rows(wal, {"wal_buffers": ("492", "8kB", "3936kB")}, "")[1]["status"] == "ok"  # rounded up
    assert V.postgres_rows(wal, {"wal_buffers": ("493", "8kB", "3944kB")}, "")[1]["status"] == "fail"
    small = {**good, "shared_buffers": ("16384", "8kB", "128MB")}
    assert "shared_buffers is 128MB, expected 256MB" in V.postgres_rows(CONFIG, small, "")[1]["detail"]
    assert V.postgres_rows(CONFIG, None, "timeout")[0]["status"] == "fail"


def test_volumes_must_exist_be_external_and_mounted() -> None:
    present = {"antone_postgres_data": {"Name": "antone_postgres_data"}}
    declared = {"postgres_data": {"external": True, "name": "antone_postgres_data"}}
    assert V.volume_rows(CONFIG, present, declared, healthy())[0]["status"] == "ok"
    detail = V.volume_rows(CONFIG, {}, {"postgres_data": {}}, healthy()[:2])[0]["detail"]
    assert detail == ("missing; not declared external in the compose files (down -v would remove it); "
                      "not mounted at /var/lib/postgresql/data in postgres")


def test_cron_entries_need_their_job_line() -> None:
    good = "#Ansible: antone-backup nightly backup\n0 2 * * * root /usr/bin/systemd-cat x run\n"
    assert V.cron_rows(CONFIG, good)[0] == {"check": "cron antone-backup nightly backup", "status": "ok",
                                            "detail": "0 2 * * * root", "look": ""}
    assert V.cron_rows(CONFIG, "")[0]["status"] == "fail"
    assert V.cron_rows(CONFIG, None)[0]["detail"] == "missing from /etc/cron.d/antone-backup"


def iso(seconds_ago: float) -> str:
    return V.datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).isoformat()


@pytest.mark.parametrize(("status", "result"), [
    (None, "warn"),
    ({"last_run": {"result": "failure", "error": "b2 down"}}, "fail"),
    ({"last_success": {"finished": iso(3600)}, "last_run": {"result": "success"}}, "ok"),
    ({"last_success": {"finished": iso(31 * 3600)}, "last_run": {"result": "success"}}, "fail"),
    ({"last_success": {"finished": iso(3600)}, "last_run": {"result": "failure", "error": "x"}}, "warn"),
])
def test_the_newest_backup_against_the_rpo(status: dict[str, Any] | None, result: str) -> None:
    assert V.backup_row(CONFIG, status, NOW)["status"] == result


def test_files_by_mode_and_owner_by_name_or_number() -> None:
    good = {"mode": "0600", "owner": "root", "uid": "0", "group": "root", "gid": "0"}
    assert V.file_rows(CONFIG["files"], {CONFIG["files"][0]["path"]: good})[0]["status"] == "ok"
    loose = {**good, "mode": "0644"}
    row = V.file_rows(CONFIG["files"], {CONFIG["files"][0]["path"]: loose})[0]
    assert (row["status"], row["detail"]) == ("fail", "0644 root:root, expected 0600 root:root")
    by_number = [{**CONFIG["files"][0], "group": "65532"}]
    assert V.file_rows(by_number, {CONFIG["files"][0]["path"]: {**good, "group": "nonroot", "gid": "65532"}})[0][
        "status"] == "ok"
    assert V.file_rows(CONFIG["files"], {})[0]["detail"] == "missing"


SS = """tcp   LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))
tcp   LISTEN 0 128 127.0.0.1:3001 0.0.0.0:* users:(("docker-proxy",pid=2,fd=4))
tcp   LISTEN 0 128 [::1]:5432 [::]:* users:(("docker-proxy",pid=3,fd=4))
udp   UNCONN 0 0 0.0.0.0:68 0.0.0.0:* users:(("dhclient",pid=4,fd=5))
"""


def test_only_ssh_and_allowed_ports_listen_beyond_loopback() -> None:
    assert V.listener_row(CONFIG, SS)["status"] == "ok"
    extra = SS + 'tcp LISTEN 0 128 *:6379 *:* users:(("redis-server",pid=9,fd=6))\n'
    row = V.listener_row(CONFIG, extra)
    assert (row["status"], row["detail"]) == (
        "fail", "listening beyond loopback without the inventory's leave: 0.0.0.0:6379/tcp (redis-server)")
    allowed = {**CONFIG, "listeners": {"allowed": [{"port": 22, "proto": "tcp"}, {"port": 6379, "proto": "tcp"}]}}
    assert V.listener_row(allowed, extra)["status"] == "ok"


def test_a_pending_reboot_is_a_warning() -> None:
    assert V.reboot_row(True, "linux-image-amd64\nlibc6\n")["detail"] == \
        "the host needs a reboot (updated: linux-image-amd64, libc6)"
    assert V.reboot_row(False, "")["status"] == "ok"


def test_the_table_lists_every_check_and_where_to_look() -> None:
    rows = [V.row("service a", "ok", "running"), V.row("service b", "fail", "exited", "docker logs b"),
            V.row("reboot", "warn", "needed", "reboot")]
    text = V.table(rows)
    assert text.splitlines()[1].split() == ["service", "a", "OK", "running"]
    assert "service b: look at docker logs b" in text
    assert text.endswith("3 checks: 1 failed, 1 warnings")
    assert V.table(rows[:1]).endswith("1 checks: 0 failed, 0 warnings - the stack is healthy")


def test_a_config_without_its_keys_is_refused() -> None:
    assert V.config_problems([]) == ["the configuration is not a JSON object"]
    assert "the configuration lacks network" in V.config_problems({k: v for k, v in CONFIG.items() if k != "network"})
    assert V.config_problems(CONFIG) == []


def test_the_password_reaches_psql_on_stdin_only(tmp_path: Path) -> None:
    secret = tmp_path / "postgres_password"
    secret.write_text("p$ss w0rd\n")
    config = {**CONFIG, "postgres": {**CONFIG["postgres"], "password_file": str(secret)}}
    calls: list[tuple[list[str], str]] = []

    def runner(argv: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
        calls.append((argv, stdin))
        return subprocess.CompletedProcess(argv, 0, "shared_buffers|32768|8kB|256MB\n", "")

    observed, error = V.read_settings(config, runner)
    assert (observed, error) == ({"shared_buffers": ("32768", "8kB", "256MB")}, "")
    argv, stdin = calls[0]
    assert stdin == "p$ss w0rd\n"
    assert not any("p$ss" in arg for arg in argv)
    assert argv[:7] == ["docker", "run", "--rm", "-i", "--pull", "never", "--network"]


def test_the_password_is_read_from_the_env_file_when_not_a_file_secret(tmp_path: Path) -> None:
    env = tmp_path / "postgres.env"
    env.write_text("POSTGRES_DB='antone'\nPOSTGRES_PASSWORD='a=b c'\n")
    assert V.postgres_password({"password_file": "", "env_file": str(env)}) == "a=b c"


def test_main_refuses_an_unreadable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert V.main(["--config", str(tmp_path / "none.json")]) == 2
    broken = tmp_path / "verify.json"
    broken.write_text(json.dumps({"project": "x"}))
    assert V.main(["--config", str(broken)]) == 2
    assert "lacks network" in capsys.readouterr().err


def test_a_service_on_another_network_only_is_reached_there() -> None:
    frontend = container("frontend")
    frontend["NetworkSettings"]["Networks"] = {"campaign-frontend": {"IPAddress": "10.1.0.5"}}
    both = container("api")
    both["NetworkSettings"]["Networks"] = {"campaign-frontend": {"IPAddress": "10.1.0.6"},
                                           "antone-network": {"IPAddress": "10.0.0.6"}}
    assert V.container_ips([frontend, both, container("stopped", status="exited")], "antone-network") == {
        "frontend": "10.1.0.5", "api": "10.0.0.6", "stopped": "10.0.0.7"}


def test_old_restarts_are_no_loop_and_one_offs_are_left_out() -> None:
    long_ago = [container("backend-api", restarts=5, started_ago=7200)] + healthy()[1:]
    assert statuses(V.service_rows(CONFIG, long_ago))["service backend-api"] == "ok"
    one_off = [container("backend-api", status="exited", health="", oneoff=True)] + healthy()
    assert statuses(V.service_rows(CONFIG, one_off))["service backend-api"] == "ok"


def test_every_replica_counts_and_a_health_status_from_the_image_must_be_healthy() -> None:
    replicas = healthy() + [container("backend-api", health="unhealthy")]
    row = {r["check"]: r for r in V.service_rows(CONFIG, replicas)}["service backend-api"]
    assert (row["status"], row["detail"].split(":")[0]) == ("fail", "running but unhealthy")
    image_check = [container("worker", health="starting")] + [c for c in healthy() if "worker" not in str(c)]
    assert statuses(V.service_rows(CONFIG, image_check))["service worker"] == "fail"


def test_a_check_that_cannot_look_fails_its_own_row() -> None:
    def broken(argv: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "Cannot connect to the Docker daemon")

    rows = V.guarded("services", lambda: V.service_rows(CONFIG, V.inspect_containers(CONFIG, broken)))
    assert rows[0]["status"] == "fail"
    assert "docker ps failed: Cannot connect to the Docker daemon" in rows[0]["detail"]


def test_no_backup_long_after_the_schedule_was_written_fails() -> None:
    assert V.backup_row(CONFIG, None, NOW, NOW - 3600)["status"] == "warn"
    row = V.backup_row(CONFIG, None, NOW, NOW - 40 * 3600)
    assert (row["status"], row["detail"]) == ("fail", "no backup has run in the 40.0 h since the schedule was written "
                                              "(more than 30 h)")


def test_the_http_check_asks_as_the_health_check_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading

    seen: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen["host"] = self.headers["Host"]
            self.send_response(302)
            self.send_header("Location", "https://example.invalid/")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # never used
    status, error = V.http_status(f"http://127.0.0.1:{server.server_port}/health", "localhost:3001", 5)
    server.server_close()
    assert (status, error, seen["host"]) == (302, "", "localhost:3001")
    check = {"service": "web", "port": 80, "path": "/", "expect": "success"}
    assert V.http_row(check, 302, "", "antone")["status"] == "ok"
    assert V.http_row(check, 404, "", "antone")["status"] == "fail"


def test_the_slow_checks_run_side_by_side_and_the_rows_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP checks and the helper container's query are asked at the same time (several in flight
    at once, counted, not timed), and the rows come back in the configuration's order."""
    import json as json_module
    import threading
    import time as time_module

    lock, flight = threading.Lock(), {"now": 0, "most": 0}

    def in_flight(seconds: float) -> None:
        with lock:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        time_module.sleep(seconds)
        with lock:
            flight["now"] -= 1

    services = {f"svc-{i:02d}": {"healthcheck": True, "mounts": []} for i in range(20)}
    config = {**CONFIG, "services": services, "postgres": {**CONFIG["postgres"], "service": "svc-00"},
              "http": [{"service": name, "port": 3000 + i, "path": "/health", "expect": 200}
                       for i, name in enumerate(services)],
              "volumes": {}, "cron": {}, "backup": {}, "files": []}
    containers = [container(name) for name in services]
    for i, item in enumerate(containers):
        item["NetworkSettings"]["Networks"]["antone-network"]["IPAddress"] = f"10.0.0.{i + 2}"

    def runner(argv: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if argv[:2] == ["docker", "run"]:
            in_flight(0.3)
            return subprocess.CompletedProcess(argv, 0, "shared_buffers|32768|8kB|256MB\nrandom_page_cost|1.1||1.1\n", "")
        if argv[:2] == ["docker", "ps"]:
            return subprocess.CompletedProcess(argv, 0, "\n".join(f"id{i}" for i in range(20)), "")
        if argv[:2] == ["docker", "inspect"]:
            return subprocess.CompletedProcess(argv, 0, json_module.dumps(containers), "")
        return subprocess.CompletedProcess(argv, 0, "", "")

    def slow_status(url: str, host: str, timeout: float) -> tuple[int | None, str]:
        in_flight(0.05)
        return 200, ""

    monkeypatch.setattr(V, "http_status", slow_status)
    monkeypatch.setattr(V, "postgres_password", lambda pg: "pw")
    rows = V.collect(config, runner=runner)
    http_rows = [r["check"] for r in rows if r["check"].startswith("http ")]
    assert http_rows == [f"http svc-{i:02d}:{3000 + i}/health" for i in range(20)]
    assert statuses(rows)["postgres settings"] == "ok", rows
    assert all(statuses(rows)[name] == "ok" for name in http_rows)
    assert flight["most"] >= 4, flight  # one after the other: never more than 1
