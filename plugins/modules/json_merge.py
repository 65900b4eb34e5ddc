#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: json_merge
short_description: Merge a JSON document into a JSON or JSONC file in one idempotent, atomic call
version_added: 0.1.0
description:
  - Reads a JSON or JSONC file (JSON with C(//) and C(/* */) comments, such as Factory Droid's C(~/.factory/settings.json)),
    merges O(value) into it, and writes the result back only when the parsed document changes.
  - Objects merge recursively; scalars and arrays are replaced, except arrays named in O(keyed_lists), whose items are
    matched by identity fields, merged field by field, kept in place, and new items appended (never sorted).
  - Only the spans that change are rewritten, in the manner of VS Code's jsonc-parser C(modify). Comments, blank lines,
    key order, indentation and every other byte survive; a plain JSON file stays plain JSON.
  - The file is read as the droid client reads it, which a differential test against the real client checks. A file
    the client rejects (such as one with a trailing comma, a byte-order mark or a stray byte outside strings and
    comments) fails the task with its line, column and the fix, and is left untouched. Of a duplicated key, the last
    value counts, as in the client.
  - Writes are atomic and durable (a C(0600) temporary file in the same folder, fsync, rename, fsync of the folder) and
    happen under an advisory lock (a C(.<name>.lock) file beside the file), so concurrent runs lose no update.
    A symlink at O(path) is followed; its target is updated and the link stays a link.
  - Secrets are masked as C(********) in the diff, the returned values and error messages, by a documented rule
    (see O(redact)); O(value) itself is never logged and shows as C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER) in the
    invocation the module returns.
author:
  - LLMCloud Factory Droid collection maintainers (@llmcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: [posix, windows]
    details:
      - POSIX targets (Linux, macOS, BSD) run this module with the target's Python (3.8 or later), standard library only.
      - Windows targets (a connection whose shell is PowerShell) need the C(ansible.windows) collection. The action plugin
        of this module reads the file with M(ansible.windows.win_stat) and M(ansible.windows.slurp), runs the same merge
        on the controller, and writes a changed file as a temporary file beside it that a fixed PowerShell script swaps
        into place (C([IO.File]::Replace)) after checking that nobody changed the file meanwhile. There is no lock file;
        O(owner), O(group), the SELinux options and O(attributes) are refused, O(mode) is ignored (the file inherits the
        ACL of its folder), and O(path) may start with C(~) for C(%USERPROFILE%).
options:
  path:
    description:
      - The JSON or JSONC file to merge into, for example C(~/.factory/settings.json). It must be absolute once C(~) is
        expanded; a relative path is refused.
      - A leading C(~) or C(~/) is the home of O(user) when given, else of the user the module runs as; C(~name/) is the
        home of the account C(name) (an unknown name fails). Without O(user), C($VARIABLES) expand too. All expansion
        happens on the target, from its passwd database (Python's C(pwd); no C(getent) needed).
      - When it is a symlink, its target is read and written and the link stays a link; the target must exist (a
        dangling link or a link loop fails, naming the target), and the lock file stays beside the link.
      - Exactly one of O(path) and O(files) is required.
    type: str
  files:
    description:
      - Several files in one task and one round trip to the host, instead of a loop (which runs the module once per
        item). Each item names its O(files[].path) and the options that differ for that file; an option it leaves out
        is the task's option of the same name. O(state), O(create), O(backup), O(redact), O(indent), O(lock_timeout),
        O(max_size), O(validate) and the file attributes (O(mode), O(owner), ...) are the task's, for every file.
      - Each file is merged, locked and written on its own, in the order given; a file that fails (a parse error, a
        refused option) does not stop the others, and the task then fails naming each failed file (RV(results)
        says which were written).
      - The task's RV(diff) is the list of the files' diffs; RV(results) holds each file's own return values.
      - List each file once per key it sets. Items naming the same file run in order, each on what the one before wrote;
        two items that set the same key to different values leave the last one's value and change the file on every
        run.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      path:
        description: The file, as O(path).
        type: str
        required: true
      user:
        description: As O(user), for this file.
        type: str
      value:
        description: As O(value), for this file. Never logged.
        type: dict
      only_if_keys:
        description: As O(only_if_keys), for this file.
        type: list
        elements: str
      keyed_lists:
        description: As O(keyed_lists), for this file.
        type: dict
      prune:
        description: As O(prune), for this file.
        type: dict
      exact_items:
        description: As O(exact_items), for this file.
        type: dict
      remember:
        description: As O(remember), for this file.
        type: dict
      check_only:
        description:
          - Look at this file only, as check mode would (its result says what would change), and never write it. It
            does not count towards the task's C(changed) and shows no diff.
          - For a file that is judged rather than managed, for example a user's C(settings.local.json).
        type: bool
        default: false
  user:
    description:
      - The account whose settings file this is, looked up on the target with Python's C(pwd) module (which macOS has
        too; no C(getent) is run). An unknown user fails the task, naming the user.
      - C(~) in O(path) is this user's home, and O(owner) and O(group) default to the user's uid and primary group.
      - When the module runs as root and O(user) is another account, every step inside the user's tree (following
        links, creating folders, the lock, reading, the temporary file, the backup and the rename) runs in a child
        process that has dropped to the user's uid, gid and groups, so a link or folder the user swaps in cannot make
        root create, read or replace anything the user could not. The home folder and the folders above it are
        never created; O(owner), when given, must be the user.
      - Not root and not the user the module runs as fails (use C(become)). Not supported on Windows targets.
      - When not given, the module works as the user it runs as, with O(owner) and O(group) as given.
    type: str
    version_added: 0.2.0
  only_if_keys:
    description:
      - JSON pointers (for example V(/customModels)) that the file must already hold for the merge to happen.
      - When the file does not exist or lacks one of them, nothing is changed or created and RV(applied) is V(false).
      - An empty list (the default) always merges.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  value:
    description:
      - The document to merge, an object.
      - With O(state=present), keys it names are added or updated; keys it does not name keep their value and position.
      - With O(state=absent), keys it names are removed. A key whose value is a non-empty object removes only the
        keys named inside it; a key of a keyed list whose value is a list removes only the items it names by identity;
        any other value (for example V(null)) removes the key itself.
      - Never logged by Ansible. Values of keys named in O(redact) are masked wherever the module reports them.
    type: dict
    default: {}
  state:
    description:
      - V(present) merges O(value) into the file; V(absent) removes what O(value) names.
    type: str
    choices: [present, absent]
    default: present
  keyed_lists:
    description:
      - Arrays whose items are matched by identity instead of being replaced as a whole, as a mapping of a JSON pointer
        (for example V(/customModels)) to the list of fields that identify an item (for example V([model, baseUrl])).
      - An item of O(value) that matches an item of the file is merged into it field by field; fields it does not name
        (such as the C(id) and C(index) the droid client writes) stay and cause no change, and the item keeps its
        position. Items of O(value) that match nothing are appended. Items of the file that match nothing stay where
        they are, as do items of the file that lack an identity field.
      - Every item of O(value) in a keyed list must be an object holding every identity field.
      - Pointers lead through object keys only (a C(/) before each key; C(~1) stands for C(/) and C(~0) for C(~)).
    type: dict
    default: {}
  prune:
    description:
      - Removes items of keyed lists that are not in O(value), as a mapping of a JSON pointer named in O(keyed_lists) to
        a mapping of field names to regular expressions (Python syntax, searched anywhere in the field's text; anchor
        with C(^) and C($)).
      - An item is removed when it matches every regular expression and O(value) does not hold an item with its
        identity. This is how managed items that are no longer wanted disappear while the user's own items stay.
      - Applies whether or not O(value) names the list.
    type: dict
    default: {}
  exact_items:
    description:
      - Keyed lists whose matched items the task owns, as a mapping of a JSON pointer named in O(keyed_lists) to the
        list of fields to keep from the file's item, for example V(/customModels) mapped to V([id, index]).
      - An item of the file that an item of O(value) matches ends up exactly as that item of O(value) (values replaced
        whole, fields O(value) no longer names removed), plus those listed fields of the file's item that O(value)
        does not name, such as the fields a client writes into the items itself. Key order and position are kept.
      - Items that no item of O(value) matches are left alone (see O(prune)).
    type: dict
    default: {}
    version_added: 0.2.0
  remember:
    description:
      - Values the merge replaces that the file's owner should get back, as a mapping of a JSON pointer (the value, for
        example V(/sessionDefaultSettings/model)) to the JSON pointer of an object member where the file keeps what it
        held before (for example V(/llmcloudPreviousDefaultModel)).
      - With O(state=present), when the merge changes the value at the first pointer, the value it held is written at
        the second (the latest one replaced, so a value the owner chose since is the one kept).
      - With O(state=absent), when the merge removes the value at the first pointer, the kept value is put back there;
        the second pointer's member is removed either way (a value still in place is the owner's own).
      - Both pointers go through objects only.
    type: dict
    default: {}
    version_added: 0.2.0
  create:
    description:
      - Create the file, and missing parent folders, when it does not exist.
      - New folders get mode C(0700) and new files C(0600) (unless O(mode) says otherwise), owned by O(owner) and O(group)
        when given. With V(false), a missing file fails the task.
    type: bool
    default: true
  backup:
    description:
      - Before changing the file, copy it beside itself under a name that includes a timestamp, as
        M(ansible.builtin.copy) does.
      - The backup is never readable by more users than the original, and is C(0600) when the original holds a secret
        (see O(redact)).
    type: bool
    default: false
  redact:
    description:
      - More names of keys whose values are secrets (the whole name, compared without regard to case, at any depth),
        in addition to the built-in rule. A key named here that holds an object or list makes every value below it
        a secret.
      - 'The built-in rule masks a string or number (never a whole object or list, never V(true), V(false) or V(null))
        when a word of its own key (words split at camelCase humps, digits and C(-_./)) is, or ends in, one of key,
        token, secret, password, passwd, pass, pwd, passphrase, auth, authorization, credential, cookie, session,
        bearer (plural forms too), unless the last word is one that describes a secret rather than holding it (mode,
        type, ttl, ms, timeout, url, limit, max, name, path, file, env and a few more: C(authMode), C(tokenLimit));
        when it sits below a key whose last word is headers, cookies, credentials, secrets, tokens or passwords
        (C(extraHeaders): every header value); or when the value looks like a credential whatever its key
        (C(sk-), C(ghp_), C(AKIA), C(xox*-), C(glpat-) and other well-known prefixes, C(Bearer <token>), a JWT, a
        private key, a long random-looking string; a password inside a URL masks only the password).'
      - Secrets show as C(********) in the diff, in the returned values and in error messages, and their text is
        masked wherever else it would appear in the module's output. Secrets shorter than 4 characters are masked in
        place only. The rule over-masks on purpose; see docs/security-masking.md of the collection.
    type: list
    elements: str
    default: []
  redact_exclude:
    description:
      - Names of keys (the whole name, compared without regard to case) whose values are shown even though the
        masking rule of O(redact) would mask them, for example V(sessionId) when it is not a secret in your file.
      - Applies to the values directly under such a key; below an excluded header map its values are judged by their
        own names.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  indent:
    description:
      - Indentation of new text. V(auto) takes the unit the file already uses (2 spaces for a new file); V(tab) indents
        with tabs; a number from 1 to 16 is a count of spaces.
      - Existing text is never reformatted.
    type: str
    default: auto
  lock_timeout:
    description:
      - Seconds to wait for the lock that another run (or another tool using the same lock file) holds on the file.
        When it expires the task fails, naming the lock, and nothing is changed.
    type: float
    default: 30
  max_size:
    description:
      - Largest file, in bytes, the module reads; a bigger file fails the task untouched.
    type: int
    default: 33554432
  validate:
    description:
      - A command that judges the candidate file before it is swapped in, as in M(ansible.builtin.copy). V(%s) stands
        for the path of the candidate (a temporary file beside the file, already carrying its final content, owner,
        group and mode), quoted for the shell's word splitting; the command runs without a shell.
      - A non-zero exit status fails the task; the candidate is removed and the file is left exactly as it was. It runs
        only when the file is about to change (not in check mode), with no stdin, under O(validate_timeout).
      - The command's output is not shown as it is, since a validator may print the candidate (which holds the file's
        values) in an encoding that masking cannot recognise (base64, hex). The message gives the exit status and the
        field paths the validator named, such as C(customModels.0.provider) from a line
        C(customModels.0.provider) followed by a colon and its complaint (a key of the file followed by keys or indexes,
        never the text after it); run the validator by hand to read the rest.
      - The module runs the command as the user it works as (root, or O(user)); give a program whose path only that
        user (root) can change.
      - Not available on Windows targets.
    type: str
    version_added: 0.2.0
  validate_timeout:
    description:
      - Seconds O(validate) may run. When they pass, the command and the processes it started are killed, the task fails
        naming the option, and the file is left as it was.
    type: float
    default: 120
    version_added: 0.2.0
  strict_path:
    description:
      - Refuse O(path) unless every folder from C(/) down to the file is a real folder (not a symlink), owned by root (or
        by the user the module runs as) and not writable by group or others, and the file, when it exists, is a regular
        file and not a symlink. Checked with C(lstat) before anything is followed, read or written.
      - For files root owns in system folders, such as droid's system-managed settings file, so that a folder another
        user can write (or could once, and left a link in) cannot redirect root's write or make the diff show another
        file.
      - Not available on Windows targets.
    type: bool
    default: false
    version_added: 0.2.0
  offboard:
    description:
      - With O(state=absent), the byok role's offboarding. The module decides what to remove from the file as it reads
        it (as O(user) when given), in the same call. It removes the role's entries (by the identity onboarding uses) and every
        entry at the role's base URLs, the default model only when it names one of them or one of the role's ids, in
        the system file the policy keys the role writes, and a container left empty. O(value), O(keyed_lists) and
        O(prune) are computed and replace what the task gives.
      - No other step reads the file first, so root never reads a user's file with its own rights.
    type: dict
    version_added: 0.2.0
    suboptions:
      url:
        description: The Anthropic-family base URL of LLMCloud (C(byok_llmcloud_url)).
        type: str
        required: true
      extra_urls:
        description: Further base URLs the role wrote (extra models outside LLMCloud's URL).
        type: list
        elements: str
        default: []
      entries:
        description:
          - The role's entries, each with C(model), C(baseUrl) and C(id). No key is needed, so give no C(apiKey).
        type: list
        elements: dict
        default: []
      kind:
        description: The file's kind, V(settings) (C(settings.json)), V(local) (C(settings.local.json)) or V(legacy) (C(config.json)).
        type: str
        default: settings
        choices: [settings, local, legacy]
      system:
        description: V(true) for the system-managed settings file (its policy keys are removed too, and RV(remove_file) is set).
        type: bool
        default: false
  mode:
    description:
      - The permissions of the file, as C(chmod) takes them. Quote octal modes (V("0600")) so that Ansible receives a
        string; symbolic modes (V(u=rw,go=)) work too.
      - When not given, an existing file keeps its mode and a new file is C(0600), whatever the umask.
      - A mode that opens a file holding secrets to group or others is applied, with a warning; a looser mode found
        on such a file is reported as a warning.
    type: raw
  owner:
    description:
      - Name (or numeric id) of the user that should own the file and any folder the module creates.
      - When not given, an existing file keeps its owner and a new one belongs to the user the module runs as.
      - When given, the file and its folder must already belong to that user (or not exist yet); a file or folder
        another user owns is refused untouched, so that a link planted by one user cannot make root write elsewhere.
      - When the module runs as root and O(owner) is another account (with or without O(user)), every step (following
        links, creating folders, the lock, reading, the temporary file, the backup and the rename) runs in a child
        process that has dropped to that account's uid, gid and groups, exactly as for O(user) (but C(~) in O(path)
        stays the home of the user the module runs as). Root never creates a folder, follows a link or hands over a
        file that the owner could not create or reach alone; the owner needs a passwd entry on the target.
    type: str
  group:
    description:
      - Name (or numeric id) of the group that should own the file and any folder the module creates.
      - When not given, an existing file keeps its group.
      - When the module runs as root for another account (O(user) or O(owner)), it must be one of that account's groups,
        else the task fails before anything is written.
    type: str
  seuser:
    description:
      - The user part of the file's SELinux context. V(_default) takes the policy's default.
      - When not given, an existing file keeps its context and a new one gets the policy's default.
    type: str
  serole:
    description:
      - The role part of the file's SELinux context. V(_default) takes the policy's default.
    type: str
  setype:
    description:
      - The type part of the file's SELinux context. V(_default) takes the policy's default.
    type: str
  selevel:
    description:
      - The level (MLS/MCS range) part of the file's SELinux context. V(_default) takes the policy's default.
    type: str
  attributes:
    description:
      - The attributes the file should have, as C(chattr) takes them (C(lsattr) shows the current ones).
      - The C(=) operator is assumed, otherwise give C(+) or C(-).
    type: str
    aliases: [attr]
