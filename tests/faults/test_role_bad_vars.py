"""Every role variable of the wrong type fails the run before any file is touched, naming it.

The cases are generated from roles/byok/meta/argument_specs.yml (so a new variable is covered
without editing this file): for each option a value of a different JSON type (and, for options
with choices, a value outside them; for list-of-dict options, an element of the wrong type and
an element missing a required field). All cases run in ONE ansible-playbook run of the real
onboarding playbook: one inventory host per case (all local), each with its own sandbox home
holding a settings file, its own bad variable, and the canary key. The JSON callback gives
each host's results: the host must fail, the failure must name the variable, no json_merge
task may have run for it, and its sandbox must be untouched byte for byte.
"""

from __future__ import annotations

import json
import os

import yaml
from _support import CANARY, PYTHON, REPO, record, run_playbook, snapshot

SPEC = yaml.safe_load((REPO / "roles" / "byok" / "meta" / "argument_specs.yml").read_text())
(ROLE_ENTRY,) = SPEC["argument_specs"].values()  # the role's one entry point (inputs.ENTRY_POINT)
OPTIONS = ROLE_ENTRY["options"]

WRONG = {  # a value of another type for each declared type
    "str": [["a", "list"], {"a": "dict"}],
    "list": [{"a": "dict"}, True],
    "dict": [["a", "list"], 5],
    "bool": ["maybe", ["x"]],
    "int": ["many", ["x"]],
    "float": ["much", ["x"]],
    "path": [["a", "list"]],
    "raw": [],
}


def _cases():
    cases = []
    for name, spec in OPTIONS.items():
        kind = spec.get("type", "str")
        for bad in WRONG.get(kind, []):
            cases.append((name, "%s given %s" % (kind, type(bad).__name__), bad))
        if spec.get("choices"):
            cases.append((name, "outside its choices", "not-a-choice"))
        if kind == "list" and spec.get("elements") == "dict":
            cases.append((name, "list element is a number", [5]))
            sub = spec.get("options") or {}
            required = [k for k, v in sub.items() if v.get("required")]
            if required:
                cases.append((name, "element lacks required %s" % required[0], [{"unrelated": "x"}]))
            for sub_name, sub_spec in sub.items():
                sub_kind = sub_spec.get("type", "str")
                if sub_kind in ("bool", "int", "dict", "list") and WRONG.get(sub_kind):
                    base = {k: "x" for k in required}
                    base.update({sub_name: WRONG[sub_kind][0]})
                    cases.append((name, "element's %s given %s" % (sub_name, type(WRONG[sub_kind][0]).__name__), [base]))
        elif kind == "list" and spec.get("elements") == "str":
            cases.append((name, "list element is a dict", [{"a": 1}]))
    return cases


CASES = _cases()


def _settings(home):
    folder = home / ".factory"
    folder.mkdir(parents=True, mode=0o700)
    path = folder / "settings.json"
    path.write_text('{\n  // untouched by a failing run\n  "theme": "dark"\n}\n')
    os.chmod(path, 0o600)
    return path


def _tree(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_uid, st.st_gid) if os.path.isdir(p) else snapshot(p)
    return out


def test_every_wrongly_typed_variable_is_refused(tmp_path):
    assert len(CASES) >= len(OPTIONS), "no cases generated from the argument spec"
    hosts = {}
    homes = {}
    for i, (var, _how, bad) in enumerate(CASES):
        host = "case%03d" % i
        home = tmp_path / host / "home"
        _settings(home)
        homes[host] = home
        hostvars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": PYTHON,
            "byok_api_key": CANARY,
            "byok_users": [{"name": "root", "home": str(home)}],
            "byok_llmcloud_url": "http://127.0.0.1:9",
        }
        hostvars[var] = bad
        hosts[host] = hostvars
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    before = {h: _tree(homes[h]) for h in hosts}
    run = run_playbook(
        REPO / "playbooks" / "onboard.yml",
        "-i",
        str(inventory),
        "-f",
        "10",
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_INVENTORY_ENABLED": "yaml"},
        timeout=600,
    )
    assert CANARY not in run.output, "the key is in the output of a failing run"
    start = run.output.find("{")
    report = json.loads(run.output[start:])
    stats = report["stats"]
    failures = {h: [] for h in hosts}
    merged = {h: False for h in hosts}
    for play in report["plays"]:
        for task in play["tasks"]:
            for h, res in task["hosts"].items():
                if "json_merge" in task["task"].get("name", "") or res.get("action", "").endswith(("json_merge", "byok_settings")):
                    # the module ran when it returned its invocation; a failure while templating the
                    # task's arguments (the role's input check) happens before the module is sent
                    if not res.get("skipped") and "invocation" in res:
                        merged[h] = True
                if res.get("failed"):
                    failures[h].append(json.dumps(res))
    problems = []
    for i, (var, how, bad) in enumerate(CASES):
        host = "case%03d" % i
        label = "%s (%s: %s)" % (var, how, json.dumps(bad))
        if not stats.get(host, {}).get("failures"):
            problems.append("%s: accepted" % label)
            continue
        if not any(var in f for f in failures[host]):
            problems.append("%s: the failure does not name %s: %s" % (label, var, failures[host][:1]))
        if merged[host]:
            problems.append("%s: json_merge ran before the failure" % label)
        if _tree(homes[host]) != before[host]:
            problems.append("%s: the sandbox home changed" % label)
        record("bad_role_var", label)
    assert not problems, "\n".join(problems)
