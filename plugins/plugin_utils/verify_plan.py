"""The verify role's one plan: what antone-verify checks on the host, from the facts the roles before
it published (stack, postgres_tuning, backup, base) and the role's own variables.

verify_plan() is pure. It returns the problems (each naming the variable to fix; nothing else is
planned while there is one), the configuration antone-verify reads (/etc/antone/verify.json) and the
timer's schedule. No check is written for one stack: the HTTP checks come from the services' own
health checks (the endpoint each asks for inside its container is asked over the stack's network),
the volumes and their mount points from the compose data, the files from the stack's plan.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import plain
from ansible_collections.antone.infra.plugins.plugin_utils.memory import MEMORY_VALUE, parse_memory

PREFIX = "verify_"
DEFAULTS: dict[str, Any] = {
    "stack": None, "postgres_tuning": {}, "backup": {}, "base": {}, "restart_limit": 3, "backup_margin_hours": 6,
    "allowed_ports": [], "http_checks": [], "healthchecks_url": "", "timer": True, "timer_interval": "15min",
    "wait_timeout": 300, "http_timeout": 10,
    # Where the role installs things (its vars, not the user's).
    "command_path": "/usr/local/sbin/antone-verify", "config_path": "/etc/antone/verify.json",
}
SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")
TIME_SPAN = re.compile(r"^[0-9]+ ?(s|sec|min|m|h|hr|d)$")
PING_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
PROTOCOLS = ("tcp", "udp")


def truth(value: Any) -> bool:
    """A boolean as Ansible reads one: a string 'false', 'no', 'off' or '0' is false."""
    return str(value).strip().lower() in ("true", "yes", "on", "1", "y", "t") if isinstance(value, str) else bool(value)


def whole(value: Any, least: int) -> int | None:
    try:
        number = None if isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        return None
    return number if number is not None and number >= least else None


def port_problems(key: str, ports: Any) -> list[str]:
    if not isinstance(ports, list):
        return [f"{PREFIX}{key} must be a list of {{port, proto}}"]
    return [f"{PREFIX}{key} has a bad entry {p!r}: each needs port 1 to 65535 and proto tcp or udp"
            for p in ports if not isinstance(p, dict) or whole(p.get("port"), 1) is None
            or int(p["port"]) > 65535 or str(p.get("proto", "tcp")) not in PROTOCOLS]


def http_check_problems(checks: Any, services: dict[str, Any]) -> list[str]:
    if not isinstance(checks, list):
        return [f"{PREFIX}http_checks must be a list of {{service, port, path, expect}}"]
    problems = []
    for check in checks:
        if not isinstance(check, dict) or str(check.get("service", "")) not in services:
            problems.append(f"{PREFIX}http_checks entry {check!r} must name a service of the stack "
                            f"({', '.join(sorted(services))})")
        elif whole(check.get("port"), 1) is None or not str(check.get("path", "/")).startswith("/"):
            problems.append(f"{PREFIX}http_checks entry for {check['service']} needs a port and a path starting with /")
        elif str(check.get("expect", 200)) != "answers" and (whole(check.get("expect", 200), 100) or 600) >= 600:
            problems.append(f"{PREFIX}http_checks entry for {check['service']}: expect is an HTTP status (100-599) "
                            "or answers (any status below 500)")
    return problems


def setting_problems(inputs: dict[str, Any]) -> list[str]:
    problems = []
    for key, least in (("restart_limit", 1), ("backup_margin_hours", 0), ("wait_timeout", 1), ("http_timeout", 1)):
        if whole(inputs[key], least) is None:
            problems.append(f"{PREFIX}{key} must be a whole number {least} or more; got {inputs[key]!r}")
    problems += port_problems("allowed_ports", inputs["allowed_ports"])
    url = str(inputs["healthchecks_url"] or "")
    if url and not PING_URL.match(url):
        problems.append(f"{PREFIX}healthchecks_url must be an http(s) ping URL (https://hc-ping.com/UUID) or empty")
    if not TIME_SPAN.match(str(inputs["timer_interval"])):
        problems.append(f"{PREFIX}timer_interval must be a systemd time span such as 15min or 1h; "
                        f"got {inputs['timer_interval']!r}")
    return problems


def expected_settings(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """postgres_tuning's settings as antone-verify compares them: memory sizes in kB, the rest as text."""
    expected: dict[str, dict[str, Any]] = {}
    for name, value in sorted(settings.items()):
        text = str(value)
        expected[name] = {"text": text, **({"kb": parse_memory(text)} if MEMORY_VALUE.match(text) else {})}
    return expected