notes:
  - The file is never written in place, so the C(unsafe_writes) option of other file modules is not accepted. A file
    that cannot be replaced by a rename (for example a single file bind-mounted into a container) fails the task
    untouched; mount its folder instead.
  - The lock file C(.<name>.lock) (mode C(0600), owned like the folder) stays beside the file; removing it is harmless.
  - Paths reported in RV(operations) for V(remove) point into the file as it was; those for V(add) and V(replace) into
    the file as it becomes.
  - O(indent) only shapes text the module writes; to reformat a whole file, use a formatter.
seealso:
  - module: ansible.builtin.copy
  - module: community.general.ini_file
"""

EXAMPLES = r"""
- name: Write droid's system-managed settings file only if droid itself accepts it
  llmcloud.factory_droid.json_merge:
    path: /etc/factory/settings.json
    value:
      modelPolicy:
        allowedBaseUrls: [https://llmcloud.studio/]
    mode: "0644"
    validate: /usr/bin/env FACTORY_ORG_MANAGED_SETTINGS_LOCAL_PATH=%s droid doctor --config --json

- name: Add the LLMCloud models to Factory Droid, keeping the user's own settings and models
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.json
    value:
      customModels:
        - model: anthropic/claude-sonnet-4.6
          displayName: Claude Sonnet 4.6
          provider: anthropic
          baseUrl: https://llmcloud.studio
          apiKey: "{{ vault_llmcloud_api_key }}"
    keyed_lists:
      /customModels: [model, baseUrl]
    prune:
      /customModels:
        baseUrl: ^https://llmcloud\.studio(/v1)?$
    mode: "0600"

- name: Write another user's settings as root (the steps in her home run as alice), with a backup
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.json
    user: alice
    value:
      sessionDefaultSettings:
        model: custom:Claude-Sonnet-4.6-0
    backup: true

- name: Update a model's key in settings.local.json only when that file already lists models
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.local.json
    user: alice
    only_if_keys: [/customModels]
    value:
      customModels:
        - model: anthropic/claude-sonnet-4.6
          baseUrl: https://llmcloud.studio
          apiKey: "{{ vault_llmcloud_api_key }}"
    keyed_lists:
      /customModels: [model, baseUrl]

- name: Two users' settings files in one round trip; settings.local.json only looked at
  llmcloud.factory_droid.json_merge:
    files:
      - path: ~/.factory/settings.json
        user: alice
        value: {sessionDefaultSettings: {model: custom:llmcloud-anthropic-claude-sonnet-4.6}}
      - path: ~/.factory/settings.json
        user: bob
        value: {sessionDefaultSettings: {model: custom:llmcloud-google-gemini-3-pro-preview}}
      - path: ~/.factory/settings.local.json
        user: alice
        only_if_keys: [/sessionDefaultSettings]
        value: {sessionDefaultSettings: {model: custom:llmcloud-anthropic-claude-sonnet-4.6}}
        check_only: true
    mode: "0600"
  register: merged

- name: Remove one model and a top-level key
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.json
    state: absent
    value:
      customModels:
        - model: google/gemini-3-pro-preview
          baseUrl: https://llmcloud.studio/v1
      sessionDefaultSettings:
    keyed_lists:
      /customModels: [model, baseUrl]
"""

RETURN = r"""
path:
  description: The path as given, with C(~) expanded.
  returned: always, without O(files)
  type: str
  sample: /home/alice/.factory/settings.json
applied:
  description:
    - V(false) when O(only_if_keys) named a key the file does not hold (or there is no file) and nothing was done;
      V(true) otherwise.
  returned: success, without O(files) (with it, in each of RV(results))
  type: bool
  sample: true
operations:
  description:
    - What changed (or would change in check mode), as JSON pointer operations. Never holds values.
    - V(remove) paths point into the file as it was; V(add) and V(replace) paths into the file as it becomes.
  returned: always, without O(files) (with it, in each of RV(results))
  type: list
  elements: dict
  contains:
    op:
      description: The kind of change.
      type: str
      choices: [add, replace, remove]
      sample: add
    path:
      description: JSON pointer of the key or list item.
      type: str
      sample: /customModels/3
  sample: [{op: replace, path: /customModels/0/apiKey}, {op: add, path: /customModels/3}]
backup_file:
  description: Name of the backup copy of the original file.
  returned: changed and O(backup=true) and the file existed
  type: str
  sample: /home/alice/.factory/settings.json.2345.2025-01-31@12:00:00~
results:
  description:
    - With O(files), one item per file, in the order given, holding that file's return values (RV(path),
      RV(applied), RV(operations), RV(backup_file), the file attributes), C(changed) (whether it would change, for a
      O(files[].check_only) file), C(check_only), and C(failed) and C(msg) when that file failed.
  returned: with O(files)
  type: list
  elements: dict
  sample: [{path: /home/alice/.factory/settings.json, changed: true, applied: true, check_only: false, operations: []}]
