# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Points in time in options: ISO 8601, a trailing ``Z`` or an offset; naive means UTC."""

from __future__ import annotations

import datetime


def parse_time(text, option):
    """An aware UTC datetime for ``text``; ValueError naming ``option`` and the accepted form."""
    if isinstance(text, datetime.datetime):
        value = text
    else:
        raw = str(text).strip()
        try:
            # fromisoformat reads a trailing Z only from Python 3.11 on
            value = datetime.datetime.fromisoformat(raw[:-1] + '+00:00' if raw.endswith(('Z', 'z')) else raw)
        except ValueError:
            raise ValueError('%s: cannot read %r as a time; use ISO 8601 such as 2026-12-02T10:00:00Z' % (option, text)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)
