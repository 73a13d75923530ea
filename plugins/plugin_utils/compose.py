"""The stack's inventory data turned into compose documents and env files (the stack plan's core).

One pure function builds, from the services and volumes of the inventory, the three compose
documents (base, prod override, dev override), the project's .env, what each service's env file
holds (names of secrets, never their values) and the files to place. stack_problems lists every
mistake in the same data first; env_text writes an env file that compose reads back exactly.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.memory import docker_memory_mb

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
RELATIVE_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_./-]+$")
SERVICE_KEYS = {
    "enabled", "image", "command", "entrypoint", "environment", "secrets", "file_secrets", "secret_files",
    "secrets_gid", "networks", "ports",
    "healthcheck", "depends_on", "volumes", "files", "resources", "user", "dev", "prod", "compose",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval"}
DEV_KEYS = {"ports", "environment", "command", "volumes"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
LOOPBACK = "127.0.0.1"
# Keys the raw passthroughs (a service's compose and prod) refuse: each would bypass a check of the
# role's own key (published ports, secrets kept out of the compose files, state volumes, networks)
# or the container's confinement. The message names the key to use instead.
PASSTHROUGH_REFUSED = {
    "ports": "use the service's ports (loopback unless host_ip says otherwise; PostgreSQL loopback only)",
    "expose": "use the service's ports",
    "environment": "use environment and secrets (written to the 0600 env file, never into a compose file)",
    "env_file": "use environment and secrets (the role writes the service's env file)",
    "secrets": "use secrets with file_secrets, or secret_files",
    "configs": "use files (placed in the project and mounted read-only)",
    "volumes": "use volumes (state volumes must be declared in stack_volumes)",
    "volumes_from": "use volumes",
    "tmpfs": "use volumes",
    "network_mode": "use networks (keys of stack_networks)",
    "networks": "use networks (keys of stack_networks)",
    "links": "use networks and depends_on",
    "external_links": "use networks",
    "pid": "a host namespace is not passed through",
    "ipc": "a host namespace is not passed through",
    "uts": "a host namespace is not passed through",
    "userns_mode": "a host namespace is not passed through",
    "cgroup": "a host namespace is not passed through",
    "privileged": "privileged containers are not passed through",
    "cap_add": "added capabilities are not passed through",
    "devices": "host devices are not passed through",
    "device_cgroup_rules": "host devices are not passed through",
    "security_opt": "the role sets no-new-privileges in production; it is not overridden",
    "image": "use image",
    "command": "use command (or dev.command)",
    "entrypoint": "use entrypoint",
    "user": "use user",
    "healthcheck": "use healthcheck",
    "depends_on": "use depends_on",
    "deploy": "use resources (memory and cpus)",
    "mem_limit": "use resources (memory and cpus)",
    "memswap_limit": "use resources (memory and cpus)",
    "cpus": "use resources (memory and cpus)",
}
# The compose files, named here and nowhere else: production runs base + prod, a developer base + dev.
COMPOSE_FILES = {"base": "docker-compose.yml", "prod": "docker-compose.prod.yml", "dev": "docker-compose.dev.yml"}
PRODUCTION = ("base", "prod")
DEVELOPMENT = ("base", "dev")


class StackError(ValueError):
    """The inventory data cannot make a stack; the message lists why."""


# --- small pure helpers -------------------------------------------------------------------------

def escape(value: Any) -> Any:
    """Every string inside value with $ doubled, so compose passes it on unchanged."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [escape(v) for v in value]
    if isinstance(value, dict):
        return {k: escape(v) for k, v in value.items()}
    return value


def image_variable(service: str) -> str:
    """backend-api -> BACKEND_API_IMAGE: the .env variable that holds a service's image."""
    return re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_IMAGE"


def env_text_problem(value: str) -> str:
    """Why value cannot be written to an env file as a literal, or ''."""
    if "'" in value:
        return "contains a single quote"
    if "\n" in value or "\r" in value or "\0" in value:
        return "contains a line break or NUL"
    if value.endswith("\\"):
        return "ends with a backslash"
    return ""


