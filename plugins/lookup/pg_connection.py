# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: pg_connection
author:
  - DSR Operations Team (@dsr-ops)
version_added: 0.3.0
short_description: The PostgreSQL connection options of a dsr.ops role, resolved in one place
description:
  - Returns the connection options of the C(dsr.ops.postgresql) action group for one role, as a dictionary for
    C(module_defaults). Every role that connects to PostgreSQL uses it, so a setting given once in the inventory -
    C(dsr_pg_ssl_mode=verify-full), say - reaches every connection of every role.
  - Each option is the role's own variable C(<role>_pg_<name>) when set (with several prefixes, the first that is set),
    else the environment's C(dsr_pg_<name>), else left out, so that libpq's own fallbacks (C(PGHOST), C(PGSSLMODE),
    C(.pgpass), ...) apply. Options that are left out are absent from the dictionary (not C(omit) placeholders).
  - "Resolved: C(login_host) (C(host)), C(port), C(login_user) (C(user), falling back to C(dsr_pg_<login>_user)),
    C(login_password) (C(password), falling back to C(dsr_pg_<login>_password)), C(ssl_mode), C(ca_cert), C(ssl_cert),
    C(ssl_key), C(connect_timeout), and with O(database) C(login_db) (C(database), falling back to C(dsr_pg_database),
    else V(dsr_db))."
options:
  _terms:
    description:
      - The role's variable prefix, for example V(backup) (reads C(backup_pg_host) and so on); more prefixes (or a list)
        are tried in order, for a role run on behalf of another (the restore role's clean-up in C(dsr.ops.dr_test)).
    required: true
    type: list
    elements: str
  login:
    description:
      - Which of the environment's login roles the role uses when its own user is not set - C(dsr_pg_<login>_user) and
        C(dsr_pg_<login>_password).
    type: str
    choices: [monitor, admin, backup, restore_test]
    default: admin
  database:
    description: Also resolve C(login_db).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Every PostgreSQL module of the block connects as the backup role does
  module_defaults:
    group/dsr.ops.postgresql: "{{ lookup('dsr.ops.pg_connection', 'backup', login='backup') }}"
  block:
    - dsr.ops.pg_backup:
        database: dsr_db
        backup_dir: /var/backups/dsr/dsr_db
'''

RETURN = r'''
_value:
  description: One dictionary of module options (only the options that are set), in a list of one.
  type: list
  elements: dict
'''

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

# module option -> (role variable suffix, environment variable), or a callable of the login for the environment one
_OPTIONS = (
    ('login_host', 'host', 'dsr_pg_host'),
    ('port', 'port', 'dsr_pg_port'),
    ('login_user', 'user', 'dsr_pg_%s_user'),
    ('login_password', 'password', 'dsr_pg_%s_password'),
    ('ssl_mode', 'ssl_mode', 'dsr_pg_ssl_mode'),
    ('ca_cert', 'ca_cert', 'dsr_pg_ca_cert'),
    ('ssl_cert', 'ssl_cert', 'dsr_pg_ssl_cert'),
    ('ssl_key', 'ssl_key', 'dsr_pg_ssl_key'),
    ('connect_timeout', 'connect_timeout', 'dsr_pg_connect_timeout'),
)


class LookupModule(LookupBase):
    """Resolve a role's PostgreSQL connection options from its variables and the environment's."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        login = self.get_option('login')
        variables = variables or {}
        prefixes = []
        for term in terms:
            prefixes.extend(term if isinstance(term, (list, tuple)) else [term])
        if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
            raise AnsibleError('dsr.ops.pg_connection: give the role prefix as a non-empty string, such as backup; got %r' % (terms,))
        options = {}
        for option, suffix, fallback in _OPTIONS:
            names = ['%s_pg_%s' % (prefix, suffix) for prefix in prefixes] + [fallback % login if '%s' in fallback else fallback]
            value = self._first(variables, *names)
            if value is not None:
                options[option] = value
        if self.get_option('database'):
            names = ['%s_pg_database' % prefix for prefix in prefixes] + ['dsr_pg_database']
            options['login_db'] = self._first(variables, *names) or 'dsr_db'
        return [options]

    def _first(self, variables, *names):
        """The first of ``names`` that is defined and not empty, templated; None if none is."""
        for name in names:
            if name in variables:
                value = self._templar.template(variables[name])
                if value is not None and value != '':
                    return value
        return None
