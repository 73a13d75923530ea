"""The antone.infra.scram_verifier filter: a PostgreSQL SCRAM-SHA-256 password verifier, computed here.

`ALTER ROLE name PASSWORD 'SCRAM-SHA-256$...'` stores a verifier the client computed, as psql's
\\password does, so the password itself never reaches the server: not its logs, not
pg_stat_activity. The stack role rotates the database password this way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from ansible_collections.antone.infra.plugins.plugin_utils.filters import ansible_filter

DOCUMENTATION = r"""
name: scram_verifier
author: antone.infra developers
version_added: "0.1.0"
short_description: A PostgreSQL SCRAM-SHA-256 verifier for a password (RFC 5802, RFC 7677)
description:
  - Returns C(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>), the form PostgreSQL keeps in
    pg_authid and accepts in C(ALTER ROLE ... PASSWORD), so that the password is never sent to the server.
  - The salt is 16 random bytes unless given (base64), as PostgreSQL's own.
  - PostgreSQL prepares passwords with SASLprep; this filter uses the password's UTF-8 bytes as they
    are, which is the same for ASCII passwords and for any password without characters SASLprep maps.
options:
  _input:
    description: The password.
    type: str
    required: true
  salt:
    description: The salt, base64; random when empty.
    type: str
    default: ""
  iterations:
    description: PBKDF2 iterations (PostgreSQL's scram_iterations default is 4096).
    type: int
    default: 4096
"""

EXAMPLES = r"""
- name: Set the role's new password without sending it to the server
  community.docker.docker_container_exec:
    container: antone-postgres-1
    argv: [psql, -U, antone, -d, antone, -f, "-"]
    stdin: "ALTER ROLE antone PASSWORD '{{ vault_postgres_password | antone.infra.scram_verifier }}';"
  no_log: true
"""

RETURN = r"""
_value:
  description: The verifier.
  type: str
"""


def scram_verifier(password: str, salt: str = "", iterations: int = 4096) -> str:
    if not isinstance(password, str) or not password:
        raise ValueError("scram_verifier: the password must be a non-empty string")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError("scram_verifier: iterations must be a whole number of at least 1")
    raw_salt = base64.b64decode(salt, validate=True) if salt else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), raw_salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(raw_salt)}${b64(stored_key)}:{b64(server_key)}"


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"scram_verifier": ansible_filter("scram_verifier", scram_verifier)}
