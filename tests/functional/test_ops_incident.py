"""ops_incident against the harness's real PostgreSQL 15 and a real directory: open, hold, escalate, resolve, a real id sequence."""

from __future__ import annotations

import datetime
import json
import os
import threading

import pytest

from conftest import connect, connection_args, drop_database, recreate_database

DB = 'dsr_ops_inc_test'
T0 = datetime.datetime(2026, 12, 4, 8, 0, 5, tzinfo=datetime.timezone.utc)


def at(hours):
    return (T0 + datetime.timedelta(hours=hours)).isoformat()


def record(env, check, status, hours, summary='', **figures):
    return {'time': at(hours), 'environment': env, 'run': 'morning', 'check': check, 'status': status,
            'summary': summary or '%s %s' % (check, status), 'figures': figures}


def healthy(env, hours):
    return [record(env, check, 'ok', hours) for check in ('kubernetes', 'database', 'backup', 'certificates')]


@pytest.fixture
def ops_db(harness):
    recreate_database(harness, DB, owner='postgres')
    yield DB
    drop_database(harness, DB)


def test_an_incident_is_opened_held_escalated_resolved_and_the_sequence_goes_on(harness, ops_db, run_module, tmp_path):
    notices = tmp_path / 'notices'
    base = dict(connection_args(harness, database=DB), notice_dir=str(notices))

    def run(records, hours, **extra):
        result = run_module('ops_incident', dict(base, records=records, now=at(hours), **extra))
        assert result.get('failed') is not True, result.get('msg')
        return result

    down = record('staging', 'kubernetes', 'critical', 0, 'critical: payment-service=critical', workloads_down=1, workloads_total=9)
    down['affected'] = ['payment-service']
    first = run(healthy('production', 0) + [down] + healthy('staging', 0)[1:], 0)
    assert first['changed'] is True and [a['id'] for a in first['announcements']] == ['INC-2026-0001']
    announced = first['announcements'][0]
    assert (announced['environment'], announced['severity'], announced['level'], announced['status'], announced['new']) == (
        'staging', 'P2', 'High', 'Investigating', True)
    assert announced['notice'].split('\n') == [
        'Subject: [INCIDENT] DSR System Issue - High',
        '',
        'Incident ID: INC-2026-0001',
        'Start Time: 2026-12-04 08:00 AM UTC',
        'Severity: High',
        'Status: Investigating',
        '',
        'Description:',
        'staging: 1 of 9 workloads down.',
        '',
        'Impact:',
        '- Affected services: kubernetes, payment-service',
        '- Affected users: users of the affected services',
        '- Business impact: Major functionality is unavailable or significantly degraded for the affected services.',
        '',
        'Current Actions:',
        '- Automated checks detected the issue; the on-call team is investigating',
        '- kubernetes (critical): critical: payment-service=critical',
        '',
        'Next Update: 2026-12-04 10:00 AM UTC',
        '',
        'Contact: support@dsr.gov.ph for questions',
        '',
    ]
    path = notices / 'INC-2026-0001-01-investigating.txt'
    assert announced['path'] == str(path) and path.read_text() == announced['notice']
    assert oct(path.stat().st_mode & 0o777) == '0o600' and oct(notices.stat().st_mode & 0o777) == '0o700'

    # the same failure four hours later: not announced again
    held = run([dict(down, time=at(4))], 4)
    assert held['changed'] is False and held['announcements'] == []
    assert [(i['id'], i['severity'], i['checks']) for i in held['open_incidents']] == [('INC-2026-0001', 'P2', ['kubernetes'])]

    # the database becomes unreachable: P1, announced as an update of the same incident
    worse = run([record('staging', 'database', 'critical', 5, 'unreachable', reachable=0)], 5)
    assert [(a['id'], a['severity'], a['status'], a['previous_severity'], a['new']) for a in worse['announcements']] == [
        ('INC-2026-0001', 'P1', 'In Progress', 'P2', False)]
    assert 'Next Update: 2026-12-04 01:30 PM UTC' in worse['announcements'][0]['notice']
    assert 'the registry database is unreachable' in worse['announcements'][0]['notice']

    # the database recovers, Kubernetes is not checked this time: still open, back to P2 (a change, announced)
    better = run([record('staging', 'database', 'ok', 6)], 6)
    assert [(a['severity'], a['status']) for a in better['announcements']] == [('P2', 'In Progress')]

    # everything recovers: Resolved
    resolved = run(healthy('staging', 7), 7)
    assert [(a['id'], a['status']) for a in resolved['announcements']] == [('INC-2026-0001', 'Resolved')]
    assert resolved['open_incidents'] == []
    assert 'Next Update: None (resolved)' in resolved['announcements'][0]['notice']
    assert [i['status'] for i in resolved['report_incidents']] == ['Resolved']

    # a new failure is a new incident with the next number; check mode shows the number and does not consume it
    again = dict(down, time=at(9))
    planned = run_module('ops_incident', dict(base, records=[again], now=at(9), _ansible_check_mode=True))
    assert [a['id'] for a in planned['announcements']] == ['INC-2026-0002'] and planned['announcements'][0]['path'].endswith('-01-investigating.txt')
    assert not (notices / 'INC-2026-0002-01-investigating.txt').exists()
    opened = run([again], 9)
    assert [a['id'] for a in opened['announcements']] == ['INC-2026-0002']

    conn = connect(harness, DB)
    with conn.cursor() as cur:
        cur.execute('SELECT year, last FROM dsr_ops.incident_sequence')
        assert cur.fetchall() == [(2026, 2)]
        cur.execute('SELECT id, status FROM dsr_ops.incidents ORDER BY id')
        assert cur.fetchall() == [('INC-2026-0001', 'Resolved'), ('INC-2026-0002', 'Investigating')]
    conn.close()
    assert harness['passwords']['postgres'] not in json.dumps([first, worse, resolved])


