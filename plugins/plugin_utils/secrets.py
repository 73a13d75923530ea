"""Secret values in text: percent-encoding for URLs, and masking in anything shown to a person."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

MASK = "********"


def urlquote(value: Any) -> str:
    """Every character but RFC 3986's unreserved ones percent-encoded (a / in a password too)."""
    return quote(str(value), safe="-._~")


def secret_values(secrets: Any) -> list[str]:
    """Each value and its percent-encoded form, longest first, without empties."""
    values = secrets.values() if isinstance(secrets, dict) else (secrets or [])
    forms = {form for value in values if str(value) for form in (str(value), urlquote(value))}
    return sorted(forms, key=lambda v: (-len(v), v))


def mask_secrets(text: Any, secrets: Any) -> str:
    result = str(text)
    for value in secret_values(secrets):
        result = result.replace(value, MASK)
    return result
