# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The JSONC minimal-edit writer (private to llmcloud.factory_droid, stdlib only).

Imported only when a file changes: an idempotent run reads and compares, and never compiles this.
:func:`update` walks the old and the new value of a ``_jsonc.Document`` side by side and rewrites
only the spans that differ, in the manner of VS Code's jsonc-parser ``modify``/``applyEdits``:
every character outside a changed span survives, comments stay where they are, new text takes the
file's indentation and newline style. :func:`dumps` writes a whole new document, and
:func:`make_aligner` tells the writer which old item of a list each new item continues.
"""

from __future__ import annotations

import json

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import _identity, _Spec
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    _SPACES,
    _line_end,
    _unit_string,
    apply_edits,
    escape_token,
    json_equal,
)


def update(doc, new_value, align=None, indent=None):
    """Text of ``doc`` that parses to ``new_value`` (see ``_jsonc.Document.update``)."""
    unit = doc.indent_unit if indent in (None, "auto") else _unit_string(indent)
    if doc.empty:
        head = doc.text.rstrip()
        return (head + doc.newline if head else "") + dumps(new_value, unit, doc.newline)
    if json_equal(doc.value, new_value):
        return doc.text
    writer = _Writer(doc, unit, align)
    writer.diff(doc.root, doc.value, new_value, "", False)
    return apply_edits(doc.text, writer.edits)


class _Writer(object):
    """Collects (start, end, text) edits that turn the document's value into a new value."""

    def __init__(self, doc, unit, align):
        self.doc = doc
        self.text = doc.text
        self.newline = doc.newline
        self.unit = unit
        self.align = align
        self.edits = []

    # layout helpers ------------------------------------------------------
    def line_start(self, offset):
        return self.text.rfind("\n", 0, offset) + 1

    def line_indent(self, offset):
        start = self.line_start(offset)
        return self.text[start : _SPACES.match(self.text, start).end()]

    def alone_on_line(self, offset):
        """True when only spaces/tabs precede ``offset`` on its line."""
        start = self.line_start(offset)
        return _SPACES.match(self.text, start).end() == offset

    def end_of_line_after(self, offset, skip_comma=False):
        """Offset of the newline ending the line, if only blanks/comments (and a comma) follow ``offset``.

        Returns None when other content follows on the same line.
        """
        text, blank = self.text, self.doc.blank
        pos = offset
        length = len(text)
        comma_seen = not skip_comma
        while pos < length:
            char = text[pos]
            if char in " \t":
                pos += 1
            elif char == "\r" and text.startswith("\r\n", pos):
                return pos
            elif char == "\n":
                return pos
            elif char == "," and not comma_seen and blank[pos] == ",":
                comma_seen = True
                pos += 1
            elif blank[pos] == " " and char == "/":
                # a comment: line comment to the end of line; block comment must end on this line
                if text.startswith("//", pos):
                    return _line_end(text, pos)
                close = text.find("*/", pos + 2)
                if "\n" in text[pos:close]:
                    return None
                pos = close + 2
            else:
                return None
        return length

    def is_inline(self, node):
        return "\n" not in self.text[node.start : node.end]

    def format(self, value, base, inline):
        if inline:
            out = _dumps_compact(value)
        else:
            out = _dumps_indented(value, self.unit)
            if "\n" in out:
                out = out.replace("\n", self.newline + base)
        return out

    def add(self, start, end, text):
        self.edits.append((start, end, len(self.edits), text))

    # diff ----------------------------------------------------------------
    def diff(self, node, old, new, pointer, inline_parent):
        if old is new or json_equal(old, new):
            return
        if isinstance(old, dict) and isinstance(new, dict) and node.kind == "object":
            self.diff_object(node, old, new, pointer, inline_parent)
        elif isinstance(old, list) and isinstance(new, list) and node.kind == "array":
            self.diff_array(node, old, new, pointer, inline_parent)
        else:
            text = self.format(new, self.line_indent(node.start), inline_parent)
            self.add(node.start, node.end, text)

    def _inline(self, node, inline_parent):
        """One-line layout: a container written on one line, unless it is an empty pair on a multi-line level."""
        return self.is_inline(node) and (bool(node.children) or inline_parent)

    def diff_object(self, node, old, new, pointer, inline_parent=False):
        children = node.children
        inline = self._inline(node, inline_parent)
        removed = set()
        last = dict((item.key, index) for index, item in enumerate(children))
        for index, item in enumerate(children):
            if item.key not in new:
                removed.add(index)  # every occurrence of a duplicated key goes, or an earlier one would count
            elif last[item.key] == index:
                self.diff(item.value, old[item.key], new[item.key], pointer + "/" + escape_token(item.key), inline)
            # an earlier occurrence of a duplicated key: droid ignores it, so it stays as it is
        inserts = [(key, value) for key, value in new.items() if key not in old]
        self.members(node, children, removed, inserts, inline)

    def diff_array(self, node, old, new, pointer, inline_parent=False):
        children = node.children
        inline = self._inline(node, inline_parent)
        mapping = self.align(pointer, old, new) if self.align is not None else None
        if not _valid_mapping(mapping, len(old), len(new)):
            mapping = [index if index < len(old) else None for index in range(len(new))]
        used = set()
        inserts = []
        for new_index, old_index in enumerate(mapping):
            if old_index is None:
                inserts.append((None, new[new_index]))
                continue
            if inserts:  # new items before a kept one: they go in right before it
                self.insert_before(node, children[old_index], [value for _key, value in inserts], inline)
                inserts = []
            used.add(old_index)
            if old[old_index] is not new[new_index]:
                self.diff(children[old_index].value, old[old_index], new[new_index], pointer + "/" + str(old_index), inline)
        removed = set(range(len(old))) - used
        self.members(node, children, removed, inserts, inline)

    def insert_before(self, node, child, values, inline):
        """Edits putting new array items right before the kept item ``child`` (each with its comma)."""
        if inline:
            self.add(child.start, child.start, "".join(self.item_text(None, value, "", True) + ", " for value in values))
            return
        if self.alone_on_line(child.start):
            base = self.line_indent(child.start)
            separator = "," + self.newline + base
        else:
            base = self.line_indent(node.start) + self.unit
            separator = ", "
        self.add(child.start, child.start, "".join(self.item_text(None, value, base, False) + separator for value in values))

    def item_text(self, key, value, base, inline):
        text = self.format(value, base, inline)
        if key is None:
            return text
        return _dumps_string(key) + ": " + text

    def members(self, node, children, removed, inserts, inline):
        """Edits removing children (comma handling included) and appending new members."""
        if not removed and not inserts:
            return
        text = self.text
        count = len(children)
        kept = [index for index in range(count) if index not in removed]
        last_kept = kept[-1] if kept else None
        opener, closer = node.start, node.end - 1
        if not kept and not inserts and text[opener + 1 : closer] == self.doc.blank[opener + 1 : closer]:
            # everything goes and no comment lives inside: leave an empty pair of brackets
            self.add(opener + 1, closer, "")
            return
        removed_spans = []
        # -- removals: a removed member takes its own comma; removing the tail takes the comma before it
        if last_kept is not None and removed and max(removed) > last_kept:
            comma = children[last_kept].comma
            self.add(comma, comma + 1, "")
        for index in sorted(removed):
            item = children[index]
            end = item.comma + 1 if item.comma is not None else item.value.end
            if not inline and self.alone_on_line(item.start):
                line_end = self.end_of_line_after(end)
                if line_end is not None:
                    # the member fills its line(s): remove them whole, a comment on its last line too
                    if text.startswith("\r\n", line_end):
                        line_end += 2
                    elif line_end < len(text):
                        line_end += 1
                    self.add(self.line_start(item.start), line_end, "")
                    removed_spans.append((self.line_start(item.start), line_end))
                    continue
            if last_kept is not None and index == last_kept + 1:
                start = children[last_kept].comma + 1
            else:
                start = item.start
            if item.comma is not None:
                end = _SPACES.match(text, end).end()
            self.add(start, end, "")
            removed_spans.append((start, end))
        # -- insertions
        if not inserts:
            return
        opener_indent = self.line_indent(opener)
        if last_kept is not None:
            previous = children[last_kept]
            if inline:
                pieces = [", " + self.item_text(key, value, "", True) for key, value in inserts]
                self.add(previous.value.end, previous.value.end, "".join(pieces))
                return
            if self.alone_on_line(previous.start):
                base = self.line_indent(previous.start)
            else:
                base = opener_indent + self.unit
            # siblings written on one line each (e.g. {"model": ...} per line) set the style of new items
            compact = previous.value.kind in ("object", "array") and self.is_inline(previous.value)
            self.add(previous.value.end, previous.value.end, ",")
            line_end = self.end_of_line_after(previous.value.end, skip_comma=True)
            where = previous.value.end if line_end is None else line_end
            if any(start <= where < end for start, end in removed_spans):
                # the end of that line lies in a member being removed: insert right after the value
                where = previous.value.end
            pieces = [self.newline + base + self.item_text(key, value, base, compact) for key, value in inserts]
            self.add(where, where, ",".join(pieces))
            return
        if inline:
            pieces = [self.item_text(key, value, "", True) for key, value in inserts]
            self.add(opener + 1, opener + 1, ", ".join(pieces))
            return
        base = opener_indent + self.unit
        pieces = [self.newline + base + self.item_text(key, value, base, False) for key, value in inserts]
        tail = ""
        if self.line_start(closer) <= opener or not self.alone_on_line(closer):
            # the closer shares a line with the opener or other text: give it a line of its own
            tail = self.newline + opener_indent
        where = opener + 1
        line_end = self.end_of_line_after(where)
        if line_end is not None and line_end < closer:
            # only a comment follows the opener on its line: it stays there, the new items go below it
            where = line_end
        self.add(where, where, ",".join(pieces) + tail)


