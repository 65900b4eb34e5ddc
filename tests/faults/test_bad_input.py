"""Bad input to the module: each case fails with a clear message, and nothing is written.

"Nothing written" means the settings file keeps its bytes, mode and mtime, and no other file
appears beside it (a lock file the module keeps is allowed). Parse errors must say where
(line and column). No case may end in a Python traceback, and the key inside `value` never
shows up in the message.
"""

from __future__ import annotations

import os
import re

import pytest
from _support import CANARY, listing, record, run_module, snapshot

KEYED = {"/customModels": ["model", "baseUrl"]}
GOOD_VALUE = {"customModels": [{"model": "anthropic/claude-opus-4.6", "baseUrl": "https://llmcloud.studio", "provider": "anthropic", "apiKey": CANARY}]}

# (name, file bytes, words the message must contain, needs line/column)
BAD_FILES = [
    ("unclosed block comment", b'{\n  "a": 1 /* never closed\n}\n', ["comment"], True),
    ("unclosed string", b'{\n  "a": "never closed\n}\n', [], True),
    ("trailing comma in object", b'{\n  "a": 1,\n}\n', [], True),
    ("trailing comma in array", b'{\n  "a": [1, 2,]\n}\n', [], True),
    ("byte-order mark", b'\xef\xbb\xbf{"a": 1}\n', [], True),
    # droid 0.225.2 loads a non-UTF-8 byte inside a string, lone surrogate escapes and duplicated keys
    # (tests/differential): so does the module; a stray byte outside a string it rejects
    ("invalid UTF-8 outside a string", b'{"a": 1, \xe9}\n', ["UTF-8"], True),
    ("top level is an array", b'[{"a": 1}]\n', ["object"], False),
    ("top level is a string", b'"settings"\n', ["object"], False),
    ("top level is null", b"null\n", ["object"], False),
    ("NaN literal", b'{"a": NaN}\n', [], True),
    ("single quotes", b"{'a': 1}\n", [], True),
    ("unquoted key", b"{a: 1}\n", [], True),
    ("missing colon", b'{"a" 1}\n', [], True),
    ("two documents", b'{"a": 1}\n{"b": 2}\n', [], True),
    ("control character in string", b'{"a": "x\x01y"}\n', [], True),
    ("NUL byte", b'{"a": 1}\x00\n', [], True),
    ("deep array nesting", b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}", [], False),
    ("deep object nesting", b'{"a": ' + b'{"a": ' * 50000 + b"1" + b"}" * 50000 + b"}", [], False),
]


def _seed(tmp_path, data: bytes):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path


def _assert_refused(res, path, before, before_listing, words=(), position=False, case=""):
    assert res.failed, "%s: accepted: %s" % (case, res)
    assert res.data.get("changed") is not True
    msg = res.msg
    assert msg, "%s: no message: %s" % (case, res)
    assert "Traceback" not in msg and "Traceback" not in res.stderr, "%s: traceback: %s" % (case, res)
    assert "MODULE FAILURE" not in msg
    assert CANARY not in res.stdout + res.stderr, "%s: the key is in the output" % case
    for w in words:
        assert w.lower() in msg.lower(), "%s: message lacks %r: %r" % (case, w, msg)
    if position:
        assert re.search(r"line \d+", msg, re.I) and re.search(r"col(umn)? \d+", msg, re.I), "%s: parse error without line and column: %r" % (case, msg)
    if path is not None:
        assert snapshot(path) == before, "%s: the file was touched" % case
        after = {n: m for n, m in listing(path.parent).items() if not n.endswith(".lock")}
        before_listing = {n: m for n, m in before_listing.items() if not n.endswith(".lock")}
        assert after == before_listing, "%s: files appeared: %s" % (case, set(after) - set(before_listing))
    record("bad_input", case, msg=msg[:160])


