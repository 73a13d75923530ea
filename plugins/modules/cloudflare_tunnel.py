"""The antone.infra.cloudflare_tunnel module: a remotely managed Cloudflare Tunnel, its ingress and its DNS.

Everything goes through Cloudflare's v4 API with what ansible-core ships (fetch_url), so the controller
needs no extra Python package. The pure functions (normalise_ingress, ingress_problems, dns_plan,
envelope_errors, ...) hold the decisions; main() only fetches, compares and writes.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_tunnel
author: antone.infra developers (@antone)
version_added: "0.1.0"
short_description: A remotely managed Cloudflare Tunnel, its ingress rules and its DNS records
description:
  - Finds the Cloudflare Tunnel named O(name) in the account (deleted tunnels are ignored, every page of
    the listing is read), creates it with C(config_src=cloudflare) when it is missing, puts its ingress
    rules when they differ from O(ingress), and reads its connector token.
  - With O(dns=true), each ingress hostname gets a proxied CNAME to C(<tunnel id>.cfargotunnel.com);
    a CNAME that points elsewhere or is not proxied is corrected. A record of another type (A, AAAA, ...)
    on the hostname is never touched; the module fails and names it.
  - O(state=absent) deletes the tunnel (after cleaning up its connections) and the CNAMEs in the zone
    that point at it.
  - The input is checked before any request is made. Hostnames outside the zone, services with an
    unknown scheme, and a catch-all rule that is not last are refused.
  - "An API failure ends the task with Cloudflare's codes and messages, for example
    C(Cloudflare API GET /accounts/.../cfd_tunnel: 10000 Authentication error); the API token never
    appears in the output."
  - Uses only ansible-core (C(fetch_url)); no Python package is needed on the host that runs it
    (normally C(localhost)).
options:
  api_url:
    description: The base of Cloudflare's v4 API (a test stand-in may be given here).
    type: str
    default: https://api.cloudflare.com/client/v4
  api_token:
    description:
      - An API token with Account > Cloudflare Tunnel > Edit and, for O(dns=true), Zone > DNS > Edit.
    type: str
    required: true
  account_id:
    description: The account that owns the tunnel.
    type: str
    required: true
  zone:
    description:
      - The zone's name (C(example.com)). Needed for O(dns=true) unless O(zone_id) is given; with it,
        hostnames outside the zone are refused before any request.
    type: str
  zone_id:
    description:
      - The zone's id, which saves the zone lookup. With O(zone_id) only, the hostnames are checked
        against the zone's name once the zone has been read, still before any change.
    type: str
  name:
    description: The tunnel's name, unique among the account's tunnels that are not deleted.
    type: str
    required: true
  ingress:
    description:
      - The ingress rules, in order (the first match wins). A catch-all C({service = http_status:404})
        is appended when the last rule has a hostname or a path.
      - Allowed services are C(http://), C(https://), C(tcp://), C(ssh://), C(rdp://), C(smb://),
        C(unix:), C(unix+tls:), C(http_status:NNN), C(hello_world) and C(bastion).
    type: list
    elements: dict
    default: []
    suboptions:
      hostname:
        description: The public hostname, inside the zone (C(*.example.com) is allowed).
        type: str
      service:
        description: Where cloudflared sends the traffic, for example C(http://dashboard:3000).
        type: str
        required: true
      path:
        description: A regular expression the request path must match.
        type: str
      originRequest:
        description: cloudflared's origin settings for this rule (for example C(noTLSVerify)).
        type: dict
  dns:
    description:
      - Manage a proxied CNAME C(<hostname> -> <tunnel id>.cfargotunnel.com) for each ingress hostname
        (wildcard hostnames included).
    type: bool
    default: true
  access:
    description:
      - Cloudflare Access in front of ingress hostnames, so that only the listed people get through (for
        example the dashboard). Each entry becomes a self-hosted Access application for the hostname, named
        C(<name> <hostname>), with one policy, C(allow listed emails), that includes exactly these addresses.
      - Applications named C(<name> ...) whose hostname is no longer listed are deleted; applications
        made by anyone else are never touched. The API token then also needs Account > Access (Apps and
        Policies) > Edit.
    type: list
    elements: dict
    default: []
    suboptions:
      hostname:
        description: An ingress hostname.
        type: str
        required: true
      emails:
        description: The email addresses allowed in (compared without regard to case or order).
        type: list
        elements: str
        required: true
      session_duration:
        description: How long a login lasts (a Go duration such as C(24h) or C(30m)).
        type: str
        default: 24h
  state:
    description: >-
      C(present) makes the tunnel match; C(absent) deletes it, the CNAMEs that point at it and its
      Access applications.
    type: str
    choices: [present, absent]
    default: present
  return_token:
    description:
      - Return the connector token (RV(token)), which C(cloudflared tunnel run --token) needs.
      - The task must then have C(no_log=true), or the module fails before any request. A module cannot
        hide one key of its result (Ansible strips C(_ansible_no_log) from what a module returns, and a
        value in the module's no_log values would come back masked, useless to the caller), so the
        task's no_log does it. Ansible shows that the result was hidden, at any verbosity, while
        C(register) still receives the token. Keep such a task apart from the one whose diff you want.
    type: bool
    default: false
  known_token_sha256:
    description:
      - The SHA-256 (hex) of the token the connector currently uses. When given, RV(token_changed) says
        whether Cloudflare's token differs from it (after a rotation, for example).
    type: str
notes:
  - Check mode computes and reports the changes without making any; diff mode shows the ingress rules and
    the DNS records before and after.
  - RV(connections) lists the tunnel's current connections (client id, origin IP, colo); the module does not
    judge them. A caller that expects one connector can fail when a foreign origin IP shows up.
  - Tunnel listings are read with C(per_page=50) until C(result_info.total_pages); DNS listings likewise.
"""

