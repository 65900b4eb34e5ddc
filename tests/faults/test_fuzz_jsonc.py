"""Property-based fuzzing of the JSONC reader and minimal-edit writer (plugins/module_utils/_jsonc.py).

- Any byte string: reading it either yields a document or raises the module's own JSONCError,
  nothing else (no IndexError, RecursionError, UnicodeError, ...).
- Differential check against the standard library: for comment-free text, the reader accepts
  exactly what a strict json.loads accepts (duplicate keys read as droid reads them: the last one
  wins; NaN, BOM, non-object top levels and
  over-deep nesting refused), with the same value.
- Generated JSONC (random values rendered with random comments, blank lines, indentation and line
  ends) reads back to the value it was rendered from; random edits of that text (a character
  deleted, inserted or a span duplicated) are either read or refused with JSONCError.
- The writer: for a random document and a random target value (random edits of the document's
  value, or an unrelated value), the text it produces reads back to exactly the target; writing
  the same value changes not one byte; comments outside the changed values survive.
- Redaction: values under secret-named keys and the given secrets never appear in redacted text.

The number of examples each property ran is recorded for the report.
"""

from __future__ import annotations

import json
import math
import sys

from _support import COLLECTIONS, record
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _jsonc  # noqa: E402
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import dumps  # noqa: E402
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import Masking  # noqa: E402

JSONCError = _jsonc.JSONCError


def _read(data):
    text = _jsonc.decode_bytes(data) if isinstance(data, bytes) else data
    return _jsonc.parse(text)


def counted_given(name, *strategies, scale=1):
    """@given, plus a record of how many examples the property ran (for the report). ``scale``
    multiplies the profile's max_examples for properties that are cheap to check."""

    def deco(fn):
        def test():
            count = [0]

            @settings(max_examples=settings.default.max_examples * scale)
            @given(st.tuples(*strategies))
            def inner(args):
                count[0] += 1
                fn(*args)

            inner()
            record("hypothesis_examples", count[0], property=name)

        test.__name__ = fn.__name__
        test.__doc__ = fn.__doc__
        return test

    return deco


# ----------------------------------------------------------------------------- strategies
keys = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not (f == 0 and math.copysign(1, f) < 0)),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)), max_leaves=30)
documents = st.dictionaries(keys, values, max_size=8)


def _comment(rng):
    body = "".join(rng.choice("abc xyz{}[],:\"'/*") for _i in range(rng.randrange(0, 12)))
    if rng.random() < 0.5:
        return "//" + body.replace("\n", " ") + "\n"
    return "/*" + body.replace("*/", "* /") + "*/"


def _ws(rng, newline):
    out = []
    for _i in range(rng.randrange(0, 3)):
        pick = rng.random()
        if pick < 0.35:
            out.append(" " * rng.randrange(1, 5))
        elif pick < 0.55:
            out.append("\t")
        elif pick < 0.8:
            out.append(newline)
        else:
            out.append(_comment(rng).replace("\n", newline))
    return "".join(out)


def render(value, rng, newline="\n"):
    """JSON text of value with random whitespace and comments between every pair of tokens."""

    def w():
        return _ws(rng, newline)

    if isinstance(value, dict):
        if not value:
            return "{" + w() + "}"
        parts = [w() + json.dumps(k) + w() + ":" + w() + render(v, rng, newline) + w() for k, v in value.items()]
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list):
        if not value:
            return "[" + w() + "]"
        return "[" + ",".join(w() + render(v, rng, newline) + w() for v in value) + "]"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _strict_reference(text):
    """What a strict JSON reader makes of comment-free text (None: refuse)."""

    def pairs(p):
        return dict(p)  # a duplicated key: the last one wins, as in droid (tests/differential)

    def const(name):
        raise ValueError(name)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=const)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if _jsonc._depth_exceeds(value, _jsonc.MAX_DEPTH):
        return None
    return value


def edit_value(value, rng, depth=0):
    """A random edit of a JSON value: keys added, removed or replaced, list items too."""
    if isinstance(value, dict) and (rng.random() < 0.7 or depth == 0):
        out = dict(value)
        for _i in range(rng.randrange(1, 4)):
            op = rng.random()
            if out and op < 0.3:
                del out[rng.choice(list(out))]
            elif out and op < 0.7:
                k = rng.choice(list(out))
                out[k] = edit_value(out[k], rng, depth + 1)
            else:
                out["k%d" % rng.randrange(100)] = rng.choice([1, "s", None, True, [1, {"a": 2}], {"n": {"m": []}}])
        return out
    if isinstance(value, list) and rng.random() < 0.7:
        out = list(value)
        op = rng.random()
        if out and op < 0.3:
            del out[rng.randrange(len(out))]
        elif out and op < 0.6:
            i = rng.randrange(len(out))
            out[i] = edit_value(out[i], rng, depth + 1)
        else:
            out.insert(rng.randrange(len(out) + 1), rng.choice([0, "x", {"a": 1}, []]))
        return out
    return rng.choice([None, False, 3, -1.5, "changed", [], {}, {"new": [1, 2]}])