def scalar_text(value: Any) -> str:
    """An environment value as text: booleans as true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def normalize_port(port: Any) -> dict[str, Any]:
    """3000 or {published, target, host_ip, protocol} -> the long form; loopback unless told."""
    if isinstance(port, bool):
        raise StackError(f"port {port!r} is not a port number or a mapping")
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        port = {"published": int(port), "target": int(port)}
    if not isinstance(port, dict) or "target" not in port:
        raise StackError(f"port {port!r} needs at least a target (or a number)")
    unknown = set(port) - {"published", "target", "host_ip", "protocol"}
    if unknown:
        raise StackError(f"port {port!r} has unknown keys {sorted(unknown)}")
    result = {
        "target": int(port["target"]),
        "published": int(port.get("published", port["target"])),
        "host_ip": str(port.get("host_ip", LOOPBACK)),
        "protocol": str(port.get("protocol", "tcp")),
    }
    for key in ("target", "published"):
        if not 1 <= result[key] <= 65535:
            raise StackError(f"port {port!r}: {key} must be 1 to 65535")
    if result["protocol"] not in ("tcp", "udp"):
        raise StackError(f"port {port!r}: protocol must be tcp or udp")
    try:
        ipaddress.ip_address(result["host_ip"])
    except ValueError as error:
        raise StackError(f"port {port!r}: host_ip must be an IP address") from error
    return result


def port_string(port: dict[str, Any]) -> str:
    host = f"[{port['host_ip']}]" if ":" in port["host_ip"] else port["host_ip"]
    return f"{host}:{port['published']}:{port['target']}/{port['protocol']}"


def is_loopback(host_ip: str) -> bool:
    return ipaddress.ip_address(host_ip).is_loopback


def ports_clash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two publications that the engine cannot both bind."""
    if a["published"] != b["published"] or a["protocol"] != b["protocol"]:
        return False
    unspecified = {"0.0.0.0", "::"}
    return a["host_ip"] == b["host_ip"] or a["host_ip"] in unspecified or b["host_ip"] in unspecified


def split_volume(spec: str) -> tuple[str, str, str]:
    """'source:target[:mode]' -> (source, target, mode)."""
    parts = spec.split(":")
    if len(parts) == 2:
        return parts[0], parts[1], "rw"
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        return parts[0], parts[1], parts[2]
    raise StackError(f"volume {spec!r} must be source:target or source:target:ro")


def normalize_healthcheck(check: Any) -> dict[str, Any] | None:
    if check in (None, {}):
        return None
    if not isinstance(check, dict) or "test" not in check:
        raise StackError("healthcheck needs a test")
    unknown = set(check) - HEALTHCHECK_KEYS
    if unknown:
        raise StackError(f"healthcheck has unknown keys {sorted(unknown)}")
    result = dict(check)
    if isinstance(result["test"], str):
        result["test"] = ["CMD-SHELL", result["test"]]
    return result


def normalize_depends_on(depends_on: Any) -> dict[str, str | None]:
    """A list of names or a mapping name -> condition (None: chosen from the dependency)."""
    if depends_on in (None, [], {}):
        return {}
    if isinstance(depends_on, list):
        return {str(name): None for name in depends_on}
    if isinstance(depends_on, dict):
        result: dict[str, str | None] = {}
        for name, condition in depends_on.items():
            if isinstance(condition, dict):
                condition = condition.get("condition")
            if condition is not None and condition not in CONDITIONS:
                raise StackError(f"depends_on {name}: condition must be one of {sorted(CONDITIONS)}")
            result[str(name)] = condition
        return result
    raise StackError("depends_on must be a list of service names or a mapping")


def secret_map(secrets: Any) -> dict[str, str | None]:
    """Secret name -> value (None when only the names are known: a list)."""
    if isinstance(secrets, dict):
        return {str(k): scalar_text(v) for k, v in secrets.items()}
    return {str(name): None for name in secrets or []}


def enabled_services(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: spec for name, spec in (services or {}).items()
        if isinstance(spec, dict) and spec.get("enabled", True)
    }


def volume_names(volumes: dict[str, Any], project: str) -> dict[str, str]:
    """State volume key -> Docker volume name (project_key unless the inventory names it)."""
    return {key: str((spec or {}).get("name") or f"{project}_{key}") for key, spec in (volumes or {}).items()}


