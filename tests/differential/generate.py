# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeded hypothesis generator of JSONC settings files (bytes), valid and damaged.

Every file carries the marker model ``DIFF<index>`` in ``customModels`` (unless it is a blank file
or has no object at all), so droid's model listing tells whether it loaded the file. Around it:
comments in every gap between tokens (line and block, CR/LF/CRLF, surrogate escapes and stray
bytes inside them), strings with escapes of every class (simple, BMP, lone high and low
surrogates, pairs, reversed pairs, escaped backslashes, invalid escapes, raw control characters,
raw non-UTF-8 bytes), duplicate keys, big and odd numbers, deep nesting, BOM, CRLF, tabs, NUL,
Unicode spaces, trailing commas, and one random damage (a character deleted, inserted or
truncated) in some files.
"""

from __future__ import annotations

import json

from compare import MARKER
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

GAPS = ["", " ", "  ", "\t", "\n", "\r\n", "\n  ", "\r\n\t", "\r", " \n\n "]
COMMENTS = [
    "// note\n",
    "// note\r\n",
    "//\n",
    "// pager \U0001f4df emoji: \\ud83d\n",
    '// \\udc00 \\u12 \\q "quote\n',
    "/* block */",
    "/**/",
    "/* two\n lines */",
    "/* \\ud83d */",
    "/* // not a line comment */",
    '/* a "string" */',
    "// ends at a lone CR\r",
    "/* caf\udce9 */",
    "// caf\udce9\n",
    "// NUL \x00 here\n",
    "/* tab\there */",
    "/*** stars **/",
    "// unclosed /* in a line comment\n",
]
STRING_PIECES = [
    "plain",
    "caf\u00e9",
    "\u4e2d",
    "\U0001f600",
    " ",
    "/",
    "'",
    "<>",
    "\x7f",
    "\u2028",
    '\\"',
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\u00e9",
    "\\u0000",
    "\\uFFFF",
    "\\u001f",
    "\\ud83d",
    "\\ude00",
    "\\ud83d\\ude00",
    "\\ude00\\ud83d",
    "\\ud83d\\u0041",
    "\\uD83D\\uDE00",
    "\\\\ud800",
    "\\udbff\\udfff",
    "\\ud800\\ud800",
    "\udce9",
    "\udced\udca0\udcbd",
    "\udcff",
    "\udcc0\udcaf",  # raw bytes that are not UTF-8
]
BAD_STRING_PIECES = ["\\q", "\\u12", "\\U0041", "\\x41", "\\u00G1", "\t", "\x00", "\x01", "\\"]
NUMBERS = [
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "-0.0e-0",
    "1e400",
    "-1e-400",
    "1E+2",
    "1e-7",
    "0.1e-7",
    "123456789012345678901234567890",
    "9007199254740993",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "-123.456e+78",
    "100",
]
BAD_NUMBERS = ["01", ".5", "1.", "+1", "-", "1e", "0x10", "NaN", "Infinity", "-Infinity", "1_000", "--1"]
KEYS = ["a", "b", "x", "", "caf\u00e9", "k\\u00e9y", "a b", "\\ud83d", "dup", "dup"]  # no key droid's schema knows
CHAOS = ['"', ",", ":", "/", "\x00", "\\", "\udce9", "\u00a0", "\x0b", "\x0c", "}", "]", "{", "[", "*", "\ufeff", "x", "\u2028", "\r", "#"]

gaps = st.one_of(
    st.sampled_from(GAPS), st.sampled_from(COMMENTS).map(lambda c: " " + c), st.lists(st.sampled_from(GAPS + COMMENTS), min_size=2, max_size=4).map("".join)
)


@st.composite
def gap(draw, rate):
    return draw(gaps) if draw(st.floats(0, 1)) < rate else draw(st.sampled_from(["", " ", "\n  "]))


@st.composite
def strings(draw, bad):
    pieces = draw(st.lists(st.sampled_from(STRING_PIECES + (BAD_STRING_PIECES if bad else [])), max_size=5))
    return '"' + "".join(pieces) + '"'


@st.composite
def numbers(draw, bad):
    return draw(st.sampled_from(NUMBERS + (BAD_NUMBERS if bad else [])))


@st.composite
def values(draw, depth, bad, rate):
    kind = draw(st.sampled_from(["string", "number", "literal", "array", "object"] if depth < 4 else ["string", "number", "literal"]))
    if kind == "string":
        return draw(strings(bad))
    if kind == "number":
        return draw(numbers(bad))
    if kind == "literal":
        return draw(st.sampled_from(["true", "false", "null"] + (["True", "nul", "undefined"] if bad else [])))
    items = draw(st.lists(values(depth + 1, bad, rate), max_size=3))
    if kind == "object":
        items = ['"%s"%s:%s%s' % (draw(st.sampled_from(KEYS)), draw(gap(rate)), draw(gap(rate)), item) for item in items]
    return container(draw, "{" if kind == "object" else "[", items, rate, bad)


def container(draw, opener, items, rate, bad):
    closer = "}" if opener == "{" else "]"
    body = "".join("%s%s%s%s" % (draw(gap(rate)), item, draw(gap(rate)), "," if i < len(items) - 1 else "") for i, item in enumerate(items))
    if bad and items and draw(st.floats(0, 1)) < 0.15:
        body += ","  # a trailing comma
    return opener + body + draw(gap(rate)) + closer


def deep(draw):
    levels = draw(st.sampled_from([10, 150, 198, 199, 200, 260, 1000, 3000]))
    if draw(st.booleans()):
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


PLACEHOLDER = 987654321  # the marker's number until the file gets its nesting level


@st.composite
def settings_files(draw, index=PLACEHOLDER):
    """(bytes, tags) of one settings file whose marker is DIFF<index>."""
    tags = []
    shape = draw(st.sampled_from(["object"] * 16 + ["empty", "blank", "comment only", "top level"]))
    if shape == "empty":
        return b"", ["empty"]
    if shape == "blank":
        return draw(st.sampled_from(["\n", "   ", "\t\r\n", " \n\n\t "])).encode(), ["whitespace only"]
    if shape == "comment only":
        text = "".join(draw(st.lists(st.sampled_from(COMMENTS + [" ", "\n"]), min_size=1, max_size=3)))
        return text.encode("utf-8", "surrogateescape"), ["comment only"]
    if shape == "top level":
        text = draw(st.sampled_from(["[]", '"settings"', "null", "1", "true", '[{"a": 1}]']))
        return text.encode(), ["top level not an object"]
    bad = draw(st.floats(0, 1)) < 0.2
    rate = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    if rate:
        tags.append("comments")
    marker = {"model": "diff/marker", "provider": "anthropic", "baseUrl": "http://127.0.0.1:9/", "apiKey": "not-a-key", "displayName": MARKER % index}
    fields = ['"%s":%s%s' % (key, draw(gap(rate)), json.dumps(item)) for key, item in marker.items()]
    marker_text = container(draw, "{", fields, rate, False)
    models = [marker_text]
    if draw(st.booleans()):
        models.insert(draw(st.integers(0, 1)), '{"model": "mine", "provider": "openai", "baseUrl": "http://127.0.0.1:9/v1/", "displayName": "Mine"}')
    members = ['"customModels":%s%s' % (draw(gap(rate)), container(draw, "[", models, rate, False))]
    for _member in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(KEYS))
        members.insert(draw(st.integers(0, len(members))), '"%s"%s:%s%s' % (key, draw(gap(rate)), draw(gap(rate)), draw(values(1, bad, rate))))
    duplicate = draw(st.floats(0, 1))
    if duplicate < 0.2:
        tags.append("duplicate customModels")
        if duplicate < 0.14:
            members.insert(0, '"customModels": []')  # the later one wins in droid
        else:
            members.append('"customModels": []')  # ... so this one hides the marker
    if draw(st.floats(0, 1)) < 0.1:
        tags.append("deep nesting")
        members.append('"deep": ' + deep(draw))
    text = draw(gap(rate)) + container(draw, "{", members, rate, bad) + draw(st.sampled_from(["", "\n", "\r\n", " // end\n"]))
    if bad:
        tags.append("bad tokens")
    if draw(st.floats(0, 1)) < 0.15:
        tags.append("CRLF")
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if draw(st.floats(0, 1)) < 0.15:
        tags.append("tabs")
        text = text.replace("  ", "\t")
    if draw(st.floats(0, 1)) < 0.2:
        tags.append("damage")
        what = draw(st.sampled_from(["insert", "delete", "truncate"]))
        where = draw(st.integers(0, max(0, len(text) - 1)))
        if what == "insert":
            text = text[:where] + draw(st.sampled_from(CHAOS)) + text[where:]
        elif what == "delete":
            text = text[:where] + text[where + 1 :]
        else:
            text = text[:where]
    data = text.encode("utf-8", "surrogateescape")
    if draw(st.floats(0, 1)) < 0.04:
        tags.append("BOM")
        data = b"\xef\xbb\xbf" + data
    return data, tags


def generate(count, batch_size, seed_value, max_seconds):
    """Up to ``count`` distinct (bytes, marker index, tags); deterministic for a seed (within the time budget)."""
    import time

    found = []
    seen = set()
    deadline = time.monotonic() + max_seconds

    @seed(seed_value)
    @settings(max_examples=count * 2, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data):
        blob, tags = data.draw(settings_files())
        if len(found) < count and blob not in seen and time.monotonic() < deadline:
            seen.add(blob)
            found.append((blob, tags))

    collect()
    placeholder = (MARKER % PLACEHOLDER).encode()
    # file i sits at nesting level i % batch_size: batches come out full
    return [(blob.replace(placeholder, (MARKER % (number % batch_size)).encode()), number % batch_size, tags) for number, (blob, tags) in enumerate(found)]
