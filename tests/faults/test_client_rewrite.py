"""The client's own rewrite of settings.json between two runs causes no change on the next run.

droid stores `id` and `index` on each customModels item and rewrites the file as plain JSON
(JSON.stringify: its own key order and indentation, comments gone). The next run of the same
merge must see that the document already holds everything it wants: changed=false, no write
(bytes and mtime kept).
"""

from __future__ import annotations

import json
import os
import re

import pytest
from _support import CANARY, record, run_module, snapshot

BASE = "https://llmcloud.studio"
KEYED = {"/customModels": ["model", "baseUrl"]}
PRUNE = {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?$"}}
CATALOG = [
    ("anthropic/claude-opus-4.6", "Claude Opus 4.6", "anthropic", BASE),
    ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", "anthropic", BASE),
    ("google/gemini-3-pro-preview", "Gemini 3 Pro Preview", "openai", BASE + "/v1"),
]
VALUE = {
    "customModels": [{"model": m, "displayName": d, "provider": p, "baseUrl": b, "apiKey": CANARY, "maxOutputTokens": 32000} for m, d, p, b in CATALOG],
    "sessionDefaultSettings": {"model": "custom:Claude-Opus-4.6-0"},
}
ORIGINAL = """{
  // my settings
  "theme": "dark",
  "customModels": [
    {"model": "local/llama", "baseUrl": "http://localhost:11434/v1", "provider": "generic-chat-completion-api",
     "displayName": "Local Llama"}
  ],
  "sessionDefaultSettings": {"model": "custom:Local-Llama-0", "autonomyMode": "auto-low"}
}
"""


def client_ids(doc: dict) -> None:
    """Add `id` and `index` to every customModels item the way droid names them."""
    seen: dict = {}
    for index, item in enumerate(doc.get("customModels", [])):
        name = re.sub(r"\s+", "-", item.get("displayName") or item["model"])
        n = seen.get(name, 0)
        seen[name] = n + 1
        item["id"] = "custom:%s-%d" % (name, n)
        item["index"] = index


def reorder(node):
    if isinstance(node, dict):
        return {k: reorder(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [reorder(v) for v in node]
    return node


REWRITES = {
    "ids and index added, layout kept": lambda doc: (client_ids(doc), json.dumps(doc, indent=2))[1],
    "ids added, keys reordered, 4-space indent, comments dropped": lambda doc: (client_ids(doc), json.dumps(reorder(doc), indent=4))[1],
    "minified on one line": lambda doc: (client_ids(doc), json.dumps(doc, separators=(",", ":")))[1],
    "tabs and CRLF line ends": lambda doc: json.dumps(doc, indent="\t").replace("\n", "\r\n"),
}


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_client_rewrite_is_no_change(tmp_path, rewrite):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    path.write_text(ORIGINAL)
    os.chmod(path, 0o600)
    args = {"path": str(path), "value": VALUE, "keyed_lists": KEYED, "prune": PRUNE}
    first = run_module(args)
    assert first.rc == 0 and first.data.get("changed") is True, str(first)
    second = run_module(args)
    assert second.rc == 0 and second.data.get("changed") is False, str(second)

    # the client reads and rewrites the file its own way (a JSON parser: comments are gone)
    doc = json.loads(re.sub(r"^\s*//.*$", "", path.read_text(), flags=re.M))
    path.write_text(REWRITES[rewrite](doc))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(path)
    third = run_module(args)
    assert third.rc == 0 and third.data.get("changed") is False, "the client's rewrite (%s) made the next run change something: %s" % (rewrite, third)
    assert not third.data.get("operations"), third.data.get("operations")
    assert snapshot(path) == before, "the module wrote the file although nothing changed"
    # and the user's own model and setting survived everything
    final = json.loads(path.read_text().replace("\r\n", "\n"))
    assert final["customModels"][0]["model"] == "local/llama"
    assert final["sessionDefaultSettings"]["autonomyMode"] == "auto-low"
    record("client_rewrite_no_change", rewrite)
