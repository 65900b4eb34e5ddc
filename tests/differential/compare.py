# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module's side of the differential test, and the rules that compare it with droid's verdict.

No droid here: the corpus unit test (tests/unit/plugins/module_utils/test__jsonc.py) runs this with
the client verdicts recorded in tests/differential/corpus/verdicts.json.

The module side is json_merge's own pipeline on a settings file's bytes, in its order:
``decode_bytes`` -> ``parse(allow_empty=True)`` -> ``merge`` (the byok role's value, keyed list and
prune rule) -> ``Document.update`` with ``make_aligner`` -> read back -> ``encode_text``.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _jsonc, _jsonc_writer
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import merge
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import make_aligner

KEYED = {"/customModels": ["model", "baseUrl"]}
PRUNE = {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?/?$"}}
MARKER = "DIFF%d"
NEW = "NEW%d"
# every refusal says what to do about it
FIX_WORDS = ("remove", "add", "write", "save", "close", "wrap", "escape", "flatten", "put", "use ")


def value_for(index):
    """What the byok role merges (one LLMCloud-style model and the default model), named for level ``index``."""
    return {
        "customModels": [
            {
                "model": "anthropic/claude-opus-4.6",
                "displayName": NEW % index,
                "provider": "anthropic",
                "baseUrl": "http://127.0.0.1:9/",
                "apiKey": "not-a-key",
                "maxOutputTokens": 32000,
            }
        ],
        "sessionDefaultSettings": {"model": "custom:%s-0" % (NEW % index)},
    }


def names_in(value):
    """Display names of the customModels entries droid would list from this value (last duplicate wins)."""
    models = value.get("customModels") if isinstance(value, dict) else None
    if not isinstance(models, list):
        return []
    return sorted(item["displayName"] for item in models if isinstance(item, dict) and isinstance(item.get("displayName"), str))


class ModuleVerdict(object):
    def __init__(self):
        self.reads = False
        self.error = None  # JSONCError of a refusal
        self.empty = False
        self.names = []  # marker names in the value it read
        self.output = None  # bytes it would write
        self.out_names = []  # marker names in the value it would write
        self.problems = []  # broken promises of the writer (each one a disagreement)


def module_side(data, index):
    """What json_merge does with ``data`` (bytes of settings.json) and the role's value for ``index``."""
    verdict = ModuleVerdict()
    try:
        text = _jsonc.decode_bytes(data)
        doc = _jsonc.parse(text, allow_empty=True)
    except _jsonc.JSONCError as exc:
        verdict.error = exc
        message = str(exc)
        if exc.line is None or exc.column is None or not re.match(r"line \d+, column \d+: ", message):
            verdict.problems.append("refusal without line and column: %s" % message)
        if not any(word in message for word in FIX_WORDS):
            verdict.problems.append("refusal without a fix: %s" % message)
        return verdict
    verdict.reads = True
    verdict.empty = doc.empty
    verdict.names = names_in(doc.value)
    value = value_for(index)
    new_doc, operations = merge(doc.value, value, KEYED, PRUNE, "present")
    align = make_aligner(KEYED)
    new_text = doc.update(new_doc, align, None)
    written = _jsonc.parse(new_text, max_depth=None)
    if not _jsonc.json_equal(written.value, new_doc):
        verdict.problems.append("the written text does not read back as the merged document")
    verdict.output = _jsonc.encode_text(new_text)
    verdict.out_names = names_in(written.value)
    if not doc.empty:
        verdict.problems.extend(_edit_problems(doc, new_doc, align, new_text))
    # idempotence: the same merge into the written file changes nothing
    again = _jsonc.parse(_jsonc.decode_bytes(verdict.output), allow_empty=True)
    second, operations = merge(again.value, value_for(index), KEYED, PRUNE, "present")
    if operations or again.update(second, make_aligner(KEYED), None) != again.text:
        verdict.problems.append("a second run would change the file again: %s" % (operations,))
    return verdict


# ------------------------------------------------------------------ "outside the edited spans"
def _edit_problems(doc, new_doc, align, new_text):
    """The writer's edits rebuild ``new_text`` and touch no comment and no member whose value is kept.

    With that, every byte outside the edited spans is the original byte (apply_edits copies them),
    and the edited spans are only where the merge changed something.
    """
    problems = []
    writer = _jsonc_writer._Writer(doc, doc.indent_unit, align)
    writer.diff(doc.root, doc.value, new_doc, "", False)
    if _jsonc.apply_edits(doc.text, writer.edits) != new_text:
        problems.append("the edits do not rebuild the written text")
    text = doc.text
    comments = _comments(text)
    protected = [("a member the merge keeps", low, high) for low, high in _kept_spans(doc.root, doc.value, new_doc, [])]
    protected += [("a comment", low, high) for low, high in comments]
    for start, end, _order, _replacement in writer.edits:
        for what, low, high in protected:
            if (start < high and end > low) if end > start else (low < start < high):
                problems.append("an edit at %d-%d touches %s (%d-%d): %r" % (start, end, what, low, high, text[low:high][:60]))
    for low, high in comments:
        if new_text.count(text[low:high]) < text.count(text[low:high]):
            problems.append("a comment was lost: %r" % text[low:high])
    return problems


def _kept_spans(node, old, new, spans):
    """Spans (key start to value end) of members/items whose value the merge leaves as it was."""
    if node is None or node.kind not in ("object", "array"):
        return spans
    if node.kind == "object" and isinstance(new, dict):
        children = node.children
        last = dict((item.key, index) for index, item in enumerate(children))
        for index, item in enumerate(children):
            if item.key not in new:
                continue
            if last[item.key] != index or _jsonc.json_equal(old[item.key], new[item.key]):
                spans.append((item.start, item.value.end))  # kept (an earlier duplicate: dead, kept)
            else:
                _kept_spans(item.value, old[item.key], new[item.key], spans)
    elif node.kind == "array" and isinstance(new, list):
        for index, item in enumerate(node.children):
            if any(_jsonc.json_equal(old[index], other) for other in new):
                spans.append((item.start, item.value.end))
    return spans


def _comments(text):
    """Spans of the comments of a text that reads (a scanner of its own, not the module's)."""
    spans = []
    pos, length = 0, len(text)
    while pos < length:
        char = text[pos]
        if char == '"':
            pos += 1
            while text[pos] != '"':
                pos += 2 if text[pos] == "\\" else 1
            pos += 1
        elif text.startswith("//", pos):
            end = pos
            while end < length and text[end] not in "\r\n":
                end += 1
            spans.append((pos, end))
            pos = end
        elif text.startswith("/*", pos):
            end = text.index("*/", pos + 2) + 2
            spans.append((pos, end))
            pos = end
        else:
            pos += 1
    return spans


# ------------------------------------------------------------------ comparison
BLANK = "blank file"  # droid: ValueExpected, loads nothing; the module writes the whole document
DEPTH = "nesting limit"  # droid loads nesting the module refuses (MAX_DEPTH)


def compare(data, index, client, module=None):
    """(outcome, detail): outcome is 'agree', BLANK, DEPTH or 'disagree'.

    ``client``: {'loaded': marker listed, 'doctor': droid's reason or None, 'crash': bool}.
    """
    module = module or module_side(data, index)
    client_reads = client.get("doctor") is None and not client.get("crash")
    if module.problems:
        return "disagree", "; ".join(module.problems)
    if module.reads and module.empty:
        if client_reads:
            return "agree", "blank file read by both"
        if (client.get("doctor") or "").endswith("ValueExpected"):
            return BLANK, "droid: %s; the module writes the whole document" % client["doctor"]
        return "disagree", "module reads a blank file, droid: %s" % client.get("doctor")
    if module.reads != client_reads:
        if module.error is not None and "nesting deeper than" in str(module.error) and client_reads:
            return DEPTH, str(module.error)
        return "disagree", "module %s, droid %s" % (
            "reads it" if module.reads else "refuses it (%s)" % module.error,
            "loads it" if client_reads else ("crashes" if client.get("crash") else "rejects it (%s)" % client["doctor"]),
        )
    if module.reads:
        marker = MARKER % index
        if (marker in module.names) != bool(client.get("loaded")):
            return "disagree", "marker %s: module value %s it, droid %s it" % (
                marker,
                "has" if marker in module.names else "lacks",
                "lists" if client.get("loaded") else "omits",
            )
    return "agree", None


def compare_output(index, module, client):
    """The file the module writes must load in droid with the user's marker (if it had one) and the new model."""
    if client.get("doctor") is not None or client.get("crash"):
        return "droid rejects the written file: %s" % (client.get("doctor") or "crash")
    if not client.get("new"):
        return "droid does not list the merged model %s" % (NEW % index)
    if (MARKER % index in module.out_names) != bool(client.get("loaded")):
        return "marker %s lost or invented in the written file" % (MARKER % index)
    return None


def position(detail):
    """(line, column) from droid's 'line 1, col 9: PropertyNameExpected', or None."""
    match = re.match(r"line (\d+), col (\d+): ", detail or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def dump_case(data):
    """A short printable form of an input."""
    text = data.decode("utf-8", "backslashreplace")
    return json.dumps(text[:160] + ("..." if len(text) > 160 else ""), ensure_ascii=True)


def check_recorded(data, recorded):
    """The module on a corpus file against droid's recorded verdicts (no droid needed).

    ``recorded``: the file's entry in corpus/verdicts.json.  Returns (outcome, problems): the
    outcome of ``compare`` and every problem, that of the verdict included.
    """
    index = recorded["index"]
    module = module_side(data, index)
    outcome, detail = compare(data, index, recorded, module)
    problems = [detail] if outcome == "disagree" else []
    problems.extend(_recorded_output_problems(module, recorded))
    return outcome, problems


def _recorded_output_problems(module, recorded):
    written = recorded.get("written")
    if module.output is None or module.problems:
        return []
    if written is None:
        return ["the module writes this file but droid never judged what it writes: run.sh --record"]
    if hashlib.sha256(module.output).hexdigest() != written["sha256"]:
        return ["the written text changed since droid judged it: rerun tests/differential/run.sh --record"]
    problem = compare_output(recorded["index"], module, written)
    return [problem] if problem else []


# ------------------------------------------------------------------ the corpus file
def corpus_bytes(text):
    """A case's bytes from its ``text`` in corpus.json: a string, or pieces (strings and [string, count] repeats).

    The string holds the file decoded with ``surrogateescape`` and is stored ASCII-escaped, so the
    corpus stays one clean text file whatever bytes (BOM, CRLF, NUL, non-UTF-8) a case holds.
    """
    if isinstance(text, list):
        text = "".join(piece if isinstance(piece, str) else piece[0] * piece[1] for piece in text)
    return text.encode("utf-8", "surrogateescape")


def read_corpus(path):
    """[(name, bytes, record)] of corpus.json, by name."""
    with open(path) as handle:
        cases = json.load(handle)
    return [(name, corpus_bytes(cases[name]["text"]), cases[name]) for name in sorted(cases)]


def write_corpus(path, cases):
    """cases: {name: record with 'text'}; long runs of one character are stored as repeats."""
    for record in cases.values():
        text = record["text"]
        if isinstance(text, str):
            match = re.search(r"(\[{1000,})(\]+)", text)
            if match and len(match.group(1)) == len(match.group(2)):
                depth = len(match.group(1))
                record["text"] = [text[: match.start()], ["[", depth], ["]", depth], text[match.end() :]]
    with open(path, "w") as handle:
        json.dump(cases, handle, indent=1, sort_keys=True, ensure_ascii=True)
        handle.write("\n")
