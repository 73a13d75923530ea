"""Every plugin carries DOCUMENTATION, EXAMPLES and RETURN that parse as YAML, and its
documented name matches its file."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

PLUGINS = sorted(p for p in Path(__file__).resolve().parents[2].glob("plugins/*/*.py")
                 if p.parent.name not in ("module_utils", "plugin_utils", "action"))  # libraries; an action's docs are its module's


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_plugin_documentation_parses(path: Path) -> None:
    module = importlib.import_module(f"ansible_collections.antone.infra.plugins.{path.parent.name}.{path.stem}")
    documentation = yaml.safe_load(module.DOCUMENTATION)
    # a module names itself in `module` (ansible-test refuses a `name` there), other plugins in `name`
    assert documentation.get("module", documentation.get("name")) == path.stem
    assert documentation["short_description"]
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)


FILTERS = sorted(Path(__file__).resolve().parents[2].glob("plugins/filter/*.py"))


@pytest.mark.parametrize("path", FILTERS, ids=lambda p: p.stem)
def test_every_filter_reports_errors_in_one_style(path: Path) -> None:
    """A filter's bad input raises AnsibleFilterError starting with its full name."""
    from ansible.errors import AnsibleFilterError

    module = importlib.import_module(f"ansible_collections.antone.infra.plugins.filter.{path.stem}")
    function = module.FilterModule().filters()[path.stem]
    with pytest.raises(AnsibleFilterError, match=rf"^antone\.infra\.{path.stem}: "):
        function(object(), object())
