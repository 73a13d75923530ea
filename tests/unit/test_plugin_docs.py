"""Every plugin carries DOCUMENTATION, EXAMPLES and RETURN that parse as YAML, and its
documented name matches its file."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

PLUGINS = sorted(p for p in Path(__file__).resolve().parents[2].glob("plugins/*/*.py")
                 if p.parent.name != "module_utils")  # module_utils are libraries, not plugins


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_plugin_documentation_parses(path: Path) -> None:
    module = importlib.import_module(f"ansible_collections.antone.infra.plugins.{path.parent.name}.{path.stem}")
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["name"] == path.stem
    assert documentation["short_description"]
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)
