# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stub of the Elasticsearch 8 / 9 and OpenSearch 2 REST API, for tests only. Not a search engine.

No Elasticsearch or OpenSearch can be installed on the test machine, so the
suite tests ``dsr.ops.log_search`` against this stub. It keeps documents in
memory and really evaluates the small query subset the module sends:

* ``GET /`` bodies of the three products, ``X-Elastic-Product: Elasticsearch``
  on the Elastic flavours and not on OpenSearch, and the 400
  ``media_type_header_exception`` an 8.x server gives a 9.x client's
  ``compatible-with=9`` media type;
* basic authentication with the real 401 ``security_exception`` body;
* ``POST /_bulk`` (index/create) with dynamic mapping: strings become ``text``
  with a ``.keyword`` subfield, ``@timestamp`` is a date;
* ``_search`` on comma lists and ``*`` patterns: ``bool`` (must / filter /
  should / must_not), ``range`` on dates (ISO strings, ``now-1h``) and
  numbers, ``match`` (OR of lowercased word tokens on text, exact on keyword),
  ``match_phrase``, ``term``, ``terms``, ``match_all``; ``track_total_hits``,
  ``sort`` on one field, ``search_after``, ``_source`` includes; ``terms`` and
  ``date_histogram`` (``fixed_interval``) aggregations; a missing concrete
  index is a 404, a pattern matching nothing answers ``_shards.total: 0``;
