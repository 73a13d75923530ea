"""inventories/production works as given once its vault is filled in: the vault example lists exactly
the vault variables main.yml reads, every variable main.yml sets is one a role reads, and site.yml
accepts the inventory (the stack it renders is checked with the others in test_stack_render)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "production"
GROUP_VARS = INVENTORY / "group_vars" / "antone"
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").is_file())


def role_variables() -> set[str]:
    names: set[str] = set()
    for role in ROLES:
        names |= set(yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {})
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry in spec["argument_specs"].values():
            names |= set(entry.get("options") or {})
    return names


def test_the_vault_example_lists_exactly_what_main_reads() -> None:
    main = (GROUP_VARS / "main.yml").read_text()
    read = set(re.findall(r"\bvault_[a-z0-9_]+", main))
    listed = set(yaml.safe_load((GROUP_VARS / "vault.yml.example").read_text()))
    assert read == listed, f"read but not listed: {sorted(read - listed)}; listed but not read: {sorted(listed - read)}"


def test_every_variable_set_is_one_a_role_reads() -> None:
    main = yaml.safe_load((GROUP_VARS / "main.yml").read_text())
    assert set(main) - role_variables() == set()
    assert main["base_deploy_user"] == yaml.safe_load((INVENTORY / "hosts.yml").read_text())[
        "antone"]["hosts"]["antone-prod"]["ansible_user"], "the play connects as a user the base role creates"


def test_site_yml_accepts_the_inventory_with_its_vault_filled_in(tmp_path: Path) -> None:
    copy = tmp_path / "production"
    shutil.copytree(INVENTORY, copy)
    vault = copy / "group_vars" / "antone"
    (vault / "vault.yml").write_text((vault / "vault.yml.example").read_text())
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    listed = subprocess.run(["ansible-inventory", "-i", str(copy), "--host", "antone-prod"], capture_output=True,
                            text=True, env=env, check=True)
    host = yaml.safe_load(listed.stdout)
    assert host["vault_postgres_password"] == "change-me" and host["base_deploy_user"] == "deploy"
    check = subprocess.run(["ansible-playbook", "-i", str(copy), str(ROOT / "site.yml"), "--syntax-check"],
                           capture_output=True, text=True, env=env, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
