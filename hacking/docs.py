# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the reference documentation from the sources the code uses, and check it for drift.

One source per table, never a hand copy:

* ``docs/reference/json_merge.md``: ``ansible-doc --json`` of the module (its DOCUMENTATION and
  RETURN, with the documentation fragments merged in, exactly what ``ansible-doc`` shows).
* ``docs/reference/filters.md``: ``ansible-doc --json`` of every filter of the collection.
* ``docs/reference/byok-role.md`` and the block between the ``BEGIN/END generated:
  argument_specs`` markers in ``roles/byok/README.md``: ``roles/byok/meta/argument_specs.yml``
  (what the role checks its variables with).

``--check`` also fails when the sources disagree with each other: a variable in
``roles/byok/defaults/main.yml`` that the argument spec does not document (or a different
default), and a ``key_mode``/``byok_key_mode`` option whose choices differ from those of the
role's entry point's ``byok_key_mode`` (which the Python code reads).

Usage::

    python hacking/docs.py --check    # exit 1 with a diff when a generated file is stale (make lint)
    python hacking/docs.py --write    # regenerate every file (make docs)

``ansible-doc`` comes from the Python environment running this script (``.venv``); the
collection resolves through ``build/collections`` (``make collection`` links the checkout there).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = "llmcloud.factory_droid"
ROLE = os.path.join(ROOT, "roles", "byok")
REFERENCE = os.path.join(ROOT, "docs", "reference")
MAX_INLINE_DEFAULT = 60

BEGIN = "<!-- BEGIN generated: argument_specs -->"
END = "<!-- END generated: argument_specs -->"


def notice(source):
    """The comment that opens every generated text."""
    return "<!-- Generated from %s by hacking/docs.py --write (make docs); edit the source, not this file. -->" % source


# Ansible documentation markup -> Markdown.
_MARKUP = (
    (re.compile(r"L\(([^()]+?),\s*([^()]+?)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^()]+?)\)"), r"[\1](\1)"),
    (re.compile(r"I\(([^()]+?)\)"), r"*\1*"),
    (re.compile(r"B\(([^()]+?)\)"), r"**\1**"),
    (re.compile(r"\b(?:C|V|O|RV|E|M|P)\(([^()]+?)\)"), r"`\1`"),
    (re.compile(r"HORIZONTALLINE"), ""),
)


class DocError(Exception):
    """A source cannot be read as expected."""


def markup(text):
    """Return description text (a string or a list of paragraphs) as one Markdown table cell."""
    if isinstance(text, (list, tuple)):
        text = " ".join(str(part).strip() for part in text)
    text = " ".join(str(text or "").split())
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    # Outside code spans, angle brackets would be taken for HTML tags.
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def paragraphs(text):
    """Return description text as Markdown paragraphs (one per list item)."""
    if not isinstance(text, (list, tuple)):
        text = [text] if text else []
    return [markup(part) for part in text if str(part).strip()]


def inline(value):
    """Return a value as compact JSON-like code for a table cell."""
    return json.dumps(value, sort_keys=False, ensure_ascii=False, separators=(", ", ": "))


def render_value(value, where="defaults/main.yml"):
    """Return a default value for a table cell; long values point at where they are kept."""
    text = inline(value)
    if len(text) <= MAX_INLINE_DEFAULT:
        return "`%s`" % text.replace("|", "\\|")
    if isinstance(value, list):
        return "%d items, see `%s`" % (len(value), where)
    if isinstance(value, dict):
        return "%d keys, see `%s`" % (len(value), where)
    return "see `%s`" % where


def render_type(option):
    """Return the type column for one option."""
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        kind = "list of %s" % option["elements"]
    if option.get("choices"):
        choices = option["choices"]
        if isinstance(choices, dict):  # choices with descriptions
            choices = list(choices)
        kind += "<br>one of: " + ", ".join("`%s`" % choice for choice in choices)
    return kind


def table(header, rows):
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


# -- the role: meta/argument_specs.yml -----------------------------------------------------------


def role_option_rows(options, defaults, prefix="", top_level=True):
    """Yield (name, type, required, default, description) rows, suboptions after their parent."""
    for name in options:
        option = options[name] or {}
        if not isinstance(option, dict):
            raise DocError("option %s%s is not a mapping" % (prefix, name))
        full_name = prefix + name
        if top_level and name in defaults:
            default = render_value(defaults[name])
        elif "default" in option:
            default = render_value(option["default"])
        else:
            default = ""
        yield (
            "`%s`" % full_name,
            render_type(option),
            "yes" if option.get("required") else "no",
            default,
            markup(option.get("description", "")),
        )
        suboptions = option.get("options") or option.get("suboptions")
        if suboptions:
            child_prefix = full_name + ("[]." if option.get("type") == "list" else ".")
            yield from role_option_rows(suboptions, defaults, child_prefix, top_level=False)