EXAMPLES = r"""
- name: Register the tunnel, its ingress and its DNS records
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-prod
    ingress:
      - hostname: app.example.com
        service: http://dashboard:3000
      - hostname: api.example.com
        service: http://backend-api:8000
        originRequest:
          connectTimeout: 10s
    access:
      - hostname: app.example.com
        emails: [owner@example.com]
  register: cloudflare_tunnel

- name: Fetch the connector token (the task's output is hidden; the registered value holds it)
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-prod
    ingress: "{{ cloudflare_ingress }}"
    return_token: true
  register: cloudflare_tunnel_token
  no_log: true

- name: Remove the tunnel and its CNAMEs
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-old
    state: absent
"""

RETURN = r"""
tunnel_id:
  description: The tunnel's id (none when it does not exist, or would only be created in check mode).
  type: str
  returned: always
tunnel_name:
  description: The tunnel's name.
  type: str
  returned: always
created:
  description: Whether the tunnel was (or, in check mode, would be) created.
  type: bool
  returned: always
deleted:
  description: Whether the tunnel was (or would be) deleted.
  type: bool
  returned: always
ingress:
  description: The ingress rules as the module wants them, catch-all included (empty for O(state=absent)).
  type: list
  elements: dict
  returned: always
dns_records:
  description: >-
    What happened to each DNS record (name, type, content, proxied, id and action
    (C(none), C(create), C(update) or C(delete))).
  type: list
  elements: dict
  returned: always
access_apps:
  description: >-
    What happened to each Access application (hostname, id, emails, session_duration and action
    (C(none), C(create), C(update) or C(delete))).
  type: list
  elements: dict
  returned: always
connections:
  description: The tunnel's connections, each with client_id, origin_ip, colo_name, opened_at, client_version.
  type: list
  elements: dict
  returned: always
token:
  description: The connector token (the task must have C(no_log=true)).
  type: str
  returned: when O(return_token=true) and the tunnel exists
token_sha256:
  description: The SHA-256 (hex) of the connector token, to notice a rotation without handling the token.
  type: str
  returned: when O(state=present) and the tunnel exists
token_changed:
  description: Whether the token differs from O(known_token_sha256).
  type: bool
  returned: when O(known_token_sha256) is given and the tunnel exists
"""

import hashlib
import json
from typing import Any
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.antone.infra.plugins.module_utils.cloudflare_ingress import (
    access_problems,
    ingress_hostnames,
    ingress_problems,
    normalise_access,
    normalise_ingress,
    normalise_rule,
)


TUNNEL_DOMAIN = "cfargotunnel.com"
ACCESS_POLICY = "allow listed emails"
PER_PAGE = 50


class CloudflareError(Exception):
    """A failed API call, its text made of Cloudflare's codes and messages."""


# ---------------------------------------------------------------------------------------------------- pure parts

def envelope_errors(envelope: Any) -> str:
    """'10000 Authentication error; 1013 ...' from an envelope's errors (or what there is instead)."""
    if not isinstance(envelope, dict):
        return "no Cloudflare envelope in the answer"
    errors = envelope.get("errors") or []
    parts = []
    for error in errors:
        if isinstance(error, dict):
            parts.append(f"{error.get('code', '?')} {error.get('message', '')}".strip())
        else:
            parts.append(str(error))
    return "; ".join(parts) or "the answer says success=false and gives no error"