# --- the checks ------------------------------------------------------------------------------------

def service_problems(name: str, spec: dict[str, Any], known: set[str], volumes: dict[str, Any],
                     secrets: dict[str, str | None], secrets_as_files: bool) -> list[str]:
    """What is wrong with one service on its own."""
    problems = []
    where = f"stack service {name}"
    if not SERVICE_NAME.match(name):
        problems.append(f"{where}: the name must be lower case letters, digits, - and _")
    unknown = set(spec) - SERVICE_KEYS
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(SERVICE_KEYS)})")
    if not spec.get("image"):
        problems.append(f"{where}: image is required")
    environment = spec.get("environment") or {}
    service_secrets = spec.get("secrets") or {}
    if not isinstance(environment, dict) or not isinstance(service_secrets, dict):
        return problems + [f"{where}: environment and secrets must be mappings (VARIABLE: value / secret name)"]
    for variable, value in environment.items():
        if not VARIABLE_NAME.match(str(variable)):
            problems.append(f"{where}: environment variable {variable!r} is not a valid name")
        elif isinstance(value, (dict, list)):
            problems.append(f"{where}: environment {variable} must be text, a number or a boolean")
        elif reason := env_text_problem(scalar_text(value)):
            problems.append(f"{where}: environment {variable} {reason}; env files cannot hold it")
    for variable, secret in service_secrets.items():
        if not VARIABLE_NAME.match(str(variable)):
            problems.append(f"{where}: secret variable {variable!r} is not a valid name")
        if variable in environment:
            problems.append(f"{where}: {variable} is both in environment and in secrets")
        if secret not in secrets or secrets[secret] == "":
            problems.append(
                f"{where}: {variable} needs the secret {secret!r}, which has no value in stack_secrets "
                "(put it in the vault)"
            )
        elif not (secrets_as_files and spec.get("file_secrets")) and (
            reason := env_text_problem(scalar_text(secrets[secret]))
        ):
            problems.append(
                f"{where}: the secret {secret!r} {reason}; an env file cannot hold it "
                f"(pass it as a file: file_secrets: true, if the image reads {variable}_FILE)"
            )
        if not SECRET_NAME.match(str(secret)):
            problems.append(f"{where}: secret name {secret!r} must be lower case letters, digits, ., - and _")
    secret_files = spec.get("secret_files") or []
    if not isinstance(secret_files, list):
        problems.append(f"{where}: secret_files must be a list of secret names")
        secret_files = []
    for secret in secret_files:
        if secret not in secrets or secrets[secret] == "":
            problems.append(f"{where}: secret_files names {secret!r}, which has no value in stack_secrets "
                            "(put it in the vault)")
    gid = spec.get("secrets_gid")
    if gid is not None and (isinstance(gid, bool) or not str(gid).isdigit()):
        problems.append(f"{where}: secrets_gid must be a numeric group id, not {gid!r}")
    for dependency in normalize_depends_on_safe(spec.get("depends_on"), problems, where):
        if dependency == name:
            problems.append(f"{where}: depends on itself")
        elif dependency not in known:
            problems.append(f"{where}: depends_on names {dependency!r}, which is not an enabled service")
    try:
        normalize_healthcheck(spec.get("healthcheck"))
    except StackError as error:
        problems.append(f"{where}: {error}")
    for entry in spec.get("volumes") or []:
        try:
            source, target, _mode = split_volume(str(entry))
        except StackError as error:
            problems.append(f"{where}: {error}")
            continue
        if not source.startswith("/") and not source.startswith("./") and source not in volumes:
            problems.append(f"{where}: volume {source!r} is not in stack_volumes (state volumes are declared there)")
        if not target.startswith("/"):
            problems.append(f"{where}: volume target {target!r} must be an absolute path")
    for index, item in enumerate(spec.get("files") or []):
        if not isinstance(item, dict) or not item.get("path") or not item.get("target"):
            problems.append(f"{where}: files[{index}] needs path (in the project) and target (in the container)")
            continue
        if not RELATIVE_PATH.match(str(item["path"])):
            problems.append(f"{where}: files[{index}].path {item['path']!r} must be relative, without '..'")
        if ("content" in item) == ("src" in item):
            problems.append(f"{where}: files[{index}] needs exactly one of content and src")
    for layer in ("compose", "prod"):
        raw = spec.get(layer) or {}
        if not isinstance(raw, dict):
            problems.append(f"{where}: {layer} must be a mapping of compose keys")
            continue
        for key in sorted(raw):
            if str(key) in PASSTHROUGH_REFUSED:
                problems.append(f"{where}: {layer}.{key} is refused: {PASSTHROUGH_REFUSED[str(key)]}")
    resources = spec.get("resources") or {}
    if not isinstance(resources, dict) or set(resources) - {"memory", "cpus"}:
        problems.append(f"{where}: resources takes memory and cpus only")
    elif "memory" in resources:
        try:
            docker_memory_mb(resources["memory"])
        except ValueError as error:
            problems.append(f"{where}: resources.memory {error}")
    dev = spec.get("dev") or {}
    if not isinstance(dev, dict) or set(dev) - DEV_KEYS:
        return problems + [f"{where}: dev takes {sorted(DEV_KEYS)} only"]
    for variable, value in (dev.get("environment") or {}).items():
        if reason := env_text_problem(scalar_text(value)):
            problems.append(f"{where}: dev environment {variable} {reason}")
    return problems


