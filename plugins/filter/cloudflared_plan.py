"""The antone.infra.cloudflared_plan filter: the cloudflared role's inputs checked, and what it publishes.

One pure function takes the role's settings and returns the problems (each naming the variable) and
everything the role hands to the stack role: the mode, the tunnel's name, the ingress rules with their
catch-all, the Access list, and for the locally managed form the config.yml cloudflared reads. Secret
values (the API token, the tunnel token, the credentials) are inspected for their shape only and
never appear in the result or in a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter
from ansible_collections.antone.infra.plugins.module_utils.cloudflare_ingress import (
    access_problems,
    ingress_hostnames,
    ingress_problems,
    normalise_access,
    normalise_ingress,
)

DOCUMENTATION = r"""
name: cloudflared_plan
author: antone.infra developers
version_added: "0.1.0"
short_description: The cloudflared role's settings checked, and the tunnel plan it publishes
description:
  - Returns C(problems) (one message per mistake, naming the variable; empty when the settings make a
    tunnel) and the plan. The role's preflight asserts that C(problems) is empty before anything changes.
  - "Modes: C(api) registers the tunnel through Cloudflare's API (account id, API token and zone needed);
    C(token) runs a tunnel whose token is in the vault; C(local) is seed 000's locally managed form
    (config.yml with the ingress rules and a credentials file); C(none) runs no tunnel."
  - A catch-all rule (C(http_status:404)) is appended to the ingress rules when the last one has a
    hostname or a path. Hostnames outside the zone, services with an unknown scheme and a catch-all
    that is not last are problems, as are Access entries for hostnames that no rule serves.
  - Secret values are checked for their shape (a tunnel token is base64 of JSON with a, t and s; a
    credentials file has AccountTag, TunnelID and TunnelSecret) and never returned.