def tunnel_target(tunnel_id: str | None) -> str:
    return f"{tunnel_id or '<new tunnel id>'}.{TUNNEL_DOMAIN}"


def record_view(record: dict[str, Any], action: str) -> dict[str, Any]:
    return {"name": record.get("name"), "type": record.get("type"), "content": record.get("content"),
            "proxied": record.get("proxied"), "id": record.get("id"), "action": action}


def dns_plan(hostnames: list[str], records: dict[str, list[dict[str, Any]]], target: str
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """(actions, problems): what to do about each hostname's records, given every record that has its name.

    A missing name gets a proxied CNAME; a CNAME pointing elsewhere or unproxied is updated; a name held
    by a record of another type is a problem, never overwritten."""
    actions, problems = [], []
    for hostname in hostnames:
        found = records.get(hostname, [])
        cnames = [record for record in found if record.get("type") == "CNAME"]
        others = [record for record in found if record.get("type") != "CNAME"]
        if others:
            kinds = ", ".join(sorted({f"{record.get('type')} {record.get('content')}" for record in others}))
            problems.append(f"{hostname} already has a DNS record ({kinds}); remove it first, the module will not")
            continue
        wanted = {"type": "CNAME", "name": hostname, "content": target, "proxied": True}
        if not cnames:
            actions.append(record_view(wanted, "create"))
        elif cnames[0].get("content") == target and cnames[0].get("proxied") is True:
            actions.append(record_view(cnames[0], "none"))
        else:
            actions.append(record_view(dict(wanted, id=cnames[0].get("id")), "update"))
    return actions, problems


def access_app_name(tunnel_name: str, hostname: str) -> str:
    return f"{tunnel_name} {hostname}"


def policy_emails(policy: dict[str, Any]) -> list[str]:
    """The addresses of a policy's include rules of the form {"email": {"email": ...}}."""
    return sorted({str(rule["email"].get("email", "")).lower() for rule in policy.get("include") or []
                   if isinstance(rule, dict) and isinstance(rule.get("email"), dict)})


def policy_body(emails: list[str]) -> dict[str, Any]:
    return {"name": ACCESS_POLICY, "decision": "allow", "precedence": 1,
            "include": [{"email": {"email": email}} for email in emails], "exclude": [], "require": []}


def policy_matches(policy: dict[str, Any], emails: list[str]) -> bool:
    """Whether an existing policy lets exactly these addresses in, and nothing else."""
    only_emails = all(isinstance(rule, dict) and set(rule) == {"email"} for rule in policy.get("include") or [])
    return (policy.get("decision") == "allow" and only_emails and policy_emails(policy) == emails
            and not policy.get("exclude") and not policy.get("require"))


def access_plan(wanted: list[dict[str, Any]], apps: list[dict[str, Any]], policies: dict[str, list[dict[str, Any]]],
                tunnel_name: str) -> list[dict[str, Any]]:
    """What to do about each Access application: wanted entries against the account's applications
    (by domain) and their policies (by application id). Ours are those named '<tunnel name> ...'."""
    by_domain = {str(app.get("domain", "")).lower(): app for app in apps}
    actions = []
    for entry in wanted:
        app = by_domain.get(entry["hostname"])
        view = dict(entry, id=app.get("id") if app else None, action="none")
        if app is None:
            view["action"] = "create"
        else:
            ours = [p for p in policies.get(app["id"], []) if p.get("name") == ACCESS_POLICY]
            others = [p for p in policies.get(app["id"], []) if p.get("name") != ACCESS_POLICY]
            same_app = (app.get("name") == access_app_name(tunnel_name, entry["hostname"])
                        and app.get("session_duration") == entry["session_duration"])
            if not same_app or others or len(ours) != 1 or not policy_matches(ours[0], entry["emails"]):
                view["action"] = "update"
        actions.append(view)
    prefix = f"{tunnel_name} "
    for app in apps:
        domain = str(app.get("domain", "")).lower()
        if str(app.get("name", "")).startswith(prefix) and domain not in {entry["hostname"] for entry in wanted}:
            actions.append({"hostname": domain, "id": app.get("id"), "emails": [],
                            "session_duration": app.get("session_duration"), "action": "delete"})
    return actions


def connection_views(tunnel: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("client_id", "origin_ip", "colo_name", "opened_at", "client_version")
    return [{key: connection.get(key) for key in keys} for connection in tunnel.get("connections") or []]


def find_tunnel(tunnels: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The live tunnel called name among a listing (a deleted one has deleted_at set)."""
    live = [tunnel for tunnel in tunnels if tunnel.get("name") == name and not tunnel.get("deleted_at")]
    return live[0] if live else None


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def input_problems(params: dict[str, Any], rules: list[dict[str, Any]]) -> list[str]:
    """Everything wrong with the parameters, found without a request."""
    problems = []
    for key in ("account_id", "api_token", "name"):
        if not params.get(key):
            problems.append(f"{key} is empty")
    if params["state"] == "present":
        problems += ingress_problems(rules, params.get("zone"))
        if params["dns"] and ingress_hostnames(rules) and not (params.get("zone") or params.get("zone_id")):
            problems.append("dns=true needs zone or zone_id")
        problems += access_problems(params.get("access") or [], ingress_hostnames(rules))
    return problems


# ---------------------------------------------------------------------------------------------------- the API

class Client:
    """Cloudflare's v4 API through fetch_url: envelopes in, CloudflareError out."""

    def __init__(self, module: AnsibleModule, api_url: str, api_token: str) -> None:
        self.module = module
        self.api_url = api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
             ) -> dict[str, Any]:
        url = self.api_url + path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body) if body is not None else None
        response, info = fetch_url(self.module, url, data=data, headers=self.headers, method=method, timeout=30)
        # on an HTTP error fetch_url has read the answer into info["body"] already
        text = info["body"] if "body" in info else (response.read() if response else b"")
        try:
            envelope = json.loads(text) if text else None
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and envelope.get("success") is True:
            return envelope
        if envelope is None and info.get("status", -1) < 0:
            reason = info.get("msg", "no answer")
        else:
            reason = f"{envelope_errors(envelope)} (HTTP {info.get('status')})"
        raise CloudflareError(f"Cloudflare API {method} {path}: {reason}")

    def result(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        return self.call(method, path, query, body).get("result")

    def every_page(self, path: str, query: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a listing, page by page until result_info.total_pages."""
        items: list[Any] = []
        page = 1
        while True:
            envelope = self.call("GET", path, dict(query or {}, page=page, per_page=PER_PAGE))
            items += envelope.get("result") or []
            info = envelope.get("result_info") or {}
            if page >= int(info.get("total_pages") or 1) or not envelope.get("result"):
                return items
            page += 1


def account_path(account_id: str, *rest: str) -> str:
    return "/".join([f"/accounts/{quote(account_id, safe='')}/cfd_tunnel", *(quote(part, safe="") for part in rest)])


def access_path(account_id: str, *rest: str) -> str:
    return "/".join([f"/accounts/{quote(account_id, safe='')}/access/apps", *(quote(part, safe="") for part in rest)])


def read_access(client: Client, account_id: str, tunnel_name: str, hostnames: list[str]
                ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The applications that matter (ours by name, or on a wanted hostname) and their policies."""
    prefix = f"{tunnel_name} "
    apps = [app for app in client.every_page(access_path(account_id))
            if str(app.get("name", "")).startswith(prefix) or str(app.get("domain", "")).lower() in hostnames]
    policies = {app["id"]: client.every_page(access_path(account_id, app["id"], "policies")) for app in apps}
    return apps, policies


def apply_access(client: Client, account_id: str, tunnel_name: str, actions: list[dict[str, Any]],
                 policies: dict[str, list[dict[str, Any]]]) -> None:
    for action in actions:
        if action["action"] == "delete":
            client.result("DELETE", access_path(account_id, action["id"]))
            continue
        if action["action"] == "none":
            continue
        body = {"name": access_app_name(tunnel_name, action["hostname"]), "domain": action["hostname"],
                "type": "self_hosted", "session_duration": action["session_duration"]}
        if action["action"] == "create":
            action["id"] = client.result("POST", access_path(account_id), body=body)["id"]
        else:
            client.result("PUT", access_path(account_id, action["id"]), body=body)
        existing = policies.get(action["id"], [])
        ours = [p for p in existing if p.get("name") == ACCESS_POLICY]
        for policy in [p for p in existing if p not in ours[:1]]:
            client.result("DELETE", access_path(account_id, action["id"], "policies", policy["id"]))
        if ours:
            client.result("PUT", access_path(account_id, action["id"], "policies", ours[0]["id"]),
                          body=policy_body(action["emails"]))
        else:
            client.result("POST", access_path(account_id, action["id"], "policies"), body=policy_body(action["emails"]))


def access_views(apps: list[dict[str, Any]], policies: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The applications as the diff shows them."""
    return [{"hostname": str(app.get("domain", "")).lower(), "name": app.get("name"),
             "session_duration": app.get("session_duration"),
             "policies": [{"name": p.get("name"), "decision": p.get("decision"), "emails": policy_emails(p)}
                          for p in policies.get(app.get("id"), [])]} for app in apps]


def zone_of(client: Client, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("zone_id"):
        return client.result("GET", f"/zones/{quote(params['zone_id'], safe='')}")
    zones = client.every_page("/zones", {"name": params["zone"]})
    if not zones:
        raise CloudflareError(f"Cloudflare has no zone {params['zone']} that this API token can see")
    return zones[0]


def records_by_name(client: Client, zone_id: str, hostnames: list[str]) -> dict[str, list[dict[str, Any]]]:
    path = f"/zones/{quote(zone_id, safe='')}/dns_records"
    return {hostname: client.every_page(path, {"name": hostname}) for hostname in hostnames}


def apply_dns(client: Client, zone_id: str, actions: list[dict[str, Any]], target: str) -> None:
    path = f"/zones/{quote(zone_id, safe='')}/dns_records"
    for action in actions:
        body = {"type": "CNAME", "name": action["name"], "content": target, "proxied": True, "ttl": 1,
                "comment": "managed by antone.infra.cloudflare_tunnel"}
        if action["action"] == "create":
            action["id"] = client.result("POST", path, body=body)["id"]
        elif action["action"] == "update":
            client.result("PATCH", f"{path}/{quote(action['id'], safe='')}", body=body)
        action["content"], action["proxied"] = target, True


# ---------------------------------------------------------------------------------------------------- the states

def ensure_present(module: AnsibleModule, client: Client, rules: list[dict[str, Any]]) -> dict[str, Any]:
    params, check = module.params, module.check_mode
    hostnames = ingress_hostnames(rules)
    zone, found = None, {}
    if params["dns"] and hostnames:  # every refusal comes before the first change
        zone = zone_of(client, params)
        problems = ingress_problems(rules, zone.get("name"))
        if not problems:
            found = records_by_name(client, zone["id"], hostnames)
            problems = dns_plan(hostnames, found, tunnel_target(None))[1]
        if problems:
            module.fail_json(msg="; ".join(problems))
    tunnel = find_tunnel(client.every_page(account_path(params["account_id"]),
                                           {"name": params["name"], "is_deleted": "false"}), params["name"])
    result: dict[str, Any] = {"changed": False, "created": tunnel is None, "deleted": False,
                              "tunnel_name": params["name"], "ingress": rules, "connections": []}
    if tunnel is None and not check:
        tunnel = client.result("POST", account_path(params["account_id"]),
                               body={"name": params["name"], "config_src": "cloudflare"})
    tunnel_id = tunnel.get("id") if tunnel else None
    result.update(changed=result["created"], tunnel_id=tunnel_id,
                  connections=connection_views(tunnel) if tunnel else [])

    remote_config: dict[str, Any] = {}
    if tunnel_id:
        configuration = client.result("GET", account_path(params["account_id"], tunnel_id, "configurations"))
        remote_config = (configuration or {}).get("config") or {}
    before_ingress = [normalise_rule(rule) for rule in remote_config.get("ingress") or []]
    if before_ingress != rules:
        result["changed"] = True
        if not check:
            client.result("PUT", account_path(params["account_id"], tunnel_id, "configurations"),
                          body={"config": dict(remote_config, ingress=rules)})

    target = tunnel_target(tunnel_id)
    actions: list[dict[str, Any]] = []
    before_dns: list[dict[str, Any]] = []
    if zone is not None:
        before_dns = [record_view(record, "none") for name in hostnames for record in found[name]]
        actions = dns_plan(hostnames, found, target)[0]
        if any(action["action"] != "none" for action in actions):
            result["changed"] = True
            if not check:
                apply_dns(client, zone["id"], actions, target)
    result["dns_records"] = actions

    wanted_access = normalise_access(params.get("access"))
    apps, policies = read_access(client, params["account_id"], params["name"],
                                 [entry["hostname"] for entry in wanted_access])
    access_actions = access_plan(wanted_access, apps, policies, params["name"])
    if any(action["action"] != "none" for action in access_actions):
        result["changed"] = True
        if not check:
            apply_access(client, params["account_id"], params["name"], access_actions, policies)
    result["access_apps"] = access_actions

    if tunnel_id:
        token = client.result("GET", account_path(params["account_id"], tunnel_id, "token"))
        result["token_sha256"] = token_sha256(token)
        if params.get("known_token_sha256"):
            result["token_changed"] = result["token_sha256"] != params["known_token_sha256"].lower()
        if params["return_token"]:
            result["token"] = token
    result["diff"] = {
        "before": {"ingress": before_ingress, "dns_records": before_dns, "access": access_views(apps, policies)},
        "after": {"ingress": rules, "dns_records": [dict(a, action="none") for a in actions],
                  "access": [{"hostname": a["hostname"], "name": access_app_name(params["name"], a["hostname"]),
                              "session_duration": a["session_duration"],
                              "policies": [{"name": ACCESS_POLICY, "decision": "allow", "emails": a["emails"]}]}
                             for a in access_actions if a["action"] != "delete"]},
    }
    return result


def ensure_absent(module: AnsibleModule, client: Client) -> dict[str, Any]:
    params, check = module.params, module.check_mode
    tunnel = find_tunnel(client.every_page(account_path(params["account_id"]),
                                           {"name": params["name"], "is_deleted": "false"}), params["name"])
    result: dict[str, Any] = {"changed": tunnel is not None, "created": False, "deleted": tunnel is not None,
                              "tunnel_name": params["name"], "tunnel_id": tunnel and tunnel.get("id"),
                              "ingress": [], "dns_records": [], "access_apps": [],
                              "connections": connection_views(tunnel) if tunnel else []}
    apps, policies = read_access(client, params["account_id"], params["name"], [])
    result["access_apps"] = access_plan([], apps, policies, params["name"])
    if result["access_apps"]:
        result["changed"] = True
        if not check:
            apply_access(client, params["account_id"], params["name"], result["access_apps"], policies)
    if tunnel is None:
        return result
    if params.get("zone") or params.get("zone_id"):
        zone = zone_of(client, params)
        path = f"/zones/{quote(zone['id'], safe='')}/dns_records"
        records = client.every_page(path, {"type": "CNAME", "content": tunnel_target(tunnel["id"])})
        result["dns_records"] = [record_view(record, "delete") for record in records]
        if not check:
            for record in records:
                client.result("DELETE", f"{path}/{quote(record['id'], safe='')}")
    if not check:
        if tunnel.get("connections"):
            client.result("DELETE", account_path(params["account_id"], tunnel["id"], "connections"))
        client.result("DELETE", account_path(params["account_id"], tunnel["id"]))
    result["diff"] = {"before": {"tunnel": tunnel["id"], "dns_records": result["dns_records"]},
                      "after": {"tunnel": None, "dns_records": []}}
    return result


def argument_spec() -> dict[str, Any]:
    rule = {"hostname": {"type": "str"}, "service": {"type": "str", "required": True},
            "path": {"type": "str"}, "originRequest": {"type": "dict"}}
    return {
        "api_url": {"type": "str", "default": "https://api.cloudflare.com/client/v4"},
        "api_token": {"type": "str", "required": True, "no_log": True},
        "account_id": {"type": "str", "required": True},
        "zone": {"type": "str"},
        "zone_id": {"type": "str"},
        "name": {"type": "str", "required": True},
        "ingress": {"type": "list", "elements": "dict", "default": [], "options": rule},
        "access": {"type": "list", "elements": "dict", "default": [], "options": {
            "hostname": {"type": "str", "required": True},
            "emails": {"type": "list", "elements": "str", "required": True},
            "session_duration": {"type": "str", "default": "24h"}}},
        "dns": {"type": "bool", "default": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "return_token": {"type": "bool", "default": False, "no_log": False},
        "known_token_sha256": {"type": "str", "no_log": False},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    rules = normalise_ingress(params["ingress"]) if params["state"] == "present" else []
    problems = input_problems(params, rules)
    if params["return_token"] and not module.no_log:
        problems.append("return_token=true needs no_log: true on the task, so that the token is never printed")
    if problems:
        module.fail_json(msg="; ".join(problems))
    client = Client(module, params["api_url"], params["api_token"])
    try:
        if params["state"] == "present":
            result = ensure_present(module, client, rules)
        else:
            result = ensure_absent(module, client)
    except CloudflareError as error:
        module.fail_json(msg=str(error))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
