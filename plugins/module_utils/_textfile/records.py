# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check records (the daily_ops history's rows) validated as untrusted input and turned into metric families.

A record is ``{time, environment, run, check, status, summary, figures, job_id, affected}``
(see docs/metrics.md), checked by the one record schema, ``_ops/records.py``'s ``validate``,
as ops_history checks it; what is checked here on top is what Prometheus needs of the
figures (lint-clean gauge names, conversions that stay finite, one value per labels).
Every problem names the record's index and field; every bad record is reported (the
first problem of each). When several records share an environment and a check, the
newest ``time`` wins (on a tie, the later one in the list).

Exported per environment and check: ``<prefix>_check_status`` (0 ok, 1 warning,
2 critical, 3 unknown; a skipped check has ``<prefix>_check_skipped 1`` instead),
``<prefix>_check_last_run_timestamp_seconds``, and a gauge per figure. Figures
named in a non-base unit by the daily_ops role are converted (days to seconds)
and renamed so that the file passes ``promtool check metrics``: see FIGURES.
"""

from __future__ import annotations

import math
import re

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as schema
from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import RecordError
from ansible_collections.dsr.ops.plugins.module_utils._textfile.exposition import (
    Family,
    gauge_name_problem,
    label_name_problem,
)

STATUS_VALUES = {'ok': 0, 'warning': 1, 'critical': 2, 'unknown': 3}
RESERVED_LABELS = ('environment', 'check')
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


def _points(figure):
    """[(labels, value)] of a validated figure: a number, or a list of {labels, value}."""
    if isinstance(figure, list):
        return [(sample['labels'], sample['value']) for sample in figure]
    return [({}, figure)]


def parse_record(index, record, problems):
    """One record checked; the parsed record, or None with problems added.

    The record's fields are checked by ``_ops.records.validate``; its figure names here, as the gauge names they become.
    """
    where = 'records[%d]' % index
    try:
        valid = schema.validate(record, where)
    except schema.RecordError as exc:
        problems.append(str(exc))
        return None
    before = len(problems)
    parsed = []
    for name in sorted(valid['figures']):
        metric = FIGURES[name][0] if name in FIGURES else name
        problem = gauge_name_problem(metric)
        if problem is None and metric in FIXED_HELP:
            problem = 'is a name the module writes itself; rename the figure'
        if problem:
            problems.append('%s.figures.%s: the name %s' % (where, name, problem))
        else:
            parsed.append((name, _points(valid['figures'][name])))
    if len(problems) > before:
        return None
    # the time as given, to the fraction of a second (validate's text is to the second)
    timestamp = schema.parse_time(record['time']).timestamp()
    return {'index': index, 'time': timestamp, 'environment': valid['environment'], 'check': valid['check'],
            'status': valid['status'], 'figures': parsed}


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
        elif problem is None and '\0' in labels[name]:
            problem = 'must not contain a NUL byte'
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

    counts = {status: 0 for status in schema.STATUSES}
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