diff:
  description:
    - The file's text before and after, with secrets masked as C(********).
    - With O(files), a list of these, one per file that changes (none for O(files[].check_only) files).
  returned: diff mode
  type: raw
  contains:
    before:
      description: The text before the change (empty for a new file).
      type: str
    after:
      description: The text after the change.
      type: str
    before_header:
      description: The file's path.
      type: str
    after_header:
      description: The file's path.
      type: str
remove_file:
  description:
    - With O(offboard), V(true) when the file held nothing but what the role wrote (the system file is then removed by
      the role).
  returned: with O(offboard)
  type: bool
  sample: false
uid:
  description: Numeric owner of O(path) after the run (of the link itself when O(path) is a symlink).
  returned: when the file exists
  type: int
  sample: 1000
gid:
  description: Numeric group of O(path) after the run.
  returned: when the file exists
  type: int
  sample: 1000
owner:
  description: Owner name of O(path) after the run.
  returned: when the file exists
  type: str
  sample: alice
group:
  description: Group name of O(path) after the run.
  returned: when the file exists
  type: str
  sample: alice
mode:
  description: Permissions of O(path) after the run, in octal.
  returned: when the file exists
  type: str
  sample: '0600'
size:
  description: Size of O(path) in bytes after the run.
  returned: when the file exists
  type: int
  sample: 2048
