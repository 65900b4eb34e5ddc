# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merge semantics of llmcloud.factory_droid.json_merge: pure functions, no I/O.

``merge(existing, value, keyed_lists, prune, state, exact)`` returns the new document and the list of
operations (``{"op": "add"|"replace"|"remove", "path": <JSON pointer>}``).  ``remove`` paths point
into the document as it was; ``add`` and ``replace`` paths into the document as it becomes.
The inputs are never modified; unchanged parts of ``existing`` are shared with the result.

Also here: the redaction helpers (mask the values of named keys, collect the secret strings to
mask wherever else they appear) and the list aligner the minimal-edit writer uses.
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    MASK,
    MAX_DEPTH,
    apply_edits,
    escape_token,
    json_equal,
    mask_secrets,
)

__all__ = [
    "DEFAULT_REDACT",
    "MASK",
    "MIN_SECRET_LENGTH",
    "MergeError",
    "merge",
    "make_aligner",
    "align_plain",
    "normalize",
    "parse_pointer",
    "format_pointer",
    "redact",
    "collect_secrets",
    "mask_text",
    "json_equal",
    "Masking",
    "holds_secrets",
    "redact_text",
    "looks_like_credential",
    "credentials_in_text",
    "is_secret_name",
]

# Secrets shorter than this are masked by key name only: masking a 2-letter string everywhere
# would garble every output without protecting anything worth protecting.
MIN_SECRET_LENGTH = 4


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


# ------------------------------------------------------------------ writer support
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


# ------------------------------------------------------------------ redaction
# The masking rule (docs/security-masking.md explains it and its trade-off): a scalar leaf of a
# document (a string or a number; never true/false/null, never a whole object or list) is a
# secret when
#   1. a word of its own key names a secret: the key is split into words at camelCase humps,
#      digits and any of - _ . / space (apiKey -> api key, X-Proxy-Token -> x proxy token) and a
#      word is in SECRET_WORDS or ends in one (apikey, accesstoken, oauth) - unless the last word
#      says the value describes the secret rather than being it (authMode, tokenLimit,
#      apiKeyHelperTtlMs: NOT_SECRET_LAST_WORDS);
#   2. or it sits anywhere below a map of secrets: a key whose last word is in SECRET_MAP_WORDS
#      (extraHeaders, extra_headers, headers, cookies, credentials ...), whatever the leaf's name;
#   3. or its own key is one of the extra names given (``names``, any case, the whole key);
#   4. or its value looks like a credential whatever its key (looks_like_credential): well-known
#      token prefixes (sk-, ghp_, AKIA, xox*-, glpat-, ...), "Bearer <token>", a JWT, a private key,
#      a password in a URL, or a long high-entropy string.
# A key named in ``exclude`` (any case, the whole key) turns 1-4 off for the leaves directly under
# it and stops a map of secrets there. Containers are never masked whole: their keys stay
# readable, so is sessionDefaultSettings.model (the leaf's own key is "model").
SECRET_WORDS = frozenset(
    (
        "key",
        "keys",
        "apikey",
        "token",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "session",
        "bearer",
    )
)
# a single lowercase word that ends in one of these is a secret name too (apikey, accesstoken, oauth)
SECRET_SUFFIXES = ("key", "token", "secret", "password", "passwd", "auth", "credential", "credentials", "cookie", "bearer")
NOT_SECRET_LAST_WORDS = frozenset(
    (
        "mode",
        "type",
        "kind",
        "ttl",
        "ms",
        "seconds",
        "timeout",
        "url",
        "uri",
        "endpoint",
        "enabled",
        "disabled",
        "required",
        "count",
        "limit",
        "max",
        "min",
        "length",
        "size",
        "format",
        "name",
        "path",
        "file",
        "env",
        "var",
    )
)
SECRET_MAP_WORDS = frozenset(("headers", "cookies", "credentials", "secrets", "tokens", "passwords"))
# Names the rule always covers (and the old default of the ``redact`` option): kept for callers.
DEFAULT_REDACT = ("apiKey", "api_key", "apiKeyHelper", "token", "secret", "password", "authorization")

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CREDENTIAL = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:sk|rk)[-_](?:[A-Za-z0-9]+[-_])?[A-Za-z0-9_-]{12,}"  # OpenAI, Anthropic, Stripe, LLMCloud style
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWT
    r"|(?i:bearer|basic|token)[ \t]+[A-Za-z0-9._~+/=-]{8,}"  # an Authorization header value
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----"
    r")"
)
_URL_PASSWORD = re.compile(r'://[^/\s:@"]*:([^/\s@"]+)@')  # https://user:password@host
_TOKENISH = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}")


