"""antone.infra.scram_verifier: PostgreSQL's SCRAM-SHA-256 verifier, checked against RFC 7677's exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from ansible_collections.antone.infra.plugins.filter.scram_verifier import scram_verifier

# RFC 7677, section 3: user "user", password "pencil"
SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
AUTH_MESSAGE = (b"n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
CLIENT_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


def parts(verifier: str) -> tuple[int, str, bytes, bytes]:
    head, keys = verifier.removeprefix("SCRAM-SHA-256$").split("$")
    iterations, salt = head.split(":")
    stored, server = (base64.b64decode(k) for k in keys.split(":"))
    return int(iterations), salt, stored, server


def test_the_verifier_reproduces_rfc_7677s_server_signature_and_accepts_its_client_proof() -> None:
    verifier = scram_verifier("pencil", salt=SALT)
    iterations, salt, stored_key, server_key = parts(verifier)
    assert (iterations, salt) == (4096, SALT)
    assert base64.b64encode(hmac.new(server_key, AUTH_MESSAGE, hashlib.sha256).digest()).decode() == SERVER_SIGNATURE
    # what the server does with a client proof: recover ClientKey, and compare its hash with StoredKey
    signature = hmac.new(stored_key, AUTH_MESSAGE, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(CLIENT_PROOF), signature))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_a_random_salt_each_time_and_bad_input_refused() -> None:
    assert parts(scram_verifier("pencil"))[1] != parts(scram_verifier("pencil"))[1]
    with pytest.raises(ValueError, match="non-empty"):
        scram_verifier("")
    with pytest.raises(ValueError, match="iterations"):
        scram_verifier("x", iterations=0)