state:
  description: V(file), or V(link) when O(path) is a symlink.
  returned: when the file exists
  type: str
  sample: file
secontext:
  description: SELinux context of O(path).
  returned: when the file exists and SELinux is enabled
  type: str
  sample: unconfined_u:object_r:user_home_t:s0
"""

import errno
import gc
import importlib.util
import os
import pkgutil
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _file_layer as files
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import (
    SPEC_RULES,
    USER_ERRORS,
    Failure,
    argument_spec,
    check_params,
    file_params,
    files_message,
    missing,
    plan,
    read_document,
)
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import Redaction

# Imported inside the steps that need them, so that the daily run (an idempotent merge) never
# compiles them (the payload ships module_utils as source, compiled on every run):
#   _file_write    (a file that changes: folders, temporary file, backup, rename)
#   _jsonc_writer  (a file that changes: the minimal-edit writer; imported by _merge_pipeline.plan)
#   _validate      (the validate option, on a file about to change)
#   _path_checks   (strict_path, and a path that is a symlink)
# ansible-core's module finder ships them all (it sees imports inside functions too). A child that
# works as another account gets their source from root beforehand (PayloadSources).


class FileJob(object):
    """One file of the task: its options, whether it may be written, who the steps run as, and
    what it reports. Computed first (:meth:`prepare`), acted on afterwards; every step gets it
    explicitly, so the module's own ``params`` and ``check_mode`` stay the task's.
    """

    def __init__(self, params, check, diff, redaction):
        self.params = params  # the file's options (a files item overlaid on the task's)
        self.check = check  # check mode, or a check_only file: look, never write
        self.diff = diff
        self.redaction = redaction
        self.indent = None
        self.path = None  # with ~ expanded
        self.entry = None  # the passwd entry of the option user
        self.uid = None  # owner and group the file (and a new folder) gets, None: as found
        self.gid = None
        self.acting = None  # the account every step in its tree runs as (root writing for it), or None
        self.folder_path = self.name = None  # the real folder of the file, and its name there
        self.lock_path = None  # the folder of the lock when not folder_path (path is a symlink)
        self.result = {"changed": False, "operations": []}
        self.warnings = []
        self.secrets = set()  # the file's own secrets: masked in all output

    @property
    def acting_name(self):
        return self.acting.pw_name if self.acting is not None else None

    def prepare(self):
        """Options, account, path and identity, before anything under the path is touched."""
        params = self.params
        self.indent = check_params(params)  # every option error before any I/O
        self.entry = entry = files.account(params["user"])
        self.path = files.expand_path(params["path"], entry)
        self.result["path"] = self.path
        if params.get("strict_path"):
            from ansible_collections.llmcloud.factory_droid.plugins.module_utils._path_checks import check_strict_path

            check_strict_path(self.path)  # lstat only, before anything is followed, read or written
        self.uid = files.uid_of(params["owner"]) if params["owner"] is not None else (entry.pw_uid if entry else None)
        self.gid = files.gid_of(params["group"]) if params["group"] is not None else (entry.pw_gid if entry else None)
        euid = os.geteuid()
        if entry is not None and entry.pw_uid != euid:
            if euid != 0:
                raise Failure(
                    "user %s: the module runs as %s, which cannot write files for another user; run the task "
                    "with become: true (as root), or as %s" % (entry.pw_name, files.user_name(euid), entry.pw_name)
                )
            if self.uid != entry.pw_uid:
                raise Failure("owner %s is not user %s: a file written for a user belongs to that user; leave owner out" % (params["owner"], entry.pw_name))
            self.acting = entry
        elif entry is None and euid == 0 and self.uid not in (None, 0):
            # root writing a file for another account (owner without user): the same steps as for user,
            # as that account, so root never creates or hands over anything the owner could not have
            self.acting = files.owner_account(params["owner"], self.uid)
        if self.acting is not None:
            files.check_group_member(self.acting, self.gid, params["group"])

    def state(self):
        """What a child working as another account sends back (JSON)."""
        return {"result": self.result, "warnings": self.warnings, "secrets": sorted(self.secrets)}

    def take(self, state):
        self.result.clear()
        self.result.update(state["result"])
        self.warnings[:] = state["warnings"]
        self.secrets |= set(state["secrets"])


def run_job(module, job):
    """One file, start to end: None, or the failure's msg (and exception) for its result."""
    # JSON data holds no reference cycles: pausing the cyclic collector keeps multi-MiB files linear
    collecting = gc.isenabled()
    gc.disable()
    try:
        merge_file(module, job)
    except USER_ERRORS as exc:
        return {"msg": job.redaction.mask(str(exc))}
    except Exception as exc:  # pylint: disable=broad-except
        return {
            "msg": job.redaction.mask("unexpected error: %s: %s" % (type(exc).__name__, to_native(exc))),
            "exception": job.redaction.mask(traceback.format_exc()),
        }
    finally:
        if collecting:
            gc.enable()
    return None


