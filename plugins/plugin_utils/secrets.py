"""Secret values in text: percent-encoding for URLs, and masking in anything shown to a person.

A secret reaches a log in more forms than its own: percent-encoded in a URL (upper or lower case
hex, once or twice), form-encoded (a space as +), escaped in JSON (\\uXXXX, \\", \\/, \\n, escaped
again inside JSON), in base64 (an Authorization header, a token), or broken over lines and
indented. mask_secrets masks every such form; a secret too short to mask without the masks giving
it away (or masking half the text) withholds the whole text instead.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

MASK = "********"
MIN_MASKABLE = 6  # shorter secrets: where the masks fall would tell them
MIN_BASE64 = 8  # base64 cores shorter than this match too much
WITHHELD = ("(withheld: this text holds a secret too short to mask without giving it away; "
            "read it on the host)")
SHORT_ESCAPES = {'"': '"', "\\": "\\\\", "/": "/", "\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}
BACKSLASHES = r"\\{1,7}"  # JSON escapes, escaped again when JSON is quoted in JSON


def urlquote(value: Any) -> str:
    """Every character but RFC 3986's unreserved ones percent-encoded (a / in a password too)."""
    return quote(str(value), safe="-._~")


def hex_pattern(byte: int) -> str:
    """Two hex digits of byte, in either case."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{byte:02x}")


def json_unit_pattern(code: int) -> str:
    return BACKSLASHES + "u" + "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{code:04x}")


def char_pattern(char: str) -> str:
    """Every form one character of a secret takes in the encodings above, as a regex."""
    forms = [re.escape(char)]
    forms.append("".join("%(?:25)?" + hex_pattern(b) for b in char.encode("utf-8")))
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        forms.append(json_unit_pattern(0xD800 + (code >> 10)) + json_unit_pattern(0xDC00 + (code & 0x3FF)))
    else:
        forms.append(json_unit_pattern(code))
    if char in SHORT_ESCAPES:
        forms.append(BACKSLASHES + re.escape(SHORT_ESCAPES[char]))
    if char == " ":
        forms.append(r"\+")
    if char == "\n":
        forms += [r"\r\n", BACKSLASHES + r"r" + BACKSLASHES + "n"]
    return "(?:" + "|".join(forms) + ")"


def base64_cores(value: str) -> list[str]:
    """The part of value's base64 (standard and URL-safe) that is the same wherever value starts in
    the encoded data: one for each of the three alignments."""
    data = value.encode("utf-8")
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        start = (offset * 4 + 2) // 3  # characters that also carry the bytes before
        end = len(encoded) - (0 if (offset + len(data)) % 3 == 0 else 1)  # the last one carries what follows
        core = encoded[start:end]
        if len(core) >= MIN_BASE64:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return sorted(cores, key=len, reverse=True)


def secret_pattern(value: str) -> str:
    """value in every form above, as one regex: its characters' forms, its base64, and (for a value
    over several lines) each long enough line on its own."""
    forms = ["".join(char_pattern(c) for c in value)]
    forms += [re.escape(core) for core in base64_cores(value)]
    lines = [line.strip() for line in re.split(r"\r?\n", value)]
    if len(lines) > 1:
        forms += ["".join(char_pattern(c) for c in line) for line in lines if len(line) >= MIN_MASKABLE]
    return "|".join(f"(?:{form})" for form in forms)


def secret_values(secrets: Any) -> list[str]:
    """Each value as text, longest first, without empties."""
    values = secrets.values() if isinstance(secrets, dict) else (secrets or [])
    texts = {str(value) for value in values if value is not None and str(value)}
    return sorted(texts, key=lambda v: (-len(v), v))


def mask_secrets(text: Any, secrets: Any) -> str:
    """text with every form of every secret replaced by ********, or withheld altogether when a
    secret too short to mask appears in it."""
    result = str(text)
    values = secret_values(secrets)
    for value in values:
        if len(value) < MIN_MASKABLE and re.search(secret_pattern(value), result):
            return WITHHELD
    maskable = [value for value in values if len(value) >= MIN_MASKABLE]
    if not maskable:
        return result
    return re.sub("|".join(f"(?:{secret_pattern(v)})" for v in maskable), MASK, result)
