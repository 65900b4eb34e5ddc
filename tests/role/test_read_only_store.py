"""settings.json linked into a read-only store (Home Manager, nix): the run fails, says why and what
to do, and leaves nothing behind (issue 21.4)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import KEY

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a read-only bind mount")


def test_a_link_into_a_read_only_store_fails_naming_it_and_leaves_no_lock(sandbox):
    store = sandbox.base / "nix" / "store" / "0abc-home-manager-files" / ".factory"
    store.mkdir(parents=True)
    (store / "settings.json").write_text('{\n  "theme": "dark"\n}\n')
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.symlink_to(store / "settings.json")
    before = sorted(p.name for p in sandbox.factory.iterdir())
    variables = {"byok_api_key": "{{ vault_llmcloud_api_key }}", "byok_users": [sandbox.user()]}
    (sandbox.inventory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(variables))
    # the store is mounted read-only, as nix mounts /nix/store (a private mount namespace)
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', str(store)]
    run = sandbox.run_onboard("-i", str(sandbox.inventory / "hosts.yml"), "--vault-id", sandbox.vault.vault_id, prefix=prefix, cwd=sandbox.base)
    assert run.rc != 0 and KEY not in run.output, run
    assert "%s is a link to %s, on a read-only file system" % (sandbox.settings_path, store / "settings.json") in run.output, run.output
    assert "Home Manager" in run.output and "cp --remove-destination" in run.output, run
    assert (store / "settings.json").read_text() == '{\n  "theme": "dark"\n}\n'
    assert sandbox.settings_path.is_symlink()
    # no lock for settings.local.json, which does not exist; settings.json's stays beside its link
    assert sorted(p.name for p in sandbox.factory.iterdir()) == sorted(before + [".settings.json.lock"])
