"""The cloudflared stand-in (testbed/images/cloudflared/cloudflared.py) reads its secret as cloudflared does."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[3] / "testbed" / "images" / "cloudflared" / "cloudflared.py"
TOKEN = base64.b64encode(json.dumps({"a": "acc", "t": "tunnel-uuid", "s": "c2VjcmV0"}).encode()).decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cloudflared(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SOURCE), *args], capture_output=True, text=True, timeout=20)


def test_run_with_a_token_file_serves_ready_and_logs_only_a_fingerprint(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen([sys.executable, str(SOURCE), "tunnel", "--no-autoupdate", "--metrics", address,
                                "run", "--token-file", str(token_file)], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            if cloudflared("tunnel", "--metrics", address, "ready").returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("never ready")
    finally:
        process.terminate()
        log = process.communicate(timeout=10)[1]
    assert f"secret-sha256={hashlib.sha256(TOKEN.encode()).hexdigest()[:12]}" in log
    assert "tunnelID=tunnel-uuid" in log and TOKEN not in log
    assert process.returncode == 0 and "graceful shutdown due to signal SIGTERM" in log


def test_a_malformed_token_or_a_missing_file_fails(tmp_path: Path) -> None:
    bad = tmp_path / "token"
    bad.write_text("not-a-token")
    result = cloudflared("tunnel", "--metrics", "127.0.0.1:1", "run", "--token-file", str(bad))
    assert result.returncode == 1 and "Provided Tunnel token is not valid" in result.stderr
    assert cloudflared("tunnel", "run", "--token-file", str(tmp_path / "missing")).returncode == 1


def test_the_config_form_checks_the_credentials_file(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"AccountTag": "acc", "TunnelID": "t-1", "TunnelSecret": "s"}))
    config = tmp_path / "config.yml"
    config.write_text(f"tunnel: t-2\ncredentials-file: {credentials}\ningress:\n- service: http_status:404\n")
    result = cloudflared("tunnel", "--config", str(config), "run")
    assert result.returncode == 1 and "names another tunnel" in result.stderr


def test_ready_fails_when_nothing_listens() -> None:
    assert cloudflared("tunnel", "--metrics", f"127.0.0.1:{free_port()}", "ready").returncode == 1
