# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""pg_access_review's decisions on canned catalog rows, and its baseline parser on hostile files; the server is in tests/functional.

The baseline (module_utils/_postgres/baseline.py) is tested here too: it exists for the access review only.
"""

from __future__ import annotations

import datetime
import os
import stat

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._postgres import access
from ansible_collections.dsr.ops.plugins.module_utils._postgres import baseline as bl
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresConnectionError

NOW = datetime.datetime(2026, 11, 27, 6, 0, tzinfo=datetime.timezone.utc)


def role(name, **kw):
    row = {'name': name, 'predefined': name.startswith('pg_'), 'bootstrap': False, 'superuser': False, 'inherit': True, 'createrole': False,
           'createdb': False, 'login': True, 'replication': False, 'bypassrls': False, 'connection_limit': -1, 'no_expiry': False,
           'expired': False, 'valid_until': '2027-01-01T00:00:00Z'}
    row.update(kw)
    return row


def edge(group, member, admin=False, inherit=True, set_option=True):
    return {'role': group, 'member': member, 'admin': admin, 'inherit_option': inherit, 'set_option': set_option, 'grantor': 'postgres'}


def rule(line, kind, method, address=None, netmask=None, users=('all',), error=None, **kw):
    row = {'rule_number': None, 'file_name': None, 'line_number': line, 'type': kind, 'database': ['all'], 'user_name': list(users),
           'address': address, 'netmask': netmask, 'auth_method': method, 'options': None, 'error': error}
    row.update(kw)
    return row


def ids(findings):
    return {f['id']: f['severity'] for f in findings}


def roles_of(*rows):
    return {row['name']: row for row in rows}


# -- severity mapping and accepted findings ----------------------------------

def test_severities_map_to_the_shared_statuses():
    assert access.SEVERITY_STATUS == {'critical': 'critical', 'warning': 'warning', 'info': 'ok'}


def test_accepted_findings_stay_marked_and_unused_entries_are_listed():
    findings = [access.make_finding('roles', 'superuser', 'postgres', 'warning', 'm', 'role', name='postgres'),
                access.make_finding('roles', 'createdb', 'app', 'info', 'm', 'role', name='app'),
                access.make_finding('memberships', 'member', 'pg_read_server_files:etl', 'critical', 'm', 'membership')]
    accepted = access.parse_accepted(['superuser:postgres', {'id': 'member:pg_read_server_files:*', 'reason': 'SEC-12'}, 'superuser:gone'])
    unused = access.finalize(findings, accepted)
    assert unused == ['superuser:gone']
    by_id = {f['id']: f for f in findings}
    assert by_id['superuser:postgres']['accepted'] is True and by_id['superuser:postgres']['accepted_reason'] is None
    assert by_id['member:pg_read_server_files:etl']['accepted_reason'] == 'SEC-12'
    assert by_id['createdb:app']['status'] == 'ok' and by_id['member:pg_read_server_files:etl']['status'] == 'critical'
    # open findings first
    assert [f['id'] for f in findings] == ['createdb:app', 'member:pg_read_server_files:etl', 'superuser:postgres']
    assert access.counts(findings) == {'critical': 0, 'warning': 0, 'info': 1, 'accepted': 2}
    check = access.build_check('memberships', [f for f in findings if f['category'] == 'memberships']).as_dict()
    assert check['status'] == 'ok' and check['accepted'] == 1


@pytest.mark.parametrize('value, expect', [
    ([7], 'accepted[0] must be a finding id'),
    ([{'reason': 'x'}], 'accepted[0] needs an id'),
    ([{'id': ' '}], 'accepted[0] needs an id'),
    (['ok', {'id': 'a', 'why': 'b'}], 'accepted[1] has unknown keys why'),
    ([{'id': 'a', 'reason': 3}], 'accepted[0].reason must be a string'),
])
def test_bad_accepted_entries_are_named(value, expect):
    with pytest.raises(ValueError, match=expect.replace('[', r'\[').replace(']', r'\]')):
        access.parse_accepted(value)


def test_table_patterns_must_be_schema_qualified():
    assert access.table_pattern_problems(['registry.households', 'registry.*']) == []
    problems = access.table_pattern_problems(['households', '.x', 'a.' + 'b' * 64])
    assert len(problems) == 3 and problems[0].startswith('personal_data_tables[0]') and 'schema-qualified' in problems[0]
    assert 'longer than 63 bytes' in problems[2]


def test_build_check_never_says_ok_for_what_it_could_not_see():
    hidden = [{'check': 'hba', 'what': 'pg_hba.conf rules', 'reason': 'r', 'fix': 'GRANT ...', 'grant': 'GRANT ...'}]
    assert access.build_check('hba', [], hidden).status == 'skipped'
    warn = access.make_finding('settings', 'setting', 'log_connections', 'warning', 'm', 'setting')
    access.finalize([warn], [])
    check = access.build_check('settings', [warn], hidden)
    assert check.status == 'warning' and 'not visible: pg_hba.conf rules' in check.msg
    assert access.build_check('roles', [], unknown='query failed: boom').status == 'unknown'
    assert access.build_check('roles', []).as_dict()['msg'] == 'no findings'


# -- roles, memberships, passwords --------------------------------------------

@pytest.mark.parametrize('version, severity', [(130000, 'critical'), (150018, 'critical'), (160000, 'warning'), (170002, 'warning')])
def test_createrole_is_critical_before_16(version, severity):
    findings = access.role_findings(roles_of(role('mgr', createrole=True)), version)
    assert ids(findings)['createrole:mgr'] == severity


def test_role_attributes_and_password_expiry():
    roles = roles_of(role('postgres', superuser=True, bootstrap=True, replication=True, createrole=True, no_expiry=True),
                     role('repl', replication=True), role('rls', bypassrls=True), role('db', createdb=True),
                     role('old', expired=True, valid_until='2001-01-01T00:00:00Z'), role('forever', no_expiry=True),
                     role('group', login=False, no_expiry=True), role('cert', no_expiry=True, has_password=False),
                     role('pg_monitor', login=False))
    found = ids(access.role_findings(roles, 150000))
    assert found == {'superuser:postgres': 'warning', 'no_password_expiry:postgres': 'warning', 'replication:repl': 'warning',
                     'bypassrls:rls': 'warning', 'createdb:db': 'info', 'password_expired:old': 'warning', 'no_password_expiry:forever': 'warning'}


def test_a_member_that_can_set_role_to_a_superuser_is_critical():
    roles = roles_of(role('sudo', superuser=True, login=False), role('alice'), role('admins', login=False), role('bob'))
    graph = access.RoleGraph(roles, [edge('sudo', 'admins'), edge('admins', 'alice'), edge('sudo', 'bob', set_option=False, inherit=True)], 160000)
    found = {f['id']: f for f in access.role_findings(roles, 160000, graph)}
    assert found['superuser_member:sudo:alice']['severity'] == 'critical'
    assert found['superuser_member:sudo:alice']['object']['via'] == ['admins']
    # without SET (PostgreSQL 16), inheriting from a superuser role gives nothing: SUPERUSER is not inherited
    assert 'superuser_member:sudo:bob' not in found
    assert 'superuser_member:sudo:admins' in found


def test_direct_and_indirect_members_of_predefined_roles():
    roles = roles_of(role('pg_read_all_data', login=False), role('pg_execute_server_program', login=False), role('pg_monitor', login=False),
                     role('pg_read_all_stats', login=False), role('readers', login=False), role('ann'), role('etl'), role('mon'),
                     role('noinherit', inherit=False))
    memberships = [edge('pg_read_all_data', 'readers'), edge('readers', 'ann'), edge('readers', 'noinherit'),
                   edge('pg_execute_server_program', 'etl'), edge('pg_monitor', 'mon'), edge('pg_read_all_stats', 'pg_monitor')]
    graph = access.RoleGraph(roles, memberships, 150000)
    found = {f['id']: f for f in access.membership_findings(roles, graph, 150000)}
    assert ids(found.values()) == {'member:pg_read_all_data:readers': 'warning', 'member:pg_read_all_data:ann': 'warning',
                                   'member:pg_read_all_data:noinherit': 'warning', 'member:pg_execute_server_program:etl': 'critical',
                                   'member:pg_monitor:mon': 'info'}
    ann = found['member:pg_read_all_data:ann']['object']
    assert ann == {'role': 'pg_read_all_data', 'member': 'ann', 'direct': False, 'via': ['readers'], 'inherits': True, 'can_set_role': True}
    # before 16 a NOINHERIT member does not inherit, but can SET ROLE
    assert found['member:pg_read_all_data:noinherit']['object']['inherits'] is False
    assert 'can SET ROLE' in found['member:pg_read_all_data:noinherit']['message']
    # predefined roles that do not exist yet (pg_read_all_data is 14+) are not looked for
    assert not [i for i in ids(access.membership_findings(roles, graph, 130000)) if 'pg_read_all_data' in i]


def test_pg16_grant_options_decide_inheritance():
    roles = roles_of(role('pg_read_all_data', login=False), role('a'), role('b'))
    graph = access.RoleGraph(roles, [edge('pg_read_all_data', 'a', inherit=False, set_option=False),
                                     edge('pg_read_all_data', 'b', inherit=True, set_option=False)], 160000)
    members = graph.members('pg_read_all_data')
    assert members['a'] == {'direct': True, 'via': [], 'inherits': False, 'can_set_role': False}
    assert members['b']['inherits'] is True and members['b']['can_set_role'] is False


@pytest.mark.parametrize('rules, severity', [
    ([rule(1, 'host', 'trust', '10.0.0.0', '255.0.0.0')], 'critical'),
    ([rule(1, 'local', 'trust')], 'warning'),
    ([rule(1, 'host', 'trust', '10.0.0.0', '255.0.0.0', users=('other',))], 'info'),
    ([rule(1, 'host', 'trust', '10.0.0.0', '255.0.0.0', users=('+staff',))], 'critical'),
    ([rule(1, 'host', 'trust', '10.0.0.0', '255.0.0.0', users=('/^svc_',))], 'critical'),
    ([rule(1, 'host', 'scram-sha-256', '10.0.0.0', '255.0.0.0')], 'info'),
    (None, 'info'),
])
def test_a_login_role_without_a_password_on_a_trust_rule(rules, severity):
    roles = roles_of(role('svc_batch'), role('staff', login=False))
    graph = access.RoleGraph(roles, [edge('staff', 'svc_batch')], 150000)
    passwords = {'svc_batch': {'name': 'svc_batch', 'no_password': True, 'md5': False}}
    found = {f['id']: f for f in access.password_findings(roles, passwords, rules, graph)}
    assert found['no_password:svc_batch']['severity'] == severity
    if rules is None:
        assert 'not visible' in found['no_password:svc_batch']['message']


def test_md5_hashes_are_found():
    roles = roles_of(role('legacy'), role('group', login=False))
    passwords = {'legacy': {'name': 'legacy', 'no_password': False, 'md5': True}, 'group': {'name': 'group', 'no_password': True, 'md5': False}}
    assert ids(access.password_findings(roles, passwords, [], None)) == {'md5_password:legacy': 'warning'}


# -- hba, settings, schemas, personal data ------------------------------------

def test_hba_rules():
    rules = [
        rule(1, 'local', 'trust'),
        rule(2, 'host', 'trust', '127.0.0.1', '255.255.255.255'),
        rule(3, 'host', 'password', '10.0.0.0', '255.0.0.0'),
        rule(4, 'hostssl', 'password', '10.0.0.0', '255.0.0.0'),
        rule(5, 'host', 'md5', '0.0.0.0', '0.0.0.0'),
        rule(6, 'host', 'scram-sha-256', '::', '::'),
        rule(7, 'hostssl', 'scram-sha-256', 'all'),
        rule(8, 'host', 'reject', '0.0.0.0', '0.0.0.0'),
        rule(9, 'host', 'ident', '10.0.0.0', '255.0.0.0'),
        rule(10, 'local', 'peer'),
        rule(11, None, None, error='invalid authentication method "trusted"', database=None, user_name=None),
        rule(12, 'host', 'trust', '10.0.0.0', '255.0.0.0', rule_number=9, file_name='/etc/postgresql/16/main/hba.d/extra.conf'),
    ]
    assert ids(access.hba_findings(rules)) == {
        'hba_trust:pg_hba.conf:1': 'warning',
        'hba_trust:pg_hba.conf:2': 'critical',
        'hba_password:pg_hba.conf:3': 'critical',
        'hba_password:pg_hba.conf:4': 'warning',
        'hba_md5:pg_hba.conf:5': 'warning',
        'hba_any_address:pg_hba.conf:5': 'warning',
        'hba_any_address:pg_hba.conf:6': 'warning',
        'hba_any_address:pg_hba.conf:7': 'warning',
        'hba_ident:pg_hba.conf:9': 'warning',
        'hba_error:pg_hba.conf:11': 'critical',
        'hba_trust:extra.conf:12': 'critical',
    }


@pytest.mark.parametrize('settings, expected', [
    ({'ssl': 'off', 'listen_addresses': '*'}, {'setting:ssl': 'critical'}),
    ({'ssl': 'off', 'listen_addresses': 'localhost, ::1'}, {'setting:ssl': 'warning'}),
    ({'ssl': 'off', 'listen_addresses': ''}, {'setting:ssl': 'info'}),
    ({'ssl': 'off'}, {'setting:ssl': 'critical'}),
    ({'ssl': 'on', 'ssl_min_protocol_version': 'TLSv1.1'}, {'setting:ssl_min_protocol_version': 'warning'}),
    ({'ssl': 'on', 'ssl_min_protocol_version': 'TLSv1.2'}, {}),
    ({'password_encryption': 'md5'}, {'setting:password_encryption': 'warning'}),
    ({'password_encryption': 'scram-sha-256'}, {}),
    ({'log_connections': 'off', 'log_disconnections': 'off'}, {'setting:log_connections': 'warning', 'setting:log_disconnections': 'info'}),
    ({'log_connections': 'on', 'log_disconnections': 'on', 'ssl': 'on'}, {}),
])
def test_settings(settings, expected):
    assert ids(access.settings_findings(settings)) == expected


def test_public_create_is_critical_where_personal_data_lives():
    schemas = [{'schema': 'public', 'owner': 'pg_database_owner', 'public_create': True},
               {'schema': 'registry', 'owner': 'dsr_app', 'public_create': True},
               {'schema': 'app', 'owner': 'dsr_app', 'public_create': False}]
    assert ids(access.schema_findings(schemas, {'registry'}, 'dsr_db')) == {'public_create:public': 'warning', 'public_create:registry': 'critical'}


def test_personal_data_tables_by_name_and_pattern():
    relations = [{'oid': i, 'schema': s, 'name': n, 'kind': 'r', 'owner': 'dsr_app'}
                 for i, (s, n) in enumerate([('registry', 'households'), ('registry', 'payments'), ('public', 'households')])]
    matched, unmatched = access.match_tables(relations, ['registry.*', 'registry.households', 'registry.grievances', 'audit.*'])
    assert ['%s.%s' % (r['schema'], r['name']) for r in matched] == ['registry.households', 'registry.payments']
    assert unmatched == ['registry.grievances', 'audit.*']
    tables = {'registry.households': {'owner': 'dsr_app', 'grants': [
        {'grantee': 'PUBLIC', 'privilege': 'SELECT', 'grant_option': False},
        {'grantee': 'PUBLIC', 'privilege': 'SELECT', 'grant_option': False, 'column': 'philsys_number'},
        {'grantee': 'report', 'privilege': 'SELECT', 'grant_option': True},
        {'grantee': 'app', 'privilege': 'INSERT', 'grant_option': False}]}}
    found = {f['id']: f for f in access.personal_data_findings(tables, unmatched, 'dsr_db')}
    assert ids(found.values()) == {'public_grant:registry.households:SELECT': 'critical',
                                   'public_grant:registry.households(philsys_number):SELECT': 'critical',
                                   'grant_option:registry.households:report:SELECT': 'warning',
                                   'table_missing:registry.grievances': 'warning', 'table_missing:audit.*': 'warning'}
    assert 'matches no table' in found['table_missing:audit.*']['message']
    assert 'does not exist' in found['table_missing:registry.grievances']['message']


def test_sql_follows_the_server_version():
    assert 'a.inherit_option, a.set_option' in access.memberships_sql(160000)
    assert 'NULL::boolean AS inherit_option' in access.memberships_sql(150018)
    assert 'rule_number, file_name' in access.hba_sql(170000) and 'NULL::int AS rule_number' in access.hba_sql(130000)


# -- the baseline file ---------------------------------------------------------

ROLES = {'app': {'login': True, 'superuser': False, 'createrole': False, 'createdb': False, 'replication': False, 'bypassrls': False},
         'postgres': {'login': True, 'superuser': True, 'createrole': True, 'createdb': True, 'replication': True, 'bypassrls': True}}
MEMBERSHIPS = {('pg_monitor', 'mon', False)}
TABLES = {'registry.households': {'owner': 'app', 'grants': [{'grantee': 'report', 'privilege': 'SELECT', 'grant_option': False},
                                                             {'grantee': 'report', 'privilege': 'SELECT', 'grant_option': False, 'column': 'a'}]}}


def good_document(**changes):
    doc = bl.document('dsr_db', ['registry.*'], ROLES, MEMBERSHIPS, TABLES, '2026-11-01T00:00:00Z')
    doc.update(changes)
    return doc


def test_a_rendered_baseline_parses_back_to_the_same_content():
    text = bl.render(good_document())
    parsed = bl.parse(bl.loads(text, 'b.yml'), 'b.yml', text)
    assert parsed.content() == bl.inventory_content('dsr_db', ['registry.*'], ROLES, MEMBERSHIPS, TABLES)
    assert parsed.written_at == '2026-11-01T00:00:00Z' and parsed.text == text
    # a role named like a YAML boolean or number stays a string
    odd = dict(ROLES, **{'yes': ROLES['app'], '123': ROLES['app'], 'null': ROLES['app']})
    text = bl.render(bl.document('dsr_db', [], odd, set(), {}, None))
    assert set(bl.parse(bl.loads(text, 'b.yml'), 'b.yml').roles) == set(odd)


def _with(path, value):
    doc = good_document()
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize('path, value, expect', [
    (('version',), 2, 'version is 2'),
    (('database',), '', 'database must be a PostgreSQL name'),
    (('roles',), [], 'roles must be a mapping, got list'),
    (('roles', 'app', 'superuser'), 'yes', "roles.app.superuser must be true or false, got 'yes'"),
    (('roles', 'app', 'superpower'), True, 'roles.app has unknown keys superpower'),
    (('roles', 'app'), None, 'roles.app must be a mapping, got null'),
    (('roles', 'x' * 64), ROLES['app'], 'a key of roles'),
    (('memberships',), {}, 'memberships must be a list'),
    (('memberships', 0, 'member'), 7, 'memberships[0].member must be a PostgreSQL name'),
    (('memberships', 0, 'admin'), KeyError, 'memberships[0] lacks admin'),
    (('tables', 'households'), {'owner': 'a', 'grants': []}, "a key of tables ('households') must be schema-qualified"),
    (('tables', 'registry.households', 'grants', 0, 'privilege'), 'READ', 'tables.registry.households.grants[0].privilege must be one of'),
    (('tables', 'registry.households', 'grants', 1, 'column'), 5, 'tables.registry.households.grants[1].column'),
    (('tables', 'registry.households', 'grants'), 'all', 'tables.registry.households.grants must be a list'),
    (('tables',), KeyError, 'the top level lacks tables'),
    (('extra',), 1, 'the top level has unknown keys extra'),
    (('written_at',), 5, 'written_at must be a time stamp'),
    (('personal_data_tables',), ['households'], 'personal_data_tables[0] must be schema-qualified'),
])
def test_a_malformed_baseline_names_the_key(path, value, expect):
    with pytest.raises(bl.BaselineError) as caught:
        bl.parse(_with(path, value), '/srv/b.yml')
    message = str(caught.value)
    assert message.startswith('baseline /srv/b.yml is malformed: ') and expect in message, message
    assert caught.value.replaceable is True


@pytest.mark.parametrize('data', [None, [], 'text', {'format': 'something.else'}, {'roles': {}}])
def test_a_file_that_is_not_a_baseline_is_never_replaceable(data):
    with pytest.raises(bl.BaselineError) as caught:
        bl.parse(data, '/etc/hosts')
    assert 'is not a pg_access_review baseline' in str(caught.value) and caught.value.replaceable is False


@pytest.mark.parametrize('text, expect', [
    ('a: [1\n', 'is not valid YAML at line'),
    ('a: &x [1]\nb: *x\n', 'anchors and aliases are not allowed'),
    ('a: 1\na: 2\n', "duplicate key 'a'"),
    ('a: !!python/object/apply:os.system [true]\n', 'is not valid YAML'),
])
def test_the_loader_refuses_what_a_baseline_never_holds(text, expect):
    with pytest.raises(bl.BaselineError, match=expect):
        bl.loads(text, 'b.yml')


def test_load_caps_the_size_and_wants_a_regular_file(tmp_path):
    assert bl.load(str(tmp_path / 'absent.yml')) is None
    big = tmp_path / 'big.yml'
    big.write_bytes(b'#' * (bl.MAX_BASELINE_BYTES + 1))
    with pytest.raises(bl.BaselineError, match='larger than'):
        bl.load(str(big))
    with pytest.raises(bl.BaselineError, match='not a regular file'):
        bl.load(str(tmp_path))
    binary = tmp_path / 'bin.yml'
    binary.write_bytes(b'\x00\xff')
    with pytest.raises(bl.BaselineError, match='not UTF-8'):
        bl.load(str(binary))


def test_write_is_atomic_private_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / 'b.yml'
    path.write_text('old')
    os.chmod(path, 0o644)
    bl.write(str(path), 'new\n')
    assert path.read_text() == 'new\n' and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ['b.yml']
    with pytest.raises(bl.BaselineError, match='does not exist'):
        bl.write(str(tmp_path / 'missing' / 'b.yml'), 'x')


def _baseline(**changes):
    doc = good_document(**changes)
    return bl.parse(doc, 'b.yml')


def _compare(baseline, roles=None, memberships=None, tables=None, version=150000):
    return ids(bl.compare(baseline, ROLES if roles is None else roles, MEMBERSHIPS if memberships is None else memberships,
                          TABLES if tables is None else tables, version))


def test_no_change_is_no_drift():
    assert _compare(_baseline()) == {}


def test_added_access_is_more_severe_than_removed_access():
    roles = dict(ROLES, root={'login': True, 'superuser': True, 'createrole': False, 'createdb': False, 'replication': False, 'bypassrls': False},
                 newbie=dict(ROLES['app']))
    roles['app'] = dict(ROLES['app'], createrole=True, createdb=True)
    drift = _compare(_baseline(), roles=roles)
    assert drift == {'drift:role_added:root': 'critical', 'drift:role_added:newbie': 'warning',
                     'drift:attribute_added:app:createrole': 'critical', 'drift:attribute_added:app:createdb': 'info'}
    assert _compare(_baseline(), roles=roles, version=160000)['drift:attribute_added:app:createrole'] == 'warning'
    removed = {'postgres': dict(ROLES['postgres'], bypassrls=False)}
    assert _compare(_baseline(), roles=removed) == {'drift:role_removed:app': 'info', 'drift:attribute_removed:postgres:bypassrls': 'info'}


def test_membership_drift():
    memberships = {('pg_monitor', 'mon', True), ('pg_execute_server_program', 'etl', False), ('readers', 'ann', False)}
    assert _compare(_baseline(), memberships=memberships) == {
        'drift:membership_added:pg_execute_server_program:etl': 'critical',
        'drift:membership_added:readers:ann': 'warning',
        'drift:admin_option_added:pg_monitor:mon': 'warning'}
    assert _compare(_baseline(), memberships=set()) == {'drift:membership_removed:pg_monitor:mon': 'info'}
    # a membership in a superuser role is a new superuser
    assert _compare(_baseline(), memberships=MEMBERSHIPS | {('postgres', 'ann', False)}) == {'drift:membership_added:postgres:ann': 'critical'}


def test_grant_and_owner_drift():
    tables = {'registry.households': {'owner': 'report', 'grants': [
        {'grantee': 'report', 'privilege': 'SELECT', 'grant_option': True},
        {'grantee': 'PUBLIC', 'privilege': 'SELECT', 'grant_option': False, 'column': 'a'},
        {'grantee': 'app', 'privilege': 'UPDATE', 'grant_option': False}]},
        'registry.payments': {'owner': 'app', 'grants': []}}
    assert _compare(_baseline(), tables=tables) == {
        'drift:owner_changed:registry.households': 'warning',
        'drift:grant_option_added:registry.households:report:SELECT': 'warning',
        'drift:grant_added:registry.households(a):PUBLIC:SELECT': 'critical',
        'drift:grant_removed:registry.households(a):report:SELECT': 'info',
        'drift:grant_added:registry.households:app:UPDATE': 'warning',
        'drift:table_added:registry.payments': 'info'}
    assert _compare(_baseline(), tables={}) == {'drift:table_removed:registry.households': 'info'}


# -- the whole review over a canned connection ---------------------------------

class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.conn.executed.append(sql)
        for fragment, rows in self.conn.answers.items():
            if fragment in sql:
                if isinstance(rows, Exception):
                    raise rows
                self.rows = rows
                return
        self.rows = []

    def fetchone(self):
        return self.rows[0]

    def fetchall(self):
        return self.rows


class FakeInfo:
    host, port, user, dbname, server_version = '10.0.0.1', 5432, 'postgres', 'dsr_db', 150018


class FakeConn:
    info = FakeInfo()

    def __init__(self, answers):
        self.answers = answers
        self.executed = []
        self.closed = False
        self.rolled_back = False

    def cursor(self, cursor_factory=None):
        return FakeCursor(self)

    def rollback(self):
        self.rolled_back = True

    def close(self):
        self.closed = True


class FakeConnector:
    def __init__(self, conn=None, error=None):
        self.conn, self.error = conn, error

    def connect(self, autocommit=True):
        assert autocommit is False, 'the review runs in one transaction'
        if self.error:
            raise self.error
        return self.conn, 0.01


def server(**kw):
    row = {'login_role': 'postgres', 'database': 'dsr_db', 'is_superuser': True, 'server_version_num': 150018, 'can_read_all_settings': True,
           'can_read_authid': True, 'can_read_hba': True}
    row.update(kw)
    return row


def world(**overrides):
    data = {
        'AS can_read_hba': [server()],
        'FROM pg_catalog.pg_roles r ORDER BY': [role('postgres', superuser=True, bootstrap=True, no_expiry=True, createrole=True, createdb=True,
                                                     replication=True, bypassrls=True), role('app'),
                                                role('pg_monitor', login=False), role('mon')],
        'FROM pg_catalog.pg_auth_members': [edge('pg_monitor', 'mon')],
        'FROM pg_catalog.pg_authid': [{'name': 'postgres', 'no_password': False, 'md5': False}, {'name': 'app', 'no_password': False, 'md5': True},
                                      {'name': 'mon', 'no_password': False, 'md5': False}],
        'FROM pg_catalog.pg_hba_file_rules': [rule(1, 'local', 'trust'), rule(2, 'host', 'scram-sha-256', '10.0.0.0', '255.0.0.0')],
        'FROM pg_catalog.pg_settings': [{'name': 'ssl', 'setting': 'on'}, {'name': 'ssl_min_protocol_version', 'setting': 'TLSv1.2'},
                                        {'name': 'password_encryption', 'setting': 'scram-sha-256'}, {'name': 'log_connections', 'setting': 'on'},
                                        {'name': 'log_disconnections', 'setting': 'on'}, {'name': 'listen_addresses', 'setting': '*'}],
        'FROM pg_catalog.pg_namespace n\n': [{'schema': 'registry', 'owner': 'app', 'public_create': False}],
        'relkind IN': [{'oid': 1, 'schema': 'registry', 'name': 'households', 'kind': 'r', 'owner': 'app'}],
        'aclexplode(coalesce(c.relacl': [{'oid': 1, 'column_name': None, 'grantee': 'app', 'privilege': 'SELECT', 'grant_option': True, 'owner_grant': True},
                                         {'oid': 1, 'column_name': None, 'grantee': 'mon', 'privilege': 'SELECT', 'grant_option': False,
                                          'owner_grant': False}],
    }
    data.update(overrides)
    return data


def review(options=None, check_mode=False, diff=False, **overrides):
    conn = FakeConn(world(**overrides))
    options = dict({'personal_data_tables': ['registry.households'], 'accepted': ['superuser:postgres', 'no_password_expiry:postgres']},
                   **(options or {}))
    result = access.AccessReview(options, now=lambda: NOW, check_mode=check_mode, diff=diff).run(FakeConnector(conn))
    assert conn.closed and conn.rolled_back
    return result, conn


def test_a_clean_server_reviews_ok_in_a_read_only_transaction():
    result, conn = review()
    assert conn.executed[0] == 'SET TRANSACTION READ ONLY' and 'statement_timeout' in conn.executed[1]
    assert not [sql for sql in conn.executed if 'rolpassword,' in sql or 'SELECT rolpassword' in sql], 'the hash itself is never selected'
    assert ids(result['findings']) == {'md5_password:app': 'warning', 'hba_trust:pg_hba.conf:1': 'warning', 'member:pg_monitor:mon': 'info',
                                       'superuser:postgres': 'warning', 'no_password_expiry:postgres': 'warning'}
    assert result['status'] == 'warning' and result['changed'] is False and result['not_visible'] == []
    assert result['inventory'] == {
        'roles': {'app': dict(ROLES['app']), 'mon': dict(ROLES['app']), 'postgres': dict(ROLES['postgres'])},
        'memberships': [{'role': 'pg_monitor', 'member': 'mon', 'admin': False}],
        'tables': {'registry.households': {'owner': 'app', 'grants': [{'grantee': 'mon', 'privilege': 'SELECT', 'grant_option': False}]}}}
    assert set(result['checks']) == set(access.CHECKS)
    assert result['review']['reviewed_at'] == '2026-11-27T06:00:00Z'


def test_a_low_privilege_login_is_told_what_it_cannot_see():
    result, conn = review(**{'AS can_read_hba': [server(login_role='dsr monitor', is_superuser=False, can_read_authid=False, can_read_hba=False,
                                                        can_read_all_settings=False)],
                             'FROM pg_catalog.pg_settings': [{'name': 'ssl', 'setting': 'on'}]})
    assert not [sql for sql in conn.executed if 'pg_authid\n' in sql or 'FROM pg_catalog.pg_hba_file_rules' in sql]
    hidden = {n['check']: n for n in result['not_visible']}
    assert set(hidden) == {'passwords', 'hba', 'settings'}
    assert hidden['hba']['grant'].startswith('GRANT SELECT ON pg_catalog.pg_hba_file_rules TO "dsr monitor";')
    assert 'log_connections' in hidden['settings']['what']
    for name in ('passwords', 'hba', 'settings'):
        assert result['checks'][name]['status'] == 'skipped', result['checks'][name]
    assert 'passwords=skipped' in result['summary']


def test_a_failing_query_makes_only_its_check_unknown():
    import psycopg2  # pylint: disable=import-outside-toplevel
    result, conn = review(**{'FROM pg_catalog.pg_namespace n\n': psycopg2.OperationalError('canceling statement due to statement timeout')})
    assert result['checks']['schema_privileges']['status'] == 'unknown'
    assert 'statement timeout' in result['checks']['schema_privileges']['msg']
    assert result['checks']['roles']['status'] != 'unknown'
    assert 'ROLLBACK TO SAVEPOINT dsr_access_review' in conn.executed


def test_no_personal_data_table_found_is_unknown():
    result, dummy = review(**{'relkind IN': []})
    assert result['checks']['personal_data']['status'] == 'unknown' and result['status'] == 'unknown'
    assert 'table_missing:registry.households' in ids(result['findings'])


def test_unreachable_is_unknown_everywhere():
    error = PostgresConnectionError('unable to connect to PostgreSQL: connection refused')
    result = access.AccessReview({'baseline': '/x/b.yml', 'baseline_mode': 'write'}).run(FakeConnector(error=error))
    assert result['status'] == 'unknown' and result['connection'] is None and result['inventory'] is None
    assert result['checks']['connection'] == {'status': 'unknown', 'msg': 'unable to connect to PostgreSQL: connection refused'}
    assert {c['status'] for name, c in result['checks'].items() if name != 'connection'} == {'skipped'}
    assert result['baseline']['state'] == 'error' and result['changed'] is False


def test_baseline_write_check_mode_then_write_then_unchanged(tmp_path):
    path = str(tmp_path / 'b.yml')
    planned, dummy = review({'baseline': path, 'baseline_mode': 'write'}, check_mode=True, diff=True)
    assert planned['changed'] is True and planned['baseline']['state'] == 'would_write' and not os.path.exists(path)
    assert planned['diff']['before'] == '' and 'registry.households' in planned['diff']['after']
    written, dummy = review({'baseline': path, 'baseline_mode': 'write'})
    assert written['changed'] is True and written['baseline']['written'] is True and 'diff' not in written
    again, dummy = review({'baseline': path, 'baseline_mode': 'write'}, diff=True)
    assert again['changed'] is False and again['baseline']['state'] == 'unchanged' and 'diff' not in again
    compared, dummy = review({'baseline': path})
    assert compared['baseline']['state'] == 'compared' and compared['checks']['baseline']['status'] == 'ok'
    assert 'no change' in compared['checks']['baseline']['msg']
    drifted, dummy = review({'baseline': path}, **{'FROM pg_catalog.pg_auth_members': [edge('pg_monitor', 'mon'), edge('pg_write_server_files', 'app')]})
    assert drifted['checks']['baseline']['status'] == 'critical'
    assert drifted['baseline']['changes'] == ['drift:membership_added:pg_write_server_files:app']


def test_compare_without_a_baseline_or_with_another_database_is_unknown(tmp_path):
    path = tmp_path / 'b.yml'
    missing, dummy = review({'baseline': str(path)})
    assert missing['checks']['baseline']['status'] == 'unknown' and missing['baseline']['state'] == 'missing'
    path.write_text(bl.render(bl.document('other_db', [], {}, set(), {}, None)))
    other, dummy = review({'baseline': str(path)})
    assert other['checks']['baseline']['status'] == 'unknown' and 'written for database other_db' in other['checks']['baseline']['msg']


def test_write_replaces_a_malformed_baseline_with_a_warning_but_refuses_a_foreign_file(tmp_path):
    path = tmp_path / 'b.yml'
    path.write_text('format: %s\nversion: 1\ndatabase: dsr_db\nroles: 5\nmemberships: []\ntables: {}\n' % bl.FORMAT)
    replaced, dummy = review({'baseline': str(path), 'baseline_mode': 'write'})
    assert replaced['changed'] is True and replaced['baseline']['previous'] == 'malformed'
    assert 'roles must be a mapping' in replaced['warnings'][0]
    path.write_text('[1, 2]\n')
    refused, dummy = review({'baseline': str(path), 'baseline_mode': 'write'})
    assert refused['baseline']['state'] == 'error' and refused['changed'] is False
    assert path.read_text() == '[1, 2]\n'