def merge_file(module, job):
    """Read, merge, compare and (when the document changes and may be written) write one file."""
    job.prepare()
    if job.acting is None:
        _merge(module, job)
        return
    # as root for another account: every step in its tree runs as that account (a forked child),
    # which can no longer read the payload (root's): it gets the source of what it may import
    sources = PayloadSources(LATER)

    def work():
        sources.install()
        _merge(module, job)

    state, error, trace = files.run_as(job.acting, work, job.state)
    job.take(state)
    if trace:
        job.result["exception"] = job.redaction.mask(trace)
    if error:
        raise Failure(error)


class PayloadSources(object):
    """The modules the steps import only when they need them, read (not compiled) from the payload
    by root before the fork, and served to the child from memory: the child, which dropped to
    another account, can no longer read the AnsiballZ payload (root's private folder), and compiles
    a module only if it imports it (an idempotent run imports none)."""

    PACKAGE = "ansible_collections.llmcloud.factory_droid.plugins.module_utils."

    def __init__(self, names):
        self.sources = {}
        folder = list(sys.modules[self.PACKAGE[:-1]].__path__)[0]
        importer = pkgutil.get_importer(folder)  # the payload's zipimporter (a FileFinder in tests)
        for name in names:
            fullname = self.PACKAGE + name
            if fullname in sys.modules or importer is None:
                continue
            source = self._source(importer, fullname)
            if source is not None:
                self.sources[fullname] = (source, os.path.join(folder, name + ".py"))

    @staticmethod
    def _source(importer, fullname):
        """The text of a module, never compiled here (zipimporter.find_spec would compile it)."""
        try:
            if hasattr(importer, "get_source"):
                return importer.get_source(fullname)
            spec = importer.find_spec(fullname)
            return spec.loader.get_source(fullname) if spec is not None and spec.loader is not None else None
        except ImportError:
            return None

    def install(self):
        sys.meta_path.insert(0, self)

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        if fullname not in self.sources:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=self.sources[fullname][1])

    def create_module(self, spec):  # pylint: disable=unused-argument
        return None  # the default module object

    def exec_module(self, module):
        source, origin = self.sources[module.__name__]
        exec(compile(source, origin, "exec"), module.__dict__)  # pylint: disable=exec-used


