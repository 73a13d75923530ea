#!/usr/bin/env python3
"""The cloudflared stand-in's one program (see the Dockerfile): what the stack asks of cloudflared.

  cloudflared tunnel [--no-autoupdate] [--metrics ADDR] [--config FILE] run [--token-file FILE | --token T]
  cloudflared tunnel --metrics ADDR ready
  cloudflared --version

`run` reads the token from the file (or the credentials file that config.yml names), checks its
shape (base64 of JSON with a, t and s; or AccountTag, TunnelID and TunnelSecret), logs the tunnel id
and the first 12 hex digits of the token's SHA-256 (never the token), and serves GET /ready on the
metrics address: 200 {"status": 200, "readyConnections": 1, "connectorId": ...} when the secret is
well formed. It exits 1 when the secret cannot be read or has the wrong shape, as cloudflared does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import signal
import sys
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "2025.11.1 (antone.infra test stand-in)"


def log(message: str) -> None:
    print(f"INF {message}", file=sys.stderr, flush=True)


def fail(message: str) -> int:
    print(f"ERR {message}", file=sys.stderr, flush=True)
    return 1


def options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """--name value / --name=value / --flag pairs, and the remaining words, in order."""
    found: dict[str, str] = {}
    words: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            if not equals and name not in ("no-autoupdate", "help", "version"):
                index += 1
                value = argv[index] if index < len(argv) else ""
            found[name] = value
        else:
            words.append(word)
        index += 1
    return found, words


def token_fields(token: str) -> dict[str, Any] | None:
    try:
        text = token.strip()
        fields = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    ok = isinstance(fields, dict) and all(isinstance(fields.get(k), str) and fields[k] for k in "ats")
    return fields if ok else None


def config_value(path: str, key: str) -> str:
    """A top-level `key: value` of config.yml (enough for tunnel and credentials-file)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            name, colon, value = line.partition(":")
            if colon and name == key:
                return value.strip().strip("'\"")
    return ""


def read_secret(found: dict[str, str]) -> tuple[str, str]:
    """(tunnel id, fingerprint) of the token or credentials; ValueError when they are unusable."""
    if "token-file" in found or "token" in found:
        token = found.get("token", "")
        if "token-file" in found:
            with open(found["token-file"], encoding="utf-8") as handle:
                token = handle.read()
        fields = token_fields(token)
        if fields is None:
            raise ValueError("Provided Tunnel token is not valid.")
        return fields["t"], hashlib.sha256(token.strip().encode()).hexdigest()[:12]
    if "config" in found:
        path = config_value(found["config"], "credentials-file")
        with open(path, encoding="utf-8") as handle:
            raw = handle.read()
        credentials = json.loads(raw)
        if not all(credentials.get(key) for key in ("AccountTag", "TunnelID", "TunnelSecret")):
            raise ValueError(f"Invalid JSON when parsing tunnel credentials file {path}")
        if config_value(found["config"], "tunnel") != credentials["TunnelID"]:
            raise ValueError("config.yml names another tunnel than the credentials file")
        return credentials["TunnelID"], hashlib.sha256(raw.strip().encode()).hexdigest()[:12]
    raise ValueError("\"cloudflared tunnel run\" requires the ID or name of the tunnel to run, or a token")


def serve(address: str, tunnel_id: str) -> None:
    host, _colon, port = address.rpartition(":")
    connector = str(uuid.uuid4())
    body = json.dumps({"status": 200, "readyConnections": 1, "connectorId": connector}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            status, data = (200, body) if self.path == "/ready" else (404, b"404 page not found\n")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    log(f"Starting metrics server on {address}/metrics")
    log(f"Registered tunnel connection connIndex=0 connection={connector} tunnel={tunnel_id} (stand-in: no edge)")
    ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler).serve_forever()


def stop(signum: int, _frame: Any) -> None:
    log(f"Initiating graceful shutdown due to signal {signal.Signals(signum).name} ...")
    sys.exit(0)


def ready(address: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/ready", timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        return fail(f"the metrics server at {address} does not answer: {error}")


def main(argv: list[str]) -> int:
    found, words = options(argv[1:])
    if "version" in found or words[:1] == ["version"]:
        print(f"cloudflared version {VERSION}")
        return 0
    if words[:1] != ["tunnel"] or words[1:2] not in (["run"], ["ready"]):
        return fail("the stand-in knows `tunnel ... run` and `tunnel --metrics ADDR ready` only")
    address = found.get("metrics", "")
    if words[1] == "ready":
        return ready(address) if address else fail("--metrics is required for ready")
    log(f"Version {VERSION}")
    try:
        tunnel_id, fingerprint = read_secret(found)
    except (OSError, ValueError) as error:
        return fail(str(error))
    log(f"Starting tunnel tunnelID={tunnel_id} secret-sha256={fingerprint}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    serve(address or "127.0.0.1:20241", tunnel_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