def spec_path(role_path):
    """Return the path of a role's argument spec."""
    for name in ("argument_specs.yml", "argument_specs.yaml"):
        path = os.path.join(role_path, "meta", name)
        if os.path.exists(path):
            return path
    return os.path.join(role_path, "meta", "argument_specs.yml")


def load_role(role_path):
    """Return (argument spec document, defaults mapping) of a role."""
    path = spec_path(role_path)
    with open(path, encoding="utf-8") as handle:
        specs = yaml.safe_load(handle) or {}
    if not isinstance(specs, dict) or not specs.get("argument_specs"):
        raise DocError("%s has no argument_specs entry points" % os.path.relpath(path, ROOT))
    defaults = {}
    for name in ("main.yml", "main.yaml"):
        defaults_path = os.path.join(role_path, "defaults", name)
        if os.path.exists(defaults_path):
            with open(defaults_path, encoding="utf-8") as handle:
                defaults = yaml.safe_load(handle) or {}
            break
    if not isinstance(defaults, dict):
        raise DocError("defaults/main.yml of %s is not a mapping" % role_path)
    return specs, defaults


def role_entry(specs):
    """The entry point that documents the role as a whole (its tasks/main.yml): ``main``, or the
    role's one entry point when it has no ``main`` (the byok role names it ``byok``, so that
    ansible-core adds no per-host validation task: the role checks its variables itself)."""
    entry_points = specs["argument_specs"]
    if "main" in entry_points or len(entry_points) != 1:
        return "main"
    return next(iter(entry_points))


def render_role_tables(role_path, heading="####"):
    """Return the variables tables of every entry point of a role, as lines."""
    specs, defaults = load_role(role_path)
    entry_points = specs["argument_specs"]
    lines = []
    main = role_entry(specs)
    for entry_point in sorted(entry_points, key=lambda name: (name != main, name)):
        spec = entry_points[entry_point] or {}
        title = "Entry point `%s`" % entry_point
        if spec.get("short_description"):
            title += ": " + markup(spec["short_description"])
        lines.extend(["", heading + " " + title, ""])
        if spec.get("description"):
            lines.extend([markup(spec["description"]), ""])
        options = spec.get("options") or {}
        if not options:
            lines.append("This entry point takes no variables.")
            continue
        rows = role_option_rows(options, defaults if entry_point == main else {})
        lines.extend(table(("variable", "type", "required", "default", "description"), rows))
    return lines


def role_readme_block(role_path):
    """Return the generated block (markers included) of the role's README."""
    lines = [BEGIN, notice("meta/argument_specs.yml")]
    lines.extend(render_role_tables(role_path))
    lines.extend(["", END])
    return "\n".join(lines)


def role_reference(role_path):
    """Return docs/reference/byok-role.md."""
    name = os.path.basename(role_path)
    lines = [
        "# Role `%s.%s`: variables" % (COLLECTION, name),
        "",
        notice(os.path.relpath(spec_path(role_path), ROOT)),
        "",
        "Every variable the role takes, typed and checked before the role touches anything, with",
        "ansible-core's own validator (`ansible-doc -t role %s.%s` shows the same). Defaults come from" % (COLLECTION, name),
        "[`roles/%s/defaults/main.yml`](../../roles/%s/defaults/main.yml), where they are grouped and" % (name, name),
        "commented; [the role guide](../byok-role.md) explains them group by group.",
    ]
    lines.extend(render_role_tables(role_path, heading="##"))
    return "\n".join(lines) + "\n"


def spec_problems(role_path):
    """Return the ways defaults/main.yml and the role's entry point's options disagree."""
    specs, defaults = load_role(role_path)
    main = specs["argument_specs"].get(role_entry(specs)) or {}
    options = main.get("options") or {}
    problems = []
    for name in defaults:
        if name not in options:
            problems.append("defaults/main.yml sets %s, which argument_specs does not document" % name)
    for name, option in options.items():
        option = option or {}
        if "default" in option and name in defaults and option["default"] != defaults[name]:
            problems.append("%s: argument_specs default %s differs from defaults/main.yml %s" % (name, inline(option["default"]), inline(defaults[name])))
        if "default" in option and name not in defaults:
            problems.append(
                "%s: argument_specs documents a default that defaults/main.yml does not set (ansible-core does not apply argument_specs defaults)" % name
            )
        if not option.get("description"):
            problems.append("%s: no description in argument_specs" % name)
    return problems


# -- plugins: ansible-doc --json ----------------------------------------------------------------


