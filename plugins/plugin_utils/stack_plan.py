"""The stack role's one plan: every check, and every file the role writes with its path, mode and
content, the compose file list, the volumes and which services each file's change touches.

stack_plan() is pure. The role hands it its variables (without the stack_ prefix) and the fact
postgres_tuning published, and gets back the problems (each naming the variable to fix; nothing
else is planned while there is one) and the plan; its tasks assert there is no problem and write
what the plan lists. Files marked private hold secret values: the role writes them with no_log
and without diff. Every other file is shown in --diff.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any

import yaml

from ansible_collections.antone.infra.plugins.plugin_utils.compose import (
    COMPOSE_FILES,
    PRODUCTION,
    compose_stack,
    enabled_services,
    env_text,
    normalize_port,
    secret_map,
    stack_problems,
)
from ansible_collections.antone.infra.plugins.plugin_utils.filters import plain
from ansible_collections.antone.infra.plugins.plugin_utils.memory import docker_memory_mb

PREFIX = "stack_"
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PULL_POLICIES = ("missing", "always", "never")
# Directories the role would take over (owner, mode, removal of unplanned files): never the system's.
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
               "/sys", "/usr", "/var/lib/docker", "/var/lib/containerd", "/var/lib/dpkg", "/var/lib/apt", "/var/log")
# Directories that hold other things and may only hold a project below them, never be one.
SHARED_DIRS = ("/", "/home", "/root", "/opt", "/srv", "/var", "/var/lib", "/tmp", "/mnt", "/media", "/usr/local")
PRIVATE_DIRS = ("env", "secrets")
HEADER = {
    "base": "The base: every service, its health check, network and volumes.",
    "prod": "Production: limits, log rotation, hardening. Run with the base.",
    "dev": "A developer's machine: debug ports, conveniences. Run with the base.",
}
DEFAULTS: dict[str, Any] = {
    "services": {}, "volumes": {}, "project_name": "antone", "project_dir": "/opt/antone", "project_owner": "root",
    "project_group": "root", "network": "antone-network", "networks": {}, "secrets": {}, "secrets_as_files": True,
    "secrets_gid": 0, "postgres_service": "postgres", "postgres_stop_grace_period": "120s", "log_max_size": "10m",
    "log_max_file": 3, "pull": "missing", "wait_timeout": 300, "image_variables": {}, "postgres_tuning": {},
    "service_memory": "1g", "memory_reserve_mb": 1024, "host_memory_mb": 0, "firewall": {},
    "deploy": True,
}


def project_dir_problem(path: str) -> str:
    """Why path cannot be the project directory (which the role owns and prunes), or ''."""
    if not path.startswith("/") or posixpath.normpath(path) != path or "//" in path:
        return f"{PREFIX}project_dir must be an absolute, normalised path (no .., no trailing /); got {path!r}"
    if path in SHARED_DIRS or re.match(r"^/home/[^/]+$", path):
        return (f"{PREFIX}project_dir {path} is a shared or home directory; the role owns and prunes its project "
                "directory, so give it one of its own (for example /opt/antone)")
    for system in SYSTEM_DIRS:
        if path == system or path.startswith(system + "/"):
            return f"{PREFIX}project_dir {path} is inside the system directory {system}; use one of its own (/opt/antone)"
    return ""


def whole(value: Any) -> int | None:
    try:
        return None if isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        return None


def setting_problems(inputs: dict[str, Any]) -> list[str]:
    """The plain settings, each on its own."""
    problems = []
    if not PROJECT_NAME.match(str(inputs["project_name"])):
        problems.append(f"{PREFIX}project_name must be lower case letters, digits, - and _; got {inputs['project_name']!r}")
    if reason := project_dir_problem(str(inputs["project_dir"])):
        problems.append(reason)
    if not NETWORK_NAME.match(str(inputs["network"])):
        problems.append(f"{PREFIX}network must be a Docker network name; got {inputs['network']!r}")
    if str(inputs["pull"]) not in PULL_POLICIES:
        problems.append(f"{PREFIX}pull must be one of {', '.join(PULL_POLICIES)}; got {inputs['pull']!r}")
    for key in ("wait_timeout", "log_max_file", "secrets_gid"):
        number = whole(inputs[key])
        if number is None or number < (0 if key == "secrets_gid" else 1):
            problems.append(f"{PREFIX}{key} must be a whole number {'0' if key == 'secrets_gid' else '1'} or more; "
                            f"got {inputs[key]!r}")
    try:
        docker_memory_mb(inputs["service_memory"])
    except ValueError as error:
        problems.append(f"{PREFIX}service_memory: {error}")
    for key in ("memory_reserve_mb", "host_memory_mb"):
        number = whole(inputs[key])
        if number is None or number < 0:
            problems.append(f"{PREFIX}{key} must be a whole number 0 or more; got {inputs[key]!r}")
    if not isinstance(inputs["secrets"], dict):
        problems.append(f"{PREFIX}secrets must be a mapping of secret names to values")
    return problems


OWN_LISTENERS = ("docker-proxy", "dockerd")  # the engine publishing this stack's (or a stack's) ports


def parse_listeners(text: str) -> list[dict[str, Any]]:
    """`ss -Htulnp` lines -> {proto, host_ip, port, process}: what already listens on the host."""
    listeners = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] not in ("tcp", "udp"):
            continue
        address, _colon, port = parts[4].rpartition(":")
        address = address.strip("[]").split("%")[0]
        if not port.isdigit():
            continue
        process = re.search(r'\(\("([^"]+)"', " ".join(parts[5:]))
        listeners.append({"proto": parts[0], "host_ip": "0.0.0.0" if address in ("*", "") else address,
                          "port": int(port), "process": process.group(1) if process else "another process"})
    return listeners


def addresses_clash(a: str, b: str) -> bool:
    anywhere = ("0.0.0.0", "::")
    return a == b or a in anywhere or b in anywhere


def published_ports(services: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, port) for each published port of the enabled services; where names them in a message."""
    return [(f"stack service {name}: port {port['published']}/{port['protocol']} on {port['host_ip']}", port)
            for name, spec in enabled_services(services).items()
            for port in [normalize_port(p) for p in spec.get("ports") or []]]


