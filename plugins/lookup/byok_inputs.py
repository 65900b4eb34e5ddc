# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The byok role's input object, as its tasks ask for it (internal to the role: no user calls it).

``lookup('byok_inputs', WHAT)`` builds the input object once from the task's variables (every
``byok_*`` option of the role's argument spec, each templated here, in Python, instead of a chain of
Jinja filters per host) and returns one view of it:

- ``daily``: whether this configuration needs nothing but the merge (the daily run); it reads only
  the six variables that decide it (no key, no check: the merge checks on the daily run, and the
  first of the steps on every other run, both with the action, which sees the role's parameters);
- ``targets``, ``plan``, ``offboard_plan``, ``entries`` (no key), ``offboard_entries``: what the
  optional steps loop over; ``item_key``: the key of the user in ``item``;
- ``system_plan`` (with ``probe``: the probe task's result), ``system_document``,
  ``system_url_pattern``: the system-managed settings file (byok_scope system or both).
- ``preflight`` (``answers``), ``client`` (``client``, ``merged``), ``rewrites`` and ``inspected``
  (``merged``): what came back from a host, judged in the user's words.
The logic is in ``plugins/plugin_utils/byok/`` (see its ``__init__`` for the map). No error carries a key.
Collection roles cannot carry their own plugins, so this lookup and the merge task's action plugin
(``plugins/action/byok_settings.py``, which builds the same object and holds the keys) are the role's
whole interface to its Python (they replaced fifteen filters that were role plumbing).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: byok_inputs
short_description: The byok role's input object (internal to the role)
version_added: 0.2.0
description:
  - Internal to the P(llmcloud.factory_droid.byok#role) role, which calls it from its tasks; not meant for
    playbooks, and its views may change in any release.
  - Builds the role's input object once from the task's variables (every C(byok_*) option of the role's
    argument spec) and returns one view of it, or judges what a step of the role brought back.
  - The role checks its variables before it asks for a view (its action M(llmcloud.factory_droid.byok_settings) does,
    in the daily run's merge and in the first of the other runs' steps); a view that cannot be built fails, naming the
    variable, never quoting a key.
options:
  _terms:
    description:
      - The view, one of V(daily), V(targets), V(plan), V(offboard_plan), V(entries), V(offboard_entries),
        V(system_plan), V(system_document), V(system_url_pattern), V(item_key), V(preflight), V(client), V(rewrites),
        V(inspected).
    type: list
    elements: str
    required: true
  item:
    description: For V(item_key), the target whose key is wanted (default the loop's C(item)).
    type: dict
  probe:
    description: For V(system_plan), the registered result of the probe of the host's droid clients.
    type: raw
  answers:
    description: For V(preflight), the registered result of the calls to C(/v1/models).
    type: raw
  client:
    description: For V(client), the registered result of the post-check of each user.
    type: raw
  merged:
    description: For V(client), V(rewrites) and V(inspected), the registered result of the merge task.
    type: raw
author:
  - LLMCloud Factory Droid collection maintainers (@llmcloud)
"""

EXAMPLES = r"""
# Internal: only the byok role's tasks call it (anywhere else it fails), e.g. roles/byok/tasks/steps.yml
- name: The role's entries, without any key
  ansible.builtin.set_fact:
    byok_planned_entries: "{{ lookup('llmcloud.factory_droid.byok_inputs', 'entries') }}"
"""

RETURN = r"""
_raw:
  description: The view asked for (one per term).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import ByokError, Inputs, reader


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        # Internal to the role: outside it the variables are not the role's (its defaults would
        # stand in for what the play never set), and a view such as `item_key` holds the key.
        role = str(variables.get("ansible_role_name") or variables.get("role_name") or "")
        if role.rsplit(".", 1)[-1] != "byok":
            raise AnsibleLookupError(
                "llmcloud.factory_droid.byok_inputs is internal to the llmcloud.factory_droid.byok role and runs only in "
                "its tasks; to build customModels entries in a playbook, use the llmcloud.factory_droid.byok_custom_models filter."
            )

        inputs = Inputs.from_vars(reader(self._templar.template, variables))
        found = []
        try:
            for what in terms:
                if what == "daily":
                    found.append(inputs.daily())
                elif what == "targets":
                    found.append(inputs.targets())
                elif what == "plan":
                    found.append(inputs.merge_plan())
                elif what == "offboard_plan":
                    found.append(inputs.offboard_plan())
                elif what == "entries":
                    found.append(inputs.entries())
                elif what == "offboard_entries":
                    found.append(inputs.offboard_entries())
                elif what == "system_plan":
                    probe = kwargs.get("probe")
                    found.append(inputs.system_plan(probe.get("stdout", "") if isinstance(probe, dict) else probe or ""))
                elif what == "system_document":
                    found.append(inputs.system_document())
                elif what == "system_url_pattern":
                    found.append(inputs.system_url_pattern())
                elif what == "item_key":
                    item = kwargs["item"] if "item" in kwargs else self._templar.template(variables.get("item"))
                    item = item if isinstance(item, dict) else {}
                    found.append(inputs.user_key(item.get("index")))
                elif what in ("preflight", "client", "rewrites", "inspected"):
                    found.append(_judge(what, inputs, kwargs))
                else:
                    raise AnsibleLookupError("byok_inputs: unknown view %r" % (what,))
        except ByokError as exc:
            raise AnsibleLookupError(str(exc)) from None
        return found


def _judge(what, inputs, kwargs):
    """What a step brought back from a host, judged (never on the daily run, which imports none of it)."""
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import judges

    if what == "preflight":
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.entries import llmcloud_models

        url = inputs["byok_llmcloud_url"]
        return judges.preflight_problems(kwargs.get("answers"), llmcloud_models(inputs.entries(), url), url)
    if what == "client":
        return judges.client_problems(
            kwargs.get("client") or {},
            kwargs.get("merged") or [],
            inputs.entries(),
            inputs["byok_default_model"],
            inputs["byok_local_settings"],
            inputs["byok_verify"],
            inputs.merge_plan(),
        )
    return judges.rewrites(kwargs.get("merged"), inputs["byok_llmcloud_url"], what == "inspected")
