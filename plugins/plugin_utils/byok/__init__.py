# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller code of the ``llmcloud.factory_droid.byok`` role (private to this collection).

A map, in the order the role uses it (every module is pure: no I/O, no Ansible objects):

``client``   every fact about the droid client, once: the pinned versions, the providers and which
             client drops which, the ``customModels`` entry schema, the id rules, the system file's
             paths and minimum version, the version parser. What a target needs of them (the URL
             patterns, the key reference, offboarding) lives in ``plugins/module_utils/_droid.py``,
             which ``client`` re-exports: that file is the only part of the domain shipped to hosts.
``inputs``   the role's variables as ONE object (``Inputs``), built from the names the role's
             argument spec declares (``roles/byok/meta/argument_specs.yml``), and every problem with
             them at once, each sentence naming the variable and never quoting a key.
``entries``  catalog -> the ``customModels`` entries droid loads, their ids, the legacy config.json shape.
``plan``     who gets which files (targets), what json_merge merges into each (its ``files`` option).
``system``   the system-managed settings file (byok_scope system/both): where, which client judges it,
             the document with the org policy.
``judges``   what comes back from a host, in the user's words: the LLMCloud preflight, what droid
             resolves (byok_verify), the files where droid had written the key back.

The role reaches this package through two plugins, internal to the role (collection roles cannot
carry their own plugins), each building ``Inputs`` once from the task's variables: the merge task's
action (``plugins/action/byok_settings.py``: ``Inputs.files()`` straight into json_merge's ``files``)
and a lookup for every other task (``lookup('llmcloud.factory_droid.byok_inputs', 'entries')`` and its
other views, ``plugins/lookup/byok_inputs.py``). The few
functions a user may call in their own templates are public filters (``plugins/filter/byok.py``).
``ByokError`` (in ``inputs``) is the one error class: ``problems`` holds one sentence per problem.
"""
