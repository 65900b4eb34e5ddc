# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSONC reader and minimal-edit writer (private to llmcloud.factory_droid, stdlib only).

Reading accepts exactly what the droid client (jsonc-parser, measured on 0.225.2 by
tests/differential) loads: ``//`` and ``/* */`` comments (a ``//`` comment ends at CR or LF), a
duplicated key (the last one wins, as in droid), ``\\uD800``-style escapes of lone surrogates, and
bytes that are not UTF-8 inside strings and comments (kept byte for byte: ``decode_bytes`` and
``encode_text`` use ``surrogateescape``).  A trailing comma, a byte-order mark, a stray byte outside
strings and comments, a top level that is not an object and nesting deeper than ``MAX_DEPTH`` are
errors that carry a line and a column.

Speed: comments are blanked out by one regular expression pass (same length, newlines kept, so
every offset and line/column stays valid) and the values come from the C JSON decoder.  Only when
that fails does an iterative pure-Python parser run, to name the error precisely.

The concrete syntax tree is lazy: ``Document.root`` is a ``Node`` with character offsets, and a
container's children (keys, value spans, commas) are worked out when asked for.  The writer
(``_jsonc_writer``, imported only when a file changes) walks
the old and the new value side by side and rewrites only the spans that differ, in the manner of
VS Code's jsonc-parser ``modify``/``applyEdits``: every character outside a changed span survives,
comments stay where they are, new text takes the file's indentation and newline style.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring as _scanstring

__all__ = [
    "MAX_DEPTH",
    "JSONCError",
    "Document",
    "Node",
    "Child",
    "decode_bytes",
    "encode_text",
    "parse",
    "loads",
    "json_equal",
    "apply_edits",
    "line_col",
]

MAX_DEPTH = 200

