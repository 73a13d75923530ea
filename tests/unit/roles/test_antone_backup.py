"""antone-backup (roles/backup/files/antone_backup.py): its pure parts - configuration, retention
options, the dump's checks, the manifest comparison, the roles' password - and its lock and pings,
which need no PostgreSQL. Molecule's backup scenario runs the whole command against a real stack."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from source_loader import load_source  # tests/unit/source_loader.py

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "backup" / "files" / "antone_backup.py"


def load() -> ModuleType:
    return load_source("antone_backup", SCRIPT)


ab = load()


def raw_config(**changes: Any) -> dict[str, Any]:
    raw = {
        "project": "antone",
        "host": "antone-prod",
        "postgres": {"service": "postgres", "user": "antone", "db": "antone", "image": "postgres:17"},
        "volumes": {"uploads": "antone_uploads"},
        "local_repository": "/var/backups/antone/restic",
        "offsite": {"repository": "s3:https://s3.us-west-004.backblazeb2.com/b/h", "backend": "s3",
                    "credentials_file": "/etc/antone-backup/b2-credentials"},
        "password_file": "/etc/antone-backup/repository-password",
        "retention": {"daily": 7, "weekly": 0, "monthly": 12, "yearly": 0},
        "work_dir": "/var/lib/antone-backup",
        "status_file": "/var/lib/antone-backup/status.json",
        "lock_file": "/run/lock/antone-backup.lock",
    }
    raw.update(changes)
    return raw


# ---------------------------------------------------------------- configuration


def test_config_reads_every_part() -> None:
    config = ab.parse_config(raw_config())
    assert config.keep == {"daily": 7, "monthly": 12}
    assert config.volumes == (("uploads", "antone_uploads"),)
    assert config.offsite.backend == "s3"
    assert config.local.password_file == config.offsite.password_file


@pytest.mark.parametrize("missing", ["project", "host", "postgres", "local_repository", "password_file", "work_dir"])
def test_config_names_a_missing_key(missing: str) -> None:
    raw = raw_config()
    del raw[missing]
    with pytest.raises(ab.BackupError, match=missing):
        ab.parse_config(raw)


@pytest.mark.parametrize("retention", [{}, {"daily": 0, "monthly": 12}, {"monthly": 3}])
def test_config_refuses_a_retention_without_daily_snapshots(retention: dict[str, int]) -> None:
    with pytest.raises(ab.BackupError, match="at least one daily snapshot"):
        ab.parse_config(raw_config(retention=retention))


def test_config_refuses_an_unknown_offsite_backend() -> None:
    with pytest.raises(ab.BackupError, match="s3 or b2"):
        ab.parse_config(raw_config(offsite={"repository": "sftp:x", "backend": "sftp"}))


def test_config_without_offsite() -> None:
    assert ab.parse_config(raw_config(offsite=None)).offsite is None


def test_ping_urls_come_from_their_own_file(tmp_path: Path) -> None:
    pings = tmp_path / "healthchecks.json"
    pings.write_text(json.dumps({"backup": "https://hc-ping.com/u1", "restore_test": ""}))
    config = ab.parse_config(raw_config(healthchecks_file=str(pings)))
    assert (config.ping_backup, config.ping_restore_test) == ("https://hc-ping.com/u1", "")


# ---------------------------------------------------------------- credentials stay in files


def test_s3_environment_names_files_never_secrets(tmp_path: Path) -> None:
    repo = ab.Repository("offsite", "s3:http://127.0.0.1:9000/b/h", "/etc/pw", "/etc/creds", "s3")
    assert repo.env() == {"RESTIC_REPOSITORY": "s3:http://127.0.0.1:9000/b/h", "RESTIC_PASSWORD_FILE": "/etc/pw",
                          "AWS_SHARED_CREDENTIALS_FILE": "/etc/creds", "AWS_PROFILE": "default"}


def test_native_b2_reads_its_keys_from_the_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "b2-credentials"
    creds.write_text("[default]\naws_access_key_id = key-id\naws_secret_access_key = s3cr3t=\n")
    env = ab.Repository("offsite", "b2:bucket:host", "/etc/pw", str(creds), "b2").env()
    assert (env["B2_ACCOUNT_ID"], env["B2_ACCOUNT_KEY"]) == ("key-id", "s3cr3t=")


def test_credentials_file_only_default_section() -> None:
    text = "[other]\naws_access_key_id = no\n[default]\naws_access_key_id = yes\n"
    assert ab.parse_credentials(text) == {"aws_access_key_id": "yes"}


# ---------------------------------------------------------------- retention


def test_forget_args_in_a_stable_order_without_zeros() -> None:
    assert ab.forget_args({"monthly": 12, "daily": 7, "weekly": 0}) == [
        "--keep-daily", "7", "--keep-monthly", "12"]


# ---------------------------------------------------------------- the dump's checks

LISTING = """\
;
; Archive created at 2026-11-25 02:00:01 CET
;     Format: CUSTOM
;
218; 1259 16385 TABLE public items antone
219; 1259 16390 TABLE Odd Schema Mixed Case antone
3380; 0 16385 TABLE DATA public items antone
3381; 0 16390 TABLE DATA Odd Schema Mixed Case antone
"""


def test_split_ident_undoes_format_quoting() -> None:
    assert ab.split_ident('"Odd Schema"."Mixed Case"') == ["Odd Schema", "Mixed Case"]
    assert ab.split_ident('public.items') == ["public", "items"]
    assert ab.split_ident('"a.b"."say ""hi"""') == ["a.b", 'say "hi"']


