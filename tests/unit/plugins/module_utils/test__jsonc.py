# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit and property tests of plugins/module_utils/_jsonc.py: the JSONC reader and minimal-edit writer."""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _jsonc
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    JSONCError,
    decode_bytes,
    json_equal,
    parse,
)
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import dumps
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import Masking, mask_secrets
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.module_utils.jsonc_helpers import (
    documents,
    mutate,
    object_documents,
    render,
    values,
)

# JSONC_EXAMPLES raises the number of examples for a longer hunt (the default keeps `make units` quick)
PROPERTY = settings(max_examples=int(os.environ.get("JSONC_EXAMPLES", "200")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def error_of(text):
    with pytest.raises(JSONCError) as info:
        parse(text)
    return info.value


# ---------------------------------------------------------------- reading
def test_reads_comments_of_every_kind():
    text = (
        '// head\n{\n  /* block\n     over lines */\n  "a": 1, // after a\n  "b": /* inline */ [true, null],\n'
        '  "url": "https://llmcloud.studio/v1", "c": "/* not a comment */"\n}\n'
    )
    doc = parse(text)
    assert doc.value == {"a": 1, "b": [True, None], "url": "https://llmcloud.studio/v1", "c": "/* not a comment */"}
    assert doc.has_comments
    assert len(doc.blank) == len(doc.text)


def test_plain_json_has_no_comments_and_keeps_key_order():
    doc = parse('{"z": 1, "a": {"y": 2, "b": 3}}')
    assert not doc.has_comments
    assert list(doc.value) == ["z", "a"] and list(doc.value["a"]) == ["y", "b"]


def test_syntax_tree_carries_character_offsets():
    text = '{\n  "k\u00e9y": [1, {"x": "\u4e2d"}], // c\n  "b": null\n}'
    doc = parse(text)
    root = doc.root
    assert (root.kind, root.start, root.end) == ("object", 0, len(text))
    first, second = root.children
    assert first.key == "k\u00e9y" and text[first.start : first.start + 5] == '"k\u00e9y"'
    assert first.value.kind == "array" and text[first.value.start : first.value.end] == '[1, {"x": "\u4e2d"}]'
    assert text[first.comma] == "," and second.comma is None
    assert [c.value.kind for c in first.value.children] == ["number", "object"]
    assert doc.node(["k\u00e9y", 1, "x"]).kind == "string"
    assert doc.node(["missing"]) is None and doc.node(["b", 0]) is None


@pytest.mark.parametrize(
    "text,line,column,words",
    [
        ('{\n  "a": 1,\n}', 2, 9, ["trailing comma", "PropertyNameExpected"]),
        ('{"a": [1, 2,]}', 1, 12, ["trailing comma", "ValueExpected"]),
        ('{"a": 1 // droid ends a comment at a lone CR\r "b": 2}', 2, 2, ['expected ","']),
        ('{"a": 1, \udce9}', 1, 10, ["not UTF-8 (0xe9)", "InvalidSymbol", "save the file as UTF-8"]),
        ('{"a": \udcff}', 1, 7, ["not UTF-8 (0xff)"]),
        ('{"a": 1}\udcc3', 1, 9, ["not UTF-8 (0xc3)"]),
        ('{"a": 1 /* never closed\n}', 1, 9, ["unclosed comment"]),
        ('{"a": "never closed\n}', 1, 7, ["unterminated string"]),
        ('{"a": NaN}', 1, 7, ["unexpected character"]),
        ('{"a": Infinity}', 1, 7, ["unexpected character"]),
        ("{'a': 1}", 1, 2, ["property name"]),
        ("{a: 1}", 1, 2, ["property name"]),
        ('{"a" 1}', 1, 6, ['":"']),
        ('{"a": 1}\n{"b": 2}', 2, 1, ["after the end"]),
        ('{"a": "x\x01y"}', 1, 9, ["control character"]),
        ('{"a": 1}\x00', 1, 9, ["after the end"]),
        ('{"a": 01}', 1, 8, ['expected ","']),
        ('{"a": [1 2]}', 1, 10, ['expected ","']),
        ('{"a": "\\q"}', 1, 8, ["escape"]),
        ('{"a": 1', 1, 8, ["not closed", "line 1, column 1"]),
        ('{"a": 1 / 2}', 1, 9, ['expected ","']),
        ("", 1, 1, ["no JSON value"]),
        ("  // only a comment\n", 2, 1, ["no JSON value"]),
    ],
)
def test_invalid_text_fails_with_line_and_column(text, line, column, words):
    err = error_of(text)
    assert (err.line, err.column) == (line, column), str(err)
    assert str(err).startswith("line %d, column %d: " % (line, column))
    for word in words:
        assert word in str(err)


@pytest.mark.parametrize(
    "text,found",
    [
        ('[{"a": 1}]', "an array"),
        ('"settings"', "a string"),
        ("null", "null"),
        ("  12", "a number"),
        ("true", "a boolean"),
    ],
)
def test_top_level_must_be_an_object(text, found):
    err = error_of(text)
    assert "must be an object" in str(err) and found in str(err)
    assert err.column == len(text) - len(text.lstrip()) + 1


def test_nesting_limit_is_a_clear_error_not_a_recursion_error():
    assert parse('{"a": ' + "[" * 199 + "]" * 199 + "}").value["a"] is not None
    for depth in (200, 999, 100000):
        err = error_of('{"a": ' + "[" * depth + "]" * depth + "}")
        assert "nesting deeper than 200 levels" in str(err) and err.column == 206
    err = error_of('{"a": ' + '{"a": ' * 50000 + "1" + "}" * 50000 + "}")
    assert "nesting deeper" in str(err)
    assert parse('{"a": 1}', max_depth=1).value == {"a": 1}
    assert "deeper than 1 " in str(pytest.raises(JSONCError, parse, '{"a": {}}', max_depth=1).value)


def test_byte_order_marks_are_refused():
    with pytest.raises(JSONCError) as info:
        decode_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert "byte order mark" in str(info.value) and (info.value.line, info.value.column) == (1, 1)
    assert "InvalidSymbol" in str(info.value)
    with pytest.raises(JSONCError) as info:
        decode_bytes(b"\xff\xfe{\x00}\x00")
    assert "UTF-16" in str(info.value)
    assert decode_bytes('{"caf\u00e9": 1}'.encode("utf-8")) == '{"caf\u00e9": 1}'


def test_bytes_that_are_not_utf8_in_strings_and_comments_read_and_survive_byte_for_byte():
    """droid 0.225.2 loads a Latin-1 byte inside a string or a comment (as U+FFFD): so does the module."""
    data = b'{\n  // caf\xe9 au lait\n  "theme": "caf\xe9 \xc3\xa9 \xed\xa0\xbd",\n  "customModels": []\n}\n'
    doc = parse(decode_bytes(data))
    assert doc.value["theme"] == "caf\udce9 \u00e9 \udced\udca0\udcbd"
    out = _jsonc.encode_text(doc.update(dict(doc.value, customModels=[{"model": "m"}])))
    assert out == data.replace(b'"customModels": []', b'"customModels": [\n    {\n      "model": "m"\n    }\n  ]')
    assert _jsonc.encode_text(decode_bytes(data)) == data


def test_duplicate_keys_read_as_droid_reads_them_the_last_one_wins():
    doc = parse('{\n  "a": 1,\n  "x": {"b": 1, "b": 2},\n  "a": 3\n}')
    assert doc.value == {"a": 3, "x": {"b": 2}}
    assert list(doc.value) == ["a", "x"]
    assert doc.node(["a"]).start == doc.text.index("3")
    assert _jsonc._parse_slow(doc.text, doc.blank, 200) == doc.value


def test_duplicate_keys_edits_go_to_the_last_occurrence_and_a_removal_takes_all():
    text = '{\n  "a": 1,\n  "b": 2,\n  "a": 3\n}\n'
    assert edit(text, {"a": 4, "b": 2}) == '{\n  "a": 1,\n  "b": 2,\n  "a": 4\n}\n'
    assert edit(text, {"b": 2}) == '{\n  "b": 2\n}\n'
    assert edit(text, {"a": 3, "b": 2, "c": True}) == '{\n  "a": 1,\n  "b": 2,\n  "a": 3,\n  "c": true\n}\n'
    nested = '{"customModels": [], "customModels": [{"model": "x"}]}'
    assert edit(nested, {"customModels": [{"model": "x"}, {"model": "y"}]}) == '{"customModels": [], "customModels": [{"model": "x"}, {"model": "y"}]}'


def test_lone_and_paired_surrogate_escapes_read_as_droid_reads_them():
    """droid loads \\ud83d alone, \\ude00 alone and the pair: strings hold what the escapes say."""
    doc = parse('{"a": "\\ud83d", "b": "\\ude00x", "c": "\\ud83d\\ude00", "d": "\\\\ud800"}')
    assert doc.value == {"a": "\ud83d", "b": "\ude00x", "c": "\U0001f600", "d": "\\ud800"}
    out = doc.update(dict(doc.value, e=1))
    assert out.startswith('{"a": "\\ud83d", "b": "\\ude00x", "c": "\\ud83d\\ude00", "d": "\\\\ud800", "e": 1}')
    out.encode("utf-8")


def test_a_surrogate_escape_in_a_comment_is_only_a_comment():
    """Issue 12: droid loads this file; comments are not JSON, nothing in them makes a file unreadable."""
    text = '{\n  // pager \U0001f4df emoji: \\ud83d\n  "theme": "dark" /* \\udc00 \\x \\u12 */\n}\n'
    doc = parse(text)
    assert doc.value == {"theme": "dark"}
    assert doc.update({"theme": "dark", "k": 1}) == text.replace("*/\n}", '*/,\n  "k": 1\n}').replace('"dark" /*', '"dark", /*').replace("*/,", "*/")


@pytest.mark.parametrize(
    "text,new,expected",
    [
        (
            '{"customModels": [ // LLMCloud models go here\n  ]}',
            {"customModels": [{"model": "m"}]},
            '{"customModels": [ // LLMCloud models go here\n  {\n    "model": "m"\n  }\n  ]}',
        ),
        (
            '{\n  "customModels": [ // LLMCloud models go here\n  ]\n}\n',
            {"customModels": [{"model": "m"}]},
            '{\n  "customModels": [ // LLMCloud models go here\n    {\n      "model": "m"\n    }\n  ]\n}\n',
        ),
        ("{ // only comment\n}", {"k": 1}, '{ // only comment\n  "k": 1\n}'),
        ("{ // only comment\r\n}\r\n", {"k": 1, "l": [2]}, '{ // only comment\r\n  "k": 1,\r\n  "l": [\r\n    2\r\n  ]\r\n}\r\n'),
        ("{ /* one */ /* two */\n}", {"k": 1}, '{ /* one */ /* two */\n  "k": 1\n}'),
        ("{ /* spans\n lines */\n}", {"k": 1}, '{\n  "k": 1 /* spans\n lines */\n}'),
        ('{"a": [ /* c */ ]}', {"a": [1]}, '{"a": [1 /* c */ ]}'),
    ],
)
def test_insertion_after_a_comment_on_the_openers_line(text, new, expected):
    """Issue 12: the comment stays on the opener's line and the new items go on the lines after it."""
    assert edit(text, new) == expected


def test_empty_text_is_an_empty_document_only_when_allowed():
    doc = parse(" \n", allow_empty=True)
    assert doc.empty and doc.value == {}
    assert doc.update({"a": 1}) == '{\n  "a": 1\n}\n'
    doc = parse("// just a note\n", allow_empty=True)
    assert doc.update({"a": [1]}) == '// just a note\n{\n  "a": [\n    1\n  ]\n}\n'


def test_slow_parser_agrees_with_the_fast_one_on_a_sample():
    text = '{"a": [1, 2.5, -0.0, 1e3, "\\u00e9\\ud83d\\ude00", true, false, null, {}], "b": {"c": []}}'
    assert _jsonc._parse_slow(text, text, 200) == parse(text).value


# ---------------------------------------------------------------- writing
SAMPLE = """{
  // the user's theme
  "theme": "dark",
  "customModels": [
    {"model": "mine", "baseUrl": "https://example.invalid"}, // my own
    {"model": "a", "baseUrl": "https://llmcloud.studio", "apiKey": "sk-old"}
  ], /* models */
  "last": true // trailing
}
"""


def edit(text, new, **kwargs):
    out = parse(text).update(new, **kwargs)
    assert parse(out).value == new
    return out


def test_replacing_a_scalar_touches_only_its_span():
    new = copy.deepcopy(parse(SAMPLE).value)
    new["theme"] = "light"
    assert edit(SAMPLE, new) == SAMPLE.replace('"dark"', '"light"')


def test_inserting_after_the_last_member_keeps_its_trailing_comment():
    new = copy.deepcopy(parse(SAMPLE).value)
    new["sessionDefaultSettings"] = {"model": "custom:a-0"}
    out = edit(SAMPLE, new)
    assert out == SAMPLE.replace('  "last": true // trailing\n', '  "last": true, // trailing\n  "sessionDefaultSettings": {\n    "model": "custom:a-0"\n  }\n')


def test_appending_an_item_follows_the_style_of_its_siblings():
    new = copy.deepcopy(parse(SAMPLE).value)
    new["customModels"].append({"model": "b", "baseUrl": "https://llmcloud.studio"})
    out = edit(SAMPLE, new)
    assert '"apiKey": "sk-old"},\n    {"model": "b", "baseUrl": "https://llmcloud.studio"}\n  ], /* models */' in out


def test_removing_members_handles_commas_and_keeps_other_comments():
    value = parse(SAMPLE).value
    new = {"customModels": value["customModels"], "last": True}  # the first member goes
    out = edit(SAMPLE, new)
    assert out == SAMPLE.replace('  "theme": "dark",\n', "")
    new = {"theme": "dark", "customModels": value["customModels"]}  # the last member goes
    out = edit(SAMPLE, new)
    assert out == SAMPLE.replace('], /* models */\n  "last": true // trailing\n', "] /* models */\n")
    new = {"theme": "dark", "last": True}  # a middle member goes
    out = edit(SAMPLE, new)
    assert '"customModels"' not in out and "my own" not in out
    assert '// the user\'s theme\n  "theme": "dark",\n  "last": true // trailing\n}' in out


def test_removing_array_items_in_the_middle_and_at_the_end():
    value = parse(SAMPLE).value
    models = value["customModels"]
    out = edit(SAMPLE, dict(value, customModels=[models[1]]), align=lambda p, o, n: [1])
    assert '{"model": "mine"' not in out and "// my own" not in out
    assert '  "customModels": [\n    {"model": "a", "baseUrl": "https://llmcloud.studio", "apiKey": "sk-old"}\n  ]' in out
    out = edit(SAMPLE, dict(value, customModels=[models[0]]), align=lambda p, o, n: [0])
    assert '"customModels": [\n    {"model": "mine", "baseUrl": "https://example.invalid"} // my own\n  ],' in out


@pytest.mark.parametrize(
    "text,new,expected",
    [
        ('{"a": 1, "b": 2}', {"a": 1}, '{"a": 1}'),
        ('{"a": 1, "b": 2}', {"b": 2}, '{"b": 2}'),
        ('{"a": 1, "b": 2}', {"b": 2, "c": [1, {"d": None}]}, '{"b": 2, "c": [1, {"d": null}]}'),
        ('{"a": 1, "b": 2, "c": 3}', {"a": 1}, '{"a": 1}'),
        ('{"a": 1, "b": 2, "c": 3}', {"a": 1, "d": 4}, '{"a": 1, "d": 4}'),
        ('{"a": 1, "b": 2}', {}, "{}"),
        ('{"a": 1, "b": 2}', {"z": 0}, '{"z": 0}'),
        ('{"a": [1, 2, 3]}', {"a": [1, 2]}, '{"a": [1, 2]}'),
        ('{"a": [1, 2, 3]}', {"a": [1, 2, 3, 4]}, '{"a": [1, 2, 3, 4]}'),
        ('{"a": [1, 2, 3]}', {"a": [9, 2, 3]}, '{"a": [9, 2, 3]}'),
        ('{"a": [1, 2, 3]}', {"a": []}, '{"a": []}'),
        ("{}", {"a": 1}, '{\n  "a": 1\n}'),
        ('{"a": {}}', {"a": {"b": True}}, '{"a": {"b": true}}'),
        ('{"a": {}, "l": []}', {"a": {}, "l": [{"m": 1}]}, '{"a": {}, "l": [{"m": 1}]}'),
        ('{\n  "a": {}\n}', {"a": {"b": True}}, '{\n  "a": {\n    "b": true\n  }\n}'),
        ('{"a": 1}', {"a": {"b": [1]}}, '{"a": {"b": [1]}}'),
        ('{\n\t"a": {\n\t\t"b": 1\n\t}\n}', {"a": {"b": 1, "c": {"d": 2}}}, '{\n\t"a": {\n\t\t"b": 1,\n\t\t"c": {\n\t\t\t"d": 2\n\t\t}\n\t}\n}'),
        ('{\r\n  "a": 1\r\n}\r\n', {"a": 1, "b": [2]}, '{\r\n  "a": 1,\r\n  "b": [\r\n    2\r\n  ]\r\n}\r\n'),
        ('{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n', {"a": 1}, '{\r\n  "a": 1\r\n}\r\n'),
        ('{\n  "a": 1 /* one */, "b": 2\n}', {"a": 1}, '{\n  "a": 1 /* one */\n}'),
        ('{\n  "a": {\n    // keep me\n    "x": 1\n  }\n}', {"a": {}}, '{\n  "a": {\n    // keep me\n  }\n}'),
        ('{\n  "a": {\n    "x": 1\n  }\n}', {"a": {}}, '{\n  "a": {}\n}'),
        ('{"x": "caf\u00e9"}', {"x": "\u4e2d\u6587"}, '{"x": "\u4e2d\u6587"}'),
    ],
)
def test_minimal_edits(text, new, expected):
    assert edit(text, new) == expected


def test_explicit_indent_shapes_new_text_only():
    text = '{\n  "a": {\n    "b": 1\n  }\n}\n'
    out = edit(text, {"a": {"b": 1}, "c": {"d": [1]}}, indent=4)
    assert out == '{\n  "a": {\n    "b": 1\n  },\n  "c": {\n      "d": [\n          1\n      ]\n  }\n}\n'
    out = edit(text, {"a": {"b": 1}, "c": {"d": 1}}, indent="\t")
    assert out.endswith('  "c": {\n  \t"d": 1\n  }\n}\n')
    assert parse('{\n    "a": 1\n}').indent_unit == "    "
    assert parse('{\n\t"a": 1\n}').indent_unit == "\t"
    assert parse('{"a": 1}').indent_unit == "  "


def test_plain_json_stays_plain_json():
    text = json.dumps({"a": {"b": [1, 2]}, "c": "x"}, indent=4)
    out = edit(text, {"a": {"b": [1, 2, 3], "e": {}}, "d": None})
    assert json.loads(out) == {"a": {"b": [1, 2, 3], "e": {}}, "d": None}
    assert not parse(out).has_comments


def test_unchanged_document_returns_the_same_text():
    doc = parse(SAMPLE)
    assert doc.update(copy.deepcopy(doc.value)) is SAMPLE
    assert doc.update(doc.value) is SAMPLE


def test_lone_surrogates_are_written_as_escapes():
    out = edit('{"a": 1}', {"a": 1, "b": "\ud800x"})
    assert "\\ud800" in out
    out.encode("utf-8")


def test_new_document_dumps():
    assert dumps({"a": [1, {"b": None}]}) == '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ]\n}\n'
    assert dumps({}, indent="\t", newline="\r\n") == "{}\r\n"


def test_apply_edits_refuses_overlaps():
    assert _jsonc.apply_edits("abcdef", [(1, 2, "X"), (4, 4, "Y")]) == "aXcdYef"
    with pytest.raises(ValueError):
        _jsonc.apply_edits("abcdef", [(1, 3, "X"), (2, 4, "Y")])


# ---------------------------------------------------------------- redaction
def test_redacted_text_masks_named_keys_secrets_and_commented_out_keys():
    text = (
        '{\n  // "apiKey": "sk-commented-out",\n  "customModels": [{"model": "m", "APIKEY": "sk-live-123",'
        ' "extraHeaders": {"X-Copy": "sk-live-123"}}],\n  "secret": {"token": "t0k3n-inner", "n": 5},\n'
        '  "password": 12345\n}'
    )
    doc = parse(text)
    out = Masking(["apiKey", "secret", "password"]).text(doc, secrets={"sk-live-123"})
    for leaked in ("sk-commented-out", "sk-live-123", "t0k3n-inner", "12345"):
        assert leaked not in out
    # each secret leaf in place (a container is never masked whole: below "secret", token and n),
    # and the commented-out key
    assert out.count('"********"') == 6
    assert '"model": "m"' in out and '"token"' in out
    assert parse(out).value["customModels"][0]["model"] == "m"


def test_mask_secrets_covers_escaped_forms():
    secret = 'p\u00e4ss"w/ord'
    text = json.dumps({"a": secret}) + json.dumps({"a": secret}, ensure_ascii=False) + secret
    out = mask_secrets(text, {secret, ""})
    assert "ss" not in out and out.count("********") == 3


# ---------------------------------------------------------------- equality
def test_json_equal_separates_booleans_from_numbers():
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal({"a": True}, {"a": 1})
    assert not json_equal([0], [False])
    assert not json_equal({"a": None}, {"b": None})
    assert not json_equal("1", 1)
    assert not json_equal([1], (1,)) or json_equal([1], [1])


# ---------------------------------------------------------------- properties
@PROPERTY
@given(documents, st.integers(0, 2**32))
def test_property_render_then_parse_gives_the_document(doc, seed):
    rendered = render(doc, seed)
    parsed = parse(rendered.text)
    assert json_equal(parsed.value, doc)
    assert json_equal(_jsonc._parse_slow(parsed.text, parsed.blank, 200), doc)


@PROPERTY
@given(documents, st.integers(0, 2**32))
def test_property_untouched_document_round_trips_byte_for_byte(doc, seed):
    text = render(doc, seed).text
    parsed = parse(text)
    assert parsed.update(copy.deepcopy(doc)) == text
    assert parsed.update(json.loads(json.dumps(doc))) == text


@PROPERTY
@given(documents, documents, st.integers(0, 2**32))
def test_property_writer_output_parses_back_to_the_intended_document(old, new, seed):
    text = render(old, seed).text
    out = parse(text).update(new)
    assert json_equal(parse(out).value, new)


@PROPERTY
@given(documents, st.integers(0, 2**32), st.integers(0, 2**32), st.sampled_from([None, 1, 3, "\t"]))
def test_property_writer_on_related_documents(old, seed, mutation_seed, indent):
    """The new document shares most of the old one, as merges produce: edits stay small and correct."""
    rendered = render(old, seed)
    new = copy.deepcopy(old)
    new.update(mutate(old, mutation_seed))
    out = parse(rendered.text).update(new, indent=indent)
    assert json_equal(parse(out).value, new)


@PROPERTY
@given(object_documents, st.integers(0, 2**32), st.integers(0, 2**32))
def test_property_comments_survive_edits_that_keep_their_member(old, seed, mutation_seed):
    rendered = render(old, seed, comment_rate=0.5)
    value = mutate(old, mutation_seed)
    new = copy.deepcopy(old)
    _deep_update(new, value)
    out = parse(rendered.text).update(new)
    assert json_equal(parse(out).value, new)
    for mark, pointer, where in rendered.comments:
        if _kept_unchanged_container(old, new, pointer, where):
            assert mark in out, (mark, pointer, where)


def _deep_update(target, value):
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], item)
        else:
            target[key] = copy.deepcopy(item)