# Code and strings up to the next "/" outside a string (or a string that does not close on its
# line), in the unrolled "normal* (special normal*)*" form: one way to match, so no catastrophic
# backtracking. Strings may not hold a raw newline, so a broken string never hides a comment from
# the scan without staying broken for the JSON decoder too.
_CODE_RUN = re.compile(r'[^"/]*(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"[^"/]*)*')
_NOT_NEWLINE = re.compile(r"[^\r\n]")
_LINE_BREAK = re.compile(r"[\r\n]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_WS = re.compile(r"[ \t\n\r]*")
_SPACES = re.compile(r"[ \t]*")
_TOKEN = re.compile(
    r"[ \t\n\r]*(?:"
    r"([{\[])"  # 1 opener
    r"|([}\]])"  # 2 closer
    r"|(,)"  # 3 comma
    r"|(:)"  # 4 colon
    r'|(")'  # 5 string
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"  # 6 number
    r"|(true|false|null)"  # 7 literal
    r"|(\Z)"  # 8 end of text
    r"|(.))",  # 9 anything else
    re.S,
)
_INDENTED_KEY = re.compile(r'^([ \t]+)"', re.M)
_LITERALS = {"true": True, "false": False, "null": None}
_SCAN_ONCE = json.JSONDecoder().scan_once


class JSONCError(ValueError):
    """A document that cannot be read; ``line`` and ``column`` are 1-based (column in characters)."""

    def __init__(self, message, text=None, offset=None, line=None, column=None):
        self.message = message
        self.offset = offset
        self.line, self.column = line, column
        if text is not None and offset is not None:
            self.line, self.column = line_col(text, offset)
        if self.line is not None:
            full = "line %d, column %d: %s" % (self.line, self.column, message)
        else:
            full = message
        super(JSONCError, self).__init__(full)


class _Constant(Exception):
    pass


def line_col(text, offset):
    """1-based line and column (in characters) of ``offset`` in ``text``; CRLF, LF and a lone CR end a line (as in droid)."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    if "\r" in text:
        line += text.count("\r", 0, offset) - text.count("\r\n", 0, offset)
    return line, offset - (max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1) + 1


def decode_bytes(data):
    """Bytes of a settings file -> text; a byte-order mark is a clear error.

    Bytes that are not UTF-8 become lone surrogates (``surrogateescape``): droid loads them inside
    strings and comments (as U+FFFD), so the parser accepts them there, refuses them elsewhere, and
    ``encode_text`` writes them back unchanged.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        raise JSONCError(
            "the file starts with a UTF-8 byte order mark (BOM), which the droid client does "
            "not accept (it reports InvalidSymbol at line 1, column 1 and loads nothing from the "
            "file); save the file as UTF-8 without a BOM",
            "",
            0,
        )
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        raise JSONCError("the file starts with a UTF-16 byte order mark, which the droid client does not read; save it as UTF-8", "", 0)
    return data.decode("utf-8", "surrogateescape")


def encode_text(text):
    """Text from ``decode_bytes`` or the writer -> bytes; bytes that were not UTF-8 come back unchanged."""
    return text.encode("utf-8", "surrogateescape")


def _blank_comments(text):
    """Comments replaced by spaces (newlines of block comments kept): same length, same offsets, plain JSON."""
    if "/" not in text:
        return text, False
    pieces = []
    append = pieces.append
    code_run = _CODE_RUN.match
    length = len(text)
    last = pos = 0
    while True:
        pos = code_run(text, pos).end()
        if pos >= length:
            break
        pair = text[pos : pos + 2]
        if pair == "//":
            end = _line_end(text, pos)
        elif pair == "/*":
            end = text.find("*/", pos + 2)
            if end < 0:
                raise JSONCError('unclosed comment: "/*" has no closing "*/"; close it with "*/" or remove it', text, pos)
            end += 2
        else:
            pos += 1  # a "/" that starts no comment, or a string broken by a newline
            continue
        append(text[last:pos])
        comment = text[pos:end]
        append(_NOT_NEWLINE.sub(" ", comment) if "\n" in comment else " " * (end - pos))
        last = pos = end
    if not pieces:
        return text, False
    append(text[last:])
    return "".join(pieces), True


def _line_end(text, pos):
    """Offset of the CR or LF ending the line at ``pos`` (droid ends a ``//`` comment at either), or the end."""
    match = _LINE_BREAK.search(text, pos)
    return match.start() if match else len(text)


def _constant_hook(name):
    raise _Constant(name)


# a duplicated key: the last one wins, in the first one's place (what droid's JavaScript object does)
_FAST = json.JSONDecoder(parse_constant=_constant_hook)


def _depth_exceeds(value, limit):
    """True when containers nest deeper than ``limit`` (iterative; the decoder makes exact dicts and lists)."""
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > limit:
            return True
        depth += 1
        for child in item.values() if type(item) is dict else item:  # pylint: disable=unidiomatic-typecheck
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth))
    return False


def _string_error(exc, text, start):
    msg = exc.msg
    if msg.startswith("Invalid control character") and text[exc.pos] in "\r\n":
        return JSONCError(
            "unterminated string: the closing quote is missing before the end of the line; add it (a line break inside a string is written \\n)", text, start
        )
    if msg.startswith("Invalid control character"):
        msg = "invalid control character in a string (write it escaped, e.g. \\n or \\t)"
    elif msg.startswith("Unterminated string"):
        msg = "unterminated string: the closing quote is missing; add it"
    elif msg.startswith("Invalid \\u"):
        msg = "invalid \\uXXXX escape in a string; write four hex digits after \\u (e.g. \\u00e9) or the character itself"
    elif msg.startswith("Invalid \\escape"):
        msg = 'invalid escape sequence in a string; use one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX (a backslash itself is written \\\\)'
    return JSONCError(msg, text, exc.pos)


def _not_utf8(text, at):
    byte = ord(text[at]) - 0xDC00
    return JSONCError(
        "a byte that is not UTF-8 (0x%02x) outside a string or comment: the droid client rejects it "
        "(InvalidSymbol) and loads nothing from the file; save the file as UTF-8" % byte,
        text,
        at,
    )


