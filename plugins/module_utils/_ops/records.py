# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check records: one check's result in one run, as the history stores it.

A record is plain data (see ``docs/daily-operations.md``)::

    {"time": "2026-12-04T08:00:05+00:00", "environment": "production", "run": "morning",
     "check": "database", "status": "ok", "summary": "ok: all 9 checks ok",
     "figures": {"database_size_bytes": 1234, "certificate_days_left": [{"labels": {"endpoint": "registry"}, "value": 88}]},
     "job_id": "4711", "affected": ["payment-service"]}

Records arrive from a playbook and come back from the history (a table, files):
both are untrusted, so every one goes through :func:`validate` before use.
"""

from __future__ import annotations

import datetime
import math
import re

from ansible_collections.dsr.ops.plugins.module_utils._status import STATUSES

FIELDS = ('time', 'environment', 'run', 'check', 'status', 'summary', 'figures', 'job_id', 'affected')
RUNS = ('morning', 'midday', 'evening', 'adhoc')
NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,62}$')
# an inventory host name: letters, digits, dots, dashes, underscores
ENVIRONMENT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$')
LABEL_RE = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]{0,62}$')
SUMMARY_MAX = 2000
LABEL_VALUE_MAX = 256
FIGURES_MAX = 200
SAMPLES_MAX = 200
AFFECTED_MAX = 50
JOB_ID_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,64}$')


class RecordError(ValueError):
    """A record that is not one (its text names the record and the field)."""


def parse_time(value, where='time'):
    """An aware UTC datetime from RFC 3339 text (``Z`` or an offset); RecordError otherwise."""
    if not isinstance(value, str):
        raise RecordError('%s must be an RFC 3339 time string, got %s' % (where, type(value).__name__))
    text = value.strip()
    if text.endswith(('Z', 'z')):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise RecordError('%s is not an RFC 3339 time: %r' % (where, value[:64])) from None
    if moment.tzinfo is None:
        raise RecordError('%s has no time zone: %r (add Z or an offset)' % (where, value[:64]))
    return moment.astimezone(datetime.timezone.utc)


def format_time(moment):
    """RFC 3339 text of an aware datetime, in UTC, to the second."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError('%s must be a number, got %s' % (where, type(value).__name__))
    if not math.isfinite(value):
        raise RecordError('%s must be a finite number, got %r (NaN and infinities are refused)' % (where, value))
    return value


def _labels(value, where):
    if not isinstance(value, dict):
        raise RecordError('%s must be a dict of label names to strings' % where)
    labels = {}
    for key, text in value.items():
        if not isinstance(key, str) or not LABEL_RE.match(key) or key.startswith('__'):
            raise RecordError('%s: %r is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)' % (where, key))
        if key in ('environment', 'check'):
            raise RecordError('%s: label %s is reserved (every figure carries the record\'s own): use another name' % (where, key))
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise RecordError('%s.%s must be a string' % (where, key))
        text = str(text)
        if len(text) > LABEL_VALUE_MAX or '\x00' in text:
            raise RecordError('%s.%s is longer than %d characters or holds a NUL byte' % (where, key, LABEL_VALUE_MAX))
        labels[key] = text
    return labels


