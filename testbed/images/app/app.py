"""The application test image's one program: an HTTP server whose /health tells the truth.

GET (or HEAD) /health answers 200 only when every dependency it is configured with answers:
- DATABASE_URL (or DATABASE_URL_FILE, the Docker secrets convention): a postgresql:// URL whose
  user and password are percent-decoded, as a real client does; psql runs `SELECT 1` with them,
  the password passed in the environment, never in arguments;
- UPSTREAM_URL: another service's /health, e.g. the dashboard checking the API.
While the file /tmp/unhealthy exists, /health answers 503: tests make a service unhealthy with it.
Otherwise it answers 503 with the reason. It binds 0.0.0.0 on $PORT (seed 000, OPS-001).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def setting(name: str) -> str:
    """NAME from the environment, or the content of the file NAME_FILE names."""
    path = os.environ.get(f"{name}_FILE", "")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get(name, "")


def database_env(url: str) -> dict[str, str]:
    """libpq's environment for a postgresql:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL is not a postgresql:// URL")
    return {
        "PGHOST": parts.hostname or "localhost",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
        "PGCONNECT_TIMEOUT": "3",
    }


def check_database(url: str) -> str:
    """Empty when PostgreSQL answers SELECT 1, else the reason."""
    try:
        env = {**os.environ, **database_env(url)}
    except ValueError as error:
        return str(error)
    result = subprocess.run(
        ["psql", "--no-psqlrc", "-Atc", "SELECT 1"], env=env, capture_output=True, text=True, timeout=10
    )
    if result.returncode == 0 and result.stdout.strip() == "1":
        return ""
    return "database: " + (result.stderr.strip().splitlines() or ["no answer"])[-1]


def check_upstream(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return "" if response.status == 200 else f"upstream: HTTP {response.status}"
    except OSError as error:
        return f"upstream: {error}"


class Handler(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802 (the http.server API); wget --spider asks with HEAD
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:  # noqa: N802
        self.head = head
        if self.path != "/health":
            self.reply(404, "not found\n")
            return
        problems = []
        if url := setting("DATABASE_URL"):
            problems.append(check_database(url))
        if upstream := os.environ.get("UPSTREAM_URL", ""):
            problems.append(check_upstream(upstream))
        if os.path.exists("/tmp/unhealthy"):
            problems.append("told to be unhealthy (/tmp/unhealthy exists)")
        problems = [p for p in problems if p]
        self.reply(503 if problems else 200, "\n".join(problems or ["ok"]) + "\n")

    def reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not getattr(self, "head", False):
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main(argv: list[str]) -> int:
    if argv[1:] and argv[1] != "serve":
        os.execvp(argv[1], argv[1:])  # any other command runs as given, like an entrypoint would
    port = int(os.environ.get("PORT", "3001"))
    print(f"listening on 0.0.0.0:{port}, health at /health", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