def test_a_complete_listing_has_no_problems() -> None:
    assert ab.dump_problems({"public.items", '"Odd Schema"."Mixed Case"'}, LISTING) == []


def test_a_listing_without_a_counted_table_is_refused() -> None:
    listing = LISTING.replace("3381; 0 16390 TABLE DATA Odd Schema Mixed Case antone\n", "")
    assert ab.dump_problems({"public.items", '"Odd Schema"."Mixed Case"'}, listing) == [
        'the dump has no data for "Odd Schema"."Mixed Case"']


def test_a_table_is_not_found_by_its_prefix() -> None:
    assert ab.dump_problems({"public.item"}, LISTING) == ["the dump has no data for public.item"]


def test_count_mismatches_name_every_difference() -> None:
    assert ab.count_mismatches({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 0}) == [
        "b: 5 rows restored, 2 in the manifest",
        "c: in the manifest (3 rows), missing after restore",
        "d: restored (0 rows), not in the manifest",
    ]


GLOBALS = """\
CREATE ROLE antone;
ALTER ROLE antone WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:abc';
CREATE ROLE reporting;
ALTER ROLE reporting WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$4096:def';
"""


def test_the_stack_user_keeps_its_current_password_other_roles_get_theirs_back() -> None:
    out = ab.globals_without_password(GLOBALS, "antone")
    assert "ALTER ROLE antone WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;" in out
    assert "SCRAM-SHA-256$4096:abc" not in out
    assert "PASSWORD 'SCRAM-SHA-256$4096:def'" in out


def test_a_quoted_user_name_is_matched_too() -> None:
    sql = """ALTER ROLE "Odd User" WITH LOGIN PASSWORD 'x''y';\n"""
    assert ab.globals_without_password(sql, "Odd User") == 'ALTER ROLE "Odd User" WITH LOGIN;\n'


# ---------------------------------------------------------------- choosing a snapshot


