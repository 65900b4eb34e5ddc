# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merge semantics of llmcloud.factory_droid.json_merge: pure functions, no I/O.

``merge(existing, value, keyed_lists, prune, state, exact)`` returns the new document and the list of
operations (``{"op": "add"|"replace"|"remove", "path": <JSON pointer>}``).  ``remove`` paths point
into the document as it was; ``add`` and ``replace`` paths into the document as it becomes.
The inputs are never modified; unchanged parts of ``existing`` are shared with the result.

The list aligner the minimal-edit writer uses is in ``_jsonc_writer``; redaction (what is a secret,
and masking it) in ``_redact``.
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    MAX_DEPTH,
    escape_token,
    json_equal,
)

__all__ = [
    "MergeError",
    "merge",
    "normalize",
    "parse_pointer",
    "format_pointer",
]


class MergeError(ValueError):
    """Bad input to the merge: the message names the option or pointer to fix."""


# ------------------------------------------------------------------ pointers
def parse_pointer(pointer, option="keyed_lists"):
    """RFC 6901 pointer -> tuple of tokens; only pointers to something below the top level."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise MergeError(
            '%s: %s is not a JSON pointer; write it like "/customModels" (a "/" before each key)'
            % (option, json.dumps(pointer) if isinstance(pointer, str) else repr(pointer))
        )
    tokens = []
    for token in pointer[1:].split("/"):
        if re.search(r"~(?![01])", token):
            raise MergeError('%s: %s has a "~" not followed by 0 or 1 (write "~0" for "~", "~1" for "/")' % (option, json.dumps(pointer)))
        tokens.append(token.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def format_pointer(tokens):
    return "".join("/" + escape_token(str(token)) for token in tokens)


def _normal_pointer(pointer, option):
    return format_pointer(parse_pointer(pointer, option))


# ------------------------------------------------------------------ input checks
def normalize(value, where="value", max_depth=MAX_DEPTH):
    """A plain JSON copy of ``value`` (dict/list/str/int/float/bool/None), or MergeError naming the pointer."""
    return _normalize(value, where, 0, max_depth)


def _normalize(value, where, depth, max_depth):
    if isinstance(value, dict):
        if depth >= max_depth:
            raise MergeError("%s: nested deeper than %d levels" % (where, max_depth))
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MergeError("%s: key %r is not a string; JSON keys are strings" % (where, key))
            result[str(key)] = _normalize(item, where + "/" + escape_token(key), depth + 1, max_depth)
        return result
    if isinstance(value, (list, tuple)):
        if depth >= max_depth:
            raise MergeError("%s: nested deeper than %d levels" % (where, max_depth))
        return [_normalize(item, "%s/%d" % (where, index), depth + 1, max_depth) for index, item in enumerate(value)]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise MergeError("%s: %r is not a JSON number" % (where, value))
        return float(value)
    raise MergeError("%s: a %s is not a JSON value (use a string, number, boolean, null, list or dict)" % (where, type(value).__name__))


class _Spec(object):
    """keyed_lists, prune and exact, checked and normalised."""

    def __init__(self, keyed_lists, prune, exact=None):
        self.keyed = {}
        for pointer, fields in (keyed_lists or {}).items():
            where = "keyed_lists[%s]" % json.dumps(pointer)
            if isinstance(fields, str):
                fields = [fields]
            if not isinstance(fields, (list, tuple)) or not fields or not all(isinstance(f, str) for f in fields):
                raise MergeError('%s must be a non-empty list of field names, e.g. ["model", "baseUrl"]' % where)
            self.keyed[_normal_pointer(pointer, "keyed_lists")] = tuple(fields)
        self.prune = {}
        for pointer, rules in (prune or {}).items():
            where = "prune[%s]" % json.dumps(pointer)
            normal = _normal_pointer(pointer, "prune")
            if normal not in self.keyed:
                raise MergeError(
                    "%s: prune works on keyed lists only; add %s to keyed_lists with the fields that identify its items" % (where, json.dumps(pointer))
                )
            if not isinstance(rules, dict) or not rules:
                raise MergeError('%s must map field names to regular expressions, e.g. {"baseUrl": "^https://llmcloud"}' % where)
            compiled = []
            for field, pattern in rules.items():
                if not isinstance(pattern, str):
                    raise MergeError("%s[%s] must be a regular expression string" % (where, json.dumps(field)))
                try:
                    compiled.append((field, re.compile(pattern)))
                except re.error as exc:
                    raise MergeError("%s[%s]: invalid regular expression: %s" % (where, json.dumps(field), exc)) from exc
            self.prune[normal] = compiled
        # exact: keyed lists whose matched items become exactly the desired item, plus the listed
        # fields of the file's item that the desired item does not name (written by another program)
        self.exact = {}
        for pointer, keep in (exact or {}).items():
            where = "exact_items[%s]" % json.dumps(pointer)
            normal = _normal_pointer(pointer, "exact_items")
            if normal not in self.keyed:
                raise MergeError(
                    "%s: exact_items works on keyed lists only; add %s to keyed_lists with the fields that identify its items" % (where, json.dumps(pointer))
                )
            if keep is None:
                keep = []
            if isinstance(keep, str):
                keep = [keep]
            if not isinstance(keep, (list, tuple)) or not all(isinstance(f, str) for f in keep):
                raise MergeError('%s must be a list of the field names to keep from the file, e.g. ["id", "index"] (an empty list keeps none)' % where)
            self.exact[normal] = frozenset(keep)
        # pointers that lead to a pruned list: walked even when value does not name them
        self.prefixes = set()
        for pointer in self.prune:
            tokens = parse_pointer(pointer)
            for length in range(1, len(tokens)):
                self.prefixes.add(format_pointer(tokens[:length]))


def _kind_of(value):
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# ------------------------------------------------------------------ identities
def _identity_part(value):
    if isinstance(value, str):
        return value
    return ("json", json.dumps(value, sort_keys=True))


def _identity(item, fields):
    """Identity tuple of a list item, or None when it is not an object holding every field."""
    if not isinstance(item, dict):
        return None
    try:
        return tuple([_identity_part(item[field]) for field in fields])
    except KeyError:
        return None


def _desired_identities(items, pointer, fields):
    """Identity -> desired item; each desired item must name every identity field, once."""
    result = {}
    for index, item in enumerate(items):
        where = "value%s/%d" % (pointer, index)
        if not isinstance(item, dict):
            raise MergeError(
                "%s must be an object: keyed_lists[%s] identifies the items of %s by %s" % (where, json.dumps(pointer), pointer, ", ".join(fields))
            )
        missing = [field for field in fields if field not in item]
        if missing:
            raise MergeError(
                "%s has no %s: keyed_lists[%s] identifies the items of %s by %s; add %s to the item"
                % (where, ", ".join('"%s"' % f for f in missing), json.dumps(pointer), pointer, ", ".join(fields), "it" if len(missing) == 1 else "them")
            )
        identity = _identity(item, fields)
        if identity in result:
            raise MergeError("%s has the same %s as value%s/%d; each item may appear once" % (where, ", ".join(fields), pointer, result[identity][0]))
        result[identity] = (index, item)
    return result


def _prune_matches(item, rules):
    if not isinstance(item, dict):
        return False
    for field, regex in rules:
        if field not in item:
            return False
        value = item[field]
        if isinstance(value, (dict, list)):
            return False
        text = value if isinstance(value, str) else json.dumps(value)
        if not regex.search(text):
            return False
    return True


# ------------------------------------------------------------------ merge
def merge(existing, value, keyed_lists=None, prune=None, state="present", exact=None, remember=None):
    """Merge ``value`` into ``existing``; return ``(new_document, operations)``.

    present: objects merge recursively, scalars and unkeyed lists are replaced, keyed lists upsert
    items by identity (position kept, new items appended, never sorted) and ``prune`` removes the
    items that match every regex and are not desired.  absent: the keys ``value`` names (recursing
    into non-empty objects) and the keyed items it names are removed; ``prune`` removes matching
    items as well.

    ``exact`` maps keyed-list pointers to the fields to keep: a file item matched by a desired item
    then ends up exactly as the desired item (fields it no longer names are removed, values are
    replaced whole, not merged), keeping only those listed fields of the file's item that the
    desired item does not name (e.g. the ``id`` and ``index`` a client writes into the items itself).
    Key order of the file's item is kept; new keys are appended.

    ``remember`` maps a pointer (the value a merge replaces, e.g. ``/sessionDefaultSettings/model``)
    to the pointer where the file keeps what it held before (see ``_remember``).
    """
    if state not in ("present", "absent"):
        raise MergeError("state must be present or absent, not %r" % (state,))
    if not isinstance(existing, dict):
        raise MergeError("the existing document must be an object")
    if not isinstance(value, dict):
        raise MergeError("value must be an object (a dict), not %s" % type(value).__name__)
    spec = _Spec(keyed_lists, prune, exact)
    value = normalize(value)
    operations = []
    if state == "present":
        result = _merge_object(existing, value, "", spec, operations)
    else:
        result = _remove_object(existing, value, "", spec, operations)
    for source, keep in (remember or {}).items():
        result = _remember(existing, result, parse_pointer(source, "remember"), parse_pointer(keep, "remember"), state, operations)
    return result, operations


_MISSING = object()


def _get(doc, tokens):
    for token in tokens:
        if not isinstance(doc, dict) or token not in doc:
            return _MISSING
        doc = doc[token]
    return doc


def _set(doc, tokens, value):
    """``doc`` with ``value`` at ``tokens`` (objects created on the way; copies, the input is kept)."""
    head = tokens[0]
    copy = dict(doc)
    if len(tokens) == 1:
        copy[head] = value
    else:
        child = doc.get(head)
        copy[head] = _set(child if isinstance(child, dict) else {}, tokens[1:], value)
    return copy


def _delete(doc, tokens):
    head = tokens[0]
    copy = dict(doc)
    if len(tokens) == 1:
        copy.pop(head, None)
    elif isinstance(doc.get(head), dict):
        copy[head] = _delete(doc[head], tokens[1:])
    return copy


def _remember(existing, result, source, keep, state, operations):
    """What the file held at ``source`` before a merge replaced it is kept at ``keep``, and given back
    when a later ``absent`` merge removes the value at ``source``.

    present: the value at ``source`` changes (it was there, and differs afterwards): the old value is
    written at ``keep`` (the latest one the merge replaced: a value that changed since is the file
    owner's newer choice). absent: when the merge removed the value at ``source``, the kept value
    goes back there; either way ``keep`` goes (a value that is still there is the owner's own).
    """
    before, after, kept = _get(existing, source), _get(result, source), _get(existing, keep)
    if state == "present":
        if before is _MISSING or after is _MISSING or json_equal(before, after) or (kept is not _MISSING and json_equal(kept, before)):
            return result
        if not _reachable(result, keep):
            return result
        operations.append({"op": "add" if kept is _MISSING else "replace", "path": format_pointer(keep)})
        return _set(result, keep, before)
    if kept is _MISSING:
        return result
    if before is not _MISSING and after is _MISSING and _reachable(result, source):
        result = _set(result, source, kept)
        operations.append({"op": "add", "path": format_pointer(source)})
    operations.append({"op": "remove", "path": format_pointer(keep)})
    return _delete(result, keep)


def _reachable(doc, tokens):
    """Every object on the way to ``tokens`` is an object or absent (a value can be set there)."""
    for token in tokens[:-1]:
        doc = doc.get(token) if isinstance(doc, dict) else None
        if doc is not None and not isinstance(doc, dict):
            return False
        if doc is None:
            return True
    return isinstance(doc, dict)


def _walk_keys(old, want, pointer, spec):
    keys = list(want)
    for key in old:
        if key not in want:
            child = pointer + "/" + escape_token(key)
            if child in spec.prune or child in spec.prefixes:
                keys.append(key)
    return keys


def _merge_object(old, want, pointer, spec, operations):
    result = None
    for key in _walk_keys(old, want, pointer, spec):
        path = pointer + "/" + escape_token(key)
        named = key in want
        present = key in old
        current = old.get(key)
        if path in spec.keyed:
            fields = spec.keyed[path]
            desired = want[key] if named else []
            if not isinstance(desired, list):
                raise MergeError("value%s must be a list: keyed_lists names %s" % (path, path))
            wanted = _desired_identities(desired, path, fields)
            if present and current is not None and not isinstance(current, list):
                raise MergeError(
                    "the file holds %s at %s, but keyed_lists names %s as a list of items; fix the file or keyed_lists" % (_kind_of(current), path, path)
                )
            if present and isinstance(current, list):
                new = _merge_keyed(current, desired, wanted, path, spec, operations)
            elif not named:
                continue
            elif present and json_equal(current, desired):
                continue
            else:
                operations.append({"op": "replace" if present else "add", "path": path})
                new = [dict(item) for item in desired]
        elif not named:
            if not isinstance(current, dict):
                continue
            new = _merge_object(current, {}, path, spec, operations)
        else:
            desired = want[key]
            if present and isinstance(desired, dict) and isinstance(current, dict):
                new = _merge_object(current, desired, path, spec, operations)
            elif present and json_equal(current, desired):
                continue
            else:
                operations.append({"op": "replace" if present else "add", "path": path})
                new = desired
        if present and new is current:
            continue
        if result is None:
            result = dict(old)
        result[key] = new
    return old if result is None else result


def _merge_keyed(old_list, desired, wanted, pointer, spec, operations):
    fields = spec.keyed[pointer]
    rules = spec.prune.get(pointer)
    consumed = set()
    result = []
    changed = False
    for index, item in enumerate(old_list):
        identity = _identity(item, fields)
        if identity is not None and identity in wanted and identity not in consumed:
            consumed.add(identity)
            if pointer in spec.exact:
                merged = _exact_item(item, wanted[identity][1], spec.exact[pointer], "%s/%d" % (pointer, index), "%s/%d" % (pointer, len(result)), operations)
            else:
                merged = _merge_object(item, wanted[identity][1], "%s/%d" % (pointer, len(result)), spec, operations)
            changed = changed or merged is not item
            result.append(merged)
        elif rules and _prune_matches(item, rules):
            operations.append({"op": "remove", "path": "%s/%d" % (pointer, index)})
            changed = True
        else:
            result.append(item)
    for item in desired:
        if _identity(item, fields) not in consumed:
            operations.append({"op": "add", "path": "%s/%d" % (pointer, len(result))})
            result.append(item)
            changed = True
    return result if changed else old_list


def _exact_item(old, want, keep, old_pointer, new_pointer, operations):
    """``want`` plus the ``keep`` fields of ``old`` it does not name, in ``old``'s key order; ``old`` if equal."""
    result = {}
    removed = []
    for key, current in old.items():
        if key in want:
            result[key] = current if json_equal(current, want[key]) else want[key]
        elif key in keep:
            result[key] = current
        else:
            removed.append(key)
    replaced = [key for key in old if key in want and result[key] is not old[key]]
    added = [key for key in want if key not in old]
    if not removed and not replaced and not added:
        return old
    for key in removed:
        operations.append({"op": "remove", "path": old_pointer + "/" + escape_token(key)})
    for key in replaced:
        operations.append({"op": "replace", "path": new_pointer + "/" + escape_token(key)})
    for key in added:
        operations.append({"op": "add", "path": new_pointer + "/" + escape_token(key)})
        result[key] = want[key]
    return result


def _remove_object(old, want, pointer, spec, operations):
    result = None
    for key in _walk_keys(old, want, pointer, spec):
        if key not in old:
            continue
        path = pointer + "/" + escape_token(key)
        current = old[key]
        named = key in want
        desired = want.get(key)
        if path in spec.keyed and (not named or isinstance(desired, list)):
            items = desired if named else []
            wanted = _desired_identities(items, path, spec.keyed[path])
            if not isinstance(current, list):
                continue
            new = _remove_keyed(current, wanted, path, spec, operations)
        elif not named:
            if not isinstance(current, dict):
                continue
            new = _remove_object(current, {}, path, spec, operations)
        elif isinstance(desired, dict) and desired:
            if not isinstance(current, dict):
                continue
            new = _remove_object(current, desired, path, spec, operations)
        else:
            operations.append({"op": "remove", "path": path})
            if result is None:
                result = dict(old)
            del result[key]
            continue
        if new is current:
            continue
        if result is None:
            result = dict(old)
        result[key] = new
    return old if result is None else result


def _remove_keyed(old_list, wanted, pointer, spec, operations):
    fields = spec.keyed[pointer]
    rules = spec.prune.get(pointer)
    result = []
    for index, item in enumerate(old_list):
        identity = _identity(item, fields)
        if (identity is not None and identity in wanted) or (rules and _prune_matches(item, rules)):
            operations.append({"op": "remove", "path": "%s/%d" % (pointer, index)})
        else:
            result.append(item)
    return result if len(result) != len(old_list) else old_list
