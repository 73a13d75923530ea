#!/usr/bin/env python3
"""A stand-in for healthchecks.io's Pinging API, for test hosts only (healthchecks.io cannot be
reached from the test bed). Standard library only: it runs with the test host's own python3.

It answers the UUID endpoints as https://hc-ping.com does (https://healthchecks.io/docs/http_api/):

    HEAD|GET|POST /<uuid>                success
    HEAD|GET|POST /<uuid>/start          start
    HEAD|GET|POST /<uuid>/fail           failure
    HEAD|GET|POST /<uuid>/log            log (the check's state stays as it is)
    HEAD|GET|POST /<uuid>/<exit-status>  0 is a success, 1-255 a failure

- 200 "OK" (text/plain; charset=utf-8, Ping-Body-Limit: 100000) for a check it knows (--uuid);
- 404 "not found" for a UUID it does not know, and for a URL that matches none of the routes
  (a UUID that is not in lowercase canonical form, an exit status that is not a number);
- 400 "invalid url format" for an exit status over 255 (of a known check: the check is looked up
  first), 400 "invalid uuid format" for a ?rid= that is not a canonical UUID;
- a POST body is kept up to its first 100 kB (100,000 bytes), the limit of the hosted service.

Every accepted ping is appended to --log as one JSON line:
{"time", "uuid", "kind": "success|start|fail|log|exit", "exit_status": int|null, "method", "body"}.
For tests, GET /_fake/pings returns those lines as a JSON list and DELETE /_fake/pings clears them.

Not modelled: slug URLs (/<ping-key>/<slug>), methods other than HEAD, GET and POST (405), and the
hosted service's refusal of request bodies of several megabytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PING_BODY_LIMIT = 100_000  # bytes of a ping's body that healthchecks.io keeps ("100 kB")
# Django's <uuid:...> path converter: lowercase, canonical form only.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PING_ROUTE = re.compile(rf"^/(?P<uuid>{UUID_PATTERN})(?:/(?P<action>start|fail|log|[0-9]+)?)?$")
FAKE_ROUTE = "/_fake/pings"
PING_METHODS = ("HEAD", "GET", "POST")
DEFAULT_LOG = "/var/lib/antone-fake-healthchecks/pings.jsonl"


@dataclass(frozen=True)
class Ping:
    """What a ping URL asks for."""

    uuid: str
    kind: str  # success, start, fail, log or exit
    exit_status: int | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def parse_ping_path(path: str) -> Ping | None:
    """The ping a URL path names, or None when the path matches no ping route."""
    match = PING_ROUTE.match(path)
    if match is None:
        return None
    action = match.group("action")
    if action is None:
        return Ping(match.group("uuid"), "success")
    if action.isdigit():
        return Ping(match.group("uuid"), "exit", int(action))
    return Ping(match.group("uuid"), action)


def is_canonical_uuid(value: str) -> bool:
    return re.fullmatch(UUID_PATTERN, value) is not None


def text_reply(status: int, body: str, *headers: tuple[str, str]) -> Reply:
    return Reply(status, body, (("Content-Type", "text/plain; charset=utf-8"), *headers))


def answer_ping(ping: Ping | None, known: frozenset[str], query: str) -> Reply:
    """The service's answer to a ping, in the order the real one checks things."""
    if ping is None or ping.uuid not in known:
        return text_reply(404, "not found")
    if ping.exit_status is not None and ping.exit_status > 255:
        return text_reply(400, "invalid url format")
    rid = parse_qs(query).get("rid")
    if rid is not None and not is_canonical_uuid(rid[-1]):
        return text_reply(400, "invalid uuid format")
    return text_reply(
        200, "OK", ("Ping-Body-Limit", str(PING_BODY_LIMIT)), ("Access-Control-Allow-Origin", "*")
    )


def stored_body(raw: bytes) -> str:
    """The part of a request body the service keeps: the first 100 kB, as text."""
    return raw[:PING_BODY_LIMIT].decode("utf-8", errors="replace")


def ping_record(ping: Ping, method: str, body: bytes, now: datetime | None = None) -> dict[str, object]:
    """One line of the ping log."""
    moment = now or datetime.now(timezone.utc)
    return {
        "time": moment.isoformat(timespec="milliseconds"),
        "uuid": ping.uuid,
        "kind": ping.kind,
        "exit_status": ping.exit_status,
        "method": method,
        "body": stored_body(body),
    }


class PingLog:
    """The accepted pings, one JSON object a line in a file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def append(self, record: dict[str, object]) -> None:
        with self.lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def read(self) -> list[dict[str, object]]:
        with self.lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def clear(self) -> None:
        with self.lock:
            self.path.write_text("", encoding="utf-8")


def read_chunked(stream) -> bytes:  # noqa: ANN001 - a binary file object
    """A body sent with Transfer-Encoding: chunked (curl -T -, for one)."""
    data = bytearray()
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(data)
        data += stream.read(size)
        stream.readline()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "antone-fake-healthchecks"
    known: frozenset[str] = frozenset()
    pings: PingLog

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        self.handle_ping()

    def do_GET(self) -> None:  # noqa: N802
        if self.route() == FAKE_ROUTE:
            self.send(Reply(200, json.dumps(self.pings.read()), (("Content-Type", "application/json"),)))
        else:
            self.handle_ping()

    def do_POST(self) -> None:  # noqa: N802
        self.handle_ping()

    def do_DELETE(self) -> None:  # noqa: N802
        self.read_body()
        if self.route() == FAKE_ROUTE:
            self.pings.clear()
            self.send(Reply(204, ""))
        else:
            self.send(text_reply(405, "method not allowed", ("Allow", ", ".join(PING_METHODS))))

    def do_PUT(self) -> None:  # noqa: N802
        self.read_body()
        self.send(text_reply(405, "method not allowed", ("Allow", ", ".join(PING_METHODS))))

    do_PATCH = do_PUT  # noqa: N815
    do_OPTIONS = do_PUT  # noqa: N815

    def route(self) -> str:
        return urlsplit(self.path).path

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def handle_ping(self) -> None:
        body = self.read_body()
        parts = urlsplit(self.path)
        ping = parse_ping_path(parts.path)
        reply = answer_ping(ping, self.known, parts.query)
        if reply.status == 200 and ping is not None:
            self.pings.append(ping_record(ping, self.command, body))
        self.send(reply)

    def send(self, reply: Reply) -> None:
        data = reply.body.encode("utf-8")
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def make_server(host: str, port: int, uuids: list[str], log: Path) -> ThreadingHTTPServer:
    """A server (not yet serving) that knows the checks uuids and logs its pings to log."""
    handler = type("FakeHealthchecksHandler", (Handler,), {"known": frozenset(uuids), "pings": PingLog(log)})
    return ThreadingHTTPServer((host, port), handler)


def canonical_uuid(value: str) -> str:
    """argparse type: a check's UUID as healthchecks.io writes it."""
    if not is_canonical_uuid(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a lowercase canonical UUID")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8025, help="port to listen on (default: %(default)s)")
    parser.add_argument("--uuid", dest="uuids", action="extend", nargs="+", type=canonical_uuid, required=True,
                        metavar="UUID", help="a check that exists; repeat it, or give several after one --uuid")
    parser.add_argument("--log", type=Path, default=Path(DEFAULT_LOG),
                        help="file the accepted pings are appended to, a JSON object a line (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = make_server(args.host, args.port, args.uuids, args.log)
    print(f"fake healthchecks listening on {args.host}:{args.port} for {len(set(args.uuids))} checks, "
          f"pings logged to {args.log}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
