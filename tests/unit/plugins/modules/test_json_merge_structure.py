# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge's structure: no swapped module state, one mask, and a daily run that compiles only what it needs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic

from ansible_collections.llmcloud.factory_droid.plugins.modules import json_merge

# the run fixture comes from the module's main test file, imported by its collection name (see test_json_merge_validate.py)
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.modules.test_json_merge import (  # noqa: F401 pylint: disable=unused-import
    CANARY,
    KEYED,
    PRUNE,
    VALUE,
    assert_no_canary,
    run,
)

ROOT = Path(json_merge.__file__).parents[2]  # the collection: .../ansible_collections/llmcloud/factory_droid
COLLECTIONS = str(ROOT.parents[2])
PACKAGE = "ansible_collections.llmcloud.factory_droid.plugins."


class SealedModule(basic.AnsibleModule):
    """An AnsibleModule whose params, check mode and fail_json cannot be replaced once it is built."""

    sealed = False
    attempts = []

    def __init__(self, *args, **kwargs):
        super(SealedModule, self).__init__(*args, **kwargs)
        self.sealed = True

    def __setattr__(self, name, value):
        if self.sealed and name in ("params", "check_mode", "fail_json", "exit_json", "run_command"):
            SealedModule.attempts.append(name)
            raise AssertionError("the module replaced its own %s" % name)
        super(SealedModule, self).__setattr__(name, value)


def test_each_file_runs_without_swapping_the_modules_state(run, tmp_path, monkeypatch):  # noqa: F811 - the imported fixture
    """check_only and a plain file, a validator that cannot run, file attributes: all on one module
    whose own state stays the task's (each file's options and check flag are the file's job's)."""
    monkeypatch.setattr(json_merge, "AnsibleModule", SealedModule)
    SealedModule.attempts = []
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    (folder / "settings.json").write_text("{}")
    (folder / "settings.local.json").write_text('{"customModels": []}')
    out = run(
        {
            "files": [
                {"path": str(folder / "settings.json")},
                {"path": str(folder / "settings.local.json"), "only_if_keys": ["/customModels"], "check_only": True},
                {"path": str(folder / "config.json")},
            ],
            "value": VALUE,
            "keyed_lists": KEYED,
            "prune": PRUNE,
            "mode": "0600",
        }
    )
    assert SealedModule.attempts == [], out.result
    first, local, config = out.result["results"]
    assert first["changed"] and not first.get("failed") and json.loads((folder / "settings.json").read_text()) == VALUE
    assert local["changed"] and local["check_only"] and json.loads((folder / "settings.local.json").read_text()) == {"customModels": []}
    assert config["changed"] and (folder / "config.json").exists()
    assert_no_canary(out)

    # a validator that cannot start fails its file only, through an exception, not a patched fail_json
    (folder / "settings.json").write_text("{}")
    out = run(
        {
            "files": [{"path": str(folder / "settings.json")}, {"path": str(tmp_path / "other.json")}],
            "value": VALUE,
            "validate": str(tmp_path / "no-such-validator") + " %s",
        }
    )
    assert SealedModule.attempts == [], out.result
    assert out.failed and "validate could not run on the candidate" in out.msg
    assert [one.get("failed", False) for one in out.result["results"]] == [True, True]
    assert (folder / "settings.json").read_text() == "{}" and not (tmp_path / "other.json").exists()
    assert_no_canary(out)


