# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The incident rules: the runbook's classification, one incident per environment, announcements only on change."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._ops import incidents as inc
from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec

NOW = datetime.datetime(2026, 12, 4, 8, 0, tzinfo=datetime.timezone.utc)


def record(check, status, env='production', **figures):
    return rec.validate({'time': NOW.isoformat(), 'environment': env, 'check': check, 'status': status, 'figures': figures})


@pytest.mark.parametrize('check, status, figures, expected', [
    ('database', 'critical', {'reachable': 0}, 'P1'),
    ('database', 'critical', {}, 'P2'),
    ('database', 'warning', {}, 'P3'),
    ('kubernetes', 'critical', {'workloads_down': 9, 'workloads_total': 9}, 'P1'),
    ('kubernetes', 'critical', {'workloads_down': 1, 'workloads_total': 9}, 'P2'),
    ('kubernetes', 'warning', {'workloads_down': 0, 'workloads_total': 9}, 'P3'),
    ('security', 'critical', {'compromise_signals': 2}, 'P1'),
    ('security', 'critical', {}, 'P2'),
    ('certificates', 'warning', {}, 'P4'),
    ('backup', 'critical', {}, 'P2'),
    ('dr_test', 'critical', {}, 'P4'),
    ('metrics', 'unknown', {}, 'P4'),
    ('something_new', 'critical', {}, 'P2'),
])
def test_classification(check, status, figures, expected):
    assert inc.classify(record(check, status, **figures))[0] == expected


def test_a_capacity_warning_alone_is_p4_a_latency_warning_p3():
    disk = rec.validate({'time': NOW.isoformat(), 'environment': 'p', 'check': 'metrics', 'status': 'warning', 'affected': ['disk_usage']})
    latency = rec.validate({'time': NOW.isoformat(), 'environment': 'p', 'check': 'metrics', 'status': 'warning',
                            'affected': ['disk_usage', 'response_time_p95']})
    assert inc.classify(disk)[0] == 'P4' and inc.classify(latency)[0] == 'P3'
    assert inc.classify(dict(disk, status='critical'))[0] == 'P2'


def test_ok_and_skipped_are_not_incidents():
    assert inc.classify(record('database', 'ok')) == (None, None)
    assert inc.classify(record('database', 'skipped')) == (None, None)


def test_one_incident_per_environment_with_its_worst_severity():
    book = inc.IncidentBook([], NOW)
    ids = iter(['INC-2026-0001', 'INC-2026-0002'])
    announced = book.apply([record('database', 'warning'), record('kubernetes', 'critical', workloads_down=1, workloads_total=9),
                            record('database', 'critical', env='staging', reachable=0)], lambda year: next(ids))
    assert [(i['environment'], i['severity'], i['id']) for i in announced] == [('production', 'P2', 'INC-2026-0001'), ('staging', 'P1', 'INC-2026-0002')]
    assert sorted(announced[0]['failing']) == ['database', 'kubernetes']
    # the same again: nothing announced, nothing new
    assert book.apply([record('database', 'warning'), record('kubernetes', 'critical', workloads_down=1, workloads_total=9)],
                      lambda year: pytest.fail('no new id')) == []


def test_a_check_not_run_keeps_its_state_and_recovery_resolves():
    book = inc.IncidentBook([], NOW)
    book.apply([record('database', 'critical'), record('backup', 'critical')], lambda year: 'INC-2026-0001')
    assert book.apply([record('database', 'ok')], lambda year: pytest.fail('no new id')) == []
    resolved = book.apply([record('backup', 'ok')], lambda year: pytest.fail('no new id'))
    assert [(i['status'], i['recovered']) for i in resolved] == [('Resolved', ['backup'])]


def test_the_notice_follows_the_template_and_escapes_nothing_away():
    book = inc.IncidentBook([], NOW)
    incident = book.apply([record('errors', 'critical')], lambda year: 'INC-2026-0042')[0]
    text = inc.notice(incident, datetime.timezone.utc, 'ops@example.org', NOW)
    lines = text.split('\n')
    assert lines[0] == 'Subject: [INCIDENT] DSR System Issue - High'
    assert [line.split(':', 1)[0] for line in lines if line and not line.startswith(('-', ' ')) and ':' in line] == [
        'Subject', 'Incident ID', 'Start Time', 'Severity', 'Status', 'Description', 'production', 'Impact', 'Current Actions',
        'Next Update', 'Contact']
    assert 'Next Update: 2026-12-04 10:00 AM UTC' in lines and lines[-2] == 'Contact: ops@example.org for questions'


def test_stored_state_is_validated():
    good = {'id': 'INC-2026-0001', 'environment': 'production', 'severity': 'P2', 'status': 'Investigating',
            'started_at': NOW.isoformat(), 'updated_at': NOW.isoformat(), 'failing': {'database': {'severity': 'P2'}}}
    assert inc.validate_incident(good, 'x')['failing']['database']['severity'] == 'P2'
    for bad in (dict(good, id='INC-26-1'), dict(good, severity='P0'), dict(good, status='Closed'), dict(good, started_at='yesterday'),
                dict(good, failing={'database': {'severity': 'P7'}}), dict(good, environment='../x'), 'not a dict'):
        with pytest.raises(inc.IncidentStateError):
            inc.validate_incident(bad, 'x')
