# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The vault options k8s_config_backup and k8s_config_restore share: the password (or its file) and the vault id."""

from __future__ import annotations

import os
import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.dsr.ops.plugins.module_utils._k8s.archive import DEFAULT_VAULT_ID, Vault

PASSWORD_ENVIRONMENT = 'DSR_K8S_VAULT_PASSWORD'
_VAULT_ID_RE = re.compile(r'^[A-Za-z0-9_.@-]{1,64}$')


def vault_argument_spec():
    return dict(
        vault_password=dict(type='str', no_log=True, fallback=(env_fallback, [PASSWORD_ENVIRONMENT])),
        vault_password_file=dict(type='path', no_log=False),
        vault_id=dict(type='str', default=DEFAULT_VAULT_ID),
    )


def validate_vault_params(params):
    """Messages naming the option and the fix; reads the password file into vault_password."""
    problems = []
    if params.get('vault_password') is not None and params.get('vault_password_file'):
        problems.append('vault_password and vault_password_file are mutually exclusive: give one')
    if params.get('vault_password_file'):
        path = params['vault_password_file']
        if not os.path.isfile(path):
            problems.append('vault_password_file: %s is not a file' % path)
        else:
            if os.access(path, os.X_OK):
                problems.append('vault_password_file: %s is executable; vault client scripts are not run by this module, '
                                'give the password in a plain file or in vault_password' % path)
            else:
                with open(path, encoding='utf-8') as handle:
                    params['vault_password'] = handle.read().strip()
    if params.get('vault_password') is not None and not params['vault_password'].strip():
        problems.append('vault_password is empty: give the vault password, or leave it unset')
    if not _VAULT_ID_RE.match(params.get('vault_id') or ''):
        problems.append('vault_id must be 1-64 letters, digits, "_", "-", ".", "@", got %r' % params.get('vault_id'))
    return problems


def vault_from_params(params):
    """A Vault, or None when no password was given."""
    if not params.get('vault_password'):
        return None
    return Vault(params['vault_password'], params['vault_id'])


def password_secrets(params):
    """The password read from a file, to mask like a no_log option."""
    return [params['vault_password']] if params.get('vault_password') else []