* point in time: ``/_pit`` (Elasticsearch, with the implicit ``_shard_doc``
  tiebreaker in each hit's ``sort``) and ``/_search/point_in_time``
  (OpenSearch, where sorting on ``_id`` is allowed); a PIT is a snapshot;
* ``/_stub/faults`` (``shard_failures``, ``total_shards``, ``timed_out``) and
  ``/_stub/requests`` to observe what the module sent.

Anything else answers 400 ``parsing_exception`` or 404: what the stub does
not know, it refuses rather than guesses. Real servers differ in much more
(scoring, analyzers, shard routing, caching); nothing here says otherwise.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import fnmatch
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

FLAVORS = {
    'es8': {'number': '8.19.3', 'product': 'elasticsearch', 'compatible': ('7', '8')},
    'es9': {'number': '9.1.4', 'product': 'elasticsearch', 'compatible': ('8', '9')},
    'opensearch2': {'number': '2.18.0', 'product': 'opensearch', 'compatible': ()},
}
_WORD = re.compile(r'\w+', re.UNICODE)
_COMPAT = re.compile(r'compatible-with=(\d+)')


def tokens(text):
    """The standard analyzer, roughly: lowercased word tokens."""
    return [token.lower() for token in _WORD.findall(str(text))]


def parse_date(value, now):
    """Epoch milliseconds of an ISO string, epoch millis, or ``now``/``now-1h``-style date math (no rounding)."""
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value)
    match = re.fullmatch(r'now(?:([+-])(\d+)([smhdw]))?', text)
    if match:
        moment = now
        if match.group(1):
            seconds = int(match.group(2)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[match.group(3)]
            moment = moment + datetime.timedelta(seconds=seconds if match.group(1) == '+' else -seconds)
        return int(moment.timestamp() * 1000)
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


class StubError(Exception):
    """An Elasticsearch-shaped error answer."""

    def __init__(self, status, error_type, reason, **extra):
        super().__init__(reason)
        self.status = status
        self.body = {'error': dict({'root_cause': [dict({'type': error_type, 'reason': reason}, **extra)], 'type': error_type,
                                    'reason': reason}, **extra), 'status': status}


class Store:
    """Indices of documents, their dynamic mappings, PITs, faults and the request log."""

    def __init__(self, flavor, now=None):
        self.flavor = flavor
        self.now = now
        self.indices = {}   # name -> list of (id, source)
        self.mappings = {}  # name -> field -> type
        self.pits = {}
        self.faults = {}
        self.requests = []
        self.lock = threading.Lock()

    def current_time(self):
        return self.now or datetime.datetime.now(datetime.timezone.utc)

    def add(self, index, source, doc_id=None):
        docs = self.indices.setdefault(index, [])
        mapping = self.mappings.setdefault(index, {})
        for field, value in _flatten(source):
            if field in mapping:
                continue
            if field == '@timestamp':
                mapping[field] = 'date'
            elif isinstance(value, bool):
                mapping[field] = 'boolean'
            elif isinstance(value, (int, float)):
                mapping[field] = 'long' if isinstance(value, int) else 'float'
            else:
                mapping[field] = 'text'
                mapping[field + '.keyword'] = 'keyword'
        docs.append((doc_id or secrets.token_hex(10), source))

    def resolve(self, expression, allow_no_indices=True):
        """Concrete index names for a comma list of names and patterns; a missing concrete name raises the 404."""
        names = []
        for part in expression.split(','):
            if '*' in part:
                names += [name for name in sorted(self.indices) if fnmatch.fnmatchcase(name, part) and not name.startswith('.')]
            elif part in self.indices:
                names.append(part)
            else:
                raise StubError(404, 'index_not_found_exception', 'no such index [%s]' % part, index=part,
                                **{'resource.type': 'index_or_alias', 'resource.id': part, 'index_uuid': '_na_'})
        return sorted(set(names))


def _flatten(source, prefix=''):
    for key, value in source.items():
        if isinstance(value, dict):
            yield from _flatten(value, prefix + key + '.')
        else:
            yield prefix + key, value


def field_value(source, field):
    """The value of a dotted field (``host.name`` or a literal dotted key); ``.keyword`` reads the string itself."""
    if field.endswith('.keyword'):
        field = field[:-len('.keyword')]
    if field in source:
        return source[field]
    value = source
    for part in field.split('.'):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class Evaluator:
    """Query evaluation against one index's mapping."""

    def __init__(self, mapping, now):
        self.mapping = mapping
        self.now = now

    def kind(self, field):
        return self.mapping.get(field)

    def matches(self, query, source):
        if not isinstance(query, dict) or len(query) != 1:
            raise StubError(400, 'parsing_exception', '[_na] query malformed, must start with start_object')
        (name, body), = query.items()
        handler = getattr(self, '_q_' + name, None)
        if handler is None:
            raise StubError(400, 'parsing_exception', 'unknown query [%s]' % name, line=1, col=1)
        return handler(body, source)

    def _q_match_all(self, body, source):
        return True

    def _q_bool(self, body, source):
        for clause in _as_list(body.get('must')) + _as_list(body.get('filter')):
            if not self.matches(clause, source):
                return False
        for clause in _as_list(body.get('must_not')):
            if self.matches(clause, source):
                return False
        should = _as_list(body.get('should'))
        if should:
            needed = body.get('minimum_should_match', 0 if (body.get('must') or body.get('filter')) else 1)
            if sum(1 for clause in should if self.matches(clause, source)) < int(needed):
                return False
        return True

    @staticmethod
    def _field_body(body):
        (field, spec), = body.items()
        return field, spec

    def _q_range(self, body, source):
        field, spec = self._field_body(body)
        value = field_value(source, field)
        if value is None:
            return False
        if self.kind(field) == 'date':
            value = parse_date(value, self.now)
            bounds = {op: parse_date(spec[op], self.now) for op in ('gt', 'gte', 'lt', 'lte') if op in spec}
        else:
            bounds = {op: spec[op] for op in ('gt', 'gte', 'lt', 'lte') if op in spec}
        return all({'gt': value > b, 'gte': value >= b, 'lt': value < b, 'lte': value <= b}[op] for op, b in bounds.items())

    def _q_match(self, body, source):
        field, spec = self._field_body(body)
        query = spec.get('query') if isinstance(spec, dict) else spec
        value = field_value(source, field)
        if value is None:
            return False
        if self.kind(field) == 'text':
            have, want = set(tokens(value)), tokens(query)
            if isinstance(spec, dict) and spec.get('operator', 'or').lower() == 'and':
                return all(token in have for token in want)
            return any(token in have for token in want)
        return str(value) == str(query)

    def _q_match_phrase(self, body, source):
        field, spec = self._field_body(body)
        query = spec.get('query') if isinstance(spec, dict) else spec
        value = field_value(source, field)
        if value is None:
            return False
        if self.kind(field) != 'text':
            return str(value) == str(query)
        have, want = tokens(value), tokens(query)
        return any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1))

    def _q_term(self, body, source):
        field, spec = self._field_body(body)
        wanted = spec.get('value') if isinstance(spec, dict) else spec
        return self._term(field, wanted, source)

    def _term(self, field, wanted, source):
        value = field_value(source, field)
        if value is None:
            return False
        if self.kind(field) == 'text':
            return str(wanted) in tokens(value)
        return value == wanted or str(value) == str(wanted)

    def _q_terms(self, body, source):
        field, values = self._field_body(body)
        return any(self._term(field, wanted, source) for wanted in values)


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Handler(BaseHTTPRequestHandler):
    """One request; the server holds the Store and the configuration."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass

    def do_GET(self):  # pylint: disable=invalid-name
        self._dispatch('GET')

    def do_POST(self):  # pylint: disable=invalid-name
        self._dispatch('POST')

    def do_PUT(self):  # pylint: disable=invalid-name
        self._dispatch('PUT')

    def do_DELETE(self):  # pylint: disable=invalid-name
        self._dispatch('DELETE')

    @property
    def store(self):
        return self.server.store

    def _dispatch(self, method):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not path.startswith('/_stub/'):
            with self.store.lock:
                self.store.requests.append({'method': method, 'path': path, 'query': query, 'body_bytes': len(raw),
                                            'accept': self.headers.get('Accept'), 'content_type': self.headers.get('Content-Type'),
                                            'authorization_scheme': (self.headers.get('Authorization') or ' ').split(' ', 1)[0] or None})
        try:
            self._check_media_types()
            if not path.startswith('/_stub/'):
                self._check_auth()
            body = json.loads(raw) if raw and not path.endswith('/_bulk') else raw
            status, answer = self._route(method, path, query, body)
        except StubError as exc:
            status, answer = exc.status, exc.body
        except (ValueError, KeyError, TypeError) as exc:
            status, answer = 400, StubError(400, 'parsing_exception', 'stub could not read the request: %s' % exc).body
        self._send(status, answer)

    def _check_media_types(self):
        flavor = FLAVORS[self.server.flavor]
        for header in ('Accept', 'Content-Type'):
            match = _COMPAT.search(self.headers.get(header) or '')
            if match and match.group(1) not in flavor['compatible']:
                if not flavor['compatible']:
                    raise StubError(406, 'media_type_header_exception', 'Invalid media-type value on header [%s]' % header)
                raise StubError(400, 'media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]',
                                caused_by={'type': 'status_exception', 'reason': 'Accept version must be either version %s, but found %s. '
                                           'Accept=%s' % (' or '.join(reversed(flavor['compatible'])), match.group(1),
                                                          self.headers.get('Accept'))})

    def _check_auth(self):
        if not self.server.credentials:
            return
        header = self.headers.get('Authorization') or ''
        expected = 'Basic ' + base64.b64encode(('%s:%s' % self.server.credentials).encode()).decode()
        if not secrets.compare_digest(header, expected):
            user = self.server.credentials[0] if header.startswith('Basic ') else None
            raise StubError(401, 'security_exception', 'unable to authenticate user [%s] for REST request [%s]' % (user or '', self.path)
                            if user else 'missing authentication credentials for REST request [%s]' % self.path,
                            header={'WWW-Authenticate': ['Basic realm="security" charset="UTF-8"']})

    def _send(self, status, answer):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        if FLAVORS[self.server.flavor]['product'] == 'elasticsearch':
            self.send_header('X-Elastic-Product', 'Elasticsearch')
        if status == 401:
            self.send_header('WWW-Authenticate', 'Basic realm="security" charset="UTF-8"')
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method, path, query, body):
        store = self.store
        segments = [s for s in path.split('/') if s]
        if path == '/' and method == 'GET':
            return 200, self._root()
        if segments[:1] == ['_stub']:
            return self._stub(method, segments[1:], body)
        if path == '/_bulk' and method in ('POST', 'PUT'):
            return 200, self._bulk(body)
        if method == 'PUT' and len(segments) == 1:
            with store.lock:
                store.indices.setdefault(segments[0], [])
                store.mappings.setdefault(segments[0], {})
            return 200, {'acknowledged': True, 'shards_acknowledged': True, 'index': segments[0]}
        if method == 'DELETE' and len(segments) == 1 and not segments[0].startswith('_'):
            with store.lock:
                for name in store.resolve(segments[0]):
                    store.indices.pop(name)
                    store.mappings.pop(name)
            return 200, {'acknowledged': True}
        product = FLAVORS[self.server.flavor]['product']
        if product == 'elasticsearch' and len(segments) == 2 and segments[1] == '_pit' and method == 'POST':
            return 200, {'id': self._open_pit(segments[0])}
        if product == 'elasticsearch' and path == '/_pit' and method == 'DELETE':
            freed = 1 if store.pits.pop(body.get('id'), None) is not None else 0
            return (200 if freed else 404), {'succeeded': True, 'num_freed': freed}
        if product == 'opensearch' and segments[1:] == ['_search', 'point_in_time'] and method == 'POST':
            pit = self._open_pit(segments[0])
            return 200, {'pit_id': pit, '_shards': {'total': 1, 'successful': 1, 'skipped': 0, 'failed': 0},
                         'creation_time': int(store.current_time().timestamp() * 1000)}
        if product == 'opensearch' and path == '/_search/point_in_time' and method == 'DELETE':
            pits = [{'pit_id': pit, 'successful': store.pits.pop(pit, None) is not None} for pit in body.get('pit_id', [])]
            return 200, {'pits': pits}
        if segments[-1:] == ['_search'] and method in ('GET', 'POST') and len(segments) <= 2:
            return 200, self._search(segments[0] if len(segments) == 2 else None, body or {}, query)
        raise StubError(400, 'illegal_argument_exception', 'stub: no handler for [%s %s]' % (method, path))

    def _root(self):
        flavor = FLAVORS[self.server.flavor]
        version = {'number': flavor['number'], 'build_type': 'tar', 'build_hash': 'stub', 'build_date': '2026-10-01T00:00:00.000Z',
                   'build_snapshot': False, 'lucene_version': '9.12.1', 'minimum_wire_compatibility_version': '7.17.0',
                   'minimum_index_compatibility_version': '7.0.0'}
        if flavor['product'] == 'opensearch':
            version['distribution'] = 'opensearch'
            tagline = 'The OpenSearch Project: https://opensearch.org/'
        else:
            version['build_flavor'] = 'default'
            tagline = 'You Know, for Search'
        return {'name': 'stub-node-1', 'cluster_name': 'dsr-logs-stub', 'cluster_uuid': 'stub-uuid', 'version': version, 'tagline': tagline}

    def _stub(self, method, segments, body):
        store = self.store
        if segments == ['faults']:
            with store.lock:
                store.faults = dict(body) if method == 'POST' else {}
            return 200, {'faults': store.faults}
        if segments == ['requests']:
            with store.lock:
                if method == 'DELETE':
                    store.requests = []
                return 200, {'requests': list(store.requests)}
        if segments == ['pits']:
            return 200, {'open': len(store.pits)}
        raise StubError(404, 'stub', 'no such stub endpoint')

    def _bulk(self, raw):
        lines = [line for line in raw.decode().splitlines() if line.strip()]
        items = []
        with self.store.lock:
            for action_line, source_line in zip(lines[::2], lines[1::2]):
                (action, meta), = json.loads(action_line).items()
                if action not in ('index', 'create'):
                    raise StubError(400, 'illegal_argument_exception', 'stub: bulk action [%s] not supported' % action)
                self.store.add(meta['_index'], json.loads(source_line), meta.get('_id'))
                items.append({action: {'_index': meta['_index'], 'result': 'created', 'status': 201}})
        return {'took': 1, 'errors': False, 'items': items}

    def _open_pit(self, expression):
        store = self.store
        with store.lock:
            names = store.resolve(expression)
            pit = base64.b64encode(secrets.token_bytes(24)).decode()
            store.pits[pit] = {'names': names, 'docs': {name: list(store.indices[name]) for name in names},
                               'mappings': {name: dict(store.mappings[name]) for name in names}}
        return pit

    def _search(self, expression, body, query):
        store = self.store
        now = store.current_time()
        pit = body.get('pit')
        with store.lock:
            if pit:
                if expression is not None:
                    raise StubError(400, 'action_request_validation_exception',
                                    'Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;')
                snapshot = store.pits.get(pit.get('id'))
                if snapshot is None:
                    raise StubError(404, 'search_context_missing_exception', 'No search context found for id [%s]' % pit.get('id'))
                names, docs, mappings = snapshot['names'], snapshot['docs'], snapshot['mappings']
            else:
                names = store.resolve(expression or '*')
                docs = {name: list(store.indices[name]) for name in names}
                mappings = {name: dict(store.mappings[name]) for name in names}
            faults = dict(store.faults)
        size, start = int(body.get('size', 10)), int(body.get('from', 0))
        if start + size > 10000:
            raise StubError(400, 'illegal_argument_exception', 'Result window is too large, from + size must be less than or equal to: [10000] '
                            'but was [%d]. See the scroll api for a more efficient way to request large data sets.' % (start + size))
        matched = []
        failed_shards = min(int(faults.get('shard_failures', 0)), len(names))
        for position, name in enumerate(names):
            if position < failed_shards:
                continue  # a failed shard contributes nothing
            evaluator = Evaluator(mappings[name], now)
            for ordinal, (doc_id, source) in enumerate(docs[name]):
                if evaluator.matches(body.get('query', {'match_all': {}}), source):
                    matched.append((name, doc_id, source, position * 10 ** 9 + ordinal))
        mapping = {}
        for name in names:
            mapping.update(mappings[name])
        hits = self._sorted(matched, body, mapping, now, bool(pit))
        total_shards = max(int(faults.get('total_shards', 0)), len(names))
        shards = {'total': total_shards, 'successful': total_shards - failed_shards, 'skipped': 0, 'failed': failed_shards}
        if failed_shards:
            shards['failures'] = [{'shard': 0, 'index': names[i], 'node': 'stub-node-1',
                                   'reason': {'type': 'node_not_connected_exception', 'reason': '[stub-node-2] Node not connected'}}
                                  for i in range(failed_shards)]
        answer = {'took': 1, 'timed_out': bool(faults.get('timed_out')), '_shards': shards,
                  'hits': {'total': self._total(len(matched), body.get('track_total_hits', 10000)), 'max_score': None,
                           'hits': [self._hit(hit, body) for hit in hits[start:start + size]]}}
        if body.get('aggs') or body.get('aggregations'):
            answer['aggregations'] = self._aggregations(body.get('aggs') or body.get('aggregations'), matched, mapping, now)
        if pit:
            answer['pit_id'] = pit['id']
        if answer['hits']['total'] is None:
            del answer['hits']['total']
        return answer

    @staticmethod
    def _total(count, track):
        if track is False:
            return None
        if track is True:
            return {'value': count, 'relation': 'eq'}
        limit = int(track)
        return {'value': min(count, limit), 'relation': 'eq' if count <= limit else 'gte'}

    def _sorted(self, matched, body, mapping, now, under_pit):
        product = FLAVORS[self.server.flavor]['product']
        keys = []
        for entry in _as_list(body.get('sort')):
            field, order = (entry, 'asc') if isinstance(entry, str) else next(iter(entry.items()))
            order = order.get('order', 'asc') if isinstance(order, dict) else order
            if field == '_id' and product == 'elasticsearch':
                raise StubError(400, 'illegal_argument_exception', 'Fielddata access on the _id field is disallowed, you can re-enable it by '
                                'updating the dynamic cluster setting: indices.id_field_data.enabled')
            keys.append((field, order))
        if under_pit and product == 'elasticsearch' and not any(field == '_shard_doc' for field, dummy in keys):
            keys.append(('_shard_doc', 'asc'))

        def value(hit, field):
            name, doc_id, source, shard_doc = hit
            if field == '_id':
                return doc_id
            if field == '_shard_doc':
                return shard_doc
            raw = field_value(source, field)
            return parse_date(raw, now) if mapping.get(field) == 'date' and raw is not None else raw

        hits = list(matched)
        for field, order in reversed(keys):
            hits.sort(key=lambda hit, f=field: (value(hit, f) is None, value(hit, f) if value(hit, f) is not None else 0), reverse=order == 'desc')
        for hit_index, hit in enumerate(hits):
            hits[hit_index] = hit + ([value(hit, field) for field, dummy in keys],)
        after = body.get('search_after')
        if after is not None:
            def later(sort_values):
                for (dummy, order), mine, theirs in zip(keys, sort_values, after):
                    if mine == theirs:
                        continue
                    return mine > theirs if order == 'asc' else mine < theirs
                return False
            hits = [hit for hit in hits if later(hit[4])]
        return hits

    @staticmethod
    def _hit(hit, body):
        name, doc_id, source, dummy, sort_values = hit
        includes = body.get('_source', True)
        if isinstance(includes, list):
            source = {field: field_value(source, field) for field in includes if field_value(source, field) is not None}
        answer = {'_index': name, '_id': doc_id, '_score': None, '_source': copy.deepcopy(source)}
        if body.get('sort') or body.get('pit'):
            answer['sort'] = sort_values
        return answer

    def _aggregations(self, aggs, matched, mapping, now):
        answer = {}
        for name, spec in aggs.items():
            (kind, params), = ((k, v) for k, v in spec.items() if k != 'aggs')
            if kind == 'terms':
                field = params['field']
                if mapping.get(field) == 'text':
                    raise StubError(400, 'illegal_argument_exception', 'Fielddata is disabled on text fields by default. Set fielddata=true on [%s] '
                                    'in order to load field data by uninverting the inverted index. Note that this can use significant memory. '
                                    'Alternatively use a keyword field instead.' % field)
                counts = {}
                for hit in matched:
                    key = field_value(hit[2], field)
                    if key is not None:
                        counts[key] = counts.get(key, 0) + 1
                ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
                size = int(params.get('size', 10))
                answer[name] = {'doc_count_error_upper_bound': 0, 'sum_other_doc_count': sum(c for dummy, c in ordered[size:]),
                                'buckets': [{'key': key, 'doc_count': count} for key, count in ordered[:size]]}
            elif kind == 'date_histogram':
                interval = params.get('fixed_interval')
                match = re.fullmatch(r'(\d+)([smhd])', interval or '')
                if not match:
                    raise StubError(400, 'illegal_argument_exception', 'stub: only fixed_interval such as 5m is supported')
                step = int(match.group(1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[match.group(2)] * 1000
                counts = {}
                for hit in matched:
                    raw = field_value(hit[2], params['field'])
                    if raw is not None:
                        key = parse_date(raw, now) // step * step
                        counts[key] = counts.get(key, 0) + 1
                bounds = params.get('extended_bounds') or {}
                keys = set(counts)
                if 'min' in bounds and 'max' in bounds and params.get('min_doc_count', 1) == 0:
                    keys |= set(range(parse_date(bounds['min'], now) // step * step, parse_date(bounds['max'], now) + 1, step))
                if params.get('min_doc_count', 1) == 0 and counts:
                    keys |= set(range(min(counts), max(counts) + 1, step))
                answer[name] = {'buckets': [{'key_as_string': datetime.datetime.fromtimestamp(key / 1000, datetime.timezone.utc)
                                             .strftime('%Y-%m-%dT%H:%M:%S.000Z'), 'key': key, 'doc_count': counts.get(key, 0)}
                                            for key in sorted(keys) if counts.get(key, 0) >= params.get('min_doc_count', 1)]}
            else:
                raise StubError(400, 'parsing_exception', 'Unknown aggregation type [%s] did you mean [terms]?' % kind)
        return answer


class StubServer(ThreadingHTTPServer):
    """The stub on a loopback port; ``start()`` serves in a thread, ``url`` is its base URL."""

    daemon_threads = True

    def __init__(self, flavor, port=0, username=None, password=None, now=None):
        super().__init__(('127.0.0.1', port), Handler)
        self.flavor = flavor
        self.store = Store(flavor, now)
        self.credentials = (username, password) if username else None
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def main(argv=None):
    """Serve one flavour until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--flavor', choices=sorted(FLAVORS), required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--username')
    parser.add_argument('--password')
    args = parser.parse_args(argv)
    StubServer(args.flavor, args.port, args.username, args.password).serve_forever()


if __name__ == '__main__':
    main()
