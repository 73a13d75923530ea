"""Memory sizes as PostgreSQL writes them (4GB, 512MB, 39568kB), in kB inside the plugins."""

from __future__ import annotations

import re

KB_PER_MB = 1024
KB_PER_GB = 1024 * 1024
UNITS = {"kB": 1, "MB": KB_PER_MB, "GB": KB_PER_GB, "TB": KB_PER_GB * 1024}
MEMORY_VALUE = re.compile(r"^([0-9]+)\s*(kB|MB|GB|TB)$")


def format_kb(kb: int) -> str:
    """Memory as PostgreSQL reads it: GB or MB when exact, otherwise kB (PGTune's rule)."""
    if kb % KB_PER_GB == 0:
        return f"{kb // KB_PER_GB}GB"
    if kb % KB_PER_MB == 0:
        return f"{kb // KB_PER_MB}MB"
    return f"{kb}kB"


def parse_memory(value: str) -> int:
    """The inverse of format_kb: '4GB' -> 4194304 (kB). PostgreSQL's units are case-sensitive."""
    match = MEMORY_VALUE.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a PostgreSQL memory value (a whole number and kB, MB, GB or TB)")
    return int(match.group(1)) * UNITS[match.group(2)]


DOCKER_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?$", re.IGNORECASE)
DOCKER_FACTORS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def docker_memory_mb(value: object) -> int:
    """A Docker or compose memory size (a number of bytes, 512m, 1g, 1.5GiB) in whole MB, rounded up."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a memory size")
    match = DOCKER_MEMORY.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a memory size (a number and k, m, g or t: 512m, 1g)")
    size = float(match.group(1)) * DOCKER_FACTORS[match.group(2).lower()]
    return int(-(-size // (1024 ** 2)))