# what the steps in the user's tree may import later (see the comment at the imports)
LATER = ("_file_write", "_jsonc_writer", "_path_checks", "_validate")


def _merge(module, job):
    params, path, acting = job.params, job.path, job.acting_name
    create = params["create"]
    entry = job.entry if job.entry is not None else job.acting  # whose home ~ and the path are in
    if entry is not None and (job.entry is not None or os.path.isabs(entry.pw_dir or "")):
        _check_home(entry, path)
    job.folder_path, job.name, job.lock_path = folder_path, name, lock_path = files.locate(path, acting)
    target = os.path.join(folder_path, name)
    if not os.path.isdir(folder_path):
        if not create:
            raise Failure("%s does not exist (nor its folder %s) and create is false" % (path, folder_path))
        outcome = plan(None, params, job.redaction, job.indent, job.diff, path)
        if not outcome.changed or job.check:
            _apply(module, job, outcome, target, None)
            return
        from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _file_write

        _file_write.make_folders(folder_path, job.uid, job.gid, acting)

    lock_name = os.path.join(lock_path or folder_path, ".%s.lock" % os.path.basename(path))
    if params.get("only_if_keys") and not os.path.lexists(target) and not os.path.lexists(lock_name):
        # nothing to merge into, and no lock to take for it (none is created for a file that is not there)
        outcome = plan(None, params, job.redaction, job.indent, job.diff, path)
        if not outcome.applied:
            _apply(module, job, outcome, target, None)
            return

    with files.Folder(folder_path) as folder:
        files.check_folder_owner(folder, job.uid, path)
        lock_folder = files.Folder(lock_path) if lock_path else folder
        try:
            with files.FileLock(lock_folder, os.path.basename(path), params["lock_timeout"], exclusive=not job.check, create=not job.check):
                outcome, info = _merge_locked(module, job, folder)
                _apply(module, job, outcome, target, info)
        finally:
            if lock_folder is not folder:
                lock_folder.close()


