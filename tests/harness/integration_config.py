# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Render tests/integration/integration_config.yml from a running harness's state.json.

ansible-test passes that file to every integration target as extra variables.
"""

from __future__ import annotations

import argparse
import json
import sys


def render(state, python):
    """Return the integration variables for ``state`` as a dict."""
    config = {'ansible_python_interpreter': python}
    pg = state['services'].get('postgres')
    if pg:
        config.update({
            'dsr_pg_host': pg['host'],
            'dsr_pg_port': pg['port'],
            'dsr_pg_socket_dir': pg['socket_dir'],
            'dsr_pg_database': pg['database'],
            'dsr_pg_bindir': pg['bindir'],
            'dsr_pg_max_connections': pg['max_connections'],
            'dsr_pg_passwords': pg['passwords'],
            'dsr_pg_standby_port': pg['standby']['port'] if pg.get('standby') else None,
        })
    return config


def main(argv=None):
    """Print the YAML (JSON is YAML) for the state file given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--state', required=True)
    parser.add_argument('--python', required=True, help='interpreter for the modules (set explicitly: discovery can find a broken pyenv shim)')
    args = parser.parse_args(argv)
    with open(args.state, encoding='utf-8') as handle:
        state = json.load(handle)
    json.dump(render(state, args.python), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
