# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incident notices from failed checks (runbook: Incident Management).

One incident per environment gathers its failing checks. Its severity is the
most severe of them, by the runbook's classification (``classify``): P1 when
the system is unavailable (the registry database unreachable, every workload
down) or data may be compromised, P2 when major functionality is unavailable or
significantly degraded (a service down, a critical check with user impact), P3
for warnings with user impact, P4 for the rest. An ongoing incident is
announced again only when its severity or status changes, and "Resolved" when
every check that made it has recovered. The notice is the runbook's
communication template, filled in.
"""

from __future__ import annotations

import datetime
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec

SEVERITIES = ('P1', 'P2', 'P3', 'P4')
LEVELS = {'P1': 'Critical', 'P2': 'High', 'P3': 'Medium', 'P4': 'Low'}
# the runbook's response-time table
UPDATES = {'P1': datetime.timedelta(minutes=30), 'P2': datetime.timedelta(hours=2), 'P3': datetime.timedelta(days=1),
           'P4': datetime.timedelta(weeks=1)}
RESOLUTION = {'P1': datetime.timedelta(hours=4), 'P2': datetime.timedelta(hours=24), 'P3': datetime.timedelta(hours=72),
              'P4': datetime.timedelta(weeks=2)}
STATUSES = ('Investigating', 'In Progress', 'Resolved')
ID_RE = re.compile(r'^INC-(\d{4})-(\d{4,})$')
USERS = {'P1': 'all users of the environment', 'P2': 'users of the affected services',
         'P3': 'some users (degraded service)', 'P4': 'none expected'}
BUSINESS = {
    'P1': 'The registry is unavailable: registrations, eligibility decisions, payments and grievances cannot be processed.',
    'P2': 'Major functionality is unavailable or significantly degraded for the affected services.',
    'P3': 'Minor functionality issues or moderate performance impact.',
    'P4': 'No user-facing impact expected; operational follow-up needed.',
}
# what a failing check of each kind means for users when nothing more specific applies: (critical, warning, unknown)
CHECK_SEVERITY = {
    'database': ('P2', 'P3', 'P3'),
    'kubernetes': ('P2', 'P3', 'P3'),
    'metrics': ('P2', 'P3', 'P4'),
    'errors': ('P2', 'P3', 'P4'),
    'slow_queries': ('P3', 'P3', 'P4'),
    'certificates': ('P2', 'P4', 'P4'),
    'backup': ('P2', 'P4', 'P4'),
    'security': ('P2', 'P4', 'P4'),
    'dr_test': ('P4', 'P4', 'P4'),
}
DEFAULT_SEVERITY = ('P2', 'P4', 'P4')
# metrics_check's resource checks: a warning of these alone is capacity planning (P4); latency and error rates are users'
CAPACITY_METRICS = frozenset(('cpu_usage', 'memory_usage', 'disk_usage', 'db_connections', 'scrape_targets'))


class IncidentStateError(ValueError):
    """The stored incident state is not what this module writes."""


def rank(severity):
    return SEVERITIES.index(severity)


def classify(record):
    """The severity a record calls for, with the reason; (None, None) when it is not failing."""
    status = record['status']
    if status in ('ok', 'skipped'):
        return None, None
    figures = record['figures']
    check = record['check']
    if check == 'database' and figures.get('reachable') == 0:
        return 'P1', 'the registry database is unreachable'
    total, down = figures.get('workloads_total'), figures.get('workloads_down')
    if check == 'kubernetes' and isinstance(total, (int, float)) and isinstance(down, (int, float)) and total > 0:
        if down >= total:
            return 'P1', 'every workload is down'
        if down >= 1:
            return 'P2', '%d of %d workloads down' % (down, total)
    if isinstance(figures.get('compromise_signals'), (int, float)) and figures['compromise_signals'] > 0:
        return 'P1', 'signals of data compromise'
    if check == 'metrics' and status == 'warning' and record.get('affected') and set(record['affected']) <= CAPACITY_METRICS:
        # resources filling up (a disk at 84 %) are capacity planning, not yet an impact on users
        return 'P4', 'capacity warning: %s' % ', '.join(sorted(record['affected']))
    critical, warning, unknown = CHECK_SEVERITY.get(check, DEFAULT_SEVERITY)
    return {'critical': critical, 'warning': warning, 'unknown': unknown}[status], '%s is %s' % (check, status)


def validate_incident(item, where):
    """A stored incident, checked (the state is read back, so it is untrusted)."""
    if not isinstance(item, dict):
        raise IncidentStateError('%s is not an incident' % where)
    if not isinstance(item.get('id'), str) or not ID_RE.match(item['id']):
        raise IncidentStateError('%s has no valid id' % where)
    if item.get('severity') not in SEVERITIES or item.get('status') not in STATUSES:
        raise IncidentStateError('%s (%s) has an unknown severity or status' % (where, item['id']))
    if not isinstance(item.get('environment'), str) or not rec.ENVIRONMENT_RE.match(item['environment']):
        raise IncidentStateError('%s (%s) has no valid environment' % (where, item['id']))
    for field in ('started_at', 'updated_at'):
        try:
            rec.parse_time(item.get(field), field)
        except rec.RecordError as exc:
            raise IncidentStateError('%s (%s): %s' % (where, item['id'], exc)) from None
    failing = item.get('failing')
    if not isinstance(failing, dict):
        raise IncidentStateError('%s (%s) has no failing checks map' % (where, item['id']))
    clean = {}
    for check, entry in failing.items():
        if not isinstance(check, str) or not rec.NAME_RE.match(check) or not isinstance(entry, dict) or entry.get('severity') not in SEVERITIES:
            raise IncidentStateError('%s (%s) has an invalid failing check' % (where, item['id']))
        clean[check] = {'severity': entry['severity'], 'status': str(entry.get('status', ''))[:16], 'summary': str(entry.get('summary', ''))[:500],
                        'reason': str(entry.get('reason', ''))[:200], 'affected': [str(a)[:128] for a in entry.get('affected') or []][:50]}
    out = {key: item[key] for key in ('id', 'environment', 'severity', 'status', 'started_at', 'updated_at')}
    out['resolved_at'] = item.get('resolved_at') if isinstance(item.get('resolved_at'), str) else None
    out['failing'] = clean
    out['notices'] = item['notices'] if isinstance(item.get('notices'), int) and item['notices'] >= 0 else 0
    return out


def _stamp(moment):
    return rec.format_time(moment)


def _local(text, zone):
    moment = rec.parse_time(text).astimezone(zone)
    return moment.strftime('%Y-%m-%d %I:%M %p ') + (moment.tzname() or 'UTC')


def notice(incident, zone, contact, now):
    """The runbook's Incident Communication Template, filled in for ``incident``."""
    level = LEVELS[incident['severity']]
    failing = incident['failing']
    affected = sorted({name for entry in failing.values() for name in entry['affected']} | set(failing)) if failing else []
    if incident['status'] == 'Resolved':
        description = 'Resolved: the checks that raised this incident recovered (%s).' % ', '.join(incident.get('recovered') or ['all'])
        actions = ['Checks recovered at %s; the incident is closed' % _local(_stamp(now), zone),
                   'Post-incident review: root cause analysis within the resolution target']
        next_update = 'None (resolved)'
    else:
        reasons = sorted({entry['reason'] for entry in failing.values()})
        description = '%s: %s.' % (incident['environment'], '; '.join(reasons))
        actions = ['Automated checks detected the issue; the on-call team is investigating']
        actions += ['%s (%s): %s' % (check, entry['status'], entry['summary'] or entry['reason']) for check, entry in sorted(failing.items())]
        next_update = _local(_stamp(rec.parse_time(incident['updated_at']) + UPDATES[incident['severity']]), zone)
    lines = [
        'Subject: [INCIDENT] DSR System Issue - %s' % level,
        '',
        'Incident ID: %s' % incident['id'],
        'Start Time: %s' % _local(incident['started_at'], zone),
        'Severity: %s' % level,
        'Status: %s' % incident['status'],
        '',
        'Description:',
        description,
        '',
        'Impact:',
        '- Affected services: %s' % (', '.join(affected) if affected else 'none'),
        '- Affected users: %s' % (USERS[incident['severity']] if incident['status'] != 'Resolved' else 'none (resolved)'),
        '- Business impact: %s' % (BUSINESS[incident['severity']] if incident['status'] != 'Resolved' else 'none remaining'),
        '',
        'Current Actions:',
    ] + ['- %s' % action for action in actions] + [
        '',
        'Next Update: %s' % next_update,
        '',
        'Contact: %s for questions' % contact,
    ]
    return '\n'.join(lines) + '\n'


