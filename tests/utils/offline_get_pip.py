# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stand-in for get-pip.py that ansible-test runs to bootstrap its sanity virtualenvs.

ansible-test downloads get-pip.py from a host outside the package registries, which
air-gapped sites (and this project's CI) cannot reach, unless a copy is in its cache.
scripts/lib.sh puts this file there. It is run with get-pip's arguments, for example
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``: it bootstraps pip
from the interpreter's own ensurepip wheel (no network), then installs the requested
pip from the configured package index, which is what get-pip.py would have done.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel', '--no-pip')


def main():
    """Bootstrap pip into sys.executable's environment."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + args, check=True)


main()
