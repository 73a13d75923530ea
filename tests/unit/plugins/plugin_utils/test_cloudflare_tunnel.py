"""antone.infra.cloudflare_tunnel against the Cloudflare stand-in (tests/fakes/cloudflare_api.py).

run_tunnel runs as the action plugin runs it (the task's arguments, check mode, diff and no_log), its
result read back as JSON; the last tests go through ansible-playbook, to see what Ansible prints."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.module_utils import cloudflare_ingress as ci
from ansible_collections.antone.infra.plugins.plugin_utils import cloudflare_tunnel as ct

from source_loader import load_source  # tests/unit/source_loader.py

ROOT = Path(__file__).resolve().parents[4]
SOURCE = ROOT / "tests" / "fakes" / "cloudflare_api.py"
TOKEN = "cf-test-token-0123456789abcdef"
ACCOUNT = "0123456789abcdef0123456789abcdef"
ZONE = "example.com"


cf = load_source("fake_cloudflare_api", SOURCE)


@pytest.fixture
def fake() -> Iterator[Any]:
    state = cf.FakeCloudflare(TOKEN, ACCOUNT, [ZONE, "other.org"])
    server = cf.make_server("127.0.0.1", 0, state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/client/v4"
    yield state
    server.shutdown()
    server.server_close()


def args(fake: Any, **extra: Any) -> dict[str, Any]:
    base = {"api_url": fake.url, "api_token": TOKEN, "account_id": ACCOUNT, "zone": ZONE, "name": "antone",
            "ingress": [{"hostname": "app.example.com", "service": "http://dashboard:3000"},
                        {"hostname": "api.example.com", "service": "http://backend-api:8000",
                         "originRequest": {"connectTimeout": "10s"}}]}
    return {**base, **extra}


def run(module_args: dict[str, Any], check: bool = False, diff: bool = True, no_log: bool = False
        ) -> tuple[dict[str, Any], str]:
    """(result, its JSON text) of one call; the result has failed=True when the call failed. no_log is the
    task's no_log."""
    result = ct.run_tunnel(module_args, check=check, diff=diff, no_log=no_log)
    text = json.dumps(result)
    return json.loads(text), text


