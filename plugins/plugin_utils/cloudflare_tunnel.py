"""antone.infra.cloudflare_tunnel's work: a remotely managed Cloudflare Tunnel, its ingress, DNS and Access.

Runs on the controller, in the task's own worker (plugins/action/cloudflare_tunnel.py): no module
process is started, and the API token never reaches a managed host. Requests go through Python's urllib
(proxies from the environment, certificates verified), so the controller needs no extra Python package. The pure functions (dns_plan, access_plan,
envelope_errors, ...) hold the decisions; ensure_present and ensure_absent read, compare and write through
a Client; run_tunnel checks the task's arguments first and returns the task's result.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
from http.client import HTTPException
from typing import Any
from urllib.parse import quote, urlencode

from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, OpenerDirector, Request, build_opener

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

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
    if re.search(r"[\s\x00-\x1f\x7f]", params.get("api_token") or ""):
        problems.append("api_token holds a space, a line break or another control character (a vault block scalar's "
                        "last line break?): give the token alone")
    if not re.match(r"^https?://[^/\s]+", params.get("api_url") or ""):
        problems.append(f"api_url must be an http(s) URL such as {argument_spec()['api_url']['default']}")
    if params["state"] == "present":
        problems += ingress_problems(rules, params.get("zone"))
        if params["dns"] and ingress_hostnames(rules) and not (params.get("zone") or params.get("zone_id")):
            problems.append("dns=true needs zone or zone_id")
        problems += access_problems(params.get("access") or [], ingress_hostnames(rules))
    return problems


# ---------------------------------------------------------------------------------------------------- the API

def api_opener(api_url: str) -> OpenerDirector:
    """urllib's opener (proxies from the environment), with one verifying TLS context for an https API: made
    once per call of the module, not per request (loading the CA store takes tens of milliseconds)."""
    if api_url.lower().startswith("https:"):
        return build_opener(HTTPSHandler(context=ssl.create_default_context()))
    return build_opener()


class Client:
    """Cloudflare's v4 API: envelopes in, CloudflareError out."""

    def __init__(self, api_url: str, api_token: str, opener: OpenerDirector | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.opener = opener or api_opener(self.api_url)
        self.headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json",
                        "Accept": "application/json", "User-Agent": "antone.infra.cloudflare_tunnel"}

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
             ) -> dict[str, Any]:
        url = self.api_url + path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        try:
            with self.opener.open(Request(url, data=data, headers=self.headers, method=method), timeout=30) as response:
                status, text = response.status, response.read()
        except HTTPError as error:  # an API error: Cloudflare's envelope is in the body
            status, text = error.code, error.read()
        except (URLError, OSError, HTTPException, ValueError) as error:  # no answer, or no HTTP answer
            raise CloudflareError(f"Cloudflare API {method} {path}: {getattr(error, 'reason', error)}") from None
        try:
            envelope = json.loads(text) if text else None
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and envelope.get("success") is True:
            return envelope
        raise CloudflareError(f"Cloudflare API {method} {path}: {envelope_errors(envelope)} (HTTP {status})")

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

def ensure_present(params: dict[str, Any], check: bool, client: Client, rules: list[dict[str, Any]]
                   ) -> dict[str, Any]:
    """The tunnel, its ingress, DNS records and Access applications brought to params (only reported when check)."""
    hostnames = ingress_hostnames(rules)
    zone, found = None, {}
    if params["dns"] and hostnames:  # every refusal comes before the first change
        zone = zone_of(client, params)
        problems = ingress_problems(rules, zone.get("name"))
        if not problems:
            found = records_by_name(client, zone["id"], hostnames)
            problems = dns_plan(hostnames, found, tunnel_target(None))[1]
        if problems:
            raise CloudflareError("; ".join(problems))
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


def ensure_absent(params: dict[str, Any], check: bool, client: Client) -> dict[str, Any]:
    """The tunnel, the CNAMEs that point at it and its Access applications deleted (only reported when check)."""
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


def masked(text: str, secret: str) -> str:
    """text with secret, should it hold it, replaced by ********."""
    return text.replace(secret, "********") if secret else text


def argument_errors(args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the validated parameters, what is wrong with the arguments), worded as a module's would be."""
    validation = ArgumentSpecValidator(argument_spec()).validate(args)
    errors = [f"Unsupported parameters for (antone.infra.cloudflare_tunnel) module: {error}"
              if isinstance(error, UnsupportedError) else str(error) for error in validation.errors]
    return validation.validated_parameters, errors


def run_tunnel(args: dict[str, Any], check: bool, diff: bool, no_log: bool) -> dict[str, Any]:
    """The task's result for its arguments: every refusal comes before the first request, and an API
    failure ends it with Cloudflare's codes and messages (failed, msg), never with the API token."""
    token = str(args.get("api_token") or "")
    params, errors = argument_errors(args)
    if errors:
        return {"failed": True, "msg": masked("; ".join(errors), token)}
    rules = normalise_ingress(params["ingress"]) if params["state"] == "present" else []
    problems = input_problems(params, rules)
    if params["return_token"] and not no_log:
        problems.append("return_token=true needs no_log: true on the task, so that the token is never printed")
    if problems:
        return {"failed": True, "msg": masked("; ".join(problems), token)}
    client = Client(params["api_url"], params["api_token"])
    try:
        if params["state"] == "present":
            result = ensure_present(params, check, client, rules)
        else:
            result = ensure_absent(params, check, client)
    except CloudflareError as error:
        return {"failed": True, "msg": masked(str(error), token)}
    if not diff:
        result.pop("diff", None)
    return result
