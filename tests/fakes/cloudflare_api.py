#!/usr/bin/env python3
"""A stand-in for Cloudflare's v4 API, enough for antone.infra.cloudflare_tunnel: standard library only.

Answers as the real API does, in its envelope {"success", "errors", "messages", "result", "result_info"}:
  GET  /zones?name=                                   GET /zones/{zone_id}
  GET|POST /zones/{zone_id}/dns_records (filters: name, type, content; page, per_page, default 100)
  GET|PUT|PATCH|DELETE /zones/{zone_id}/dns_records/{id}   (81053 when a CNAME would share a name)
  GET|POST /accounts/{a}/cfd_tunnel (filters: name, is_deleted; page, per_page, default 20; 1013 on a name taken)
  GET|PATCH|DELETE /accounts/{a}/cfd_tunnel/{id}      (DELETE refuses with 1022 while connections are up;
                                                       PATCH with tunnel_secret rotates the token)
  GET|PUT /accounts/{a}/cfd_tunnel/{id}/configurations    GET .../token    DELETE .../connections
  GET|POST /accounts/{a}/access/apps (page, per_page, default 25)   GET|PUT|DELETE /accounts/{a}/access/apps/{id}
  GET|POST /accounts/{a}/access/apps/{id}/policies        PUT|DELETE .../policies/{policy_id}
    (self_hosted applications need a domain, one application a domain: 12130 otherwise; a policy needs
    a decision and at least one include rule)
A request without "Authorization: Bearer <token>" gets 403 {"code": 10000, "message": "Authentication error"}.

Test hooks (in-process on FakeCloudflare, or over HTTP under /_fake/ without a token):
  requests (log of (method, path, query)), add_tunnel, set_ingress, set_record, rotate_token, add_connection;
  GET /_fake/requests, POST /_fake/tunnels {"name", "deleted"}, POST /_fake/rotate/{id},
  PUT /_fake/ingress/{id} [rules], POST /_fake/connections/{id} {"origin_ip"} (a new connector), PUT /_fake/records {"name", "type", "content", "proxied"},
  set_access_emails / PUT /_fake/access/{domain} [emails] (the policies of that application replaced by one).

Run it alone: python3 tests/fakes/cloudflare_api.py --port 8787 --token T --account A --zone example.com
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TUNNEL_PER_PAGE = 20  # the tunnel listing's page size when per_page is not given (assumed; max 1000)
DNS_PER_PAGE = 100  # the DNS listing's documented default
ACCESS_PER_PAGE = 25  # the Access application listing's page size when per_page is not given (assumed)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hex_id(seed: str) -> str:
    return hashlib.md5(seed.encode()).hexdigest()  # noqa: S324 - an id, as Cloudflare's 32 hex digits


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def envelope(result: Any, result_info: dict[str, int] | None = None) -> dict[str, Any]:
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def paginate(items: list[Any], query: dict[str, str], default: int) -> dict[str, Any]:
    page = max(int(query.get("page", 1)), 1)
    per_page = min(max(int(query.get("per_page", default)), 1), 1000)
    chunk = items[(page - 1) * per_page: page * per_page]
    total_pages = max((len(items) + per_page - 1) // per_page, 1)
    return envelope(chunk, {"page": page, "per_page": per_page, "count": len(chunk),
                            "total_count": len(items), "total_pages": total_pages})


def truthy(text: str | None) -> bool | None:
    return None if text is None else text.lower() in ("1", "true", "yes")


class FakeCloudflare:
    """The state: one account, its zones, DNS records and tunnels, and the request log."""

    def __init__(self, token: str, account: str, zones: list[str]) -> None:
        self.token, self.account = token, account
        self.lock = threading.RLock()
        self.zones = {hex_id(zone): {"id": hex_id(zone), "name": zone, "status": "active",
                                     "account": {"id": account, "name": "fake"}} for zone in zones}
        self.records: dict[str, dict[str, Any]] = {}
        self.tunnels: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.tunnel_secrets: dict[str, str] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}  # application id -> its policies
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.ignore_filters = False  # answer listings unfiltered, as a careless server might

    # ---------------------------------------------------------------------------------------- test hooks
    def zone_id(self, name: str) -> str:
        return hex_id(name)

    def api_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return [entry for entry in self.requests if not entry[1].startswith("/_fake")]

    def writes(self) -> list[tuple[str, str, dict[str, str]]]:
        return [entry for entry in self.api_requests() if entry[0] != "GET"]

    def add_tunnel(self, name: str, deleted: bool = False) -> dict[str, Any]:
        with self.lock:
            tunnel_id = str(uuid.uuid4())
            self.tunnels[tunnel_id] = {
                "id": tunnel_id, "account_tag": self.account, "name": name, "created_at": now(),
                "deleted_at": now() if deleted else None, "connections": [], "conns_active_at": None,
                "conns_inactive_at": None, "tun_type": "cfd_tunnel", "status": "inactive", "remote_config": True,
                "config_src": "cloudflare", "metadata": {}}
            self.tunnel_secrets[tunnel_id] = base64.b64encode(secrets.token_bytes(32)).decode()
            self.configs[tunnel_id] = {"tunnel_id": tunnel_id, "version": 0, "config": None,
                                       "source": "cloudflare", "created_at": now()}
            return self.tunnels[tunnel_id]

    def tunnel_named(self, name: str) -> dict[str, Any] | None:
        live = [t for t in self.tunnels.values() if t["name"] == name and not t["deleted_at"]]
        return live[0] if live else None

    def token_of(self, tunnel_id: str) -> str:
        payload = {"a": self.account, "t": tunnel_id, "s": self.tunnel_secrets[tunnel_id]}
        return base64.b64encode(json.dumps(payload).encode()).decode()

    def rotate_token(self, tunnel_id: str) -> None:
        with self.lock:
            self.tunnel_secrets[tunnel_id] = base64.b64encode(secrets.token_bytes(32)).decode()

    def set_ingress(self, tunnel_id: str, ingress: list[dict[str, Any]]) -> None:
        """Change a tunnel's ingress behind the module's back (Cloudflare adds originRequest {} to each rule)."""
        with self.lock:
            config = self.configs[tunnel_id]
            config["config"] = {"ingress": [dict({"originRequest": {}}, **rule) for rule in ingress],
                                "warp-routing": {"enabled": False}}
            config["version"] += 1

    def ingress_of(self, tunnel_id: str) -> list[dict[str, Any]] | None:
        config = self.configs[tunnel_id]["config"]
        return config and config["ingress"]

    def add_connection(self, tunnel_id: str, origin_ip: str = "192.0.2.10") -> None:
        with self.lock:
            connection = {"id": str(uuid.uuid4()), "client_id": str(uuid.uuid4()), "client_version": "2025.4.0",
                          "colo_name": "fra01", "is_pending_reconnect": False, "opened_at": now(),
                          "origin_ip": origin_ip, "uuid": str(uuid.uuid4())}
            self.tunnels[tunnel_id]["connections"].append(connection)
            self.tunnels[tunnel_id]["status"] = "healthy"

    def set_record(self, zone: str, name: str, type_: str, content: str, proxied: bool = False) -> dict[str, Any]:
        """Put a record behind the module's back: replaces every record of that name."""
        with self.lock:
            zone_id = self.zone_id(zone)
            for record_id in [i for i, r in self.records.items() if r["zone_id"] == zone_id and r["name"] == name]:
                del self.records[record_id]
            return self._new_record(zone_id, {"name": name, "type": type_, "content": content, "proxied": proxied})

    def app_for(self, domain: str) -> dict[str, Any] | None:
        found = [app for app in self.apps.values() if app["domain"] == domain]
        return found[0] if found else None

    def add_app(self, name: str, domain: str, session_duration: str = "24h") -> dict[str, Any]:
        with self.lock:
            app_id = str(uuid.uuid4())
            self.apps[app_id] = {"id": app_id, "uid": app_id, "aud": secrets.token_hex(32), "name": name,
                                 "domain": domain, "type": "self_hosted", "session_duration": session_duration,
                                 "allowed_idps": [], "auto_redirect_to_identity": False, "created_at": now(),
                                 "updated_at": now()}
            self.policies[app_id] = []
            return self.apps[app_id]

    def set_access_emails(self, domain: str, emails: list[str], name: str = "allow listed emails") -> None:
        """Replace an application's policies behind the module's back with one allowing these emails."""
        with self.lock:
            app = self.app_for(domain)
            assert app is not None, f"no Access application for {domain}"
            self.policies[app["id"]] = [self._new_policy({"name": name, "decision": "allow", "precedence": 1,
                                                          "include": [{"email": {"email": e}} for e in emails]})]

    def emails_of(self, domain: str) -> list[list[str]]:
        """Each policy's included addresses, for the application on domain."""
        app = self.app_for(domain)
        return [[rule["email"]["email"] for rule in policy["include"] if "email" in rule]
                for policy in self.policies[app["id"]]] if app else []

    def records_named(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.records.values() if record["name"] == name]

    # ---------------------------------------------------------------------------------------- the API
    def _new_record(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record_id = uuid.uuid4().hex
        record = {"id": record_id, "zone_id": zone_id, "zone_name": self.zones[zone_id]["name"],
                  "name": body["name"], "type": body["type"], "content": body["content"],
                  "proxiable": True, "proxied": bool(body.get("proxied", False)), "ttl": body.get("ttl", 1),
                  "comment": body.get("comment"), "tags": [], "meta": {}, "created_on": now(), "modified_on": now()}
        self.records[record_id] = record
        return record

    def _check_record(self, zone_id: str, body: dict[str, Any], record_id: str | None = None) -> None:
        for key in ("type", "name", "content"):
            if not body.get(key):
                raise ApiError(400, 9000 + ("type", "name", "content").index(key) * 5, f"DNS {key} is required.")
        clash = [r for r in self.records.values() if r["zone_id"] == zone_id and r["name"] == body["name"]
                 and r["id"] != record_id and "CNAME" in (r["type"], body["type"])]
        if clash:
            raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        parts = [part for part in path.split("/") if part]
        with self.lock:
            if parts[:1] == ["_fake"]:
                return 200, self._hook(method, parts[1:], body)
            if parts[:1] == ["zones"]:
                return 200, self._zones(method, parts[1:], query, body)
            if parts[:1] == ["accounts"] and len(parts) >= 3 and parts[2] == "cfd_tunnel":
                if parts[1] != self.account:
                    raise ApiError(403, 10000, "Authentication error")
                return 200, self._tunnels(method, parts[3:], query, body)
            if parts[:1] == ["accounts"] and parts[2:4] == ["access", "apps"]:
                if parts[1] != self.account:
                    raise ApiError(403, 10000, "Authentication error")
                return (201 if method == "POST" else 200), self._access(method, parts[4:], query, body)
        raise ApiError(404, 7003, f"Could not route to {path}, perhaps your object identifier is invalid?")

    def _zones(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> dict[str, Any]:
        if not rest and method == "GET":
            zones = [z for z in self.zones.values() if "name" not in query or z["name"] == query["name"]]
            return paginate(zones, query, 20)
        zone_id = rest[0]
        if zone_id not in self.zones:
            raise ApiError(404, 7003, "Could not route to /zones/..., perhaps your object identifier is invalid?")
        if len(rest) == 1 and method == "GET":
            return envelope(self.zones[zone_id])
        if rest[1:2] != ["dns_records"]:
            raise ApiError(404, 7003, "Could not route, perhaps your object identifier is invalid?")
        if len(rest) == 2:
            if method == "GET":
                records = [r for r in self.records.values() if r["zone_id"] == zone_id and (self.ignore_filters or all(
                    key not in query or r[key] == query[key] for key in ("name", "type", "content")))]
                return paginate(records, query, DNS_PER_PAGE)
            if method == "POST":
                self._check_record(zone_id, body)
                return envelope(self._new_record(zone_id, body))
            raise ApiError(405, 10405, "Method not allowed")
        record = self.records.get(rest[2])
        if record is None or record["zone_id"] != zone_id:
            raise ApiError(404, 81044, "Record does not exist.")
        if method == "GET":
            return envelope(record)
        if method == "DELETE":
            del self.records[record["id"]]
            return envelope({"id": record["id"]})
        if method in ("PUT", "PATCH"):
            merged = dict(record, **body) if method == "PATCH" else dict(body)
            self._check_record(zone_id, merged, record["id"])
            record.update({key: merged.get(key, record[key]) for key in ("name", "type", "content", "ttl")},
                          proxied=bool(merged.get("proxied", False)), comment=merged.get("comment"),
                          modified_on=now())
            return envelope(record)
        raise ApiError(405, 10405, "Method not allowed")

    def _tunnels(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> dict[str, Any]:
        if not rest:
            if method == "GET":
                tunnels = list(self.tunnels.values())
                if not self.ignore_filters:
                    deleted = truthy(query.get("is_deleted"))
                    tunnels = [t for t in tunnels if ("name" not in query or t["name"] == query["name"])
                               and (deleted is None or bool(t["deleted_at"]) == deleted)]
                return paginate(tunnels, query, TUNNEL_PER_PAGE)
            if method == "POST":
                name = (body or {}).get("name")
                if not name:
                    raise ApiError(400, 1001, "Tunnel name is required")
                if self.tunnel_named(name):
                    raise ApiError(409, 1013, "You already have a tunnel with this name. Delete the existing "
                                              "tunnel, or choose a different name for your new tunnel")
                tunnel = self.add_tunnel(name)
                return envelope(dict(tunnel, token=self.token_of(tunnel["id"])))
            raise ApiError(405, 10405, "Method not allowed")
        tunnel = self.tunnels.get(rest[0])
        if tunnel is None or (tunnel["deleted_at"] and method != "GET"):
            raise ApiError(404, 1002, "Tunnel not found")
        tail = rest[1:]
        if not tail:
            return self._one_tunnel(method, tunnel, body)
        if tail == ["configurations"] and method == "GET":
            return envelope(self.configs[tunnel["id"]])
        if tail == ["configurations"] and method == "PUT":
            config = (body or {}).get("config") or {}
            ingress = config.get("ingress") or []
            if not ingress or ingress[-1].get("hostname") or ingress[-1].get("path"):
                raise ApiError(400, 1055, "The last ingress rule must match all URLs (i.e. it should not "
                                          "have a hostname or path filter)")
            self.set_ingress(tunnel["id"], ingress)
            self.configs[tunnel["id"]]["config"].update({k: v for k, v in config.items() if k != "ingress"})
            return envelope(self.configs[tunnel["id"]])
        if tail == ["token"] and method == "GET":
            return envelope(self.token_of(tunnel["id"]))
        if tail == ["connections"] and method == "DELETE":
            tunnel["connections"] = []
            tunnel["status"] = "down"
            return envelope(None)
        raise ApiError(404, 7003, "Could not route, perhaps your object identifier is invalid?")

    def _one_tunnel(self, method: str, tunnel: dict[str, Any], body: Any) -> dict[str, Any]:
        if method == "GET":
            return envelope(tunnel)
        if method == "PATCH":
            if (body or {}).get("name"):
                tunnel["name"] = body["name"]
            if (body or {}).get("tunnel_secret"):
                self.tunnel_secrets[tunnel["id"]] = body["tunnel_secret"]
            return envelope(tunnel)
        if method == "DELETE":
            if tunnel["connections"]:
                raise ApiError(400, 1022, "Cannot delete tunnel because it has active connections. "
                                          "Clean up its connections first")
            tunnel["deleted_at"] = now()
            return envelope(tunnel)
        raise ApiError(405, 10405, "Method not allowed")

    def _new_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("decision") not in ("allow", "deny", "bypass", "non_identity"):
            raise ApiError(400, 12130, "access.api.error.invalid_request: decision must be one of allow, deny, "
                                       "bypass, non_identity")
        if not body.get("include"):
            raise ApiError(400, 12130, "access.api.error.invalid_request: a policy needs at least one include rule")
        return {"id": str(uuid.uuid4()), "name": body.get("name", ""), "decision": body["decision"],
                "precedence": int(body.get("precedence", 1)), "include": body["include"],
                "exclude": body.get("exclude") or [], "require": body.get("require") or [],
                "created_at": now(), "updated_at": now()}

    def _app_body(self, body: Any, app_id: str | None = None) -> dict[str, Any]:
        body = body or {}
        if body.get("type", "self_hosted") != "self_hosted" or not body.get("domain"):
            raise ApiError(400, 12130, "access.api.error.invalid_request: a self_hosted application needs a domain")
        clash = self.app_for(str(body["domain"]))
        if clash and clash["id"] != app_id:
            raise ApiError(409, 12130, "access.api.error.conflict: an application with this domain already exists")
        return body

    def _access(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> dict[str, Any]:
        if not rest:
            if method == "GET":
                return paginate(list(self.apps.values()), query, ACCESS_PER_PAGE)
            if method == "POST":
                body = self._app_body(body)
                return envelope(self.add_app(body.get("name") or body["domain"], body["domain"],
                                             body.get("session_duration", "24h")))
            raise ApiError(405, 10405, "Method not allowed")
        app = self.apps.get(rest[0])
        if app is None:
            raise ApiError(404, 12130, "access.api.error.not_found: application not found")
        if len(rest) == 1:
            if method == "GET":
                return envelope(app)
            if method == "PUT":
                body = self._app_body(body, app["id"])
                app.update(name=body.get("name") or body["domain"], domain=body["domain"],
                           session_duration=body.get("session_duration", "24h"), updated_at=now())
                return envelope(app)
            if method == "DELETE":
                del self.apps[app["id"]]
                self.policies.pop(app["id"], None)
                return envelope({"id": app["id"]})
            raise ApiError(405, 10405, "Method not allowed")
        if rest[1] != "policies":
            raise ApiError(404, 7003, "Could not route, perhaps your object identifier is invalid?")
        policies = self.policies[app["id"]]
        if len(rest) == 2:
            if method == "GET":
                return paginate(policies, query, ACCESS_PER_PAGE)
            if method == "POST":
                policies.append(self._new_policy(body or {}))
                return envelope(policies[-1])
            raise ApiError(405, 10405, "Method not allowed")
        found = [policy for policy in policies if policy["id"] == rest[2]]
        if not found:
            raise ApiError(404, 12130, "access.api.error.not_found: policy not found")
        if method == "PUT":
            updated = dict(self._new_policy(body or {}), id=found[0]["id"], created_at=found[0]["created_at"])
            policies[policies.index(found[0])] = updated
            return envelope(updated)
        if method == "DELETE":
            policies.remove(found[0])
            return envelope({"id": found[0]["id"]})
        raise ApiError(405, 10405, "Method not allowed")

    def _hook(self, method: str, rest: list[str], body: Any) -> Any:
        if rest == ["requests"]:
            return [list(entry) for entry in self.api_requests()]
        if rest == ["tunnels"] and method == "POST":
            return self.add_tunnel(body["name"], bool(body.get("deleted")))
        if rest[:1] == ["rotate"]:
            self.rotate_token(rest[1])
            return {"rotated": rest[1]}
        if rest[:1] == ["ingress"]:
            self.set_ingress(rest[1], body)
            return self.configs[rest[1]]
        if rest == ["records"]:
            return self.set_record(body.get("zone") or next(iter(self.zones.values()))["name"], body["name"],
                                   body["type"], body["content"], bool(body.get("proxied")))
        if rest[:1] == ["access"] and method == "PUT":
            self.set_access_emails(rest[1], body)
            return {"emails": self.emails_of(rest[1])}
        if rest[:1] == ["connections"] and method == "POST":
            self.add_connection(rest[1], (body or {}).get("origin_ip", "192.0.2.10"))
            return self.tunnels[rest[1]]["connections"]
        if rest == ["state"]:
            return {"tunnels": list(self.tunnels.values()), "records": list(self.records.values()),
                    "configs": list(self.configs.values()), "access_apps": list(self.apps.values()),
                    "access_policies": self.policies}
        raise ApiError(404, 7003, "no such test hook")


def make_handler(fake: FakeCloudflare) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cloudflare"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            split = urlsplit(self.path)
            path = split.path.removeprefix("/client/v4")
            query = {key: values[-1] for key, values in parse_qs(split.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append((self.command, path, query))
            try:
                if not path.startswith("/_fake") and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    raise ApiError(403, 10000, "Authentication error")
                try:
                    body = json.loads(raw) if raw else None
                except ValueError as error:
                    raise ApiError(400, 6007, "Malformed JSON in request body") from error
                status, answer = fake.handle(self.command, path, query, body)
            except ApiError as error:
                status = error.status
                answer = {"success": False, "errors": [{"code": error.code, "message": error.message}],
                          "messages": [], "result": None}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


def make_server(host: str, port: int, fake: FakeCloudflare) -> ThreadingHTTPServer:
    """A server for fake on host:port (port 0: a free one); the caller runs serve_forever."""
    server = ThreadingHTTPServer((host, port), make_handler(fake))
    server.daemon_threads = True
    return server


def exit_when_idle(server: ThreadingHTTPServer, fake: FakeCloudflare, seconds: int) -> None:
    """Stop the server once no request has come for seconds."""
    seen, quiet_since = -1, time.monotonic()
    while True:
        time.sleep(1)
        with fake.lock:
            count = len(fake.requests)
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since > seconds:
            server.shutdown()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--token", required=True, help="the API token the fake accepts")
    parser.add_argument("--account", required=True, help="the account id")
    parser.add_argument("--zone", action="append", default=[], help="a zone name (repeatable)")
    parser.add_argument("--idle-exit", type=int, default=0,
                        help="exit after this many seconds without a request (0: never), so a test run never leaves it behind")
    args = parser.parse_args()
    fake = FakeCloudflare(args.token, args.account, args.zone or ["example.com"])
    server = make_server(args.host, args.port, fake)
    print(f"fake Cloudflare API on http://{args.host}:{server.server_address[1]}/client/v4", flush=True)
    if args.idle_exit > 0:
        threading.Thread(target=exit_when_idle, args=(server, fake, args.idle_exit), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
