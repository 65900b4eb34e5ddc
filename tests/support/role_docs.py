# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a role's variables table from meta/argument_specs.yml into its README.

The table sits in the README between two markers::

    <!-- BEGIN generated: argument_specs -->
    <!-- END generated: argument_specs -->

Usage::

    python tests/support/role_docs.py --check roles/byok   # exit 1 and a diff when stale
    python tests/support/role_docs.py --write roles/byok   # rewrite the marked block

--check also compares the argument spec with defaults/main.yml: every default variable must be
an option of the main entry point, and an option's documented default must equal the value in
defaults/main.yml (ansible-core does not apply argument_specs defaults; defaults/main.yml does).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys

import yaml

BEGIN = '<!-- BEGIN generated: argument_specs -->'
END = '<!-- END generated: argument_specs -->'
NOTICE = ('<!-- Generated from meta/argument_specs.yml by tests/support/role_docs.py --write; '
          'edit the argument spec, not this table. -->')
MAX_INLINE_DEFAULT = 60

# Ansible documentation markup -> Markdown.
_MARKUP = (
    (re.compile(r'L\(([^()]+?),\s*([^()]+?)\)'), r'[\1](\2)'),
    (re.compile(r'U\(([^()]+?)\)'), r'[\1](\1)'),
    (re.compile(r'I\(([^()]+?)\)'), r'*\1*'),
    (re.compile(r'B\(([^()]+?)\)'), r'**\1**'),
    (re.compile(r'\b(?:C|V|O|RV|E|M)\(([^()]+?)\)'), r'`\1`'),
    (re.compile(r'HORIZONTALLINE'), ''),
)


class SpecError(Exception):
    """The argument spec or the defaults cannot be read as expected."""


def markup(text):
    """Return description text as one Markdown table cell."""
    if isinstance(text, (list, tuple)):
        text = ' '.join(str(part).strip() for part in text)
    text = ' '.join(str(text).split())
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    # Outside code spans, angle brackets would be taken for HTML tags.
    parts = text.split('`')
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace('<', '&lt;').replace('>', '&gt;')
    return '`'.join(parts).replace('|', '\\|')


def inline(value):
    """Return a value as compact JSON-like code for a table cell."""
    return json.dumps(value, sort_keys=False, ensure_ascii=False, separators=(', ', ': '))


def render_default(option, defaults, name, top_level):
    """Return the default column for one option."""
    if top_level and name in defaults:
        value = defaults[name]
    elif 'default' in option:
        value = option['default']
    else:
        return ''
    text = inline(value)
    if len(text) <= MAX_INLINE_DEFAULT:
        return '`%s`' % text.replace('|', '\\|')
    if isinstance(value, list):
        return '%d items, see `defaults/main.yml`' % len(value)
    if isinstance(value, dict):
        return '%d keys, see `defaults/main.yml`' % len(value)
    return 'see `defaults/main.yml`'


def render_type(option):
    """Return the type column for one option."""
    kind = option.get('type', 'str')
    if kind == 'list' and option.get('elements'):
        kind = 'list of %s' % option['elements']
    if option.get('choices'):
        kind += '<br>one of: ' + ', '.join('`%s`' % choice for choice in option['choices'])
    return kind


def option_rows(options, defaults, prefix='', top_level=True):
    """Yield (name, type, required, default, description) rows, suboptions after their parent."""
    for name in options:
        option = options[name] or {}
        if not isinstance(option, dict):
            raise SpecError('option %s%s is not a mapping' % (prefix, name))
        full_name = prefix + name
        yield (
            '`%s`' % full_name,
            render_type(option),
            'yes' if option.get('required') else 'no',
            render_default(option, defaults, name, top_level),
            markup(option.get('description', '')),
        )
        suboptions = option.get('options') or option.get('suboptions')
        if suboptions:
            child_prefix = full_name + ('[].' if option.get('type') == 'list' else '.')
            yield from option_rows(suboptions, defaults, child_prefix, top_level=False)


def render(role_path):
    """Return the generated Markdown block (markers included) for a role."""
    specs, defaults = load(role_path)
    lines = [BEGIN, NOTICE]
    entry_points = specs.get('argument_specs') or {}
    if not entry_points:
        raise SpecError('%s has no argument_specs entry points' % spec_path(role_path))
    for entry_point in sorted(entry_points, key=lambda name: (name != 'main', name)):
        spec = entry_points[entry_point] or {}
        title = 'Entry point `%s`' % entry_point
        if spec.get('short_description'):
            title += ': ' + markup(spec['short_description'])
        lines.extend(['', '#### ' + title, ''])
        if spec.get('description'):
            lines.extend([markup(spec['description']), ''])
        options = spec.get('options') or {}
        if not options:
            lines.append('This entry point takes no variables.')
            continue
        lines.append('| variable | type | required | default | description |')
        lines.append('|---|---|---|---|---|')
        for row in option_rows(options, defaults if entry_point == 'main' else {}):
            lines.append('| ' + ' | '.join(row) + ' |')
    lines.extend(['', END])
    return '\n'.join(lines)


