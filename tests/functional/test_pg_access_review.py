# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""pg_access_review against the harness's real PostgreSQL: each risk made for real, then found.

The module-scoped ``review_world`` creates, in a database of its own, the DSR's
personal-data tables and roles named ``dsr_review_t_*`` with each risky
attribute, an MD5 password, an expired one, memberships in predefined roles
(direct and through a group), grants on the tables; the finalizer drops them
all (the harness is shared by the whole suite). The harness's pg_hba.conf is
read, never rewritten: the hba findings are checked against the file itself.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat

import pytest
import yaml

from conftest import connect

PREFIX = 'dsr_review_t_'
DATABASE = PREFIX + 'db'
TABLES = ('households', 'household_members', 'program_enrollments', 'payments', 'grievances')

# role -> attributes (a password is added unless the attributes say NOPASSWORD)
ROLES = {
    'super': 'LOGIN SUPERUSER',
    'sudo': 'NOLOGIN SUPERUSER',
    'creator': 'LOGIN CREATEROLE CREATEDB',
    'repl': 'LOGIN REPLICATION',
    'rls': 'LOGIN BYPASSRLS',
    'expired': "LOGIN VALID UNTIL '2001-01-01 00:00:00+00'",
    'future': "LOGIN VALID UNTIL '2999-01-01 00:00:00+00'",
    'nopass': 'LOGIN NOPASSWORD',
    'readers': 'NOLOGIN',
    'analyst': 'LOGIN',
    'files': 'LOGIN',
    'report': 'LOGIN',
    'monitor': 'LOGIN',
    'plain': 'LOGIN',
    'hba': 'LOGIN',
}


def r(name):
    return PREFIX + name


def _drop_world(pg):
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % DATABASE)
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'dsr\\_review\\_t\\_%' ORDER BY 1")
        for (name,) in cur.fetchall():
            cur.execute('DROP ROLE "%s"' % name)
    conn.close()


@pytest.fixture(scope='module')
def review_world(harness):
    """The risky roles, tables and grants; dropped again at the end of the module."""
    _drop_world(harness)
    passwords = {name: secrets.token_urlsafe(16) for name in ROLES}
    conn = connect(harness)
    try:
        with conn.cursor() as cur:
            for name, attributes in ROLES.items():
                if 'NOPASSWORD' in attributes:
                    cur.execute('CREATE ROLE %s %s' % (r(name), attributes.replace('NOPASSWORD', '')))
                else:
                    cur.execute('CREATE ROLE %s %s PASSWORD %%s' % (r(name), attributes), (passwords[name],))
            # an MD5 hash where SCRAM is expected: the session's password_encryption decides how CREATE ROLE stores it
            cur.execute("SET password_encryption = 'md5'")
            passwords['md5'] = secrets.token_urlsafe(16)
            cur.execute("CREATE ROLE %s LOGIN VALID UNTIL 'infinity' PASSWORD %%s" % r('md5'), (passwords['md5'],))
            cur.execute('RESET password_encryption')
            cur.execute('GRANT pg_read_all_data TO %s' % r('readers'))
            cur.execute('GRANT %s TO %s' % (r('readers'), r('analyst')))
            cur.execute('GRANT %s TO %s' % (r('sudo'), r('analyst')))
            cur.execute('GRANT pg_read_server_files TO %s' % r('files'))
            cur.execute('GRANT pg_monitor TO %s' % r('monitor'))
            cur.execute('CREATE DATABASE %s' % DATABASE)
        conn.close()
        conn = connect(harness, DATABASE)
        with conn.cursor() as cur:
            cur.execute('CREATE SCHEMA registry')
            for table in TABLES:
                cur.execute('CREATE TABLE registry.%s (id bigint PRIMARY KEY, first_name text, philsys_number text)' % table)
            cur.execute('CREATE TABLE registry.regions (id int)')
            cur.execute('GRANT SELECT ON registry.households TO %s' % r('report'))
            cur.execute('GRANT SELECT (first_name) ON registry.household_members TO %s' % r('report'))
            cur.execute('GRANT SELECT ON registry.payments TO %s WITH GRANT OPTION' % r('report'))
            cur.execute('GRANT SELECT ON registry.grievances TO PUBLIC')
            cur.execute('GRANT SELECT ON registry.regions TO PUBLIC')  # not personal data: not reviewed
            cur.execute('GRANT CREATE ON SCHEMA public TO PUBLIC')
            # what the hba sub-check needs, granted rather than superuser
            cur.execute('GRANT SELECT ON pg_catalog.pg_hba_file_rules TO %s' % r('hba'))
            cur.execute('GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO %s' % r('hba'))
        conn.close()
        yield passwords
    finally:
        conn.close()
        _drop_world(harness)


