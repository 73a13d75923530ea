"""mask_secrets: every form in which a secret reaches a log is masked; a secret too short to mask
withholds the whole text."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.secrets import MASK, WITHHELD, mask_secrets

SECRET = "p$ss@w/rd:%40 é\"x"
KEY = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n0wIDAQABAkBo8ljTsmw0\n-----END KEY-----"


@pytest.mark.parametrize("form", [
    SECRET,
    quote(SECRET, safe=""),
    quote(SECRET, safe="").lower(),
    quote(SECRET, safe="/"),
    quote(quote(SECRET, safe=""), safe=""),  # encoded twice
    quote_plus(SECRET),
    json.dumps(SECRET)[1:-1],
    json.dumps(SECRET, ensure_ascii=False)[1:-1],
    json.dumps(json.dumps(SECRET)[1:-1])[1:-1],  # JSON inside JSON
    json.dumps(SECRET).replace("\\u00e9", "\\u00E9")[1:-1],
    json.dumps(SECRET)[1:-1].replace("/", "\\/"),
], ids=["plain", "percent", "percent-lower", "url-path", "percent-twice", "form", "json", "json-utf8",
        "json-in-json", "json-upper-hex", "json-slash"])
def test_every_encoding_is_masked(form: str) -> None:
    masked = mask_secrets(f"before {form} after", {"pw": SECRET})
    assert masked == f"before {MASK} after", masked


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "user:"])
def test_base64_is_masked_wherever_the_secret_starts(prefix: str) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        token = encode(f"{prefix}{SECRET}!".encode()).decode()
        masked = mask_secrets(f"Authorization: Basic {token}", [SECRET])
        assert MASK in masked and token not in masked, (prefix, masked)


def test_a_secret_broken_over_lines_and_indented_is_masked() -> None:
    report = "== api: exited\n" + "\n".join("  " + line for line in KEY.splitlines())
    masked = mask_secrets(report, {"key": KEY})
    assert "MIIBOgIBAAJBAKj34GkxFhD9" not in masked and "0wIDAQABAkBo8ljTsmw0" not in masked
    assert mask_secrets(KEY.replace("\n", "\r\n"), [KEY]) == MASK
    assert mask_secrets(json.dumps(KEY), [KEY]) == f'"{MASK}"'


def test_a_secret_too_short_to_mask_withholds_the_whole_text() -> None:
    assert mask_secrets("the pin is 1234, see above", {"pin": "1234"}) == WITHHELD
    assert mask_secrets("the pin is %31234", {"pin": "1234"}) == WITHHELD
    # absent from the text, it gives nothing away
    assert mask_secrets("nothing here", {"pin": "1234", "pw": SECRET}) == "nothing here"


def test_the_longest_value_is_masked_first_and_empties_are_ignored() -> None:
    assert mask_secrets("abcdefgh", ["abcdef", "abcdefgh", "", None]) == MASK


def test_text_without_secrets_is_unchanged() -> None:
    text = "line one\nline two with 100% and \\u0041 and +"
    assert mask_secrets(text, {"a": "secret-value"}) == text
