"""The verify role's one plan: antone-verify's configuration from the published facts, with no check
written for one stack, and every bad input named by its variable."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.stack_plan import stack_plan
from ansible_collections.antone.infra.plugins.plugin_utils.verify_plan import verify_plan

SERVICES: dict[str, Any] = {
    "db": {"image": "postgis:17", "environment": {"POSTGRES_USER": "gis"}, "secrets": {"POSTGRES_PASSWORD": "pw"},
           "file_secrets": True, "volumes": ["db_data:/var/lib/postgresql/data"],
           "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U gis"]}},
    "cache": {"image": "redis:7", "healthcheck": {"test": ["CMD", "redis-cli", "ping"]}},
    "web": {"image": "nginx:1.27", "ports": [{"published": 80, "target": 80, "host_ip": "0.0.0.0"}],
            "healthcheck": {"test": ["CMD", "wget", "-q", "--spider", "http://127.0.0.1/healthz"]}},
}
STACK = stack_plan({"services": SERVICES, "volumes": {"db_data": {}}, "secrets": {"pw": "secret-pw"},
                    "project_name": "gis", "project_dir": "/opt/gis", "postgres_service": "db",
                    "firewall": {"firewall_enabled": True, "public_ports": [{"port": 80, "proto": "tcp"}]}})["publication"]
TUNING = {"settings": {"shared_buffers": "2GB", "random_page_cost": "1.1", "work_mem": "5242kB"}}
BACKUP = {"cron_file": "/etc/cron.d/antone-backup", "cron_jobs": ["antone-backup nightly backup"],
          "status_file": "/var/lib/antone-backup/status.json", "time": "02:00", "rpo_hours": 24}


def plan(**changes: Any) -> dict[str, Any]:
    inputs = {"stack": copy.deepcopy(STACK), "postgres_tuning": TUNING, "backup": BACKUP,
              "base": {"ssh_ports": [22, 2222]}}
    return verify_plan({**inputs, **changes})


def test_a_stack_of_other_services_gets_its_checks_from_its_own_data() -> None:
    config = plan()["config"]
    assert config["services"]["db"] == {"healthcheck": True, "mounts": [
        {"volume": "gis_db_data", "target": "/var/lib/postgresql/data"}]}
    assert config["http"] == [{"service": "web", "port": 80, "path": "/healthz", "expect": "success"}]
    assert config["postgres"]["network"] == "antone-network"  # the inventory names no network of its own
    assert config["postgres"]["service"] == "db"
    assert config["postgres"]["password_file"] == "/opt/gis/secrets/pw"
    assert config["volumes"] == {"db_data": "gis_db_data"}
    assert config["listeners"]["allowed"] == [{"port": 22, "proto": "tcp"}, {"port": 80, "proto": "tcp"},
                                              {"port": 2222, "proto": "tcp"}]
    wireguard = plan(base={"ssh_ports": [22], "public_ports": [{"port": 51820, "proto": "udp"}]})["config"]
    assert {"port": 51820, "proto": "udp"} in wireguard["listeners"]["allowed"]
    assert sorted(f["path"] for f in config["files"]) == ["/opt/gis/env/cache.env", "/opt/gis/env/db.env",
                                                    "/opt/gis/env/web.env", "/opt/gis/secrets/pw"]


def test_tuned_settings_are_expected_in_kb_when_they_are_sizes() -> None:
    assert plan()["config"]["postgres"]["settings"] == {
        "random_page_cost": {"text": "1.1"},
        "shared_buffers": {"text": "2GB", "kb": 2 * 1024 * 1024},
        "work_mem": {"text": "5242kB", "kb": 5242},
    }


def test_backup_checks_come_from_the_backup_fact_and_the_margin() -> None:
    config = plan(backup_margin_hours=2)["config"]
    assert config["backup"]["max_age_hours"] == 26
    assert config["cron"] == {"file": "/etc/cron.d/antone-backup", "jobs": ["antone-backup nightly backup"]}
    without = plan(backup={})["config"]
    assert (without["backup"], without["cron"]) == ({}, {})


def test_inventory_http_checks_replace_or_add() -> None:
    extra = [{"service": "web", "port": 80, "path": "/healthz", "expect": "answers"},
             {"service": "cache", "port": 8080, "path": "/"}]
    assert plan(http_checks=extra)["config"]["http"] == [
        {"service": "web", "port": 80, "path": "/healthz", "expect": "answers"},
        {"service": "cache", "port": 8080, "path": "/", "expect": 200}]


@pytest.mark.parametrize(("changes", "message"), [
    ({"stack": None}, "the fact `stack` is missing"),
    ({"restart_limit": 0}, "verify_restart_limit must be a whole number 1 or more"),
    ({"backup_margin_hours": "soon"}, "verify_backup_margin_hours must be a whole number 0 or more"),
    ({"allowed_ports": [{"port": 70000}]}, "verify_allowed_ports has a bad entry"),
    ({"allowed_ports": "6379"}, "verify_allowed_ports must be a list"),
    ({"http_checks": [{"service": "nope", "port": 1}]}, "must name a service of the stack (cache, db, web)"),
    ({"http_checks": [{"service": "web", "port": 80, "path": "x"}]}, "needs a port and a path starting with /"),
    ({"http_checks": [{"service": "web", "port": 80, "expect": 999}]}, "expect is an HTTP status"),
    ({"healthchecks_url": "hc-ping.com/x"}, "verify_healthchecks_url must be an http(s) ping URL"),
    ({"timer_interval": "often"}, "verify_timer_interval must be a systemd time span"),
    ({"surprise": 1}, "unknown verify inputs ['surprise']"),
])
def test_every_problem_names_the_variable(changes: dict[str, Any], message: str) -> None:
    result = plan(**changes)
    assert any(message in p for p in result["problems"]), result["problems"]
    assert "config" not in result


def test_the_healthchecks_url_is_not_in_any_problem() -> None:
    result = plan(healthchecks_url="https://hc-ping.com/6f2b8e0a-3c1d-4e5f-9a7b-0c1d2e3f4a5b", restart_limit=0)
    assert not any("6f2b8e0a" in p for p in result["problems"])


def test_the_timer() -> None:
    assert plan()["timer"] == {"enabled": True, "interval": "15min"}
    assert plan(timer=False, timer_interval="1h")["timer"] == {"enabled": False, "interval": "1h"}
    assert plan(timer="false")["timer"]["enabled"] is False  # -e verify_timer=false


def test_a_stack_that_was_only_rendered_is_not_verified() -> None:
    rendered = {**copy.deepcopy(STACK), "deployed": False}
    result = plan(stack=rendered)
    assert result["problems"] == [] and "stack_deploy: false" in result["skip"] and "config" not in result


def test_the_inventory_checks_replace_derived_ones_by_service_port_and_path() -> None:
    extra = [{"service": "web", "port": 80, "path": "/healthz", "expect": 204}]
    assert plan(http_checks=extra)["config"]["http"] == [{"service": "web", "port": 80, "path": "/healthz", "expect": 204}]


def test_the_install_writes_the_command_its_config_and_the_units_in_one_call() -> None:
    writes = plan()["writes"]
    paths = [f["path"] for f in writes["files"]]
    assert paths == ["/usr/local/sbin/antone-verify", "/etc/antone/verify.json",
                     "/etc/systemd/system/antone-verify.service", "/etc/systemd/system/antone-verify.timer"]
    assert writes["files"][0]["src"] == "antone_verify.py" and writes["files"][1]["mode"] == "0600"
    assert "ExecStart=/usr/local/sbin/antone-verify --ping" in writes["files"][2]["content"]
    assert "OnUnitActiveSec=15min" in writes["files"][3]["content"]
    assert writes["units"] == paths[2:] and writes["directories"][0]["path"] == "/etc/antone"


def test_the_config_is_private_only_when_it_names_a_healthchecks_url() -> None:
    shown = plan()["writes"]["files"][1]
    hidden = plan(healthchecks_url="https://hc-ping.com/0123-secret")["writes"]["files"][1]
    assert "content" in shown and "private_content" not in shown
    assert "content" not in hidden and "0123-secret" in hidden["private_content"]
