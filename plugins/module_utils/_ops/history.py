# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops_history's backend: record check results, prune by age, and build the evening report's data from the history."""

from __future__ import annotations

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec
from ansible_collections.dsr.ops.plugins.module_utils._ops import trends
from ansible_collections.dsr.ops.plugins.module_utils._ops.store import StoreError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresError
from ansible_collections.dsr.ops.plugins.module_utils._status import worst

# the matrix's column order for the checks the daily_ops role records; others follow alphabetically
CHECK_ORDER = ('kubernetes', 'database', 'backup', 'metrics', 'errors', 'slow_queries', 'certificates', 'security', 'dr_test')
# (figure, title, unit, how a day's readings become one value)
SERIES = (
    ('database_size_bytes', 'Database size', 'bytes', 'last'),
    ('backup_duration_seconds', 'Backup duration', 'seconds', 'last'),
    ('backup_size_bytes', 'Backup size', 'bytes', 'last'),
    ('error_count', 'Errors in the checked windows, per day', 'count', 'sum'),
    ('certificate_days_left', 'Certificate days left (soonest)', 'days', 'last'),
    ('dr_test_rpo_seconds', 'DR test RPO', 'seconds', 'last'),
    ('dr_test_rto_seconds', 'DR test RTO', 'seconds', 'last'),
)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _midnight(day):
    return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)


def day_status(so_far, status):
    """The worst status of a day's records of one check; a check skipped all day stays skipped (not unknown)."""
    if so_far is None or so_far == 'skipped':
        return status
    return so_far if status == 'skipped' else worst([so_far, status])


def order_checks(names):
    known = [name for name in CHECK_ORDER if name in names]
    return known + sorted(set(names) - set(known))


def build_report(records, day, days=7, environments=None, checks=None, title='DSR evening summary', generated_at=None,
                 incidents=None, upcoming=None, notes=None, disk_threshold=0.85, trend_records=None):
    """The report data (docs/daily-operations.md) for ``day`` from ``records`` (validated, any order)."""
    dates = trends.window(day, days)
    first = _midnight(dates[0])
    in_window = [r for r in records if first <= rec.parse_time(r['time']) < _midnight(day + datetime.timedelta(days=1))]
    envs = list(environments) if environments else sorted({r['environment'] for r in in_window})
    names = list(checks) if checks else order_checks({r['check'] for r in in_window if r['environment'] in envs})
    today, matrix = {}, {date: {} for date in dates}
    for record in sorted(in_window, key=lambda r: r['time']):
        if record['environment'] not in envs or record['check'] not in names:
            continue
        date = rec.parse_time(record['time']).date()
        cell = matrix[date].setdefault(record['environment'], {})
        cell[record['check']] = day_status(cell.get(record['check']), record['status'])
        if date == day:
            today.setdefault(record['environment'], {})[record['check']] = {
                'status': record['status'], 'summary': record['summary'], 'time': record['time']}
    series = []
    for name, caption, unit, how in SERIES:
        series.append({'name': name, 'title': caption, 'unit': unit,
                       'points': {env: trends.daily(in_window, env, name, dates, reduce_day=how) for env in envs}})
    source = trend_records if trend_records is not None else records
    report = {
        'title': title,
        'generated_at': rec.format_time(generated_at or utc_now()),
        'date': day.isoformat(),
        'environments': envs,
        'checks': names,
        'today': today,
        'days': [{'date': date.isoformat(), 'status': matrix[date]} for date in dates],
        'series': series,
        'trends': {env: trends.environment_trends(source, env, disk_threshold) for env in envs},
        'incidents': list(incidents or []),
        'upcoming': list(upcoming or []),
        'notes': list(notes or []),
    }
    return report


class History:
    """One run of ops_history (see the module's documentation)."""

    def __init__(self, params, store, check_mode=False, now=None):
        self.params = params
        self.store = store
        self.check_mode = check_mode
        self.now = now or utc_now()
        self.warnings = []

    def _result(self):
        return {'changed': False, 'backend': {'kind': self.store.kind, 'where': self.store.describe()}, 'recorded': 0, 'pruned': 0,
                'created': False, 'skipped_records': 0}

    def _finish(self, result):
        result['backend']['where'] = self.store.describe()
        result['skipped_records'] = self.store.skipped
        if self.store.skipped:
            self.warnings.append('%d history entries were not valid records and were skipped' % self.store.skipped)
        result['queries'] = list(getattr(self.store, 'queries', []))
        result['warnings'] = self.warnings
        return result

    def _prune(self, result):
        keep = self.params['keep_days']
        if not keep:
            return
        cutoff = self.now - datetime.timedelta(days=keep)
        count, names = self.store.prune(cutoff)
        result['pruned'] = count
        if names:
            result['pruned_files'] = names
        result['changed'] = result['changed'] or bool(count)

    def record(self, records):
        result = self._result()
        try:
            result['created'] = self.store.prepare()
            result['changed'] = result['created']
            if records:
                result['changed'] = True
                if not self.check_mode:
                    result['recorded'] = self.store.append(records)
            if not (self.check_mode and result['created']):
                self._prune(result)
                envs = sorted({r['environment'] for r in records})
                since = self.now - datetime.timedelta(days=self.params['trend_days'])
                history = self.store.read(since, self.now + datetime.timedelta(seconds=1), envs) if envs else []
                if self.check_mode:
                    history = history + records
                result['trends'] = {env: trends.environment_trends(history, env, self.params['disk_threshold']) for env in envs}
            else:
                result['trends'] = {}
        except (StoreError, PostgresError) as exc:
            if self.params['on_error'] == 'fail':
                raise
            # the history must never fail the check it records
            result.update(recorded=0, error=str(exc), trends={})
            self.warnings.append('check history not recorded: %s' % exc)
        return self._finish(result)

    def prune(self):
        result = self._result()
        self.store.prepare()
        self._prune(result)
        return self._finish(result)

    def report(self):
        result = self._result()
        params = self.params
        day = params['date'] or self.now.date()
        span = max(params['days'], params['trend_days'])
        since = _midnight(day - datetime.timedelta(days=span - 1))
        until = _midnight(day + datetime.timedelta(days=1))
        notes = list(params['notes'] or [])
        try:
            history = self.store.read(since, until, params['environments'])
        except (StoreError, PostgresError) as exc:
            if params['on_error'] == 'fail':
                raise
            history = []
            notes.append('history unavailable: %s' % exc)
            self.warnings.append('check history could not be read: %s' % exc)
            result['error'] = str(exc)
        trend_since = until - datetime.timedelta(days=params['trend_days'])
        result['report'] = build_report(history, day, params['days'], params['environments'], params['checks'], params['title'],
                                        self.now, params['incidents'], params['upcoming'], notes, params['disk_threshold'],
                                        trend_records=[r for r in history if rec.parse_time(r['time']) >= trend_since])
        result['records_read'] = len(history)
        return self._finish(result)