def _check_home(entry, path):
    """A file in the home of the account the module works for needs that home: it is never created."""
    home = files.home_of(entry)
    if not files.inside(path, home) or os.path.isdir(home):
        return
    try:
        os.stat(home)
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise Failure(
                "user %s cannot reach their home folder %s (%s on a folder above it): the module works "
                "as that user, so every folder above the home must let them through (at least o+x); "
                "fix the permissions and run again" % (entry.pw_name, home, exc.strerror)
            ) from exc
    raise Failure(
        "the home folder %s of user %s does not exist; the module never creates a home or the "
        "folders above it: create the home (for example useradd -m, or mkhomedir_helper %s) and "
        "run again" % (home, entry.pw_name, entry.pw_name)
    )


def _merge_locked(module, job, folder):
    """Under the lock: read, plan, and write when the plan changes the file; (plan, stat as read)."""
    params, path, name = job.params, job.path, job.name
    for _attempt in range(3):
        data, info = files.read_file(folder, name, params["max_size"])
        doc = None
        if data is None:
            if not params["create"]:
                raise missing(path)
        else:
            files.check_owner(info, job.uid, path, os.path.join(job.folder_path, name))
            doc = read_document(data, path)
        outcome = plan(doc, params, job.redaction, job.indent, job.diff, path)
        if not outcome.changed or job.check:
            return outcome, info
        if _write(module, job, folder, (data, info, doc), outcome):
            return outcome, info
    raise Failure(
        "%s changed on disk while the merge ran, 3 times in a row (the droid client or "
        "another tool saving it without taking the lock); it was left as that writer saved "
        "it: run the task again" % path
    )


