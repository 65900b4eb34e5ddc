# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Redaction for llmcloud.factory_droid, in one place: the masking rule and everything that masks.

- :class:`Masking` is the rule (which leaves of a document are secrets) with a task's extra names
  and exclusions: ``secrets`` collects them, ``redact`` masks a value, ``text`` masks a JSONC text
  for a diff (comments included);
- :func:`mask_text` masks known secret strings wherever they appear in free text;
- :class:`Redaction` is one task's secrets, applied to every message and result the module or its
  action plugin returns;
- :func:`looks_like_credential` and :func:`credentials_in_text` find credential-shaped strings
  whatever their key (the byok role's checks and the byok_report callback use them).

Every mask is :data:`MASK`. Pure, standard library only: it runs on targets (Python 3.8+).
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import apply_edits

MASK = "********"
NO_LOG_VALUE = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # what Ansible shows for a no_log option

# Secrets shorter than this are masked by key name only: masking a 2-letter string everywhere
# would garble every output without protecting anything worth protecting.
MIN_SECRET_LENGTH = 4

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


def mask_secrets(text, secrets, mask=MASK):
    """Replace every occurrence of each secret (raw and JSON-escaped) by ``mask``, longest first."""
    return _mask_forms(text, secret_forms(secrets), mask)


def secret_forms(secrets):
    """Every form of each secret (raw and JSON-escaped), longest first: computed once for many texts."""
    forms = set()
    for secret in secrets:
        if not isinstance(secret, str) or not secret:
            continue
        forms.add(secret)
        forms.add(json.dumps(secret)[1:-1])
        forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    return sorted((form for form in forms if form), key=len, reverse=True)


def _mask_forms(text, forms, mask=MASK):
    for form in forms:
        if form in text:
            text = text.replace(form, mask)
    return text


# ------------------------------------------------------------------ redaction plumbing
class Redaction(object):
    """The secrets of one task (the masking rule of _json_merge, with the task's ``redact`` names
    and ``redact_exclude``); masks text and whole results.

    Ansible masks every leaf string of a no_log option in all output (so "anthropic" would vanish
    from every diff); the module masks the real secrets instead, everywhere.
    """

    def __init__(self, value, names, exclude=None):
        self.masking = Masking(names, exclude)
        self.secrets = self.masking.secrets(value) if isinstance(value, dict) else set()

    @classmethod
    def of_params(cls, params):
        """The secrets of a validated task: its ``value`` and every ``files`` item's."""
        found = cls(params.get("value") or {}, params.get("redact"), params.get("redact_exclude"))
        for item in params.get("files") or []:
            found.secrets |= cls(item.get("value") or {}, params.get("redact"), params.get("redact_exclude")).secrets
        return found

    @classmethod
    def of_raw_args(cls, args):
        """Secrets of arguments not validated yet: the key is masked even in argument errors."""

        def names(option):
            given = args.get(option)
            return [name for name in given if isinstance(name, str)] if isinstance(given, list) else []

        found = cls(args.get("value"), names("redact"), names("redact_exclude"))
        for item in args.get("files") if isinstance(args.get("files"), list) else []:
            if isinstance(item, dict):
                found.secrets |= cls(item.get("value"), names("redact"), names("redact_exclude")).secrets
        return found

    def invocation(self, params):
        """``invocation`` as the module returns it: ``value`` (and each ``files`` item's) hidden as
        Ansible hides a no_log option, whatever the masking rule says of its parts (it is the whole
        desired document)."""
        args = dict(params)
        args["value"] = NO_LOG_VALUE
        if isinstance(args.get("files"), list):
            args["files"] = [dict(item, value=NO_LOG_VALUE) if isinstance(item, dict) and item.get("value") is not None else item for item in args["files"]]
        return {"module_args": self.mask_all(args)}

    def holds_secrets(self, doc):
        """Does the parsed document hold a secret (backups 0600, mode warnings)?"""
        return doc is not None and self.masking.holds_secrets(doc.value)

    def text(self, doc, secrets):
        return self.masking.text(doc, secrets)

    def mask(self, text):
        return mask_text(text, self.secrets)

    def mask_all(self, value):
        """A copy of a result with every secret masked in every string (keys included)."""
        if not self.secrets:
            return value
        return self._mask_all(value, secret_forms(self.secrets))

    def _mask_all(self, value, forms):
        if isinstance(value, dict):
            return dict((self._mask_all(key, forms), self._mask_all(item, forms)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return [self._mask_all(item, forms) for item in value]
        if isinstance(value, str):
            # a big text with many secrets: one pass of mask_text's trie (the result is the same)
            return _mask_forms(value, forms) if len(value) < MIB_TEXT else self.mask(value)
        return value
