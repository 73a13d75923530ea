"""Every role's meta/argument_specs.yml must match its defaults/main.yml, name for name and value
for value, and every variable must carry its role's prefix and a comment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p.parent.parent for p in Path(__file__).resolve().parents[2].glob("roles/*/defaults/main.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role: Path) -> dict:
    return load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_spec_and_defaults_name_the_same_variables(role: Path) -> None:
    defaults = load(role / "defaults" / "main.yml")
    options = spec_options(role)
    assert set(defaults) - set(options) == set(), "in defaults/main.yml but not in argument_specs"
    undocumented_required = {k for k, v in options.items() if k not in defaults and not v.get("required")}
    assert undocumented_required == set(), "in argument_specs without a default and not required"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_spec_defaults_equal_role_defaults(role: Path) -> None:
    defaults = load(role / "defaults" / "main.yml")
    for name, option in spec_options(role).items():
        if name in defaults:
            assert option.get("default") == defaults[name], name


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_option_is_described_and_typed(role: Path) -> None:
    for name, option in spec_options(role).items():
        assert option.get("description"), f"{name} has no description"
        assert option.get("type"), f"{name} has no type"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_defaults_are_prefixed_and_commented(role: Path) -> None:
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-")) and ":" in line:
            name = line.split(":", 1)[0]
            assert name.startswith(f"{role.name}_"), f"{name} lacks the prefix {role.name}_"
            assert lines[number - 1].startswith("#"), f"{name} has no comment line above it"