def _high_entropy(text):
    """A long run of token characters that reads as random, not as words and numbers."""
    if len(text) < 20 or not _TOKENISH.fullmatch(text):
        return False
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    digits = sum(map(str.isdigit, text))
    if upper >= 2 and lower >= 2 and digits >= 2:
        # mixed case: not when most of it is words (Qwen/Qwen2.5-Coder-32B-Instruct, paths)
        if sum(len(word) for word in _WORDISH.findall(text)) >= 0.6 * len(text):
            return False
    elif len(text) >= 32 and digits >= 4 and (upper == 0 or lower == 0) and text.isalnum():
        # one case, letters and digits only (hex, base32/36): letters and digits alternate often
        changes = sum(1 for a, b in zip(text, text[1:]) if a.isdigit() != b.isdigit())
        if changes < 0.3 * len(text):
            return False
    else:
        return False
    counts = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    entropy = -sum(n / float(len(text)) * math.log(n / float(len(text)), 2) for n in counts.values())
    return entropy >= 3.0


def looks_like_credential(text):
    """True when ``text`` holds a well-known token form, a Bearer value, a URL password or random-looking text."""
    if not isinstance(text, str) or len(text) < 8:
        return False
    if _CREDENTIAL.search(text) or _URL_PASSWORD.search(text):
        return True
    return _high_entropy(text.strip())


def _mask_url_passwords(text, mask):
    return _URL_PASSWORD.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + mask + "@", text)


def credentials_in_text(text):
    """Every credential-looking token in free text (a file with comments, a message)."""
    found = set(match.group(1) for match in _URL_PASSWORD.finditer(text))
    for match in _CREDENTIAL.finditer(text):
        found.add(match.group(0))
    for match in _TOKENISH.finditer(text):
        if _high_entropy(match.group(0)):
            found.add(match.group(0))
    return set(token for token in found if len(token) >= MIN_SECRET_LENGTH)


def key_words(name):
    """The lowercase words of a key name: apiKeyHelper -> [api, key, helper], X-Proxy-Token -> [x, proxy, token]."""
    return [word.lower() for word in _WORDS.findall(name)]


def is_secret_name(name):
    """Rule 1: a word of the key names a secret (and the last word does not say it only describes one)."""
    words = key_words(name) if isinstance(name, str) else []
    if not words or words[-1] in NOT_SECRET_LAST_WORDS:
        return False
    return any(word in SECRET_WORDS or word.endswith(SECRET_SUFFIXES) for word in words)


def is_secret_map_name(name):
    """Rule 2: every leaf below this key is a secret (headers, cookies, credentials ...)."""
    words = key_words(name) if isinstance(name, str) else []
    return bool(words) and words[-1] in SECRET_MAP_WORDS


