# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Log searches: the runbook's three queries as presets, exact counts, aggregations, samples, and an NDJSON export.

A search's figures are only as good as what the cluster searched. Two answers
that look like "0 errors" are not: an index pattern that matches no index
(``_shards.total`` is 0) and a search where shards failed or timed out (partial
results). The first is ``unknown`` (configurable), the second at least a
``warning`` naming how many shards failed and why.

The export pages through a point in time with ``search_after`` (not scroll, not
``from`` past 10 000): one page in memory at a time, written to a private
temporary file that is published under its final name only when every page came
back from every shard.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os

from ansible_collections.dsr.ops.plugins.module_utils._status import (
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
from ansible_collections.dsr.ops.plugins.module_utils._elastic.client import ElasticConnectionError, ElasticError, ElasticRequestError
from ansible_collections.dsr.ops.plugins.module_utils._backup.files import TempFile, naming, remove_stale_temp_files, sha256_file
from ansible_collections.dsr.ops.plugins.module_utils._times import parse_time

MATCH_TYPES = ('match', 'match_phrase', 'term')
OUTCOMES = (OK, WARNING, CRITICAL, UNKNOWN)
DEFAULT_TIME_FIELD = '@timestamp'
MAX_SAMPLE = 100
MAX_FAILURES_SHOWN = 5
MAX_PAGE = 10000

# The runbook's three queries (System Monitoring -> Log Monitoring; Security Operations -> Daily Security
# Monitoring). The runbook's "match message: authentication failed" matches either word ("failed
# payment" counts); the preset asks for the phrase.
PRESETS = {
    'errors': {'index': 'dsr-logs-*', 'field': 'level', 'value': 'ERROR', 'match_type': 'match', 'since': 3600.0},
    'auth_failures': {'index': 'dsr-logs-*', 'field': 'message', 'value': 'authentication failed', 'match_type': 'match_phrase', 'since': 3600.0},
    'security_high': {'index': 'security-logs-*', 'field': 'severity', 'value': 'high', 'match_type': 'match', 'since': 86400.0},
}

_DEFAULTS = {
    'index': None, 'field': None, 'value': None, 'match_type': 'match', 'query': None, 'since': None, 'from': None, 'to': None,
    'time_field': DEFAULT_TIME_FIELD, 'group_by': [], 'group_size': 10, 'histogram_interval': None, 'sample_size': 5, 'sample_fields': None,
    'warning': None, 'critical': None, 'bucket_warning': None, 'bucket_critical': None, 'on_no_index': UNKNOWN,
    'export_path': None, 'export_max_hits': 100000, 'export_fields': None, 'export_page_size': 1000,
}


class SearchDefinitionError(ValueError):
    """A search entry that cannot run; the message names the option and the fix."""


def iso(moment):
    """``2026-12-02T10:00:00.000Z``: what Elasticsearch's strict_date_optional_time reads and writes."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (moment.microsecond // 1000)


def resolve_searches(entries, now, parse_duration):
    """Complete every entry from its preset and the defaults; return the list, or raise SearchDefinitionError."""
    entries = entries if entries is not None else [{'name': name} for name in PRESETS]
    if not entries:
        raise SearchDefinitionError('searches is empty: leave it out for the runbook presets (%s), or give at least one' % ', '.join(PRESETS))
    resolved, names, exports = [], set(), set()
    for position, entry in enumerate(entries):
        label = 'searches[%d]' % position
        name = entry.get('name')
        if not name:
            raise SearchDefinitionError('%s.name is required' % label)
        if name in names:
            raise SearchDefinitionError('%s.name %r is used twice: names key the results' % (label, name))
        names.add(name)
        search = dict(_DEFAULTS, name=name)
        preset = entry.get('preset') or (name if name in PRESETS else None)
        if preset is not None:
            if preset not in PRESETS:
                raise SearchDefinitionError('%s.preset must be one of %s, got %r' % (label, ', '.join(PRESETS), preset))
            search.update(PRESETS[preset])
        search['preset'] = preset
        if entry.get('from') is not None:
            # from replaces a preset's since; both in one entry contradict each other
            if entry.get('since') is not None:
                raise SearchDefinitionError('%s: use since or from, not both' % label)
            search['since'] = None
        search.update({key: value for key, value in entry.items() if value is not None and key not in ('name', 'preset')})
        resolved.append(_check_search(search, label, now, parse_duration, exports))
    return resolved


def _check_search(search, label, now, parse_duration, exports):
    if not search['index'] or not str(search['index']).strip():
        raise SearchDefinitionError('%s.index is required for a search without a preset (for example dsr-logs-*)' % label)
    if search['query'] is not None:
        if not isinstance(search['query'], dict) or len(search['query']) != 1:
            raise SearchDefinitionError('%s.query must be one query DSL clause such as {"match": {"level": "ERROR"}}, got %r'
                                        % (label, search['query']))
    elif not search['field'] or search['value'] is None:
        raise SearchDefinitionError('%s needs field and value (what to match) or query (a query DSL clause)' % label)
    if search['match_type'] not in MATCH_TYPES:
        raise SearchDefinitionError('%s.match_type must be one of %s' % (label, ', '.join(MATCH_TYPES)))
    window_from, window_to = _window(search, label, now, parse_duration)
    search['window'] = {'from': window_from, 'to': window_to}
    for key, low, high in (('group_size', 1, 10000), ('sample_size', 0, MAX_SAMPLE), ('export_max_hits', 1, None),
                           ('export_page_size', 1, MAX_PAGE)):
        value = search[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            raise SearchDefinitionError('%s.%s must be a whole number from %d%s, got %r' % (label, key, low, ' to %d' % high if high else '', value))
    if search['histogram_interval'] is not None:
        try:
            seconds = parse_duration(search['histogram_interval'], '%s.histogram_interval' % label)
        except ValueError as exc:
            raise SearchDefinitionError(str(exc)) from None
        if seconds != int(seconds) or seconds < 1:
            raise SearchDefinitionError('%s.histogram_interval must be whole seconds or more, got %r' % (label, search['histogram_interval']))
        span = (window_to - window_from).total_seconds()
        if span / seconds > 1000:
            raise SearchDefinitionError('%s.histogram_interval %r makes %d buckets over the window; use a longer interval (at most 1000 buckets)'
                                        % (label, search['histogram_interval'], span / seconds))
        search['histogram_seconds'] = int(seconds)
    if not isinstance(search['group_by'], list) or not all(isinstance(field, str) and field for field in search['group_by']):
        raise SearchDefinitionError('%s.group_by must be a list of field names (keyword fields, such as service.keyword)' % label)
    try:
        validate_thresholds('%s hits' % label, search['warning'], search['critical'])
        validate_thresholds('%s per bucket' % label, search['bucket_warning'], search['bucket_critical'])
    except ThresholdError as exc:
        raise SearchDefinitionError(str(exc)) from None
    if search['on_no_index'] not in OUTCOMES:
        raise SearchDefinitionError('%s.on_no_index must be one of %s' % (label, ', '.join(OUTCOMES)))
    if search['export_path']:
        path = os.path.abspath(search['export_path'])
        if path in exports:
            raise SearchDefinitionError('%s.export_path %s is the export of another search too' % (label, path))
        exports.add(path)
        if not os.path.isdir(os.path.dirname(path)):
            raise SearchDefinitionError('%s.export_path: the directory %s does not exist; create it (mode 0700: exports hold personal data)'
                                        % (label, os.path.dirname(path)))
        if os.path.isdir(path):
            raise SearchDefinitionError('%s.export_path %s is a directory; give the path of the NDJSON file to write' % (label, path))
        search['export_path'] = path
    return search


def _window(search, label, now, parse_duration):
    if search['from'] is None and search['since'] is None:
        raise SearchDefinitionError('%s needs a time window: since (such as 1h) or from' % label)
    try:
        window_to = parse_time(search['to'], '%s.to' % label) if search['to'] is not None else now
        if search['from'] is not None:
            window_from = parse_time(search['from'], '%s.from' % label)
        else:
            since = search['since']
            since = since if isinstance(since, float) else parse_duration(since, '%s.since' % label)
            window_from = window_to - datetime.timedelta(seconds=since)
    except ValueError as exc:
        raise SearchDefinitionError(str(exc)) from None
    if window_from >= window_to:
        raise SearchDefinitionError('%s: the window starts (%s) after it ends (%s)' % (label, iso(window_from), iso(window_to)))
    return window_from, window_to


def query_clause(search):
    """The bool query: the time window and the condition, both as filters (counts need no scoring)."""
    time_range = {search['time_field']: {'gte': iso(search['window']['from']), 'lte': iso(search['window']['to']),
                                         'format': 'strict_date_optional_time'}}
    if search['query'] is not None:
        condition = copy.deepcopy(search['query'])
    else:
        condition = {search['match_type']: {search['field']: search['value']}}
    return {'bool': {'filter': [{'range': time_range}, condition]}}


def aggregation_name(field):
    """The name of a field's terms aggregation in the request."""
    return 'by:' + field


def search_body(search):
    """The ``_search`` body for a search: exact count, aggregations, the newest hits as a sample."""
    body = {
        'size': search['sample_size'],
        'track_total_hits': True,
        'query': query_clause(search),
        'sort': [{search['time_field']: {'order': 'desc'}}],
    }
    if search['sample_fields'] is not None:
        body['_source'] = list(search['sample_fields'])
    aggs = {}
    for field in search['group_by']:
        aggs[aggregation_name(field)] = {'terms': {'field': field, 'size': search['group_size']}}
    if search.get('histogram_seconds'):
        window = search['window']
        aggs['histogram'] = {'date_histogram': {
            'field': search['time_field'], 'fixed_interval': '%ds' % search['histogram_seconds'], 'min_doc_count': 0,
            'extended_bounds': {'min': _epoch_ms(window['from']), 'max': _epoch_ms(window['to'])}}}
    if aggs:
        body['aggs'] = aggs
    return body


def _epoch_ms(moment):
    return int(moment.timestamp() * 1000)


def shard_problem(payload):
    """``None``, or why the answer is partial: shards that failed (with their reasons) or a search that timed out."""
    shards = payload.get('_shards') if isinstance(payload.get('_shards'), dict) else {}
    failed = shards.get('failed') or 0
    parts = []
    if failed:
        reasons = []
        for failure in (shards.get('failures') or [])[:MAX_FAILURES_SHOWN]:
            if not isinstance(failure, dict):
                continue
            cause = failure.get('reason') if isinstance(failure.get('reason'), dict) else {}
            text = '%s: %s' % (cause.get('type', 'error'), cause.get('reason', 'no reason given'))
            if failure.get('index'):
                text = '%s shard %s: %s' % (failure['index'], failure.get('shard', '?'), text)
            reasons.append(text)
        parts.append('%d of %s shards failed%s' % (failed, shards.get('total', '?'), ' (%s)' % '; '.join(reasons) if reasons else ''))
    if payload.get('timed_out'):
        parts.append('the search timed out')
    return 'partial results: ' + ', '.join(parts) if parts else None


def _total(payload):
    hits = payload.get('hits') if isinstance(payload.get('hits'), dict) else {}
    total = hits.get('total')
    if isinstance(total, dict):
        return total.get('value'), total.get('relation', 'eq')
    if isinstance(total, int):
        return total, 'eq'
    return None, None


def _buckets(payload, search):
    aggregations = payload.get('aggregations') if isinstance(payload.get('aggregations'), dict) else {}
    groups, flagged, statuses = {}, [], []
    for field in search['group_by']:
        agg = aggregations.get(aggregation_name(field)) or {}
        buckets = []
        for bucket in agg.get('buckets') or []:
            count = bucket.get('doc_count', 0)
            status = evaluate(count, search['bucket_warning'], search['bucket_critical'])
            entry = {'key': bucket.get('key_as_string', bucket.get('key')), 'count': count, 'status': status}
            buckets.append(entry)
            statuses.append(status)
            if status != OK:
                flagged.append({'field': field, 'key': entry['key'], 'count': count, 'status': status})
        groups[field] = {'buckets': buckets, 'other_count': agg.get('sum_other_doc_count', 0),
                         'error_bound': agg.get('doc_count_error_upper_bound', 0)}
    histogram = None
    if search.get('histogram_seconds'):
        histogram = [{'time': bucket.get('key_as_string') or iso(datetime.datetime.fromtimestamp(bucket['key'] / 1000.0, datetime.timezone.utc)),
                      'count': bucket.get('doc_count', 0)}
                     for bucket in (aggregations.get('histogram') or {}).get('buckets') or [] if 'key' in bucket]
    return groups, histogram, flagged, statuses


def _sample(payload, search):
    hits = payload.get('hits') if isinstance(payload.get('hits'), dict) else {}
    sample = []
    for hit in (hits.get('hits') or [])[:search['sample_size']]:
        if isinstance(hit, dict):
            sample.append({'index': hit.get('_index'), 'id': hit.get('_id'), 'source': hit.get('_source', {})})
    return sample


def _describe(search):
    if search['query'] is not None:
        return 'query %s' % json.dumps(search['query'], sort_keys=True)
    return '%s %s %r' % (search['field'], search['match_type'], search['value'])


def _base(search, body):
    return {'index': search['index'], 'preset': search['preset'], 'condition': _describe(search),
            'window': {'from': iso(search['window']['from']), 'to': iso(search['window']['to'])}, 'request': body}


def run_search(client, search, check_mode=False):
    """One search: its Check (status, message and figures)."""
    body = search_body(search)
    base = _base(search, body)
    try:
        payload = client.search(search['index'], body)
    except ElasticRequestError as exc:
        hint = ''
        if exc.error_type in ('illegal_argument_exception', 'search_phase_execution_exception') and 'Fielddata' in str(exc):
            hint = '; group_by needs keyword fields (such as service.keyword)'
        what = 'index %s not found' % search['index'] if exc.error_type == 'index_not_found_exception' else 'the search was refused'
        return Check.unknown(search['name'], '%s: %s%s' % (what, exc, hint), **base)
    except ElasticConnectionError as exc:
        return Check.unknown(search['name'], str(exc), **base)
    shards = payload.get('_shards') if isinstance(payload.get('_shards'), dict) else {}
    count, relation = _total(payload)
    figures = dict(base, count=count, count_relation=relation, timed_out=bool(payload.get('timed_out')),
                   shards={key: shards.get(key, 0) for key in ('total', 'successful', 'skipped', 'failed')})
    if shards.get('total', 0) == 0:
        status = search['on_no_index']
        return Check(search['name'], status, 'the index pattern %s matches no index: nothing was searched (not "0 hits")' % search['index'],
                     **figures)
    if count is None or relation != 'eq':
        return Check.unknown(search['name'], 'the answer has no exact hit count (hits.total %r)' % (payload.get('hits') or {}).get('total'),
                             **figures)
    groups, histogram, flagged, bucket_statuses = _buckets(payload, search)
    figures.update(groups=groups, flagged=flagged, sample=_sample(payload, search))
    if histogram is not None:
        figures['histogram'] = histogram
    count_status = evaluate(count, search['warning'], search['critical'])
    status = worst([count_status] + bucket_statuses)
    window = base['window']
    msg = '%d hits for %s in %s from %s to %s%s' % (count, _describe(search), search['index'], window['from'], window['to'],
                                                    _limits(search['warning'], search['critical']))
    if flagged:
        msg += '; %d buckets over their limits (%s)' % (len(flagged), ', '.join('%s=%s: %d' % (f['field'], f['key'], f['count']) for f in flagged[:5]))
    problem = shard_problem(payload)
    if problem:
        status = worst([status, WARNING])
        msg = '%s; %s' % (problem, msg)
    if search['export_path']:
        figures['export'] = export_hits(client, search, check_mode, expected=count)
        if figures['export'].get('error'):
            status = worst([status, WARNING])
            msg += '; export failed: %s' % figures['export']['error']
        elif figures['export'].get('truncated'):
            msg += '; export stopped at export_max_hits=%d of %d hits' % (search['export_max_hits'], count)
    return Check(search['name'], status, msg, **figures)


def _limits(warning, critical):
    parts = ['%s > %g' % (label, limit) for label, limit in (('warning', warning), ('critical', critical)) if limit is not None]
    return ' (%s)' % ', '.join(parts) if parts else ''


def export_hits(client, search, check_mode, expected):
    """Write every matching hit (up to export_max_hits) to export_path as NDJSON, newest first; a dict describing the export."""
    path = search['export_path']
    planned = min(expected, search['export_max_hits'])
    result = {'path': path, 'planned_hits': planned, 'hits': 0, 'truncated': expected > search['export_max_hits'], 'changed': False}
    if check_mode:
        # whether the file would differ is only known by fetching every hit: check mode says it would be written
        result.update(changed=True, msg='check mode: would write %d hits to %s' % (planned, path))
        return result
    directory, final = os.path.dirname(path), os.path.basename(path)
    remove_stale_temp_files(directory, lambda name: name == final)
    try:
        pit = client.open_pit(search['index'], '2m')
    except ElasticError as exc:
        result['error'] = 'cannot open a point in time: %s' % exc
        return result
    digest = hashlib.sha256()
    try:
        with TempFile(directory, final) as temp:
            with naming(temp.path), temp.writer() as handle:
                written, problem = _pages(client, search, pit, handle, digest)
                pit = problem.pop('pit')
            if problem.get('error'):
                result['error'] = problem['error']
                return result
            result['hits'] = written
            result['sha256'] = digest.hexdigest()
            result['bytes'] = os.path.getsize(temp.path)
            result['changed'] = _differs(path, result['sha256'])
            if result['changed']:
                temp.publish(path)
    except ElasticError as exc:
        result['error'] = str(exc)
    finally:
        try:
            client.close_pit(pit)
        except ElasticError as exc:
            result['pit_warning'] = 'the point in time was not closed (the cluster frees it after 2m): %s' % exc
    return result


def _pages(client, search, pit, handle, digest):
    sort = [{search['time_field']: {'order': 'desc'}}]
    tiebreaker = client.tiebreaker()
    if tiebreaker:
        sort.append(tiebreaker)
    query = query_clause(search)
    written, after = 0, None
    while written < search['export_max_hits']:
        body = {'size': min(search['export_page_size'], search['export_max_hits'] - written), 'query': query, 'sort': sort,
                'pit': {'id': pit, 'keep_alive': '2m'}, 'track_total_hits': False}
        if search['export_fields'] is not None:
            body['_source'] = list(search['export_fields'])
        if after is not None:
            body['search_after'] = after
        payload = client.search_pit(body)
        pit = payload.get('pit_id') or pit
        problem = shard_problem(payload)
        if problem:
            # an export that silently lacks a shard's hits would mislead an investigation: nothing is published
            return written, {'pit': pit, 'error': 'not published, %s' % problem}
        hits = (payload.get('hits') or {}).get('hits') or []
        if not hits:
            break
        for hit in hits:
            line = json.dumps({'_index': hit.get('_index'), '_id': hit.get('_id'), '_source': hit.get('_source', {})},
                              sort_keys=True, separators=(',', ':')).encode('utf-8') + b'\n'
            handle.write(line)
            digest.update(line)
        written += len(hits)
        after = hits[-1].get('sort')
        if not after:
            return written, {'pit': pit, 'error': 'the server returned hits without sort values; cannot page on'}
    return written, {'pit': pit}


def _differs(path, sha256):
    try:
        return sha256_file(path)[0] != sha256
    except FileNotFoundError:
        return True


def run_searches(client, searches, check_mode=False):
    """Connect, run every search; the module's result (status, summary, checks, cluster, changed)."""
    try:
        cluster = client.connect()
    except ElasticConnectionError as exc:
        checks = [Check.unknown(search['name'], str(exc), **_base(search, search_body(search))) for search in searches]
        return _result(checks, None, client, reachable=False)
    checks = [run_search(client, search, check_mode) for search in searches]
    return _result(checks, cluster.as_dict(), client, reachable=True)


def _result(checks, cluster, client, reachable):
    status, summary = summarize(checks)
    warnings = []
    changed = False
    for check in checks:
        export = check.figures.get('export') or {}
        changed = changed or bool(export.get('changed'))
        if export.get('pit_warning'):
            warnings.append('%s: %s' % (check.name, export['pit_warning']))
    return {'status': status, 'summary': summary, 'checks': {check.name: check.as_dict() for check in checks}, 'cluster': cluster,
            'reachable': reachable, 'requests': client.requests, 'changed': changed, 'warnings': warnings}
