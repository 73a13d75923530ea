"""antone.infra.cloudflared_plan: the cloudflared role's settings checked, and what it publishes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.filter.cloudflared_plan import cloudflared_plan, image_version, token_fields

TOKEN = base64.b64encode(json.dumps({"a": "acc", "t": "tunnel-uuid", "s": "c2VjcmV0"}).encode()).decode()
CREDENTIALS = {"AccountTag": "acc", "TunnelID": "tunnel-uuid", "TunnelSecret": "c2VjcmV0"}
API = {"mode": "api", "tunnel_name": "antone-web1", "account_id": "acc", "api_token": "secret-api-token",
       "zone": "example.com", "image": "cloudflare/cloudflared:2025.11.1",
       "ingress": [{"hostname": "App.example.com", "service": "http://dashboard:3000"}],
       "access": [{"hostname": "app.example.com", "emails": ["Owner@example.com"]}]}


def plan(**changes: Any) -> dict[str, Any]:
    return cloudflared_plan({**API, **changes})


def test_api_mode_normalises_and_appends_the_catch_all() -> None:
    result = plan()
    assert result["problems"] == []
    assert result["ingress"] == [{"hostname": "app.example.com", "service": "http://dashboard:3000"},
                                 {"service": "http_status:404"}]
    assert result["hostnames"] == ["app.example.com"]
    assert result["access"] == [{"hostname": "app.example.com", "emails": ["owner@example.com"],
                                 "session_duration": "24h"}]
    assert result["local_config"] == {} and result["tunnel_id"] == ""


def test_token_mode_reads_the_tunnel_id_from_the_token() -> None:
    result = cloudflared_plan({"mode": "token", "token": TOKEN, "image": API["image"]})
    assert result["problems"] == [] and result["tunnel_id"] == "tunnel-uuid" and result["ingress"] == []


def test_local_mode_writes_config_yml_with_the_credentials_path() -> None:
    result = cloudflared_plan({"mode": "local", "credentials": CREDENTIALS, "zone": "example.com",
                               "ingress": API["ingress"], "image": API["image"]})
    assert result["problems"] == []
    assert result["local_config"] == {"tunnel": "tunnel-uuid",
                                      "credentials-file": "/run/secrets/cloudflare_tunnel_credentials",
                                      "ingress": result["ingress"]}


def test_none_mode_needs_nothing() -> None:
    assert cloudflared_plan({"mode": "none", "image": "cloudflare/cloudflared:latest"})["problems"] == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"mode": "tunnel"}, "cloudflared_mode must be one of api, token, local, none"),
        ({"account_id": ""}, "cloudflared_mode api needs cloudflared_account_id"),
        ({"api_token": ""}, "cloudflared_mode api needs cloudflared_api_token (from the vault)"),
        ({"zone": ""}, "cloudflared_mode api needs cloudflared_zone"),
        ({"tunnel_name": "two words"}, "cloudflared_tunnel_name must be 1 to 63"),
        ({"ingress": []}, "needs cloudflared_ingress: at least one rule with a hostname"),
        ({"ingress": [{"hostname": "app.example.org", "service": "http://a:1"}]}, "app.example.org is outside the zone"),
        ({"ingress": [{"hostname": "app.example.com", "service": "ftp://a:21"}]}, "whose scheme is not one of"),
        ({"ingress": [{"service": "http://a:1"}, {"hostname": "app.example.com", "service": "http://a:1"}]},
         "matches everything, so the rules after it would never be used"),
        ({"ingress": "app.example.com"}, "cloudflared_ingress must be a list of rules"),
        ({"access": [{"hostname": "admin.example.com", "emails": ["a@example.com"]}]},
         "admin.example.com is not the hostname of an ingress rule"),
        ({"access": [{"hostname": "app.example.com", "emails": []}]}, "lists no email address"),
        ({"mode": "token", "token": ""}, "cloudflared_mode token needs cloudflared_token"),
        ({"mode": "token", "token": "not-a-token"}, "cloudflared_token is not a tunnel token"),
        ({"mode": "local", "credentials": {"TunnelID": "x"}}, "cloudflared_credentials lacks AccountTag, TunnelSecret"),
        ({"mode": "local", "credentials": "x"}, "cloudflared_credentials must be the JSON object"),
        ({"mode": "local", "credentials": CREDENTIALS, "access": API["access"]}, "cloudflared_access needs cloudflared_mode api"),
        ({"image": "cloudflare/cloudflared:latest"}, "is not pinned"),
        ({"image": "cloudflare/cloudflared"}, "is not pinned"),
        ({"image": "cloudflare/cloudflared:2025.2.1"}, "older than 2025.4"),
    ],
)
def test_each_problem_is_named(changes: dict[str, Any], expected: str) -> None:
    found = plan(**changes)["problems"]
    assert any(expected in message for message in found), found


def test_no_problem_shows_a_secret() -> None:
    secret = "c2VjcmV0LXRoYXQtaXMtbm90LWEtdG9rZW4="
    found = plan(mode="token", token=secret, api_token=secret)["problems"]
    assert found and all(secret not in message for message in found)
    assert secret not in json.dumps(plan(api_token=secret))


def test_token_fields_and_image_version() -> None:
    assert token_fields(TOKEN) == {"a": "acc", "t": "tunnel-uuid", "s": "c2VjcmV0"}
    assert token_fields(base64.b64encode(b'{"a": "x"}').decode()) is None
    assert token_fields("%%%") is None
    assert image_version("cloudflare/cloudflared:2025.11.1") == (2025, 11)
    assert image_version("registry.local:5000/cloudflared:2025.4.0@sha256:ab") == (2025, 4)
    assert image_version("cloudflare/cloudflared@sha256:ab") is None