class Masking(object):
    """The masking rule with a task's extra names and exclusions (both compared without case)."""

    def __init__(self, names=None, exclude=None):
        self.names = set(name.lower() for name in (names or ()) if isinstance(name, str))
        self.exclude = set(name.lower() for name in (exclude or ()) if isinstance(name, str))
        self._looks = {}  # string -> verdict of the value rule (files repeat their strings)
        self._named = {}  # key -> verdict of the name rules

    def _excluded(self, key):
        return isinstance(key, str) and key.lower() in self.exclude

    def _under(self, key, secret_map):
        """Is everything below ``key`` a secret (a map of secrets, or a container named as one)?"""
        if not isinstance(key, str) or self._excluded(key):
            return False
        return secret_map or is_secret_map_name(key) or key.lower() in self.names

    def leaf_is_secret(self, key, item, secret_map=False):
        return self._verdict(key, item, secret_map) is not None

    def _verdict(self, key, item, secret_map=False):
        """None (shown), 'whole' (masked) or 'url' (only the password inside a URL is masked)."""
        if item is None or isinstance(item, bool) or isinstance(item, (dict, list, tuple)):
            return None
        if isinstance(key, str):
            named = self._named.get(key)
            if named is None:
                lowered = key.lower()
                named = self._named[key] = "excluded" if lowered in self.exclude else "secret" if lowered in self.names or is_secret_name(key) else "no"
            if named == "excluded":
                return None
            if named == "secret":
                return "whole"
        if secret_map:
            return "whole"
        if not isinstance(item, str) or len(item) < 8:
            return None
        verdict = self._looks.get(item, False)
        if verdict is False:
            if _CREDENTIAL.search(item) or _high_entropy(item.strip()):
                verdict = "whole"
            else:
                verdict = "url" if "://" in item and _URL_PASSWORD.search(item) else None
            self._looks[item] = verdict
        return verdict

    def walk(self, value):
        """(path tuple, leaf, verdict) of every secret leaf of ``value``."""
        stack = [((), None, value, False)]
        while stack:
            path, key, item, secret_map = stack.pop()
            if isinstance(item, dict):
                below = self._under(key, secret_map) if key is not None else False
                for child_key, child in item.items():
                    stack.append((path + (child_key,), child_key, child, below))
            elif isinstance(item, (list, tuple)):
                below = self._under(key, secret_map) if key is not None else secret_map
                for index, child in enumerate(item):
                    # a list's items are judged by the list's key (apiKeys: [..] are secrets)
                    stack.append((path + (index,), key, child, below))
            else:
                verdict = self._verdict(key, item, secret_map)
                if verdict is not None:
                    yield path, item, verdict

    def redact(self, value, mask=MASK):
        return self._redact(value, None, False, mask)

    def _redact(self, value, key, secret_map, mask):
        if isinstance(value, dict):
            below = self._under(key, secret_map) if key is not None else False
            return dict((k, self._redact(item, k, below, mask)) for k, item in value.items())
        if isinstance(value, (list, tuple)):
            below = self._under(key, secret_map) if key is not None else secret_map
            return [self._redact(item, key, below, mask) for item in value]
        verdict = self._verdict(key, value, secret_map)
        if verdict == "url":
            return _mask_url_passwords(value, mask)
        return value if verdict is None else mask

    def secrets(self, value, min_length=MIN_SECRET_LENGTH):
        found = set()
        for _path, leaf, verdict in self.walk(value):
            if verdict == "url":
                found.update(match.group(1) for match in _URL_PASSWORD.finditer(leaf))
                continue
            text = leaf if isinstance(leaf, str) else json.dumps(leaf)
            if len(text) >= min_length and text != MASK:
                found.add(text)
        return found

    def holds_secrets(self, value):
        for _found in self.walk(value):
            return True
        return False

    def text(self, doc, secrets=(), mask=MASK):
        """The text of a parsed JSONC ``doc`` with every secret leaf masked in place (any length) and
        secret-named values in comments (a commented-out old key) masked; then every secret string
        (``secrets``, the document's own secret leaves, credential-looking tokens in comments) is
        masked wherever it still appears."""
        edits = []
        replacement = json.dumps(mask)
        tree = {}
        found = set(secrets)
        for path, leaf, verdict in self.walk(doc.value):
            if verdict == "url":
                found.update(match.group(1) for match in _URL_PASSWORD.finditer(leaf))
                continue  # the password alone: masked below with the text's credentials
            text = leaf if isinstance(leaf, str) else json.dumps(leaf)
            if len(text) >= MIN_SECRET_LENGTH and text != MASK:
                found.add(text)
            node = tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = True
        if tree and doc.root is not None:
            self._text_edits(doc.root, tree, edits, replacement)
        if doc.has_comments:
            for match in _COMMENTED_PAIR.finditer(doc.text):
                if doc.blank[match.start()] != " ":
                    continue  # not inside a comment
                try:
                    key = json.loads(match.group(1))
                    item = json.loads(match.group(2))
                except ValueError:
                    continue
                if self.leaf_is_secret(key, item):
                    edits.append((match.start(2), match.end(2), replacement))
        edits.sort()
        kept = []
        for edit in edits:
            if kept and edit[0] < kept[-1][1]:
                continue
            kept.append(edit)
        text = apply_edits(doc.text, kept)
        given = set(secret for secret in secrets if isinstance(secret, str) and secret)
        if doc.has_comments:
            given |= set(token for token in credentials_in_text(doc.text) if self._in_comment(doc, token))
        own = found - given
        if len(own) > _MANY_OWN_SECRETS:
            # a big file's own secrets are masked in place above; their copies elsewhere are caught
            # as whole strings (one pass), not inside longer strings (that would cost a scan per secret)
            text = _STRING.sub(lambda m: replacement if _unquote(m.group(0)) in own else m.group(0), text)
            return mask_text(text, given, mask)
        return mask_text(text, found | given, mask)

    @staticmethod
    def _in_comment(doc, token):
        start = doc.text.find(token)
        while start >= 0:
            if doc.blank[start] == " " and doc.text[start] != " ":
                return True
            start = doc.text.find(token, start + 1)
        return False

    def _text_edits(self, node, tree, edits, replacement):
        children = node.children
        for part, below in tree.items():
            if node.kind == "object":
                child = node.child(part)
            else:
                child = children[part] if isinstance(part, int) and 0 <= part < len(children) else None
            if child is None:
                continue
            if below is True:
                edits.append((child.value.start, child.value.end, replacement))
            else:
                self._text_edits(child.value, below, edits, replacement)