def _parse_slow(text, blank, max_depth):
    """Iterative reference parser over the comment-free text; raises JSONCError with a position."""
    stack = []  # frames: [container, is_object, pending_key, unused, open_offset]
    state = "value"  # value | key | colon | after | done
    first = False  # just after an opener
    last_comma = None
    root = None
    pos = 0
    while True:
        match = _TOKEN.match(blank, pos)
        group = match.lastindex
        at = match.start(group)
        pos = match.end()
        value = None
        if group == 9 and _NOT_UTF8.match(blank, at):
            raise _not_utf8(text, at)
        if state == "done":
            if group == 8:
                return root
            raise JSONCError("unexpected content after the end of the top-level value; remove it or put it inside the top-level object", text, at)
        if group == 8:
            if stack:
                frame = stack[-1]
                line, column = line_col(text, frame[4])
                raise JSONCError(
                    "unexpected end of the file: the %s opened at line %d, column %d is not closed; add "
                    'the missing "%s"' % ("object" if frame[1] else "array", line, column, "}" if frame[1] else "]"),
                    text,
                    at,
                )
            raise JSONCError("the file holds no JSON value; write the settings as an object (braces around them)", text, at)
        if state == "key":
            frame = stack[-1]
            if group == 5:
                try:
                    key, pos = _scanstring(blank, at + 1, True)
                except ValueError as exc:
                    raise _string_error(exc, text, at) from exc
                frame[2] = key
                state = "colon"
                first = False
                continue
            if group == 2 and blank[at] == "}" and first:
                stack.pop()
                value = frame[0]
            elif group == 2 and last_comma is not None and not first:
                raise JSONCError(
                    'trailing comma before "%s": the droid client rejects it (PropertyNameExpected) '
                    "and loads nothing from the file; remove the comma" % blank[at],
                    text,
                    last_comma,
                )
            else:
                raise JSONCError('expected a property name in double quotes; write it as "name": value', text, at)
        elif state == "colon":
            if group != 4:
                raise JSONCError('expected ":" after the property name; add the colon', text, at)
            state = "value"
            continue
        elif state == "after":
            frame = stack[-1]
            if group == 3:
                last_comma = at
                state = "key" if frame[1] else "value"
                first = False
                continue
            closer = "}" if frame[1] else "]"
            if group == 2 and blank[at] == closer:
                stack.pop()
                value = frame[0]
            else:
                raise JSONCError(
                    'expected "," or "%s"; add the missing comma between the two values, or close the %s here' % (closer, "object" if frame[1] else "array"),
                    text,
                    at,
                )
        else:  # state == 'value'
            if group == 1:
                if len(stack) >= max_depth:
                    raise JSONCError("nesting deeper than %d levels, more than json_merge reads; flatten the value" % max_depth, text, at)
                if blank[at] == "{":
                    stack.append([{}, True, None, {}, at])
                    state = "key"
                else:
                    stack.append([[], False, None, None, at])
                first = True
                continue
            if group == 2:
                if first and blank[at] == "]" and stack and not stack[-1][1]:
                    value = stack.pop()[0]
                elif not first and stack and last_comma is not None:
                    raise JSONCError(
                        'trailing comma before "%s": the droid client rejects it (ValueExpected) and loads nothing from the file; remove the comma' % blank[at],
                        text,
                        last_comma,
                    )
                else:
                    raise JSONCError("expected a value; write a string, a number, true, false, null, an object or an array here", text, at)
            elif group == 5:
                try:
                    value, pos = _scanstring(blank, at + 1, True)
                except ValueError as exc:
                    raise _string_error(exc, text, at) from exc
            elif group == 6:
                token = match.group(6)
                try:
                    value = float(token) if ("." in token or "e" in token or "E" in token) else int(token)
                except ValueError:
                    raise JSONCError("number too long; write it with fewer digits", text, at) from None
            elif group == 7:
                value = _LITERALS[match.group(7)]
            elif _NOT_UTF8.match(blank, at):
                raise _not_utf8(text, at)
            else:
                raise JSONCError(
                    'unexpected character %s; write a value ("string", number, true, false, null, {...} '
                    "or [...]) here, or remove the character" % json.dumps(blank[at]),
                    text,
                    at,
                )
        # a value is complete
        first = False
        if not stack:
            root = value
            state = "done"
        else:
            frame = stack[-1]
            if frame[1]:
                frame[0][frame[2]] = value
            else:
                frame[0].append(value)
            state = "after"


