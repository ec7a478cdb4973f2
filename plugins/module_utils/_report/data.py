# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The report data (contract section 2): one strict parser for an untrusted dict.

:func:`parse` checks every field's type, vocabulary and cross-references
(an environment or check used in ``today``, ``days`` or ``series`` must be
listed in ``environments`` / ``checks``), refuses unknown keys (a typo is an
error, not a silently missing section), and returns a normalized copy: the
optional ``trends``, ``upcoming`` and ``notes`` present (empty when absent).
A problem raises :class:`ReportDataError` naming the field, such as
``data.series[1].points.production[3]: the value must be a number, got 'x'``.
Strings are kept as given: the renderers escape them.
"""

from __future__ import annotations

import datetime
import json
import math
import re

from ansible_collections.dsr.ops.plugins.module_utils._report.errors import ReportDataError
from ansible_collections.dsr.ops.plugins.module_utils._report.units import UNITS
from ansible_collections.dsr.ops.plugins.module_utils._status import STATUSES, worst

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TEXT = 65536
MAX_LINE = 2000
MAX_ITEMS = 1000
MAX_POINTS = 1000
NAME = re.compile(r'^[a-z][a-z0-9_]{0,62}$')
SEVERITIES = ('P1', 'P2', 'P3', 'P4')

_TOP = ('title', 'generated_at', 'date', 'environments', 'checks', 'today', 'days', 'series', 'trends', 'incidents',
        'upcoming', 'notes')
_REQUIRED_TOP = ('title', 'generated_at', 'date', 'environments', 'checks', 'today', 'days', 'series', 'incidents')
_INCIDENT = ('id', 'severity', 'status', 'environment', 'started_at', 'updated_at', 'description', 'impact', 'notice')
_INCIDENT_REQUIRED = ('id', 'severity', 'status', 'environment', 'started_at', 'description')


def _fail(where, problem):
    raise ReportDataError('%s: %s' % (where, problem))


def _shown(value):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _type_name(value):
    return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean', type(None): 'null'}.get(type(value), 'a number')


def _dict(value, where):
    if not isinstance(value, dict):
        _fail(where, 'must be an object, got %s' % _type_name(value))
    for key in value:
        if not isinstance(key, str):
            _fail(where, 'keys must be strings, got %s' % _shown(key))
    return value


def _list(value, where, limit=MAX_ITEMS):
    if not isinstance(value, list):
        _fail(where, 'must be a list, got %s' % _type_name(value))
    if len(value) > limit:
        _fail(where, 'has %d entries, at most %d are allowed' % (len(value), limit))
    return value


def _keys(value, where, allowed, required):
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(where, 'unknown key%s %s (known: %s); remove or rename it'
              % ('s' if len(unknown) > 1 else '', ', '.join(_shown(k) for k in unknown), ', '.join(allowed)))
    missing = [key for key in required if key not in value]
    if missing:
        _fail(where, 'missing required key%s %s' % ('s' if len(missing) > 1 else '', ', '.join(missing)))


def _text(value, where, limit=MAX_LINE, empty=True):
    if not isinstance(value, str):
        _fail(where, 'must be a string, got %s' % _type_name(value))
    if len(value) > limit:
        _fail(where, 'is %d characters long, at most %d are allowed' % (len(value), limit))
    if not empty and not value.strip():
        _fail(where, 'must not be empty')
    return value


def _number(value, where, optional=False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, 'must be a number, got %s %s' % (_type_name(value), _shown(value)))
    if isinstance(value, float) and not math.isfinite(value):
        _fail(where, 'must be a finite number, got %s' % value)
    return value


def parse_time(value, where):
    """An RFC 3339 time with an offset (``2026-12-04T18:00:00+00:00`` or ``...Z``) -> aware datetime."""
    _text(value, where, 64)
    try:
        parsed = datetime.datetime.fromisoformat(value[:-1] + '+00:00' if value.endswith(('Z', 'z')) else value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or 'T' not in value.upper():
        _fail(where, 'must be an RFC 3339 time with an offset such as 2026-12-04T18:00:00+00:00, got %s' % _shown(value))
    return parsed


def parse_date(value, where):
    """A ``YYYY-MM-DD`` date -> datetime.date."""
    _text(value, where, 64)
    if not re.match(r'^\d{4}-\d{2}-\d{2}$', value):
        _fail(where, 'must be a date YYYY-MM-DD such as 2026-12-04, got %s' % _shown(value))
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        _fail(where, 'is not a calendar date: %s' % _shown(value))
    return None  # unreachable


def _status(value, where):
    if value not in STATUSES:
        _fail(where, 'must be one of %s, got %s' % (', '.join(STATUSES), _shown(value)))
    return value


def _environment(value, where, environments):
    if value not in environments:
        _fail(where, 'environment %s is not listed in data.environments' % _shown(value))


def _check(value, where, checks):
    if value not in checks:
        _fail(where, 'check %s is not listed in data.checks' % _shown(value))


def _names(value, where, pattern=None, what='name'):
    _list(value, where)
    seen = set()
    for index, item in enumerate(value):
        at = '%s[%d]' % (where, index)
        _text(item, at, 255, empty=False)
        if pattern is not None and not pattern.match(item):
            _fail(at, 'a %s must match [a-z][a-z0-9_]{0,62}, got %s' % (what, _shown(item)))
        if item in seen:
            _fail(at, '%s %s is listed twice' % (what, _shown(item)))
        seen.add(item)
    return list(value)


def _today(value, where, environments, checks):
    _dict(value, where)
    result = {}
    for env, by_check in value.items():
        at_env = '%s.%s' % (where, env)
        _environment(env, where, environments)
        _dict(by_check, at_env)
        result[env] = {}
        for check, record in by_check.items():
            at = '%s.%s' % (at_env, check)
            _check(check, at_env, checks)
            _dict(record, at)
            _keys(record, at, ('status', 'summary', 'time'), ('status',))
            summary = record.get('summary')
            time = record.get('time')
            result[env][check] = {
                'status': _status(record['status'], at + '.status'),
                'summary': None if summary is None else _text(summary, at + '.summary'),
                'time': None if time is None else (parse_time(time, at + '.time') and time),
            }
    return result


def _days(value, where, environments, checks):
    _list(value, where, 62)
    result = []
    previous = None
    for index, day in enumerate(value):
        at = '%s[%d]' % (where, index)
        _dict(day, at)
        _keys(day, at, ('date', 'status'), ('date', 'status'))
        date = parse_date(day['date'], at + '.date')
        if previous is not None and date <= previous:
            _fail(at + '.date', 'days must be in date order, oldest first, each date once; %s follows %s' % (date, previous))
        previous = date
        statuses = {}
        _dict(day['status'], at + '.status')
        for env, by_check in day['status'].items():
            at_env = '%s.status.%s' % (at, env)
            _environment(env, at + '.status', environments)
            _dict(by_check, at_env)
            statuses[env] = {}
            for check, status in by_check.items():
                _check(check, at_env, checks)
                statuses[env][check] = _status(status, '%s.%s' % (at_env, check))
        result.append({'date': day['date'], 'status': statuses})
    return result


def _series(value, where, environments):
    _list(value, where, 100)
    result = []
    names = set()
    for index, series in enumerate(value):
        at = '%s[%d]' % (where, index)
        _dict(series, at)
        _keys(series, at, ('name', 'title', 'unit', 'points'), ('name', 'title', 'unit', 'points'))
        name = _text(series['name'], at + '.name', 63)
        if not NAME.match(name):
            _fail(at + '.name', 'must match [a-z][a-z0-9_]{0,62}, got %s' % _shown(name))
        if name in names:
            _fail(at + '.name', 'series %s is listed twice' % _shown(name))
        names.add(name)
        if series['unit'] not in UNITS:
            _fail(at + '.unit', 'must be one of %s, got %s' % (', '.join(UNITS), _shown(series['unit'])))
        points = {}
        _dict(series['points'], at + '.points')
        for env, pairs in series['points'].items():
            at_env = '%s.points.%s' % (at, env)
            _environment(env, at + '.points', environments)
            _list(pairs, at_env, MAX_POINTS)
            previous = None
            points[env] = []
            for position, pair in enumerate(pairs):
                at_point = '%s[%d]' % (at_env, position)
                if not isinstance(pair, list) or len(pair) != 2:
                    _fail(at_point, 'must be a pair [date, value] such as ["2026-12-04", 1200000000], got %s' % _shown(pair))
                date = parse_date(pair[0], at_point + '[0]')
                if previous is not None and date <= previous:
                    _fail(at_point + '[0]', 'points must be in date order, each date once; %s follows %s' % (date, previous))
                previous = date
                points[env].append([pair[0], _number(pair[1], at_point + '[1]')])
        result.append({'name': name, 'title': _text(series['title'], at + '.title', 200, empty=False), 'unit': series['unit'],
                       'points': points})
    return result


def _trends(value, where, environments):
    _dict(value, where)
    result = {}
    for env, figures in value.items():
        at_env = '%s.%s' % (where, env)
        _environment(env, where, environments)
        _dict(figures, at_env)
        result[env] = {}
        for name, figure in figures.items():
            if not NAME.match(name):
                _fail(at_env, 'a trend name must match [a-z][a-z0-9_]{0,62}, got %s' % _shown(name))
            result[env][name] = _number(figure, '%s.%s' % (at_env, name), optional=True)
    return result


def _incidents(value, where):
    _list(value, where)
    result = []
    for index, incident in enumerate(value):
        at = '%s[%d]' % (where, index)
        _dict(incident, at)
        _keys(incident, at, _INCIDENT, _INCIDENT_REQUIRED)
        if incident['severity'] not in SEVERITIES:
            _fail(at + '.severity', 'must be one of %s, got %s' % (', '.join(SEVERITIES), _shown(incident['severity'])))
        item = {
            'id': _text(incident['id'], at + '.id', 64, empty=False),
            'severity': incident['severity'],
            'status': _text(incident['status'], at + '.status', 64, empty=False),
            'environment': _text(incident['environment'], at + '.environment', 255, empty=False),
            'started_at': parse_time(incident['started_at'], at + '.started_at') and incident['started_at'],
            'updated_at': None,
            'description': _text(incident['description'], at + '.description', MAX_TEXT),
            'impact': None,
            'notice': None,
        }
        if incident.get('updated_at') is not None:
            item['updated_at'] = parse_time(incident['updated_at'], at + '.updated_at') and incident['updated_at']
        for key in ('impact', 'notice'):
            if incident.get(key) is not None:
                item[key] = _text(incident[key], '%s.%s' % (at, key), MAX_TEXT)
        result.append(item)
    return result


def _upcoming(value, where):
    _list(value, where)
    result = []
    for index, item in enumerate(value):
        at = '%s[%d]' % (where, index)
        _dict(item, at)
        _keys(item, at, ('when', 'what'), ('when', 'what'))
        parse_time(item['when'], at + '.when')
        result.append({'when': item['when'], 'what': _text(item['what'], at + '.what', MAX_LINE, empty=False)})
    return result


def parse(value, where='data'):
    """The validated, normalized report data; ReportDataError naming the field otherwise."""
    _dict(value, where)
    _keys(value, where, _TOP, _REQUIRED_TOP)
    data = {
        'title': _text(value['title'], where + '.title', 200, empty=False),
        'generated_at': parse_time(value['generated_at'], where + '.generated_at') and value['generated_at'],
        'date': parse_date(value['date'], where + '.date') and value['date'],
        'environments': _names(value['environments'], where + '.environments', what='environment'),
        'checks': _names(value['checks'], where + '.checks', NAME, 'check'),
    }
    data['today'] = _today(value['today'], where + '.today', data['environments'], data['checks'])
    data['days'] = _days(value['days'], where + '.days', data['environments'], data['checks'])
    data['series'] = _series(value['series'], where + '.series', data['environments'])
    data['trends'] = _trends(value.get('trends') or {}, where + '.trends', data['environments'])
    data['incidents'] = _incidents(value['incidents'], where + '.incidents')
    data['upcoming'] = _upcoming(value.get('upcoming') or [], where + '.upcoming')
    notes = _list(value.get('notes') or [], where + '.notes')
    data['notes'] = [_text(note, '%s.notes[%d]' % (where, index), MAX_LINE) for index, note in enumerate(notes)]
    return data


def load_file(path):
    """The JSON object in ``path`` (at most MAX_FILE_BYTES), unvalidated; ReportDataError naming the file otherwise."""
    try:
        with open(path, 'rb') as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ReportDataError('data_file %s cannot be read: %s' % (path, exc.strerror or exc)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ReportDataError('data_file %s is larger than %d bytes; is it the report data?' % (path, MAX_FILE_BYTES))
    try:
        return json.loads(raw.decode('utf-8'), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ReportDataError('data_file %s is not UTF-8 text' % path) from None
    except ValueError as exc:
        raise ReportDataError('data_file %s is not valid JSON: %s' % (path, exc)) from None


def _refuse_constant(name):
    raise ValueError('%s is not a JSON number' % name)


def to_json(data):
    """The data as the report's JSON file: sorted keys, indented, UTF-8, ending in a newline (deterministic)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