def http_checks(stack: dict[str, Any], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The endpoints each service's health check asks for, then the inventory's own, without repeats."""
    checks = [{"service": name, "port": int(url["port"]), "path": str(url["path"]), "expect": "success",
               **({"scheme": url["scheme"]} if url.get("scheme") else {})}
              for name, service in sorted(stack["checks"]["services"].items()) for url in service["http"]]
    for check in extra:
        entry = {"service": str(check["service"]), "port": int(check["port"]), "path": str(check.get("path", "/")),
                 "expect": "answers" if str(check.get("expect", 200)) == "answers" else int(check.get("expect", 200))}
        key = (entry["service"], entry["port"], entry["path"])
        checks = [c for c in checks if (c["service"], c["port"], c["path"]) != key] + [entry]
    return checks


def allowed_listeners(inputs: dict[str, Any], stack: dict[str, Any]) -> list[dict[str, Any]]:
    base = inputs["base"] or {}
    ports = [{"port": int(p), "proto": "tcp"} for p in base.get("ssh_ports") or [22]]
    ports += [{"port": int(p["port"]), "proto": str(p.get("proto", "tcp"))} for p in base.get("public_ports") or []]
    ports += [{"port": int(p["port"]), "proto": str(p.get("proto", "tcp"))} for p in stack["checks"]["public_ports"]]
    ports += [{"port": int(p["port"]), "proto": str(p.get("proto", "tcp"))} for p in inputs["allowed_ports"]]
    return sorted({(p["proto"], p["port"]): p for p in ports}.values(), key=lambda p: (p["proto"], p["port"]))


def verify_plan(inputs: dict[str, Any]) -> dict[str, Any]:
    """antone-verify's configuration and the timer's schedule, from the published facts."""
    if not isinstance(inputs, dict):
        raise TypeError("the input must be a mapping of the role's variables, without the verify_ prefix")
    unknown = sorted(set(inputs) - set(DEFAULTS))
    inputs = {**DEFAULTS, **{k: v for k, v in plain(inputs).items() if v is not None}}
    problems = [f"unknown verify inputs {unknown}"] if unknown else []
    stack = inputs["stack"]
    if not isinstance(stack, dict) or "checks" not in stack:
        problems.append("the fact `stack` is missing: run the stack role (or its publish step) before verify")
        return {"problems": problems + setting_problems(inputs)}
    problems += setting_problems(inputs)
    if not stack.get("deployed", True):
        return {"problems": problems, "skip": "the stack role only wrote the project files (stack_deploy: false): "
                "there is nothing running to verify"} if not problems else {"problems": problems}
    problems += http_check_problems(inputs["http_checks"], stack["checks"]["services"])
    tuning = inputs["postgres_tuning"] or {}
    settings = tuning.get("settings") or {}
    problems += [f"postgres_tuning published a setting with a bad name {n!r}" for n in settings if not SETTING_NAME.match(n)]
    if problems:
        return {"problems": problems}
    postgres = stack.get("postgres") or {}
    backup = inputs["backup"] or {}
    config = {
        "project": stack["project"],
        "project_dir": stack["project_dir"],
        "compose_files": list(stack["compose_files"]),
        "network": stack["network"],
        "restart_limit": int(inputs["restart_limit"]),
        "wait_timeout": int(inputs["wait_timeout"]),
        "timeout": int(inputs["http_timeout"]),
        "services": {name: {"healthcheck": s["healthcheck"], "mounts": s["mounts"]}
                     for name, s in sorted(stack["checks"]["services"].items())},
        "http": http_checks(stack, inputs["http_checks"]),
        "postgres": {
            **{k: postgres[k] for k in ("service", "image", "user", "db", "password_file", "env_file")},
            "network": str(postgres.get("network") or stack["network"]),
            "settings": expected_settings(settings),
        } if postgres else {},
        "volumes": dict(sorted(stack["volumes"].items())),
        "cron": {"file": backup["cron_file"], "jobs": list(backup["cron_jobs"])} if backup else {},
        "backup": {"status_file": backup["status_file"], "time": backup.get("time", ""),
                   "max_age_hours": int(backup["rpo_hours"]) + int(inputs["backup_margin_hours"])} if backup else {},
        "files": list(stack["checks"]["files"]),
        "listeners": {"allowed": allowed_listeners(inputs, stack)},
        "healthchecks_url": str(inputs["healthchecks_url"] or ""),
    }
    timer = {"enabled": truth(inputs["timer"]), "interval": str(inputs["timer_interval"])}
    return {"problems": [], "skip": "", "config": config, "timer": timer,
            "writes": writes_plan(config, timer, str(inputs["command_path"]), str(inputs["config_path"]))}


def unit_texts(project: str, command: str, interval: str) -> dict[str, str]:
    """antone-verify.service (one run, pinging healthchecks.io) and antone-verify.timer."""
    return {
        "service": (f"[Unit]\nDescription=Check the {project} stack end to end (antone-verify)\n"
                    "After=docker.service\nWants=docker.service\n\n"
                    f"[Service]\nType=oneshot\nSyslogIdentifier=antone-verify\nExecStart={command} --ping\n"),
        "timer": (f"[Unit]\nDescription=Check the {project} stack every {interval}\n\n"
                  f"[Timer]\nOnBootSec=10min\nOnUnitActiveSec={interval}\nAccuracySec=30s\n\n"
                  "[Install]\nWantedBy=timers.target\n"),
    }


def writes_plan(config: dict[str, Any], timer: dict[str, Any], command: str, config_path: str) -> dict[str, Any]:
    """The arguments of the one antone.infra.files call that installs antone-verify: the command, its
    configuration (private when it names a healthchecks.io URL) and the timer's units."""
    root = {"owner": "root", "group": "root"}
    text = json.dumps(config, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"
    content_key = "private_content" if config["healthchecks_url"] else "content"
    units = unit_texts(str(config["project"]), command, str(timer["interval"]))
    return {
        "directories": [{"path": posixpath.dirname(config_path), "mode": "0755", **root}],
        "files": [{"path": command, "src": "antone_verify.py", "mode": "0755", **root},
                  {"path": config_path, content_key: text, "mode": "0600", **root},
                  *({"path": f"/etc/systemd/system/antone-verify.{kind}", "content": units[kind], "mode": "0644", **root}
                    for kind in ("service", "timer"))],
        "units": [f"/etc/systemd/system/antone-verify.{kind}" for kind in ("service", "timer")],
    }
