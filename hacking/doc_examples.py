# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn a guide's fleet examples (docs/fleet.md) into files and scripts that tests/build-check.sh runs.

A fenced code block right after a ``<!-- build-check: NAME -->`` comment is one example:

* ``ansible-pull``: the documented command, written as ``ansible-pull.sh``.
* ``*.service`` / ``*.timer``: systemd user units, written under their names. The service's
  ``Environment=`` and ``ExecStart=`` become ``systemd-service.sh``, the command systemd would
  run (``%h`` is the home folder).
* ``*.plist``: a launchd agent, checked for the keys a daily agent needs. Its
  ``ProgramArguments`` become ``launchd-agent.sh``.

Usage: python hacking/doc_examples.py docs/fleet.md OUTPUT_DIR
"""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import sys

BLOCK = re.compile(r"<!-- build-check: (?P<name>[^ ]+) -->\s*\n```[a-z]*\n(?P<body>.*?)\n```", re.DOTALL)
REQUIRED = ("ansible-pull", ".service", ".timer", ".plist")


class ExampleError(Exception):
    """An example in the guide is missing or malformed."""


def unit_settings(text):
    """Return (section, key, value) triples of a systemd unit, continuation lines joined."""
    settings = []
    section = None
    logical = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        stripped = logical.strip()
        logical = ""
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif "=" in stripped:
            key, value = stripped.split("=", 1)
            settings.append((section, key.strip(), value.strip()))
        else:
            raise ExampleError("unit line is neither a section nor a setting: %r" % stripped)
    return settings


def home(value):
    """Replace systemd's %h specifier by the shell's $HOME, quoted for the script."""
    return '"$HOME"'.join(shlex.quote(part) for part in value.split("%h"))


def service_script(text):
    """Return the shell script that runs a service's ExecStart with its Environment."""
    settings = unit_settings(text)
    service = {key: value for section, key, value in settings if section == "Service"}
    if service.get("Type") != "oneshot":
        raise ExampleError("the service should be Type=oneshot (a run that ends)")
    if "ExecStart" not in service:
        raise ExampleError("the service has no ExecStart")
    lines = ["#!/bin/sh", "set -e"]
    for section, key, value in settings:
        if section == "Service" and key == "Environment":
            for assignment in shlex.split(value):
                name, _sep, val = assignment.partition("=")
                lines.append("export %s=%s" % (name, home(val)))
    lines.append("exec " + " ".join(home(word) for word in shlex.split(service["ExecStart"])))
    return "\n".join(lines) + "\n"


def check_timer(text):
    """Fail unless a timer runs daily, catches up missed runs and can be enabled."""
    settings = {(section, key): value for section, key, value in unit_settings(text)}
    if not settings.get(("Timer", "OnCalendar")):
        raise ExampleError("the timer has no OnCalendar")
    if settings.get(("Timer", "Persistent")) != "true":
        raise ExampleError("the timer should be Persistent=true (catch up missed runs)")
    if settings.get(("Install", "WantedBy")) != "timers.target":
        raise ExampleError("the timer should be WantedBy=timers.target")


def plist_script(text):
    """Return the shell script that runs a launchd agent's ProgramArguments."""
    try:
        agent = plistlib.loads(text.encode("utf-8"))
    except Exception as error:  # plistlib raises several unrelated types  # pylint: disable=broad-exception-caught
        raise ExampleError("the plist does not parse: %s" % error) from error
    for key in ("Label", "ProgramArguments", "StartCalendarInterval"):
        if key not in agent:
            raise ExampleError("the plist has no %s" % key)
    arguments = agent["ProgramArguments"]
    if not arguments or not os.path.isabs(arguments[0]):
        raise ExampleError("ProgramArguments must start with an absolute program path")
    if not isinstance(agent["StartCalendarInterval"], (dict, list)):
        raise ExampleError("StartCalendarInterval must be a dict (or a list of dicts)")
    return "#!/bin/sh\nexec " + " ".join(shlex.quote(argument) for argument in arguments) + "\n"


def main(argv):
    """Write the examples of a guide into a folder; return the exit status."""
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    readme, output = argv
    with open(readme, encoding="utf-8") as handle:
        text = handle.read()
    os.makedirs(output, exist_ok=True)
    found = []
    try:
        for match in BLOCK.finditer(text):
            name, body = match.group("name"), match.group("body") + "\n"
            found.append(name)
            files = {name if name != "ansible-pull" else "ansible-pull.sh": body}
            if name.endswith(".service"):
                files["systemd-service.sh"] = service_script(body)
            elif name.endswith(".timer"):
                check_timer(body)
            elif name.endswith(".plist"):
                files["launchd-agent.sh"] = plist_script(body)
            for file_name, content in files.items():
                with open(os.path.join(output, file_name), "w", encoding="utf-8") as handle:
                    handle.write(content)
                print("%s: %s" % (readme, os.path.join(output, file_name)))
        for suffix in REQUIRED:
            if not any(name.endswith(suffix) for name in found):
                raise ExampleError('no "<!-- build-check: ...%s -->" example' % suffix)
    except ExampleError as error:
        print("%s: %s" % (readme, error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