def test_two_runs_at_once_never_share_an_id(harness, ops_db, run_module):
    base = connection_args(harness, database=DB)
    results = {}

    def run(env):
        results[env] = run_module('ops_incident', dict(base, records=[record(env, 'database', 'critical', 0)], now=at(0)))

    threads = [threading.Thread(target=run, args=(env,)) for env in ('env-a', 'env-b', 'env-c')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.get('msg') for r in results.values() if r.get('failed')] == []
    ids = sorted(a['id'] for r in results.values() for a in r['announcements'])
    assert ids == ['INC-2026-0001', 'INC-2026-0002', 'INC-2026-0003'], results
    assert sorted(a['environment'] for r in results.values() for a in r['announcements']) == ['env-a', 'env-b', 'env-c']


def test_warnings_below_the_threshold_open_nothing_and_times_follow_the_zone(run_module, tmp_path):
    directory = tmp_path / 'history'
    base = {'backend': 'directory', 'directory': str(directory)}
    cert = run_module('ops_incident', dict(base, records=[record('production', 'certificates', 'warning', 0)], now=at(0)))
    assert cert.get('failed') is not True, cert.get('msg')
    assert cert['announcements'] == [] and cert['changed'] is False
    low = run_module('ops_incident', dict(base, records=[record('production', 'certificates', 'warning', 0)], now=at(0), min_severity='P4',
                                          time_zone='Asia/Manila'))
    notice = low['announcements'][0]['notice']
    assert low['announcements'][0]['severity'] == 'P4' and 'Severity: Low' in notice
    assert 'Start Time: 2026-12-04 04:00 PM PST' in notice and 'Next Update: 2026-12-11 04:00 PM PST' in notice
    bad_zone = run_module('ops_incident', dict(base, records=[], time_zone='Mars/Olympus'))
    assert bad_zone['failed'] is True and 'time_zone' in bad_zone['msg'] and 'Asia/Manila' in bad_zone['msg']


def test_the_state_read_back_is_untrusted(run_module, tmp_path):
    directory = tmp_path / 'history'
    base = {'backend': 'directory', 'directory': str(directory)}
    first = run_module('ops_incident', dict(base, records=[record('staging', 'database', 'critical', 0)], now=at(0)))
    assert [a['id'] for a in first['announcements']] == ['INC-2026-0001']
    state_path = directory / 'incidents.json'
    assert oct(state_path.stat().st_mode & 0o777) == '0o600'
    state = json.loads(state_path.read_text())
    state['incidents'].append({'id': '../../etc/passwd', 'environment': 'x', 'severity': 'P9', 'status': 'Investigating'})
    state_path.write_text(json.dumps(state))
    held = run_module('ops_incident', dict(base, records=[record('staging', 'database', 'critical', 1)], now=at(1)))
    assert held.get('failed') is not True, held.get('msg')
    assert held['skipped_incidents'] == 1 and held['announcements'] == []
    assert any('not valid' in (w['event']['msg'] if isinstance(w, dict) else w) for w in held['warnings'])
    state_path.write_text('not json')
    broken = run_module('ops_incident', dict(base, records=[record('staging', 'database', 'critical', 2)], now=at(2)))
    assert broken['failed'] is True and 'cannot be read' in broken['msg'] and 'move it away' in broken['msg'], broken['msg']
    assert state_path.read_text() == 'not json', 'a state that cannot be read is never overwritten'
    assert not os.path.exists(directory / 'INC-2026-0002-01-investigating.txt')
