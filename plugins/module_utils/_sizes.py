# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Byte sizes in options: ``16MiB``, ``64MB``, ``1GiB``, or plain bytes.

Both decimal (KB, MB, GB: powers of 1000) and binary (KiB, MiB, GiB: powers of
1024) units are read as written; a bare ``K``, ``M`` or ``G`` is binary, as in
most tools sysadmins use (``dd``, ``split``).
"""

from __future__ import annotations

import re

_UNITS = {
    '': 1, 'b': 1,
    'k': 1024, 'kib': 1024, 'kb': 1000,
    'm': 1024 ** 2, 'mib': 1024 ** 2, 'mb': 1000 ** 2,
    'g': 1024 ** 3, 'gib': 1024 ** 3, 'gb': 1000 ** 3,
}
_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$', re.IGNORECASE)


def parse_size(text, option):
    """Return bytes (int) for ``text``; raise ValueError naming ``option`` and the accepted forms."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _RE.match(str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError('%s: cannot read %r as a size; use bytes or a number with a unit KiB, MiB, GiB '
                             '(or KB, MB, GB), for example 16MiB' % (option, text))
        value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ValueError('%s must be a positive size, got %r' % (option, text))
    return value