def test_newest_and_latest_skip_the_safety_backup() -> None:
    class FakeRestic:
        repo = ab.Repository("local", "/r", "/pw")

        def snapshots(self, *_: str) -> list[dict[str, Any]]:
            return [{"id": "a" * 64, "short_id": "aaaaaaaa", "time": "2026-11-24T02:00:00Z", "tags": ["antone-postgres"]},
                    {"id": "b" * 64, "short_id": "bbbbbbbb", "time": "2026-11-25T10:00:00Z",
                     "tags": ["antone-postgres", "pre-restore"]}]

    assert ab.pick_snapshot(FakeRestic(), "latest", "h")["short_id"] == "aaaaaaaa"
    assert ab.pick_snapshot(FakeRestic(), "bbbbbbbb", "h")["short_id"] == "bbbbbbbb"
    with pytest.raises(ab.BackupError, match="no database snapshot cccccccc"):
        ab.pick_snapshot(FakeRestic(), "cccccccc", "h")


# ---------------------------------------------------------------- the lock


def test_a_second_run_is_refused_at_once_and_told_who_holds_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    with ab.locked(lock, 0, log):
        with pytest.raises(ab.LockBusy, match=r"pid \d+"):
            with ab.locked(lock, 0, log):
                pass


def test_a_waiting_run_goes_on_when_the_first_one_ends(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    order: list[str] = []

    def first() -> None:
        with ab.locked(lock, 0, log):
            order.append("first holds")
            time.sleep(1.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.3)
    with ab.locked(lock, 10, log):
        order.append("second holds")
    thread.join()
    assert order == ["first holds", "first done", "second holds"]
    assert any("waiting up to 10 s" in line for line in log.lines)


# ---------------------------------------------------------------- pings


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *_: Any) -> None:
        pass


def test_pings_go_to_healthchecks_urls_with_the_log_tail() -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/uuid-1"
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    Recorder.received = []
    ab.ping(base, "start", "", log)
    ab.ping(base, "fail", "x" * 150_000 + "THE END", log)
    ab.ping(base, "success", "fine", log)
    server.shutdown()
    paths = [p for p, _ in Recorder.received]
    assert paths == ["/uuid-1/start", "/uuid-1/fail", "/uuid-1"]
    assert len(Recorder.received[1][1]) == ab.PING_BODY_LIMIT
    assert Recorder.received[1][1].endswith(b"THE END")


def test_an_unreachable_ping_is_logged_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ab.time, "sleep", lambda _: None)
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    ab.ping("http://127.0.0.1:9/nothing", "success", "", log)
    assert any("warning: ping success failed" in line for line in log.lines)


def test_no_url_no_ping() -> None:
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    ab.ping("", "success", "body", log)
    assert log.lines == []


# ---------------------------------------------------------------- the off-site endpoint


@pytest.mark.parametrize(("location", "url"), [
    ("s3:https://s3.us-west-004.backblazeb2.com/bucket/host", "https://s3.us-west-004.backblazeb2.com/"),
    ("s3:http://127.0.0.1:9000/antone-backups/h", "http://127.0.0.1:9000/"),
    ("s3:s3.amazonaws.com/bucket", "https://s3.amazonaws.com/"),
    ("b2:bucket:host", "https://api.backblazeb2.com/"),
    ("/var/backups/antone/restic", ""),
])
def test_endpoint_of_a_repository(location: str, url: str) -> None:
    assert ab.endpoint_of(location) == url


def test_an_endpoint_that_answers_with_an_error_is_reachable() -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)  # answers HEAD with 501
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert ab.reachable(f"http://127.0.0.1:{server.server_port}/") == ""
    server.shutdown()


def test_an_unreachable_endpoint_fails_within_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    log = ab.Log(stream=open("/dev/null", "w"))  # noqa: SIM115
    repo = ab.Repository("offsite", "s3:http://127.0.0.1:9/b/h", "/pw", "/creds", "s3")
    started = time.monotonic()
    with pytest.raises(ab.BackupError, match=r"endpoint http://127.0.0.1:9/ did not answer within 2 s"):
        ab.wait_for_endpoint(repo, 2, log)
    assert time.monotonic() - started < 10
    assert any("does not answer" in line for line in log.lines)
