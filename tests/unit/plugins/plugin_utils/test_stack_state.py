"""The stack role's decisions from one host_state answer: what to create, copy, load, start and run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.stack_state import (
    archives_to_load, compose_current, parse_images, parse_labels, parse_volumes, stack_state)

ARCHIVE = {"src": "/cache/stack.tar", "images": ["app:local", "pg:local"]}
SIG = {"/cache/stack.tar": "100:5"}
RECORD = {"stack.tar": {"signature": "100:5", "images": ["app:local", "pg:local"]}}
IMAGES = {"app:local": "sha256:aa", "pg:local": "sha256:bb"}


def container(service: str, hash_: str = "h", image: str = "app:local", image_id: str = "sha256:aa",
              state: str = "running", status: str = "Up 5 minutes (healthy)", oneoff: str = "False") -> dict[str, Any]:
    labels = (f"com.docker.compose.project=antone,com.docker.compose.service={service},"
              f"com.docker.compose.config-hash={hash_},com.docker.compose.image={image_id},"
              f"com.docker.compose.oneoff={oneoff}")
    return {"Names": f"antone-{service}-1", "Image": image, "State": state, "Status": status, "Labels": labels}


def parsed(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row, Labels=parse_labels(row["Labels"])) for row in rows]


def test_parsers_read_dockers_lines() -> None:
    assert parse_volumes("antone_pg 2026-11-26T10:00:00Z\n\nother 2026-01-01T00:00:00Z\n") == {
        "antone_pg": "2026-11-26T10:00:00Z", "other": "2026-01-01T00:00:00Z"}
    assert parse_images("app:local sha256:aa\n<none>:<none> sha256:cc\n") == {"app:local": "sha256:aa"}
    assert parse_labels("a=1,b=x=y,broken") == {"a": "1", "b": "x=y"}


def test_an_archive_loaded_as_recorded_with_its_images_present_is_left_alone() -> None:
    assert archives_to_load([ARCHIVE], SIG, RECORD, set(IMAGES)) == []


@pytest.mark.parametrize(("signatures", "recorded", "images"), [
    ({"/cache/stack.tar": "101:5"}, RECORD, set(IMAGES)),   # the archive changed on the controller
    (SIG, {}, set(IMAGES)),                                 # never recorded (a new host)
    (SIG, RECORD, {"app:local"}),                           # the engine lost an image
])
def test_a_changed_new_or_incomplete_archive_is_loaded(signatures: dict[str, str], recorded: dict[str, Any],
                                                      images: set[str]) -> None:
    assert archives_to_load([ARCHIVE], signatures, recorded, images) == [ARCHIVE]


def test_compose_has_nothing_to_do_when_every_service_runs_as_the_last_up_left_it() -> None:
    rows = parsed(container("api"), container("postgres", image="pg:local", image_id="sha256:bb", status="Up 1 hour"))
    assert compose_current(rows, ["api", "postgres"], {"services": {"api": "h", "postgres": "h"}}, IMAGES, True)


@pytest.mark.parametrize(("recorded", "plan_current"), [
    ({"services": {"api": "h"}}, False),   # the files were planned otherwise since the last up
    ({"api": "h"}, True),                  # a record of an older shape
])
def test_compose_runs_when_the_plan_differs_from_the_last_ups(recorded: dict[str, Any], plan_current: bool) -> None:
    assert not compose_current(parsed(container("api")), ["api"], recorded, IMAGES, plan_current)


@pytest.mark.parametrize("rows", [
    [container("api", state="exited", status="Exited (1)")],
    [container("api", status="Up 5 minutes (unhealthy)")],
    [container("api", status="Up 5 seconds (health: starting)")],
    [container("api", hash_="edited-by-hand")],
    [container("api", image_id="sha256:old")],
    [container("api"), container("api")],
    [container("api"), container("gone")],
    [],
])
def test_compose_runs_when_a_service_is_not_as_the_last_up_left_it(rows: list[dict[str, Any]]) -> None:
    assert not compose_current(parsed(*rows), ["api"], {"services": {"api": "h"}}, IMAGES, True)


def test_compose_runs_without_a_record_and_ignores_one_off_containers() -> None:
    rows = parsed(container("api"), container("api", oneoff="True", status="Exited (0)", state="exited"))
    assert not compose_current(rows, ["api"], {}, IMAGES, True)
    assert compose_current(rows, ["api"], {"services": {"api": "h"}}, IMAGES, True)


def inputs(**overrides: Any) -> dict[str, Any]:
    rows = [container("postgres", image="pg:local", image_id="sha256:bb")]
    state = {"commands": {"volumes": {"rc": 0, "stdout": "antone_pg 2026-11-26T10:00:00Z\n"},
                          "containers": {"rc": 0, "stdout": "".join(json.dumps(r) + "\n" for r in rows)},
                          "images": {"rc": 0, "stdout": "app:local sha256:aa\npg:local sha256:bb\n"}},
             "contents": {"/rec/db.json": json.dumps({"pg": {"name": "antone_pg", "created": "2026-11-26T10:00:00Z"}}),
                          "/rec/archives.json": json.dumps(RECORD), "/rec/services.json": json.dumps({"services": {"postgres": "h"}})},
             "units": {"antone-stack-antone.service": {"load_state": "loaded", "unit_file_state": "enabled",
                                                       "active_state": "active"}}}
    return {"state": state, "volumes": {"pg": "antone_pg", "cache": "antone_cache"}, "database_volumes": {"pg": "antone_pg"},
            "postgres_service": "postgres", "archives": [ARCHIVE], "signatures": SIG,
            "database_record_file": "/rec/db.json", "archive_record_file": "/rec/archives.json",
            "units": {"antone-stack-antone.service": {"enabled": True}, "antone-autoheal-antone.timer": {"enabled": True}},
            "services": ["postgres"], "services_record_file": "/rec/services.json", "plan_current": True, **overrides}


def test_the_decisions_from_one_read() -> None:
    found = stack_state(inputs())
    assert found["missing_volumes"] == {"cache": "antone_cache"}
    assert found["database_record"] == found["recorded"] == {"pg": {"name": "antone_pg", "created": "2026-11-26T10:00:00Z"}}
    assert found["database_volumes_found"] and found["postgres_running"]
    assert found["archives_to_load"] == [] and found["archive_record"] == RECORD
    assert found["unit_actions"] == ["antone-autoheal-antone.timer"]
    assert found["compose_current"]
    assert not stack_state(inputs(plan_current=False))["compose_current"]


def test_a_new_host_needs_everything() -> None:
    found = stack_state(inputs(state={"commands": {name: {"rc": 127, "stdout": ""} for name in ("volumes", "containers", "images")}}))
    assert found["missing_volumes"] == {"pg": "antone_pg", "cache": "antone_cache"}
    assert found["recorded"] == {} and not found["database_volumes_found"] and not found["postgres_running"]
    assert found["archives_to_load"] == [ARCHIVE] and not found["compose_current"]
    assert found["unit_actions"] == ["antone-stack-antone.service", "antone-autoheal-antone.timer"]


def test_an_unreadable_record_counts_as_none() -> None:
    state = inputs()["state"]
    state["contents"]["/rec/db.json"] = "{not json"
    assert stack_state(inputs(state=state))["recorded"] == {}