def firewall_problems(services: dict[str, Any], firewall: dict[str, Any]) -> list[str]:
    """A public port the firewall does not admit: it would be unreachable."""
    if not firewall.get("firewall_enabled"):
        return []
    admitted = {(int(p["port"]), str(p.get("proto", "tcp"))) for p in firewall.get("public_ports") or []}
    return [f"{where} is public, but the firewall does not admit it: add {{port: {port['published']}, proto: "
            f"{port['protocol']}}} to base_firewall_public_ports, or publish it on 127.0.0.1 (behind the tunnel or a proxy)"
            for where, port in published_ports(services)
            if not ipaddress.ip_address(port["host_ip"]).is_loopback
            and (port["published"], port["protocol"]) not in admitted]


def stack_port_conflicts(inputs: dict[str, Any]) -> list[str]:
    """The stack's published ports (inputs: ports, as the plan lists them) that another process of the host
    already holds (inputs: listeners, as `ss -Htulnp` prints them): compose would fail half way. The one
    check that needs what listens, so the role plans before it reads the host and checks this after."""
    if not isinstance(inputs, dict) or not isinstance(inputs.get("ports"), list):
        raise TypeError("the input must be a mapping with ports (the plan's) and listeners (ss's lines)")
    listeners = parse_listeners(str(inputs.get("listeners") or ""))
    return [f"{port['where']} is already used on this host by {other['process']} ({other['host_ip']}:{other['port']}); "
            "choose another port or stop that process"
            for port in plain(inputs["ports"]) for other in listeners
            if (other["port"], other["proto"]) == (port["published"], port["protocol"])
            and other["process"] not in OWN_LISTENERS and addresses_clash(other["host_ip"], port["host_ip"])]