def ansible_doc(*args):
    """Return the parsed output of `ansible-doc --json ARGS` for this checkout's collection."""
    link = os.path.join(ROOT, "build", "collections", "ansible_collections", "llmcloud", "factory_droid")
    if not os.path.exists(os.path.join(link, "galaxy.yml")):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link):
            os.unlink(link)
        os.symlink("../../../..", link)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    program = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    if not os.path.exists(program):
        program = "ansible-doc"
    # An empty configuration: nothing but ansible.builtin and this collection resolves.
    with tempfile.TemporaryDirectory() as scratch:
        config = os.path.join(scratch, "ansible.cfg")
        with open(config, "w", encoding="utf-8"):
            pass
        env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, "build", "collections"),
                "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_CONFIG": config,
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_LOCAL_TEMP": scratch,
            }
        )
        done = subprocess.run([program, "--json", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=scratch, check=False)
    if done.returncode != 0:
        raise DocError("ansible-doc --json %s failed: %s" % (" ".join(args), done.stderr.strip()))
    return json.loads(done.stdout)


def plugin_option_rows(options, prefix=""):
    """Yield (name, type, required, default, description) rows of plugin options, sorted by name."""
    for name in sorted(options):
        option = options[name] or {}
        full_name = prefix + name
        label = "`%s`" % full_name
        if option.get("aliases"):
            label += "<br>aliases: " + ", ".join("`%s`" % alias for alias in option["aliases"])
        default = render_value(option["default"], "the module") if "default" in option and option["default"] is not None else ""
        yield (label, render_type(option), "yes" if option.get("required") else "no", default, markup(option.get("description", "")))
        suboptions = option.get("suboptions") or option.get("options")
        if suboptions:
            child_prefix = full_name + ("[]." if option.get("type") == "list" else ".")
            yield from plugin_option_rows(suboptions, child_prefix)


def return_rows(values, prefix=""):
    """Yield (key, type, returned, description) rows of RETURN, sorted by key."""
    for name in sorted(values or {}):
        value = values[name] or {}
        full_name = prefix + name
        description = markup(value.get("description", ""))
        if value.get("sample") is not None:
            description += "<br>Sample: `%s`" % inline(value["sample"]).replace("|", "\\|")
        yield ("`%s`" % full_name, render_type(value), markup(value.get("returned", "")), description)
        if value.get("contains"):
            yield from return_rows(value["contains"], full_name + ".")


def module_reference(name):
    """Return docs/reference/<module>.md from ansible-doc."""
    fqcn = "%s.%s" % (COLLECTION, name)
    data = ansible_doc("-t", "module", fqcn)
    if fqcn not in data:
        raise DocError("ansible-doc does not know the module %s" % fqcn)
    doc = data[fqcn]["doc"]
    lines = [
        "# Module `%s`" % fqcn,
        "",
        notice("the DOCUMENTATION and RETURN of plugins/modules/%s.py (ansible-doc --json)" % name),
        "",
        "**%s**" % markup(doc.get("short_description", "")),
        "",
    ]
    for part in paragraphs(doc.get("description")):
        lines.extend(["- " + part])
    lines.extend(["", "The [module guide](../json_merge.md) shows it at work. `ansible-doc %s` prints this page." % fqcn])
    lines.extend(["", "## Options", ""])
    lines.extend(table(("option", "type", "required", "default", "description"), plugin_option_rows(doc.get("options") or {})))
    attributes = doc.get("attributes") or {}
    if attributes:
        lines.extend(["", "## Attributes", ""])
        rows = []
        for attribute in sorted(attributes):
            spec = attributes[attribute] or {}
            support = spec.get("support", "")
            if spec.get("platforms"):
                platforms = spec["platforms"]
                support = ", ".join(platforms) if isinstance(platforms, list) else str(platforms)
            details = spec.get("details") or ""
            rows.append(("`%s`" % attribute, markup(support), markup(spec.get("description", "")) + ((" " + markup(details)) if details else "")))
        lines.extend(table(("attribute", "support", "description"), rows))
    if doc.get("notes"):
        lines.extend(["", "## Notes", ""])
        lines.extend("- " + part for part in paragraphs(doc["notes"]))
    returned = data[fqcn].get("return") or {}
    if returned:
        lines.extend(["", "## Return values", ""])
        lines.extend(table(("key", "type", "returned", "description"), return_rows(returned)))
    return "\n".join(lines) + "\n"


def filter_names():
    """The filters of the collection: every documented plugins/filter/*.yml."""
    folder = os.path.join(ROOT, "plugins", "filter")
    return sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".yml") and not name.startswith("."))