def ok(module_args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result, text = run(module_args, **kwargs)
    assert not result.get("failed"), result
    assert "Traceback" not in text
    return result


def wanted_ingress() -> list[dict[str, Any]]:
    return [{"hostname": "app.example.com", "service": "http://dashboard:3000"},
            {"hostname": "api.example.com", "service": "http://backend-api:8000",
             "originRequest": {"connectTimeout": "10s"}},
            {"service": "http_status:404"}]


# ------------------------------------------------------------------------------------------------- pure parts

def test_normalise_ingress_appends_the_catch_all_and_drops_empty_values() -> None:
    rules = ct.normalise_ingress([{"hostname": "App.Example.com", "service": "http://a:1", "path": None,
                                   "originRequest": {}}])
    assert rules == [{"hostname": "app.example.com", "service": "http://a:1"}, {"service": "http_status:404"}]
    assert ct.normalise_ingress([{"service": "http_status:503"}]) == [{"service": "http_status:503"}]


@pytest.mark.parametrize("service", ["http://a:1", "https://a", "tcp://db:5432", "ssh://h:22", "rdp://h:3389",
                                     "smb://h", "unix:/run/a.sock", "unix+tls:/run/a.sock", "http_status:404",
                                     "hello_world", "bastion"])
def test_known_services_pass(service: str) -> None:
    assert ci.service_problem(service) is None


@pytest.mark.parametrize("service", ["ftp://h", "http:", "http_status:99", "localhost:3000", "", None])
def test_unknown_services_are_named(service: Any) -> None:
    assert ci.service_problem(service)


def test_ingress_problems() -> None:
    rules = ct.normalise_ingress([{"hostname": "app.example.org", "service": "http://a:1"},
                                  {"service": "http://b:2"}, {"hostname": "*.example.com", "service": "http://c"}])
    problems = ct.ingress_problems(rules, "example.com")
    assert any("outside the zone example.com" in p for p in problems)
    assert any("matches everything" in p for p in problems)
    assert not any("*.example.com" in p for p in problems)


def test_dns_plan() -> None:
    target = "t.cfargotunnel.com"
    records = {"a.example.com": [], "b.example.com": [{"type": "CNAME", "content": target, "proxied": True}],
               "c.example.com": [{"type": "CNAME", "content": "x", "proxied": True, "id": "1"}],
               "d.example.com": [{"type": "A", "content": "192.0.2.1"}]}
    actions, problems = ct.dns_plan(list(records), records, target)
    assert [a["action"] for a in actions] == ["create", "none", "update"]
    assert problems == ["d.example.com already has a DNS record (A 192.0.2.1); remove it first, the module will not"]


def test_envelope_errors() -> None:
    assert ct.envelope_errors({"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}) \
        == "10000 Authentication error"
    assert ct.envelope_errors(None) == "no Cloudflare envelope in the answer"


# ------------------------------------------------------------------------------------------------- against the fake

def test_create_then_nothing_to_do(fake: Any) -> None:
    first = ok(args(fake))
    assert first["changed"] and first["created"]
    tunnel = fake.tunnel_named("antone")
    assert first["tunnel_id"] == tunnel["id"]
    assert [ct.normalise_rule(rule) for rule in fake.ingress_of(tunnel["id"])] == wanted_ingress()
    for host in ("app.example.com", "api.example.com"):
        (record,) = fake.records_named(host)
        assert (record["type"], record["content"], record["proxied"]) == (
            "CNAME", f"{tunnel['id']}.cfargotunnel.com", True)
    assert first["token_sha256"] == hashlib.sha256(fake.token_of(tunnel["id"]).encode()).hexdigest()
    assert "token" not in first

    writes = len(fake.writes())
    second = ok(args(fake))
    assert not second["changed"] and not second["created"]
    assert second["tunnel_id"] == tunnel["id"]
    assert len(fake.writes()) == writes
    assert [r["action"] for r in second["dns_records"]] == ["none", "none"]
    assert second["diff"]["before"] == second["diff"]["after"]


def test_remote_ingress_drift_is_restored(fake: Any) -> None:
    ok(args(fake))
    tunnel_id = fake.tunnel_named("antone")["id"]
    fake.set_ingress(tunnel_id, [{"hostname": "app.example.com", "service": "http://evil:80"},
                                 {"service": "http_status:404"}])
    result = ok(args(fake))
    assert result["changed"] and not result["created"]
    assert result["diff"]["before"]["ingress"][0]["service"] == "http://evil:80"
    assert [ct.normalise_rule(rule) for rule in fake.ingress_of(tunnel_id)] == wanted_ingress()
    assert not ok(args(fake))["changed"]


def test_token_rotation_is_detected(fake: Any) -> None:
    first = ok(args(fake, return_token=True), no_log=True)
    assert first["token"] == fake.token_of(first["tunnel_id"])
    decoded = json.loads(__import__("base64").b64decode(first["token"]))
    assert decoded["a"] == ACCOUNT and decoded["t"] == first["tunnel_id"]
    fake.rotate_token(first["tunnel_id"])
    second = ok(args(fake, return_token=True, known_token_sha256=first["token_sha256"]), no_log=True)
    assert second["token"] != first["token"]
    assert second["token_changed"] is True
    assert not second["changed"]  # nothing was changed on Cloudflare; the caller acts on token_changed
    third = ok(args(fake, known_token_sha256=second["token_sha256"]))
    assert third["token_changed"] is False


def test_the_tunnel_on_the_second_page_is_found(fake: Any) -> None:
    for index in range(70):
        fake.add_tunnel(f"other-{index:02}")
    wanted = fake.add_tunnel("antone")
    fake.ignore_filters = True  # the listing then holds all 71, so the module has to page (50 a page)
    result = ok(args(fake))
    assert result["tunnel_id"] == wanted["id"] and not result["created"]
    pages = [q.get("page") for m, p, q in fake.api_requests() if m == "GET" and p.endswith("/cfd_tunnel")]
    assert pages == ["1", "2"]
    assert len(fake.tunnels) == 71


def test_a_deleted_tunnel_of_the_same_name_is_ignored(fake: Any) -> None:
    old = fake.add_tunnel("antone", deleted=True)
    fake.ignore_filters = True  # even if the server sent it, deleted_at rules it out
    result = ok(args(fake))
    assert result["created"] and result["tunnel_id"] != old["id"]
    fake.ignore_filters = False
    assert ok(args(fake))["tunnel_id"] == result["tunnel_id"]
    listing = [q for m, p, q in fake.api_requests() if m == "GET" and p.endswith("/cfd_tunnel")]
    assert all(q["is_deleted"] == "false" and q["name"] == "antone" for q in listing)


def test_a_wrong_api_token_fails_clearly(fake: Any) -> None:
    secret = "wrong-token-which-must-never-be-printed"
    result, text = run(args(fake, api_token=secret))
    assert result["failed"]
    assert result["msg"] == (f"Cloudflare API GET /zones: 10000 Authentication error (HTTP 403)")
    assert secret not in text and "Traceback" not in text and "exception" not in result


def test_the_fake_refuses_a_wrong_account_with_10000(fake: Any) -> None:
    result, text = run(args(fake, account_id="f" * 32, dns=False))
    assert result["failed"]
    assert result["msg"].startswith(f"Cloudflare API GET /accounts/{'f' * 32}/cfd_tunnel: 10000 Authentication error")


def test_check_mode_changes_nothing(fake: Any) -> None:
    result = ok(args(fake), check=True)
    assert result["changed"] and result["created"] and result["tunnel_id"] is None
    assert [r["action"] for r in result["dns_records"]] == ["create", "create"]
    assert fake.writes() == [] and fake.tunnels == {} and fake.records == {}

    ok(args(fake))
    tunnel_id = fake.tunnel_named("antone")["id"]
    fake.set_ingress(tunnel_id, [{"service": "http_status:503"}])
    fake.set_record(ZONE, "app.example.com", "CNAME", "elsewhere.example.net", proxied=False)
    before = json.dumps([fake.ingress_of(tunnel_id), sorted(fake.records, key=str)])
    writes = len(fake.writes())
    drift = ok(args(fake), check=True)
    assert drift["changed"] and not drift["created"]
    assert len(fake.writes()) == writes
    assert json.dumps([fake.ingress_of(tunnel_id), sorted(fake.records, key=str)]) == before


def test_state_absent_deletes_the_tunnel_and_its_cnames(fake: Any) -> None:
    ok(args(fake))
    fake.set_record(ZONE, "www.example.com", "A", "192.0.2.7")
    tunnel_id = fake.tunnel_named("antone")["id"]
    fake.add_connection(tunnel_id)
    check = ok(args(fake, state="absent"), check=True)
    assert check["changed"] and fake.tunnel_named("antone")
    result = ok(args(fake, state="absent"))
    assert result["changed"] and result["deleted"] and result["tunnel_id"] == tunnel_id
    assert result["connections"][0]["origin_ip"] == "192.0.2.10"
    assert sorted(r["name"] for r in result["dns_records"]) == ["api.example.com", "app.example.com"]
    assert fake.tunnel_named("antone") is None and fake.tunnels[tunnel_id]["deleted_at"]
    assert [r["name"] for r in fake.records.values()] == ["www.example.com"]
    again = ok(args(fake, state="absent"))
    assert not again["changed"]


def test_dns_records_are_created_once_and_corrected(fake: Any) -> None:
    ok(args(fake))
    posts = [e for e in fake.writes() if e[0] == "POST" and e[1].endswith("/dns_records")]
    assert len(posts) == 2
    ok(args(fake))
    assert len([e for e in fake.writes() if e[0] == "POST" and e[1].endswith("/dns_records")]) == 2
    (record,) = fake.records_named("app.example.com")
    record.update(content="someone-else.cfargotunnel.com", proxied=False)
    result = ok(args(fake))
    assert result["changed"]
    assert {r["name"]: r["action"] for r in result["dns_records"]} == {"app.example.com": "update",
                                                                        "api.example.com": "none"}
    (fixed,) = fake.records_named("app.example.com")
    assert fixed["id"] == record["id"] and fixed["proxied"] is True
    assert fixed["content"] == f"{result['tunnel_id']}.cfargotunnel.com"


def test_an_a_record_on_the_hostname_is_refused(fake: Any) -> None:
    fake.set_record(ZONE, "app.example.com", "A", "192.0.2.1")
    result, text = run(args(fake))
    assert result["failed"]
    assert "app.example.com already has a DNS record (A 192.0.2.1)" in result["msg"]
    assert fake.writes() == []  # refused before the tunnel was created
    assert [r["type"] for r in fake.records_named("app.example.com")] == ["A"]


@pytest.mark.parametrize(("extra", "message"), [
    ({"ingress": [{"hostname": "app.example.org", "service": "http://a:1"}]}, "outside the zone example.com"),
    ({"ingress": [{"hostname": "app.example.com", "service": "ftp://a"}]}, "whose scheme is not one of"),
    ({"ingress": [{"service": "http://a:1"}, {"hostname": "b.example.com", "service": "http://b"}]},
     "matches everything"),
    ({"account_id": ""}, "account_id is empty"),
    ({"api_token": ""}, "api_token is empty"),
    ({"zone": None}, "dns=true needs zone or zone_id"),
])
def test_bad_input_fails_before_any_request(fake: Any, extra: dict[str, Any], message: str) -> None:
    result, _ = run(args(fake, **extra))
    assert result["failed"] and message in result["msg"]
    assert fake.api_requests() == []


def test_zone_id_only_checks_hostnames_after_reading_the_zone(fake: Any) -> None:
    module_args = args(fake, zone=None, zone_id=fake.zone_id("other.org"))
    result, _ = run(module_args)
    assert result["failed"] and "outside the zone other.org" in result["msg"]
    assert fake.writes() == []
    assert ok(args(fake, zone=None, zone_id=fake.zone_id(ZONE)))["created"]


def test_the_catch_all_is_not_doubled(fake: Any) -> None:
    rules = [{"hostname": "app.example.com", "service": "http://a:1"}, {"service": "http_status:503"}]
    result = ok(args(fake, ingress=rules))
    assert result["ingress"] == rules


def test_connections_are_reported(fake: Any) -> None:
    ok(args(fake))
    tunnel_id = fake.tunnel_named("antone")["id"]
    fake.add_connection(tunnel_id, "198.51.100.4")
    result = ok(args(fake))
    assert [c["origin_ip"] for c in result["connections"]] == ["198.51.100.4"]
    assert set(result["connections"][0]) == {"client_id", "origin_ip", "colo_name", "opened_at", "client_version"}


def test_the_fake_refuses_a_duplicate_name_with_1013(fake: Any) -> None:
    fake.add_tunnel("antone")
    client = ct.Client(fake.url, TOKEN)
    with pytest.raises(ct.CloudflareError, match="1013 You already have a tunnel with this name"):
        client.call("POST", ct.account_path(ACCOUNT), body={"name": "antone", "config_src": "cloudflare"})


def test_an_api_that_does_not_answer_fails_clearly(fake: Any) -> None:
    url = fake.url
    fake_port = url.split(":")[2].split("/")[0]
    result, text = run(args(fake, api_url=url.replace(f":{fake_port}/", ":1/")))
    assert result["failed"] and result["msg"].startswith("Cloudflare API GET /zones: ")
    assert "Connection refused" in result["msg"] and TOKEN not in text


def test_unknown_and_mistyped_arguments_are_refused_before_any_request(fake: Any) -> None:
    result, _ = run(args(fake, colour="blue"))
    assert result["failed"] and "colour" in result["msg"]
    result, _ = run(args(fake, ingress="app.example.com"))
    assert result["failed"] and "ingress" in result["msg"]
    assert fake.api_requests() == []


def test_return_token_needs_a_no_log_task(fake: Any) -> None:
    result, text = run(args(fake, return_token=True))
    assert result["failed"] and "return_token=true needs no_log: true on the task" in result["msg"]
    assert fake.api_requests() == []


PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Register the tunnel and fetch its token
      antone.infra.cloudflare_tunnel: "{{ cloudflare_args }}"
      register: tunnel
      no_log: true
    - name: Show that the registered value holds the token
      ansible.builtin.debug:
        msg: "token ok: {{ (tunnel.token | hash('sha256')) == tunnel.token_sha256 }}"
"""


def test_through_ansible_playbook_the_token_is_registered_and_never_printed(fake: Any, tmp_path: Path) -> None:
    playbook_command = ROOT / ".venv" / "bin" / "ansible-playbook"
    if not playbook_command.exists():
        pytest.skip("no .venv/bin/ansible-playbook")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps({"cloudflare_args": args(fake, return_token=True)}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_LOCAL_TEMP=str(tmp_path),
               ANSIBLE_HOME=str(tmp_path), ANSIBLE_PYTHON_INTERPRETER=sys.executable, NO_COLOR="1")
    done = subprocess.run([str(playbook_command), "-i", "localhost,", "play.yml", "-e", "@vars.json", "-vvv"],
                          capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    token = fake.token_of(fake.tunnel_named("antone")["id"])
    assert token not in output and TOKEN not in output
    assert "token ok: True" in output
    assert "hidden" in output


# ------------------------------------------------------------------------------------------------- Access

ACCESS = [{"hostname": "app.example.com", "emails": ["Owner@Example.com", "ops@example.com"]}]


def test_access_problems_name_each_mistake() -> None:
    hostnames = ["app.example.com"]
    assert ci.access_problems(ACCESS, hostnames) == []
    problems = ci.access_problems([{"hostname": "other.example.com", "emails": ["a@example.com"]},
                                   {"hostname": "app.example.com", "emails": []},
                                   {"hostname": "app.example.com", "emails": ["not-an-address"],
                                    "session_duration": "a day"}], hostnames)
    assert any("other.example.com is not the hostname of an ingress rule" in p for p in problems)
    assert any("lists no email address" in p for p in problems)
    assert any("listed twice" in p for p in problems)
    assert any("'not-an-address' is not an email address" in p for p in problems)
    assert any("session_duration 'a day'" in p for p in problems)


def test_access_application_created_once_with_one_email_policy(fake: Any) -> None:
    first = ok(args(fake, access=ACCESS))
    assert first["changed"] and [a["action"] for a in first["access_apps"]] == ["create"]
    app = fake.app_for("app.example.com")
    assert app["name"] == "antone app.example.com" and app["type"] == "self_hosted"
    assert fake.emails_of("app.example.com") == [["ops@example.com", "owner@example.com"]]
    writes = len(fake.writes())
    second = ok(args(fake, access=ACCESS))
    assert not second["changed"] and [a["action"] for a in second["access_apps"]] == ["none"]
    assert len(fake.writes()) == writes


def test_access_policy_changed_remotely_is_restored(fake: Any) -> None:
    ok(args(fake, access=ACCESS))
    fake.set_access_emails("app.example.com", ["intruder@example.net"])
    result = ok(args(fake, access=ACCESS))
    assert result["changed"] and result["access_apps"][0]["action"] == "update"
    assert sorted(fake.emails_of("app.example.com")[0]) == ["ops@example.com", "owner@example.com"]
    assert "intruder@example.net" in json.dumps(result["diff"]["before"]["access"])


def test_access_extra_policy_added_remotely_is_removed(fake: Any) -> None:
    ok(args(fake, access=ACCESS))
    app = fake.app_for("app.example.com")
    fake.policies[app["id"]].append(fake._new_policy({"name": "everyone", "decision": "allow",
                                                      "include": [{"everyone": {}}]}))
    assert ok(args(fake, access=ACCESS))["changed"]
    assert len(fake.policies[app["id"]]) == 1 and fake.policies[app["id"]][0]["name"] == "allow listed emails"


def test_access_entry_dropped_deletes_only_our_application(fake: Any) -> None:
    ok(args(fake, access=ACCESS))
    foreign = fake.add_app("made by hand", "api.example.com")
    result = ok(args(fake, access=[]))
    assert [a["action"] for a in result["access_apps"]] == ["delete"]
    assert fake.app_for("app.example.com") is None
    assert fake.apps[foreign["id"]]["name"] == "made by hand"


def test_access_in_check_mode_changes_nothing(fake: Any) -> None:
    result = ok(args(fake, access=ACCESS), check=True)
    assert result["changed"] and result["access_apps"][0]["action"] == "create"
    assert fake.apps == {}


def test_state_absent_removes_our_access_applications(fake: Any) -> None:
    ok(args(fake, access=ACCESS))
    result = ok(args(fake, state="absent"))
    assert result["deleted"] and [a["action"] for a in result["access_apps"]] == ["delete"]
    assert fake.apps == {}


def test_access_applications_on_a_later_page_are_found(fake: Any) -> None:
    for index in range(60):
        fake.add_app(f"someone else {index}", f"host{index}.other.org")
    ok(args(fake, access=ACCESS))
    assert not ok(args(fake, access=ACCESS))["changed"]
    assert len([a for a in fake.apps.values() if a["domain"] == "app.example.com"]) == 1


def test_access_for_a_hostname_without_a_rule_fails_before_any_request(fake: Any) -> None:
    result, _text = run(args(fake, access=[{"hostname": "admin.example.com", "emails": ["a@example.com"]}]))
    assert result["failed"] and "admin.example.com is not the hostname of an ingress rule" in result["msg"]
    assert fake.api_requests() == []


def test_an_https_api_is_reached_with_certificates_verified() -> None:
    handlers = [h for h in ct.api_opener("https://api.cloudflare.com/client/v4").handlers
                if h.__class__.__name__ == "HTTPSHandler"]
    assert handlers and handlers[0]._context.verify_mode == ssl.CERT_REQUIRED
    assert handlers[0]._context.check_hostname is True


def test_a_token_with_a_line_break_is_refused_before_any_request_and_never_printed(fake: Any) -> None:
    result, text = run(args(fake, api_token=TOKEN + "\n"))
    assert result["failed"] and "api_token holds a space, a line break" in result["msg"]
    assert TOKEN not in text and fake.api_requests() == []


def test_an_api_url_without_a_scheme_is_refused(fake: Any) -> None:
    result, _ = run(args(fake, api_url="api.cloudflare.com/client/v4"))
    assert result["failed"] and "api_url must be an http(s) URL" in result["msg"]
    assert fake.api_requests() == [] and fake.tunnels == {}


def test_an_answer_that_is_not_http_fails_clearly() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/client/v4"
    result, text = run({"api_url": url, "api_token": TOKEN, "account_id": ACCOUNT, "name": "antone", "dns": False})
    thread.join(5)
    server.close()
    assert result["failed"] and result["msg"].startswith("Cloudflare API GET /accounts/")
    assert TOKEN not in text and "Traceback" not in text


def test_an_unknown_argument_is_worded_as_a_module_would() -> None:
    result, _ = run({"api_token": TOKEN, "account_id": ACCOUNT, "name": "antone", "colour": "blue"})
    assert result["msg"].startswith("Unsupported parameters for (antone.infra.cloudflare_tunnel) module: colour.")