def _kind(char):
    if char == "{":
        return "object"
    if char == "[":
        return "array"
    if char == '"':
        return "string"
    if char in "tf":
        return "boolean"
    if char == "n":
        return "null"
    return "number"


class Child(object):
    """A member of an object (``key`` set) or an element of an array (``key`` None)."""

    __slots__ = ("key", "start", "value", "comma")

    def __init__(self, key, start, value, comma):
        self.key = key  # property name, or None in an array
        self.start = start  # offset of the key's opening quote (objects) or of the value
        self.value = value  # Node of the value
        self.comma = comma  # offset of the comma after the value, or None

    def __repr__(self):
        return "Child(%r, %d, %r, %r)" % (self.key, self.start, self.value, self.comma)


class Node(object):
    """A value in the concrete syntax tree: kind and [start, end) character offsets."""

    __slots__ = ("doc", "kind", "start", "end", "_children")

    def __init__(self, doc, kind, start, end):
        self.doc = doc
        self.kind = kind
        self.start = start
        self.end = end
        self._children = None

    def __repr__(self):
        return "Node(%s, %d, %d)" % (self.kind, self.start, self.end)

    @property
    def children(self):
        """Members or elements of a container, worked out on first use (C scanner per child)."""
        if self._children is None:
            self._children = self._read_children() if self.kind in ("object", "array") else []
        return self._children

    def child(self, key):
        """The member named ``key``; of duplicated members the last one, which holds the value droid reads."""
        found = None
        for item in self.children:
            if item.key == key:
                found = item
        return found

    def _read_children(self):
        # the text is known to be valid here: no checks, just offsets (hot loop: names bound locally)
        doc, blank = self.doc, self.doc.blank
        is_object = self.kind == "object"
        closer = "}" if is_object else "]"
        skip, scan, scan_string, kind = _WS.match, _SCAN_ONCE, _scanstring, _kind
        result = []
        append = result.append
        pos = skip(blank, self.start + 1).end()
        if blank[pos] == closer:
            return result
        key = None
        while True:
            start = pos
            if is_object:
                key, pos = scan_string(blank, pos + 1, True)
                pos = skip(blank, skip(blank, pos).end() + 1).end()  # past ':'
            end = scan(blank, pos)[1]
            node = Node(doc, kind(blank[pos]), pos, end)
            pos = skip(blank, end).end()
            if blank[pos] == ",":
                append(Child(key, start, node, pos))
                pos = skip(blank, pos + 1).end()
            else:
                append(Child(key, start, node, None))
                return result


def _unit_string(indent):
    if isinstance(indent, str):
        return indent
    return " " * int(indent)


