"""The stack role's project files, rendered on the controller for seed 000's stack (the default
preset) and for each example inventory (seeds 002, 003 and 004):
- every ${VAR} in every compose file has a line in .env.example (CONFIG-001);
- `docker compose config` accepts base + prod and base + dev, run with the compose v2 plugin of
  the Debian 13 test host image (this machine's own docker CLI has none);
- no secret value lands in a file others can read, or in a file that is not a secret's.
Needs the test bed (`make testbed`): a running engine and antone-testhost:debian13-engine."""

from __future__ import annotations

import getpass
import grp
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "inventories" / "examples"
COMPOSE_IMAGE = "antone-testhost:debian13-engine"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.prod.yml", "docker-compose.dev.yml")
DEFAULT_VARS = {
    "stack_backend_image": "ghcr.io/example/antone-backend:1.0.0",
    "stack_dashboard_image": "ghcr.io/example/antone-dashboard:1.0.0",
    "stack_secrets": {
        "postgres_password": "s3cr$t@pass/word",
        "cloudflare_tunnel_token": "eyJ-tunnel-token-value",
        "jwt_secret": "jwt-$ecret-value",
    },
    "stack_backend_secrets": {"JWT_SECRET": "jwt_secret"},
}
# seed 000's locally managed tunnel: config.yml with the ingress rules, and the credentials file
TUNNEL_LOCAL_VARS = {
    **DEFAULT_VARS,
    "stack_secrets": {"postgres_password": "s3cr$t@pass/word", "jwt_secret": "jwt-$ecret-value"},
    "cloudflared_mode": "local",
    "cloudflared_zone": "example.com",
    "cloudflared_ingress": [{"hostname": "app.example.com", "service": "http://dashboard:3000"}],
    "cloudflared_credentials": {"AccountTag": "acc0123", "TunnelID": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
                                "TunnelSecret": "dHVubmVsLXNlY3JldC12YWx1ZQ=="},
}
PRODUCTION = ROOT / "inventories" / "production" / "group_vars" / "antone"
INVENTORIES = ["antone-default", "antone-tunnel-local", "production",
               *sorted(p.name for p in EXAMPLES.iterdir() if (p / "group_vars").is_dir())]