def _write(module, job, folder, read, outcome):
    """The planned text into the file (atomic, durable, validated, backed up); False when another
    writer renamed a new version in since the read (the caller merges into that one). ``read``:
    the bytes, stat and document the plan was made from."""
    # the file changes: the write side of the file layer, imported only now
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _file_write
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import encode_text
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import numeric_mode

    params, path, name = job.params, job.path, job.name
    data, info, doc = read
    read_only = _file_write.read_only_link(path, job.folder_path) if job.lock_path else None
    if read_only:
        raise Failure(read_only)

    def before_rename():
        # a writer that takes no lock (the droid client saving) may have renamed a new
        # version in since the read: merge again into that one instead of dropping it
        _file_write.check_unchanged(folder, name, info)
        if params["backup"] and outcome.exists:
            job.result["backup_file"] = _file_write.write_backup(folder, name, data, info, job.redaction.holds_secrets(outcome.doc))

    validate = None
    if params["validate"] is not None:
        from ansible_collections.llmcloud.factory_droid.plugins.module_utils._validate import validator

        validate = validator(params["validate"], params.get("validate_timeout") or 120, path, job.redaction, (doc, outcome.written))
    try:
        _file_write.write_atomic(
            files.FileView(module, False),
            folder,
            name,
            encode_text(outcome.new_text),
            info,
            job.uid,
            job.gid,
            numeric_mode(params["mode"]),
            before_rename,
            validate,
        )
    except _file_write.Changed:
        return False
    return True


def _apply(module, job, outcome, target, info):
    """The outcome into the file's result; file attributes (owner, mode, ...) as the task asks."""
    result = job.result
    result["operations"] = outcome.operations
    result["applied"] = outcome.applied
    if job.params.get("offboard") is not None:
        result["remove_file"] = outcome.remove_file
    if outcome.diff is not None:
        job.secrets |= outcome.secrets
        result["diff"] = outcome.diff
    result["changed"] = outcome.changed  # a failure setting attributes still says whether it wrote
    result["changed"] = files.apply_attributes(module, job.params, job.check, target, info, outcome, job.redaction.holds_secrets, job.warnings.append)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **SPEC_RULES)
    redaction = Redaction.of_params(module.params)
    # Ansible masks every leaf string of a no_log option in all output (so "anthropic" would
    # vanish from every diff); mask the real secrets instead, everywhere.
    module.no_log_values = set(redaction.secrets)
    invocation = redaction.invocation(module.params)
    if module.params["files"] is None:
        job = FileJob(dict(module.params, check_only=False), module.check_mode, module._diff, redaction)
        error = run_job(module, job)
        module.no_log_values |= job.secrets
        for warning in job.warnings:
            module.warn(redaction.mask(warning))
        if error:
            module.fail_json(invocation=invocation, **dict(job.result, **error))
        module.exit_json(invocation=invocation, **job.result)

    # files: one round trip for several files, each merged, locked and written on its own
    try:
        tasks = file_params(module.params)
    except Failure as exc:
        module.fail_json(msg=redaction.mask(str(exc)), invocation=invocation)
    # every item's options, regular expressions, pointers, account and path, before any file is written
    problems = []
    for index, task in enumerate(tasks):
        try:
            check_params(task)
            files.expand_path(task["path"], files.account(task["user"]))
        except USER_ERRORS as exc:
            problems.append(files_message(index, task["path"], str(exc)))
    if problems:
        module.fail_json(msg=redaction.mask("; ".join(problems) + ". No file was touched."), invocation=invocation)
    results, diffs, failures = [], [], []
    for number, task in enumerate(tasks):
        job = FileJob(task, module.check_mode or task["check_only"], module._diff, redaction)
        error = run_job(module, job)
        module.no_log_values |= job.secrets
        one = job.result
        for warning in job.warnings:
            module.warn(redaction.mask(files_message(number, one.get("path") or task["path"], warning)))
        if error:
            one.update(error, failed=True)
            failures.append(files_message(number, one.get("path") or task["path"], error["msg"]))
        diff = one.pop("diff", None)
        if diff is not None and not task["check_only"]:
            diffs.append(diff)
        one["check_only"] = task["check_only"]
        if one.get("path"):
            module.add_path_info(one)  # owner, mode, size, ... of each file, as exit_json adds them for path
        results.append(one)
    outcome = {
        "changed": any(one["changed"] and not one["check_only"] for one in results),
        "results": results,
    }
    if diffs:
        outcome["diff"] = diffs
    if failures:
        module.fail_json(msg="; ".join(failures), invocation=invocation, **outcome)
    module.exit_json(invocation=invocation, **outcome)


if __name__ == "__main__":
    main()
