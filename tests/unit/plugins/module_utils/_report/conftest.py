# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Report data in the contract's shape (section 2), fresh for every test."""

from __future__ import annotations

import datetime

import pytest

DAYS = [(datetime.date(2026, 11, 28) + datetime.timedelta(days=n)).isoformat() for n in range(7)]
CHECKS = ['kubernetes', 'database', 'backup', 'metrics', 'errors', 'certificates']


def make_data():
    """Two environments; staging has a critical database, a warning backup and no metrics/errors/certificates today."""
    return {
        'title': 'DSR evening summary',
        'generated_at': '2026-12-04T18:00:00+00:00',
        'date': '2026-12-04',
        'environments': ['production', 'staging'],
        'checks': list(CHECKS),
        'today': {
            'production': {check: {'status': 'ok', 'summary': 'ok: all checks ok', 'time': '2026-12-04T08:00:05+00:00'} for check in CHECKS},
            'staging': {
                'kubernetes': {'status': 'ok', 'summary': 'ok', 'time': '2026-12-04T08:00:05Z'},
                'database': {'status': 'critical', 'summary': 'replication lag 900 s', 'time': '2026-12-04T08:00:05+00:00'},
                'backup': {'status': 'warning', 'summary': 'last backup 30 h old', 'time': '2026-12-04T08:01:00+00:00'},
            },
        },
        'days': [{'date': day, 'status': {'production': {check: 'ok' for check in CHECKS},
                                          'staging': {'database': 'critical' if n == 6 else 'ok', 'backup': 'warning'}}}
                 for n, day in enumerate(DAYS)],
        'series': [
            {'name': 'database_size_bytes', 'title': 'Database size', 'unit': 'bytes',
             'points': {'production': [[day, 1200000000 + n * 10000000] for n, day in enumerate(DAYS)],
                        'staging': [[day, 300000000.5 + n] for n, day in enumerate(DAYS[3:])]}},
            {'name': 'backup_duration_seconds', 'title': 'Backup duration', 'unit': 'seconds',
             'points': {'production': [[day, 600 + n * 15.25] for n, day in enumerate(DAYS)]}},
            {'name': 'error_count', 'title': 'Errors per day', 'unit': 'count',
             'points': {'production': [[day, n * 3] for n, day in enumerate(DAYS)], 'staging': [[day, 40 - n] for n, day in enumerate(DAYS)]}},
            {'name': 'dr_test_rto_seconds', 'title': 'DR test RTO', 'unit': 'seconds', 'points': {}},
        ],
        'trends': {'production': {'database_growth_bytes_per_day': 10000000, 'database_disk_full_days': 41.5}},
        'incidents': [{
            'id': 'INC-2026-0001', 'severity': 'P2', 'status': 'Investigating', 'environment': 'staging',
            'started_at': '2026-12-04T08:00:05+00:00', 'updated_at': '2026-12-04T12:00:00+00:00',
            'description': 'Database replication lag', 'impact': 'dsr-api slow',
            'notice': 'INCIDENT NOTICE\nIncident ID: INC-2026-0001\nSeverity: P2\nStatus: Investigating',
        }],
        'upcoming': [{'when': '2026-12-06T02:00:00+00:00', 'what': 'Maintenance window: database vacuum'}],
        'notes': ['history kept 400 days'],
    }


@pytest.fixture
def raw():
    """The report data as the lead's code builds it (unvalidated)."""
    return make_data()