def args_for(pg, user='postgres', password=None, database=DATABASE, **options):
    args = {'login_host': pg['host'], 'port': pg['port'], 'login_user': user,
            'login_password': password if password is not None else pg['passwords'][user], 'login_db': database, 'fail_on': 'never'}
    args.update(options)
    return args


def review(run_module, pg, **options):
    result = run_module('pg_access_review', args_for(pg, **options))
    assert 'Traceback' not in result['_stderr'] and 'exception' not in result, result.get('exception') or result['_stderr']
    return result


def by_id(result):
    return {f['id']: f for f in result['findings']}


def mine(ids):
    return {i for i in ids if PREFIX in i}


def hba_expectations(pg):
    """The findings the harness's own pg_hba.conf should give, read from the file in its data directory."""
    expected = {}
    with open(os.path.join(pg['data_dir'], 'pg_hba.conf'), encoding='utf-8') as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split('#', 1)[0].split()
            if not fields:
                continue
            kind, method = fields[0], fields[3] if fields[0] == 'local' else fields[4]
            label = 'pg_hba.conf:%d' % number
            if method == 'trust':
                expected['hba_trust:' + label] = 'warning' if kind == 'local' else 'critical'
            elif method == 'password':
                expected['hba_password:' + label] = 'critical' if kind in ('host', 'hostnossl') else 'warning'
            elif method == 'md5':
                expected['hba_md5:' + label] = 'warning'
            if kind != 'local' and fields[3] in ('all', '0.0.0.0/0', '::/0') and method != 'reject':
                expected['hba_any_address:' + label] = 'warning'
    return expected


def server_settings(pg):
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute("SELECT name, setting FROM pg_settings WHERE name IN ('ssl', 'log_connections', 'log_disconnections', 'password_encryption')")
        settings = dict(cur.fetchall())
        cur.execute('SHOW server_version_num')
        settings['server_version_num'] = int(cur.fetchone()[0])
    conn.close()
    return settings


