"""The stack role's one plan: the same inputs give the same plan, every problem names the variable to
fix, every file is listed once with its mode, and each file names the services its change reaches."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ansible_collections.antone.infra.plugins.plugin_utils.compose import COMPOSE_FILES
from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import health_urls, project_dir_problem, stack_plan

SERVICES: dict[str, Any] = {
    "postgres": {
        "image": "postgres:17",
        "environment": {"POSTGRES_USER": "antone", "POSTGRES_DB": "antone"},
        "secrets": {"POSTGRES_PASSWORD": "postgres_password"},
        "file_secrets": True,
        "volumes": ["postgres_data:/var/lib/postgresql/data"],
        "healthcheck": {"test": "pg_isready"},
    },
    "backend-api": {"image": "example/api:1", "secrets": {"DATABASE_URL": "database_url"},
                    "ports": [{"published": 3001, "target": 3001}], "depends_on": ["postgres"]},
    "backend-worker": {"image": "example/api:1", "environment": {"QUEUE": "jobs"}, "depends_on": ["postgres"]},
    "cloudflared": {"image": "cloudflare/cloudflared:2025.11.1", "secret_files": ["cloudflare_tunnel_token"],
                    "secrets_gid": 65532,
                    "files": [{"path": "config.yml", "target": "/etc/cloudflared/config.yml", "content": "a: 1\n"}]},
}
SECRETS = {"postgres_password": "p$ss@w/rd", "database_url": "postgresql://antone:p%24ss@postgres/antone",
           "cloudflare_tunnel_token": "eyJhIjoiYiJ9"}
TUNING = {"command": ["postgres", "-c", "shared_buffers=256MB"], "shm_size": "128m", "memory_limit": "1024m",
          "reload_settings": {"random_page_cost": "1.1"}}
INPUTS: dict[str, Any] = {"services": SERVICES, "volumes": {"postgres_data": {}}, "secrets": SECRETS,
                          "project_name": "antone", "project_dir": "/opt/antone", "postgres_tuning": TUNING,
                          "image_variables": {"backend-api": "stack_backend_image"}}


def plan(**changes: Any) -> dict[str, Any]:
    return stack_plan({**copy.deepcopy(INPUTS), **changes})


def by_path(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in result["files"]}


def test_the_same_inputs_give_the_same_plan() -> None:
    assert plan() == plan()
    assert plan()["problems"] == []


def test_every_file_is_listed_once_with_its_mode() -> None:
    files = by_path(plan())
    assert len(files) == len(plan()["files"])
    assert {p: f["mode"] for p, f in files.items()} == {
        "docker-compose.yml": "0640", "docker-compose.prod.yml": "0640", "docker-compose.dev.yml": "0640",
        ".env": "0640", ".env.example": "0640", "dev-ctl.sh": "0750",
        "env/postgres.env": "0600", "env/backend-api.env": "0600", "env/backend-worker.env": "0600",
        "env/cloudflared.env": "0600",
        "secrets/postgres_password": "0440", "secrets/cloudflare_tunnel_token": "0440",
        "files/cloudflared/config.yml": "0644",
    }


def test_secret_values_are_only_in_private_files() -> None:
    for item in plan()["files"]:
        text = item.get("content", "")
        leaks = [v for v in SECRETS.values() if v in text]
        assert item["private"] or not leaks, item["path"]
    files = by_path(plan())
    assert files["secrets/postgres_password"]["content"] == "p$ss@w/rd"
    assert "DATABASE_URL='postgresql://antone:p%24ss@postgres/antone'" in files["env/backend-api.env"]["content"]
    assert "DATABASE_URL=''" in files[".env.example"]["content"]
    assert not [v for v in SECRETS.values() if v in str(plan()["publication"])]


def test_each_file_names_the_services_its_change_reaches() -> None:
    files = by_path(plan())
    assert files["env/backend-worker.env"]["services"] == ["backend-worker"]
    assert not files["env/backend-worker.env"]["restart"]  # compose sees an env file's change itself
    # a bind-mounted secret: the role restarts its readers; PostgreSQL gets a new password by ALTER ROLE
    assert files["secrets/postgres_password"] == {**files["secrets/postgres_password"], "services": [],
                                                  "restart": True}
    assert files["secrets/cloudflare_tunnel_token"]["services"] == ["cloudflared"]
    assert files["secrets/cloudflare_tunnel_token"]["group"] == "65532"
    assert files["files/cloudflared/config.yml"]["services"] == ["cloudflared"]
    assert files["files/cloudflared/config.yml"]["restart"]
    assert files[".env.example"]["services"] == [] and files["dev-ctl.sh"]["services"] == []


def test_the_compose_file_names_come_from_one_place() -> None:
    result = plan()
    assert result["compose_files"] == [COMPOSE_FILES["base"], COMPOSE_FILES["prod"]]
    assert result["publication"]["compose_files"] == result["compose_files"]
    assert result["compose_args"] == ["-f", "docker-compose.yml", "-f", "docker-compose.prod.yml"]
    dotenv = by_path(result)[".env"]["content"]
    assert "COMPOSE_FILE='docker-compose.yml:docker-compose.prod.yml'" in dotenv
    assert "ANTONE_DEV_COMPOSE_FILE='docker-compose.yml:docker-compose.dev.yml'" in dotenv


def test_the_compose_files_are_yaml_with_the_tuning_applied() -> None:
    files = by_path(plan())
    prod = yaml.safe_load(files["docker-compose.prod.yml"]["content"])
    assert prod["services"]["postgres"]["command"] == TUNING["command"]
    assert prod["services"]["postgres"]["shm_size"] == "128m"
    base = yaml.safe_load(files["docker-compose.yml"]["content"])
    assert base["services"]["postgres"]["stop_grace_period"] == "120s"
    assert base["volumes"]["postgres_data"] == {"external": True, "name": "antone_postgres_data"}
    assert files["docker-compose.yml"]["content"].startswith("# docker-compose.yml of the antone stack")
    assert plan()["reload_settings"] == {"random_page_cost": "1.1"} and plan()["tuned"]
    assert not plan(postgres_tuning={})["tuned"]


def test_directories_and_the_postgres_details() -> None:
    result = plan()
    assert result["directories"] == [{"path": "", "mode": "0750"}, {"path": "env", "mode": "0700"},
                                     {"path": "secrets", "mode": "0700"}, {"path": "files", "mode": "0755"},
                                     {"path": "files/cloudflared", "mode": "0755"}]
    assert result["postgres"] == {"service": "postgres", "container": "antone-postgres-1", "image": "postgres:17",
                                  "user": "antone", "db": "antone", "volumes": ["postgres_data"],
                                  "password_secret": "postgres_password"}
    assert result["volumes"] == {"postgres_data": "antone_postgres_data"}
    assert plan(secrets_as_files=False, services={**SERVICES, "postgres": {**SERVICES["postgres"],
                                                                             "file_secrets": False}},
                )["postgres"]["password_secret"] == ""


@pytest.mark.parametrize("changes, message", [
    ({"project_name": "Antone"}, "stack_project_name must be lower case"),
    ({"project_dir": "opt/antone"}, "stack_project_dir must be an absolute, normalised path"),
    ({"project_dir": "/opt/antone/"}, "stack_project_dir must be an absolute, normalised path"),
    ({"project_dir": "/opt/../etc"}, "stack_project_dir must be an absolute, normalised path"),
    ({"project_dir": "/home/deploy"}, "stack_project_dir /home/deploy is a shared or home directory"),
    ({"project_dir": "/root"}, "stack_project_dir /root is a shared or home directory"),
    ({"project_dir": "/etc/antone"}, "stack_project_dir /etc/antone is inside the system directory /etc"),
    ({"project_dir": "/var/lib/docker/volumes"}, "inside the system directory /var/lib/docker"),
    ({"network": "a b"}, "stack_network must be a Docker network name"),
    ({"pull": "sometimes"}, "stack_pull must be one of missing, always, never"),
    ({"wait_timeout": 0}, "stack_wait_timeout must be a whole number 1 or more"),
    ({"log_max_file": "x"}, "stack_log_max_file must be a whole number 1 or more"),
    ({"secrets_gid": -1}, "stack_secrets_gid must be a whole number 0 or more"),
    ({"secrets": ["a"]}, "stack_secrets must be a mapping"),
    ({"services": {**SERVICES, "backend-api": {**SERVICES["backend-api"], "image": ""}}},
     "stack_backend_image is empty: name the backend-api image"),
    ({"secrets": {k: v for k, v in SECRETS.items() if k != "database_url"}},
     "stack service backend-api: DATABASE_URL needs the secret 'database_url'"),
    ({"favourite": 1}, "unknown stack inputs ['favourite']"),
])
def test_every_problem_names_the_variable_and_nothing_else_is_planned(changes: dict, message: str) -> None:
    result = plan(**changes)
    assert any(message in p for p in result["problems"]), result["problems"]
    assert set(result) == {"problems"}


def test_a_missing_image_is_reported_once() -> None:
    result = plan(services={**SERVICES, "backend-api": {**SERVICES["backend-api"], "image": ""}})
    assert [p for p in result["problems"] if "backend-api" in p and "image" in p] == [
        p for p in result["problems"] if p.startswith("stack_backend_image")]


def test_problems_never_show_secret_values() -> None:
    bad = {**SECRETS, "database_url": "line\nbreak"}
    result = plan(secrets=bad)
    assert result["problems"] and not any("line\nbreak" in p for p in result["problems"])


@pytest.mark.parametrize("path", ["/opt/antone", "/srv/antone", "/home/deploy/antone", "/var/lib/antone"])
def test_a_directory_of_its_own_is_accepted(path: str) -> None:
    assert project_dir_problem(path) == ""


def test_ansible_types_are_read_as_plain_values() -> None:
    class Tagged(str):
        pass

    result = plan(project_name=Tagged("antone"))
    assert result["problems"] == [] and type(result["publication"]["project"]) is str


def test_every_service_gets_a_memory_limit_and_they_must_fit_the_host() -> None:
    prod = yaml.safe_load(by_path(plan(host_memory_mb=32768))["docker-compose.prod.yml"]["content"])
    limits = {name: s["deploy"]["resources"]["limits"]["memory"] for name, s in prod["services"].items()}
    assert limits == {"postgres": "1024m", "backend-api": "1g", "backend-worker": "1g", "cloudflared": "1g"}
    # 1024 + 3 x 1024 MB on a 4 GB host with 1 GB kept for the OS: 4096 > 3072
    problems = plan(host_memory_mb=4096)["problems"]
    assert problems and "stack_service_memory: the services' memory limits add up to 4096 MB" in problems[0]
    assert "more than the 3072 MB this host's 4096 MB leave after stack_memory_reserve_mb (1024)" in problems[0]
    assert plan(host_memory_mb=4096, service_memory="512m")["problems"] == []


@pytest.mark.parametrize("changes, message", [
    ({"service_memory": "lots"}, "stack_service_memory: 'lots' is not a memory size"),
    ({"memory_reserve_mb": -1}, "stack_memory_reserve_mb must be a whole number 0 or more"),
    ({"services": {**SERVICES, "backend-api": {**SERVICES["backend-api"], "resources": {"memory": "1 gig"}}}},
     "stack service backend-api: resources.memory '1 gig' is not a memory size"),
])
def test_memory_settings_are_checked(changes: dict, message: str) -> None:
    assert any(message in p for p in plan(**changes)["problems"]), plan(**changes)["problems"]


SS = """tcp LISTEN 0 4096 127.0.0.1:3001 0.0.0.0:* users:(("docker-proxy",pid=24740,fd=4))
tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))
tcp LISTEN 0 128 [::]:8080 [::]:* users:(("nginx",pid=7,fd=6))
udp UNCONN 0 0 0.0.0.0%eth0:68 0.0.0.0:* users:(("dhclient",pid=9,fd=6))
tcp LISTEN 0 128 *:9000 *:*
"""


def test_listeners_are_read_from_ss() -> None:
    from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import parse_listeners

    assert parse_listeners(SS) == [
        {"proto": "tcp", "host_ip": "127.0.0.1", "port": 3001, "process": "docker-proxy"},
        {"proto": "tcp", "host_ip": "0.0.0.0", "port": 22, "process": "sshd"},
        {"proto": "tcp", "host_ip": "::", "port": 8080, "process": "nginx"},
        {"proto": "udp", "host_ip": "0.0.0.0", "port": 68, "process": "dhclient"},
        {"proto": "tcp", "host_ip": "0.0.0.0", "port": 9000, "process": "another process"},
    ]


def with_api_port(port: Any) -> dict[str, Any]:
    return {**SERVICES, "backend-api": {**SERVICES["backend-api"], "ports": [port]}}


def conflicts(services: dict[str, Any], listeners: str = SS) -> list[str]:
    from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import stack_port_conflicts

    return stack_port_conflicts({"ports": plan(services=services)["ports"], "listeners": listeners})


def test_a_port_another_process_holds_is_refused_and_our_own_is_not() -> None:
    assert conflicts(SERVICES) == []  # 3001 is held by docker-proxy: the stack itself
    assert conflicts(with_api_port({"published": 8080, "target": 3001})) == [
        "stack service backend-api: port 8080/tcp on 127.0.0.1 is already used on this host by "
        "nginx (:::8080); choose another port or stop that process"]
    assert conflicts(with_api_port({"published": 68, "target": 68, "protocol": "tcp"})) == []  # 68: udp only
    assert conflicts(with_api_port({"published": 9000, "target": 3001, "host_ip": "127.0.0.2"})) == [
        "stack service backend-api: port 9000/tcp on 127.0.0.2 is already used on this host by another process "
        "(0.0.0.0:9000); choose another port or stop that process"]
    assert conflicts(with_api_port({"published": 8080, "target": 3001}), listeners="") == []


def test_a_disabled_service_holds_no_port() -> None:
    disabled = {**SERVICES, "backend-api": {**SERVICES["backend-api"], "enabled": False,
                                             "ports": [{"published": 8080, "target": 3001}]}}
    assert conflicts(disabled) == []


def test_port_conflicts_refuse_what_is_not_services() -> None:
    from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import stack_port_conflicts

    with pytest.raises(TypeError, match="ports"):
        stack_port_conflicts({"ports": {}, "listeners": SS})


def test_a_public_port_the_firewall_does_not_admit_is_refused() -> None:
    public = with_api_port({"published": 443, "target": 3001, "host_ip": "0.0.0.0"})
    firewall = {"firewall_enabled": True, "public_ports": [{"port": 80}]}
    problems = plan(services=public, firewall=firewall)["problems"]
    assert problems == ["stack service backend-api: port 443/tcp on 0.0.0.0 is public, but the firewall does not "
                        "admit it: add {port: 443, proto: tcp} to base_firewall_public_ports, or publish it on "
                        "127.0.0.1 (behind the tunnel or a proxy)"]
    assert plan(services=public, firewall={**firewall, "public_ports": [{"port": 443, "proto": "tcp"}]})[
        "problems"] == []
    assert plan(services=public, firewall={"firewall_enabled": False})["problems"] == []
    assert plan(services=public)["problems"] == []  # the base role did not run: nothing known


def test_the_publication_tells_verify_what_to_check() -> None:
    services = copy.deepcopy(SERVICES)
    services["backend-api"]["healthcheck"] = {"test": ["CMD", "wget", "-q", "--spider", "http://localhost:3001/health"]}
    services["backend-api"]["ports"] = [{"published": 8443, "target": 3001, "host_ip": "0.0.0.0"},
                                        {"published": 3001, "target": 3001}]
    services["cloudflared"]["healthcheck"] = {"test": ["CMD", "cloudflared", "tunnel", "--metrics", "127.0.0.1:20241",
                                                       "ready"]}
    checks = plan(services=services)["publication"]["checks"]
    assert checks["services"]["backend-api"] == {"healthcheck": True, "http": [{"port": 3001, "path": "/health"}],
                                                 "mounts": []}
    assert checks["services"]["cloudflared"]["http"] == [{"port": 20241, "path": "/ready"}]
    assert checks["services"]["postgres"] == {
        "healthcheck": True, "http": [],
        "mounts": [{"volume": "antone_postgres_data", "target": "/var/lib/postgresql/data"}]}
    assert checks["public_ports"] == [{"port": 8443, "proto": "tcp"}]
    assert {f["path"]: (f["mode"], f["owner"], f["group"]) for f in checks["files"]} == {
        "/opt/antone/env/postgres.env": ("0600", "root", "root"),
        "/opt/antone/env/backend-api.env": ("0600", "root", "root"),
        "/opt/antone/env/backend-worker.env": ("0600", "root", "root"),
        "/opt/antone/env/cloudflared.env": ("0600", "root", "root"),
        "/opt/antone/secrets/postgres_password": ("0440", "root", "0"),
        "/opt/antone/secrets/cloudflare_tunnel_token": ("0440", "root", "65532"),
    }


def test_the_publication_says_where_the_database_password_is() -> None:
    postgres = plan()["publication"]["postgres"]
    assert postgres["password_file"] == "/opt/antone/secrets/postgres_password"
    assert postgres["env_file"] == "/opt/antone/env/postgres.env"
    assert plan(secrets_as_files=False)["publication"]["postgres"]["password_file"] == ""


@pytest.mark.parametrize(("test", "urls"), [
    (["CMD", "curl", "-f", "http://localhost:8080/api/health"], [{"port": 8080, "path": "/api/health"}]),
    (["CMD", "wget", "-q", "--spider", "http://127.0.0.1/"], [{"port": 80, "path": "/"}]),
    (["CMD", "curl", "-fk", "https://localhost/health"], [{"port": 443, "path": "/health", "scheme": "https"}]),
    (["CMD", "curl", "-f", "http://[::1]:9000/minio/health/live"], [{"port": 9000, "path": "/minio/health/live"}]),
    ("curl -f http://localhost:$$PORT/health", []),  # the port is a variable: nothing known to ask
    (["CMD", "redis-cli", "ping"], []),
    (["NONE"], []),
])
def test_health_urls_are_read_from_the_health_check(test: Any, urls: list[dict[str, Any]]) -> None:
    assert health_urls({"test": test}) == urls


def test_a_disabled_health_check_is_no_health_check() -> None:
    services = copy.deepcopy(SERVICES)
    services["backend-worker"]["healthcheck"] = {"test": ["NONE"]}
    assert plan(services=services)["publication"]["checks"]["services"]["backend-worker"]["healthcheck"] is False


def test_postgres_is_reached_on_a_network_it_joins() -> None:
    services = copy.deepcopy(SERVICES)
    services["postgres"]["networks"] = ["backend"]
    services["backend-api"]["networks"] = ["default", "backend"]
    services["backend-worker"]["networks"] = ["default", "backend"]
    published = plan(services=services, networks={"backend": {}})["publication"]
    assert published["postgres"]["network"] == "antone-backend"
    assert plan()["publication"]["postgres"]["network"] == "antone-network"
    assert plan(deploy=False)["publication"]["deployed"] is False


def test_the_one_write_call_hides_every_private_file_and_prunes_env_and_secrets() -> None:
    result = plan(project_owner="deploy", project_group="deploy")
    writes = result["writes"]
    assert writes["root"] == "/opt/antone" and writes["prune"] == ["env", "secrets"]
    assert [d["path"] for d in writes["directories"]][:3] == [".", "env", "secrets"]
    assert all(d["owner"] == "deploy" for d in writes["directories"] + writes["files"])
    entries = {f["path"]: f for f in writes["files"]}
    assert [f["path"] for f in writes["files"]] == [f["path"] for f in result["files"]]
    for item in result["files"]:
        entry = entries[item["path"]]
        key = "private_content" if item["private"] else ("content" if "content" in item else "src")
        assert set(entry) == {"path", "mode", "owner", "group", key}, item["path"]
    assert not [v for v in SECRETS.values() for f in writes["files"] if v in f.get("content", "")]
    assert entries["dev-ctl.sh"]["src"] == "dev-ctl.sh" and entries["secrets/cloudflare_tunnel_token"]["group"] == "65532"
