"""The healthchecks.io stand-in (testbed/fakes/healthchecks.py) answers as the Pinging API does."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from source_loader import load_source  # tests/unit/source_loader.py

SOURCE = Path(__file__).resolve().parents[3] / "testbed" / "fakes" / "healthchecks.py"
KNOWN = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"
OTHER = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
UNKNOWN = "07c2f548-9850-4b27-af5d-6c9dc157ec02"


hc = load_source("fake_healthchecks", SOURCE)


class Server:
    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log

    def request(self, path: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        """(status, body, headers) of one request; HTTP errors are answers too."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def pings(self) -> list[dict]:
        status, body, _ = self.request("/_fake/pings")
        assert status == 200
        return json.loads(body)

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    log = tmp_path / "state" / "pings.jsonl"
    httpd = hc.make_server("127.0.0.1", 0, [KNOWN, OTHER], log)  # port 0: a free port
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("suffix", "kind", "exit_status"),
    [
        ("", "success", None),
        ("/", "success", None),
        ("/start", "start", None),
        ("/fail", "fail", None),
        ("/log", "log", None),
        ("/0", "exit", 0),
        ("/1", "exit", 1),
        ("/255", "exit", 255),
    ],
)
def test_each_route_answers_ok_and_is_logged(server: Server, suffix: str, kind: str, exit_status: int | None) -> None:
    status, body, headers = server.request(f"/{KNOWN}{suffix}")
    assert (status, body) == (200, "OK")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Ping-Body-Limit"] == "100000"
    assert headers["Access-Control-Allow-Origin"] == "*"
    [ping] = server.pings()
    assert ping["uuid"] == KNOWN
    assert ping["kind"] == kind
    assert ping["exit_status"] == exit_status
    assert ping["method"] == "GET"
    assert ping["body"] == ""


@pytest.mark.parametrize("method", ["HEAD", "GET", "POST"])
def test_head_get_and_post_are_pings(server: Server, method: str) -> None:
    status, body, _ = server.request(f"/{OTHER}/start", method=method, body=b"" if method == "POST" else None)
    assert status == 200
    assert body == ("" if method == "HEAD" else "OK")
    assert [(p["method"], p["kind"]) for p in server.pings()] == [(method, "start")]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_other_methods_are_refused_and_not_logged(server: Server, method: str) -> None:
    status, _, headers = server.request(f"/{KNOWN}", method=method, body=b"x")
    assert status == 405
    assert headers["Allow"] == "HEAD, GET, POST"
    assert server.pings() == []


@pytest.mark.parametrize("suffix", ["", "/start", "/fail", "/log", "/0", "/256"])
def test_an_unknown_uuid_is_404_not_found(server: Server, suffix: str) -> None:
    assert server.request(f"/{UNKNOWN}{suffix}")[:2] == (404, "not found")
    assert server.pings() == []


@pytest.mark.parametrize(
    "path",
    [
        f"/{KNOWN.upper()}",  # the UUID converter takes lowercase only
        "/" + KNOWN.replace("-", ""),  # and the canonical form only
        f"/{KNOWN}/abc",  # an exit status must be a number
        f"/{KNOWN}/-1",
        f"/{KNOWN}/fail/",
        "/not-a-uuid",
        "/",
    ],
)
def test_a_path_that_matches_no_route_is_404(server: Server, path: str) -> None:
    assert server.request(path)[0] == 404
    assert server.pings() == []


def test_an_exit_status_over_255_is_400_invalid_url_format(server: Server) -> None:
    assert server.request(f"/{KNOWN}/256")[:2] == (400, "invalid url format")
    assert server.request(f"/{KNOWN}/1000")[:2] == (400, "invalid url format")
    assert server.pings() == []


def test_a_run_id_must_be_a_uuid(server: Server) -> None:
    assert server.request(f"/{KNOWN}/start?rid=nope")[:2] == (400, "invalid uuid format")
    assert server.request(f"/{KNOWN}/start?rid={UNKNOWN}")[:2] == (200, "OK")
    assert [p["kind"] for p in server.pings()] == ["start"]