def test_a_superuser_review_finds_each_risk(harness, review_world, run_module):
    result = review(run_module, harness)
    found = by_id(result)
    version = server_settings(harness)['server_version_num']
    expected = {
        'superuser:' + r('super'): 'warning',
        'superuser:' + r('sudo'): 'warning',
        # a member that can SET ROLE to a NOLOGIN superuser role is a hidden superuser
        'superuser_member:%s:%s' % (r('sudo'), r('analyst')): 'critical',
        'createrole:' + r('creator'): 'critical' if version < 160000 else 'warning',
        'createdb:' + r('creator'): 'info',
        'replication:' + r('repl'): 'warning',
        'bypassrls:' + r('rls'): 'warning',
        'password_expired:' + r('expired'): 'warning',
        'no_password_expiry:' + r('md5'): 'warning',
        'md5_password:' + r('md5'): 'warning',
        # the harness trusts socket logins (local all all trust): a role without a password gets in there
        'no_password:' + r('nopass'): 'warning',
        'member:pg_read_all_data:' + r('readers'): 'warning',
        'member:pg_read_all_data:' + r('analyst'): 'warning',
        'member:pg_read_server_files:' + r('files'): 'critical',
        'member:pg_monitor:' + r('monitor'): 'info',
        'public_create:public': 'warning',
        'public_grant:registry.grievances:SELECT': 'critical',
        'grant_option:registry.payments:%s:SELECT' % r('report'): 'warning',
    }
    for finding_id, severity in expected.items():
        assert finding_id in found, (finding_id, sorted(found))
        assert found[finding_id]['severity'] == severity, found[finding_id]
        assert found[finding_id]['accepted'] is False
    # a password that expires in the future, or a role without any password, has no expiry finding
    assert 'no_password_expiry:' + r('future') not in found and 'password_expired:' + r('future') not in found
    assert 'no_password_expiry:' + r('nopass') not in found
    # a superuser's other attributes add nothing, and only the tables named as personal data are reviewed
    assert 'replication:' + r('super') not in found
    assert not [i for i in found if 'registry.regions' in i]
    analyst = found['member:pg_read_all_data:' + r('analyst')]
    assert analyst['object']['direct'] is False and analyst['object']['via'] == [r('readers')] and analyst['object']['inherits'] is True
    assert 'indirect' in analyst['message']
    assert found['no_password:' + r('nopass')]['object']['trust_rules']

    assert result['status'] == 'critical'
    assert result['checks']['memberships']['status'] == 'critical'
    assert result['checks']['personal_data']['status'] == 'critical'
    assert result['checks']['passwords']['status'] == 'warning'
    assert result['not_visible'] == [] and result['review']['is_superuser'] is True
    assert result['checks']['personal_data']['tables'] == ['registry.%s' % t for t in sorted(TABLES)]
    assert result['changed'] is False and result['baseline'] is None

    # pg_hba.conf: exactly what the harness's file says
    hba = {i: f['severity'] for i, f in found.items() if f['category'] == 'hba'}
    assert hba == hba_expectations(harness)
    # settings, as the server has them
    settings = server_settings(harness)
    assert ('setting:log_connections' in found) == (settings['log_connections'] == 'off')
    assert ('setting:ssl' in found) == (settings['ssl'] == 'off')
    assert ('setting:password_encryption' in found) == (settings['password_encryption'] == 'md5')

    inventory = result['inventory']
    assert inventory['roles'][r('super')]['superuser'] is True and inventory['roles'][r('creator')]['createrole'] is True
    assert {'role': 'pg_read_all_data', 'member': r('readers'), 'admin': False} in inventory['memberships']
    assert {'grantee': r('report'), 'privilege': 'SELECT', 'grant_option': False, 'column': 'first_name'} in \
        inventory['tables']['registry.household_members']['grants']
    assert inventory['tables']['registry.households'] == {'owner': 'postgres', 'grants': [
        {'grantee': r('report'), 'privilege': 'SELECT', 'grant_option': False}]}
    # no password or hash anywhere in the result
    text = repr(result)
    md5_hash = 'md5' + hashlib.md5((review_world['md5'] + r('md5')).encode()).hexdigest()
    assert md5_hash[3:] not in text and 'SCRAM-SHA-256$' not in text
    assert not [p for p in review_world.values() if p in text]


def test_accepted_findings_stay_in_the_output(harness, review_world, run_module):
    accepted = [{'id': 'member:pg_read_server_files:' + r('files'), 'reason': 'ticket SEC-12: loads the payment files'},
                'superuser_member:*', 'public_grant:*', 'superuser:nobody_here']
    result = review(run_module, harness, accepted=accepted, checks=['roles', 'memberships', 'personal_data'])
    found = by_id(result)
    files = found['member:pg_read_server_files:' + r('files')]
    assert files['accepted'] is True and files['accepted_reason'] == 'ticket SEC-12: loads the payment files' and files['severity'] == 'critical'
    assert found['superuser_member:%s:%s' % (r('sudo'), r('analyst'))]['accepted'] is True
    assert result['accepted_unused'] == ['superuser:nobody_here']
    # accepted criticals no longer decide the statuses; the warnings still do
    assert result['checks']['memberships']['status'] == 'warning' and result['checks']['memberships']['accepted'] == 1
    assert result['checks']['personal_data']['status'] == 'warning'
    assert set(result['checks']) == {'roles', 'memberships', 'personal_data'}
    assert result['counts']['accepted'] >= 3
    # accepted findings come after the open ones
    flags = [f['accepted'] for f in result['findings']]
    assert flags == sorted(flags)


