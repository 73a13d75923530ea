"""The base role's checks (antone.infra.base_plan): each bad input gives one problem naming the variable."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.base_plan import base_plan

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMJvumLgbIfmL++UyW+Q4DSRQISMO0JQxgn7/hJcamZP operator"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0000 other"
GOOD: dict[str, Any] = {
    "timezone": "Europe/Berlin", "reboot_time": "04:30", "public_ports": [{"port": 443, "proto": "tcp"}, {"port": 51820,
                                                                                                      "proto": "udp"}],
    "deploy_user": "deploy", "deploy_user_keys": [KEY], "permit_root_login": "prohibit-password",
    "connect_user": "root", "connects_as_deploy": False, "connection_key": "", "connection": "ssh",
    "uses_password": False,
}


def problems(**changes: Any) -> list[str]:
    return base_plan({**GOOD, **changes})["problems"]


def test_good_inputs_have_no_problem() -> None:
    assert problems() == []
    assert problems(deploy_user="", deploy_user_keys=[], public_ports=[]) == []
    assert problems(public_ports=[{"port": "80"}]) == []  # proto is tcp unless said


@pytest.mark.parametrize(("changes", "expected"), [
    ({"timezone": "Europe/Atlantis"}, "base_timezone=Europe/Atlantis is not a timezone of the IANA database"),
    ({"timezone": "../etc/passwd"}, "base_timezone=../etc/passwd is not a timezone"),
    ({"reboot_time": "24:00"}, "base_unattended_reboot_time=24:00 must be HH:MM"),
    ({"reboot_time": "4:30"}, "base_unattended_reboot_time=4:30 must be HH:MM"),
    ({"public_ports": [{"port": 0}]}, "base_firewall_public_ports has a bad entry {'port': 0}"),
    ({"public_ports": [{"port": 70000}]}, "base_firewall_public_ports has a bad entry"),
    ({"public_ports": [{"port": 53, "proto": "icmp"}]}, "proto tcp or udp"),
    # the firewall's template opens a port whose proto is tcp or not said: a null one would stay closed
    ({"public_ports": [{"port": 8443, "proto": None}]}, "base_firewall_public_ports has a bad entry"),
    ({"public_ports": [{"port": 8443, "proto": ""}]}, "base_firewall_public_ports has a bad entry"),
    ({"public_ports": [{"port": "http"}]}, "base_firewall_public_ports has a bad entry"),
    ({"public_ports": ["443"]}, "base_firewall_public_ports has a bad entry 443"),
    ({"public_ports": "443"}, "base_firewall_public_ports must be a list"),
    ({"public_ports": [{"port": 443}, {"port": "443", "proto": "tcp"}]}, "lists a port twice: 443/tcp, 443/tcp"),
    ({"deploy_user": "root"}, "base_deploy_user=root: the deploy user is an ordinary account"),
    ({"deploy_user_keys": []}, "base_deploy_user=deploy has no SSH key in base_deploy_user_keys"),
    ({"permit_root_login": "no"}, "base_ssh_permit_root_login=no would lock the operator out"),
    ({"connection": "paramiko", "uses_password": True}, "This play logs in with a password"),
    ({"connects_as_deploy": True, "connect_user": "deploy", "connection_key": OTHER},
     "This play connects as deploy with a key that base_deploy_user_keys does not list (ssh-ed25519 key)"),
])
def test_each_bad_input_is_one_problem_naming_what_to_fix(changes: dict[str, Any], expected: str) -> None:
    found = problems(**changes)
    assert len(found) == 1 and expected in found[0], found


def test_what_cannot_lock_the_operator_out_is_allowed() -> None:
    assert problems(public_ports=[{"port": 443, "proto": "tcp"}, {"port": 443, "proto": "udp"}]) == []
    assert problems(permit_root_login="no", connect_user="deploy") == []
    assert problems(connection="community.docker.docker", uses_password=True) == []  # no SSH login
    assert problems(connects_as_deploy=True, connect_user="deploy", connection_key=KEY) == []


def test_the_deploy_keys_are_exclusive_unless_the_play_uses_a_key_it_cannot_read() -> None:
    assert base_plan(GOOD)["deploy_keys_exclusive"] is True
    assert base_plan({**GOOD, "connects_as_deploy": True, "connection_key": KEY})["deploy_keys_exclusive"] is True
    assert base_plan({**GOOD, "connects_as_deploy": True, "connection_key": ""})["deploy_keys_exclusive"] is False


def test_inputs_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(TypeError):
        base_plan([])  # type: ignore[arg-type]