def _valid_mapping(mapping, old_count, new_count):
    if mapping is None or len(mapping) != new_count:
        return False
    last = -1
    for index in mapping:
        if index is None:
            continue  # a new item: inserted before the next kept one, or appended
        if not isinstance(index, int) or isinstance(index, bool) or index <= last or index >= old_count:
            return False
        last = index
    return True


def _encodable(text):
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _dumps_string(value):
    out = json.dumps(value, ensure_ascii=False)
    return out if _encodable(out) else json.dumps(value)


def _dumps_compact(value):
    out = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)
    return out if _encodable(out) else json.dumps(value, separators=(", ", ": "), allow_nan=False)


def _dumps_indented(value, unit):
    out = json.dumps(value, ensure_ascii=False, indent=unit, separators=(",", ": "), allow_nan=False)
    return out if _encodable(out) else json.dumps(value, indent=unit, separators=(",", ": "), allow_nan=False)


def dumps(value, indent=2, newline="\n"):
    """A whole new document: indented JSON plus a final newline."""
    out = _dumps_indented(value, _unit_string(indent) if indent not in (None, "auto") else "  ")
    if newline != "\n":
        out = out.replace("\n", newline)
    return out + newline


def make_aligner(keyed_lists):
    """align(pointer, old_list, new_list) for Document.update: which old item each new item continues.

    Keyed lists are matched by identity (in order, never backwards), other items by equality;
    unmatched new items are appended.  Lists that keyed_lists does not name are matched by
    equality first (``align_plain``), so a comment stays with its item.
    """
    keyed = _Spec(keyed_lists, None).keyed

    def align(pointer, old_list, new_list):
        fields = keyed.get(pointer)
        if fields is None:
            return align_plain(old_list, new_list)
        # merge() shares the items it leaves alone: match those by object identity, cheaply
        shared = {}
        for index, item in enumerate(old_list):
            if isinstance(item, (dict, list)):
                shared.setdefault(id(item), []).append(index)
        positions = None
        new_ids = set(id(item) for item in new_list)
        mapping = []
        cursor = 0
        for item in new_list:
            found = None
            for index in shared.get(id(item), ()):
                if index >= cursor and old_list[index] is item:
                    found = index
                    break
            identity = _identity(item, fields) if found is None else None
            if found is not None:
                pass
            elif identity is not None:
                if positions is None:
                    positions = {}
                    for index, old_item in enumerate(old_list):
                        if id(old_item) in new_ids:
                            continue  # carried over as is: matched by identity above
                        old_identity = _identity(old_item, fields)
                        if old_identity is not None:
                            positions.setdefault(old_identity, []).append(index)
                for index in positions.get(identity, ()):
                    if index >= cursor:
                        found = index
                        break
            else:
                for index in range(cursor, len(old_list)):
                    if json_equal(old_list[index], item):
                        found = index
                        break
            if found is None:
                mapping.append(None)
            else:
                mapping.append(found)
                cursor = found + 1
        return mapping

    return align