def memory_problems(prod: dict[str, Any], host_mb: int, reserve_mb: int) -> list[str]:
    """Every service's memory limit together against the host's memory less the reserve."""
    if host_mb <= 0:
        return []
    limits = {name: docker_memory_mb(service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory", 0))
              for name, service in prod["services"].items()}
    total, usable = sum(limits.values()), host_mb - reserve_mb
    if total <= usable:
        return []
    parts = ", ".join(f"{name} {mb}" for name, mb in sorted(limits.items(), key=lambda item: -item[1]))
    return [f"{PREFIX}service_memory: the services' memory limits add up to {total} MB ({parts}), more than the "
            f"{usable} MB this host's {host_mb} MB leave after {PREFIX}memory_reserve_mb ({reserve_mb}); lower "
            f"{PREFIX}service_memory, a service's resources.memory or postgres_tuning_memory_mb"]


def image_problems(services: dict[str, Any], image_variables: dict[str, str]) -> tuple[list[str], set[str]]:
    """A missing image of a preset's service, naming the variable that holds it."""
    problems, named = [], set()
    for name, spec in enabled_services(services).items():
        if name in image_variables and not spec.get("image"):
            named.add(name)
            problems.append(f"{image_variables[name]} is empty: name the {name} image (built by the application "
                            f"repository), or leave the service out with {PREFIX}services: {{{name}: {{enabled: false}}}}")
    return problems, named


def compose_text(document: str, project: str, content: dict[str, Any]) -> str:
    production = " -f ".join(COMPOSE_FILES[d] for d in PRODUCTION)
    return (
        f"# {COMPOSE_FILES[document]} of the {project} stack, written by antone.infra.stack: edits here are undone.\n"
        f"# {HEADER[document]}\n"
        f"# Production: docker compose -f {production} up -d (the .env's COMPOSE_FILE).\n"
        "# Use ./dev-ctl.sh rather than docker compose: it guards the volumes (DATA-001).\n"
        + yaml.safe_dump(content, indent=2, width=1000, sort_keys=False, default_flow_style=False)
    )


def dotenv_text(project: str, compose: dict[str, Any]) -> str:
    return (f"# Compose variables of the {project} stack, written by antone.infra.stack. No secret lives here:\n"
            "# secrets are in env/*.env (mode 0600) or secrets/ (Docker secrets).\n" + env_text(compose["dotenv"]))


def example_text(project: str, compose: dict[str, Any]) -> str:
    parts = [
        f"# .env.example of the {project} stack, written by antone.infra.stack (CONFIG-001).\n"
        "# Every variable the compose files use, then each service's env file, secrets left blank.\n"
        "# Secret values come from Ansible Vault (stack_secrets), never from this file.\n\n"
        "# Compose variables (.env in this directory, read by docker compose)\n" + env_text(compose["dotenv"])
    ]
    for service, plan in compose["env_files"].items():
        parts.append(f"\n# env/{service}.env{' (no variables)' if not plan else ''}\n" + env_text(plan, example=True))
    return "".join(parts)


def postgres_part(services: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """What later tasks and roles need of the PostgreSQL service, or {} when there is none."""
    name = str(inputs["postgres_service"])
    spec = enabled_services(services).get(name)
    if not spec:
        return {}
    env = spec.get("environment") or {}
    user = str(env.get("POSTGRES_USER", "postgres"))
    as_files = bool(inputs["secrets_as_files"] and spec.get("file_secrets"))
    return {
        "service": name,
        "container": f"{inputs['project_name']}-{name}-1",
        "image": str(spec.get("image", "")),
        "user": user,
        "db": str(env.get("POSTGRES_DB", user)),
        "volumes": [str(v).split(":", maxsplit=1)[0] for v in spec.get("volumes") or []],
        # PostgreSQL reads its password file only when it initialises: a change is rotated in the server.
        "password_secret": str((spec.get("secrets") or {}).get("POSTGRES_PASSWORD", "")) if as_files else "",
    }


HEALTH_URL = re.compile(r"(https?)://(?:localhost|127\.0\.0\.1|\[::1\])(?::([^/\s\"']*))?(/[^\s\"']*)?")
METRICS_READY = re.compile(r"--metrics[= ](?:localhost|127\.0\.0\.1|0\.0\.0\.0)?:(\d+)\b.*\bready\b")


def health_urls(healthcheck: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The HTTP endpoints a health check asks for inside its container (http://localhost:PORT/PATH,
    or cloudflared's `--metrics ADDR:PORT ready`): verify asks the same over the stack's network."""
    test = (healthcheck or {}).get("test") or []
    text = " ".join(str(t) for t in test) if isinstance(test, list) else str(test)
    found = []
    for match in HEALTH_URL.finditer(text):
        scheme, port = match.group(1), match.group(2) or ("443" if match.group(1) == "https" else "80")
        if port.isdigit():  # a port from a variable ($PORT) is not known here: no check is derived
            found.append({"port": int(port), "path": match.group(3) or "/",
                          **({"scheme": "https"} if scheme == "https" else {})})
    if not found and (ready := METRICS_READY.search(text)):
        found = [{"port": int(ready.group(1)), "path": "/ready"}]
    return found


def checks_part(services: dict[str, Any], compose: dict[str, Any], files: list[dict[str, Any]],
                inputs: dict[str, Any]) -> dict[str, Any]:
    """What the verify role checks of the stack: each service (health check, the HTTP endpoints its
    health check names, its state volumes and where they are mounted), the private files with their
    mode and owner, and the ports published beyond loopback."""
    project_dir = str(inputs["project_dir"])
    checks: dict[str, Any] = {"services": {}, "files": [], "public_ports": []}
    for name, service in sorted(compose["base"]["services"].items()):
        mounts = []
        for mount in service.get("volumes") or []:
            key, _colon, rest = str(mount).partition(":")
            if key in compose["volumes"]:
                mounts.append({"volume": compose["volumes"][key], "target": rest.split(":")[0]})
        test = (service.get("healthcheck") or {}).get("test")
        checks["services"][name] = {"healthcheck": bool(test) and test not in (["NONE"], "NONE"),
                                    "http": health_urls(service.get("healthcheck")), "mounts": mounts}
    checks["files"] = [{"path": f"{project_dir}/{f['path']}", "mode": f["mode"], "owner": str(inputs["project_owner"]),
                        "group": str(f["group"])} for f in files if f["private"]]
    for spec in enabled_services(services).values():
        for port in [normalize_port(p) for p in spec.get("ports") or []]:
            if not ipaddress.ip_address(port["host_ip"]).is_loopback:
                checks["public_ports"].append({"port": port["published"], "proto": port["protocol"]})
    return checks


def postgres_publication(postgres: dict[str, Any], inputs: dict[str, Any],
                         compose_service: dict[str, Any] | None = None) -> dict[str, Any]:
    """The PostgreSQL service for later roles, with where its password is kept on the host."""
    if not postgres:
        return {}
    project_dir = str(inputs["project_dir"])
    networks = list(service.get("networks") or []) if (service := compose_service) else []
    return {**{k: postgres[k] for k in ("service", "image", "user", "db", "volumes")},
            # the network a helper container joins to reach it: the stack's main one when it is there
            "network": str(inputs["network"]) if str(inputs["network"]) in networks or not networks else str(networks[0]),
            "password_file": f"{project_dir}/secrets/{postgres['password_secret']}" if postgres["password_secret"] else "",
            "env_file": f"{project_dir}/env/{postgres['service']}.env"}


def files_plan(inputs: dict[str, Any], compose: dict[str, Any], postgres: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file the role writes: path (in the project), mode, group, content or src, private (holds a
    secret value), services (whose containers the file's change reaches) and restart (the role must
    restart them itself: a bind-mounted file compose does not compare)."""
    project, group = str(inputs["project_name"]), str(inputs["project_group"])
    every = sorted(compose["base"]["services"])
    secrets = secret_map(inputs["secrets"])
    files = [
        {"path": COMPOSE_FILES[d], "mode": "0640", "group": group, "content": compose_text(d, project, compose[d]),
         "private": False, "services": every if d in PRODUCTION else [], "restart": False}
        for d in ("base", "prod", "dev")
    ]
    files += [
        {"path": ".env", "mode": "0640", "group": group, "content": dotenv_text(project, compose), "private": False,
         "services": every, "restart": False},
        {"path": ".env.example", "mode": "0640", "group": group, "content": example_text(project, compose),
         "private": False, "services": [], "restart": False},
        {"path": "dev-ctl.sh", "mode": "0750", "group": group, "src": "dev-ctl.sh", "private": False,
         "services": [], "restart": False},
    ]
    for service, plan in compose["env_files"].items():
        files.append({"path": f"env/{service}.env", "mode": "0600", "group": group,
                      "content": env_text(plan, secrets=secrets), "private": True, "services": [service],
                      "restart": False})
    for secret in compose["file_secrets"]:
        users = compose["secret_users"][secret]
        if secret == postgres.get("password_secret"):
            users = [u for u in users if u != postgres["service"]]
        files.append({"path": f"secrets/{secret}", "mode": "0440",
                      "group": str(compose["secret_groups"].get(secret, inputs["secrets_gid"])),
                      "content": secrets[secret], "private": True, "services": users, "restart": True})
    for item in compose["files"]:
        files.append({"path": item["path"], "mode": item["mode"], "group": group,
                      **({"content": item["content"]} if "content" in item else {"src": item["src"]}),
                      "private": False, "services": [item["service"]], "restart": True})
    return files


def directories_plan(files: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The project directory (readable by its group), env/ and secrets/ (owner only) and the folders of
    the placed files."""
    folders = sorted({posixpath.dirname(f["path"]) for f in files} - {"", *PRIVATE_DIRS})
    parents = sorted({"/".join(f.split("/")[:i]) for f in folders for i in range(1, f.count("/") + 2)})
    return ([{"path": "", "mode": "0750"}] + [{"path": d, "mode": "0700"} for d in PRIVATE_DIRS]
            + [{"path": d, "mode": "0755"} for d in parents])


def writes_plan(inputs: dict[str, Any], files: list[dict[str, Any]],
                directories: list[dict[str, str]]) -> dict[str, Any]:
    """The arguments of the one antone.infra.files call that writes the project: every folder and file
    with its owner, private files as private_content (never shown), env/ and secrets/ pruned."""
    owner, group = str(inputs["project_owner"]), str(inputs["project_group"])
    content_key = {True: "private_content", False: "content"}
    return {
        "root": str(inputs["project_dir"]),
        "directories": [{"path": d["path"] or ".", "mode": d["mode"], "owner": owner, "group": group}
                        for d in directories],
        "files": [{"path": f["path"], "mode": f["mode"], "owner": owner, "group": f["group"],
                   **({content_key[bool(f["private"])]: f["content"]} if "content" in f else {"src": f["src"]})}
                  for f in files],
        "prune": list(PRIVATE_DIRS),
    }


def stack_plan(inputs: dict[str, Any]) -> dict[str, Any]:
    """Everything the stack role checks and writes, from its variables."""
    if not isinstance(inputs, dict):
        raise TypeError("the input must be a mapping of the role's variables, without the stack_ prefix")
    unknown = sorted(set(inputs) - set(DEFAULTS))
    inputs = {**DEFAULTS, **{k: v for k, v in plain(inputs).items() if v is not None}}
    tuning = inputs["postgres_tuning"] or {}
    problems = [f"unknown stack inputs {unknown}"] if unknown else []
    problems += setting_problems(inputs)
    services = inputs["services"]
    missing_images, named = image_problems(services, inputs["image_variables"]) if isinstance(services, dict) else ([], set())
    problems += missing_images
    problems += [
        p for p in stack_problems(services, inputs["volumes"], str(inputs["project_name"]), inputs["secrets"],
                                  bool(inputs["secrets_as_files"]), str(inputs["postgres_service"]), inputs["networks"])
        if not any(p == f"stack service {name}: image is required" for name in named)
    ]
    if not problems:
        problems = firewall_problems(services, inputs["firewall"] or {})
    if problems:
        return {"problems": problems}
    compose = compose_stack(
        services, volumes=inputs["volumes"], project=str(inputs["project_name"]), network=str(inputs["network"]),
        networks=inputs["networks"], secrets=inputs["secrets"], secrets_as_files=bool(inputs["secrets_as_files"]),
        postgres_service=str(inputs["postgres_service"]),
        postgres_stop_grace_period=str(inputs["postgres_stop_grace_period"]),
        postgres_tuning={k: tuning[k] for k in ("command", "shm_size", "memory_limit")} if tuning else {},
        prod_logging={"max-size": str(inputs["log_max_size"]), "max-file": str(inputs["log_max_file"])},
        service_memory=str(inputs["service_memory"]),
    )
    problems = memory_problems(compose["prod"], int(inputs["host_memory_mb"]), int(inputs["memory_reserve_mb"]))
    if problems:
        return {"problems": problems}
    postgres = postgres_part(services, inputs)
    files = files_plan(inputs, compose, postgres)
    compose_files = [COMPOSE_FILES[d] for d in PRODUCTION]
    directories = directories_plan(files)
    return {
        "problems": [],
        "compose_files": compose_files,
        "compose_args": [arg for name in compose_files for arg in ("-f", name)],
        "directories": directories,
        "files": files,
        "writes": writes_plan(inputs, files, directories),
        "volumes": compose["volumes"],
        "postgres": postgres,
        "tuned": bool(tuning),
        "reload_settings": dict(tuning.get("reload_settings") or {}) if postgres else {},
        "ports": [dict(port, where=where) for where, port in published_ports(services)],
        "publication": {
            "project": str(inputs["project_name"]),
            "deployed": bool(inputs["deploy"]),
            "project_dir": str(inputs["project_dir"]),
            "compose_files": compose_files,
            "network": str(inputs["network"]),
            "services": sorted(compose["base"]["services"]),
            "postgres": postgres_publication(postgres, inputs,
                                             compose["base"]["services"].get(postgres.get("service", ""))),
            "volumes": compose["volumes"],
            "checks": checks_part(services, compose, files, inputs),
        },
    }