def filters_reference(names):
    """Return docs/reference/filters.md from ansible-doc."""
    data = ansible_doc("-t", "filter", *["%s.%s" % (COLLECTION, name) for name in names])
    lines = [
        "# Filters of `%s`" % COLLECTION,
        "",
        notice("plugins/filter/*.yml (ansible-doc --json)"),
        "",
        "The `byok` role uses these to build and check what it writes; they are documented for",
        "playbooks that want the same entries or checks.",
        "",
    ]
    lines.extend("- [`%s`](#%s)" % (name, name) for name in names)
    for name in names:
        fqcn = "%s.%s" % (COLLECTION, name)
        if fqcn not in data:
            raise DocError("ansible-doc does not know the filter %s" % fqcn)
        doc = data[fqcn]["doc"]
        lines.extend(["", "## %s" % name, "", "`%s`: %s" % (fqcn, markup(doc.get("short_description", ""))), ""])
        lines.extend("- " + part for part in paragraphs(doc.get("description")))
        options = doc.get("options") or {}
        if options:
            lines.extend(["", "| option | type | required | default | description |", "|---|---|---|---|---|"])
            # _input (what stands left of the |) first, then the keyword options.
            ordered = dict(sorted(options.items(), key=lambda item: (item[0] != "_input", item[0])))
            for name_, option in ordered.items():
                label = "`%s` (the input)" % name_ if name_ == "_input" else "`%s`" % name_
                default = render_value(option["default"], "the filter") if "default" in option and option["default"] is not None else ""
                lines.append(
                    "| "
                    + " | ".join((label, render_type(option), "yes" if option.get("required") else "no", default, markup(option.get("description", ""))))
                    + " |"
                )
        returned = (data[fqcn].get("return") or {}).get("_value")
        if returned:
            lines.extend(["", "Returns (%s): %s" % (render_type(returned), markup(returned.get("description", "")))])
    return "\n".join(lines) + "\n"


# -- consistency between sources ----------------------------------------------------------------


def key_modes():
    """The key modes, as the role's argument spec (its role_entry) declares them: the one list the
    Python code reads too (plugins/plugin_utils/byok/inputs.py, ``choices``)."""
    specs, _defaults = load_role(ROLE)
    return list(specs["argument_specs"][role_entry(specs)]["options"]["byok_key_mode"]["choices"])


def key_mode_problems():
    """Every documented key_mode option must list exactly the implemented key modes."""
    wanted = key_modes()
    problems = []
    specs, _defaults = load_role(ROLE)
    for entry_point, spec in specs["argument_specs"].items():
        option = ((spec or {}).get("options") or {}).get("byok_key_mode")
        if option is not None and list(option.get("choices") or []) != wanted:
            problems.append(
                "roles/byok/meta/argument_specs.yml (%s): byok_key_mode choices %s, but the role has %s" % (entry_point, option.get("choices"), wanted)
            )
    for name in filter_names():
        with open(os.path.join(ROOT, "plugins", "filter", name + ".yml"), encoding="utf-8") as handle:
            doc = (yaml.safe_load(handle) or {}).get("DOCUMENTATION") or {}
        option = (doc.get("options") or {}).get("key_mode")
        if option is not None and list(option.get("choices") or []) != wanted:
            problems.append("plugins/filter/%s.yml: key_mode choices %s, but the role spec has %s" % (name, option.get("choices"), wanted))
    return problems


# -- main ---------------------------------------------------------------------------------------


def replace_block(text, block, path):
    """Return text with the marked block replaced."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise DocError('%s has no block between "%s" and "%s": add both markers where the table belongs' % (path, BEGIN, END))
    return text[:start] + block + text[end + len(END) :]


def generated():
    """Return {path relative to ROOT: full generated text}."""
    files = {
        "docs/reference/json_merge.md": module_reference("json_merge"),
        "docs/reference/filters.md": filters_reference(filter_names()),
        "docs/reference/byok-role.md": role_reference(ROLE),
    }
    readme = os.path.join(ROLE, "README.md")
    with open(readme, encoding="utf-8") as handle:
        files[os.path.relpath(readme, ROOT)] = replace_block(handle.read(), role_readme_block(ROLE), readme)
    return files


def main(argv=None):
    """Check or rewrite the generated files; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail with a diff when a generated file is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the generated files")
    args = parser.parse_args(argv)
    try:
        files = generated()
        problems = spec_problems(ROLE) + key_mode_problems()
    except (OSError, DocError, yaml.YAMLError, ValueError) as error:
        print("docs.py: %s" % error, file=sys.stderr)
        return 1
    stale = []
    for relative, text in files.items():
        path = os.path.join(ROOT, relative)
        try:
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = ""
        if current == text:
            continue
        if args.write:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            print("docs.py: rewrote %s" % relative)
        else:
            stale.append(relative)
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True), relative + " (committed)", relative + " (generated)"))
    for relative in stale:
        problems.insert(0, "%s is stale: run `make docs` (python hacking/docs.py --write) and commit it" % relative)
    for problem in problems:
        print("docs.py: %s" % problem, file=sys.stderr)
    if not problems:
        print("docs.py: %d generated files up to date (%s); sources agree" % (len(files), ", ".join(sorted(files))))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