class Document(object):
    """A parsed JSONC text: ``value`` (plain Python data), ``root`` (lazy CST) and layout facts."""

    def __init__(self, text, blank, value, has_comments, empty=False):
        self.text = text
        self.blank = blank
        self.value = value
        self.has_comments = has_comments
        self.empty = empty
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self._root = None
        self.indent_unit = self._detect_indent()

    @property
    def root(self):
        if self._root is None and not self.empty:
            # the text is valid: the top-level object spans the first to the last non-blank character
            start = _WS.match(self.blank).end()
            self._root = Node(self, "object", start, len(self.blank.rstrip(" \t\n\r")))
        return self._root

    def _detect_indent(self):
        match = _INDENTED_KEY.search(self.blank)
        if not match:
            return "  "
        found = match.group(1)
        if found.startswith("\t"):
            return "\t"
        return " " * max(1, min(len(found), 16))

    def node(self, path):
        """The Node at a list of keys/indices, or None."""
        node = self.root
        for part in path:
            if node is None or node.kind not in ("object", "array"):
                return None
            if node.kind == "object":
                item = node.child(part)
            else:
                items = node.children
                item = items[part] if isinstance(part, int) and 0 <= part < len(items) else None
            node = item.value if item is not None else None
        return node

    # ---------------------------------------------------------------- writer
    def update(self, new_value, align=None, indent=None):
        """Text that parses to ``new_value``, rewriting only the spans that differ.

        ``align(pointer, old_list, new_list)`` may return, for each new item, the index of the old
        item it continues (or None for an appended item); old items not named are removed.  Without
        it, arrays are matched position by position.  ``indent``: None/'auto' for the file's own
        unit, a number of spaces, or a string such as a tab.
        """
        if json_equal(self.value, new_value) and not self.empty:
            return self.text
        # the writer is compiled only when a file changes
        from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import update

        return update(self, new_value, align, indent)


def apply_edits(text, edits):
    """Apply non-overlapping (start, end, [order,] replacement) edits to ``text``."""
    if not edits:
        return text
    ordered = sorted(edits, key=lambda edit: (edit[0], edit[1], edit[2] if len(edit) == 4 else 0))
    pieces = []
    last = 0
    for edit in ordered:
        start, end, replacement = edit[0], edit[1], edit[-1]
        if start < last:
            raise ValueError("overlapping edits at offset %d" % start)
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def escape_token(key):
    """One JSON pointer token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def parse(text, max_depth=MAX_DEPTH, allow_empty=False):
    """Parse JSONC text into a Document; raise JSONCError (with line and column) when invalid.

    ``max_depth=None`` skips the nesting check (for text this module wrote from checked values).
    """
    blank, has_comments = _blank_comments(text)
    if not blank.strip(" \t\r\n"):
        if allow_empty:
            return Document(text, blank, {}, has_comments, empty=True)
        raise JSONCError("the file holds no JSON value; write the settings as an object (braces around them)", text, len(text))
    try:
        value = _FAST.decode(blank)
        problem = None
    except (ValueError, _Constant, RecursionError) as exc:  # precise message from the slow parser
        value = None
        problem = exc
    if problem is None and max_depth is not None and isinstance(value, dict) and _depth_exceeds(value, max_depth):
        problem = RecursionError()
    if problem is not None:
        _parse_slow(text, blank, MAX_DEPTH if max_depth is None else max_depth)
        offset = getattr(problem, "pos", None)
        raise JSONCError("invalid JSON (%s); fix the text at this position" % (getattr(problem, "msg", None) or type(problem).__name__), text, offset)
    if not isinstance(value, dict):
        start = _WS.match(blank).end()
        raise JSONCError(
            "the top level must be an object ({...}), found %s: the droid client loads nothing from "
            "the file (Expected object); wrap the settings in {...}" % _describe(value),
            text,
            start,
        )
    return Document(text, blank, value, has_comments)


def _describe(value):
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def loads(text, max_depth=MAX_DEPTH):
    """The value of a JSONC text (same strictness as ``parse``)."""
    return parse(text, max_depth).value


def json_equal(left, right):
    """Equality of JSON values: numbers compare by value, but booleans are never numbers."""
    if left is right:
        return True
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict):
        if not isinstance(right, dict) or len(left) != len(right):
            return False
        for key, item in left.items():
            if key not in right or not json_equal(item, right[key]):
                return False
        return True
    if isinstance(left, list):
        if not isinstance(right, list) or len(left) != len(right):
            return False
        for item_left, item_right in zip(left, right):
            if not json_equal(item_left, item_right):
                return False
        return True
    if isinstance(left, (int, float)):
        return isinstance(right, (int, float)) and left == right
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if left is None or right is None:
        return left is None and right is None
    return left == right