class IncidentBook:
    """The open incidents and the rules that open, update and resolve them."""

    def __init__(self, incidents, now, min_severity='P3'):
        self.incidents = incidents
        self.now = now
        self.min_severity = min_severity

    def open_for(self, environment):
        found = [i for i in self.incidents if i['environment'] == environment and i['status'] != 'Resolved']
        return max(found, key=lambda i: i['started_at']) if found else None

    def apply(self, records, new_id):
        """Update the book from one run's records; return the incidents announced (new, changed or resolved).

        ``new_id(year)`` gives the next incident id (it consumes the sequence; in check mode it only looks).
        """
        announced = []
        stamp = _stamp(self.now)
        for environment in sorted({r['environment'] for r in records}):
            failing, recovered = {}, set()
            for record in sorted((r for r in records if r['environment'] == environment), key=lambda r: r['time']):
                severity, reason = classify(record)
                if severity is not None and rank(severity) <= rank(self.min_severity):
                    failing[record['check']] = {'severity': severity, 'status': record['status'], 'summary': record['summary'][:500],
                                                'reason': reason, 'affected': list(record.get('affected') or [])[:50]}
                    recovered.discard(record['check'])
                else:
                    failing.pop(record['check'], None)
                    recovered.add(record['check'])
            current = self.open_for(environment)
            if current is None:
                if not failing:
                    continue
                severity = min((e['severity'] for e in failing.values()), key=rank)
                incident = {'id': new_id(self.now.year), 'environment': environment, 'severity': severity, 'status': 'Investigating',
                            'started_at': stamp, 'updated_at': stamp, 'resolved_at': None, 'failing': failing, 'notices': 0, 'new': True}
                self.incidents.append(incident)
                announced.append(incident)
                continue
            before = current['severity']
            gone = sorted(check for check in recovered if check in current['failing'])
            for check in gone:
                del current['failing'][check]
            current['failing'].update(failing)
            if not current['failing']:
                current.update(status='Resolved', resolved_at=stamp, updated_at=stamp, recovered=gone)
                announced.append(current)
                continue
            severity = min((e['severity'] for e in current['failing'].values()), key=rank)
            if severity != before:
                current.update(severity=severity, status='In Progress', updated_at=stamp, previous_severity=before)
                announced.append(current)
        return announced