def test_fail_on_gates_like_the_other_checks(harness, review_world, run_module):
    strict = run_module('pg_access_review', dict(args_for(harness), fail_on='critical'))
    assert strict['failed'] is True and strict['msg'].startswith('PostgreSQL access review is critical')
    assert {'memberships', 'personal_data'} <= set(strict['failed_checks'])
    assert strict['findings'], 'a failed review still returns its findings'
    approved = run_module('pg_access_review', dict(args_for(harness), checks=['schema_privileges'], accepted=['public_create:public'],
                                                   fail_on='warning'))
    assert approved.get('failed') is not True and approved['status'] == 'ok' and approved['failed_checks'] == [], approved.get('msg')


def test_a_monitoring_login_says_what_it_cannot_see(harness, review_world, run_module):
    result = review(run_module, harness, user=r('monitor'), password=review_world['monitor'])
    assert result['review']['is_superuser'] is False and result['review']['can_read_all_settings'] is True
    checks = result['checks']
    assert checks['passwords']['status'] == 'skipped' and 'pg_authid' in checks['passwords']['msg']
    assert checks['hba']['status'] == 'skipped'
    assert 'GRANT SELECT ON pg_catalog.pg_hba_file_rules TO %s' % r('monitor') in checks['hba']['msg']
    hidden = {entry['check']: entry for entry in result['not_visible']}
    assert set(hidden) == {'passwords', 'hba'}
    assert hidden['passwords']['grant'] is None
    assert hidden['hba']['grant'] == ('GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {0}; '
                                      'GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {0}'.format(r('monitor')))
    found = by_id(result)
    # what every role can read is still reviewed ...
    assert 'superuser:' + r('super') in found and 'member:pg_read_all_data:' + r('analyst') in found
    assert 'public_grant:registry.grievances:SELECT' in found
    # ... what needs pg_authid or the hba view is not guessed
    assert not [i for i in found if i.startswith(('md5_password:', 'no_password:', 'hba_'))]
    # without pg_authid it cannot know that nopass has no password: the expiry finding stays
    assert 'no_password_expiry:' + r('nopass') in found
    assert 'passwords=skipped' in result['summary'] and 'hba=skipped' in result['summary']


def test_a_plain_login_cannot_see_some_settings_either(harness, review_world, run_module):
    result = review(run_module, harness, user=r('plain'), password=review_world['plain'])
    hidden = {entry['check']: entry for entry in result['not_visible']}
    assert set(hidden) == {'passwords', 'hba', 'settings'}
    assert 'ssl_min_protocol_version' in hidden['settings']['what']
    assert hidden['settings']['grant'] == 'GRANT pg_read_all_settings TO %s' % r('plain')
    settings = result['checks']['settings']
    assert settings['status'] in ('skipped', 'warning', 'critical')
    assert settings['status'] != 'ok'
    assert 'pg_read_all_settings' in settings['msg']


def test_the_hba_grant_shows_the_rules_without_superuser(harness, review_world, run_module):
    result = review(run_module, harness, user=r('hba'), password=review_world['hba'], checks=['hba'])
    assert result['review']['can_read_hba'] is True and result['review']['is_superuser'] is False
    assert result['checks']['hba']['status'] != 'skipped'
    assert {f['id']: f['severity'] for f in result['findings']} == hba_expectations(harness)
    assert result['not_visible'] == []


def _baseline_run(run_module, pg, path, mode, check_mode=False, diff=False, **options):
    args = args_for(pg, baseline=str(path), baseline_mode=mode, **options)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    result = run_module('pg_access_review', args)
    assert 'Traceback' not in result['_stderr'], result['_stderr']
    return result