def spec_path(role_path):
    """Return the path of a role's argument spec."""
    for name in ('argument_specs.yml', 'argument_specs.yaml'):
        path = os.path.join(role_path, 'meta', name)
        if os.path.exists(path):
            return path
    return os.path.join(role_path, 'meta', 'argument_specs.yml')


def load(role_path):
    """Return (argument spec document, defaults mapping) of a role."""
    path = spec_path(role_path)
    with open(path, encoding='utf-8') as handle:
        specs = yaml.safe_load(handle) or {}
    if not isinstance(specs, dict):
        raise SpecError('%s is not a mapping' % path)
    defaults = {}
    for name in ('main.yml', 'main.yaml'):
        defaults_path = os.path.join(role_path, 'defaults', name)
        if os.path.exists(defaults_path):
            with open(defaults_path, encoding='utf-8') as handle:
                defaults = yaml.safe_load(handle) or {}
            break
    if not isinstance(defaults, dict):
        raise SpecError('defaults/main.yml of %s is not a mapping' % role_path)
    return specs, defaults


def spec_problems(role_path):
    """Return the ways defaults/main.yml and the main entry point's options disagree."""
    specs, defaults = load(role_path)
    main = ((specs.get('argument_specs') or {}).get('main') or {})
    options = main.get('options') or {}
    problems = []
    for name in defaults:
        if name not in options:
            problems.append('defaults/main.yml sets %s, which argument_specs (main) does not document' % name)
    for name, option in options.items():
        option = option or {}
        if 'default' in option and name in defaults and option['default'] != defaults[name]:
            problems.append('%s: argument_specs default %s differs from defaults/main.yml %s'
                            % (name, inline(option['default']), inline(defaults[name])))
        if 'default' in option and name not in defaults:
            problems.append('%s: argument_specs documents a default that defaults/main.yml does not set '
                            '(ansible-core does not apply argument_specs defaults)' % name)
        if not option.get('description'):
            problems.append('%s: no description in argument_specs' % name)
    return problems


def readme_block(text, readme):
    """Return (start, end) offsets of the marked block in a README, markers included."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise SpecError('%s has no block between "%s" and "%s": add both markers where the '
                        'variables table belongs' % (readme, BEGIN, END))
    return start, end + len(END)


def main(argv=None):
    """Check or rewrite the generated block; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--check', action='store_true', help='fail with a diff when the README is stale')
    mode.add_argument('--write', action='store_true', help='rewrite the block in the README')
    mode.add_argument('--print', action='store_true', help='print the generated block')
    parser.add_argument('role', help='path of the role, e.g. roles/byok')
    args = parser.parse_args(argv)

    readme = os.path.join(args.role, 'README.md')
    try:
        block = render(args.role)
        if args.print:
            print(block)
            return 0
        if args.write:
            with open(readme, encoding='utf-8') as handle:
                text = handle.read()
            start, end = readme_block(text, readme)
            new_text = text[:start] + block + text[end:]
            if new_text != text:
                with open(readme, 'w', encoding='utf-8') as handle:
                    handle.write(new_text)
                print('%s: variables table rewritten from %s' % (readme, spec_path(args.role)))
            else:
                print('%s: variables table already up to date' % readme)
            return 0
        problems = spec_problems(args.role)
        try:
            with open(readme, encoding='utf-8') as handle:
                text = handle.read()
            start, end = readme_block(text, readme)
        except (OSError, SpecError) as error:
            problems.insert(0, str(error))
        else:
            new_text = text[:start] + block + text[end:]
            if new_text != text:
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), new_text.splitlines(True), readme + ' (committed)', readme + ' (generated)'))
                problems.insert(0, 'the variables table differs from %s; run: python tests/support/role_docs.py --write %s'
                                % (spec_path(args.role), args.role))
        for problem in problems:
            print('%s: %s' % (args.role, problem))
        if not problems:
            print('%s: README variables table and defaults/main.yml agree with %s' % (args.role, spec_path(args.role)))
        return 1 if problems else 0
    except (OSError, SpecError, yaml.YAMLError) as error:
        print('role_docs.py: %s' % error, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
