"""Lets the unit tests import the collection's plugins as Ansible does, as ansible_collections.antone.infra.*:
`make setup` links this checkout into .collections."""

import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[2] / ".collections"
if not (COLLECTIONS / "ansible_collections" / "antone" / "infra").exists():
    raise RuntimeError("run `make setup` first: it links this checkout into .collections")
sys.path.insert(0, str(COLLECTIONS))
