# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the pip bootstrap script that ansible-test caches.

ansible-test bootstraps pip into each sanity-test virtual environment by running
``~/.ansible/test/cache/get_pip_<version>.py`` and downloads that script from a host that
cannot be reached from here. tests/ansible-test.sh copies this file to that path instead.

It does what get-pip does, with parts already on the machine:

1. ``ensurepip.bootstrap()`` installs the pip wheel bundled with Python into the venv.
2. ``python -m pip install --upgrade --force-reinstall <arguments>`` installs the exact pip
   that ansible-test asked for (e.g. ``pip==24.2``), through the package index that the
   machine's pip configuration files name.
3. With ``--no-setuptools`` / ``--no-wheel`` (get-pip options), the copies that ensurepip
   brought along on older Pythons are removed again, so the venv holds what get-pip would leave.

ensurepip points ``PIP_CONFIG_FILE`` at the null device (to ignore the user's settings while it
installs the bundled wheel); the second step drops that variable again so the machine's pip
configuration (CA bundle, package mirrors) applies.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip.py options that `pip install` does not understand.
GET_PIP_ONLY_OPTIONS = frozenset(("--no-setuptools", "--no-wheel"))


def main() -> int:
    """Bootstrap pip, then install the requested packages; return the exit status."""
    arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
    unwanted = [option[len("--no-") :] for option in sys.argv[1:] if option in GET_PIP_ONLY_OPTIONS]

    ensurepip.bootstrap()

    environment = dict(os.environ)
    environment.pop("PIP_CONFIG_FILE", None)

    pip = [sys.executable, "-m", "pip"]
    status = subprocess.call(pip + ["install", "--upgrade", "--force-reinstall"] + arguments, env=environment)

    if status == 0 and unwanted:
        # Quietly ignores packages that are not installed (newer Pythons bundle pip alone).
        status = subprocess.call(pip + ["uninstall", "--yes", "--quiet"] + unwanted, env=environment)

    return status


if __name__ == "__main__":
    sys.exit(main())