def normalize_depends_on_safe(depends_on: Any, problems: list[str], where: str) -> dict[str, str | None]:
    try:
        return normalize_depends_on(depends_on)
    except StackError as error:
        problems.append(f"{where}: {error}")
        return {}


def all_ports(name: str, spec: dict[str, Any], problems: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, 'base' or 'dev', port) for every publication of a service."""
    found = []
    for layer, ports in (("base", spec.get("ports") or []), ("dev", (spec.get("dev") or {}).get("ports") or [])):
        for port in ports:
            try:
                found.append((name, layer, normalize_port(port)))
            except StackError as error:
                problems.append(f"stack service {name}: {error}")
    return found


def network_names(networks: dict[str, Any] | None, project: str, network: str) -> dict[str, str]:
    """Network key -> Docker name: 'default' is the main network, the others project-key unless named."""
    names = {"default": network}
    for key, spec in (networks or {}).items():
        names[str(key)] = str((spec or {}).get("name") or f"{project}-{key}")
    return names


def service_networks(spec: dict[str, Any]) -> list[str]:
    return [str(key) for key in spec.get("networks") or ["default"]]


def network_problems(active: dict[str, dict[str, Any]], networks: Any) -> list[str]:
    """Unknown network keys, a published port on a service that only internal networks reach, and
    depends_on between services that share no network (they could not talk)."""
    if not isinstance(networks, dict) or not all(isinstance(v, (dict, type(None))) for v in networks.values()):
        return ["stack_networks must be a mapping of network keys to {internal, name}"]
    problems = []
    known = {"default", *map(str, networks)}
    internal = {str(key) for key, spec in networks.items() if (spec or {}).get("internal")}
    if "default" in networks:
        problems.append("stack_networks: 'default' is the main network (stack_network); give the others other keys")
    for name, spec in active.items():
        joined = spec.get("networks")
        if joined is not None and (not isinstance(joined, list) or not joined):
            problems.append(f"stack service {name}: networks must be a non-empty list of network keys")
            continue
        for key in service_networks(spec):
            if key not in known:
                problems.append(f"stack service {name}: network {key!r} is not in stack_networks "
                                f"(known: {sorted(known)})")
        if (spec.get("ports") or (spec.get("dev") or {}).get("ports")) and set(service_networks(spec)) <= internal:
            problems.append(f"stack service {name}: publishes a port but joins only internal networks, "
                            "which publish nothing; add a network that is not internal")
        for dependency in normalize_depends_on_safe(spec.get("depends_on"), [], ""):
            if dependency in active and not set(service_networks(spec)) & set(service_networks(active[dependency])):
                problems.append(f"stack service {name}: depends on {dependency}, but they share no network")
    return problems


def stack_problems(services: dict[str, Any], volumes: dict[str, Any] | None = None, project: str = "antone",
                   secrets: dict[str, Any] | list[str] | None = None, secrets_as_files: bool = True,
                   postgres_service: str = "", networks: dict[str, Any] | None = None) -> list[str]:
    """Every mistake in the stack's inventory data, as messages that name the variable."""
    if not isinstance(services, dict):
        return ["stack_services must be a mapping of service names to their settings"]
    volumes = volumes or {}
    if not isinstance(volumes, dict):
        return ["stack_volumes must be a mapping of volume keys to their settings"]
    secret_values = secret_map(secrets)
    problems: list[str] = []
    active = enabled_services(services)
    if not active:
        problems.append("stack_services: no service is enabled")
    for name, spec in (services or {}).items():
        if not isinstance(spec, dict):
            problems.append(f"stack service {name}: its settings must be a mapping")
    for name, spec in active.items():
        problems += service_problems(name, spec, set(active), volumes, secret_values, secrets_as_files)

    publications = [p for name, spec in active.items() for p in all_ports(name, spec, problems)]
    for index, (name, layer, port) in enumerate(publications):
        for other_name, other_layer, other in publications[index + 1:]:
            if ports_clash(port, other) and (layer == other_layer or "dev" in (layer, other_layer)):
                problems.append(
                    f"stack services {name} and {other_name}: port {port['published']}/{port['protocol']} "
                    "is published twice"
                )
        if name == postgres_service and not is_loopback(port["host_ip"]):
            problems.append(
                f"stack service {name}: PostgreSQL may be published on 127.0.0.1 only, not {port['host_ip']}"
            )

    names = volume_names(volumes, project)
    by_name: dict[str, list[str]] = {}
    for key, docker_name in names.items():
        by_name.setdefault(docker_name, []).append(key)
    for docker_name, keys in by_name.items():
        if len(keys) > 1:
            problems.append(f"stack_volumes {sorted(keys)}: all name the Docker volume {docker_name!r}")
    writers: dict[str, list[str]] = {}
    for name, spec in active.items():
        for entry in spec.get("volumes") or []:
            try:
                source, _target, mode = split_volume(str(entry))
            except StackError:
                continue
            if source in volumes and mode == "rw":
                writers.setdefault(source, []).append(name)
    for source, users in writers.items():
        if len(users) > 1:
            problems.append(
                f"stack volume {source}: mounted writable by {sorted(users)}; state belongs to one service "
                "(mount it :ro elsewhere)"
            )
    if postgres_service and postgres_service not in active:
        problems.append(f"stack_postgres_service names {postgres_service!r}, which is not an enabled service")
    problems += network_problems(active, networks if networks is not None else {})
    groups: dict[str, set[str]] = {}
    for name, spec in active.items():
        if spec.get("secrets_gid") is not None:
            for secret in mounted_secrets(spec, secrets_as_files):
                groups.setdefault(secret, set()).add(str(spec["secrets_gid"]))
    for secret, gids in sorted(groups.items()):
        if len(gids) > 1:
            problems.append(f"stack secret {secret}: its readers ask for different groups {sorted(gids)} "
                            "(secrets_gid); one file has one group")
    return problems


