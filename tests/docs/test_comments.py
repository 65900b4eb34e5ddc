"""The commands the example inventory's comments give are the README's (which tests/docs runs):
a reader who copies one from a comment gets the form that works in a clone of this repository."""

from __future__ import annotations

import re

from conftest import ROOT

COMMAND = re.compile(r"^#\s+((?:ansible-vault|ansible-playbook) .+?)\s*$", re.M)


def test_the_local_inventory_comments_give_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    found = {}
    for path in sorted((ROOT / "inventories" / "local").rglob("*.yml")):
        for command in COMMAND.findall(path.read_text()):
            found[command] = path.relative_to(ROOT)
    assert any(c.startswith("ansible-vault create") for c in found) and any(c.startswith("ansible-playbook") for c in found)
    for command, path in found.items():
        # ansible.cfg offers its fixture password to ansible-playbook only: ansible-vault needs --vault-id
        assert "--vault-id local@prompt" in command, "%s: %r does not give the vault password the README's way" % (path, command)
        assert command in readme, "%s: %r is not the README's command" % (path, command)