def test_a_post_body_is_kept(server: Server) -> None:
    status, _, _ = server.request(f"/{KNOWN}/1", method="POST", body="restic: Fatal: wrong password\n".encode())
    assert status == 200
    [ping] = server.pings()
    assert ping == {
        "time": ping["time"],
        "uuid": KNOWN,
        "kind": "exit",
        "exit_status": 1,
        "method": "POST",
        "body": "restic: Fatal: wrong password\n",
    }


def test_a_body_over_100_kb_is_cut_to_its_first_100000_bytes(server: Server) -> None:
    body = b"a" * 99_999 + b"bc" + b"z" * 50_000
    assert server.request(f"/{KNOWN}/log", method="POST", body=body)[:2] == (200, "OK")
    [ping] = server.pings()
    assert len(ping["body"]) == 100_000
    assert ping["body"].endswith("ab")


def test_a_chunked_body_is_read(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"snapshot 1a2b3c4d saved\n"
        yield b"done\n"

    req = urllib.request.Request(f"{server.base}/{KNOWN}", data=chunks(), method="POST",
                                 headers={"Transfer-Encoding": "chunked"})
    with urllib.request.urlopen(req, timeout=5) as response:
        assert response.status == 200
    assert server.pings()[0]["body"] == "snapshot 1a2b3c4d saved\ndone\n"


def test_the_log_file_has_one_json_line_per_accepted_ping(server: Server) -> None:
    server.request(f"/{KNOWN}/start")
    server.request(f"/{UNKNOWN}")  # refused: not logged
    server.request(f"/{KNOWN}", method="POST", body=b"ok")
    server.request(f"/{OTHER}/3", method="HEAD")
    lines = server.log_lines()
    assert [(p["uuid"], p["kind"], p["exit_status"], p["method"]) for p in lines] == [
        (KNOWN, "start", None, "GET"),
        (KNOWN, "success", None, "POST"),
        (OTHER, "exit", 3, "HEAD"),
    ]
    assert all(set(p) == {"time", "uuid", "kind", "exit_status", "method", "body"} for p in lines)
    assert all(p["time"].endswith("+00:00") for p in lines)
    assert server.pings() == lines


def test_delete_clears_the_pings(server: Server) -> None:
    server.request(f"/{KNOWN}")
    assert len(server.pings()) == 1
    assert server.request("/_fake/pings", method="DELETE")[0] == 204
    assert server.pings() == []
    assert server.log.read_text() == ""
    server.request(f"/{KNOWN}/fail")
    assert [p["kind"] for p in server.pings()] == ["fail"]


def test_the_log_survives_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "pings.jsonl"
    first = hc.PingLog(log)
    first.append(hc.ping_record(hc.Ping(KNOWN, "success"), "GET", b""))
    assert [p["kind"] for p in hc.PingLog(log).read()] == ["success"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/{KNOWN}", hc.Ping(KNOWN, "success")),
        (f"/{KNOWN}/", hc.Ping(KNOWN, "success")),
        (f"/{KNOWN}/log", hc.Ping(KNOWN, "log")),
        (f"/{KNOWN}/007", hc.Ping(KNOWN, "exit", 7)),
        (f"/{KNOWN}/300", hc.Ping(KNOWN, "exit", 300)),  # a route; the answer is 400
        (f"/{KNOWN}/abc", None),
        (f"/{KNOWN}/start/x", None),
        (f"/x/{KNOWN}", None),
    ],
)
def test_parse_ping_path(path: str, expected: object) -> None:
    assert hc.parse_ping_path(path) == expected


def test_the_command_line_takes_repeated_and_grouped_uuids() -> None:
    args = hc.parse_args(["--uuid", KNOWN, "--uuid", OTHER, UNKNOWN, "--port", "9999"])
    assert args.uuids == [KNOWN, OTHER, UNKNOWN]
    assert (args.host, args.port) == ("127.0.0.1", 9999)
    assert str(args.log) == hc.DEFAULT_LOG


@pytest.mark.parametrize("argv", [[], ["--uuid", KNOWN.upper()], ["--uuid", "nope"]])
def test_the_command_line_wants_canonical_uuids(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        hc.parse_args(argv)