# Above this many item pairs a plain list is matched by position (the table grows as their product).
MAX_ALIGN_PAIRS = 250000


def align_plain(old_list, new_list):
    """For each item of ``new_list``, the index of the item of ``old_list`` it continues, or None (a new item).

    Items are matched by equality first, along a longest common subsequence, so that an item keeps
    its place in the text (and the comments beside it) when others are added or removed around it.
    Between two matched items, unmatched objects (or lists) are paired by position: an object that
    changed continues the one it replaces, and only its changed members are rewritten. Other
    unmatched items are removed (with the comment on their line) or inserted there. Returns None
    (match by position) for lists too long to compare pair by pair.
    """
    count_old, count_new = len(old_list), len(new_list)
    if count_old * count_new > MAX_ALIGN_PAIRS:
        return None
    # lengths[i][j]: the longest common subsequence of old_list[i:] and new_list[j:]
    lengths = [[0] * (count_new + 1) for _row in range(count_old + 1)]
    for i in range(count_old - 1, -1, -1):
        row, below = lengths[i], lengths[i + 1]
        for j in range(count_new - 1, -1, -1):
            if json_equal(old_list[i], new_list[j]):
                row[j] = below[j + 1] + 1
            else:
                row[j] = max(below[j], row[j + 1])
    anchors = []
    i = j = 0
    while i < count_old and j < count_new:
        if json_equal(old_list[i], new_list[j]) and lengths[i][j] == lengths[i + 1][j + 1] + 1:
            anchors.append((i, j))
            i += 1
            j += 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    mapping = [None] * count_new
    previous_old, previous_new = -1, -1
    for anchor_old, anchor_new in anchors + [(count_old, count_new)]:
        gap_old = range(previous_old + 1, anchor_old)
        gap_new = range(previous_new + 1, anchor_new)
        for new_index, old_index in zip(gap_new, gap_old):
            if _same_container(old_list[old_index], new_list[new_index]):
                mapping[new_index] = old_index
        if anchor_new < count_new:
            mapping[anchor_new] = anchor_old
        previous_old, previous_new = anchor_old, anchor_new
    return mapping


def _same_container(old, new):
    return (isinstance(old, dict) and isinstance(new, dict)) or (isinstance(old, list) and isinstance(new, list))