@pytest.mark.parametrize("case,data,words,position", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_refused_untouched(tmp_path, case, data, words, position):
    path = _seed(tmp_path, data)
    before = snapshot(path)
    before_listing = listing(path.parent)
    res = run_module({"path": str(path), "value": GOOD_VALUE, "keyed_lists": KEYED}, timeout=120)
    _assert_refused(res, path, before, before_listing, words, position, case)


def test_moderate_nesting_still_works(tmp_path):
    """The control for the deep-nesting cases: 64 levels are legitimate and merge fine."""
    path = _seed(tmp_path, b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}")
    res = run_module({"path": str(path), "value": {"b": 1}})
    assert res.rc == 0 and res.data.get("changed") is True, str(res)


def test_hundred_mib_file_is_refused(tmp_path):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    chunk = b'  "k%07d": "' + b"x" * 1000 + b'",\n'
    with open(path, "wb") as fh:
        fh.write(b"{\n")
        for i in range(104 * 1024):
            fh.write(chunk % i)
        fh.write(b'  "end": true\n}\n')
    os.chmod(path, 0o600)
    assert path.stat().st_size >= 100 * 2**20
    before = snapshot(path)
    before_listing = listing(folder)
    res = run_module({"path": str(path), "value": GOOD_VALUE, "keyed_lists": KEYED}, timeout=300)
    _assert_refused(res, path, before, before_listing, ["MiB"], False, "100 MiB file")
    assert res.seconds < 30, "took %.1fs to refuse a 100 MiB file" % res.seconds


BAD_ARGS = [
    ("value is a list", {"value": [1, 2]}, ["value"]),
    ("value is a number", {"value": 5}, ["value"]),
    ("value is a plain string", {"value": "not a document"}, ["value"]),
    ("keyed item lacks baseUrl", {"value": {"customModels": [{"model": "x", "provider": "anthropic", "apiKey": CANARY}]}, "keyed_lists": KEYED}, ["baseUrl"]),
    ("keyed item lacks every identity field", {"value": {"customModels": [{"provider": "anthropic", "apiKey": CANARY}]}, "keyed_lists": KEYED}, ["model"]),
    ("keyed list is not a list in value", {"value": {"customModels": {"model": "x"}}, "keyed_lists": KEYED}, ["customModels"]),
    ("keyed_lists pointer without leading slash", {"value": GOOD_VALUE, "keyed_lists": {"customModels": ["model"]}}, ["customModels"]),
    ("keyed_lists identity is empty", {"value": GOOD_VALUE, "keyed_lists": {"/customModels": []}}, ["customModels"]),
    ("prune regex does not compile", {"value": GOOD_VALUE, "keyed_lists": KEYED, "prune": {"/customModels": {"baseUrl": "(unclosed"}}}, ["baseUrl"]),
    ("prune names a list that is not keyed", {"value": GOOD_VALUE, "prune": {"/other": {"baseUrl": "x"}}}, ["/other"]),
    ("indent is not a number", {"value": GOOD_VALUE, "indent": "wide"}, ["indent"]),
    ("indent is negative", {"value": GOOD_VALUE, "indent": -2}, ["indent"]),
    ("state is unknown", {"value": GOOD_VALUE, "state": "merged"}, ["state"]),
    ("lock_timeout is negative", {"value": GOOD_VALUE, "lock_timeout": -1}, ["lock_timeout"]),
]


@pytest.mark.parametrize("case,args,words", BAD_ARGS, ids=[c[0] for c in BAD_ARGS])
def test_bad_arguments_are_refused(tmp_path, case, args, words):
    path = _seed(tmp_path, b'{\n  // mine\n  "customModels": [{"model": "x", "baseUrl": "y"}]\n}\n')
    before = snapshot(path)
    before_listing = listing(path.parent)
    full = {"path": str(path)}
    full.update(args)
    res = run_module(full)
    _assert_refused(res, path, before, before_listing, words, False, case)


def test_existing_keyed_list_of_wrong_type(tmp_path):
    path = _seed(tmp_path, b'{"customModels": {"model": "x"}}\n')
    before = snapshot(path)
    before_listing = listing(path.parent)
    res = run_module({"path": str(path), "value": GOOD_VALUE, "keyed_lists": KEYED})
    _assert_refused(res, path, before, before_listing, ["customModels"], False, "customModels in the file is an object, not a list")


def test_path_is_a_folder(tmp_path):
    folder = tmp_path / "settings.json"
    folder.mkdir()
    res = run_module({"path": str(folder), "value": GOOD_VALUE})
    _assert_refused(res, None, None, None, ["settings.json"], False, "path is a folder")
    assert os.listdir(folder) == []


def test_parent_is_a_file(tmp_path):
    blocker = tmp_path / ".factory"
    blocker.write_text("not a folder")
    res = run_module({"path": str(blocker / "settings.json"), "value": GOOD_VALUE})
    _assert_refused(res, None, None, None, [".factory"], False, "parent of path is a file")
    assert blocker.read_text() == "not a folder"


def test_empty_path(tmp_path):
    res = run_module({"path": "", "value": GOOD_VALUE})
    _assert_refused(res, None, None, None, ["path"], False, "empty path")
