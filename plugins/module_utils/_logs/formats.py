# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Access-log line formats: an nginx ``log_format`` string turned into the regular expressions that read it.

A format compiles into three bytes regexes over whole buffers (``findall`` on a multi-MB
chunk, never a Python loop per line). Each has two alternatives: a well-formed line, or
``([^\\n]*)\\n``, any other line, so ``findall`` returns exactly one row per line and a
malformed line is a row whose client group is empty.

* ``strict``: every class excludes the newline, so no match crosses a line; this is the
  definition of a well-formed line.
* ``fast``: the same, but quoted fields are read with ``[^"]*`` (Python's regex engine runs a
  single negated character several times faster than a class). Such a match may cross a line;
  the caller compares the number of rows with the number of newlines and falls back to
  ``strict`` for that chunk, so both give the same rows. (The minutes are still checked once per
  distinct value: the regex cannot tell 31/Feb from a date.)
* ``seconds``: ``strict`` plus the seconds of the time, for chunks that straddle the time window.

Groups sit in the order their variables appear in the format; ``index`` says where each
figure is (``client``, ``minute``, ``second``, ``tz``, ``login``, ``status``, ``bad``), with an
always-empty group for one the format lacks.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re

from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogFormatError

# nginx's predefined format, and the one nginx.conf ships as "main"
NAMED_FORMATS = {
    'combined': '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
    'main': '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
            '"$http_x_forwarded_for"',
}
JSON_FORMAT = 'json'

TIME_VARIABLES = ('time_local', 'time_iso8601')
CLIENT_VARIABLES = ('remote_addr', 'realip_remote_addr', 'http_x_real_ip', 'http_x_forwarded_for', 'binary_remote_addr')
_INTEGER_VARIABLES = ('body_bytes_sent', 'bytes_sent', 'request_length', 'connection', 'connection_requests', 'pid')
_DECIMAL_VARIABLES = ('request_time', 'msec')

MONTHS = {name: number for number, name in enumerate(('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'), 1)}
_MONTHS_BYTES = {name.encode(): number for name, number in MONTHS.items()}

_VARIABLE_RE = re.compile(r'\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))')
_LOCAL_MINUTE = re.compile(rb'(\d\d)/([A-Z][a-z][a-z])/(\d{4}):(\d\d):(\d\d)')
_LOCAL_TZ = re.compile(rb'([+-])(\d\d)(\d\d)')
_ISO_MINUTE = re.compile(rb'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)')
_ISO_TZ = re.compile(rb'([+-])(\d\d):(\d\d)')
_STATUS = re.compile(rb'\d{3}')

# characters that may follow a login path in the request target: the path ends, or goes on as a sub-path, query or parameter
_LOGIN_END = b'(?=[ /?;#]|%s)'

FIELDS = ('client', 'minute', 'second', 'tz', 'login', 'status')


def _tokens(text):
    """Split an nginx log_format string into ('lit', text) and ('var', name) tokens."""
    tokens = []
    position = 0
    for match in _VARIABLE_RE.finditer(text):
        if match.start() > position:
            tokens.append(('lit', text[position:match.start()]))
        tokens.append(('var', match.group(1) or match.group(2)))
        position = match.end()
    if position < len(text):
        tokens.append(('lit', text[position:]))
    return tokens


def _class_excluding(char, fast):
    """A run of characters up to ``char`` (the first character of the literal that follows)."""
    if char is None:
        return b'[^\\n]*?'
    if char == b'\n':
        return b'[^\\n]*'
    escaped = re.escape(char)
    if fast and char == b'"':
        return b'[^"]*'
    return b'[^' + escaped + b'\\n]*'


