#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the work is done by plugins/action/byok_settings.py, on the controller, which
# runs llmcloud.factory_droid.json_merge on the host.

from __future__ import annotations

DOCUMENTATION = r"""
module: byok_settings
short_description: The byok role's merge of the LLMCloud models into each user's droid settings (internal to the role)
version_added: 0.2.0
description:
  - Internal to the P(llmcloud.factory_droid.byok#role) role, which runs it as its merge task; not meant for playbooks
    (anywhere else it fails), and its options may change in any release. Use the role, or M(llmcloud.factory_droid.json_merge)
    to merge JSON into a file of your own.
  - Builds the role's input object from the task's variables (every C(byok_*) option of the role's argument spec), checks
    every variable against the argument spec with ansible-core's own validator and then by the role's rules (every problem
    at once, each naming the variable, never quoting a key), and runs
    M(llmcloud.factory_droid.json_merge) once on the host, with O(llmcloud.factory_droid.json_merge#module:files) for every
    file of every user the droid client reads.
  - Its result is that of M(llmcloud.factory_droid.json_merge) with O(llmcloud.factory_droid.json_merge#module:files).
  - Of the C(module_defaults) given for M(llmcloud.factory_droid.json_merge), that call takes those that say how it writes,
    O(llmcloud.factory_droid.json_merge#module:backup), O(llmcloud.factory_droid.json_merge#module:lock_timeout),
    O(llmcloud.factory_droid.json_merge#module:max_size), O(llmcloud.factory_droid.json_merge#module:indent),
    O(llmcloud.factory_droid.json_merge#module:redact) (more names to mask), the SELinux options and
    O(llmcloud.factory_droid.json_merge#module:attributes). The others (what it writes, where, for whom, the mode V(0600),
    what is not masked) are the role's; they are ignored, with a warning naming them.
options:
  daily:
    description:
      - Merge only when the role's configuration is the daily run (nothing but the merge), and skip otherwise; every other
        configuration merges later, among the role's steps.
      - A host whose variables cannot be read is not the daily run (the role's steps then fail it, giving the reason).
    type: bool
    default: false
  check_only:
    description:
      - Only check the role's variables and parameters (every problem at once), merging nothing (the first of the role's
        steps, before any of them touches a host).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff of each file that changes, with every key masked as C(********).
  platform:
    platforms: [posix, windows]
    details: As M(llmcloud.factory_droid.json_merge).
notes:
  - An action plugin, so that the daily run costs one worker and one module round trip per host, with no Jinja expression
    to compile and no templated C(files) structure for ansible-core to walk.
seealso:
  - module: llmcloud.factory_droid.json_merge
author:
  - LLMCloud Factory Droid collection maintainers (@llmcloud)
"""

EXAMPLES = r"""
# Internal: only the byok role's tasks run it (roles/byok/tasks/settings.yml, which the gate and the steps import)
- name: Merge the LLMCloud models into each user's droid settings (the daily run)
  llmcloud.factory_droid.byok_settings:
    daily: true
  register: byok_merged
"""

RETURN = r"""
results:
  description: As M(llmcloud.factory_droid.json_merge)'s RV(llmcloud.factory_droid.json_merge#module:results), one item per file.
  returned: when it merged
  type: list
  elements: dict
  sample: [{path: /home/alice/.factory/settings.json, changed: false, applied: true, check_only: false, operations: []}]
diff:
  description: As M(llmcloud.factory_droid.json_merge)'s RV(llmcloud.factory_droid.json_merge#module:diff), every key masked.
  returned: diff mode, when a file changes
  type: list
  elements: dict
invocation:
  description: The arguments json_merge ran with, every key masked as C(********).
  returned: when it merged
  type: dict
"""
