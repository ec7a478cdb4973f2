# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Maintenance windows: is now inside one, which ones come next, and may a play run (dsr.ops.maintenance_window).

Plain functions over plain data; ``now`` is always passed in, so every verdict is testable.

A window is wall-clock time in one time zone. Its start is a local date and time (an occurrence
of an RFC 5545 RRULE, or a one-off ``start``), its end that local time plus the duration, read
on the same clock. ``resolve`` turns both into instants by one rule:

* a local time the clock shows twice (the hour repeated when clocks go back) is its first
  showing (``fold=0``);
* a local time the clock never shows (the hour skipped when clocks go forward) becomes the
  first instant after the gap, the moment the clock jumps.

So every instant inside a window shows, on the zone's clock, a time inside the announced
window: a 02:00-04:00 window in Europe/Berlin lasts one hour on the spring-forward Sunday
(03:00-04:00 CEST) and three on the fall-back Sunday (02:00 CEST to 04:00 CET). A window that
lies wholly inside a gap does not happen that day. The start is inclusive and the end
exclusive: at 04:00:00 a 02:00-04:00 window is over.

When windows overlap (the weekly window lies inside the monthly one on the first Sunday), the
current window is the one that ends last among those containing now; the next windows are
the occurrences that begin after now, in order of their start.
"""

from __future__ import annotations

import collections
import datetime
import itertools
import math
import re
import zoneinfo

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration

UTC = datetime.timezone.utc
DEFAULT_TIMEZONE = 'Asia/Manila'
MODES = ('check', 'guard')
MAX_UPCOMING = 50
DEFAULT_UPCOMING = 3
MAX_DURATION_SECONDS = 7 * 86400

# the runbook's Change Management > Maintenance Windows > Scheduled Maintenance; the quarterly one is
# "scheduled based on business needs", a one-off window (start) given by the play
DEFAULT_WINDOWS = (
    {'name': 'weekly', 'rrule': 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0', 'start': None, 'duration': '2h',
     'description': 'Weekly maintenance, every Sunday 02:00-04:00'},
    {'name': 'monthly', 'rrule': 'FREQ=MONTHLY;BYDAY=SU;BYSETPOS=1;BYHOUR=1;BYMINUTE=0', 'start': None, 'duration': '4h',
     'description': 'Monthly maintenance, first Sunday of the month 01:00-05:00'},
)

# years a time may have: far enough from datetime's limits that a window and the search around now stay representable
_YEARS = (1900, 9000)
_RULE_PARTS = ('FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYSECOND', 'BYMINUTE', 'BYHOUR', 'BYDAY', 'BYMONTHDAY', 'BYYEARDAY',
               'BYWEEKNO', 'BYMONTH', 'BYSETPOS', 'WKST')
_FREQUENCIES = ('DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY')
_TOO_FINE = ('HOURLY', 'MINUTELY', 'SECONDLY')
# without one of these a WEEKLY, MONTHLY or YEARLY rule takes its day from DTSTART (RFC 5545, and dateutil)
_DAY_PARTS = ('BYDAY', 'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO')
_DAY_ADVICE = {
    'WEEKLY': 'add BYDAY (for example BYDAY=SU)',
    'MONTHLY': 'add BYMONTHDAY, or BYDAY with BYSETPOS (for example BYDAY=SU;BYSETPOS=1 for the first Sunday)',
    'YEARLY': 'add BYMONTH with BYMONTHDAY, or BYYEARDAY, BYWEEKNO or BYDAY',
}
_WEEKDAY = re.compile(r'^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$')
# how far an ordinal weekday (1SU, -1SU) may count (RFC 5545 3.3.10)
_ORDINAL_LIMITS = {'MONTHLY': 5, 'YEARLY': 53}
_LOCAL_STAMP = re.compile(r'^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?$')
_DTSTART = re.compile(r'^DTSTART((?:;[^:]*)?):(.*)$', re.IGNORECASE)
# enough occurrences to see the shortest gap of any rule a window schedule needs (the pattern repeats every period)
_SAMPLE = 100
_RULE_EXAMPLE = 'for example FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0'


class WindowError(Exception):
    """The windows cannot be evaluated; ``str()`` is safe to show."""


class Occurrence(collections.namedtuple('Occurrence', 'name description start end zone')):
    """One occurrence of a window: ``start`` and ``end`` are aware UTC datetimes, shown on the clock of ``zone``.

    UTC, because Python compares and subtracts two datetimes of the same tzinfo by their wall-clock
    times, ignoring the offset: wrong across a clock change.
    """

    __slots__ = ()

    def local(self, instant):
        """An instant as ISO 8601 on the zone's clock, with its offset."""
        return instant.astimezone(self.zone).isoformat()

    def as_dict(self):
        return {'name': self.name, 'description': self.description, 'start': self.local(self.start), 'end': self.local(self.end)}


