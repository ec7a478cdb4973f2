# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.pg_connection: one rule for every role's PostgreSQL connection."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar


def resolve(variables, *terms, **options):
    # through the plugin loader, as Ansible loads it: its documented options are its configuration
    lookup = lookup_loader.get('dsr.ops.pg_connection', loader=DataLoader(), templar=Templar(loader=DataLoader(), variables=variables))
    return lookup.run(list(terms), variables=variables, **options)


ENVIRONMENT = {
    'dsr_pg_host': 'pg.prod', 'dsr_pg_port': 5432, 'dsr_pg_ssl_mode': 'verify-full', 'dsr_pg_ca_cert': '/etc/dsr/ca.pem',
    'dsr_pg_admin_user': 'dsr_maintenance', 'dsr_pg_admin_password': 'admin-secret',
    'dsr_pg_monitor_user': 'dsr_monitor', 'dsr_pg_database': 'dsr_db',
}


def test_the_environment_reaches_every_role_with_its_own_login():
    admin = resolve(ENVIRONMENT, 'restore')[0]
    assert admin == {'login_host': 'pg.prod', 'port': 5432, 'ssl_mode': 'verify-full', 'ca_cert': '/etc/dsr/ca.pem',
                     'login_user': 'dsr_maintenance', 'login_password': 'admin-secret'}
    monitor = resolve(ENVIRONMENT, 'db_health', login='monitor', database=True)[0]
    assert monitor['login_user'] == 'dsr_monitor' and 'login_password' not in monitor
    assert monitor['ssl_mode'] == 'verify-full' and monitor['login_db'] == 'dsr_db'


def test_role_variables_win_then_fallback_roles_then_the_environment():
    variables = dict(ENVIRONMENT, restore_pg_port=6432, disaster_recovery_pg_host='pg.dr', disaster_recovery_pg_ssl_mode='require')
    options = resolve(variables, ['restore', 'disaster_recovery'])[0]
    assert options['port'] == 6432 and options['login_host'] == 'pg.dr' and options['ssl_mode'] == 'require'
    assert options['ca_cert'] == '/etc/dsr/ca.pem'


def test_unset_options_are_absent_so_libpq_fallbacks_apply():
    assert resolve({}, 'backup', login='backup')[0] == {}
    assert resolve({'backup_pg_host': ''}, 'backup')[0] == {}
    assert resolve({}, 'db_maintenance', database=True)[0] == {'login_db': 'dsr_db'}


def test_a_missing_prefix_is_a_clear_error():
    with pytest.raises(AnsibleError, match='role prefix'):
        resolve({}, '')