def mounted_secrets(spec: dict[str, Any], secrets_as_files: bool) -> list[str]:
    """The secrets a service gets as files under /run/secrets: its secrets when they go as files
    (file_secrets), and its secret_files always."""
    as_files = bool(secrets_as_files and spec.get("file_secrets"))
    names = set((spec.get("secrets") or {}).values()) if as_files else set()
    return sorted(names | set(spec.get("secret_files") or []))


# --- the documents ---------------------------------------------------------------------------------

def depends_on_block(depends_on: dict[str, str | None], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    block = {}
    for dependency, condition in depends_on.items():
        if condition is None:
            condition = "service_healthy" if services[dependency].get("healthcheck") else "service_started"
        block[dependency] = {"condition": condition}
    return block


def file_path(service: str, item: dict[str, Any]) -> str:
    return f"files/{service}/{item['path']}"


def base_service(name: str, spec: dict[str, Any], services: dict[str, dict[str, Any]], network: str | list[str],
                 file_secret_names: list[str]) -> dict[str, Any]:
    service: dict[str, Any] = {"image": "${" + image_variable(name) + "}", "restart": "unless-stopped"}
    for key in ("entrypoint", "command", "user"):
        if spec.get(key) not in (None, "", []):
            service[key] = escape(spec[key])
    service["env_file"] = [f"env/{name}.env"]
    ports = [normalize_port(p) for p in spec.get("ports") or []]
    if ports:
        service["ports"] = [port_string(p) for p in ports]
    healthcheck = normalize_healthcheck(spec.get("healthcheck"))
    if healthcheck:
        service["healthcheck"] = escape(healthcheck)
    depends_on = normalize_depends_on(spec.get("depends_on"))
    if depends_on:
        service["depends_on"] = depends_on_block(depends_on, services)
    mounts = [str(v) for v in spec.get("volumes") or []]
    mounts += [f"./{file_path(name, item)}:{item['target']}:ro" for item in spec.get("files") or []]
    if mounts:
        service["volumes"] = mounts
    if file_secret_names:
        service["secrets"] = list(file_secret_names)
    service["networks"] = [network] if isinstance(network, str) else list(network)
    service.update(escape(copy.deepcopy(spec.get("compose") or {})))
    return service


def prod_service(name: str, spec: dict[str, Any], logging: dict[str, Any], tuning: dict[str, Any],
                 memory: str = "") -> dict[str, Any]:
    service: dict[str, Any] = {
        "logging": {"driver": "json-file", "options": {k: str(v) for k, v in logging.items()}},
        "security_opt": ["no-new-privileges:true"],
    }
    limits = {k: str(v) for k, v in (spec.get("resources") or {}).items()}
    if memory and "memory" not in limits:
        limits["memory"] = memory
    if tuning:
        service["command"] = escape(list(tuning["command"]))
        service["shm_size"] = str(tuning["shm_size"])
        limits["memory"] = str(tuning["memory_limit"])
    if limits:
        service["deploy"] = {"resources": {"limits": limits}}
    service.update(escape(copy.deepcopy(spec.get("prod") or {})))
    return service


def dev_service(spec: dict[str, Any]) -> dict[str, Any]:
    dev = spec.get("dev") or {}
    service: dict[str, Any] = {}
    if dev.get("ports"):
        service["ports"] = [port_string(normalize_port(p)) for p in dev["ports"]]
    if dev.get("environment"):
        service["environment"] = {k: escape(scalar_text(v)) for k, v in dev["environment"].items()}
    if dev.get("command"):
        service["command"] = escape(dev["command"])
    if dev.get("volumes"):
        service["volumes"] = [str(v) for v in dev["volumes"]]
    return service


def env_plan(spec: dict[str, Any], as_files: bool) -> dict[str, dict[str, str]]:
    """Variable -> {value} | {secret: name} | {file: /run/secrets/name}, sorted by variable."""
    plan: dict[str, dict[str, str]] = {}
    for variable, value in (spec.get("environment") or {}).items():
        plan[variable] = {"value": scalar_text(value)}
    for variable, secret in (spec.get("secrets") or {}).items():
        if as_files:
            plan[f"{variable}_FILE"] = {"file": f"/run/secrets/{secret}"}
        else:
            plan[variable] = {"secret": secret}
    return dict(sorted(plan.items()))


def compose_stack(services: dict[str, Any], volumes: dict[str, Any] | None = None, project: str = "antone",
                  network: str = "antone-network", secrets: dict[str, Any] | list[str] | None = None,
                  secrets_as_files: bool = True, postgres_service: str = "", postgres_stop_grace_period: str = "120s",
                  networks: dict[str, Any] | None = None,
                  postgres_tuning: dict[str, Any] | None = None,
                  prod_logging: dict[str, Any] | None = None, service_memory: str = "") -> dict[str, Any]:
    volumes = volumes or {}
    problems = stack_problems(services, volumes, project, secrets, secrets_as_files, postgres_service, networks)
    if problems:
        raise StackError("the stack's inventory data has problems:\n- " + "\n- ".join(problems))
    active = enabled_services(services)
    names = volume_names(volumes, project)
    net_names = network_names(networks, project, network)
    logging = prod_logging if prod_logging is not None else {"max-size": "10m", "max-file": "3"}
    base: dict[str, Any] = {"name": project, "services": {}}
    prod: dict[str, Any] = {"services": {}}
    dev: dict[str, Any] = {"services": {}}
    env_files = {}
    file_secrets: list[str] = []
    secret_groups: dict[str, int] = {}
    secret_users: dict[str, list[str]] = {}
    files = []
    for name, spec in active.items():
        as_files = bool(secrets_as_files and spec.get("file_secrets"))
        service_file_secrets = mounted_secrets(spec, secrets_as_files)
        file_secrets += [s for s in service_file_secrets if s not in file_secrets]
        for secret in service_file_secrets:
            secret_users.setdefault(secret, []).append(name)
            if spec.get("secrets_gid") is not None:
                secret_groups[secret] = int(spec["secrets_gid"])
        joined = [net_names[key] for key in service_networks(spec)]
        base["services"][name] = base_service(name, spec, active, joined, service_file_secrets)
        if name == postgres_service and postgres_stop_grace_period:
            base["services"][name] = {"stop_grace_period": postgres_stop_grace_period, **base["services"][name]}
        tuning = (postgres_tuning or {}) if name == postgres_service else {}
        prod["services"][name] = prod_service(name, spec, logging, tuning, service_memory)
        if dev_part := dev_service(spec):
            dev["services"][name] = dev_part
        env_files[name] = env_plan(spec, as_files)
        for item in spec.get("files") or []:
            files.append({
                "service": name,
                "path": file_path(name, item),
                "target": item["target"],
                "mode": str(item.get("mode", "0644")),
                **({"content": item["content"]} if "content" in item else {"src": item["src"]}),
            })
    base["networks"] = {network: {"name": network, "driver": "bridge"}}
    for key, spec in (networks or {}).items():
        base["networks"][net_names[str(key)]] = {"name": net_names[str(key)], "driver": "bridge",
                                                 **({"internal": True} if (spec or {}).get("internal") else {})}
    if volumes:
        base["volumes"] = {key: {"external": True, "name": names[key]} for key in volumes}
    if file_secrets:
        base["secrets"] = {secret: {"file": f"./secrets/{secret}"} for secret in sorted(file_secrets)}
    dotenv = {
        "COMPOSE_PROJECT_NAME": {"value": project},
        "COMPOSE_FILE": {"value": ":".join(COMPOSE_FILES[d] for d in PRODUCTION)},
        "ANTONE_DEV_COMPOSE_FILE": {"value": ":".join(COMPOSE_FILES[d] for d in DEVELOPMENT)},
        **{image_variable(name): {"value": str(spec["image"])} for name, spec in active.items()},
    }
    return {
        "base": base,
        "prod": prod,
        "dev": dev,
        "dotenv": dotenv,
        "env_files": env_files,
        "file_secrets": sorted(file_secrets),
        "secret_groups": dict(sorted(secret_groups.items())),
        "secret_users": {secret: sorted(users) for secret, users in sorted(secret_users.items())},
        "volumes": names,
        "files": files,
    }


# --- env files -------------------------------------------------------------------------------------

def env_line(variable: str, value: str) -> str:
    """VARIABLE='value': single quotes, which compose reads literally (a $ stays a $)."""
    if reason := env_text_problem(value):
        raise StackError(f"the value of {variable} {reason}; an env file cannot hold it")
    return f"{variable}='{value}'"


def env_text(plan: dict[str, dict[str, Any]], secrets: dict[str, Any] | None = None, example: bool = False) -> str:
    """An env plan (variable -> {value} | {file} | {secret}) as the text of its env file; with
    example, secrets are left blank."""
    secrets = secrets or {}
    lines = []
    for variable in sorted(plan):
        entry = plan[variable]
        if "value" in entry:
            value = scalar_text(entry["value"])
        elif "file" in entry:
            value = str(entry["file"])
        elif example:
            value = ""
        elif entry.get("secret") in secrets:
            value = scalar_text(secrets[entry["secret"]])
        else:
            raise StackError(f"{variable} needs the secret {entry.get('secret')!r}, which has no value")
        lines.append(env_line(variable, value))
    return "".join(f"{line}\n" for line in lines)
