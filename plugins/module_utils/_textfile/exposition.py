# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Prometheus text exposition format (version 0.0.4), as node_exporter's textfile collector reads it.

Output is deterministic: families sorted by name, each with one HELP and one TYPE
line, samples sorted by their labels, labels sorted by name. Label values escape
backslash, double quote and newline; HELP text escapes backslash and newline.
"""

from __future__ import annotations

import math
import re

METRIC_NAME = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL_NAME = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')

# What promtool check metrics (promlint) refuses in a gauge's name, so that a name is refused here first
# with a message saying what to write instead, rather than producing a file that fails the lint.
RESERVED_SUFFIXES = ('_total', '_count', '_sum', '_bucket')
ABBREVIATED_UNITS = frozenset(('s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd'))
NON_BASE_UNITS = {
    'minutes': 'seconds', 'hours': 'seconds', 'days': 'seconds', 'weeks': 'seconds',
    'milliseconds': 'seconds', 'microseconds': 'seconds', 'nanoseconds': 'seconds',
    'kilobytes': 'bytes', 'megabytes': 'bytes', 'gigabytes': 'bytes', 'terabytes': 'bytes',
}


def gauge_name_problem(name):
    """Why ``name`` cannot be a gauge's name in a lint-clean file, or None."""
    if not METRIC_NAME.match(name or ''):
        return 'must match the Prometheus metric name pattern [a-zA-Z_:][a-zA-Z0-9_:]*'
    if ':' in name:
        return 'must not contain a colon (reserved for recording rules)'
    if name != name.lower():
        return "must be snake_case, all lower case"
    for suffix in RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return 'must not end in %s (reserved for counters, histograms and summaries)' % suffix
    for token in name.split('_'):
        if token in ABBREVIATED_UNITS:
            return 'must not use the abbreviated unit %r: spell the base unit out (seconds, bytes)' % token
        if token in NON_BASE_UNITS:
            return 'must use the base unit %r, not %r: convert the value' % (NON_BASE_UNITS[token], token)
    return None


def label_name_problem(name):
    """Why ``name`` cannot be a label name, or None."""
    if not isinstance(name, str) or not LABEL_NAME.match(name):
        return 'must match the label name pattern [a-zA-Z_][a-zA-Z0-9_]*'
    if name.startswith('__'):
        return 'must not start with __ (reserved for Prometheus)'
    return None


def escape_label_value(value):
    """A label value as it goes between double quotes."""
    return value.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def escape_help(text):
    """HELP text: backslash and newline escaped (double quotes stay as they are)."""
    return text.replace('\\', '\\\\').replace('\n', '\\n')


def format_value(value):
    """A finite number in the shortest form that parses back to the same float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError('not a number: %r' % (value,))
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError('not a finite number: %r' % value)
    if value.is_integer() and abs(value) < 1e15:
        return '%d' % value
    return repr(value)


class Family:
    """One metric family: a gauge's name, HELP text and samples (labels dict -> value)."""

    def __init__(self, name, help_text, kind='gauge'):
        self.name = name
        self.help = help_text
        self.kind = kind
        self.samples = {}

    def add(self, labels, value):
        """Add a sample; False (and nothing added) if one with the same labels is there already."""
        key = tuple(sorted(labels.items()))
        if key in self.samples:
            return False
        self.samples[key] = value
        return True

    def lines(self):
        """The family's lines: HELP, TYPE, then the samples sorted by their labels."""
        out = ['# HELP %s %s' % (self.name, escape_help(self.help)), '# TYPE %s %s' % (self.name, self.kind)]
        for key in sorted(self.samples):
            inner = ','.join('%s="%s"' % (label, escape_label_value(value)) for label, value in key)
            out.append('%s%s %s' % (self.name, '{%s}' % inner if inner else '', format_value(self.samples[key])))
        return out


def render(families, header=None):
    """The exposition text of ``families`` (sorted by name), with an optional ``# header`` comment line first."""
    lines = []
    if header:
        lines.append('# ' + header.replace('\n', ' '))
    for family in sorted(families, key=lambda f: f.name):
        lines.extend(family.lines())
    return '\n'.join(lines) + '\n' if lines else ''