def test_baseline_write_then_compare_shows_exactly_the_drift(harness, review_world, run_module, tmp_path):
    directory = tmp_path / 'baselines'
    directory.mkdir()
    path = directory / 'access-baseline.yml'
    planned = _baseline_run(run_module, harness, path, 'write', check_mode=True, diff=True)
    assert planned['changed'] is True and planned['baseline']['state'] == 'would_write' and not path.exists()
    assert planned['diff']['before'] == '' and 'format: dsr.ops.pg_access_review.baseline' in planned['diff']['after']
    assert not list(directory.iterdir()), 'check mode wrote nothing, not even a temporary file'

    written = _baseline_run(run_module, harness, path, 'write')
    assert written['changed'] is True and written['baseline']['state'] == 'written' and written['baseline']['previous'] == 'absent'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ['access-baseline.yml']
    data = yaml.safe_load(path.read_text())
    assert data['database'] == DATABASE and data['roles'][r('super')]['superuser'] is True
    assert data['tables']['registry.grievances']['grants'] == [{'grantee': 'PUBLIC', 'privilege': 'SELECT', 'grant_option': False}]
    before = path.stat()

    again = _baseline_run(run_module, harness, path, 'write')
    assert again['changed'] is False and again['baseline']['state'] == 'unchanged'
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino
    again_check = _baseline_run(run_module, harness, path, 'write', check_mode=True, diff=True)
    assert again_check['changed'] is False and 'diff' not in again_check

    clean = _baseline_run(run_module, harness, path, 'compare')
    assert clean['changed'] is False and clean['baseline']['state'] == 'compared'
    assert not mine(clean['baseline']['changes']) and not [i for i in clean['baseline']['changes'] if 'registry.' in i]
    assert clean['checks']['baseline']['status'] in ('ok', 'warning', 'critical')

    conn = connect(harness, DATABASE)
    try:
        with conn.cursor() as cur:
            cur.execute('CREATE ROLE %s LOGIN SUPERUSER' % r('newsuper'))
            cur.execute('ALTER ROLE %s BYPASSRLS' % r('repl'))
            cur.execute('GRANT pg_write_server_files TO %s' % r('report'))
            cur.execute('GRANT INSERT ON registry.households TO %s' % r('report'))
            cur.execute('REVOKE SELECT ON registry.households FROM %s' % r('report'))
            cur.execute('GRANT UPDATE (philsys_number) ON registry.household_members TO PUBLIC')
        drifted = _baseline_run(run_module, harness, path, 'compare')
        drift = {f['id']: f for f in drifted['findings'] if f['category'] == 'baseline'}
        relevant = {i: f['severity'] for i, f in drift.items() if PREFIX in i or 'registry.' in i}
        assert relevant == {
            'drift:role_added:' + r('newsuper'): 'critical',
            'drift:attribute_added:%s:bypassrls' % r('repl'): 'warning',
            'drift:membership_added:pg_write_server_files:' + r('report'): 'critical',
            'drift:grant_added:registry.households:%s:INSERT' % r('report'): 'warning',
            'drift:grant_removed:registry.households:%s:SELECT' % r('report'): 'info',
            'drift:grant_added:registry.household_members(philsys_number):PUBLIC:UPDATE': 'critical',
        }, relevant
        assert drifted['checks']['baseline']['status'] == 'critical'
        assert set(drifted['baseline']['changes']) >= set(relevant)
        assert drift['drift:role_added:' + r('newsuper')]['change'] == 'role_added'
        # the file was only read
        assert path.stat().st_mtime_ns == before.st_mtime_ns

        recorded = _baseline_run(run_module, harness, path, 'write', diff=True)
        assert recorded['changed'] is True and set(recorded['baseline']['changes']) >= set(relevant)
        assert r('newsuper') in recorded['diff']['after'] and r('newsuper') not in recorded['diff']['before']
        settled = _baseline_run(run_module, harness, path, 'compare')
        assert not [i for i in settled['baseline']['changes'] if PREFIX in i or 'registry.' in i]
    finally:
        with conn.cursor() as cur:
            cur.execute('DROP ROLE IF EXISTS %s' % r('newsuper'))
            cur.execute('ALTER ROLE %s NOBYPASSRLS' % r('repl'))
            cur.execute('REVOKE pg_write_server_files FROM %s' % r('report'))
            cur.execute('REVOKE INSERT ON registry.households FROM %s' % r('report'))
            cur.execute('GRANT SELECT ON registry.households TO %s' % r('report'))
            cur.execute('REVOKE UPDATE (philsys_number) ON registry.household_members FROM PUBLIC')
        conn.close()


GOOD_HEAD = 'format: dsr.ops.pg_access_review.baseline\nversion: 1\ndatabase: %s\n' % DATABASE