def _figures(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError('%s must be a dict of figure names to numbers' % where)
    if len(value) > FIGURES_MAX:
        raise RecordError('%s holds %d figures, more than %d' % (where, len(value), FIGURES_MAX))
    figures = {}
    for name, figure in value.items():
        spot = '%s.%s' % (where, name)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise RecordError('%s: %r is not a figure name (lower case, digits, underscores, starting with a letter)' % (where, name))
        if isinstance(figure, list):
            if len(figure) > SAMPLES_MAX:
                raise RecordError('%s holds %d samples, more than %d' % (spot, len(figure), SAMPLES_MAX))
            samples, seen = [], set()
            for index, sample in enumerate(figure):
                if not isinstance(sample, dict) or set(sample) - {'labels', 'value'} or 'value' not in sample:
                    raise RecordError('%s[%d] must be {"labels": {...}, "value": number}' % (spot, index))
                labels = _labels(sample.get('labels') or {}, '%s[%d].labels' % (spot, index))
                key = tuple(sorted(labels.items()))
                if key in seen:
                    raise RecordError('%s[%d]: the labels %s appear twice' % (spot, index, labels))
                seen.add(key)
                samples.append({'labels': labels, 'value': _number(sample['value'], '%s[%d].value' % (spot, index))})
            figures[name] = samples
        else:
            figures[name] = _number(figure, spot)
    return figures


def validate(record, where='record'):
    """The record, checked and normalized (time in UTC); RecordError naming ``where`` and the field otherwise."""
    if not isinstance(record, dict):
        raise RecordError('%s must be a dict, got %s' % (where, type(record).__name__))
    unknown = sorted(set(record) - set(FIELDS), key=str)
    if unknown:
        raise RecordError('%s has unknown fields: %s (a check record has %s)' % (where, ', '.join(str(k) for k in unknown), ', '.join(FIELDS)))
    for field in ('time', 'environment', 'check', 'status'):
        if record.get(field) in (None, ''):
            raise RecordError('%s has no %s' % (where, field))
    environment = record['environment']
    if not isinstance(environment, str) or not ENVIRONMENT_RE.match(environment):
        raise RecordError('%s.environment %r is not an inventory host name (letters, digits, dots, dashes, underscores)'
                          % (where, str(environment)[:64]))
    check = record['check']
    if not isinstance(check, str) or not NAME_RE.match(check):
        raise RecordError('%s.check %r is not a check name (lower case, digits, underscores, starting with a letter)' % (where, str(check)[:64]))
    status = record['status']
    if status not in STATUSES:
        raise RecordError('%s.status %r is not one of %s' % (where, str(status)[:32], ', '.join(STATUSES)))
    run = record.get('run') or 'adhoc'
    if run not in RUNS:
        raise RecordError('%s.run %r is not one of %s' % (where, str(run)[:32], ', '.join(RUNS)))
    summary = record.get('summary') or ''
    if not isinstance(summary, str):
        raise RecordError('%s.summary must be a string' % where)
    summary = summary.replace('\x00', '')[:SUMMARY_MAX]
    job_id = record.get('job_id')
    if job_id in ('', None):
        job_id = None
    else:
        job_id = str(job_id)
        if not JOB_ID_RE.match(job_id):
            raise RecordError('%s.job_id %r is not a job id (1 to 64 letters, digits and _.:-)' % (where, job_id[:64]))
    affected = record.get('affected') or []
    if not isinstance(affected, list) or len(affected) > AFFECTED_MAX or not all(
            isinstance(name, str) and 0 < len(name) <= LABEL_VALUE_MAX and '\x00' not in name for name in affected):
        raise RecordError('%s.affected must be a list of at most %d names (the services or objects affected)' % (where, AFFECTED_MAX))
    return {
        'time': format_time(parse_time(record['time'], '%s.time' % where)),
        'environment': environment,
        'run': run,
        'check': check,
        'status': status,
        'summary': summary,
        'figures': _figures(record.get('figures'), '%s.figures' % where),
        'job_id': job_id,
        'affected': list(affected),
    }


def validate_all(records, option='records'):
    """Every record of the list validated; RecordError naming ``option[index]`` for the first bad one."""
    if not isinstance(records, list):
        raise RecordError('%s must be a list of check records' % option)
    return [validate(record, '%s[%d]' % (option, index)) for index, record in enumerate(records)]


def scalar(record, name, reduce=min):
    """A figure of a record as one number: the figure itself, or ``reduce`` of its samples (None when absent)."""
    figure = record['figures'].get(name)
    if figure is None:
        return None
    if isinstance(figure, list):
        values = [sample['value'] for sample in figure]
        return reduce(values) if values else None
    return figure