options:
  _input:
    description: >-
      The settings: mode, tunnel_name, account_id, api_token, zone, ingress, access, dns, token,
      credentials, image, metrics_port.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the tunnel
  ansible.builtin.set_fact:
    __cloudflared_plan: >-
      {{ {'mode': 'api', 'tunnel_name': 'antone-web1', 'account_id': cloudflared_account_id,
          'api_token': cloudflared_api_token, 'zone': 'example.com',
          'ingress': [{'hostname': 'app.example.com', 'service': 'http://dashboard:3000'}]}
         | antone.infra.cloudflared_plan }}
  no_log: true
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems: {description: what is wrong, one message each, type: list}
    mode: {description: api, token, local or none, type: str}
    tunnel_name: {description: the tunnel's name, type: str}
    tunnel_id: {description: "the tunnel's id when the settings tell it (token or credentials), else ''", type: str}
    ingress: {description: the ingress rules as sent, catch-all included, type: list}
    hostnames: {description: the distinct ingress hostnames, type: list}
    access: {description: "the Access entries (hostname, emails, session_duration)", type: list}
    local_config: {description: "config.yml for the locally managed form ({} in other modes)", type: dict}
"""

MODES = ("api", "token", "local", "none")
CREDENTIALS_KEYS = ("AccountTag", "TunnelID", "TunnelSecret")
CREDENTIALS_PATH = "/run/secrets/cloudflare_tunnel_credentials"
TOKEN_FILE_SINCE = (2025, 4)  # cloudflared's `tunnel run --token-file`
TUNNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def token_fields(token: str) -> dict[str, Any] | None:
    """The fields of a tunnel token (base64 of {"a": account, "t": tunnel id, "s": secret}), or None."""
    try:
        fields = json.loads(base64.b64decode(token.strip() + "=" * (-len(token.strip()) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(fields, dict) or not all(isinstance(fields.get(key), str) and fields[key] for key in "ats"):
        return None
    return fields


def image_version(image: str) -> tuple[int, int] | None:
    """(year, month) of a cloudflared image tagged YYYY.M.P, or None for any other tag or a digest."""
    match = re.search(r":(\d{4})\.(\d{1,2})\.\d+(@.*)?$", image)
    return (int(match.group(1)), int(match.group(2))) if match else None


def image_problems(image: str, mode: str) -> list[str]:
    if mode == "none":
        return []
    if not image or image.endswith(":latest") or (":" not in image.rsplit("/", 1)[-1] and "@" not in image):
        return [f"stack_cloudflared_image {image!r} is not pinned: name a version (cloudflare/cloudflared:2025.11.1)"]
    version = image_version(image)
    if version is not None and version < TOKEN_FILE_SINCE:
        return [f"stack_cloudflared_image {image!r} is older than 2025.4, which cloudflared needs to read its "
                "token from a file (--token-file)"]
    return []


def credentials_problems(credentials: Any) -> list[str]:
    if not isinstance(credentials, dict):
        return ["cloudflared_credentials must be the JSON object `cloudflared tunnel create` wrote (a mapping)"]
    missing = [key for key in CREDENTIALS_KEYS if not credentials.get(key)]
    if missing:
        return [f"cloudflared_credentials lacks {', '.join(missing)} (it is the file `cloudflared tunnel create` "
                "wrote, from the vault)"]
    return []


def mode_problems(settings: dict[str, Any], mode: str) -> list[str]:
    """What the chosen mode needs and lacks."""
    problems = []
    if mode == "api":
        for key in ("account_id", "api_token"):
            if not settings.get(key):
                problems.append(f"cloudflared_mode api needs cloudflared_{key}"
                                + (" (from the vault)" if key == "api_token" else ""))
        if not settings.get("zone"):
            problems.append("cloudflared_mode api needs cloudflared_zone, the zone the hostnames live in")
        if not TUNNEL_NAME.match(str(settings.get("tunnel_name") or "")):
            problems.append("cloudflared_tunnel_name must be 1 to 63 letters, digits, '.', '_' and '-'")
    elif mode == "token":
        if not settings.get("token"):
            problems.append("cloudflared_mode token needs cloudflared_token (from the vault)")
        elif token_fields(str(settings["token"])) is None:
            problems.append("cloudflared_token is not a tunnel token (base64 of a JSON object with a, t and s); "
                            "copy it again from the dashboard or `cloudflared tunnel token`")
    elif mode == "local":
        problems += credentials_problems(settings.get("credentials"))
    return problems


def cloudflared_plan(settings: dict[str, Any]) -> dict[str, Any]:
    """The checked settings and what the role publishes; see DOCUMENTATION."""
    mode = str(settings.get("mode") or "none")
    if mode not in MODES:
        return {"problems": [f"cloudflared_mode must be one of {', '.join(MODES)}, not {mode!r}"], "mode": mode}
    raw_ingress = settings.get("ingress") or []
    raw_access = settings.get("access") or []
    if not isinstance(raw_ingress, list) or not all(isinstance(rule, dict) for rule in raw_ingress):
        return {"problems": ["cloudflared_ingress must be a list of rules (hostname, service, path)"], "mode": mode}
    if not isinstance(raw_access, list) or not all(isinstance(entry, dict) for entry in raw_access):
        return {"problems": ["cloudflared_access must be a list of {hostname, emails}"], "mode": mode}
    ingress = normalise_ingress(raw_ingress)
    hostnames = ingress_hostnames(ingress)
    problems = mode_problems(settings, mode)
    if mode in ("api", "local"):
        if not hostnames:
            problems.append(f"cloudflared_mode {mode} needs cloudflared_ingress: at least one rule with a hostname")
        problems += [f"cloudflared_ingress: {p}" for p in ingress_problems(ingress, settings.get("zone") or None)]
    if raw_access and mode != "api":
        problems.append("cloudflared_access needs cloudflared_mode api (Access applications are made through the API)")
    elif raw_access:
        problems += [f"cloudflared_access: {p}" for p in access_problems(raw_access, hostnames)]
    problems += image_problems(str(settings.get("image") or ""), mode)

    tunnel_id = ""
    if mode == "token" and not problems:
        tunnel_id = str((token_fields(str(settings["token"])) or {}).get("t", ""))
    local_config: dict[str, Any] = {}
    if mode == "local" and not problems:
        tunnel_id = str(settings["credentials"]["TunnelID"])
        local_config = {"tunnel": tunnel_id, "credentials-file": CREDENTIALS_PATH, "ingress": ingress}
    return {
        "problems": problems,
        "mode": mode,
        "tunnel_name": str(settings.get("tunnel_name") or ""),
        "tunnel_id": tunnel_id,
        "ingress": ingress if mode in ("api", "local") else [],
        "hostnames": hostnames if mode in ("api", "local") else [],
        "access": normalise_access(raw_access) if mode == "api" else [],
        "local_config": local_config,
    }


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"cloudflared_plan": ansible_filter("cloudflared_plan", cloudflared_plan)}
