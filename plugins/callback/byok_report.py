# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report of the byok role: one JSON and one Markdown file on the controller per run."""

from __future__ import annotations

DOCUMENTATION = r"""
name: byok_report
type: aggregate
short_description: Write one report of a byok run for the whole fleet (Markdown and JSON), never a key
version_added: 0.2.0
description:
  - After the playbook, writes what the P(llmcloud.factory_droid.byok#role) role did on each host, per user, into
    C(<path>.json) (for tools) and C(<path>.md) (for people), both C(0600), each replaced atomically.
  - Per host - its outcome (V(ok), V(changed), V(failed), V(unreachable)), the key mode, and per user - the settings files
    the merge wrote or repaired (operations, a plaintext key put back to C(${LLMCLOUD_API_KEY})), the LLMCloud models and
    default model written, and with C(byok_verify) what the real droid lists, its version and where its default model
    resolves. Every problem of the host, with the fix the role suggests - failed tasks, unreachable hosts, what the
    C(byok_verify) judge found.
  - It reads only what the run already returns (the merge task's results, the judge's C(set_stats) payload, failures);
    it adds no task and no round trip. Without C(byok_verify) the report says what was written, not what droid lists.
  - No key or other secret from the role - the byok role's merge hands the report its documents with every key already
    masked (it never sees a key), the modules mask theirs in their messages, and every value in the report that looks
    like a credential is masked too (the collection's masking rule, the one C(llmcloud.factory_droid.json_merge) uses).
    A key that a task of your own puts into its message is shown there, on the screen as in the report; keep keys out
    of your tasks' messages.
  - Off unless enabled - add C(llmcloud.factory_droid.byok_report) to C(callbacks_enabled) (C(ANSIBLE_CALLBACKS_ENABLED)).
    Not enabled, it is not even loaded.
options:
  path:
    description:
      - Where to write, without the suffix; C(.json) and C(.md) are added (a trailing C(.json) or C(.md) is dropped).
      - A path that ends with C(/) or names an existing directory is a folder - the report is then C(report.json) and
        C(report.md) inside it.
      - Missing folders are created, each C(0700). Relative paths are from the current directory; C(~) and
        environment variables are expanded.
      - A report that cannot be written does not fail the run (its exit code stays the playbook's) - a warning naming
        both files and the reason is printed after the recap, the last thing the run says.
    type: str
    default: byok-report
    env:
      - name: BYOK_REPORT_PATH
    ini:
      - section: callback_byok_report
        key: path
requirements:
  - enabled in C(callbacks_enabled)
author:
  - LLMCloud Factory Droid collection maintainers (@llmcloud)
"""

EXAMPLES = r"""
# ansible.cfg: write build/byok-report.json and build/byok-report.md after every run
# [defaults]
# callbacks_enabled = llmcloud.factory_droid.byok_report
# [callback_byok_report]
# path = build/byok-report

# or for one run, from the shell:
# ANSIBLE_CALLBACKS_ENABLED=llmcloud.factory_droid.byok_report BYOK_REPORT_PATH=reports/byok \
#   ansible-playbook -i inventories/acme playbooks/onboard.yml --vault-id fleet@prompt
"""

import datetime
import errno
import json
import os
import re
import tempfile

from ansible.plugins.callback import CallbackBase

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import (
    MASK,
    Masking,
    credentials_in_text,
    mask_text,
)

SCHEMA = "llmcloud.factory_droid.byok_report/1"
# the byok role's merge task (byok_settings, whose action puts json_merge's `files` in its args), and json_merge
MERGE_ACTIONS = ("llmcloud.factory_droid.byok_settings", "llmcloud.factory_droid.json_merge", "json_merge")
ID_PREFIX = "custom:llmcloud-"
REFERENCE = "${LLMCLOUD_API_KEY}"
REPAIRED_KEY = re.compile(r"^/customModels/\d+/apiKey$")
UNREACHABLE_FIX = (
    "Make the host reachable from the controller (its address, the port, the SSH user and key: "
    "ansible -m ansible.builtin.ping <host>), then run the playbook again with --limit <host>."
)
FILE_FIX = "Repair %s by hand as the message says (the merge left it untouched and wrote nothing to it), then run the playbook again with --limit %s."