def _slug(status):
    return status.lower().replace(' ', '-')


class IncidentRun:
    """One run of ops_incident: lock and load the state, apply the records, write the notices, store the state."""

    def __init__(self, params, store, check_mode=False, now=None, zone=None):
        self.params = params
        self.store = store
        self.check_mode = check_mode
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.zone = zone or datetime.timezone.utc
        self.warnings = []

    def _write_notice(self, directory, name, text):
        # imported here: files pulls in nothing a unit test of the rules needs
        from ansible_collections.dsr.ops.plugins.module_utils._backup import files  # pylint: disable=import-outside-toplevel
        path = os.path.join(directory, name)
        data = text.encode('utf-8')
        try:
            with open(path, 'rb') as handle:
                if handle.read() == data:
                    return path, False
        except FileNotFoundError:
            pass
        files.ensure_private_dir(directory)
        with files.TempFile(directory, name) as temp:
            with temp.writer() as handle:
                handle.write(data)
            temp.publish(path)
        return path, True

    def run(self, records):
        params = self.params
        incidents, sequence = self.store.incidents_begin()
        planned = dict(sequence)

        def new_id(year):
            planned[year] = planned.get(year, 0) + 1
            return 'INC-%04d-%04d' % (year, planned[year])

        try:
            book = IncidentBook(incidents, self.now, params['min_severity'])
            announced = book.apply(records, new_id)
            announcements = []
            for incident in announced:
                incident['notices'] = incident.get('notices', 0) + 1
                text = notice(incident, self.zone, params['contact'], self.now)
                entry = {'id': incident['id'], 'environment': incident['environment'], 'severity': incident['severity'],
                         'level': LEVELS[incident['severity']], 'status': incident['status'], 'new': bool(incident.get('new')),
                         'subject': text.split('\n', 1)[0][len('Subject: '):], 'notice': text, 'path': None}
                if incident.get('previous_severity'):
                    entry['previous_severity'] = incident['previous_severity']
                if params['notice_dir']:
                    name = '%s-%02d-%s.txt' % (incident['id'], incident['notices'], _slug(incident['status']))
                    entry['path'] = os.path.join(params['notice_dir'], name)
                    if not self.check_mode:
                        # the notice is on disk before the state says it was sent: a failure repeats a notice, never loses one
                        self._write_notice(params['notice_dir'], name, text)
                announcements.append(entry)
            keep_since = self.now - datetime.timedelta(days=params['keep_days'] or 36500)
            self.store.incidents_commit(incidents, planned, keep_since)
        except BaseException:
            self.store.incidents_end()
            raise
        current = [{'id': i['id'], 'environment': i['environment'], 'severity': i['severity'], 'level': LEVELS[i['severity']],
                    'status': i['status'], 'started_at': i['started_at'], 'updated_at': i['updated_at'],
                    'checks': sorted(i['failing']), 'next_update': rec.format_time(rec.parse_time(i['updated_at']) + UPDATES[i['severity']])}
                   for i in incidents if i['status'] != 'Resolved']
        today = self.now.date()
        recent = [{'id': i['id'], 'environment': i['environment'], 'severity': i['severity'], 'status': i['status'],
                   'started_at': i['started_at'], 'updated_at': i['updated_at'],
                   'description': ', '.join(sorted(i['failing'])) or 'resolved',
                   'impact': USERS[i['severity']] if i['status'] != 'Resolved' else 'none (resolved)',
                   'notice': notice(i, self.zone, params['contact'], self.now)}
                  for i in incidents if i['status'] != 'Resolved' or rec.parse_time(i['updated_at']).date() == today]
        if self.store.skipped:
            self.warnings.append('%d stored incidents were not valid and were left out' % self.store.skipped)
        return {'changed': bool(announcements), 'announcements': announcements, 'open_incidents': current, 'report_incidents': recent,
                'backend': {'kind': self.store.kind, 'where': self.store.describe()}, 'skipped_incidents': self.store.skipped,
                'queries': list(getattr(self.store, 'queries', [])), 'warnings': self.warnings}