@pytest.mark.parametrize('content, expect', [
    ('roles: [unclosed\n', 'is not valid YAML at line'),
    (GOOD_HEAD + 'roles: {}\nmemberships: []\ntables: {}\nroles: {}\n', 'duplicate key'),
    (GOOD_HEAD + 'roles: &r {a: *r}\nmemberships: []\ntables: {}\n', 'anchors and aliases are not allowed'),
    (GOOD_HEAD + 'roles: {alice: {login: true, superuser: "yes", createrole: false, createdb: false, replication: false, bypassrls: false}}\n'
                 'memberships: []\ntables: {}\n', 'roles.alice.superuser must be true or false'),
    (GOOD_HEAD + 'roles: {}\nmemberships: [{role: pg_monitor, member: 7, admin: false}]\ntables: {}\n', 'memberships[0].member'),
    (GOOD_HEAD + 'roles: {}\nmemberships: []\ntables: {households: {owner: x, grants: []}}\n', 'must be schema-qualified'),
    (GOOD_HEAD + 'roles: {}\nmemberships: []\ntables: {registry.households: {owner: x, grants: [{grantee: y, privilege: READ, grant_option: false}]}}\n',
     'tables.registry.households.grants[0].privilege must be one of'),
    (GOOD_HEAD + 'roles: {}\nmemberships: []\n', 'the top level lacks tables'),
    ('format: dsr.ops.pg_access_review.baseline\nversion: 99\n', 'version is 99'),
    ('- just\n- a list\n', 'is not a pg_access_review baseline'),
    ('', 'is not a pg_access_review baseline'),
    (b'\xff\xfe not utf-8', 'is not UTF-8'),
])
def test_a_malformed_baseline_is_named_never_a_traceback(harness, review_world, run_module, tmp_path, content, expect):
    path = tmp_path / 'baseline.yml'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = _baseline_run(run_module, harness, path, 'compare', checks=['settings'])
    check = result['checks']['baseline']
    assert check['status'] == 'unknown' and result['status'] == 'unknown'
    assert str(path) in check['msg'] and expect in check['msg'], check['msg']
    assert result['baseline']['error'] == check['msg'] and result['baseline']['state'] in ('malformed', 'error')
    assert 'exception' not in result and result.get('failed') is not True
    # gating on unknown: the default fail_on fails, naming the file
    gated = run_module('pg_access_review', args_for(harness, baseline=str(path), checks=['settings'], fail_on='critical'))
    assert gated['failed'] is True and str(path) in gated['msg']


def test_a_huge_or_special_baseline_is_not_read(harness, review_world, run_module, tmp_path):
    huge = tmp_path / 'huge.yml'
    huge.write_bytes(b'#' * (8 * 1024 * 1024 + 1))
    result = _baseline_run(run_module, harness, huge, 'compare', checks=['settings'])
    assert 'larger than' in result['checks']['baseline']['msg']
    fifo = tmp_path / 'fifo.yml'
    os.mkfifo(fifo)
    result = _baseline_run(run_module, harness, fifo, 'compare', checks=['settings'])
    assert 'not a regular file' in result['checks']['baseline']['msg']
    missing = _baseline_run(run_module, harness, tmp_path / 'absent.yml', 'compare', checks=['settings'])
    assert missing['baseline']['state'] == 'missing' and 'baseline_mode=write' in missing['checks']['baseline']['msg']


def test_write_mode_replaces_a_malformed_baseline_but_never_a_foreign_file(harness, review_world, run_module, tmp_path):
    foreign = tmp_path / 'hosts'
    foreign.write_text('127.0.0.1 localhost\n')
    refused = _baseline_run(run_module, harness, foreign, 'write')
    assert refused['failed'] is True and 'is not a pg_access_review baseline' in refused['msg'] and 'was not written' in refused['msg']
    assert foreign.read_text() == '127.0.0.1 localhost\n'

    broken = tmp_path / 'baseline.yml'
    broken.write_text(GOOD_HEAD + 'roles: {alice: nope}\nmemberships: []\ntables: {}\n')
    replaced = _baseline_run(run_module, harness, broken, 'write')
    assert replaced.get('failed') is not True and replaced['changed'] is True and replaced['baseline']['previous'] == 'malformed'
    # ansible-core 2.19 returns warnings as structured summaries: look for the text in them
    assert 'roles.alice must be a mapping' in repr(replaced.get('warnings')), replaced.get('warnings')
    assert yaml.safe_load(broken.read_text())['database'] == DATABASE

    nowhere = _baseline_run(run_module, harness, tmp_path / 'no' / 'such' / 'dir.yml', 'write')
    assert nowhere['failed'] is True and 'does not exist' in nowhere['msg']