_COMMENTED_PAIR = re.compile(r'("(?:[^"\\\n]|\\.)*")[ \t]*:[ \t]*("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]*)')


def redact(value, names=None, mask=MASK, exclude=None):
    """A copy of ``value`` with every secret leaf (the masking rule, plus ``names``, minus ``exclude``) masked."""
    return Masking(names, exclude).redact(value, mask)


def collect_secrets(value, names=None, min_length=MIN_SECRET_LENGTH, exclude=None):
    """The text of every secret leaf of ``value`` (the masking rule), at least ``min_length`` long."""
    return Masking(names, exclude).secrets(value, min_length)


def holds_secrets(value, names=None, exclude=None):
    """Does ``value`` hold any secret leaf (for backups and mode warnings)?"""
    return Masking(names, exclude).holds_secrets(value)


def redact_text(doc, names=None, secrets=(), exclude=None, mask=MASK):
    """The text of the parsed JSONC ``doc`` with its secrets masked (see Masking.text)."""
    return Masking(names, exclude).text(doc, secrets, mask)


def mask_text(text, secrets, mask=MASK):
    """``text`` with every secret replaced by ``mask`` (raw and JSON-escaped forms, longest first).

    Many secrets (a big file's own) are found in one pass of a trie-shaped regular expression
    instead of one scan of the text per secret.
    """
    secrets = [secret for secret in secrets if isinstance(secret, str) and secret]
    if len(secrets) <= _FEW_SECRETS or len(text) < MIB_TEXT:
        return mask_secrets(text, secrets, mask)
    forms = set(secrets)
    for secret in secrets:
        if not _PLAIN.match(secret):  # the JSON-escaped forms differ only for these
            forms.update((json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]))
    try:
        pattern = re.compile(_trie_pattern(forms))
    except (RecursionError, re.error, OverflowError):
        return mask_secrets(text, secrets, mask)
    return pattern.sub(mask, text)


_FEW_SECRETS = 16
MIB_TEXT = 1024 * 1024  # below this, one scan per secret is cheaper than compiling a trie
_MANY_OWN_SECRETS = 200
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _unquote(literal):
    if "\\" not in literal:
        return literal[1:-1]
    try:
        return json.loads(literal)
    except ValueError:
        return literal[1:-1]


_PLAIN = re.compile(r"[ !#-\[\]-~]*\Z")  # printable ASCII without " and \\: JSON writes it as is


def _trie_pattern(words):
    """A regular expression matching any of ``words``, the longest at each position (a trie:
    one test per character instead of one per word)."""
    trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node):
        literal = []
        while "" not in node and len(node) == 1:  # a chain: plain text, no group
            ((char, node),) = node.items()
            literal.append(re.escape(char))
        branches = sorted(char for char in node if char)
        if not branches:
            return "".join(literal)
        alternatives = [re.escape(char) + build(node[char]) for char in branches]
        body = alternatives[0] if len(alternatives) == 1 else "(?:%s)" % "|".join(alternatives)
        return "".join(literal) + ("(?:%s)?" % body if "" in node else body)

    return build(trie)
