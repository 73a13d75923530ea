"""Cloudflare Tunnel ingress rules and Access lists, checked and normalised: pure functions, no I/O.

Shared by the antone.infra.cloudflare_tunnel module (which sends the rules) and the
antone.infra.cloudflared_plan filter (the cloudflared role's plan, which checks them before any change).
"""

from __future__ import annotations

import re
from typing import Any

SCHEMES = ("http", "https", "tcp", "ssh", "rdp", "smb", "unix", "unix+tls")
BARE_SERVICES = ("hello_world", "bastion")
CATCH_ALL = {"service": "http_status:404"}
RULE_KEYS = ("hostname", "path", "service", "originRequest")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def compact(value: Any) -> Any:
    """The value without None, empty strings, empty lists and empty dicts, recursively."""
    if isinstance(value, dict):
        items = ((key, compact(item)) for key, item in value.items())
        return {key: item for key, item in items if item not in (None, "", [], {})}
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


def normalise_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One ingress rule as compared and sent: known keys only, empty values dropped, hostname in lower case."""
    kept = compact({key: rule.get(key) for key in RULE_KEYS})
    if "hostname" in kept:
        kept["hostname"] = str(kept["hostname"]).lower().rstrip(".")
    return kept


def is_catch_all(rule: dict[str, Any]) -> bool:
    return not rule.get("hostname") and not rule.get("path")


def normalise_ingress(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The rules, normalised, with the catch-all appended when the last rule does not match everything."""
    normal = [normalise_rule(rule) for rule in rules or []]
    if not normal or not is_catch_all(normal[-1]):
        normal.append(dict(CATCH_ALL))
    return normal


def service_problem(service: Any) -> str | None:
    if not isinstance(service, str) or not service:
        return "has no service"
    if service in BARE_SERVICES:
        return None
    if service.startswith("http_status:"):
        return None if re.fullmatch(r"http_status:[1-5]\d\d", service) else f"has a bad status in {service!r}"
    scheme, separator, rest = service.partition(":")
    if separator and scheme in SCHEMES and rest:
        if scheme.startswith("unix") or rest.startswith("//") and len(rest) > 2:
            return None
    return (f"has the service {service!r}, whose scheme is not one of "
            f"{', '.join(SCHEMES)}, http_status:NNN, {', '.join(BARE_SERVICES)}")


def in_zone(hostname: str, zone: str) -> bool:
    zone = zone.lower().rstrip(".")
    bare = hostname[2:] if hostname.startswith("*.") else hostname
    return bare == zone or bare.endswith("." + zone)


def ingress_problems(rules: list[dict[str, Any]], zone: str | None) -> list[str]:
    """Every reason the (normalised) rules cannot be sent, one sentence each; [] when they can."""
    problems = []
    for index, rule in enumerate(rules):
        label = f"ingress rule {index + 1}" + (f" ({rule['hostname']})" if rule.get("hostname") else "")
        if problem := service_problem(rule.get("service")):
            problems.append(f"{label} {problem}")
        hostname = rule.get("hostname")
        if hostname and zone and not in_zone(hostname, zone):
            problems.append(f"{label}: {hostname} is outside the zone {zone}")
        if hostname and not re.fullmatch(r"(\*\.)?([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]+", hostname):
            problems.append(f"{label}: {hostname!r} is not a hostname")
        if is_catch_all(rule) and index != len(rules) - 1:
            problems.append(f"{label} matches everything, so the rules after it would never be used")
        if "originRequest" in rule and not isinstance(rule["originRequest"], dict):
            problems.append(f"{label}: originRequest must be a mapping")
    return problems


def ingress_hostnames(rules: list[dict[str, Any]]) -> list[str]:
    """The distinct hostnames, in order."""
    seen: list[str] = []
    for rule in rules:
        if rule.get("hostname") and rule["hostname"] not in seen:
            seen.append(rule["hostname"])
    return seen


def access_problems(access: list[dict[str, Any]], hostnames: list[str]) -> list[str]:
    """Every reason the Access list cannot be applied: each entry names an ingress hostname (once)
    and at least one email address; session_duration is a Go duration (24h, 30m)."""
    problems = []
    seen: set[str] = set()
    for index, entry in enumerate(access):
        hostname = str(entry.get("hostname") or "").lower().rstrip(".")
        label = f"access entry {index + 1}" + (f" ({hostname})" if hostname else "")
        if not hostname:
            problems.append(f"{label} has no hostname")
        elif hostname not in hostnames:
            problems.append(f"{label}: {hostname} is not the hostname of an ingress rule")
        elif hostname in seen:
            problems.append(f"{label}: {hostname} is listed twice")
        seen.add(hostname)
        emails = entry.get("emails") or []
        if not isinstance(emails, list) or not emails:
            problems.append(f"{label} lists no email address; an Access application that lets nobody in is a mistake")
        else:
            problems += [f"{label}: {email!r} is not an email address" for email in emails
                         if not isinstance(email, str) or not EMAIL.match(email)]
        duration = str(entry.get("session_duration") or "24h")
        if not DURATION.match(duration):
            problems.append(f"{label}: session_duration {duration!r} is not a duration such as 24h or 30m")
    return problems


def normalise_access(access: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Each entry as compared and sent: hostname in lower case, emails in lower case, sorted, once."""
    return [{"hostname": str(entry.get("hostname") or "").lower().rstrip("."),
             "emails": sorted({str(email).strip().lower() for email in entry.get("emails") or []}),
             "session_duration": str(entry.get("session_duration") or "24h")}
            for entry in access or []]