def _tokens(pointer):
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []


def _kept_unchanged_container(old, new, pointer, where):
    """True when the comment's member (or container, for 'inside') is still there, below objects only."""
    tokens = _tokens(pointer)
    path = tokens if where == "inside" else tokens[:-1]
    node_old, node_new = old, new
    for token in path:
        if not (isinstance(node_old, dict) and isinstance(node_new, dict)) or token not in node_old or token not in node_new:
            return False
        node_old, node_new = node_old[token], node_new[token]
    if not (isinstance(node_old, dict) and isinstance(node_new, dict)):
        return False
    return where == "inside" or tokens[-1] in node_new


@PROPERTY
@given(values, st.integers(0, 2**32))
def test_property_reader_never_crashes_on_edited_text(value, seed):
    """Random damage to a valid text: a document or a JSONCError, never another exception."""
    text = render({"k": value}, seed).text
    rnd_pos = seed % (len(text) + 1)
    for damaged in (
        text[:rnd_pos],
        text[:rnd_pos] + "," + text[rnd_pos:],
        text[:rnd_pos] + text[rnd_pos + 1 :],
        text[:rnd_pos] + "/*" + text[rnd_pos:],
        text[:rnd_pos] + '"' + text[rnd_pos:],
    ):
        try:
            parse(damaged)
        except JSONCError as err:
            assert err.line >= 1 and err.column >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list('{}[],:"\\ntrue false null-0123456789.eE+ abcu\t\n/*')), max_size=60))
