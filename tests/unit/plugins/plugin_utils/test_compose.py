"""plugin_utils/compose.py: the compose documents and the checks of the stack's data."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.compose import (
    StackError,
    compose_stack,
    escape,
    image_variable,
    normalize_port,
    ports_clash,
    stack_problems,
)

SERVICES: dict[str, Any] = {
    "postgres": {
        "image": "postgres:17",
        "environment": {"POSTGRES_USER": "antone"},
        "secrets": {"POSTGRES_PASSWORD": "postgres_password"},
        "file_secrets": True,
        "volumes": ["postgres_data:/var/lib/postgresql/data"],
        "healthcheck": {"test": 'pg_isready -U "$POSTGRES_USER"', "interval": "10s"},
        "dev": {"ports": [5432]},
    },
    "api": {
        "image": "example/api:1",
        "environment": {"NODE_ENV": "production", "PORT": 3001, "DEBUG": False},
        "secrets": {"DATABASE_URL": "database_url"},
        "ports": [{"published": 3001, "target": 3001}],
        "depends_on": ["postgres"],
        "resources": {"memory": "1g", "cpus": 1.5},
    },
    "worker": {"image": "example/api:1", "command": ["node", "worker.js"], "depends_on": ["postgres", "api"]},
}
VOLUMES = {"postgres_data": {}}
SECRETS = {"postgres_password": "p$ss@w/rd", "database_url": "postgresql://antone:p%24ss@postgres/antone"}


def services(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(SERVICES)
    for name, spec in changes.items():
        if spec is None:
            result.pop(name, None)
        else:
            result.setdefault(name, {}).update(spec)
    return result


def plan(**kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"volumes": VOLUMES, "secrets": list(SECRETS), "postgres_service": "postgres"}
    args.update(kwargs)
    return compose_stack(args.pop("services", SERVICES), **args)


def test_escape_doubles_every_dollar_deep_inside() -> None:
    assert escape({"a": ["$x", {"b": "$$"}], "c": 3}) == {"a": ["$$x", {"b": "$$$$"}], "c": 3}


@pytest.mark.parametrize(("name", "variable"), [("backend-api", "BACKEND_API_IMAGE"), ("db", "DB_IMAGE"), ("a_b", "A_B_IMAGE")])
def test_image_variable(name: str, variable: str) -> None:
    assert image_variable(name) == variable


def test_a_port_number_is_published_on_loopback() -> None:
    assert normalize_port(3000) == {"target": 3000, "published": 3000, "host_ip": "127.0.0.1", "protocol": "tcp"}


@pytest.mark.parametrize("port", [0, 70000, {"published": 1}, {"target": 80, "host_ip": "localhost"},
                                  {"target": 80, "protocol": "sctp"}, True, {"target": 80, "bind": "x"}])
def test_bad_ports_are_refused(port: Any) -> None:
    with pytest.raises(StackError):
        normalize_port(port)


def test_unspecified_address_clashes_with_loopback_on_the_same_port() -> None:
    public = normalize_port({"target": 80, "host_ip": "0.0.0.0"})
    assert ports_clash(public, normalize_port(80))
    assert not ports_clash(public, normalize_port(81))
    assert not ports_clash(normalize_port({"target": 80, "host_ip": "127.0.0.2"}), normalize_port(80))


def test_base_document() -> None:
    base = plan()["base"]
    assert base["name"] == "antone"
    postgres, api, worker = (base["services"][n] for n in ("postgres", "api", "worker"))
    assert postgres["image"] == "${POSTGRES_IMAGE}"
    assert postgres["restart"] == "unless-stopped"
    assert postgres["healthcheck"]["test"] == ["CMD-SHELL", 'pg_isready -U "$$POSTGRES_USER"']
    assert postgres["secrets"] == ["postgres_password"]
    assert "ports" not in postgres
    assert api["ports"] == ["127.0.0.1:3001:3001/tcp"]
    assert api["env_file"] == ["env/api.env"]
    assert api["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert worker["depends_on"] == {"postgres": {"condition": "service_healthy"}, "api": {"condition": "service_started"}}
    assert worker["command"] == ["node", "worker.js"]
    assert all(s["networks"] == ["antone-network"] for s in base["services"].values())
    assert base["networks"] == {"antone-network": {"name": "antone-network", "driver": "bridge"}}
    assert base["volumes"] == {"postgres_data": {"external": True, "name": "antone_postgres_data"}}
    assert base["secrets"] == {"postgres_password": {"file": "./secrets/postgres_password"}}


def test_prod_document_limits_logs_and_hardens() -> None:
    prod = plan()["prod"]["services"]
    assert prod["api"]["deploy"] == {"resources": {"limits": {"memory": "1g", "cpus": "1.5"}}}
    assert prod["api"]["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert all(s["security_opt"] == ["no-new-privileges:true"] for s in prod.values())
    assert "deploy" not in prod["worker"]


def test_postgres_tuning_goes_to_the_postgres_service_only() -> None:
    tuning = {"command": ["postgres", "-c", "shared_buffers=1GB"], "shm_size": "256m", "memory_limit": "1536m"}
    prod = plan(postgres_tuning=tuning)["prod"]["services"]
    assert prod["postgres"]["command"] == ["postgres", "-c", "shared_buffers=1GB"]
    assert prod["postgres"]["shm_size"] == "256m"
    assert prod["postgres"]["deploy"]["resources"]["limits"] == {"memory": "1536m"}
    assert "command" not in prod["api"]


def test_dev_document_adds_loopback_ports_and_environment() -> None:
    dev = plan(services=services(api={"dev": {"environment": {"NODE_ENV": "development", "X": "$y"}}}))["dev"]
    assert dev["services"]["postgres"] == {"ports": ["127.0.0.1:5432:5432/tcp"]}
    assert dev["services"]["api"] == {"environment": {"NODE_ENV": "development", "X": "$$y"}}
    assert "worker" not in dev["services"]


def test_env_plans_name_secrets_and_never_hold_their_values() -> None:
    result = plan()
    assert result["env_files"]["api"] == {
        "DATABASE_URL": {"secret": "database_url"},
        "DEBUG": {"value": "false"},
        "NODE_ENV": {"value": "production"},
        "PORT": {"value": "3001"},
    }
    assert result["env_files"]["postgres"]["POSTGRES_PASSWORD_FILE"] == {"file": "/run/secrets/postgres_password"}
    assert result["env_files"]["worker"] == {}
    assert result["file_secrets"] == ["postgres_password"]
    assert all(value not in repr(result) for value in SECRETS.values())


def test_without_secret_files_every_secret_goes_to_the_env_file() -> None:
    result = plan(secrets_as_files=False)
    assert result["env_files"]["postgres"]["POSTGRES_PASSWORD"] == {"secret": "postgres_password"}
    assert result["file_secrets"] == []
    assert "secrets" not in result["base"]
    assert "secrets" not in result["base"]["services"]["postgres"]


def test_dotenv_holds_the_project_and_the_images() -> None:
    dotenv = plan()["dotenv"]
    assert dotenv["COMPOSE_PROJECT_NAME"] == {"value": "antone"}
    assert dotenv["COMPOSE_FILE"] == {"value": "docker-compose.yml:docker-compose.prod.yml"}
    assert dotenv["API_IMAGE"] == {"value": "example/api:1"}


def test_disabled_services_are_left_out_with_their_env_files() -> None:
    result = plan(services=services(worker={"enabled": False}))
    assert set(result["base"]["services"]) == {"postgres", "api"}
    assert set(result["env_files"]) == {"postgres", "api"}


def test_files_are_placed_per_service_and_mounted_read_only() -> None:
    extra = {"files": [{"path": "initdb/01.sql", "target": "/docker-entrypoint-initdb.d/01.sql", "content": "SELECT 1;"}]}
    result = plan(services=services(postgres=extra))
    assert result["files"] == [{
        "service": "postgres", "path": "files/postgres/initdb/01.sql", "target": "/docker-entrypoint-initdb.d/01.sql",
        "mode": "0644", "content": "SELECT 1;",
    }]
    assert "./files/postgres/initdb/01.sql:/docker-entrypoint-initdb.d/01.sql:ro" in result["base"]["services"]["postgres"]["volumes"]


def test_compose_stack_raises_with_every_problem() -> None:
    with pytest.raises(StackError, match="depends_on names 'queue'"):
        plan(services=services(worker={"depends_on": ["queue"]}))


def problems(**kwargs: Any) -> list[str]:
    args: dict[str, Any] = {"volumes": VOLUMES, "secrets": SECRETS, "postgres_service": "postgres"}
    args.update(kwargs)
    return stack_problems(args.pop("services", SERVICES), **args)


def test_good_data_has_no_problem() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"services": services(worker={"depends_on": ["queue"]})}, "depends_on names 'queue', which is not an enabled service"),
        ({"services": services(worker={"depends_on": ["worker"]})}, "depends on itself"),
        ({"services": services(api={"enabled": False})}, "depends_on names 'api'"),
        ({"services": services(worker={"ports": [3001]})}, "port 3001/tcp is published twice"),
        ({"services": services(worker={"dev": {"ports": [5432]}})}, "port 5432/tcp is published twice"),
        ({"services": services(worker={"ports": [{"target": 3001, "host_ip": "0.0.0.0"}]})}, "published twice"),
        ({"secrets": {"database_url": "x"}}, "needs the secret 'postgres_password', which has no value"),
        ({"secrets": {**SECRETS, "postgres_password": ""}}, "needs the secret 'postgres_password'"),
        ({"secrets": {**SECRETS, "database_url": "it's"}}, "the secret 'database_url' contains a single quote"),
        ({"volumes": {"postgres_data": {}, "old": {"name": "antone_postgres_data"}}}, "all name the Docker volume"),
        ({"services": services(worker={"volumes": ["postgres_data:/data"]})}, "mounted writable by ['postgres', 'worker']"),
        ({"services": services(worker={"volumes": ["cache:/cache"]})}, "volume 'cache' is not in stack_volumes"),
        ({"services": services(postgres={"ports": [{"target": 5432, "host_ip": "0.0.0.0"}]})}, "127.0.0.1 only"),
        ({"services": services(api={"image": ""})}, "stack service api: image is required"),
        ({"services": services(api={"imagee": "x"})}, "unknown keys ['imagee']"),
        ({"services": services(api={"environment": {"A": "it's"}})}, "environment A contains a single quote"),
        ({"services": services(api={"environment": {"A-B": "x"}})}, "'A-B' is not a valid name"),
        ({"services": services(api={"dev": {"environment": {"A": "it's"}}})}, "dev environment A contains a single quote"),
        ({"services": services(api={"dev": {"build": "."}})}, "dev takes ['command', 'environment', 'ports', 'volumes'] only"),
        ({"services": services(api={"secrets": {"NODE_ENV": "database_url"}})}, "NODE_ENV is both in environment and in secrets"),
        ({"services": services(api={"healthcheck": {"interval": "1s"}})}, "healthcheck needs a test"),
        ({"services": services(api={"files": [{"path": "../x", "target": "/x", "content": ""}]})}, "must be relative"),
        ({"services": services(api={"files": [{"path": "x", "target": "/x"}]})}, "exactly one of content and src"),
        ({"services": services(Api={"image": "x"})}, "the name must be lower case"),
        ({"postgres_service": "db"}, "stack_postgres_service names 'db'"),
        ({"services": {}}, "no service is enabled"),
    ],
)
def test_each_problem_is_named(kwargs: dict[str, Any], expected: str) -> None:
    found = problems(**kwargs)
    assert any(expected in message for message in found), found


def test_a_file_secret_may_hold_what_an_env_file_cannot() -> None:
    assert problems(secrets={**SECRETS, "postgres_password": "it's\nfine"}) == []


def test_problems_never_show_a_secret_value() -> None:
    value = "do-not-print-'me"
    found = problems(secrets={**SECRETS, "database_url": value})
    assert found and all(value not in message for message in found)


def test_problems_on_the_wrong_shapes() -> None:
    assert stack_problems([]) == ["stack_services must be a mapping of service names to their settings"]  # type: ignore[arg-type]
    assert "its settings must be a mapping" in stack_problems({"a": "x"})[1]


TUNNEL = {"image": "cloudflare/cloudflared:2025.11.1", "secret_files": ["tunnel_token"], "secrets_gid": 65532,
          "command": ["tunnel", "run", "--token-file", "/run/secrets/tunnel_token"]}


def test_secret_files_are_mounted_without_a_variable_and_readable_by_their_group() -> None:
    result = plan(services=services(cloudflared=TUNNEL), secrets=[*SECRETS, "tunnel_token"])
    assert result["base"]["services"]["cloudflared"]["secrets"] == ["tunnel_token"]
    assert result["base"]["secrets"]["tunnel_token"] == {"file": "./secrets/tunnel_token"}
    assert result["env_files"]["cloudflared"] == {}
    assert result["secret_groups"] == {"tunnel_token": 65532}
    assert result["secret_users"] == {"postgres_password": ["postgres"], "tunnel_token": ["cloudflared"]}
    assert "tunnel_token" in result["file_secrets"]


def test_secret_files_need_a_value_and_one_group() -> None:
    assert any("secret_files names 'tunnel_token', which has no value" in p
               for p in problems(services=services(cloudflared=TUNNEL)))
    shared = services(cloudflared=TUNNEL, other=dict(TUNNEL, secrets_gid=1000))
    assert any("ask for different groups ['1000', '65532']" in p
               for p in problems(services=shared, secrets={**SECRETS, "tunnel_token": "t"}))
    assert any("secrets_gid must be a numeric group id" in p
               for p in problems(services=services(cloudflared=dict(TUNNEL, secrets_gid="nonroot")),
                                 secrets={**SECRETS, "tunnel_token": "t"}))


def test_postgres_gets_a_stop_grace_period_for_its_checkpoint() -> None:
    assert plan()["base"]["services"]["postgres"]["stop_grace_period"] == "120s"
    assert plan(postgres_stop_grace_period="5m")["base"]["services"]["postgres"]["stop_grace_period"] == "5m"
    assert "stop_grace_period" not in plan()["base"]["services"]["api"]
    own = services(postgres={"compose": {"stop_grace_period": "30s"}})
    assert plan(services=own)["base"]["services"]["postgres"]["stop_grace_period"] == "30s"


NETWORKS = {"data": {"internal": True}, "edge": {}}


def test_services_join_the_networks_they_name() -> None:
    layout = services(postgres={"networks": ["data"], "dev": {}}, api={"networks": ["default", "data"]},
                      worker={"networks": ["data"]})
    result = plan(services=layout, networks=NETWORKS, network="antone-network")
    assert result["base"]["networks"] == {
        "antone-network": {"name": "antone-network", "driver": "bridge"},
        "antone-data": {"name": "antone-data", "driver": "bridge", "internal": True},
        "antone-edge": {"name": "antone-edge", "driver": "bridge"},
    }
    assert result["base"]["services"]["postgres"]["networks"] == ["antone-data"]
    assert result["base"]["services"]["api"]["networks"] == ["antone-network", "antone-data"]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({"api": {"networks": ["dmz"]}}, "network 'dmz' is not in stack_networks"),
        ({"api": {"networks": ["data"]}, "postgres": {"networks": ["data"], "dev": {}}},
         "api: publishes a port but joins only internal networks"),
        ({"postgres": {"networks": ["data"], "dev": {}}}, "api: depends on postgres, but they share no network"),
        ({"api": {"networks": []}}, "networks must be a non-empty list"),
    ],
)
def test_network_problems_are_named(layout: dict[str, Any], expected: str) -> None:
    found = problems(services=services(**layout), networks=NETWORKS)
    assert any(expected in message for message in found), found


def test_the_main_network_key_is_reserved() -> None:
    assert any("'default' is the main network" in p for p in problems(networks={"default": {}}))


@pytest.mark.parametrize("layer", ["compose", "prod"])
@pytest.mark.parametrize("key, value, hint", [
    ("ports", ["0.0.0.0:5432:5432"], "use the service's ports"),
    ("environment", {"PASSWORD": "x"}, "use environment and secrets"),
    ("env_file", ["/root/.env"], "use environment and secrets"),
    ("secrets", ["db"], "use secrets with file_secrets, or secret_files"),
    ("network_mode", "host", "use networks"),
    ("privileged", True, "privileged containers are not passed through"),
    ("cap_add", ["SYS_ADMIN"], "added capabilities are not passed through"),
    ("pid", "host", "a host namespace is not passed through"),
    ("volumes", ["/:/host"], "use volumes"),
    ("devices", ["/dev/sda"], "host devices are not passed through"),
    ("security_opt", ["seccomp=unconfined"], "the role sets no-new-privileges"),
    ("deploy", {"resources": {}}, "use resources"),
])
def test_raw_passthroughs_refuse_keys_that_bypass_the_roles_checks(layer: str, key: str, value: object,
                                                                   hint: str) -> None:
    problems = stack_problems(services(api={layer: {key: value}}), VOLUMES, secrets=SECRETS,
                              postgres_service="postgres")
    assert any(f"stack service api: {layer}.{key} is refused: {hint}" in p for p in problems), problems


def test_harmless_passthrough_keys_pass() -> None:
    spec = {"compose": {"stop_grace_period": "30s", "labels": {"a": "b"}, "init": True},
            "prod": {"logging": {"driver": "local"}, "read_only": True}}
    assert stack_problems(services(api=spec), VOLUMES, secrets=SECRETS, postgres_service="postgres") == []
