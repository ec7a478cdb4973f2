# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stub of the Elasticsearch 8 / 9 and OpenSearch 2 REST API, for tests only. Not a search engine.

No Elasticsearch or OpenSearch can be installed on the test machine, so the
suite tests ``dsr.ops.log_search`` against this stub. It keeps documents in
memory and really evaluates the small query subset the module sends:

* ``GET /`` bodies of the three products, ``X-Elastic-Product: Elasticsearch``
  on the Elastic flavours and not on OpenSearch; the 400
  ``media_type_header_exception`` an 8.x server gives a 9.x client's
  ``compatible-with=9`` media type (a compatible one is echoed in the answer's
  ``Content-Type``); OpenSearch ignores such an ``Accept`` and answers 406
  ``Content-Type header [...] is not supported`` to such a ``Content-Type``;
* HTTP, or HTTPS when given a certificate chain and key (``certfile``/``keyfile``);
* authentication as Elasticsearch's security answers it: ``Basic``,
  ``ApiKey <base64 id:key>`` and ``Bearer <token>`` (a configured token stands
  for a service-account or OAuth2 token; none is decoded), and the 401
  ``security_exception`` bodies and ``WWW-Authenticate`` challenges of 8.16+
  (``Bearer`` in the challenge only over HTTPS, where the token service is on
  by default). The OpenSearch flavour knows basic authentication only (its
  security plugin's basic domain) and refuses anything else with its plain-text
  401 ``Unauthorized``;
* ``POST /_bulk`` (index/create) with dynamic mapping: strings become ``text``
  with a ``.keyword`` subfield, ``@timestamp`` is a date;
* ``_search`` and ``_count`` on comma lists and ``*`` patterns: ``bool`` (must /
  filter / should / must_not), ``range`` on numbers and on dates, ``match`` (OR
  of lowercased word tokens on text, exact on keyword), ``match_phrase``,
  ``term``, ``terms``, ``match_all``; ``track_total_hits``, ``sort`` on one
  field, ``search_after``, ``_source`` includes; ``terms`` and
  ``date_histogram`` (``fixed_interval``) aggregations; a missing concrete
  index is a 404, a pattern matching nothing answers ``_shards.total: 0``;
* date math in ``range`` (:func:`date_math`, after Elasticsearch's
  JavaDateMathParser): ``now`` or an anchor ``2026-12-01||``, then ``+``/``-``
  and ``/`` rounding in y, M, w, d, h (H), m, s, rounded by operator as the
  reference says (``gte`` and ``lt`` round down, ``gt`` and ``lte`` round up
  to the last millisecond of the unit); a date without ``||`` fills its missing
  parts the same way (``lte: 2026-12-01`` is the whole day); ``time_zone``
  (an offset or an IANA name) for dates without an offset and for rounding,
  never for ``now``; the formats ``strict_date_optional_time``,
  ``date_optional_time``, ``epoch_millis`` and ``epoch_second``;
* point in time: ``/_pit`` (Elasticsearch, with the implicit ``_shard_doc``
  tiebreaker in each hit's ``sort``) and ``/_search/point_in_time``
  (OpenSearch, where sorting on ``_id`` is allowed); a PIT is a snapshot;
* ``/_stub/faults`` (``shard_failures``, ``total_shards``, ``timed_out``) and
  ``/_stub/requests`` to observe what the module sent (no authentication on
  ``/_stub/``);
* :func:`dsr_documents`, deterministic DSR-shaped application and security log
  documents around a given time, which the harness seeds (``main --config``).

Anything else answers 400 ``parsing_exception`` or 404: what the stub does
not know, it refuses rather than guesses. Real servers differ in much more
(scoring, analyzers, shard routing, caching, error shapes of cases not listed
here); nothing here says otherwise.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import contextlib
import copy
import datetime
import fnmatch
import json
import random
import re
import secrets
import signal
import ssl
import sys
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
UTC = datetime.timezone.utc
# strict_date_optional_time, the parts the stub reads: a date, then optionally a time down to nanoseconds, then an offset
_ISO = re.compile(r'(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})(?:T(?P<hour>\d{2})(?::(?P<minute>\d{2})'
                  r'(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?)?)?)?(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?')
DEFAULT_DATE_FORMAT = 'strict_date_optional_time||epoch_millis'
DATE_FORMATS = ('strict_date_optional_time', 'date_optional_time', 'strict_date_optional_time_nanos', 'epoch_millis', 'epoch_second')
# the 401 challenges of Elasticsearch 8.16+ (the comma after the realm came with elastic/elasticsearch#110906)
BASIC_CHALLENGE = 'Basic realm="security", charset="UTF-8"'
BEARER_CHALLENGE = 'Bearer realm="security"'
APIKEY_CHALLENGE = 'ApiKey'
OPENSEARCH_CHALLENGE = 'Basic realm="OpenSearch Security"'


def tokens(text):
    """The standard analyzer, roughly: lowercased word tokens."""
    return [token.lower() for token in _WORD.findall(str(text))]


class DateMathError(ValueError):
    """A date or date-math expression Elasticsearch would refuse (its ElasticsearchParseException)."""


def _epoch_ms(moment):
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _from_ms(millis, zone=UTC):
    return (datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(milliseconds=millis)).astimezone(zone)


def time_zone(name):
    """A tzinfo for a ``time_zone`` parameter: ``Z``, ``UTC``, ``+01:00`` / ``-0800`` / ``+01``, or an IANA name."""
    if name in (None, ''):
        return None
    text = str(name)
    if text in ('Z', 'UTC', 'GMT'):
        return UTC
    match = re.fullmatch(r'([+-])(\d{1,2})(?::?(\d{2}))?', text)
    if match:
        minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
        return datetime.timezone(datetime.timedelta(minutes=-minutes if match.group(1) == '-' else minutes))
    try:
        import zoneinfo  # pylint: disable=import-outside-toplevel
        return zoneinfo.ZoneInfo(text)
    except (ImportError, ValueError, OSError, KeyError):
        raise StubError(400, 'illegal_argument_exception', 'Unknown time-zone ID: %s' % text) from None


def parse_iso(text, round_up=False, zone=None):
    """Epoch milliseconds of a strict_date_optional_time string.

    Missing parts are filled as Elasticsearch fills them: with the start of the
    unit, or, when ``round_up`` (``gt`` and ``lte`` on a date without ``||``),
    with month and day 01 and 23:59:59.999 for a missing time. An explicit offset
    wins over ``zone``; without either the date is UTC.
    """
    match = _ISO.fullmatch(text)
    if not match:
        raise DateMathError('not a strict_date_optional_time')
    parts = match.groupdict()
    filler = {'hour': 23, 'minute': 59, 'second': 59} if round_up else {'hour': 0, 'minute': 0, 'second': 0}
    values = {'year': int(parts['year']), 'month': int(parts['month'] or 1), 'day': int(parts['day'] or 1)}
    for unit in ('hour', 'minute', 'second'):
        values[unit] = int(parts[unit]) if parts[unit] is not None else filler[unit]
    if parts['fraction'] is not None:
        millis = int(parts['fraction'][:3].ljust(3, '0'))
    else:
        millis = 999 if round_up else 0
    tzinfo = time_zone(parts['offset']) if parts['offset'] else (zone or UTC)
    try:
        moment = datetime.datetime(microsecond=millis * 1000, tzinfo=tzinfo, **values)
    except ValueError as exc:
        raise DateMathError(str(exc)) from None
    return _epoch_ms(moment)


def _parse_anchor(text, formats, round_up, zone):
    for fmt in formats:
        if fmt in ('strict_date_optional_time', 'date_optional_time', 'strict_date_optional_time_nanos'):
            try:
                return parse_iso(text, round_up, zone)
            except DateMathError:
                continue
        elif fmt in ('epoch_millis', 'epoch_second') and re.fullmatch(r'-?\d+(?:\.\d+)?', text):
            number = float(text) if '.' in text else int(text)
            return int(number * 1000) if fmt == 'epoch_second' else int(number)
    raise DateMathError('failed to parse date field [%s] with format [%s]' % (text, '||'.join(formats)))


def _plus_months(moment, months):
    month_index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _local(moment, change):
    """Apply ``change`` to the wall-clock time in the moment's zone (Java's plusDays, with(LocalTime.MIN), ...)."""
    zone = moment.tzinfo
    return change(moment.replace(tzinfo=None)).replace(tzinfo=zone)


def _instant(moment, delta):
    """Add a duration on the instant time line (Java's plusHours, plusMinutes, plusSeconds)."""
    return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)


def _apply_math(math, moment, round_up):
    position = 0
    while position < len(math):
        operator = math[position]
        position += 1
        if operator not in '+-/':
            raise DateMathError('operator not supported for date math [%s]' % math)
        if position >= len(math):
            raise DateMathError('truncated date math [%s]' % math)
        digits = re.match(r'\d*', math[position:]).group(0)
        position += len(digits)
        if digits and position >= len(math):
            raise DateMathError('truncated date math [%s]' % math)
        number = int(digits) if digits else 1
        if operator == '/' and number != 1:
            raise DateMathError('rounding `/` can only be used on single unit types [%s]' % math)
        unit = math[position]
        position += 1
        sign = -1 if operator == '-' else 1
        moment = _math_step(moment, unit, operator == '/', sign * number, round_up, math)
    return moment


def _math_step(moment, unit, rounding, amount, round_up, math):
    midnight = {'hour': 0, 'minute': 0, 'second': 0, 'microsecond': 0}
    if unit == 'y':
        if rounding:
            moment = _local(moment, lambda m: m.replace(month=1, day=1, **midnight))
            moment = _local(moment, lambda m: m.replace(year=m.year + 1)) if round_up else moment
        else:
            moment = _local(moment, lambda m: _plus_months(m, 12 * amount))
    elif unit == 'M':
        if rounding:
            moment = _local(moment, lambda m: m.replace(day=1, **midnight))
            moment = _local(moment, lambda m: _plus_months(m, 1)) if round_up else moment
        else:
            moment = _local(moment, lambda m: _plus_months(m, amount))
    elif unit in ('w', 'd'):
        days = 7 if unit == 'w' else 1
        if rounding:
            back = moment.weekday() if unit == 'w' else 0
            moment = _local(moment, lambda m: m.replace(**midnight) - datetime.timedelta(days=back))
            moment = _local(moment, lambda m: m + datetime.timedelta(days=days)) if round_up else moment
        else:
            moment = _local(moment, lambda m: m + datetime.timedelta(days=days * amount))
    elif unit in ('h', 'H', 'm', 's'):
        seconds = {'h': 3600, 'H': 3600, 'm': 60, 's': 1}[unit]
        if rounding:
            keep = {'h': ('minute', 'second', 'microsecond'), 'H': ('minute', 'second', 'microsecond'),
                    'm': ('second', 'microsecond'), 's': ('microsecond',)}[unit]
            moment = _local(moment, lambda m: m.replace(**{part: 0 for part in keep}))
            moment = _instant(moment, datetime.timedelta(seconds=seconds)) if round_up else moment
        else:
            moment = _instant(moment, datetime.timedelta(seconds=seconds * amount))
    else:
        raise DateMathError('unit [%s] not supported for date math [%s]' % (unit, math))
    if rounding and round_up:
        # the largest inclusive value: the last millisecond of the rounded unit
        moment = _instant(moment, datetime.timedelta(milliseconds=-1))
    return moment


def date_math(value, now_ms, round_up=False, zone=None, formats=None):
    """Epoch milliseconds of a date value as a range query reads it (Elasticsearch's JavaDateMathParser).

    ``value``: epoch millis (a number), ``now`` or ``ANCHOR||`` followed by
    ``+1h``, ``-1d``, ``/d`` ... (units y, M, w, d, h/H, m, s), or a date.
    ``round_up`` is what ``gt`` and ``lte`` ask for: rounding ``/u`` goes to the
    last millisecond of the unit, and a plain date's missing parts are filled
    upwards. ``zone`` (from ``time_zone``) is where rounding happens and what a
    date without an offset means; it never changes ``now``. Raises DateMathError.
    """
    formats = tuple(formats or DEFAULT_DATE_FORMAT.split('||'))
    if isinstance(value, bool):
        raise DateMathError('failed to parse date field [%s]' % value)
    if isinstance(value, (int, float)):
        return int(value * 1000) if 'epoch_millis' not in formats and 'epoch_second' in formats else int(value)
    text = str(value)
    if text.startswith('now'):
        moment = _from_ms(now_ms, zone or UTC)
        math = text[len('now'):]
    elif '||' in text:
        anchor, math = text.split('||', 1)
        moment = _from_ms(_parse_anchor(anchor, formats, False, zone), zone or UTC)
    else:
        return _parse_anchor(text, formats, round_up, zone)
    return _epoch_ms(_apply_math(math, moment, round_up))


def parse_date(value, now):
    """Epoch milliseconds of a stored or requested date (ISO string, epoch millis, ``now-1h``), no rounding, UTC."""
    now_ms = _epoch_ms(now) if isinstance(now, datetime.datetime) else int(now)
    try:
        return date_math(value, now_ms)
    except DateMathError as exc:
        raise _parse_error(value, DEFAULT_DATE_FORMAT, exc) from None


def _parse_error(value, fmt, exc):
    """The 400 Elasticsearch answers to a date it cannot read: a search_phase_execution_exception caused by parse_exception."""
    reason = str(exc) if str(exc).startswith('failed to parse') else 'failed to parse date field [%s] with format [%s]: [%s]' % (value, fmt, exc)
    cause = {'type': 'parse_exception', 'reason': reason}
    error = StubError(400, 'search_phase_execution_exception', 'all shards failed', phase='query', grouped=True, caused_by=cause)
    error.body['error']['root_cause'] = [cause]
    return error


class StubError(Exception):
    """An Elasticsearch-shaped error answer."""

    def __init__(self, status, error_type, reason, headers=(), **extra):
        super().__init__(reason)
        self.status = status
        self.headers = list(headers)
        self.raw = None
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

    def bulk(self, raw):
        """Index an NDJSON ``_bulk`` body (index/create actions); the ``items`` of the answer."""
        lines = [line for line in raw.decode().splitlines() if line.strip()]
        items = []
        with self.lock:
            for action_line, source_line in zip(lines[::2], lines[1::2]):
                (action, meta), = json.loads(action_line).items()
                if action not in ('index', 'create'):
                    raise StubError(400, 'illegal_argument_exception', 'stub: bulk action [%s] not supported' % action)
                self.add(meta['_index'], json.loads(source_line), meta.get('_id'))
                items.append({action: {'_index': meta['_index'], 'result': 'created', 'status': 201}})
        return items

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
        self._bounds = {}

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
        unknown = sorted(set(spec) - {'gt', 'gte', 'lt', 'lte', 'format', 'time_zone', 'boost', 'relation'})
        if unknown:
            raise StubError(400, 'parsing_exception', '[range] query does not support [%s]' % unknown[0], line=1, col=1)
        value = field_value(source, field)
        if value is None:
            return False
        if self.kind(field) == 'date':
            value = parse_date(value, self.now)
            bounds = self._date_bounds(spec)
        else:
            bounds = {op: spec[op] for op in ('gt', 'gte', 'lt', 'lte') if op in spec}
        return all({'gt': value > b, 'gte': value >= b, 'lt': value < b, 'lte': value <= b}[op] for op, b in bounds.items())

    def _date_bounds(self, spec):
        """Each bound in epoch ms: gte and lt rounded down, gt and lte rounded up, in the query's time_zone."""
        key = json.dumps(spec, sort_keys=True)
        if key not in self._bounds:
            fmt = spec.get('format') or DEFAULT_DATE_FORMAT
            formats = fmt.split('||')
            for name in formats:
                if name not in DATE_FORMATS:
                    raise StubError(400, 'illegal_argument_exception', 'stub: date format [%s] is not one the stub reads (%s)'
                                    % (name, ', '.join(DATE_FORMATS)))
            zone = time_zone(spec.get('time_zone'))
            now_ms = _epoch_ms(self.now)
            bounds = {}
            for op in ('gt', 'gte', 'lt', 'lte'):
                if op in spec:
                    try:
                        bounds[op] = date_math(spec[op], now_ms, round_up=op in ('gt', 'lte'), zone=zone, formats=formats)
                    except DateMathError as exc:
                        raise _parse_error(spec[op], fmt, exc) from None
            self._bounds[key] = bounds
        return self._bounds[key]

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
        headers = []
        try:
            self._check_media_types(bool(raw))
            if not path.startswith('/_stub/'):
                self._check_auth()
            body = json.loads(raw) if raw and not path.endswith('/_bulk') else raw
            status, answer = self._route(method, path, query, body)
        except StubError as exc:
            status, answer, headers = exc.status, (exc.raw if exc.raw is not None else exc.body), exc.headers
        except (ValueError, KeyError, TypeError) as exc:
            status, answer = 400, StubError(400, 'parsing_exception', 'stub could not read the request: %s' % exc).body
        self._send(status, answer, headers)

    def _check_media_types(self, has_body):
        flavor = FLAVORS[self.server.flavor]
        if not flavor['compatible']:
            # OpenSearch reads no compatible-with media type: it ignores an Accept it does not know and refuses such a
            # Content-Type on a request with a body (RestController's strict content-type check, from 7.10)
            content_type = self.headers.get('Content-Type') or ''
            if has_body and _COMPAT.search(content_type):
                error = StubError(406, 'not_acceptable', 'Content-Type header [%s] is not supported' % content_type)
                error.body = {'error': 'Content-Type header [%s] is not supported' % content_type, 'status': 406}
                raise error
            return
        for header in ('Accept', 'Content-Type'):
            match = _COMPAT.search(self.headers.get(header) or '')
            if match and match.group(1) not in flavor['compatible']:
                raise StubError(400, 'media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]',
                                caused_by={'type': 'status_exception', 'reason': 'Accept version must be either version %s, but found %s. '
                                           'Accept=%s' % (' or '.join(reversed(flavor['compatible'])), match.group(1),
                                                          self.headers.get('Accept'))})

    def _check_auth(self):
        server = self.server
        if not server.users and not server.api_keys and not server.bearer_tokens:
            return
        scheme, dummy, credential = (self.headers.get('Authorization') or '').partition(' ')
        scheme = scheme.lower()
        if FLAVORS[server.flavor]['product'] == 'opensearch':
            # the security plugin's basic domain: anything but a known user is the plain-text challenge
            if scheme == 'basic' and self._basic_user(credential, server.users) is True:
                return
            error = StubError(401, 'unauthorized', 'Unauthorized', headers=[('WWW-Authenticate', OPENSEARCH_CHALLENGE)])
            error.raw = b'Unauthorized'
            raise error
        challenges = [BASIC_CHALLENGE] + ([BEARER_CHALLENGE] if server.tls else []) + [APIKEY_CHALLENGE]
        if scheme == 'basic':
            user = self._basic_user(credential, server.users)
            if user is True:
                return
            reason, unsuccessful = 'unable to authenticate user [%s] for REST request [%s]' % (user, self.path), None
        elif scheme == 'apikey' and credential:
            problem = self._api_key_problem(credential, server.api_keys)
            if not problem:
                return
            reason = 'unable to authenticate with provided credentials and anonymous access is not allowed for this request'
            unsuccessful = 'API key: ' + problem
        elif scheme == 'bearer' and credential:
            if any(secrets.compare_digest(credential, token) for token in server.bearer_tokens):
                return
            reason = 'unable to authenticate with provided credentials and anonymous access is not allowed for this request'
            unsuccessful = 'oauth2 token: invalid token'
        else:
            reason, unsuccessful = 'missing authentication credentials for REST request [%s]' % self.path, None
        extra = {'additional_unsuccessful_credentials': unsuccessful} if unsuccessful else {}
        raise StubError(401, 'security_exception', reason, headers=[('WWW-Authenticate', value) for value in challenges],
                        header={'WWW-Authenticate': challenges}, **extra)

    @staticmethod
    def _basic_user(credential, users):
        """True for a known user and password, else the user name the header carried (for the message)."""
        try:
            user, dummy, password = base64.b64decode(credential, validate=True).decode('utf-8').partition(':')
        except (ValueError, UnicodeDecodeError):
            return ''
        known = users.get(user)
        if known is not None and secrets.compare_digest(password.encode(), known.encode()):
            return True
        return user

    @staticmethod
    def _api_key_problem(credential, api_keys):
        """'' for a valid ``ApiKey`` credential, else why not, in ApiKeyService's words."""
        try:
            key_id, colon, key = base64.b64decode(credential, validate=True).decode('utf-8').partition(':')
        except (ValueError, UnicodeDecodeError):
            key_id, colon, key = '', '', ''
        if not colon or not key_id:
            # how the real server surfaces this one was not checked; the stub refuses it like an unknown key
            return 'invalid ApiKey value'
        known = api_keys.get(key_id)
        if known is None:
            return 'unable to find apikey with id %s' % key_id
        if not secrets.compare_digest(key.encode(), known.encode()):
            return 'invalid credentials for API key [%s]' % key_id
        return ''

    def _send(self, status, answer, headers=()):
        product = FLAVORS[self.server.flavor]['product']
        if isinstance(answer, bytes):
            data, content_type = answer, 'text/plain; charset=UTF-8'
        else:
            data, content_type = json.dumps(answer).encode(), 'application/json'
            match = _COMPAT.search(self.headers.get('Accept') or '')
            if product == 'elasticsearch' and match and match.group(1) in FLAVORS[self.server.flavor]['compatible']:
                content_type = 'application/vnd.elasticsearch+json;compatible-with=%s' % match.group(1)
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        if product == 'elasticsearch':
            self.send_header('X-Elastic-Product', 'Elasticsearch')
        for name, value in headers:
            self.send_header(name, value)
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
        if segments[-1:] == ['_count'] and method in ('GET', 'POST') and len(segments) <= 2:
            return 200, self._count(segments[0] if len(segments) == 2 else None, body or {}, query)
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
        return {'took': 1, 'errors': False, 'items': self.store.bulk(raw)}

    def _open_pit(self, expression):
        store = self.store
        with store.lock:
            names = store.resolve(expression)
            pit = base64.b64encode(secrets.token_bytes(24)).decode()
            store.pits[pit] = {'names': names, 'docs': {name: list(store.indices[name]) for name in names},
                               'mappings': {name: dict(store.mappings[name]) for name in names}}
        return pit

    def _count(self, expression, body, query):
        unknown = sorted(set(body) - {'query'})
        if unknown:
            raise StubError(400, 'parsing_exception', 'request does not support [%s]' % unknown[0], line=1, col=1)
        answer = self._search(expression, {'query': body.get('query', {'match_all': {}}), 'size': 0, 'track_total_hits': True}, query)
        return {'count': answer['hits']['total']['value'], '_shards': answer['_shards']}

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
    """The stub on a loopback port; ``start()`` serves in a thread, ``url`` is its base URL.

    Credentials, when any is given, are required on every request but ``/_stub/``:
    ``username``/``password`` (or ``users``, a dict), ``api_keys`` (id -> key),
    ``bearer_tokens`` (a list). ``certfile`` (the chain, leaf first) and ``keyfile``
    make it HTTPS; the TLS handshake happens in the request's thread.
    """

    daemon_threads = True

    def __init__(self, flavor, port=0, username=None, password=None, now=None, users=None, api_keys=None, bearer_tokens=None,
                 certfile=None, keyfile=None):
        super().__init__(('127.0.0.1', port), Handler)
        self.flavor = flavor
        self.store = Store(flavor, now)
        self.users = dict(users or {})
        if username:
            self.users[username] = password or ''
        self.api_keys = dict(api_keys or {})
        self.bearer_tokens = list(bearer_tokens or [])
        self.tls = None
        if certfile:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(certfile, keyfile)
        self.url = '%s://127.0.0.1:%d' % ('https' if self.tls else 'http', self.server_address[1])

    def finish_request(self, request, client_address):
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(60)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused the certificate (curl without --cacert) or hung up: nothing to answer
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                connection.close()

    def handle_error(self, request, client_address):
        # a client that hangs up mid-request is no error of the stub's; anything else is printed as usual
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def dsr_documents(now, seed=1102):
    """DSR-shaped log documents around ``now``: a list of ``(index, source)``, the same for the same arguments.

    ``dsr-logs-YYYY.MM.DD`` (the day of each document): 26 hours of application logs, one every
    two minutes, with ``@timestamp``, ``level``, ``service``, ``host``, ``message``,
    ``source_ip`` and ``user``; among them ``authentication failed for user ...`` lines (most
    from one brute-forcing address, 203.0.113.77, in a burst over the last 40 minutes, with a
    second one, 198.51.100.23) and
    messages with only one of the two words ("payment failed", "authentication token
    refreshed"), which the runbook's ``match`` counts too. One ERROR lies exactly an hour
    before ``now``, one five minutes after it (a host with a fast clock).
    ``security-logs-YYYY.MM``: 30 hours of events with ``severity`` (high, medium, low),
    ``event_type``, ``source_ip`` and ``message``.
    """
    rng = random.Random(seed)
    services = ['registration', 'eligibility', 'payment', 'grievance', 'auth-gateway']
    docs = []

    def stamp(moment):
        return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (moment.microsecond // 1000)

    def app(moment, level, service, message, source_ip, user):
        docs.append(('dsr-logs-%s' % moment.astimezone(UTC).strftime('%Y.%m.%d'),
                     {'@timestamp': stamp(moment), 'level': level, 'service': service, 'host': 'dsr-%s-%d' % (service, rng.randint(1, 3)),
                      'message': message, 'source_ip': source_ip, 'user': user}))

    for step in range(26 * 30):
        moment = now - datetime.timedelta(minutes=2 * step, seconds=rng.randint(1, 110), milliseconds=rng.randint(0, 999))
        service = services[step % len(services)]
        user = 'clerk%02d' % rng.randint(1, 40)
        roll = rng.random()
        if roll < 0.12:
            source_ip = '203.0.113.77' if rng.random() < 0.6 else '198.51.100.%d' % rng.randint(2, 60)
            app(moment, 'WARN', 'auth-gateway', 'authentication failed for user %s from %s' % (user, source_ip), source_ip, user)
        elif roll < 0.22:
            app(moment, 'ERROR', service, rng.choice(['database connection timeout after 30s', 'upstream returned 502',
                                                      'payment failed: bank gateway declined batch %d' % rng.randint(100, 999)]),
                '10.20.0.%d' % rng.randint(2, 30), user)
        elif roll < 0.27:
            app(moment, 'INFO', 'auth-gateway', 'authentication token refreshed for user %s' % user, '10.20.0.%d' % rng.randint(2, 30), user)
        elif roll < 0.35:
            app(moment, 'WARN', service, 'slow request: %d ms' % rng.randint(1200, 9000), '10.20.0.%d' % rng.randint(2, 30), user)
        else:
            app(moment, rng.choice(['INFO', 'INFO', 'INFO', 'DEBUG']), service, 'request served in %d ms' % rng.randint(5, 900),
                '10.20.0.%d' % rng.randint(2, 30), user)
    for step in range(24):
        moment = now - datetime.timedelta(seconds=100 * step + rng.randint(1, 90), milliseconds=rng.randint(0, 999))
        user = rng.choice(['admin', 'root', 'clerk01', 'supervisor'])
        source_ip = '203.0.113.77' if step % 6 else '198.51.100.23'
        app(moment, 'WARN', 'auth-gateway', 'authentication failed for user %s from %s' % (user, source_ip), source_ip, user)
        if step % 4 == 0:
            app(moment + datetime.timedelta(milliseconds=350), 'ERROR', 'auth-gateway', 'account locked after repeated failures: %s' % user,
                source_ip, user)
    app(now - datetime.timedelta(hours=1), 'ERROR', 'payment', 'payment failed: reconciliation job aborted', '10.20.0.9', 'batch')
    app(now + datetime.timedelta(minutes=5), 'ERROR', 'eligibility', 'rules engine unavailable', '10.20.0.12', 'clerk07')
    for step in range(30 * 4):
        moment = now - datetime.timedelta(minutes=15 * step, seconds=rng.randint(1, 800), milliseconds=rng.randint(0, 999))
        severity = rng.choice(['high', 'medium', 'medium', 'low', 'low', 'low'])
        event = {'high': ['brute_force', 'privilege_escalation'], 'medium': ['port_scan', 'geo_anomaly'], 'low': ['policy_violation']}[severity]
        event_type = rng.choice(event)
        source_ip = '203.0.113.77' if event_type == 'brute_force' else '198.51.100.%d' % rng.randint(2, 60)
        docs.append(('security-logs-%s' % moment.astimezone(UTC).strftime('%Y.%m'),
                     {'@timestamp': stamp(moment), 'severity': severity, 'event_type': event_type, 'source_ip': source_ip,
                      'message': '%s detected from %s' % (event_type.replace('_', ' '), source_ip)}))
    return docs


def bulk_body(docs):
    """An NDJSON ``_bulk`` body indexing ``(index, source)`` pairs."""
    lines = []
    for index, source in docs:
        lines += [json.dumps({'index': {'_index': index}}), json.dumps(source)]
    return ('\n'.join(lines) + '\n').encode()


def main(argv=None):
    """Serve until SIGTERM: one flavour without authentication (``--flavor``), or the servers of a ``--config`` file.

    The config (JSON, keep it 0600: it holds the credentials) is ``{"servers": [{"flavor", "port",
    "users", "api_keys", "bearer_tokens", "certfile", "keyfile"}], "seed": {"documents": [{"index",
    "source"}]}}``; every server gets the seed documents (other keys of ``seed`` are ignored).
    Credentials are never taken from the command line, where any user could read them.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--flavor', choices=sorted(FLAVORS))
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--config', help='JSON file (0600) with the servers, their credentials and the seed documents')
    args = parser.parse_args(argv)
    if bool(args.flavor) == bool(args.config):
        parser.error('give --flavor (one open server) or --config')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.flavor:
        server = StubServer(args.flavor, args.port)
        print('%s stub on %s' % (args.flavor, server.url), flush=True)
        server.serve_forever()
        return
    with open(args.config, encoding='utf-8') as handle:
        config = json.load(handle)
    seed = config.get('seed') or {}
    body = bulk_body([(doc['index'], doc['source']) for doc in seed.get('documents', [])])
    servers = []
    for entry in config['servers']:
        server = StubServer(entry['flavor'], entry['port'], users=entry.get('users'), api_keys=entry.get('api_keys'),
                            bearer_tokens=entry.get('bearer_tokens'), certfile=entry.get('certfile'), keyfile=entry.get('keyfile'))
        server.store.bulk(body)
        servers.append(server)
    for server in servers:
        server.start()
        print('%s stub on %s' % (server.flavor, server.url), flush=True)
    threading.Event().wait()


if __name__ == '__main__':
    main()
