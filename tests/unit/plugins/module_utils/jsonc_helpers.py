# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies and a JSONC renderer shared by the JSONC and merge tests.

``render`` writes a document the way people and tools do: any indentation unit, LF or CRLF,
objects on one line or many, and comments of every kind in every legal place. Every comment
carries a unique marker and is recorded with the JSON pointer of the member it sits by, so a
test can tell which comments must survive an edit.
"""

from __future__ import annotations

import json
import random

from hypothesis import strategies as st

KEY_CHARS = st.sampled_from(list("abcdefgxyzAB_-~/ 01") + ["\u00e9", "\u4e2d", '"', "\\"])
keys = st.text(KEY_CHARS, min_size=0, max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=6)
# objects only (arrays appear as leaves): used where a comment's owner must be a plain path
object_values = st.recursive(
    st.one_of(scalars, st.lists(scalars, max_size=3)),
    lambda inner: st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
object_documents = st.dictionaries(keys, object_values, max_size=6)


def escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


class Rendered(object):
    def __init__(self):
        self.text = ""
        self.comments = []  # (marker, pointer of the member, 'before' | 'after' | 'inside')
        self.counter = 0

    def marker(self, pointer, where):
        self.counter += 1
        mark = "c%dz" % self.counter
        self.comments.append((mark, pointer, where))
        return mark


def render(doc, seed, comment_rate=0.3, crlf=None, unit=None, inline_rate=0.15):
    """JSONC text of ``doc`` with random layout and marked comments (deterministic for a seed)."""
    rnd = random.Random(seed)
    out = Rendered()
    newline = ("\r\n" if rnd.random() < 0.3 else "\n") if crlf is None else ("\r\n" if crlf else "\n")
    if unit is None:
        unit = rnd.choice(["  ", "    ", "\t", " "])
    parts = []
    if rnd.random() < comment_rate:
        parts.append("// %s file header%s" % (out.marker("", "inside"), newline))
    parts.append(_render(doc, "", 0, rnd, out, newline, unit, comment_rate, inline_rate, top=True))
    if rnd.random() < 0.8:
        parts.append(newline)
    out.text = "".join(parts)
    return out


def _scalar(value, rnd):
    return json.dumps(value, ensure_ascii=rnd.random() < 0.5)


def _render(value, pointer, depth, rnd, out, newline, unit, rate, inline_rate, top=False):
    if not isinstance(value, (dict, list)):
        return _scalar(value, rnd)
    is_object = isinstance(value, dict)
    opener, closer = ("{", "}") if is_object else ("[", "]")
    items = list(value.items()) if is_object else list(enumerate(value))
    if not items:
        if rnd.random() < rate:
            return "%s /* %s */ %s" % (opener, out.marker(pointer, "inside"), closer)
        return opener + closer
    inline = not top and rnd.random() < inline_rate
    pieces = []
    for position, (key, item) in enumerate(items):
        path = "%s/%s" % (pointer, escape(key))
        body = _render(item, path, depth + 1, rnd, out, newline, unit, rate, inline_rate)
        if is_object:
            body = json.dumps(key, ensure_ascii=rnd.random() < 0.5) + ":" + rnd.choice([" ", "", "  "]) + body
        last = position == len(items) - 1
        if inline:
            if rnd.random() < rate / 2:
                body = "/* %s */ %s" % (out.marker(path, "before"), body)
            pieces.append(body + ("" if last else ", "))
            continue
        line = unit * (depth + 1)
        lead = ""
        if rnd.random() < rate:
            lead = line + "// %s note%s" % (out.marker(path, "before"), newline)
        elif rnd.random() < rate / 3:
            lead = line + "/* %s%s   block */%s" % (out.marker(path, "before"), newline, newline)
        trail = ""
        if rnd.random() < rate:
            trail = " // %s" % out.marker(path, "after")
        elif rnd.random() < rate / 3:
            trail = " /* %s */" % out.marker(path, "after")
        if rnd.random() < 0.1:
            lead += newline  # a blank line between members
        pieces.append(lead + line + body + ("" if last else ",") + trail + newline)
    if inline:
        return opener + "".join(pieces) + closer
    return opener + newline + "".join(pieces) + unit * depth + closer


def mutate(doc, seed, add_rate=0.3, keep_rate=0.6):
    """A ``value`` to merge into ``doc``: some keys named again (changed or not), nested partially, some new."""
    rnd = random.Random(seed)
    return _mutate(doc, rnd, add_rate, keep_rate, 0)


def _random_value(rnd, depth):
    kind = rnd.random()
    if depth < 3 and kind < 0.2:
        return dict(("n%d" % i, _random_value(rnd, depth + 1)) for i in range(rnd.randint(0, 3)))
    if depth < 3 and kind < 0.3:
        return [_random_value(rnd, depth + 1) for dummy in range(rnd.randint(0, 3))]
    return rnd.choice([None, True, False, 0, 1, -2.5, "x", "new value", "\u00e9t\u00e9"])


def _mutate(doc, rnd, add_rate, keep_rate, depth):
    result = {}
    for key, value in doc.items():
        if rnd.random() > keep_rate:
            continue
        choice = rnd.random()
        if isinstance(value, dict) and choice < 0.6:
            result[key] = _mutate(value, rnd, add_rate, keep_rate, depth + 1)
        elif choice < 0.8:
            result[key] = value  # named again, unchanged
        else:
            result[key] = _random_value(rnd, depth)
    for index in range(rnd.randint(0, 2) if rnd.random() < add_rate else 0):
        result["added%d" % index] = _random_value(rnd, depth)
    return result