VARIABLE = re.compile(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def inventory_vars(name: str) -> tuple[list[str], list[str]]:
    """The -e arguments that load an inventory's variables, and the secret values they hold."""
    if name == "antone-default":
        return ["-e", yaml.safe_dump(DEFAULT_VARS, default_flow_style=True, width=10000)], list(
            DEFAULT_VARS["stack_secrets"].values()
        )
    if name == "antone-tunnel-local":
        return ["-e", yaml.safe_dump(TUNNEL_LOCAL_VARS, default_flow_style=True, width=10000)], [
            *TUNNEL_LOCAL_VARS["stack_secrets"].values(), TUNNEL_LOCAL_VARS["cloudflared_credentials"]["TunnelSecret"]]
    if name == "production":  # its API mode registers the tunnel at the Cloudflare stand-in
        vault = PRODUCTION / "vault.yml.example"
        secrets = [str(v) for v in yaml.safe_load(vault.read_text()).values() if len(str(v)) > 8]
        return ["-e", f"@{PRODUCTION / 'main.yml'}", "-e", f"@{vault}", "-e", f"cloudflared_api_url={cloudflare_stand_in()}"], secrets
    group_vars = EXAMPLES / name / "group_vars" / "antone"
    vault = group_vars / "vault.yml.example"
    secrets = [str(v) for v in yaml.safe_load(vault.read_text()).values()]
    return ["-e", f"@{group_vars / 'stack.yml'}", "-e", f"@{vault}"], secrets


def cloudflare_stand_in() -> str:
    """tests/fakes/cloudflare_api.py for the production inventory's account, zone and vault token; it
    exits by itself once idle."""
    main = yaml.safe_load((PRODUCTION / "main.yml").read_text())
    token = yaml.safe_load((PRODUCTION / "vault.yml.example").read_text())["vault_cloudflare_api_token"]
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.Popen([sys.executable, str(ROOT / "tests" / "fakes" / "cloudflare_api.py"), "--port", str(port),
                      "--token", token, "--account", main["cloudflared_account_id"], "--zone", main["cloudflared_zone"],
                      "--idle-exit", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module", params=INVENTORIES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    project = tmp_path_factory.mktemp(request.param) / "project"
    extra, secrets = inventory_vars(request.param)
    result = subprocess.run(
        [
            "ansible-playbook", str(ROOT / "tests" / "integration" / "render.yml"), *extra,
            "-e", f"stack_project_dir={project}", "-e", f"stack_project_owner={getpass.getuser()}",
            "-e", f"stack_project_group={grp.getgrgid(os.getgid()).gr_name}", "-e", f"stack_secrets_gid={os.getgid()}",
        ],
        capture_output=True, text=True, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for secret in secrets:
        assert secret not in result.stdout + result.stderr, "a secret value is in the playbook's output"
    return project, secrets


def compose_variables(text: str) -> set[str]:
    return set(VARIABLE.findall(text))


def test_compose_variables_ignores_escaped_dollars() -> None:
    assert compose_variables('image: ${A_IMAGE}\ntest: echo $$HOME $B ${C:-x}') == {"A_IMAGE", "B", "C"}


def test_env_example_lists_every_compose_variable(rendered: tuple[Path, list[str]]) -> None:
    project, _ = rendered
    example = (project / ".env.example").read_text()
    listed = set(re.findall(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)=", example))
    used = set().union(*(compose_variables((project / f).read_text()) for f in COMPOSE_FILES))
    assert used, "the compose files use no variable at all: the test would prove nothing"
    assert used - listed == set()


def test_secrets_stay_in_private_files(rendered: tuple[Path, list[str]]) -> None:
    project, secrets = rendered
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        text = path.read_text()
        holds_secret = any(s in text for s in secrets)
        relative = path.relative_to(project).as_posix()
        if holds_secret:
            assert relative.startswith(("env/", "secrets/")), f"{relative} holds a secret value"
        if relative.startswith("env/"):
            assert path.stat().st_mode & 0o777 == 0o600, relative
        if relative.startswith("secrets/"):
            assert path.stat().st_mode & 0o777 == 0o440, relative
        if not relative.startswith("files/"):  # placed files are read by the containers' own users
            assert path.stat().st_mode & 0o007 == 0, f"{relative} is readable by others"
    assert project.stat().st_mode & 0o007 == 0, "others can enter the project directory"


def compose_config(project: Path, override: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{project}:{project}:ro", "-w", str(project),
         "--entrypoint", "docker", COMPOSE_IMAGE,
         "compose", "-f", "docker-compose.yml", "-f", override, "config", "--quiet"],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("override", ["docker-compose.prod.yml", "docker-compose.dev.yml"])
def test_docker_compose_config_accepts_the_files(rendered: tuple[Path, list[str]], override: str) -> None:
    project, _ = rendered
    result = compose_config(project, override)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_a_broken_file(tmp_path: Path) -> None:
    """The check above can fail: compose must reject a service that depends on a missing one."""
    (tmp_path / "docker-compose.yml").write_text("services:\n  a:\n    image: x\n    depends_on: [missing]\n")
    (tmp_path / "docker-compose.prod.yml").write_text("services: {}\n")
    assert compose_config(tmp_path, "docker-compose.prod.yml").returncode != 0


@pytest.mark.parametrize("rendered", ["antone-default"], indirect=True)
def test_the_token_reaches_cloudflared_as_a_file_named_on_its_command_line(rendered: tuple[Path, list[str]]) -> None:
    project, _ = rendered
    service = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]["cloudflared"]
    assert service["command"][-3:] == ["run", "--token-file", "/run/secrets/cloudflare_tunnel_token"]
    assert service["secrets"] == ["cloudflare_tunnel_token"]
    assert "TUNNEL_TOKEN" not in (project / "env" / "cloudflared.env").read_text()
    assert (project / "secrets" / "cloudflare_tunnel_token").stat().st_gid == 65532


@pytest.mark.parametrize("rendered", ["antone-tunnel-local"], indirect=True)
def test_the_locally_managed_tunnel_gets_config_yml_and_its_credentials(rendered: tuple[Path, list[str]]) -> None:
    project, _ = rendered
    service = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]["cloudflared"]
    assert service["command"][-3:] == ["--config", "/etc/cloudflared/config.yml", "run"]
    assert "./files/cloudflared/config.yml:/etc/cloudflared/config.yml:ro" in service["volumes"]
    config = yaml.safe_load((project / "files" / "cloudflared" / "config.yml").read_text())
    assert config == {"tunnel": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
                      "credentials-file": "/run/secrets/cloudflare_tunnel_credentials",
                      "ingress": [{"hostname": "app.example.com", "service": "http://dashboard:3000"},
                                  {"service": "http_status:404"}]}
    credentials = json.loads((project / "secrets" / "cloudflare_tunnel_credentials").read_text())
    assert credentials == TUNNEL_LOCAL_VARS["cloudflared_credentials"]


@pytest.mark.parametrize("rendered", ["campaign-postgis"], indirect=True)
def test_seed_002_keeps_its_frontend_network(rendered: tuple[Path, list[str]]) -> None:
    project, _ = rendered
    base = yaml.safe_load((project / "docker-compose.yml").read_text())
    assert set(base["networks"]) == {"campaign-network", "campaign-frontend"}
    assert base["services"]["frontend"]["networks"] == ["campaign-frontend"]
    assert base["services"]["api"]["networks"] == ["campaign-network", "campaign-frontend"]
    assert base["services"]["postgres"]["networks"] == ["campaign-network"]