def test_property_random_text_reads_or_fails_cleanly(text):
    try:
        doc = parse(text)
    except JSONCError as err:
        assert err.line >= 1 and err.column >= 1
        return
    assert isinstance(doc.value, dict)
    assume(doc.value)
    assert doc.update(copy.deepcopy(doc.value)) == text


def test_insert_after_last_kept_member_when_the_next_members_are_removed():
    """Regression (found by tests/faults fuzzing): the insertion point fell inside a removed span."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _jsonc

    for text in ('{"a": 1, //c\n "b": 2, "x": 3}', '{\n  "a": 1, // c\n  "b": 2, "x": 3\n}\n'):
        out = _jsonc.parse(text).update({"a": 1, "k0": 1})
        assert _jsonc.loads(out) == {"a": 1, "k0": 1}


# ---------------------------------------------------------------- the differential corpus, without droid
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "differential", "corpus.json")
with open(CORPUS) as _handle:
    RECORDED = json.load(_handle)


def _differential_compare():
    """tests/differential/compare.py, loaded from its file: once another test has installed ansible-core's
    collection finder, ``tests`` is no longer importable as a subpackage of the collection."""
    import importlib.util
    import sys

    name = "llmcloud_differential_compare"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(CORPUS), "compare.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_corpus_agrees_with_droids_recorded_verdict(name):
    """tests/differential/corpus.json: droid 0.225.2's verdicts (recorded by tests/differential/run.sh --record).

    Where droid loaded the file the module merges into it, droid loaded what it wrote, comments and kept
    members untouched; where droid rejected it the module refuses it with line, column and the fix.
    """
    compare = _differential_compare()
    check_recorded, corpus_bytes = compare.check_recorded, compare.corpus_bytes

    outcome, problems = check_recorded(corpus_bytes(RECORDED[name]["text"]), RECORDED[name])
    assert not problems, problems
    assert outcome in ("agree", "blank file", "nesting limit")


def test_corpus_holds_the_issue_cases_and_every_class():
    names = set(RECORDED)
    for needed in (
        "issue12-surrogate-in-comment",
        "issue12-comment-after-array-opener",
        "duplicate-key-last-wins",
        "lone-high-surrogate-escape",
        "bom",
        "empty",
        "latin1-byte-in-string-and-comment",
        "deep-nesting-crashes-droid",
    ):
        assert needed in names
    assert RECORDED["issue12-surrogate-in-comment"]["loaded"] is True
    assert RECORDED["deep-nesting-crashes-droid"]["crash"] is True


# -- plain (not keyed) lists: items matched by equality, so comments stay with their items --------
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import merge  # noqa: E402
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import align_plain, make_aligner  # noqa: E402

ALLOWLIST = '{\n  "commandAllowlist": [\n    "ls", // listing\n    "rm", // dangerous\n    "cat" // reading\n  ]\n}\n'


def _merged(text, items):
    doc = parse(text)
    new, _operations = merge(doc.value, {"commandAllowlist": items})
    out = doc.update(new, make_aligner({}), None)
    assert parse(out).value == new
    return out


def test_removing_an_item_of_a_plain_list_takes_its_comment_and_keeps_the_others():
    assert _merged(ALLOWLIST, ["ls", "cat"]) == '{\n  "commandAllowlist": [\n    "ls", // listing\n    "cat" // reading\n  ]\n}\n'


def test_prepending_to_a_plain_list_shifts_no_comment():
    out = _merged(ALLOWLIST, ["pwd", "ls", "rm", "cat"])
    assert out == '{\n  "commandAllowlist": [\n    "pwd",\n    "ls", // listing\n    "rm", // dangerous\n    "cat" // reading\n  ]\n}\n'


def test_a_replaced_item_does_not_inherit_the_comment_of_the_one_it_replaces():
    out = _merged(ALLOWLIST, ["ls", "pwd", "cat"])
    assert "// dangerous" not in out and '"ls", // listing' in out and '"cat" // reading' in out and '"pwd"' in out


def test_inline_plain_lists_get_items_inserted_in_place():
    doc = parse('{"a": ["ls", "cat"]} // end\n')
    new, _ops = merge(doc.value, {"a": ["pwd", "ls", "x", "cat"]})
    assert doc.update(new, make_aligner({}), None) == '{"a": ["pwd", "ls", "x", "cat"]} // end\n'


def test_changed_objects_of_a_plain_list_continue_the_ones_they_replace():
    text = '{"l": [\n  {"a": 1}, // first\n  {"b": 2} // second\n]}\n'
    assert align_plain([{"a": 1}, {"b": 2}], [{"a": 1}, {"b": 3}]) == [0, 1]
    doc = parse(text)
    assert doc.update({"l": [{"a": 1}, {"b": 3}]}, make_aligner({}), None) == '{"l": [\n  {"a": 1}, // first\n  {"b": 3} // second\n]}\n'


tags = st.sampled_from(["ls", "rm", "cat", "pwd", "git", "make", "echo", 1, 2, None, False])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tags, max_size=8), st.lists(tags, max_size=8), st.booleans())
def test_property_plain_lists_keep_each_comment_with_an_equal_item(old, new, inline):
    """Every line comment beside an old item ends up beside an item equal to it, or goes with it (inline
    lists: the text reads back as the new list)."""
    if inline:
        text = '{"l": [' + ", ".join("%s /*c%d*/" % (json.dumps(item), index) for index, item in enumerate(old)) + "]}"
    else:
        text = (
            '{"l": [\n' + "".join("  %s%s // c%d\n" % (json.dumps(item), "," if index < len(old) - 1 else "", index) for index, item in enumerate(old)) + "]}\n"
        )
    doc = parse(text)
    out = doc.update({"l": new}, make_aligner({}), None)
    assert parse(out).value == {"l": new}
    mapping = align_plain(old, new)
    assert [index for index in mapping if index is not None] == sorted(set(index for index in mapping if index is not None))
    for index, item in enumerate(old):
        marker = "c%d" % index
        if marker in out and not inline:  # a line comment survived: the item on its line is still that value
            line = [row for row in out.splitlines() if row.endswith("// " + marker)][0]
            assert json.loads(line.rsplit("//", 1)[0].strip().rstrip(",")) == item, (text, out, marker)
    if json.dumps(old) == json.dumps(new):
        assert out == text
