# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Threshold checks over Prometheus instant queries, behind dsr.ops.metrics_check.

Every series a query returns is evaluated with its labels, value and status;
the check's status is the worst of them. What an empty result or a NaN value
means is not guessed: each check says it with ``on_empty`` and ``on_nan``.
"""

from __future__ import annotations

import math
import re

from ansible_collections.dsr.ops.plugins.module_utils._status import (
    COMPARISONS,
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    Check,
    ThresholdError,
    evaluate,
    summarize,
    validate_thresholds,
    worst,
)
from ansible_collections.dsr.ops.plugins.module_utils._metrics.prometheus import PrometheusConnectionError, PrometheusQueryError

OUTCOMES = (OK, WARNING, CRITICAL, UNKNOWN)

DEFAULT_WINDOW = '5m'
DEFAULT_MAX_SERIES = 50

_WINDOW = re.compile(r'^([0-9]+(ms|s|m|h|d|w|y))+$')

# Filesystems that are not disks: node_exporter reports them too.
_DISK_FILTER = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|devtmpfs"'

# The runbook's Key Metrics table (System Monitoring), over the exporters a DSR
# site runs. ``{window}`` is the rate() window (option rate_window).
BUILTIN_CHECKS = {
    'response_time_p95': {
        'query': 'histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[{window}])))',
        'comparison': 'gt', 'warning': 2.0, 'critical': 5.0, 'unit': 'seconds',
        # no request in the window: nothing was slow (and the error rate check sees the traffic)
        'on_empty': UNKNOWN, 'on_nan': OK,
        'description': '95th percentile response time per job, from the application histogram',
    },
    'error_rate': {
        # an application that never failed has no 5xx series at all: "or ... * 0" makes that 0 %
        'query': ('100 * (sum by (job) (rate(http_requests_total{{status=~"5.."}}[{window}]))'
                  ' or sum by (job) (rate(http_requests_total[{window}])) * 0)'
                  ' / sum by (job) (rate(http_requests_total[{window}]))'),
        'comparison': 'gt', 'warning': 1.0, 'critical': 5.0, 'unit': 'percent',
        'on_empty': UNKNOWN, 'on_nan': OK,
        'description': 'share of HTTP requests answered 5xx per job, in percent',
    },
    'cpu_usage': {
        'query': '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[{window}])))',
        'comparison': 'gt', 'warning': 80.0, 'critical': 90.0, 'unit': 'percent',
        'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
        'description': 'busy CPU per node, in percent (node_exporter)',
    },
    'memory_usage': {
        'query': '100 * (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes',
        'comparison': 'gt', 'warning': 80.0, 'critical': 90.0, 'unit': 'percent',
        'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
        'description': 'memory in use (not available) per node, in percent (node_exporter)',
    },
    'disk_usage': {
        'query': ('100 * (node_filesystem_size_bytes{{%s}} - node_filesystem_avail_bytes{{%s}})'
                  ' / node_filesystem_size_bytes{{%s}}' % (_DISK_FILTER, _DISK_FILTER, _DISK_FILTER)),
        'comparison': 'gt', 'warning': 80.0, 'critical': 90.0, 'unit': 'percent',
        'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
        'description': 'space used per filesystem, in percent, as non-root users see it (node_exporter)',
    },
    'db_connections': {
        'query': '100 * sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections)',
        'comparison': 'gt', 'warning': 80.0, 'critical': 95.0, 'unit': 'percent',
        'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
        'description': 'PostgreSQL backends per server, in percent of max_connections (postgres_exporter)',
    },
    'scrape_targets': {
        'query': 'up',
        'comparison': 'lt', 'warning': None, 'critical': 1.0, 'unit': '',
        # no up series at all: Prometheus scrapes nothing, so every other figure is blind
        'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
        'description': 'every scrape target answered its last scrape (up == 1)',
    },
}

_FIELDS = ('query', 'comparison', 'warning', 'critical', 'on_empty', 'on_nan', 'unit', 'description')
_CUSTOM_DEFAULTS = {'comparison': 'gt', 'warning': None, 'critical': None, 'on_empty': UNKNOWN, 'on_nan': UNKNOWN,
                    'unit': '', 'description': ''}


class CheckDefinitionError(ValueError):
    """The checks option cannot be evaluated; the message names the entry and the fix."""


def resolve_checks(entries, window=DEFAULT_WINDOW):
    """Complete the user's check entries: a built-in name fills every field left unset.

    ``entries`` None means every built-in check. Raises CheckDefinitionError
    with every problem found.
    """
    if not _WINDOW.match(window or ''):
        raise CheckDefinitionError('rate_window must be a Prometheus duration such as 5m or 90s, got %r' % (window,))
    if entries is None:
        entries = [{'name': name} for name in BUILTIN_CHECKS]
    if not entries:
        raise CheckDefinitionError('checks is empty: leave it unset for the built-in key metrics, or list checks')
    problems = []
    resolved = []
    seen = set()
    for index, entry in enumerate(entries):
        name = entry.get('name')
        label = 'checks[%d]%s' % (index, ' (%s)' % name if name else '')
        if not name:
            problems.append('%s: name is required' % label)
            continue
        if name in seen:
            problems.append('%s: the name is used twice; each check needs its own' % label)
        seen.add(name)
        builtin = BUILTIN_CHECKS.get(name)
        if builtin is None and not entry.get('query'):
            problems.append('%s: query is required for a check that is not built in (built-in: %s)' % (label, ', '.join(BUILTIN_CHECKS)))
            continue
        check = dict(_CUSTOM_DEFAULTS)
        if builtin is not None:
            check.update(builtin)
            check['query'] = builtin['query'].format(window=window)
        check.update({field: entry[field] for field in _FIELDS if entry.get(field) is not None})
        check['name'] = name
        check['builtin'] = builtin is not None and not entry.get('query')
        if check['comparison'] not in COMPARISONS:
            problems.append('%s: comparison must be one of %s, got %r' % (label, ', '.join(COMPARISONS), check['comparison']))
            continue
        for key in ('on_empty', 'on_nan'):
            if check[key] not in OUTCOMES:
                problems.append('%s: %s must be one of %s, got %r' % (label, key, ', '.join(OUTCOMES), check[key]))
        try:
            validate_thresholds(name, check['warning'], check['critical'], check['comparison'])
        except ThresholdError as exc:
            problems.append('%s: %s' % (label, str(exc).split(': ', 1)[1]))
        resolved.append(check)
    if problems:
        raise CheckDefinitionError('; '.join(problems))
    return resolved


def format_labels(labels):
    """``{job="dsr-api", instance="app-1"}``, without __name__; ``{}`` for none."""
    inner = ', '.join('%s="%s"' % (k, v) for k, v in sorted(labels.items()) if k != '__name__')
    return labels.get('__name__', '') + '{%s}' % inner


def _series(result_type, result):
    if result_type == 'vector':
        return [(item.get('metric') or {}, item['value'][1]) for item in result]
    if result_type == 'scalar':
        return [({}, result[1])]
    return None


def _limit_text(check):
    parts = []
    symbol = {'gt': '>', 'ge': '>=', 'lt': '<', 'le': '<='}[check['comparison']]
    if check['warning'] is not None:
        parts.append('warning %s %s' % (symbol, _number(check['warning'])))
    if check['critical'] is not None:
        parts.append('critical %s %s' % (symbol, _number(check['critical'])))
    return ', '.join(parts) or 'no thresholds'


def _number(value):
    if value is None:
        return 'null'
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return '%d' % value
    return '%.4g' % value if isinstance(value, float) else str(value)


def evaluate_response(check, data, warnings=(), max_series=DEFAULT_MAX_SERIES):
    """Turn one query's API data into a Check with every series' labels, value and status."""
    figures = {key: check[key] for key in ('query', 'comparison', 'warning', 'critical', 'unit', 'on_empty', 'on_nan')}
    figures.update({'warnings': list(warnings), 'result_type': data.get('resultType'), 'series': [], 'series_total': 0,
                    'empty': False, 'value': None})
    series = _series(data.get('resultType'), data.get('result'))
    if series is None:
        return Check(check['name'], UNKNOWN, 'the query returned a %s, not an instant vector or a scalar: for a range selector '
                     'such as x[5m], wrap it in a function (rate, max_over_time)' % data.get('resultType'), **figures)
    if not series:
        figures['empty'] = True
        return Check(check['name'], check['on_empty'], 'the query returned no series; on_empty=%s' % check['on_empty'], **figures)

    evaluated = []
    for labels, raw in series:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if math.isnan(value):
            status = check['on_nan']
        else:
            status = evaluate(value, check['warning'], check['critical'], check['comparison'])
        evaluated.append({'labels': labels, 'value': value if math.isfinite(value) else None, 'raw_value': str(raw),
                          'status': status, '_sort': value})
    higher_is_worse = check['comparison'] in ('gt', 'ge')
    severity = {OK: 1, WARNING: 2, UNKNOWN: 3, CRITICAL: 4}

    def order(entry):
        # worst status first; within one status the most extreme value, NaN last
        value = entry['_sort']
        if math.isnan(value):
            return (-severity[entry['status']], 1, 0.0)
        return (-severity[entry['status']], 0, -value if higher_is_worse else value)

    evaluated.sort(key=order)
    status = worst(s['status'] for s in evaluated)
    finite = [s['_sort'] for s in evaluated if not math.isnan(s['_sort'])]
    if finite:
        figures['value'] = max(finite) if higher_is_worse else min(finite)
        if not math.isfinite(figures['value']):
            figures['value'] = None
    head = evaluated[0]
    counts = {}
    for entry in evaluated:
        counts[entry['status']] = counts.get(entry['status'], 0) + 1
    tally = ', '.join('%d %s' % (counts[s], s) for s in (CRITICAL, UNKNOWN, WARNING, OK) if s in counts)
    msg = '%d series (%s); %s %s = %s%s (%s)' % (
        len(evaluated), tally, 'worst' if status != OK else 'highest' if higher_is_worse else 'lowest',
        format_labels(head['labels']), head['raw_value'] if head['value'] is None else _number(head['value']),
        ' ' + check['unit'] if check['unit'] and head['value'] is not None else '', _limit_text(check))
    if math.isnan(head['_sort']):
        msg += '; NaN (no data to divide, such as no requests in the window): on_nan=%s' % check['on_nan']
    for entry in evaluated:
        del entry['_sort']
    figures['series_total'] = len(evaluated)
    figures['series'] = evaluated[:max_series]
    return Check(check['name'], status, msg, **figures)


def run_checks(client, checks, max_series=DEFAULT_MAX_SERIES):
    """Run every check with ``client``; return the result dict (status, summary, checks, warnings).

    After a connection failure the remaining checks are not attempted: each is
    ``unknown`` with the same reason, so an unreachable Prometheus costs one timeout.
    """
    results = []
    api_warnings = []
    blind = None
    for check in checks:
        base = {key: check[key] for key in ('query', 'comparison', 'warning', 'critical', 'unit', 'on_empty', 'on_nan')}
        if blind is not None:
            results.append(Check.unknown(check['name'], 'not run: %s' % blind, **base))
            continue
        try:
            data, warnings = client.query(check['query'])
        except PrometheusConnectionError as exc:
            blind = str(exc)
            results.append(Check.unknown(check['name'], blind, **base))
            continue
        except PrometheusQueryError as exc:
            results.append(Check.unknown(check['name'], str(exc), **base))
            continue
        api_warnings += ['%s: %s' % (check['name'], w) for w in warnings]
        results.append(evaluate_response(check, data, warnings, max_series))
    overall, summary = summarize(results)
    return {
        'status': overall,
        'summary': summary,
        'checks': {c.name: c.as_dict() for c in results},
        'reachable': blind is None,
        'api_warnings': api_warnings,
    }
