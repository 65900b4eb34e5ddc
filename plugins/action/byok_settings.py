# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of llmcloud.factory_droid.byok_settings: the byok role's merge task, internal to the role.

It builds the role's input object from the task's variables (the same ``Inputs`` the role's lookup
builds), checks every variable against the role's argument spec with ansible-core's validator and
then by the role's own rules (every problem at once, each naming the variable, never a key), and
runs ``llmcloud.factory_droid.json_merge`` with ``files`` for every file of every user, through
json_merge's own action plugin (so Windows targets work as they do for json_merge). One module round
trip per host, as before.

Why an action and not ``json_merge`` with ``files: "{{ lookup(...) }}"``: the daily run is this one
task per host, and per host that expression cost a worker Jinja compiling it, the lookup plugin
loading, and ansible-core walking and tagging the whole returned ``files`` structure (every user's
documents) before the module saw it. Here the structure goes straight into the module's arguments.
The controller loads this plugin's class before it forks a worker for the task (to read
``BYPASS_HOST_LOOP``), so the imports below, and the parsed argument spec, are paid once per run,
not once per host.
``docs/performance.md`` has the measurements.

``check_only: true`` (the first of the steps of every run but the daily one) checks and merges nothing.
The role's parameters (names given beside ``role:`` in ``roles:``) are checked with the variables: a
misspelt one fails, as it did when ansible-core validated the role.

``daily: true`` (the role's gate) merges only when the configuration is the daily run (nothing but
the merge) and otherwise skips, without a Jinja condition: every other run merges later, among its
steps. A host whose variables cannot be read is not the daily run: it takes the steps, whose first
task fails it with the reason.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._droid import ENV_KEY_REFERENCE
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import Redaction

# entries and plan: what Inputs.files() imports lazily, imported here once per controller run (see above)
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries, plan  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import ByokError, Inputs, reader, validator

try:  # ansible-core 2.19 and later
    from ansible.executor.module_common import _apply_action_arg_defaults
except ImportError:  # 2.16 to 2.18
    from ansible.executor.module_common import get_action_args_with_defaults

    def _apply_action_arg_defaults(action, task, action_args, templar):
        return get_action_args_with_defaults(action, action_args, task.module_defaults, templar, action_groups=task._parent._play._action_groups)


# The role's argument spec, parsed, and ansible-core's validator for it, built here once per run: the
# controller imports this module before it forks the task's workers, which inherit both (else each
# would parse the YAML again and copy the whole spec, about 4 ms and 10 ms).
validator()

MODULE = "llmcloud.factory_droid.json_merge"
# The json_merge options a play's module_defaults may set for the role's merge: how it writes, not
# what, where, for whom, with which mode or how masked (those are the role's; others are ignored, with
# a warning naming them). The SELinux options and attributes are the file's, as for any json_merge task.
DEFAULTS_TAKEN = ("backup", "lock_timeout", "max_size", "indent", "redact", "seuser", "serole", "setype", "selevel", "attributes")
NOT_IN_THE_ROLE = (
    "llmcloud.factory_droid.byok_settings is internal to the llmcloud.factory_droid.byok role and runs only in its "
    "tasks; to merge JSON into a settings file in a playbook, use llmcloud.factory_droid.json_merge."
)


def in_the_role(task_vars):
    """True in a task of the byok role (its variables are the role's; elsewhere its defaults would stand in)."""
    role = to_text(task_vars.get("ansible_role_name") or task_vars.get("role_name") or "")
    return role.rsplit(".", 1)[-1] == "byok"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(("daily", "check_only"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars if task_vars is not None else {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not in_the_role(task_vars):
            raise AnsibleActionFail(NOT_IN_THE_ROLE)
        try:
            daily_only, check_only = (boolean(self._task.args.get(name, False), strict=True) for name in ("daily", "check_only"))
        except TypeError:
            raise AnsibleActionFail("daily and check_only must be booleans, got %r" % (self._task.args,)) from None

        role = getattr(self._task, "_role", None)
        params = role.get_role_params() if role is not None else {}
        inputs = Inputs.from_vars(reader(self._templar.template, task_vars), params)
        if check_only:
            try:
                inputs.check()
            except ByokError as exc:
                raise AnsibleActionFail(to_text(exc)) from None
            result.update(changed=False, msg="The byok variables are good")
            return result
        if daily_only and not self._daily(inputs):
            result.update(changed=False, skipped=True, skip_reason="Not the daily run: the steps merge in their place")
            return result
        try:
            files = inputs.files()
        except ByokError as exc:
            raise AnsibleActionFail(to_text(exc)) from None
        # The task's args carry `files` for the fleet report (plugins/callback/byok_report.py: each
        # file's user, path and models), every key masked: ansible-core may print a task's args
        # (ANSIBLE_DISPLAY_ARGS_TO_STDOUT, in a banner it defers to the result), where the templated
        # `files` of a json_merge task showed the key. ${LLMCLOUD_API_KEY} names a variable: kept.
        self._task.args["files"] = _masked(files)
        task = self._task.copy()
        task.args = self._defaults(result)
        task.args.update(files=files, mode="0600")
        task.action = MODULE
        merge = self._shared_loader_obj.action_loader.get(
            MODULE,
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        outcome = merge.run(task_vars=task_vars)
        if result.get("warnings"):
            outcome["warnings"] = result["warnings"] + list(outcome.get("warnings") or [])
        result.update(outcome)
        return result

    def _defaults(self, result):
        """The play's module_defaults for json_merge that the role's merge takes (DEFAULTS_TAKEN)."""
        given = _apply_action_arg_defaults(MODULE, self._task, {}, self._templar)
        ignored = sorted(name for name in given if name not in DEFAULTS_TAKEN)
        if ignored:
            result.setdefault("warnings", []).append(
                "module_defaults for %s: %s ignored by the byok role's merge, which sets what it writes, where, for whom, "
                "with which mode and how it is masked; only %s are taken" % (MODULE, ", ".join(ignored), ", ".join(DEFAULTS_TAKEN))
            )
        return dict((name, value) for name, value in given.items() if name in DEFAULTS_TAKEN)

    @staticmethod
    def _daily(inputs):
        """Whether this is the daily run; False when a deciding variable cannot be read (the steps' check says why)."""
        try:
            return inputs.daily() is True
        except Exception:  # pylint: disable=broad-except  # an undefined or failing variable: the steps report it
            return False


def _masked(files):
    """``files`` with every key masked as json_merge masks it in its output (the reference kept)."""
    redaction = Redaction.of_params({"files": files})
    redaction.secrets.discard(ENV_KEY_REFERENCE)
    return redaction.mask_all(files)