def test_the_account_the_steps_run_as_is_an_argument(tmp_path, monkeypatch):
    """Who the module works as (root working for alice) reaches the messages as an argument of the
    steps: no module-global that a forked child sets."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _file_layer, _file_write
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import Failure

    assert [name for name, value in vars(_file_layer).items() if isinstance(value, list) and not name.startswith("__")] == []
    blocked = str(tmp_path / "blocked")
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(blocked):
            raise OSError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(Failure) as raised:
        _file_write.make_folders(blocked + "/a/b", None, None, "alice")
    assert "alice cannot reach %s/a/b" % blocked in str(raised.value) and "Running as root for alice" in str(raised.value)


def test_one_mask_defined_in_one_place():
    """Every mask json_merge (module, action plugin, module_utils) and the report write is _redact.MASK:
    no other module spells it (the byok role's controller code included)."""
    spelled = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if '"********"' in line or "'********'" in line:
                spelled.append("%s:%d" % (path.relative_to(ROOT), number))
    assert spelled == ["plugins/module_utils/_redact.py:%d" % _line_of(ROOT / "plugins/module_utils/_redact.py", 'MASK = "********"')]


def _line_of(path, text):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith(text):
            return number
    return None


# ---------------------------------------------------------------- what a run compiles
_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible.module_utils import basic
basic._ANSIBLE_ARGS = open(sys.argv[2], "rb").read()
basic._ANSIBLE_PROFILE = "legacy"
from ansible_collections.llmcloud.factory_droid.plugins.modules import json_merge
try:
    json_merge.main()
except SystemExit:
    pass
sys.stderr.write("\nLOADED " + json.dumps(sorted(name for name in sys.modules if name.startswith(sys.argv[3]))) + "\n")
"""


def _loaded(tmp_path, args):
    """The collection's modules a fresh interpreter imports for one module run, and the result."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_diff=True)}))
    done = subprocess.run([sys.executable, "-c", _CHILD, COLLECTIONS, str(args_file), PACKAGE], capture_output=True, text=True, timeout=120, check=False)
    loaded = json.loads(done.stderr.rsplit("\nLOADED ", 1)[1])
    return [name[len(PACKAGE) :] for name in loaded if name.count(".") > PACKAGE.count(".")], json.loads(done.stdout)


def _lines(names):
    return sum(len((ROOT / "plugins" / (name.replace(".", "/") + ".py")).read_text().splitlines()) for name in names)


DAILY = [
    "module_utils._file_layer",
    "module_utils._json_merge",
    "module_utils._jsonc",
    "module_utils._merge_pipeline",
    "module_utils._redact",
    "modules.json_merge",
]


def test_the_daily_run_compiles_only_what_it_needs(tmp_path):
    """The idempotent merge (files, no validate, no strict_path, no offboard) imports the reader, the
    merge, the pipeline, the redaction and the file layer's read side; the writer, the write side,
    the validator and the path checks only when a run needs them. The payload ships no bytecode, so
    what is imported is compiled on every run."""
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    path.write_text('// mine\n{\n  "model": "x"\n}\n')
    os.chmod(str(path), 0o600)
    args = {"files": [{"path": str(path)}, {"path": str(folder / "settings.local.json"), "only_if_keys": ["/customModels"], "check_only": True}]}
    args.update(value=VALUE, keyed_lists=KEYED, prune=PRUNE, mode="0600")
    first, result = _loaded(tmp_path, args)
    assert result["changed"] and not result.get("failed"), result
    assert "module_utils._jsonc_writer" in first and "module_utils._file_write" in first
    daily, result = _loaded(tmp_path, args)
    assert not result["changed"] and not result.get("failed"), result
    assert daily == DAILY
    # about a third less than the 3,308 lines of module_utils every run compiled before
    assert _lines(name for name in daily if name.startswith("module_utils.")) < 2600
    # the rare paths load when a run needs them
    judged, result = _loaded(tmp_path, dict(args, validate="/bin/true %s"))
    assert judged == DAILY and not result["changed"]  # validate runs only on a file about to change
    strict, result = _loaded(tmp_path, dict(args, strict_path=True))
    assert "module_utils._path_checks" in strict and "module_utils._file_write" not in strict


def test_the_rare_modules_are_in_the_payload():
    """ansible-core's module finder ships what a function imports too: each lazily imported module is named
    by a plain ``from ... import`` line that the finder sees."""
    source = (ROOT / "plugins" / "modules" / "json_merge.py").read_text() + (ROOT / "plugins" / "module_utils" / "_merge_pipeline.py").read_text()
    source += (ROOT / "plugins" / "module_utils" / "_jsonc.py").read_text() + (ROOT / "plugins" / "module_utils" / "_file_layer.py").read_text()
    for name in ("_file_write", "_validate", "_path_checks", "_jsonc_writer"):
        assert re.search(r"from ansible_collections\.llmcloud\.factory_droid\.plugins\.module_utils(\.%s import | import %s\b)" % (name, name), source), name


def test_a_child_working_as_another_account_imports_from_what_root_read(monkeypatch):
    """The payload is root's: a child that dropped to a user cannot read it. Root reads the source of
    what the steps may import before the fork, and the child compiles from that, only what it imports."""
    import importlib

    name = json_merge.PayloadSources.PACKAGE + "_validate"
    monkeypatch.delitem(sys.modules, name, raising=False)
    sources = json_merge.PayloadSources(["_validate", "_no_such_module"])
    assert list(sources.sources) == [name] and name not in sys.modules  # read, not imported
    monkeypatch.setattr(sys, "meta_path", [sources])  # nothing else can load it any more
    loaded = importlib.import_module(name)
    assert loaded.field_paths("customModels.0.provider: bad", {"customModels"}) == ["customModels.0.provider"]