def today_cell(data, env, check):
    """Today's record of ``check`` in ``env`` (status, summary, time), or None when there is none (no data)."""
    return data['today'].get(env, {}).get(check)


def day_cell(day, env, check):
    """The worst status of ``check`` in ``env`` on ``day`` (an entry of ``days``), or None (no data)."""
    return day['status'].get(env, {}).get(check)


def today_counts(data):
    """How many cells of today's matrix have each status, plus ``no data``, in a fixed order (zeros left out)."""
    order = ('critical', 'unknown', 'warning', 'ok', 'skipped', 'no data')
    counts = dict.fromkeys(order, 0)
    for env in data['environments']:
        for check in data['checks']:
            record = today_cell(data, env, check)
            counts[record['status'] if record else 'no data'] += 1
    return [(name, counts[name]) for name in order if counts[name]]


def overall(data):
    """Today's overall status: the worst cell; ``unknown`` when a cell has no data and none is worse, or nothing ran."""
    statuses = [record['status'] for env in data['environments'] for check in data['checks']
                for record in [today_cell(data, env, check)] if record]
    missing = len(statuses) < len(data['environments']) * len(data['checks'])
    return worst(statuses + (['unknown'] if missing else []))


def utc(text):
    """An RFC 3339 time for people, in UTC: ``2026-12-04 08:00 UTC`` (``-`` for None)."""
    if text is None:
        return '-'
    moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
