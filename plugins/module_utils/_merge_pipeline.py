# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The json_merge pipeline: options, their checks, parse, merge, plan the edit and its diff.

Pure and free of file I/O. One copy serves every target:

- ``plugins/modules/json_merge.py`` (POSIX targets) reads the file through ``_file_layer``, hands
  its bytes to :func:`plan` and writes what the plan says;
- ``plugins/action/json_merge.py`` (Windows targets) validates the task with :func:`argument_spec`
  (``path`` as a plain string: the target expands it), reads the file with the Windows modules and
  runs the same :func:`plan` on the controller.

Every message a user can get from a bad option or an unreadable file is written here, once.
"""

from __future__ import annotations

import copy
import re

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS, AnsibleModule

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import (
    MergeError,
    merge,
    parse_pointer,
)
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    JSONCError,
    decode_bytes,
    parse,
)

MIB = 1024 * 1024

# The file options of ansible.builtin.files that the module honours. ``unsafe_writes`` is left
# out on purpose: the module never writes a settings file in place, so it does not accept the option.
FILE_OPTIONS = ("mode", "owner", "group", "seuser", "serole", "selevel", "setype", "attributes")

# POSIX-only file options that mean nothing for a Windows file (it inherits its folder's ACL).
# ``mode`` is accepted and ignored there, so that one task (the role passes mode "0600") serves every OS.
POSIX_ONLY = ("owner", "group", "seuser", "serole", "selevel", "setype", "attributes")


class Failure(Exception):
    """A failure the user can fix; the message is shown as is (after masking)."""


# Errors whose text is a message for the user (no traceback).
USER_ERRORS = (Failure, JSONCError, MergeError)


# Letters chattr(1) sets and ansible-core knows; anything else fails before the file is touched.
_ATTRIBUTE_LETTERS = "aAcCdDeEFhiIjmNPsStTuxXZ"


def argument_spec():
    """The module's options.

    ``path`` is a plain string: the target expands ``~`` (for O(user) when given) and, on Windows,
    ``%USERPROFILE%``; a controller-side expansion would use the controller's home.
    """
    spec = dict(
        path=dict(type="str"),
        files=dict(type="list", elements="dict", options=file_spec()),
        user=dict(type="str"),
        only_if_keys=dict(type="list", elements="str", default=[], no_log=False),
        value=dict(type="dict", default={}, no_log=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        keyed_lists=dict(type="dict", default={}, no_log=False),
        prune=dict(type="dict", default={}),
        exact_items=dict(type="dict", default={}),
        remember=dict(type="dict", default={}),
        create=dict(type="bool", default=True),
        backup=dict(type="bool", default=False),
        redact=dict(type="list", elements="str", default=[]),
        redact_exclude=dict(type="list", elements="str", default=[]),
        indent=dict(type="str", default="auto"),
        lock_timeout=dict(type="float", default=30),
        max_size=dict(type="int", default=32 * MIB),
        validate=dict(type="str"),
        validate_timeout=dict(type="float", default=120),
        strict_path=dict(type="bool", default=False),
        offboard=dict(type="dict", options=offboard_spec()),
    )
    for name in FILE_OPTIONS:
        spec[name] = copy.deepcopy(FILE_COMMON_ARGUMENTS[name])
    return spec


def offboard_spec():
    """The ``offboard`` option: what the byok role removes, decided by the module on the file it read."""
    return dict(
        url=dict(type="str", required=True),
        extra_urls=dict(type="list", elements="str", default=[]),
        entries=dict(type="list", elements="dict", default=[]),
        kind=dict(type="str", default="settings", choices=["settings", "local", "legacy"]),
        system=dict(type="bool", default=False),
    )


# Options a ``files`` item may set for its own file; the task's option of the same name is the default.
PER_FILE = ("path", "user", "value", "only_if_keys", "keyed_lists", "prune", "exact_items", "remember")

# path and files: one of them, not both (AnsibleModule and ArgumentSpecValidator keywords).
SPEC_RULES = dict(required_one_of=[["path", "files"]], mutually_exclusive=[["path", "files"]])


def file_spec():
    """The options of one ``files`` item: the per-file options (unset: the task's), and ``check_only``."""
    return dict(
        path=dict(type="str", required=True),
        user=dict(type="str"),
        value=dict(type="dict", no_log=True),
        only_if_keys=dict(type="list", elements="str", no_log=False),
        keyed_lists=dict(type="dict", no_log=False),
        prune=dict(type="dict"),
        exact_items=dict(type="dict"),
        remember=dict(type="dict"),
        check_only=dict(type="bool", default=False),
    )


def file_params(params):
    """One options dict per file: ``[params]`` for a one-file task; with ``files``, the task's
    options overlaid with each item's (an item's unset option is the task's). Each has ``check_only``."""
    if params.get("files") is None:
        return [dict(params, check_only=False)]
    found = []
    for item in params["files"]:
        one = dict(params)
        one.pop("files")
        for name, given in item.items():
            if given is not None:
                one[name] = given
        found.append(one)
    if not found:
        raise Failure("files must list at least one file (path, and the options that differ from the task's), or give path instead")
    return found


def files_message(number, path, text):
    """A message about ``files[number]``: the index, then the path unless the text names it already."""
    if path and path in text:
        return "files[%d]: %s" % (number, text)
    return "files[%d] %s: %s" % (number, path or "(no path)", text)


def number(value):
    """A float option as the user wrote it: 30 rather than 30.0."""
    return ("%d" % value) if float(value).is_integer() else ("%s" % value)


def parse_indent(value):
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text in ("tab", "\t"):
        return "\t"
    if re.match(r"^[0-9]+$", text) and 1 <= int(text) <= 16:
        return int(text)
    raise Failure("indent must be auto, tab or a number of spaces from 1 to 16, not %s" % value)


def check_params(params):
    """Every error in the options, found before any file is touched. Returns the indent to use."""
    if params["path"] is None:
        raise Failure("give path (the file to merge into, e.g. ~/.factory/settings.json) or files (a list of them)")
    if not params["path"]:
        raise Failure("path must not be empty: give the file to merge into, e.g. ~/.factory/settings.json")
    indent = parse_indent(params["indent"])
    if params["lock_timeout"] < 0:
        raise Failure("lock_timeout must be 0 or more seconds, not %s" % number(params["lock_timeout"]))
    if params["max_size"] <= 0:
        raise Failure("max_size must be a positive number of bytes, not %s" % params["max_size"])
    merge({}, {}, params["keyed_lists"] or {}, params["prune"] or {}, params["state"], params.get("exact_items"), params.get("remember"))  # option errors
    for pointer in params.get("only_if_keys") or []:
        parse_pointer(pointer, "only_if_keys")
    if params.get("user") is not None and not params["user"].strip():
        raise Failure("user must not be empty: give the name of the account whose file this is, or leave user out")
    _check_mode(params.get("mode"))
    _check_attributes(params.get("attributes"))
    if params.get("validate") is not None and "%s" not in params["validate"]:
        raise Failure('validate must contain %%s, which stands for the path of the candidate file, e.g. "/usr/bin/jq . %%s"; got %s' % params["validate"])
    if params.get("validate_timeout") is not None and params["validate_timeout"] <= 0:
        raise Failure("validate_timeout must be a positive number of seconds, not %s" % number(params["validate_timeout"]))
    if params.get("offboard") is not None:
        if params["state"] != "absent":
            raise Failure("offboard needs state: absent (it decides what to remove from the file as read)")
        offboard_options(None, params)  # its regular expressions compile
    return indent


def offboard_options(doc, params):
    """``params`` with ``value``, ``keyed_lists`` and ``prune`` decided by the ``offboard`` option from
    the document as read (``doc``, a _jsonc Document or None), and what it decided (``remove_file``)."""
    # imported here: only the byok role's offboarding needs the droid rules
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._droid import offboard

    given = params["offboard"]
    decided = offboard(
        doc.value if doc is not None else None,
        given["url"],
        [u for u in given.get("extra_urls") or [] if u],
        bool(given.get("system")),
        given.get("entries") or [],
        given.get("kind") or "settings",
        parsed=True,
    )
    merge({}, {}, decided["keyed_lists"], decided["prune"], "absent")  # option errors (a bad URL pattern)
    # the developer's default model, kept while the role's was in place, goes back (user files only)
    remember = params.get("remember") or decided.get("remember") or {}
    return dict(params, value=decided["value"], keyed_lists=decided["keyed_lists"], prune=decided["prune"], remember=remember), decided


class _ModeProbe(object):
    st_mode = 0o100600


def _check_mode(mode):
    """A mode chmod understands (octal or symbolic), or a failure before anything is written."""
    if mode is None or isinstance(mode, int):
        return
    text = str(mode).strip()
    if re.match(r"^0?[0-7]{3,4}$", text):
        return
    try:
        AnsibleModule._symbolic_mode_to_octal(_ModeProbe, text)
    except ValueError:
        raise Failure('mode %s is neither an octal mode (quote it, e.g. "0600") nor a symbolic one (e.g. u=rw,go=); nothing was changed' % mode) from None


def _check_attributes(attributes):
    if attributes is None:
        return
    text = attributes.strip()
    letters = text[1:] if text[:1] in ("=", "+", "-") else text
    wrong = sorted(set(letter for letter in letters if letter not in _ATTRIBUTE_LETTERS))
    if not letters or wrong:
        raise Failure(
            'attributes %s: %s not a file attribute chattr sets (give e.g. "+i" or "-a"; see man chattr); '
            "nothing was changed" % (attributes, ", ".join(wrong) + (" is" if len(wrong) == 1 else " are") if wrong else "no letter")
        )


def holds_keys(value, pointers):
    """True when every JSON pointer names something in ``value`` (object keys, or list indexes)."""
    for pointer in pointers:
        current = value
        for token in parse_pointer(pointer, "only_if_keys"):
            if isinstance(current, dict) and token in current:
                current = current[token]
            elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
                current = current[int(token)]
            else:
                return False
    return True


def is_a_folder(path, join):
    """``path`` names a folder; ``join`` builds the path of a file inside it (os.path.join or ntpath.join)."""
    return Failure("%s is a folder, not a file: give the path of the file inside it, e.g. %s" % (path, join(path, "settings.json")))


def missing(path):
    return Failure("%s does not exist and create is false" % path)


def too_big(path, size, max_size):
    return Failure(
        "%s is %.1f MiB, more than max_size (%s bytes, %.1f MiB); it was left untouched" % (path, size / float(MIB), max_size, max_size / float(MIB))
    )


def grew_too_big(path, max_size):
    return Failure("%s grew past max_size (%s bytes) while it was read; it was left untouched" % (path, max_size))


def numeric_mode(mode):
    """An octal mode given as a string or a number, or None (not given, or symbolic)."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode & 0o7777
    try:
        return int(str(mode), 8) & 0o7777
    except ValueError:
        return None


# ------------------------------------------------------------------ parse, merge, plan
def read_document(data, shown):
    """The parsed document of a file's bytes; a file that does not read fails naming ``shown``."""
    try:
        return parse(decode_bytes(data), allow_empty=True)
    except JSONCError as exc:
        raise Failure("%s: %s. The file was left untouched." % (shown, exc)) from exc


class Plan(object):
    """What one task does to one file: computed first, acted on afterwards."""

    def __init__(self, doc):
        self.doc = doc  # the file as read (a _jsonc Document), None when there is none
        self.written = doc  # the document as it will be (parsed back from new_text)
        self.changed = False
        self.operations = []
        self.new_text = None  # None: nothing to write
        self.secrets = set()  # of the file, when they were collected (diff, or asked for)
        self.diff = None
        self.applied = True  # False: only_if_keys named a key the file does not hold
        self.remove_file = False  # offboard: the file holds nothing but what the role wrote

    @property
    def exists(self):
        return self.doc is not None


def plan(doc, params, redaction, indent, diff=False, header=None, file_secrets=False):
    """Merge ``params['value']`` into ``doc`` (None: no file) and plan the edit, without any I/O.

    The new text changes only the spans that change; it is parsed back and must equal the merged
    document. With ``diff``, the redacted before/after texts are built (headed ``header``).
    """
    result = Plan(doc)
    if params.get("offboard") is not None:
        params, decided = offboard_options(doc, params)
        result.remove_file = decided["remove_file"]
    state = params["state"]
    only_if = params.get("only_if_keys") or []
    if only_if and (doc is None or not holds_keys(doc.value, only_if)):
        result.applied = False  # not this file's business: leave it as it is
        return result
    if doc is None and state == "absent":
        return result  # nothing there, nothing to remove
    keyed, prune = params["keyed_lists"] or {}, params["prune"] or {}
    value = params["value"] or {}
    if doc is not None and (diff or file_secrets):
        result.secrets = redaction.masking.secrets(doc.value)
    new_doc, operations = merge(doc.value if doc is not None else {}, value, keyed, prune, state, params.get("exact_items"), params.get("remember"))
    result.operations = operations
    if not (operations or doc is None or (doc.empty and state == "present")):
        return result
    # the file changes: the writer is compiled only now
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import dumps, make_aligner

    if doc is not None:
        new_text = doc.update(new_doc, make_aligner(keyed), indent)
    else:
        new_text = dumps(new_doc, indent if indent is not None else 2)
    written = parse(new_text, max_depth=None)  # the values were checked: only the edits are
    if written.value != new_doc:  # a structural check of the edits, at C speed
        raise Failure("internal error: the edited text does not read back as the merged document; nothing was written (please report this)")
    result.changed, result.new_text, result.written = True, new_text, written
    if diff:
        secrets = redaction.secrets  # each text masks its own document's secrets too
        result.diff = {
            "before": redaction.text(doc, secrets) if doc is not None else "",
            "after": redaction.text(written, secrets),
            "before_header": header,
            "after_header": header,
        }
    return result
