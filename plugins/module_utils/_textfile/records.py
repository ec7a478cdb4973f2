# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check records (the daily_ops history's rows) validated as untrusted input and turned into metric families.

A record is ``{time, environment, run, check, status, summary, figures, job_id, affected}``
(see docs/metrics.md). Every problem names the record's index and field. When
several records share an environment and a check, the newest ``time`` wins (on
a tie, the later one in the list).

Exported per environment and check: ``<prefix>_check_status`` (0 ok, 1 warning,
2 critical, 3 unknown; a skipped check has ``<prefix>_check_skipped 1`` instead),
``<prefix>_check_last_run_timestamp_seconds``, and a gauge per figure. Figures
named in a non-base unit by the daily_ops role are converted (days to seconds)
and renamed so that the file passes ``promtool check metrics``: see FIGURES.
"""

from __future__ import annotations

import datetime
import math
import re

from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import RecordError
from ansible_collections.dsr.ops.plugins.module_utils._textfile.exposition import (
    Family,
    gauge_name_problem,
    label_name_problem,
)

STATUS_VALUES = {'ok': 0, 'warning': 1, 'critical': 2, 'unknown': 3}
STATUSES = tuple(STATUS_VALUES) + ('skipped',)
RUNS = ('morning', 'midday', 'evening', 'adhoc')
CHECK_NAME = re.compile(r'^[a-z][a-z0-9_]{0,62}$')
FIELDS = ('time', 'environment', 'run', 'check', 'status', 'summary', 'figures', 'job_id', 'affected')
REQUIRED = ('time', 'environment', 'check', 'status')
RESERVED_LABELS = ('environment', 'check')
MAX_TEXT = 256
MAX_PROBLEMS = 20

STATUS = 'check_status'
SKIPPED = 'check_skipped'
LAST_RUN = 'check_last_run_timestamp_seconds'
FIXED_HELP = {
    STATUS: 'Status of the last run of a DSR check: 0 ok, 1 warning, 2 critical, 3 unknown (a skipped check has none).',
    SKIPPED: 'A DSR check that was skipped (not configured) on its last run: 1 (absent otherwise).',
    LAST_RUN: 'When a DSR check last ran, seconds since the epoch.',
}

# The daily_ops role's figures: name -> (metric name after the prefix, factor, HELP).
DAY = 86400
FIGURES = {
    'database_size_bytes': ('database_size_bytes', 1, 'Size of the DSR database, bytes.'),
    'disk_used_ratio': ('disk_used_ratio', 1, 'Share of the database disk in use, 0 to 1.'),
    'connections': ('connections', 1, 'Client connections to the database server.'),
    'backup_last_success_timestamp_seconds': ('backup_last_success_timestamp_seconds', 1,
                                              'When the last successful backup finished, seconds since the epoch.'),
    'backup_size_bytes': ('backup_size_bytes', 1, 'Size of the last successful backup, bytes.'),
    'backup_duration_seconds': ('backup_duration_seconds', 1, 'Duration of the last successful backup, seconds.'),
    'certificate_days_left': ('certificate_time_left_seconds', DAY,
                              'Time until the certificate of an endpoint expires, seconds (the figure certificate_days_left times 86400).'),
    'error_count': ('errors', 1, "Errors logged in the check's window (the figure error_count)."),
    'http_5xx_ratio': ('http_5xx_ratio', 1, 'Share of HTTP requests answered 5xx, 0 to 1.'),
    'p95_latency_seconds': ('p95_latency_seconds', 1, '95th percentile response time, seconds.'),
    'dr_test_last_timestamp_seconds': ('dr_test_last_timestamp_seconds', 1, 'When the last disaster-recovery test ran, seconds since the epoch.'),
    'dr_test_rpo_seconds': ('dr_test_rpo_seconds', 1, 'Recovery point of the last disaster-recovery test (data lost), seconds.'),
    'dr_test_rto_seconds': ('dr_test_rto_seconds', 1, 'Recovery time of the last disaster-recovery test, seconds.'),
    'workloads_unhealthy': ('workloads_unhealthy', 1, 'Kubernetes workloads that are not healthy.'),
    # a gauge may not end in _total (promtool): the figures' totals are exported under their plural
    'workloads_total': ('workloads', 1, 'Kubernetes workloads checked (the figure workloads_total).'),
    'workloads_down': ('workloads_down', 1, 'Kubernetes workloads with no available replica.'),
    'scrape_targets_total': ('scrape_targets', 1, 'Prometheus scrape targets (the figure scrape_targets_total).'),
    'slow_queries': ('slow_queries', 1, 'Slow queries found by the check.'),
    'database_growth_bytes_per_day': ('database_growth_bytes_per_day', 1, 'Growth of the DSR database from the check history, bytes per day.'),
    'database_disk_full_days': ('database_disk_full_in_seconds', DAY,
                                'Time until the database disk reaches its threshold at the current growth, seconds '
                                '(the figure database_disk_full_days times 86400; absent when not growing).'),
}


def metric_names(prefix='dsr'):
    """Every metric name the module writes for the known figures (unknown figures add their own)."""
    names = {'%s_%s' % (prefix, name) for name in FIXED_HELP}
    names.update('%s_%s' % (prefix, spec[0]) for spec in FIGURES.values())
    return sorted(names)


def parse_time(value):
    """RFC 3339 text with an offset -> seconds since the epoch (ValueError otherwise)."""
    if not isinstance(value, str) or not value:
        raise ValueError('must be an RFC 3339 time such as 2026-12-04T08:00:05+00:00')
    try:
        parsed = datetime.datetime.fromisoformat(value[:-1] + '+00:00' if value.endswith(('Z', 'z')) else value)
    except ValueError:
        raise ValueError('must be an RFC 3339 time such as 2026-12-04T08:00:05+00:00') from None
    if parsed.tzinfo is None:
        raise ValueError('needs a UTC offset, such as 2026-12-04T08:00:05+00:00')
    return parsed.timestamp()


def _number_problem(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 'must be a number, got %s' % type(value).__name__
    if isinstance(value, float) and not math.isfinite(value):
        return 'must be a finite number, got %r (NaN and infinities are refused)' % value
    return None


def _text_problem(value, required=True):
    if value is None and not required:
        return None
    if not isinstance(value, str):
        return 'must be a string, got %s' % type(value).__name__
    if not value and required:
        return 'must not be empty'
    if len(value) > MAX_TEXT and required:
        return 'must be at most %d characters' % MAX_TEXT
    if '\0' in value:
        return 'must not contain a NUL byte'
    return None


def _figure_points(where, value, problems):
    """[(labels, value)] of one figure, or None with problems added."""
    if not isinstance(value, list):
        problem = _number_problem(value)
        if problem:
            hint = '' if 'finite' in problem else ', or a list of {labels, value}'
            problems.append('%s %s%s' % (where, problem, hint))
            return None
        return [({}, value)]
    points = []
    for position, point in enumerate(value):
        at = '%s[%d]' % (where, position)
        if not isinstance(point, dict) or set(point) - {'labels', 'value'} or 'value' not in point:
            problems.append('%s must be a dict with value and optional labels, such as {"labels": {"endpoint": "registry"}, "value": 88}' % at)
            continue
        problem = _number_problem(point['value'])
        if problem:
            problems.append('%s.value %s' % (at, problem))
            continue
        labels = point.get('labels') or {}
        if not isinstance(labels, dict):
            problems.append('%s.labels must be a dict of label name -> string' % at)
            continue
        bad = False
        for name in sorted(labels, key=str):
            problem = label_name_problem(name)
            if problem is None and name in RESERVED_LABELS:
                problem = 'is set from the record; use another name'
            if problem is None:
                problem = _text_problem(labels[name], required=False) if labels[name] is not None else 'must be a string, got NoneType'
            if problem:
                problems.append('%s.labels.%s %s' % (at, name, problem))
                bad = True
        if not bad:
            points.append((dict(labels), point['value']))
    return points


def parse_record(index, record, problems):
    """One record checked; the normalized record, or None with problems added."""
    where = 'records[%d]' % index
    if not isinstance(record, dict):
        problems.append('%s must be a dict (a check record), got %s' % (where, type(record).__name__))
        return None
    before = len(problems)
    unknown = sorted(set(record) - set(FIELDS), key=str)
    if unknown:
        problems.append('%s has unknown fields %s; a check record has %s' % (where, ', '.join(map(str, unknown)), ', '.join(FIELDS)))
    for field in REQUIRED:
        if record.get(field) is None:
            problems.append('%s.%s is required' % (where, field))
    if len(problems) > before:
        return None
    try:
        timestamp = parse_time(record['time'])
    except ValueError as exc:
        problems.append('%s.time %s, got %r' % (where, exc, record['time']))
        timestamp = None
    problem = _text_problem(record['environment'])
    if problem:
        problems.append('%s.environment %s' % (where, problem))
    if not isinstance(record['check'], str) or not CHECK_NAME.match(record['check']):
        problems.append('%s.check must match [a-z][a-z0-9_]{0,62}, got %r' % (where, record['check']))
    if record['status'] not in STATUSES:
        problems.append('%s.status must be one of %s, got %r' % (where, ', '.join(STATUSES), record['status']))
    if record.get('run') is not None and record['run'] not in RUNS:
        problems.append('%s.run must be one of %s, got %r' % (where, ', '.join(RUNS), record['run']))
    if record.get('summary') is not None and not isinstance(record['summary'], str):
        problems.append('%s.summary must be a string' % where)
    if record.get('job_id') is not None and (isinstance(record['job_id'], bool) or not isinstance(record['job_id'], (str, int))):
        problems.append('%s.job_id must be a string, an integer or null' % where)
    affected = record.get('affected')
    if affected is not None and (not isinstance(affected, list) or not all(isinstance(name, str) for name in affected)):
        problems.append('%s.affected must be a list of names' % where)
    figures = record.get('figures') or {}
    parsed = []
    if not isinstance(figures, dict):
        problems.append('%s.figures must be a dict of figure name -> number or list of {labels, value}' % where)
        figures = {}
    for name in sorted(figures, key=str):
        at = '%s.figures.%s' % (where, name)
        metric = FIGURES[name][0] if name in FIGURES else name
        problem = gauge_name_problem(metric) if isinstance(name, str) else 'must be a string'
        if problem is None and metric in FIXED_HELP:
            problem = 'is a name the module writes itself; rename the figure'
        if problem:
            problems.append('%s: the name %s' % (at, problem))
            continue
        points = _figure_points(at, figures[name], problems)
        if points is not None:
            parsed.append((name, points))
    if len(problems) > before:
        return None
    return {'index': index, 'time': timestamp, 'environment': record['environment'], 'check': record['check'],
            'status': record['status'], 'figures': parsed}


def newest(records):
    """One record per (environment, check): the newest time, the later one on a tie; and how many were superseded."""
    latest = {}
    for record in records:
        key = (record['environment'], record['check'])
        if key not in latest or record['time'] >= latest[key]['time']:
            latest[key] = record
    return [latest[key] for key in sorted(latest)], len(records) - len(latest)


def validate_prefix(prefix):
    """A problem with the prefix option, or None."""
    if not isinstance(prefix, str) or not re.match(r'^[a-z][a-z0-9_]*$', prefix) or prefix.endswith('_'):
        return 'prefix must be lower-case letters, digits and underscores, starting with a letter and not ending in _, such as dsr'
    problem = gauge_name_problem(prefix + '_' + STATUS)
    if problem:
        return 'prefix %s' % problem
    return None


def validate_labels(labels):
    """Problems with the labels option (constant labels on every sample)."""
    problems = []
    for name in sorted(labels or {}, key=str):
        problem = label_name_problem(name)
        if problem is None and name in RESERVED_LABELS:
            problem = 'is set from each record; use another name'
        if problem is None and not isinstance(labels[name], str):
            problem = 'must have a string value; quote it'
        elif problem is None:
            problem = _text_problem(labels[name], required=False)
        if problem:
            problems.append('labels.%s %s' % (name, problem))
    return problems


def build_families(records, prefix='dsr', labels=None):
    """Validate ``records`` and return (families, facts); RecordError names every problem."""
    labels = dict(labels or {})
    problems = []
    parsed = []
    if not isinstance(records, list):
        raise RecordError(['records must be a list of check records'])
    for index, record in enumerate(records):
        result = parse_record(index, record, problems)
        if result is not None:
            parsed.append(result)
    if problems:
        raise RecordError(_capped(problems))
    chosen, superseded = newest(parsed)
    families = {}

    def family(name, help_text):
        if name not in families:
            families[name] = Family('%s_%s' % (prefix, name), help_text)
        return families[name]

    counts = {status: 0 for status in STATUSES}
    for record in chosen:
        base = dict(labels, environment=record['environment'], check=record['check'])
        counts[record['status']] += 1
        if record['status'] == 'skipped':
            family(SKIPPED, FIXED_HELP[SKIPPED]).add(base, 1)
        else:
            family(STATUS, FIXED_HELP[STATUS]).add(base, STATUS_VALUES[record['status']])
        family(LAST_RUN, FIXED_HELP[LAST_RUN]).add(base, record['time'])
        for name, points in record['figures']:
            metric, factor, help_text = FIGURES.get(name, (name, 1, 'Figure %s of a DSR check (%s).' % (name, record['check'])))
            target = family(metric, help_text)
            for point_labels, value in points:
                at = 'records[%d].figures.%s' % (record['index'], name)
                clash = sorted(set(point_labels) & set(labels))
                if clash:
                    problems.append('%s: label %s is also a constant label (option labels); rename one' % (at, ', '.join(clash)))
                    continue
                converted = value * factor if factor != 1 else value
                if isinstance(converted, float) and not math.isfinite(converted):
                    problems.append('%s: %r times %d is not a finite number' % (at, value, factor))
                    continue
                if not target.add(dict(base, **point_labels), converted):
                    problems.append('%s: two values for the same labels %s in %s; give each point its own labels'
                                    % (at, point_labels or '{}', target.name))
    if problems:
        raise RecordError(_capped(problems))
    environments = sorted({r['environment'] for r in chosen})
    facts = {'checks': len(chosen), 'environments': environments, 'superseded': superseded, 'statuses': counts}
    return list(families.values()), facts


def _capped(problems):
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return problems[:MAX_PROBLEMS] + ['and %d more problems' % (len(problems) - MAX_PROBLEMS)]
