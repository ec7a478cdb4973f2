# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A check module's registered result turned into one check record (behind the ``dsr.ops.check_record`` filter).

One pure function per kind of result reads what that module returns (its RETURN
documentation is the contract) and gives ``(status, summary, figures, affected)``;
:func:`build_record` wraps that into a record that passed ``records.validate``.

Nothing is guessed: a figure is only what the result holds (converted to the
record's units - percent to a 0..1 ratio, milliseconds to seconds), and a
figure that is not a finite number is left out. Summaries are the modules' own
(already scrubbed of secrets) with, at most, a backup's file name and age added.

Before any kind is looked at, three results are answered the same way for all:
no result (``None``) or a task skipped by ``when`` is ``skipped``; a module that
failed before it could judge (``failed`` and no ``status``: bad options, a
missing library) or a host that could not be reached is ``unknown`` with the
module's message.
"""

from __future__ import annotations

import datetime
import math
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec
from ansible_collections.dsr.ops.plugins.module_utils._status import CRITICAL, OK, SKIPPED, STATUSES, UNKNOWN, WARNING

MSG_MAX = 300
# the daily_ops role's default for the S3 listing: a nightly backup plus two hours' slack
DEFAULT_MAX_AGE_SECONDS = 26 * 3600
# pg_stat_statements' mean execution time over which a statement counts as slow
DEFAULT_SLOW_QUERY_MS = 1000.0
DEFAULT_SKIP_REASON = 'not configured'


class ExtractError(ValueError):
    """The arguments of an extraction make no sense (an unknown option, a bad threshold); ``str()`` says which."""


def one_line(text, limit=rec.SUMMARY_MAX):
    """``text`` on one line (runs of white space, newlines included, become one space), cut to ``limit`` characters."""
    text = re.sub(r'\s+', ' ', str(text).replace('\x00', '')).strip()
    if len(text) > limit:
        text = text[:limit - 3].rstrip() + '...'
    return text


def number(value):
    """``value`` when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clean_figures(figures):
    """The figures with every value that is not a finite number dropped (samples one by one; an empty list dropped)."""
    out = {}
    for name, value in (figures or {}).items():
        if not isinstance(name, str) or not rec.NAME_RE.match(name):
            continue
        if isinstance(value, list):
            samples, seen = [], set()
            for sample in value:
                if not isinstance(sample, dict) or number(sample.get('value')) is None:
                    continue
                labels = {str(k): str(v)[:rec.LABEL_VALUE_MAX] for k, v in (sample.get('labels') or {}).items()}
                key = tuple(sorted(labels.items()))
                if key in seen:
                    continue
                seen.add(key)
                samples.append({'labels': labels, 'value': sample['value']})
            if samples:
                out[name] = samples[:rec.SAMPLES_MAX]
        elif number(value) is not None:
            out[name] = value
    return out


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _epoch(text):
    """Seconds since the epoch of an ISO 8601 time with a zone, or None."""
    try:
        return rec.parse_time(text).timestamp()
    except rec.RecordError:
        return None


def _status_and_summary(result):
    status = result.get('status')
    summary = result.get('summary')
    if status not in STATUSES:
        return UNKNOWN, 'unknown: the result has no status this collection knows (%s)' % one_line(status, 32)
    return status, one_line(summary or status)


def age_text(seconds):
    """``45s``, ``12m``, ``25h12m``, ``3d04h``: an age as the runbook's people read it."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return '%ds' % seconds
    if seconds < 7200:
        return '%dm' % (seconds // 60)
    if seconds < 48 * 3600:
        return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)
    return '%dd%02dh' % (seconds // 86400, seconds % 86400 // 3600)


# kubernetes (k8s_health)

def kubernetes(result, **_options):
    """Workloads counted from ``workloads`` (what was read) and ``checks`` (the verdict on each)."""
    status, summary = _status_and_summary(result)
    if result.get('reachable') is False and result.get('error'):
        # every check says only that it could not look; the module says why once
        summary = '%s: %s' % (status, one_line(result['error'], MSG_MAX))
    workloads = _dict(result.get('workloads'))
    checks = _dict(result.get('checks'))
    unhealthy, down, undetermined = [], 0, 0
    for name, detail in workloads.items():
        detail = _dict(detail)
        verdict = _dict(checks.get(name)).get('status')
        if verdict != OK:
            unhealthy.append(name)
        if not detail.get('found'):
            # critical: looked and it is not there; anything else (unknown): could not look
            if verdict == CRITICAL:
                down += 1
            elif verdict != OK:
                undetermined += 1
            continue
        desired = number(detail.get('desired')) or 0
        available, ready = number(detail.get('available')), number(detail.get('ready'))
        if desired > 0 and (available == 0 or ready == 0):
            down += 1
        elif desired == 0 and verdict != OK:
            # scaled to zero and judged so: nothing serves
            down += 1
    figures = {'workloads_total': len(workloads), 'workloads_unhealthy': len(unhealthy),
               'problem_pods': len(_list(result.get('problem_pods')))}
    # an API server that did not answer says nothing about what is down
    if result.get('reachable') is not False and not undetermined:
        figures['workloads_down'] = down
    nodes = _dict(checks.get('nodes'))
    if isinstance(nodes.get('not_ready'), list):
        figures['nodes_not_ready'] = len(nodes['not_ready'])
    return status, summary, figures, unhealthy


# database (pg_health)

def database(result, database=None, **_options):
    """Reachability, connections, the monitored database's size and the replication lag from ``checks``."""
    status, summary = _status_and_summary(result)
    checks = _dict(result.get('checks'))
    figures = {}
    reachable = _dict(checks.get('reachability')).get('reachable')
    if isinstance(reachable, bool):
        figures['reachable'] = 1 if reachable else 0
    connections = _dict(checks.get('connections'))
    figures['connections'] = connections.get('total')
    figures['max_connections'] = connections.get('max_connections')
    sizes = _dict(_dict(checks.get('database_sizes')).get('databases'))
    name = database or _dict(result.get('connection')).get('database')
    if name not in sizes and len(sizes) == 1:
        name = next(iter(sizes))
    if name in sizes:
        figures['database_size_bytes'] = _dict(sizes[name]).get('size_bytes')
    replication = _dict(checks.get('replication'))
    if replication.get('role') == 'standby':
        figures['replication_lag_seconds'] = replication.get('lag_seconds')
    else:
        lags = [number(_dict(s).get('lag_seconds')) for s in _list(replication.get('standbys'))]
        lags = [lag for lag in lags if lag is not None]
        if lags:
            figures['replication_lag_seconds'] = max(lags)
    affected = ['database'] if status not in (OK, SKIPPED) else []
    return status, summary, figures, affected


# backup (pg_backup_verify, s3_backup mode=list)

# the sub-checks of pg_backup_verify that prove the file is the backup its manifest describes
_PROOF_CHECKS = ('manifest', 'checksum', 'decompression', 'contents', 'restore_test')


def pg_backup_verify(result, **_options):
    """The verified backup's start, size and age; its start counts as a success only when every proof passed."""
    status, summary = _status_and_summary(result)
    checks = _dict(result.get('checks'))
    figures = {}
    proofs = [_dict(checks.get(name)).get('status') for name in _PROOF_CHECKS if name in checks]
    proven = _dict(checks.get('checksum')).get('status') == OK and all(s in (OK, WARNING, SKIPPED) for s in proofs)
    started = _epoch(result.get('started_at')) if result.get('started_at') else None
    if proven and started is not None:
        figures['backup_last_success_timestamp_seconds'] = int(started)
    figures['backup_size_bytes'] = _dict(checks.get('checksum')).get('size_bytes')
    age = number(_dict(checks.get('freshness')).get('age_seconds'))
    figures['backup_age_seconds'] = age
    if result.get('path'):
        summary = '%s (%s%s)' % (summary, os.path.basename(str(result['path'])), ', %s old' % age_text(age) if age is not None else '')
    return status, summary, figures, []


def s3_backup_list(result, now=None, max_age_seconds=DEFAULT_MAX_AGE_SECONDS, **_options):
    """The newest verified backup of the listing (``backups``, newest first), judged against ``max_age_seconds``."""
    limit = number(max_age_seconds)
    if limit is None or limit <= 0:
        raise ExtractError('max_age_seconds must be a positive number of seconds, got %r' % (max_age_seconds,))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    listed = [_dict(b) for b in _list(result.get('backups'))]
    if 'backups' in result:
        # a backup whose object disagrees with its manifest is not one to restore, whatever its record says
        verified = [b for b in listed if b.get('verified') is True and not b.get('problem')]
    else:
        verified = [_dict(result['newest_verified'])] if isinstance(result.get('newest_verified'), dict) else []
    where = 'bucket %s' % one_line(result.get('bucket'), 100) if result.get('bucket') else 'the bucket'
    notes = []
    if result.get('malformed'):
        notes.append('%d malformed manifest(s) skipped' % len(_list(result['malformed'])))
    if not verified:
        database = next((b.get('database') for b in listed if b.get('database')), None)
        summary = 'critical: no verified backup%s in %s (%d listed)' % (' of %s' % database if database else '', where, len(listed))
        return CRITICAL, '; '.join([summary] + notes), {}, []
    newest = verified[0]
    figures = {}
    started = _epoch(newest.get('started_at'))
    name = os.path.basename(str(newest.get('key') or '?'))
    if started is None:
        return UNKNOWN, 'unknown: the newest verified backup %s has no readable started_at' % name, {}, []
    age = max(0.0, now.timestamp() - started)
    figures['backup_last_success_timestamp_seconds'] = int(started)
    figures['backup_age_seconds'] = round(age, 1)
    figures['backup_size_bytes'] = newest.get('size_bytes')
    figures['backup_duration_seconds'] = _dict(newest.get('manifest')).get('duration_seconds')
    status = CRITICAL if age > limit else OK
    summary = '%s: newest verified backup %s is %s old (max %s)' % (status, name, age_text(age), age_text(limit))
    newer = listed.index(newest) if newest in listed else 0
    if newer:
        notes.append('%d newer backup(s) not verified' % newer)
    return status, '; '.join([summary] + notes), figures, []


def backup(result, **options):
    """pg_backup_verify's result, or s3_backup's listing (``mode: list``)."""
    if result.get('mode') == 'list' or 'newest_verified' in result:
        return s3_backup_list(result, **options)
    return pg_backup_verify(result, **options)


# metrics (metrics_check)

# built-in check -> (figure, the unit it must be in, factor to the figure's unit)
_METRICS = {
    'response_time_p95': ('p95_latency_seconds', 'seconds', 1.0),
    'error_rate': ('http_5xx_ratio', 'percent', 0.01),
    'disk_usage': ('disk_used_ratio', 'percent', 0.01),
    'cpu_usage': ('cpu_used_ratio', 'percent', 0.01),
    'memory_usage': ('memory_used_ratio', 'percent', 0.01),
    'db_connections': ('connections_used_ratio', 'percent', 0.01),
}


def metrics(result, **_options):
    """The worst value of each built-in key metric (the highest: all are higher-is-worse), in the record's units."""
    status, summary = _status_and_summary(result)
    checks = _dict(result.get('checks'))
    figures = {}
    for name, (figure, unit, factor) in _METRICS.items():
        check = _dict(checks.get(name))
        # a check of that name redefined in other units is not the key metric
        if check.get('unit') != unit:
            continue
        if check.get('comparison') in ('gt', 'ge'):
            value = number(check.get('value'))
        else:
            values = [number(_dict(s).get('value')) for s in _list(check.get('series'))]
            value = max((v for v in values if v is not None), default=None)
        if value is not None:
            figures[figure] = round(value * factor, 6) if factor != 1.0 else value
    targets = _dict(checks.get('scrape_targets'))
    if isinstance(targets.get('series'), list) and number(targets.get('series_total')) is not None:
        figures['scrape_targets_total'] = targets['series_total']
        figures['scrape_targets_down'] = sum(1 for s in targets['series'] if _dict(s).get('status') != OK)
    affected = [name for name, check in checks.items() if _dict(check).get('status') not in (OK, SKIPPED)]
    return status, summary, figures, affected


# errors (log_search)

def _errors_search(checks):
    if isinstance(checks.get('errors'), dict):
        return checks['errors']
    presets = [c for c in checks.values() if isinstance(c, dict) and c.get('preset') == 'errors']
    if len(presets) == 1:
        return presets[0]
    return next(iter(checks.values())) if len(checks) == 1 and isinstance(next(iter(checks.values())), dict) else None


def errors(result, **_options):
    """``error_count``: the hits of the errors search (named or preset ``errors``, or the only search)."""
    status, summary = _status_and_summary(result)
    search = _errors_search(_dict(result.get('checks')))
    figures = {}
    if search is not None:
        figures['error_count'] = search.get('count')
        if search.get('msg'):
            summary = '%s (%s)' % (summary, one_line(search['msg'], MSG_MAX))
    return status, summary, figures, []


# certificates (cert_expiry)

def certificates(result, **_options):
    """``certificate_days_left`` per target (label ``endpoint``: the target's name); affected: the targets not ok."""
    status, summary = _status_and_summary(result)
    samples, affected = {}, []
    for entry in _list(result.get('certificates')):
        entry = _dict(entry)
        name = one_line(entry.get('name') or '?', rec.LABEL_VALUE_MAX)
        if entry.get('status') != OK and name not in affected:
            affected.append(name)
        days = number(entry.get('days_remaining'))
        if days is not None and (name not in samples or days < samples[name]):
            samples[name] = days
    figures = {'certificate_days_left': [{'labels': {'endpoint': name}, 'value': days} for name, days in samples.items()]}
    return status, summary, figures, affected


# slow queries (pg_maintenance's slow_queries report)

def slow_queries(result, slow_query_ms=DEFAULT_SLOW_QUERY_MS, **_options):
    """``slow_queries``: statements of the report (top ``top_n`` by mean time) at or over ``slow_query_ms``; a warning when any."""
    limit = number(slow_query_ms)
    if limit is None or limit <= 0:
        raise ExtractError('slow_query_ms must be a positive number of milliseconds, got %r' % (slow_query_ms,))
    report = _dict(result.get('reports')).get('slow_queries')
    if not isinstance(report, dict):
        return UNKNOWN, 'unknown: the result has no slow_queries report (run pg_maintenance with reports: [slow_queries])', {}, []
    if report.get('available') is not True:
        # pg_stat_statements not installed: a part this environment has not set up, not a check that failed
        return SKIPPED, one_line('skipped: not configured - %s' % (report.get('reason') or 'the slow query report is not available')), {}, []
    items = [_dict(i) for i in _list(report.get('items'))]
    means = [m for m in (number(i.get('mean_exec_time_ms')) for i in items) if m is not None]
    slow = [m for m in means if m >= limit]
    figures = {'slow_queries': len(slow)}
    where = ' in %s' % one_line(result['database'], 64) if result.get('database') else ''
    if means:
        figures['slowest_query_mean_seconds'] = round(max(means) / 1000.0, 6)
    if slow:
        # every listed statement slow: the report's top_n cut the list, so there may be more
        count = ('at least %d' if len(slow) == len(items) else '%d') % len(slow)
        summary = 'warning: %s statement(s)%s with a mean execution time of %g ms or more (slowest %.0f ms)' % (count, where, limit, max(slow))
        return WARNING, summary, figures, ['database']
    slowest = ' (slowest %.1f ms)' % max(means) if means else ''
    return OK, 'ok: no statement%s with a mean execution time of %g ms or more%s' % (where, limit, slowest), figures, []


# security (access_log_report, pg_access_review)

def access_log_report(result, **_options):
    """Counts of the access log report: failed logins, flagged IPs, requests counted, 5xx and 401 answers."""
    status, summary = _status_and_summary(result)
    figures = {
        'failed_logins': _dict(result.get('failed_logins')).get('total'),
        'flagged_ips': result.get('flagged_total'),
        'requests': _dict(result.get('lines')).get('counted'),
        'server_errors': result.get('server_errors'),
        'unauthorized': result.get('unauthorized'),
    }
    return status, summary, figures, []


def pg_access_review(result, **_options):
    """Open findings by severity, accepted ones, and the parts the login role could not see."""
    status, summary = _status_and_summary(result)
    counts = _dict(result.get('counts'))
    figures = {'findings_%s' % key: counts.get(key) for key in ('critical', 'warning', 'info', 'accepted')}
    if isinstance(result.get('not_visible'), list):
        figures['not_visible'] = len(result['not_visible'])
    return status, summary, figures, []


def security(result, **options):
    """pg_access_review's result (it has ``findings``/``counts``), else access_log_report's."""
    if 'counts' in result or 'findings' in result:
        return pg_access_review(result, **options)
    return access_log_report(result, **options)


def generic(result, **_options):
    """Any other check module: its status and summary, no figures (none is guessed)."""
    status, summary = _status_and_summary(result)
    return status, summary, {}, []


EXTRACTORS = {
    'kubernetes': kubernetes, 'k8s_health': kubernetes,
    'database': database, 'pg_health': database,
    'backup': backup, 'pg_backup_verify': pg_backup_verify, 's3_backup_list': s3_backup_list,
    'metrics': metrics, 'metrics_check': metrics,
    'errors': errors, 'log_search': errors,
    'certificates': certificates, 'cert_expiry': certificates,
    'slow_queries': slow_queries, 'pg_maintenance': slow_queries,
    'security': security, 'access_log_report': access_log_report, 'pg_access_review': pg_access_review,
    'generic': generic,
}
# the options each extractor takes, beyond now: anything else is a mistake worth saying
OPTIONS = {'max_age_seconds': ('backup', 's3_backup_list'), 'slow_query_ms': ('slow_queries', 'pg_maintenance'),
           'database': ('database', 'pg_health')}


def extract(kind, result, now=None, skipped=None, **options):
    """``(status, summary, figures, affected)`` of one module result, by ``kind`` (a check name or a module name).

    ``None`` or a skipped task gives ``skipped`` with ``skipped`` (the reason) or
    ``not configured``; a module that failed before judging, ``unknown`` with its
    message. A kind without an extractor falls back to the result's status and summary.
    """
    unknown_options = sorted(set(options) - set(OPTIONS))
    if unknown_options:
        raise ExtractError('unknown option(s) %s; known: %s' % (', '.join(unknown_options), ', '.join(sorted(OPTIONS))))
    if result is None or (isinstance(result, dict) and result.get('skipped') is True):
        reason = one_line(skipped or DEFAULT_SKIP_REASON, MSG_MAX)
        return SKIPPED, reason if reason.startswith('skipped') else 'skipped: %s' % reason, {}, []
    if not isinstance(result, dict):
        return UNKNOWN, 'unknown: the %s result is a %s, not a module result' % (kind, type(result).__name__), {}, []
    if result.get('unreachable') is True or (result.get('failed') is True and result.get('status') is None):
        msg = one_line(result.get('msg') or 'the module failed without a message', MSG_MAX)
        return UNKNOWN, msg, {}, []
    extractor = EXTRACTORS.get(kind, generic)
    status, summary, figures, affected = extractor(result, now=now, **options)
    affected = [one_line(name, rec.LABEL_VALUE_MAX) for name in affected if name][:rec.AFFECTED_MAX]
    return status, one_line(summary), clean_figures(figures), affected


def job_id_from_environment(environ=None):
    """The AWX job id (``JOB_ID``, else ``AWX_JOB_ID``), or None outside AWX."""
    environ = os.environ if environ is None else environ
    return environ.get('JOB_ID') or environ.get('AWX_JOB_ID') or None


def build_record(result, check, environment, run, kind=None, time=None, job_id=None, skipped=None, **options):
    """One check record of ``result``, validated by ``records.validate`` (RecordError / ExtractError otherwise).

    ``time`` (RFC 3339 text or an aware datetime, default now) is when the check ran
    and the moment ages are counted from.
    """
    if not isinstance(check, str) or not rec.NAME_RE.match(check):
        raise ExtractError('the check name %r is not one ([a-z][a-z0-9_]{0,62})' % (check,))
    if time is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    elif isinstance(time, datetime.datetime):
        if time.tzinfo is None:
            raise ExtractError('time has no time zone')
        moment = time.astimezone(datetime.timezone.utc)
    else:
        moment = rec.parse_time(time, 'time')
    status, summary, figures, affected = extract(kind or check, result, now=moment, skipped=skipped, **options)
    record = {'time': rec.format_time(moment), 'environment': environment, 'run': run, 'check': check, 'status': status,
              'summary': summary, 'figures': figures, 'job_id': job_id, 'affected': affected}
    return rec.validate(record, 'check record %s' % check)


def build_records(results, checks, environment, run, kinds=None, reasons=None, **options):
    """One record per name of ``checks``, in order, from ``results`` (check name -> result; a missing one is skipped).

    ``kinds`` maps a check to its extractor, ``reasons`` a check to why it is skipped
    when its result is missing or skipped. ``options`` go to every record
    (``time``, ``job_id``, and the extractors' options, each given only to the
    extractors that take it).
    """
    kinds, reasons, results = kinds or {}, reasons or {}, results or {}
    shared = {key: options.pop(key) for key in ('time', 'job_id') if key in options}
    if 'time' not in shared:
        shared['time'] = datetime.datetime.now(datetime.timezone.utc)
    unknown_options = sorted(set(options) - set(OPTIONS))
    if unknown_options:
        raise ExtractError('unknown option(s) %s; known: %s' % (', '.join(unknown_options), ', '.join(sorted(list(OPTIONS) + ['time', 'job_id']))))
    out = []
    for check in checks:
        kind = kinds.get(check) or check
        own = {key: value for key, value in options.items() if kind in OPTIONS[key] or check in OPTIONS[key]}
        out.append(build_record(results.get(check), check, environment, run, kind=kind, skipped=reasons.get(check), **dict(shared, **own)))
    return out