# ----------------------------------------------------------------------------- properties
@counted_given("random bytes: read or JSONCError", st.binary(max_size=400), scale=10)
def test_random_bytes_never_crash(data):
    try:
        _read(data)
    except JSONCError:
        pass


@counted_given(
    "random JSON-ish text: same verdict and value as strict json.loads",
    st.text(st.sampled_from(list('{}[],:"\\ntrue false null-0123456789.eE+ abcu\t\n\x00\x1f\ufeff')), max_size=80),
    scale=10,
)
def test_agrees_with_strict_json(text):
    """Comment-free text (comments are the one thing JSONC adds)."""
    expected = _strict_reference(text)
    try:
        got = _jsonc.parse(text).value
    except JSONCError:
        got = None
    if expected is None:
        assert got is None, "accepted what strict JSON refuses: %r" % text
    else:
        assert got is not None and _jsonc.json_equal(got, expected), "refused or misread valid JSON: %r" % text


@counted_given("generated JSONC reads back to its value", documents, st.randoms(use_true_random=False), st.sampled_from(["\n", "\r\n"]))
def test_generated_jsonc_reads_back(doc, rng, newline):
    text = _ws(rng, newline) + render(doc, rng, newline) + _ws(rng, newline)
    assert _jsonc.json_equal(_jsonc.parse(text).value, doc), text


@counted_given("random edits of JSONC text: read or JSONCError", documents, st.randoms(use_true_random=False))
def test_mutated_jsonc_never_crashes(doc, rng):
    text = render(doc, rng)
    for _i in range(rng.randrange(1, 4)):
        if not text:
            break
        i = rng.randrange(len(text))
        op = rng.random()
        if op < 0.4:
            text = text[:i] + text[i + 1 :]
        elif op < 0.8:
            text = text[:i] + rng.choice('{}[],:"/*\\\n x1') + text[i:]
        else:
            j = min(len(text), i + rng.randrange(1, 8))
            text = text[:j] + text[i:j] + text[j:]
    try:
        _jsonc.parse(text)
    except JSONCError:
        pass


@counted_given(
    "writer: output reads back to the target value", documents, st.randoms(use_true_random=False), st.booleans(), st.sampled_from([None, "auto", 2, 4, "\t"])
)
def test_writer_round_trip(doc, rng, unrelated, indent):
    text = render(doc, rng, rng.choice(["\n", "\r\n"]))
    parsed = _jsonc.parse(text)
    target = edit_value(doc, rng) if not unrelated else {"fresh": edit_value(doc, rng), "list": [doc]}
    if not isinstance(target, dict):
        target = {"wrapped": target}
    out = parsed.update(target, indent=indent)
    back = _jsonc.parse(out).value
    assert _jsonc.json_equal(back, target), "wrote %r for target %r (from %r)" % (out, target, text)
    # writing what the file already says changes not one byte
    assert parsed.update(parsed.value) == text


@counted_given("writer: comments outside changed values survive", documents, st.randoms(use_true_random=False))
def test_writer_keeps_untouched_comments(doc, rng):
    marker = "/* keep-%d */" % rng.randrange(10**6)
    body = render(doc, rng)
    text = "// head comment\n{ " + marker + ' "untouched": 1,\n "data": ' + body + "\n}\n"
    parsed = _jsonc.parse(text)
    target = dict(parsed.value)
    target["data"] = edit_value(doc, rng)
    target["added"] = {"x": [1, 2, 3]}
    out = parsed.update(target)
    assert _jsonc.json_equal(_jsonc.parse(out).value, target)
    assert out.startswith("// head comment\n{ " + marker + ' "untouched": 1,'), out[:120]


@counted_given("dumps output reads back", documents, st.sampled_from([2, 4, "\t"]), st.sampled_from(["\n", "\r\n"]))
def test_dumps_reads_back(doc, indent, newline):
    assume(not _jsonc._depth_exceeds(doc, _jsonc.MAX_DEPTH))
    assert _jsonc.json_equal(_jsonc.parse(dumps(doc, indent, newline)).value, doc)


secret_text = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_"), min_size=8, max_size=40)


@counted_given("redaction: no secret survives", documents, st.lists(secret_text, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_redaction_hides_secrets(doc, secrets, rng):
    doc = dict(doc)
    doc["customModels"] = [{"model": "m%d" % i, "apiKey": s} for i, s in enumerate(secrets)]
    doc["token"] = secrets[0]
    text = render(doc, rng) + '\n// old key: "apiKey": "%s"\n' % secrets[-1]
    parsed = _jsonc.parse(text)
    redacted = Masking(["apiKey", "token"]).text(parsed, secrets)
    for s in secrets:
        assert s not in redacted, "secret survived redaction"
        assert json.dumps(s)[1:-1] not in redacted