class LineFormat:
    """A compiled access-log format (see the module docstring).

    ``log_format``: a name of NAMED_FORMATS, ``json``, or an nginx log_format string.
    ``login_paths``: request paths (bytes or str) whose requests are login attempts: the target
    equals the path or continues with ``/``, ``?``, ``;`` or ``#``.
    ``login_regex``: instead, a Python regex that must match at the start of the request target.
    """

    def __init__(self, log_format='combined', login_paths=('/api/auth/login', '/login'), login_regex=None,
                 client_variable='remote_addr', json_fields=None):
        self.name = log_format if log_format in NAMED_FORMATS or log_format == JSON_FORMAT else 'custom'
        self.source = NAMED_FORMATS.get(log_format, log_format)
        self.client_variable = client_variable
        self.login_paths = tuple(p.encode() if isinstance(p, str) else p for p in (login_paths or ()))
        self.login_regex = None
        if login_regex:
            try:
                self.login_regex = re.compile(login_regex.encode() if isinstance(login_regex, str) else login_regex)
            except re.error as exc:
                raise LogFormatError('login_path_regex: %s' % exc) from None
        self.login_mode = 'regex' if self.login_regex is not None else ('prefix' if self.login_paths else None)
        self.is_json = log_format == JSON_FORMAT
        self.fast = self.strict = self.seconds = None
        self.index = {}
        self.seconds_index = {}
        if self.is_json:
            self.json_fields = dict({'client': 'remote_addr', 'time': 'time_iso8601', 'request': 'request', 'status': 'status'}, **(json_fields or {}))
            self.time_kind = 'json'
            self.variables = list(self.json_fields.values())
            self.index = {'client': 0, 'minute': 1, 'tz': 2, 'login': 3, 'status': 4, 'bad': 5}
            self.seconds_index = {'client': 0, 'minute': 1, 'second': 2, 'tz': 3, 'login': 4, 'status': 5, 'bad': 6}
            return
        if '\n' in self.source:
            raise LogFormatError('log_format must be one line: nginx writes one line per request')
        tokens = _tokens(self.source)
        self.variables = [value for kind, value in tokens if kind == 'var']
        if client_variable not in self.variables:
            raise LogFormatError('log_format has no $%s, the client address (client_variable): add it to the format, or set client_variable '
                                 'to the variable that holds the client address' % client_variable)
        if 'status' not in self.variables:
            raise LogFormatError('log_format has no $status: the report counts responses by status')
        times = [name for name in self.variables if name in TIME_VARIABLES]
        self.time_kind = {'time_local': 'local', 'time_iso8601': 'iso8601'}[times[0]] if times else None
        if self.login_mode and 'request' not in self.variables:
            raise LogFormatError('log_format has no $request, so login attempts cannot be told; add $request or set login_paths: []')
        self.strict, self.index = self._compile(tokens, fast=False, seconds=False)
        self.fast, fast_index = self._compile(tokens, fast=True, seconds=False)
        self.seconds, self.seconds_index = self._compile(tokens, fast=False, seconds=True)
        if fast_index != self.index:
            raise LogFormatError('log_format: internal error, the fast and strict parsers disagree on groups')

    @property
    def has_time(self):
        """Whether lines carry a time (needed for the window and the peak per minute)."""
        return self.time_kind is not None

    def _login_group(self, char):
        """The request's method and target, capturing the login path (prefix mode) or the target (regex mode)."""
        stop = re.escape(char) if char else b''
        method = b'[^' + stop + b' \\n]+'
        if self.login_mode == 'regex':
            return b'(?:' + method + b' ([^' + stop + b' \\n]*))?'
        alternatives = b'|'.join(re.escape(p) for p in sorted(self.login_paths, key=len, reverse=True))
        return b'(?:' + method + b' (' + alternatives + b')(?=[ /?;#' + stop + b'\\n]))?'

    def _compile(self, tokens, fast, seconds):
        parts = []
        index = {}
        group = [0]

        def capture(name, body):
            index[name] = group[0]
            group[0] += 1
            parts.append(b'(' + body + b')')

        for position, (kind, value) in enumerate(tokens):
            if kind == 'lit':
                parts.append(re.escape(value.encode('utf-8')))
                continue
            following = tokens[position + 1] if position + 1 < len(tokens) else ('lit', '\n')
            char = following[1].encode('utf-8')[:1] if following[0] == 'lit' else None
            if value == self.client_variable and 'client' not in index:
                capture('client', b'[^\\n]+?' if char is None else _class_excluding(char, False)[:-1] + b'+')
            elif value == 'time_local' and 'minute' not in index:
                capture('minute', b'\\d\\d/[A-Z][a-z][a-z]/\\d{4}:\\d\\d:\\d\\d')
                if seconds:
                    parts.append(b':')
                    capture('second', b'\\d\\d')
                    parts.append(b' ')
                else:
                    parts.append(b':\\d\\d ')
                capture('tz', b'[+-]\\d{4}')
            elif value == 'time_iso8601' and 'minute' not in index:
                capture('minute', b'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d')
                if seconds:
                    parts.append(b':')
                    capture('second', b'\\d\\d')
                else:
                    parts.append(b':\\d\\d')
                capture('tz', b'[+-]\\d\\d:\\d\\d')
            elif value == 'status' and 'status' not in index:
                capture('status', b'\\d{3}')
            elif value == 'request' and 'login' not in index and self.login_mode:
                login = self._login_group(char)
                index['login'] = group[0]
                group[0] += 1
                parts.append(login + _class_excluding(char, fast))
            elif value in _INTEGER_VARIABLES:
                parts.append(b'\\d+')
            elif value in _DECIMAL_VARIABLES:
                parts.append(b'\\d+\\.\\d+')
            else:
                parts.append(_class_excluding(char, fast))
        for name in ('minute', 'tz', 'login') + (('second',) if seconds else ()):
            if name not in index:
                capture(name, b'')
        index['bad'] = group[0]
        pattern = b'(?:' + b''.join(parts) + b')\\n|([^\\n]*)\\n'
        try:
            return re.compile(pattern), index
        except re.error as exc:
            raise LogFormatError('log_format cannot be compiled: %s' % exc) from None

    # -- values --------------------------------------------------------------------------------

    def minute_epoch(self, minute, tz):
        """The epoch of a minute key (bytes), or None when it is not a valid time of this format."""
        if self.time_kind in ('local', 'json') and len(minute) == 17:
            m = _LOCAL_MINUTE.fullmatch(minute)
            z = _LOCAL_TZ.fullmatch(tz)
            if m is None or z is None:
                return None
            day, month, year, hour, mins = int(m.group(1)), _MONTHS_BYTES.get(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
        elif self.time_kind in ('iso8601', 'json'):
            m = _ISO_MINUTE.fullmatch(minute)
            z = _ISO_TZ.fullmatch(tz)
            if m is None or z is None:
                return None
            year, month, day, hour, mins = (int(g) for g in m.groups())
        else:
            return None
        if month is None:
            return None
        try:
            datetime.datetime(year, month, day, hour, mins)
        except ValueError:
            return None
        offset = (int(z.group(2)) * 3600 + int(z.group(3)) * 60) * (-1 if z.group(1) == b'-' else 1)
        return calendar.timegm((year, month, day, hour, mins, 0)) - offset

    @staticmethod
    def valid_status(status):
        """Whether a status group value is three digits."""
        return _STATUS.fullmatch(status) is not None

    def is_login(self, value):
        """Whether a login group value is a login attempt (in regex mode the value is the request target)."""
        if self.login_mode == 'regex':
            return bool(value) and self.login_regex.match(value) is not None
        return bool(value)

    # -- JSON lines ------------------------------------------------------------------------------

    def parse_json(self, chunk):
        """Rows in the ``seconds`` layout (client, minute, second, tz, login, status, bad) for JSON lines."""
        fields = self.json_fields
        rows = []
        for line in chunk.split(b'\n')[:-1]:
            try:
                record = json.loads(line)
                client = record[fields['client']]
                status = str(record[fields['status']]).encode()
                stamp = str(record[fields['time']]).encode()
                request = str(record.get(fields['request'], '')).encode()
            except (ValueError, KeyError, TypeError, AttributeError):
                rows.append((b'', b'', b'', b'', b'', b'', line))
                continue
            if not isinstance(client, str) or not client or not _STATUS.fullmatch(status):
                rows.append((b'', b'', b'', b'', b'', b'', line))
                continue
            local = re.fullmatch(rb'(\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d):(\d\d) ([+-]\d{4})', stamp)
            iso = local or re.fullmatch(rb'(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)(?:\.\d+)?([+-]\d\d:\d\d|Z)', stamp)
            if iso is None:
                rows.append((b'', b'', b'', b'', b'', b'', line))
                continue
            tz = b'+00:00' if iso.group(3) == b'Z' else iso.group(3)
            rows.append((client.encode(), iso.group(1), iso.group(2), tz, self._json_login(request), status, b''))
        return rows

    def _json_login(self, request):
        parts = request.split(b' ')
        if len(parts) < 2:
            return b''
        target = parts[1]
        if self.login_mode == 'regex':
            return target
        for path in self.login_paths:
            if target == path or (target.startswith(path) and target[len(path):len(path) + 1] in (b'/', b'?', b';', b'#')):
                return path
        return b''
