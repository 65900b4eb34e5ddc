"""Whose files: the connecting user (no facts, no passwd lookup), other users as root, per-user keys."""

from __future__ import annotations

import grp
import json
import os
import pwd

from _other_user import nobody_home  # a fixture  # noqa: F401  # pylint: disable=unused-import
from conftest import CATALOG_IDS, KEY, ME, OTHER_KEY, needs_root


def test_default_is_the_connecting_user_without_lookups(sandbox, droid):
    first = sandbox.play({}, default_user=True)
    assert first.changed == 1
    assert sandbox.settings_path.stat().st_uid == os.getuid()
    assert oct(sandbox.settings_path.stat().st_mode & 0o777) == "0o600"
    assert oct(sandbox.factory.stat().st_mode & 0o777) == "0o700"
    assert len(droid.models(sandbox.home)) == len(CATALOG_IDS)
    second = sandbox.play({}, default_user=True)
    assert second.changed == 0
    # controller-side checks and one json_merge call: no passwd lookup, no preflight, no legacy file
    assert second.recap["ok"] == 1, second.output  # the merge, which checks the input (Ansible adds no validation task)


@needs_root
def test_root_writes_for_another_user_with_their_owner_and_modes(sandbox, droid, nobody_home):  # noqa: F811 - fixture
    nobody = pwd.getpwnam("nobody")
    home = nobody_home
    run = sandbox.play({"byok_users": [{"name": "nobody", "home": str(home)}]})
    assert run.changed == 1
    folder, settings = home / ".factory", home / ".factory" / "settings.json"
    assert (folder.stat().st_uid, folder.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert (settings.stat().st_uid, settings.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    assert grp.getgrgid(settings.stat().st_gid).gr_gid == nobody.pw_gid
    assert len(droid.models(home)) == len(CATALOG_IDS)
    assert sandbox.play({"byok_users": [{"name": "nobody", "home": str(home)}]}).changed == 0


@needs_root
def test_per_user_keys(sandbox, nobody_home):  # noqa: F811 - the imported fixture
    other_home = nobody_home
    users = [sandbox.user(api_key="{{ vault_llmcloud_other_key }}"), {"name": "nobody", "home": str(other_home)}]
    assert sandbox.play({"byok_users": users}).changed == 1
    mine = sandbox.settings()["customModels"]
    theirs = json.loads((other_home / ".factory" / "settings.json").read_text())["customModels"]
    assert {e["apiKey"] for e in mine} == {OTHER_KEY}
    assert {e["apiKey"] for e in theirs} == {KEY}
    assert sandbox.play({"byok_users": users}).changed == 0


@needs_root
def test_home_comes_from_the_passwd_database(sandbox):
    """The module resolves nobody's home with pwd on the host; it never creates a home folder."""
    home = pwd.getpwnam("nobody").pw_dir
    run = sandbox.play({"byok_users": [{"name": "nobody"}]}, "--check", "--diff", check=False)
    if not os.path.isdir(home):  # e.g. /nonexistent on Debian
        assert run.rc != 0 and "the home folder %s of user nobody does not exist" % home in run.output, run.output
        # the one json_merge call names the file that failed
        assert "files[0] %s/.factory/settings.json: " % home.rstrip("/") in run.output, run.output
    else:
        assert run.rc == 0 and "%s/.factory/settings.json" % home.rstrip("/") in run.output
    assert not os.path.exists(os.path.join(home, ".factory", "settings.json"))


def test_the_running_user_by_name(sandbox):
    run = sandbox.play({"byok_users": [{"name": ME, "home": str(sandbox.home)}]})
    assert run.changed == 1 and sandbox.settings_path.stat().st_uid == os.getuid()