def _get(result, name):
    """A TaskResult attribute across ansible-core versions (2.19: public names, older: _-prefixed)."""
    value = getattr(result, name, None)
    return value if value is not None else getattr(result, "_" + name, None)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmcloud.factory_droid.byok_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hosts = {}
        self._secrets = set()
        self._playbooks = []

    # -- collecting ------------------------------------------------------------------------
    def _host(self, name):
        if name not in self._hosts:
            self._hosts[name] = {"users": {}, "order": [], "problems": [], "key_mode": None, "keychain": False, "payload": None}
        return self._hosts[name]

    def _user(self, host, name):
        if name not in host["users"]:
            host["order"].append(name)
            host["users"][name] = {"user": name, "files": [], "models_written": [], "default_written": None}
        return host["users"][name]

    @staticmethod
    def _fields(result):
        return _get(result, "task_fields") or {}

    @staticmethod
    def _name(result):
        host = _get(result, "host")
        return host.get_name() if hasattr(host, "get_name") else str(host)

    def v2_playbook_on_start(self, playbook):
        self._playbooks.append(os.path.basename(getattr(playbook, "_file_name", "") or ""))

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._collect(result)
        data = _get(result, "result") or {}
        if isinstance(data.get("results"), list) and any(isinstance(r, dict) and r.get("failed") for r in data["results"]):
            return  # a loop (each failed item recorded by v2_runner_item_on_failed) or the merge (each failed file by _merge)
        self._problem(result, data, ignored=ignore_errors)

    def v2_runner_item_on_failed(self, result):
        self._problem(result, _get(result, "result") or {}, ignored=bool(self._fields(result).get("ignore_errors")))

    def v2_runner_on_unreachable(self, result):
        data = _get(result, "result") or {}
        host = self._host(self._name(result))
        host["unreachable"] = True
        host["problems"].append({"task": self._task_name(result), "message": str(data.get("msg") or "unreachable"), "fix": UNREACHABLE_FIX})

    def _task_name(self, result):
        task = _get(result, "task")
        return str(self._fields(result).get("name") or (task.get_name() if task is not None else ""))

    def _problem(self, result, data, ignored=False):
        host = self._host(self._name(result))
        message = data.get("msg") or data.get("stderr") or data.get("message") or "failed"
        payload = host["payload"]
        if payload and str(message) == " ".join(payload.get("problems") or []):
            return  # the byok_verify judge: its sentences are already the users' problems
        problem = {"task": self._task_name(result), "message": str(message), "fix": None}
        if ignored:
            problem["ignored"] = True
        host["problems"].append(problem)

    def _collect(self, result):
        data = _get(result, "result") or {}
        fields = self._fields(result)
        host = self._host(self._name(result))
        stats = data.get("ansible_stats")
        if isinstance(stats, dict) and isinstance(stats.get("data"), dict) and isinstance(stats["data"].get("byok_report"), dict):
            host["payload"] = stats["data"]["byok_report"]
        action = fields.get("_resolved_action") or fields.get("action")
        args = fields.get("args") if isinstance(fields.get("args"), dict) else {}
        if action in MERGE_ACTIONS and isinstance(args.get("files"), list):
            self._merge(host, args["files"], data, self._task_name(result), self._name(result))
        task = _get(result, "task")
        path = task.get_path() if task is not None and hasattr(task, "get_path") else ""
        if re.search(r"/roles/byok/tasks/keychain\.yml:", path or "") and not data.get("skipped"):
            host["keychain"] = True

    def _merge(self, host, files, data, task="", host_name=""):
        """The byok merge task: which files of which user, what changed; the keys only to mask them."""
        results = data.get("results") if isinstance(data.get("results"), list) else []
        modes = set()
        for index, item in enumerate(files):
            if not isinstance(item, dict):
                continue
            value = item.get("value") if isinstance(item.get("value"), dict) else {}
            self._secrets.update(Masking().secrets(value))
            outcome = results[index] if index < len(results) and isinstance(results[index], dict) else {}
            if outcome and not outcome.get("applied", True) and not outcome.get("changed") and not outcome.get("failed"):
                continue  # settings.local.json without the keys the role would touch: not looked into
            user = self._user(host, item.get("user") or None)
            operations = [op for op in outcome.get("operations") or [] if isinstance(op, dict)]
            counts = dict((kind, sum(1 for op in operations if op.get("op") == kind)) for kind in ("add", "replace", "remove"))
            entry = {
                "path": str(outcome.get("path") or item.get("path") or ""),
                "changed": bool(outcome.get("changed")),
                "check_only": bool(item.get("check_only")),
                "operations": counts,
                "plaintext_key_replaced": False,
            }
            failed = bool(outcome.get("failed"))
            if failed:
                entry["failed"] = str(outcome.get("msg") or "failed")
                # nothing was written to this file: a problem of the host, with the module's sentence and the fix
                host["problems"].append({"task": task, "message": entry["failed"], "fix": FILE_FIX % (entry["path"], host_name or "<host>")})
            models = value.get("customModels") if isinstance(value.get("customModels"), list) else []
            ours = [m for m in models if isinstance(m, dict) and str(m.get("id", "")).startswith(ID_PREFIX)]
            for model in ours:
                modes.add("reference" if model.get("apiKey") == REFERENCE else "key")
            if modes == {"reference"} and any(op.get("op") == "replace" and REPAIRED_KEY.match(str(op.get("path", ""))) for op in operations):
                entry["plaintext_key_replaced"] = True
            user["files"].append(entry)
            if failed or item.get("check_only"):
                continue  # nothing of it written
            if ours and not user["models_written"]:
                user["models_written"] = [[str(m.get("id")), str(m.get("displayName", ""))] for m in ours]
            default = value.get("sessionDefaultSettings")
            if isinstance(default, dict) and isinstance(default.get("model"), str):
                user["default_written"] = default["model"]
        if modes:
            host["key_mode"] = "inline" if "key" in modes else "env"

    # -- the report ------------------------------------------------------------------------
    def _host_report(self, name, stats):
        host = self._hosts.get(name) or self._host(name)
        summary = stats.summarize(name) if stats is not None else {}
        if summary.get("unreachable") or host.get("unreachable"):
            status = "unreachable"
        elif summary.get("failures"):
            status = "failed"
        elif summary.get("changed"):
            status = "changed"
        else:
            status = "ok"
        payload = host["payload"] or {}
        key_mode = payload.get("key_mode") or ("keychain" if host["keychain"] and host["key_mode"] == "env" else host["key_mode"])
        checked = dict(((u.get("user") or None), u) for u in payload.get("users") or [] if isinstance(u, dict))
        users = []
        for user_name in host["order"] + [u for u in checked if u not in host["users"]]:
            user = dict(host["users"].get(user_name) or {"user": user_name, "files": [], "models_written": [], "default_written": None})
            check = checked.get(user_name)
            user["verified"] = check is not None and bool(check.get("droid"))
            user["droid"] = {"path": check.get("droid"), "version": check.get("version") or None} if check and check.get("droid") else None
            user["models_listed"] = [list(pair) for pair in check.get("models") or []] if check else None
            user["missing"] = list(check.get("missing") or []) if check else []
            user["default"] = check.get("default") if check else None
            user["repaired"] = [f["path"] for f in user["files"] if f["plaintext_key_replaced"]]
            user["problems"] = list(check.get("problems") or []) if check else []
            user["warnings"] = list(check.get("warnings") or []) if check else []
            users.append(user)
        per_user = set(p for u in users for p in u["problems"] + u["warnings"])
        problems = list(host["problems"])
        problems += [{"task": "byok_verify", "message": p, "fix": None} for p in payload.get("problems") or [] if p not in per_user]
        warnings = [w for w in payload.get("warnings") or [] if w not in per_user]
        return {
            "host": name,
            "status": status,
            "key_mode": key_mode,
            "verify": payload.get("verify"),
            "users": users,
            "problems": problems,
            "warnings": warnings,
        }

    def report(self, stats):
        names = sorted(set(list(getattr(stats, "processed", {}) or {}) + list(self._hosts)))
        hosts = [self._host_report(name, stats) for name in names]
        counts = dict((status, sum(1 for h in hosts if h["status"] == status)) for status in ("ok", "changed", "failed", "unreachable"))
        report = {
            "schema": SCHEMA,
            "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "playbooks": [p for p in self._playbooks if p],
            "summary": dict(counts, hosts=len(hosts), problems=sum(len(h["problems"]) + sum(len(u["problems"]) for u in h["users"]) for h in hosts)),
            "hosts": hosts,
        }
        return self._masked(report)

    def _masked(self, value):
        if isinstance(value, dict):
            return dict((key, self._masked(item)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return [self._masked(item) for item in value]
        if isinstance(value, str):
            return mask_text(value, sorted(self._secrets | credentials_in_text(value), key=len, reverse=True))
        return value

    def v2_playbook_on_stats(self, stats):
        base = report_base(self.get_option("path"))
        report = self.report(stats)
        try:
            _write(base + ".json", json.dumps(report, indent=2, sort_keys=False) + "\n")
            _write(base + ".md", markdown(report))
        except OSError as exc:
            reason = "%s%s" % (exc.strerror or exc, (": " + exc.filename) if exc.filename else "")
            message = "byok_report: the fleet report was NOT written (%s.json and %s.md): %s" % (base, base, reason)
            self._display.warning(message)  # after the recap: the stdout callback has the stats first
            return
        self._display.display("byok_report: %s.md and %s.json (%d hosts)" % (base, base, len(report["hosts"])))


def report_base(option):
    """The report's path without its suffix: ``dir/`` or an existing directory means ``dir/report``."""
    raw = option or "byok-report"
    path = os.path.expandvars(os.path.expanduser(raw))
    if raw.endswith(("/", os.sep)) or os.path.isdir(path):
        return os.path.join(os.path.abspath(path), "report")
    return re.sub(r"\.(json|md)$", "", os.path.abspath(path))


def _makedirs(folder):
    """Create ``folder`` and every missing parent, each 0700 (os.makedirs gives the mode to the last only)."""
    missing = []
    while folder and not os.path.isdir(folder):
        if os.path.lexists(folder):
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", folder)
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        os.mkdir(path, 0o700)


def _write(path, text):
    """Replace ``path`` atomically with ``text``: a 0600 temporary file beside it, renamed over it."""
    folder = os.path.dirname(path)
    _makedirs(folder)
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _cell(text):
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _models(pairs):
    return ", ".join("%s (%s)" % (pair[0], pair[1]) for pair in pairs) if pairs else "none"


def markdown(report):
    """The report for people: a summary table, then per host its users and problems."""
    summary = report["summary"]
    lines = [
        "# LLMCloud models for Factory Droid: fleet report",
        "",
        "Generated %s from %s. Hosts: %d (%d ok, %d changed, %d failed, %d unreachable); problems: %d."
        % (
            report["generated"],
            ", ".join(report["playbooks"]) or "the playbook",
            summary["hosts"],
            summary["ok"],
            summary["changed"],
            summary["failed"],
            summary["unreachable"],
            summary["problems"],
        ),
        "",
        "| host | outcome | user | key mode | droid | LLMCloud models droid lists | default model (decided by) | repaired | problems |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for host in report["hosts"]:
        users = host["users"] or [None]
        for user in users:
            if user is None:
                lines.append("| %s | %s | | %s | | | | | %d |" % (_cell(host["host"]), host["status"], _cell(host["key_mode"] or ""), len(host["problems"])))
                continue
            failed = [f["path"] for f in user["files"] if f.get("failed")]
            if user["models_listed"] is not None:
                listed = str(len(user["models_listed"])) + (" (missing %d)" % len(user["missing"]) if user["missing"] else "")
            else:
                listed = "not verified (%d written)" % len(user["models_written"])
            if failed:
                listed += "; merge failed: %s" % ", ".join(os.path.basename(path) for path in failed)
            default = user["default"]
            if default is not None:
                shown = "%s (%s)" % (default.get("model") or "not an LLMCloud model", default.get("source"))
            elif failed and not user["default_written"]:
                shown = "- (not written)"
            else:
                shown = (user["default_written"] or "unchanged") + " (written)"
            lines.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %d |"
                % (
                    _cell(host["host"]),
                    host["status"],
                    _cell(user["user"] or "(connecting user)"),
                    _cell(host["key_mode"] or ""),
                    _cell(user["droid"]["version"] if user["droid"] else ""),
                    _cell(listed),
                    _cell(shown),
                    _cell(", ".join(user["repaired"]) or "-"),
                    len(user["problems"]) + len(host["problems"]),
                )
            )
    for host in report["hosts"]:
        lines += ["", "## %s: %s" % (host["host"], host["status"]), ""]
        lines.append(
            "Key mode: %s. What droid lists: %s."
            % (host["key_mode"] or "unknown (the merge did not run)", "asked (byok_verify %s)" % host["verify"] if host["verify"] else "not asked")
        )
        for user in host["users"]:
            lines += ["", "### %s" % (user["user"] or "the connecting user"), ""]
            if user["droid"]:
                lines.append("- droid %s (%s)" % (user["droid"]["version"] or "", user["droid"]["path"]))
            if user["models_listed"] is not None:
                lines.append("- droid lists: %s" % _models(user["models_listed"]))
                if user["missing"]:
                    lines.append("- droid does not list: %s" % ", ".join(user["missing"]))
            else:
                lines.append("- written (droid not asked, byok_verify never or no droid): %s" % _models(user["models_written"]))
            if user["default"] is not None:
                lines.append(
                    "- default model: %s, decided by %s" % (user["default"].get("model") or "not an LLMCloud model droid lists", user["default"].get("source"))
                )
            elif user["default_written"]:
                lines.append("- default model written: %s" % user["default_written"])
            for entry in user["files"]:
                ops = entry["operations"]
                if entry.get("failed"):
                    lines.append("- %s: **failed, nothing written**: %s" % (entry["path"], entry["failed"]))
                    continue
                what = "checked only" if entry["check_only"] else ("changed" if entry["changed"] else "unchanged")
                lines.append("- %s: %s (%d added, %d replaced, %d removed)" % (entry["path"], what, ops["add"], ops["replace"], ops["remove"]))
            for path in user["repaired"]:
                lines.append("- repaired %s: a plaintext API key was put back to ${LLMCLOUD_API_KEY}" % path)
            for problem in user["problems"]:
                lines.append("- **problem**: %s" % problem)
            for warning in user["warnings"]:
                lines.append("- warning: %s" % warning)
        if host["problems"] or host["warnings"]:
            lines += ["", "Problems:" if host["problems"] else "Warnings:", ""]
        for problem in host["problems"]:
            lines.append("- **%s**: %s%s" % (_cell(problem["task"]), problem["message"], (" Fix: " + problem["fix"]) if problem.get("fix") else ""))
        for warning in host["warnings"]:
            lines.append("- warning: %s" % warning)
    return "\n".join(lines) + "\n"


__all__ = ["CallbackModule", "MASK", "markdown"]
