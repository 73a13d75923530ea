"""What the stack role must change, read from one antone.infra.host_state answer.

The stack role reads the host once (what listens, compose, the project's containers, every volume
with its creation time, the engine's images, the database record, the image archives' record, the
boot units) and this pure function turns that answer and the plan into the decisions its tasks act
on: which volumes to create, which archives to copy and load, whether PostgreSQL runs, the database
record to write, which units to correct. A re-run that finds everything in place runs none of them.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.units import unit_changes


def parse_volumes(stdout: str) -> dict[str, str]:
    """`docker volume inspect --format '{{.Name}} {{.CreatedAt}}'` lines -> name: created."""
    found = {}
    for line in stdout.splitlines():
        name, created = (line.strip().split(" ", 1) + [""])[:2]
        if name:
            found[name] = created.strip()
    return found


def parse_json_lines(stdout: str) -> list[dict[str, Any]]:
    """`docker ... --format '{{json .}}'`: one object a line; anything else (a warning) is skipped."""
    rows = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def parse_labels(text: str) -> dict[str, str]:
    """docker ps's Labels column: "a=1,b=2" (a value may not hold a comma the way compose sets them)."""
    labels = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        if sep:
            labels[key] = value
    return labels


def archive_record(archives: list[dict[str, Any]], signatures: dict[str, str]) -> dict[str, Any]:
    """What the host records after loading the archives: each archive's controller signature and images."""
    return {basename(archive): {"signature": signatures.get(str(archive["src"]), ""),
                                "images": sorted(str(i) for i in archive.get("images") or [])}
            for archive in archives}


def basename(archive: dict[str, Any]) -> str:
    """The archive's file name, as the host keeps it."""
    return str(archive["src"]).rsplit("/", 1)[-1]


def archives_to_load(archives: list[dict[str, Any]], signatures: dict[str, str], recorded: dict[str, Any],
                     images: set[str]) -> list[dict[str, Any]]:
    """The archives to copy and load: new or changed on the controller since the host loaded them (size and
    modification time), or one of whose images the engine no longer has."""
    wanted = archive_record(archives, signatures)
    return [archive for archive in archives
            if recorded.get(basename(archive)) != wanted[basename(archive)]
            or not set(str(i) for i in archive.get("images") or []) <= images]


def parse_images(stdout: str) -> dict[str, str]:
    """`docker image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'` lines -> name:tag: image id."""
    images = {}
    for line in stdout.splitlines():
        name, image_id = (line.strip().split(" ", 1) + [""])[:2]
        if name and not name.endswith(":<none>"):
            images[name] = image_id.strip()
    return images


def compose_current(containers: list[dict[str, Any]], services: list[str], recorded: dict[str, Any],
                    images: dict[str, str], plan_current: bool = False) -> bool:
    """Whether `compose up` has nothing to do: each service has one container, running and healthy (or without
    a health check), created from the configuration the role last brought up (its config hash as recorded)
    and from the image its tag names now; no other container of the project runs (an orphan); and the
    project's files were planned as they were for that `up` (plan_current: the host compared a digest of
    the plan recorded then with this run's; a run that wrote the files and stopped before compose, or
    wrote them alone with --tags render, leaves it behind)."""
    hashes = recorded.get("services") if isinstance(recorded.get("services"), dict) else {}
    if not services or not hashes or not plan_current:
        return False
    mine = [row for row in containers if row["Labels"].get("com.docker.compose.oneoff", "False") != "True"]
    by_service: dict[str, list[dict[str, Any]]] = {}
    for row in mine:
        by_service.setdefault(row["Labels"].get("com.docker.compose.service", ""), []).append(row)
    if set(by_service) != set(services):
        return False
    for service in services:
        if len(by_service[service]) != 1:
            return False
        row = by_service[service][0]
        status = str(row.get("Status", ""))
        if row.get("State") != "running" or ("(" in status and "(healthy)" not in status):
            return False
        if hashes.get(service) != row["Labels"].get("com.docker.compose.config-hash"):
            return False
        if images.get(str(row.get("Image", ""))) != row["Labels"].get("com.docker.compose.image"):
            return False
    return True


def stack_state(inputs: dict[str, Any]) -> dict[str, Any]:
    """inputs: state (the host_state result), volumes (the plan's key -> Docker name), database_volumes
    (key -> name), postgres_service, archives (stack_image_archives), signatures (src -> signature),
    database_record_file, archive_record_file, units (unit -> {enabled, active}), services (the planned services)
    services_record_file (the config hashes of the last `compose up`) and plan_current (whether the
    digest of the plan recorded at that `up` is this run's)."""
    if not isinstance(inputs, dict):
        raise TypeError(f"takes a mapping (state, volumes, database_volumes, ...), got {type(inputs).__name__}")
    state = inputs.get("state") or {}
    commands = state.get("commands") or {}
    contents = state.get("contents") or {}

    def stdout(name: str) -> str:
        return str((commands.get(name) or {}).get("stdout") or "")

    def record(path: str) -> dict[str, Any]:
        text = contents.get(path) or ""
        try:
            value = json.loads(text) if text.strip() else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    found = parse_volumes(stdout("volumes"))
    containers = [dict(row, Labels=parse_labels(str(row.get("Labels", "")))) for row in parse_json_lines(stdout("containers"))]
    image_ids = parse_images(stdout("images"))
    images = set(image_ids)
    database_volumes = inputs.get("database_volumes") or {}
    postgres = [row for row in containers
                if row["Labels"].get("com.docker.compose.service") == inputs.get("postgres_service")]
    archives = inputs.get("archives") or []
    signatures = inputs.get("signatures") or {}
    return {
        "found_volumes": found,
        "missing_volumes": {key: name for key, name in (inputs.get("volumes") or {}).items() if name not in found},
        "recorded": record(str(inputs.get("database_record_file", ""))),
        # the database record as the volumes stand now; a volume this run creates is asked about again
        "database_record": {key: {"name": name, "created": found[name]}
                            for key, name in database_volumes.items() if name in found},
        "database_volumes_found": all(name in found for name in database_volumes.values()),
        "postgres_running": any(row.get("State") == "running" for row in postgres),
        "archives_to_load": archives_to_load(archives, signatures, record(str(inputs.get("archive_record_file", ""))),
                                             images),
        "archive_record": archive_record(archives, signatures),
        "images": sorted(images),
        "unit_actions": unit_changes(state.get("units") or {}, inputs.get("units") or {}),
        # compose up has nothing to do, by the containers the preflight found and the record of the last up
        "compose_current": compose_current(containers, [str(s) for s in inputs.get("services") or []],
                                           record(str(inputs.get("services_record_file", ""))), image_ids,
                                           inputs.get("plan_current") in (True, "True", "true")),
    }
