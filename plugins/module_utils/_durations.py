# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Human durations in options: ``90s``, ``15m``, ``26h``, ``14d``, ``2w``, or plain seconds."""

from __future__ import annotations

import re

_UNITS = {'s': 1, 'sec': 1, 'm': 60, 'min': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$')


def parse_duration(text, option):
    """Return seconds (float) for ``text``; raise ValueError naming ``option`` and the accepted forms."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _RE.match(str(text))
        if not match:
            raise ValueError('%s: cannot read %r as a duration; use a number of seconds or a number with a unit '
                             's, m, h, d or w (for example 26h or 14d)' % (option, text))
        seconds = float(match.group(1)) * _UNITS[match.group(2) or 's']
    if seconds <= 0:
        raise ValueError('%s must be a positive duration, got %r' % (option, text))
    return seconds
