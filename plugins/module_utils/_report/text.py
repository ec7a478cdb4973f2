# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Untrusted text made safe for the report: control characters replaced, HTML and Markdown escaping."""

from __future__ import annotations

import html
import re

_CONTROL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]')
# what can start a link, an image, an HTML tag, emphasis, code or a table column inside a line
_MD_SPECIAL = re.compile(r'([\\`*_\[\]<>|~])')


def clean(value):
    """``value`` as text without control characters (each becomes U+FFFD); newlines and tabs are kept; CRLF -> LF."""
    text = '' if value is None else str(value)
    return _CONTROL.sub('\ufffd', text.replace('\r\n', '\n').replace('\r', '\n'))


def esc(value):
    """Text for HTML content or a quoted attribute value: cleaned, then ``& < > " '`` escaped."""
    return html.escape(clean(value), quote=True)


def md(value):
    """Text inside one Markdown line or table cell: cleaned, newlines as spaces, and the characters that could open a
    link, an image, an HTML tag, emphasis, code or a table column backslash-escaped. Never put it at a line's start."""
    text = clean(value).replace('\t', ' ').replace('\n', ' ')
    return _MD_SPECIAL.sub(r'\\\1', text)


def md_block(value):
    """Multi-line untrusted text as a fenced code block whose fence is longer than any backtick run inside it."""
    text = clean(value).rstrip('\n')
    longest = max((len(run) for run in re.findall('`+', text)), default=0)
    fence = '`' * max(3, longest + 1)
    return '%s text\n%s\n%s' % (fence, text, fence)


# A status reads without colour: a symbol and the word beside it
SYMBOLS = {'ok': '\u2713', 'warning': '!', 'critical': '\u2717', 'unknown': '?', 'skipped': '\u2013', 'no data': '\u00b7'}
NO_DATA = 'no data'

TREND_TITLES = {
    'database_growth_bytes_per_day': 'Database growth per day',
    'database_disk_full_days': 'Days until the disk threshold',
}


def trend_title(name):
    """The column title of a trend figure."""
    return TREND_TITLES.get(name) or name.replace('_', ' ').capitalize()