def test_a_baseline_of_another_database_is_not_compared(harness, review_world, run_module, tmp_path):
    path = tmp_path / 'baseline.yml'
    assert _baseline_run(run_module, harness, path, 'write')['changed'] is True
    other = _baseline_run(run_module, harness, path, 'compare', database='postgres', checks=['roles'])
    assert other['checks']['baseline']['status'] == 'unknown'
    assert 'written for database %s' % DATABASE in other['checks']['baseline']['msg']


def test_unreachable_is_unknown_and_a_baseline_is_not_written(harness, run_module, tmp_path):
    down = run_module('pg_access_review', dict(args_for(harness), port=1, fail_on='critical'))
    assert down['failed'] is True and down['status'] == 'unknown' and 'unable to connect' in down['msg']
    assert down['checks']['connection']['status'] == 'unknown' and down['failed_checks'] == ['connection']
    assert {c['status'] for name, c in down['checks'].items() if name != 'connection'} == {'skipped'}
    path = tmp_path / 'baseline.yml'
    unwritten = run_module('pg_access_review', dict(args_for(harness, baseline=str(path), baseline_mode='write'), port=1))
    assert unwritten['failed'] is True and 'was not written' in unwritten['msg'] and not path.exists()


def test_bad_options_are_refused_by_name(harness, run_module):
    for options, expect in (({'personal_data_tables': ['households']}, 'personal_data_tables[0]'),
                            ({'accepted': [{'reason': 'no id'}]}, 'accepted[0] needs an id'),
                            ({'accepted': [{'id': 'x', 'note': 'y'}]}, 'unknown keys note'),
                            ({'baseline_mode': 'write'}, 'baseline_mode=write needs baseline'),
                            ({'query_timeout': 0}, 'query_timeout must be at least 1'),
                            ({'checks': ['roles', 'bogus']}, 'checks')):
        result = run_module('pg_access_review', dict(args_for(harness), **options))
        assert result['failed'] is True and expect in result['msg'], (options, result['msg'])
        assert 'Traceback' not in result['msg']


def test_no_password_in_any_result(harness, review_world, run_module, tmp_path):
    good = run_module('pg_access_review', args_for(harness, user=r('monitor'), password=review_world['monitor'], baseline=str(tmp_path / 'b.yml'),
                                                   baseline_mode='write', _ansible_diff=True))
    bad = run_module('pg_access_review', args_for(harness, user=r('monitor'), password=review_world['monitor'] + 'x'))
    assert bad['status'] == 'unknown' and 'password authentication failed' in bad['checks']['connection']['msg']
    for result in (good, bad):
        text = repr(result)
        assert review_world['monitor'] not in text and harness['passwords']['postgres'] not in text


def test_the_review_runs_read_only_under_a_timeout(harness, review_world, run_module):
    """What the server executed for the review's login, from pg_stat_statements (loaded by the harness)."""
    conn = connect(harness)
    with conn.cursor() as cur:
        cur.execute('SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = %s))', (r('plain'),))
    review(run_module, harness, user=r('plain'), password=review_world['plain'], query_timeout=7)
    with conn.cursor() as cur:
        cur.execute('SELECT query FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = %s)', (r('plain'),))
        queries = [row[0] for row in cur.fetchall()]
    conn.close()
    assert any(q.strip().upper() == 'SET TRANSACTION READ ONLY' for q in queries), queries
    # pg_stat_statements shows constants as $n: the set_config of statement_timeout and lock_timeout
    assert any('set_config' in q for q in queries), queries
    writes = [q for q in queries if q.lstrip().upper().startswith(('INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALTER', 'GRANT', 'REVOKE', 'DROP'))]
    assert not writes, writes
