"""The base role's checks of its inputs, before anything changes: pure functions, no I/O.

base_plan() takes what the role and the play say (the timezone, the reboot time, the public ports, the
deploy user and its keys, how the play connects) and returns the problems, each naming the variable to
fix, and whether the deploy user's keys may be replaced. The role asserts there are none (tasks/preflight.yml); the files it writes stay in vars/main.yml,
templated (their content needs the SSH ports the role reads from the host).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.antone.infra.plugins.test.timezone import is_timezone

REBOOT_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
SSH_CONNECTIONS = ("ssh", "paramiko", "smart")


def port_problems(ports: Any) -> list[str]:
    """base_firewall_public_ports: each {port: 1..65535, proto: tcp|udp (tcp unless said)}, none twice."""
    if not isinstance(ports, list):
        return ["base_firewall_public_ports must be a list of {port, proto} entries"]
    problems, keys = [], []
    for entry in ports:
        port = entry.get("port") if isinstance(entry, dict) else None
        proto = entry.get("proto", "tcp") if isinstance(entry, dict) else None  # tcp when not said; null is no protocol
        if not (re.match(r"^[0-9]+$", str(port)) and 1 <= int(str(port)) <= 65535 and proto in ("tcp", "udp")):
            problems.append(f"base_firewall_public_ports has a bad entry {entry}: each needs port 1 to 65535 and proto "
                            "tcp or udp, for example {port: 443, proto: tcp}.")
            continue
        keys.append(f"{int(str(port))}/{proto}")
    if len(keys) != len(set(keys)):
        problems.append(f"base_firewall_public_ports lists a port twice: {', '.join(keys)}")
    return problems


def login_problems(inputs: dict[str, Any]) -> list[str]:
    """The deploy user, its keys, root's login and how this play connects: no setting that locks the
    operator out (of this run or the next)."""
    user, keys = str(inputs.get("deploy_user") or ""), [str(k) for k in inputs.get("deploy_user_keys") or []]
    problems = []
    if user == "root":
        problems.append("base_deploy_user=root: the deploy user is an ordinary account with sudo, and its keys are "
                        "managed exclusively; root's keys are not the role's to replace. Name another user (for "
                        "example deploy).")
    key = str(inputs.get("connection_key") or "").split()
    listed = [k.split()[1] for k in keys if len(k.split()) > 1]
    if inputs.get("connects_as_deploy") and len(key) >= 2 and key[1] not in listed:
        problems.append(f"This play connects as {user} with a key that base_deploy_user_keys does not list ({key[0]} "
                        "key); the role manages those keys exclusively and would remove it, locking the play out. Add "
                        "its public key to base_deploy_user_keys.")
    if user and not keys:
        problems.append(f"base_deploy_user={user} has no SSH key in base_deploy_user_keys, and password login is "
                        "turned off: that user could never log in.")
    connect_user = str(inputs.get("connect_user") or "")
    if inputs.get("permit_root_login") == "no" and (not (user and keys) or connect_user == "root"):
        problems.append("base_ssh_permit_root_login=no would lock the operator out: it needs a deploy user with SSH "
                        "keys (base_deploy_user, base_deploy_user_keys), and this play must not connect as root (it "
                        f"connects as {connect_user}). Keep prohibit-password (root with keys only), or connect as the "
                        "deploy user first.")
    if inputs.get("connection") in SSH_CONNECTIONS and inputs.get("uses_password"):
        problems.append("This play logs in with a password (ansible_password), and the base role turns SSH password "
                        "login off: the next run could not connect. Install an SSH key for this user and connect with "
                        "it first.")
    return problems


def base_plan(inputs: dict[str, Any]) -> dict[str, Any]:
    """The problems of the base role's inputs (empty when it may run), and whether the deploy user's keys
    may be managed exclusively."""
    if not isinstance(inputs, dict):
        raise TypeError("expects the role's inputs as a dict")
    problems = []
    timezone = inputs.get("timezone")
    if not is_timezone(timezone):
        problems.append(f"base_timezone={timezone} is not a timezone of the IANA database; use a name such as "
                        "Europe/Berlin or Etc/UTC (`timedatectl list-timezones` lists them).")
    reboot = str(inputs.get("reboot_time"))
    if not REBOOT_TIME.match(reboot):
        problems.append(f"base_unattended_reboot_time={reboot} must be HH:MM, 00:00 to 23:59.")
    key = str(inputs.get("connection_key") or "").split()
    return {"problems": problems + port_problems(inputs.get("public_ports")) + login_problems(inputs),
            # the deploy user's keys replace the host's, except when this play connects as that user with a
            # key it cannot read: then keys are only added, so that the one the play uses is never removed
            "deploy_keys_exclusive": not inputs.get("connects_as_deploy") or len(key) >= 2}