class Window:
    """A named window: a recurrence ``rule`` (dateutil, over naive local times) or a one-off naive local ``start``."""

    def __init__(self, name, duration, description=None, rule=None, start=None):
        self.name = name
        self.duration = duration
        self.description = description
        self.rule = rule
        self.start = start

    def local_starts(self, since):
        """The naive local starts at or after the naive ``since``, in order."""
        if self.rule is not None:
            return itertools.dropwhile(lambda local: local < since, self.rule)
        return [self.start] if self.start >= since else []

    def occurrences(self, zone, since):
        """The occurrences whose local start is at or after the naive ``since``, in order of their start."""
        length = datetime.timedelta(seconds=self.duration)
        for local in self.local_starts(since):
            start = resolve(local, zone)
            end = resolve(local + length, zone)
            if end > start:
                yield Occurrence(self.name, self.description, start, end, zone)


def resolve(local, zone):
    """The instant at which the clock of ``zone`` shows the naive ``local``, as an aware UTC datetime.

    Shown twice (clocks went back): the first time (fold=0). Never shown (clocks jumped over it):
    the first instant after the gap, which is the moment of the jump.
    """
    instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local:
        return instant
    # In a gap, fold=1 reads the time with the offset after the jump (an instant before it) and fold=0 with
    # the offset before (an instant after it); zoneinfo does not expose the jump, so find it between the two.
    low = math.floor(local.replace(tzinfo=zone, fold=1).timestamp())
    high = math.ceil(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return datetime.datetime.fromtimestamp(high, UTC)


def load_zone(name):
    """The ZoneInfo called ``name``; ValueError naming the option otherwise."""
    if not name:
        raise ValueError('timezone must not be empty; give an IANA name such as Asia/Manila, or leave it out for %s' % DEFAULT_TIMEZONE)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ValueError('timezone %r is not a time zone this host knows; give an IANA name such as Asia/Manila, '
                         'Europe/Berlin or UTC (the tzdata package provides them where the system has none)' % (str(name)[:64],)) from None


def _in_years(value, option, text):
    if not _YEARS[0] <= value.year <= _YEARS[1]:
        raise ValueError('%s %r is out of range: give a year from %d to %d' % (option, text, _YEARS[0], _YEARS[1]))
    return value


def parse_now(text, zone):
    """The ``now`` option as an aware UTC datetime: ISO 8601 with an offset or Z; without one, local time in ``zone``."""
    raw = str(text).strip()
    try:
        value = datetime.datetime.fromisoformat(raw[:-1] + '+00:00' if raw.endswith(('Z', 'z')) else raw)
    except ValueError:
        raise ValueError('now: cannot read %r as a time; use ISO 8601 such as 2026-01-11T02:30:00+08:00 or 2026-01-10T18:30:00Z '
                         '(without an offset it is local time in timezone)' % (raw[:64],)) from None
    _in_years(value, 'now', raw[:64])
    if value.tzinfo is None:
        return resolve(value, zone)
    return value.astimezone(UTC)


def current_time(text, zone, clock=None):
    """``now`` as an aware UTC datetime: the option when given, else ``clock()`` (default: the system clock)."""
    if text:
        return parse_now(text, zone)
    return (clock() if clock is not None else datetime.datetime.now(UTC)).astimezone(UTC)


def local_naive(instant, zone):
    """What the clock of ``zone`` shows at the aware ``instant``, as a naive datetime."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _local_stamp(value):
    """A naive datetime for an RFC 5545 local DATE (YYYYMMDD) or DATE-TIME (YYYYMMDDTHHMMSS), or None."""
    match = _LOCAL_STAMP.match(value)
    if not match:
        return None
    numbers = [int(group) for group in match.groups() if group is not None]
    try:
        return datetime.datetime(*numbers)
    except ValueError:
        return None


def _split_rule_text(text, option):
    """``(DTSTART token or None, rule body)`` of the rrule option."""
    dtstart = body = None
    for token in text.split():
        upper = token.upper()
        if upper.startswith('DTSTART'):
            if dtstart is not None:
                raise ValueError('%s: DTSTART is given twice; give it once, before the rule' % option)
            dtstart = token
        elif upper.startswith('RRULE:') or ('=' in token and ':' not in token):
            if body is not None:
                raise ValueError('%s: give one RRULE per window; make another window for a second rule' % option)
            body = token[6:] if upper.startswith('RRULE:') else token
        else:
            raise ValueError('%s: %r is not part of an RRULE; give the rule body (%s), optionally after a local '
                             'DTSTART:YYYYMMDDTHHMMSS' % (option, token[:40], _RULE_EXAMPLE))
    if not body:
        raise ValueError('%s has no rule; give the rule body, %s' % (option, _RULE_EXAMPLE))
    return dtstart, body


def _parse_dtstart(token, option):
    """The naive local DTSTART of ``DTSTART:20260104T020000`` (or ``DTSTART;VALUE=DATE:20260104``)."""
    match = _DTSTART.match(token)
    parameters, value = (match.group(1).upper(), match.group(2)) if match else ('', '')
    if 'TZID=' in parameters:
        raise ValueError('%s: DTSTART%s brings its own time zone, but a window is wall-clock time in the timezone option; write '
                         'DTSTART as local time without TZID (DTSTART:20260104T020000) and set timezone to that zone'
                         % (option, match.group(1)[:64]))
    if value.upper().endswith('Z'):
        raise ValueError('%s: DTSTART %s is UTC (it ends in Z), but a window is wall-clock time in the timezone option; write it '
                         'as local time, without the Z' % (option, value[:32]))
    local = _local_stamp(value) if parameters in ('', ';VALUE=DATE', ';VALUE=DATE-TIME') else None
    if local is None:
        raise ValueError('%s: cannot read %r; write DTSTART:YYYYMMDDTHHMMSS in local time, for example DTSTART:20260104T020000'
                         % (option, token[:64]))
    return _in_years(local, option + ' DTSTART', value)


def _rule_parts(body, option):
    """The rule's parts, NAME to VALUE (upper case), each checked to be an RFC 5545 part given once."""
    parts = {}
    for item in body.strip(';').split(';'):
        name, equals, value = item.partition('=')
        name, value = name.strip().upper(), value.strip().upper()
        if name == 'DTSTART':
            raise ValueError('%s: DTSTART is not a rule part; put it before the rule, as local time '
                             '(DTSTART:20260104T020000 RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU)' % option)
        if not equals or not name or not value:
            raise ValueError('%s: %r is not NAME=VALUE; give the rule body, %s' % (option, item[:40], _RULE_EXAMPLE))
        if name not in _RULE_PARTS:
            raise ValueError('%s: %s is not an RFC 5545 rule part (they are %s)' % (option, name[:40], ', '.join(_RULE_PARTS)))
        if name in parts:
            raise ValueError('%s: %s is given twice' % (option, name))
        parts[name] = value
    return parts


def _positive_int(parts, name, option):
    value = parts.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ValueError('%s: %s=%s must be a whole number, 1 or more' % (option, name, value[:20]))
    return int(value)


def _check_parts(parts, dtstart, option):
    """Refuse what a maintenance window schedule cannot mean; return the parts dateutil gets (UNTIL made local and whole)."""
    freq = parts.get('FREQ')
    if freq is None:
        raise ValueError('%s: FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY), %s' % (option, _RULE_EXAMPLE))
    if freq in _TOO_FINE:
        raise ValueError('%s: FREQ=%s is finer than DAILY; this is a maintenance window schedule, not a cron: use FREQ=DAILY or '
                         'coarser, with BYHOUR and BYMINUTE for the time of day' % (option, freq))
    if freq not in _FREQUENCIES:
        raise ValueError('%s: FREQ=%s is not DAILY, WEEKLY, MONTHLY or YEARLY' % (option, freq[:20]))
    count = _positive_int(parts, 'COUNT', option)
    if count == 0:
        raise ValueError('%s: COUNT=0 means the window never happens; leave COUNT out, or give how many times it happens (1 or more)'
                         % option)
    interval = _positive_int(parts, 'INTERVAL', option)
    if interval == 0:
        raise ValueError('%s: INTERVAL=0 is not a period; leave it out (every period) or give 1 or more' % option)
    if dtstart is None:
        if count is not None:
            raise ValueError('%s: COUNT counts occurrences from a DTSTART, and there is none; put a local DTSTART:YYYYMMDDTHHMMSS '
                             'before the rule, or use UNTIL' % option)
        if interval is not None and interval > 1:
            raise ValueError('%s: INTERVAL=%d counts periods from a DTSTART, and there is none; put a local DTSTART:YYYYMMDDTHHMMSS '
                             'before the rule (DTSTART:20260104T020000 RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU)' % (option, interval))
        if freq in _DAY_ADVICE and not any(part in parts for part in _DAY_PARTS):
            raise ValueError('%s: FREQ=%s names no day, so it would take its day from a DTSTART, and there is none; %s'
                             % (option, freq, _DAY_ADVICE[freq]))
    _check_byday(parts, freq, option)
    if count is not None and 'UNTIL' in parts:
        raise ValueError('%s: COUNT and UNTIL must not both be given (RFC 5545); keep one' % option)
    checked = dict(parts)
    if 'UNTIL' in parts:
        value = parts['UNTIL']
        if value.endswith('Z'):
            raise ValueError('%s: UNTIL=%s is UTC (it ends in Z), but a window is wall-clock time in the timezone option; write '
                             'UNTIL as local time without the Z (for example UNTIL=20261231T235959)' % (option, value[:32]))
        until = _local_stamp(value)
        if until is None:
            raise ValueError('%s: cannot read UNTIL=%s; write YYYYMMDD or YYYYMMDDTHHMMSS in local time' % (option, value[:32]))
        _in_years(until, option + ' UNTIL', value)
        if len(value) == 8:
            # a date: its whole day counts (dateutil would stop at its midnight)
            checked['UNTIL'] = value + 'T235959'
    return checked


def _check_byday(parts, freq, option):
    """BYDAY: weekdays, with an ordinal (1SU, -1SU) only where RFC 5545 allows one and within its range."""
    for item in parts.get('BYDAY', '').split(',') if 'BYDAY' in parts else ():
        match = _WEEKDAY.match(item.strip())
        if not match:
            raise ValueError('%s: BYDAY=%s: each day is MO, TU, WE, TH, FR, SA or SU, optionally after an ordinal such as 1SU or -1SU'
                             % (option, parts['BYDAY'][:40]))
        if match.group(1) is None:
            continue
        ordinal, limit = int(match.group(1)), _ORDINAL_LIMITS.get(freq)
        if limit is None:
            raise ValueError('%s: BYDAY=%s counts weekdays, which only FREQ=MONTHLY or YEARLY can; give the day alone (BYDAY=%s)'
                             % (option, item[:20], match.group(2)))
        if not 1 <= abs(ordinal) <= limit:
            raise ValueError('%s: BYDAY=%s: with FREQ=%s the ordinal is from 1 to %d, or -%d to -1 counting from the end'
                             % (option, item[:20], freq, limit, limit))


def _rrulestr(body, dtstart):
    from dateutil import rrule  # pylint: disable=import-outside-toplevel
    return rrule.rrulestr(body, dtstart=dtstart)


def parse_rule(text, option, reference):
    """``(rule, anchor, until)`` for the ``rrule`` option: a dateutil rule over naive local times, its DTSTART and UNTIL.

    Without a DTSTART the rule is anchored at a local midnight before any occurrence that can contain
    ``reference`` (naive local now), so the time of day comes from BYHOUR/BYMINUTE/BYSECOND, default
    00:00:00. ValueError naming ``option`` when the rule cannot be a window schedule.
    """
    dtstart_token, body = _split_rule_text(str(text), option)
    dtstart = _parse_dtstart(dtstart_token, option) if dtstart_token else None
    parts = _check_parts(_rule_parts(body, option), dtstart, option)
    anchor = dtstart
    if anchor is None:
        anchor = datetime.datetime.combine(reference.date(), datetime.time()) - datetime.timedelta(days=9)
    try:
        rule = _rrulestr(';'.join('%s=%s' % item for item in parts.items()), anchor)
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        # dateutil's own words: "invalid 'BYDAY': XX", "hour must be in 0..23"...
        raise ValueError('%s: cannot read the rule (%s); see RFC 5545 section 3.3.10 for its parts' % (option, exc)) from None
    return rule, anchor, _local_stamp(parts['UNTIL']) if 'UNTIL' in parts else None


def parse_start(text, option):
    """The naive local start of a one-off window (ISO 8601, no offset)."""
    raw = str(text).strip()
    try:
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError('%s: cannot read %r as a local date and time; use ISO 8601 such as 2026-03-28T22:00:00' % (option, raw[:64])) from None
    if value.tzinfo is not None:
        raise ValueError('%s %r has an offset, but a window is wall-clock time in the timezone option; write the local time '
                         'without the offset (%s)' % (option, raw[:64], value.replace(tzinfo=None).isoformat()))
    return _in_years(value, option, raw[:64])


def parse_window(entry, label, reference):
    """``(Window or None, problems)`` for one entry of the ``windows`` option; ``reference`` is naive local now."""
    problems = []
    name = entry.get('name')
    if not name or not str(name).strip():
        problems.append('%s.name must not be empty; it names the window in the results' % label)
    rule_text, start_text = entry.get('rrule'), entry.get('start')
    if rule_text and start_text:
        problems.append('%s: give rrule (a recurring window) or start (a one-off window), not both' % label)
    elif not rule_text and not start_text:
        problems.append('%s: give rrule (a recurring window, %s) or start (a one-off window, for example 2026-03-28T22:00:00)'
                        % (label, _RULE_EXAMPLE))
    duration = None
    if entry.get('duration') in (None, ''):
        problems.append('%s.duration is required: how long the window lasts, for example 2h or 90m' % label)
    else:
        try:
            duration = parse_duration(entry['duration'], label + '.duration')
        except ValueError as exc:
            problems.append(str(exc))
    if duration is not None and duration > MAX_DURATION_SECONDS:
        problems.append('%s.duration %s is longer than 7 days; a window that long is not a maintenance window: shorten it'
                        % (label, entry['duration']))
        duration = None
    rule = start = None
    if rule_text and not start_text:
        try:
            rule, anchor, until = parse_rule(rule_text, label + '.rrule', reference)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            problems.extend(_rule_problems(rule, anchor, until, duration, label))
    elif start_text and not rule_text:
        try:
            start = parse_start(start_text, label + '.start')
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        return None, problems
    return Window(str(name), duration, entry.get('description'), rule=rule, start=start), []


def _rule_problems(rule, anchor, until, duration, label):
    """A rule that never happens, and a duration that would make the window overlap itself."""
    # a rule that matches no date makes dateutil walk period by period to the year 9999 (seconds for FREQ=DAILY): once, here
    try:
        sample = list(itertools.islice(rule, _SAMPLE))
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        return ['%s.rrule: cannot read the rule (%s: %s); see RFC 5545 section 3.3.10 for its parts' % (label, type(exc).__name__, exc)]
    if not sample:
        if until is not None and until < anchor:
            return []  # a series that is over: it simply has no more windows
        return ['%s.rrule matches no date at all (for example BYMONTHDAY=30 with BYMONTH=2); check its BY parts' % label]
    if duration is None or len(sample) < 2:
        return []
    gap, first, second = min((b - a, a, b) for a, b in zip(sample, sample[1:]))
    if duration > gap.total_seconds():
        return ['%s.duration %s is longer than the %s between two of its occurrences (%s and %s): the window would overlap itself; '
                'shorten the duration or change the rule' % (label, human_duration(duration), human_duration(gap.total_seconds()),
                                                             first.isoformat(), second.isoformat())]
    return []


def window_entries(params):
    """The ``windows`` option, or the runbook's windows when it is not set."""
    entries = params.get('windows')
    return DEFAULT_WINDOWS if entries is None else entries


def parse_windows(entries, reference):
    """``(windows, problems)`` for the ``windows`` option; ``reference`` is naive local now (it anchors the rules)."""
    if not entries:
        return [], ['windows is empty: give at least one window, or leave windows out for the runbook\'s weekly and monthly windows']
    windows, problems, seen = [], [], {}
    for index, entry in enumerate(entries):
        label = 'windows[%d]' % index
        window, found = parse_window(entry, label, reference)
        problems.extend(found)
        name = entry.get('name')
        if name and name in seen:
            problems.append('%s.name %r is also the name of windows[%d]; names must be unique' % (label, name[:64], seen[name]))
        elif name:
            seen[name] = index
        if window is not None:
            windows.append(window)
    return windows, problems


def chosen(windows, names):
    """``(the windows named in ``names``, problems)``; every window when ``names`` is None."""
    if names is None:
        return windows, []
    if not names:
        return [], ['names is empty: give the names of the windows that count (for example [monthly]), or leave names out for all of them']
    known = [window.name for window in windows]
    unknown = [name for name in names if name not in known]
    if unknown:
        return [], ['names %s: no window has that name; the windows are %s' % (
            ', '.join(repr(name[:64]) for name in unknown), ', '.join(known) or 'none')]
    return [window for window in windows if window.name in names], []


def emergency_problems(emergency):
    """Problems with the ``emergency`` option (an unapproved change is a verdict, not a problem)."""
    if emergency is None:
        return []
    problems = []
    if not (emergency.get('change_id') or '').strip():
        problems.append('emergency.change_id must not be empty: give the emergency change\'s id, for example CHG-2026-0042')
    approved_by = emergency.get('approved_by')
    if approved_by is not None and not approved_by.strip():
        problems.append('emergency.approved_by is empty: name who approved the change, or leave it out')
    return problems


def libraries(params):
    """dateutil when a window recurs (the default windows do)."""
    return ['dateutil'] if any(entry.get('rrule') for entry in window_entries(params)) else []


def _option(params, name, default):
    """An option's value; None (set to null) counts as not given."""
    value = params.get(name)
    return default if value is None else value


def validate(params, clock=None):
    """Every problem with the options, each naming the option and the fix."""
    problems = []
    try:
        zone = load_zone(_option(params, 'timezone', DEFAULT_TIMEZONE))
    except ValueError as exc:
        problems.append(str(exc))
        zone = UTC
    now = None
    try:
        now = current_time(params.get('now'), zone, clock)
    except ValueError as exc:
        problems.append(str(exc))
    upcoming = _option(params, 'upcoming', DEFAULT_UPCOMING)
    if not 0 <= upcoming <= MAX_UPCOMING:
        problems.append('upcoming must be from 0 to %d (how many next windows to return), got %d' % (MAX_UPCOMING, upcoming))
    problems.extend(emergency_problems(params.get('emergency')))
    if now is None:
        now = current_time(None, zone, clock)
    windows, found = parse_windows(window_entries(params), local_naive(now, zone))
    problems.extend(found)
    if not found:
        problems.extend(chosen(windows, params.get('names'))[1])
    return problems


def locate(windows, zone, now, upcoming):
    """``(current occurrence or None, the next ``upcoming`` occurrences)`` around the aware UTC ``now``.

    The current occurrence is the one that ends last among those containing ``now``; the next ones
    begin after ``now``, in order of their start (ties in the order of ``windows``).
    """
    local_now = local_naive(now, zone)
    current, following = None, []
    for window in windows:
        # an occurrence containing now began less than its duration ago, plus a day for the clock changes
        since = local_now - datetime.timedelta(seconds=window.duration, days=1)
        later = 0
        for occurrence in window.occurrences(zone, since):
            if occurrence.start > now:
                following.append(occurrence)
                later += 1
                if later >= upcoming:
                    break
            elif occurrence.end > now and (current is None or occurrence.end > current.end):
                current = occurrence
    following.sort(key=lambda occurrence: occurrence.start)
    return current, following[:upcoming]


def human_duration(seconds):
    """``5400`` -> ``1h30m``: a duration for messages."""
    seconds = int(round(seconds))
    if seconds < 60:
        return '%ds' % seconds
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    units = ((days, 'd'), (hours, 'h'), (minutes, 'm'), (0 if days else rest, 's'))
    return ''.join('%d%s' % (value, unit) for value, unit in units if value)


def verdict(current, following, now, zone, expected_duration=None, emergency=None):
    """``(allowed, allowed_by, reason)``: may a play run at the aware ``now``, and why (one line)."""
    if current is not None:
        left = (current.end - now).total_seconds()
        where = 'inside maintenance window %s (%s to %s), %s left' % (
            current.name, current.local(current.start), current.local(current.end), human_duration(left))
        if expected_duration is None or left >= expected_duration:
            return True, 'window', where
        refusal = '%s: expected_duration %s would overrun the window\'s end at %s' % (
            where, human_duration(expected_duration), current.local(current.end))
    else:
        refusal = 'outside every maintenance window at %s' % now.astimezone(zone).isoformat()
        if following:
            nearest = following[0]
            refusal += '; the next is %s from %s to %s' % (nearest.name, nearest.local(nearest.start), nearest.local(nearest.end))
        else:
            refusal += '; no window is scheduled after it'
    if emergency is None:
        return False, None, refusal
    if emergency.get('approved'):
        approver = ' by %s' % emergency['approved_by'] if emergency.get('approved_by') else ''
        return True, 'emergency', '%s; allowed by emergency change %s, approved%s' % (refusal, emergency['change_id'], approver)
    return False, None, ('%s; emergency change %s is not approved, so it does not override the window (emergency.approved must be true)'
                         % (refusal, emergency['change_id']))


def run(params, clock=None):
    """The module's result for validated ``params`` (``expected_duration`` in seconds); WindowError when they do not hold."""
    try:
        zone = load_zone(_option(params, 'timezone', DEFAULT_TIMEZONE))
        now = current_time(params.get('now'), zone, clock)
    except ValueError as exc:
        raise WindowError(str(exc)) from None
    windows, problems = parse_windows(window_entries(params), local_naive(now, zone))
    if not problems:
        windows, problems = chosen(windows, params.get('names'))
    if problems:
        raise WindowError('invalid options: ' + '; '.join(problems))
    upcoming = _option(params, 'upcoming', DEFAULT_UPCOMING)
    # the next window is named in the message even when no upcoming windows are asked for
    current, following = locate(windows, zone, now, max(upcoming, 1))
    emergency = params.get('emergency')
    allowed, allowed_by, reason = verdict(current, following, now, zone, params.get('expected_duration'), emergency)
    if allowed:
        msg = reason
    elif params.get('mode') == 'guard':
        msg = 'refused: ' + reason
    else:
        msg = reason + ' (mode=guard would refuse)'
    return {
        'changed': False,
        'in_window': current is not None,
        'window': current.as_dict() if current is not None else None,
        'ends_at': current.local(current.end) if current is not None else None,
        'remaining_seconds': (current.end - now).total_seconds() if current is not None else None,
        'next_windows': [occurrence.as_dict() for occurrence in following[:upcoming]],
        'allowed': allowed,
        'allowed_by': allowed_by,
        'change_id': emergency['change_id'] if emergency else None,
        'timezone': zone.key,
        'now': now.astimezone(zone).isoformat(),
        'msg': msg,
    }


def argument_spec():
    """The module's options."""
    return dict(
        windows=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            rrule=dict(type='str'),
            start=dict(type='str'),
            duration=dict(type='str', required=True),
            description=dict(type='str'),
        )),
        names=dict(type='list', elements='str'),
        timezone=dict(type='str', default=DEFAULT_TIMEZONE),
        now=dict(type='str'),
        mode=dict(type='str', choices=list(MODES), default='check'),
        expected_duration=dict(type='str'),
        emergency=dict(type='dict', options=dict(
            change_id=dict(type='str', required=True),
            approved=dict(type='bool', default=False),
            approved_by=dict(type='str'),
        )),
        upcoming=dict(type='int', default=DEFAULT_UPCOMING),
    )
