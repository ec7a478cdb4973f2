# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Human units for the report: bytes as KiB/MiB/GiB, seconds as s/min/h/d, ratios as percent.

:func:`scale` picks one display unit for a whole chart axis (so its ticks read
``1.2 GiB``, ``1.4 GiB``, not raw byte counts); :func:`human` formats one value.
"""

from __future__ import annotations

import math

UNITS = ('bytes', 'seconds', 'count', 'days', 'ratio')

_BYTES = (('B', 1), ('KiB', 1024), ('MiB', 1024 ** 2), ('GiB', 1024 ** 3), ('TiB', 1024 ** 4), ('PiB', 1024 ** 5))
_SECONDS = (('s', 1), ('min', 60), ('h', 3600), ('d', 86400))


def scale(unit, magnitude):
    """``(suffix, divisor)`` to show values of ``unit`` around ``magnitude`` (the largest absolute value)."""
    magnitude = abs(magnitude)
    if unit == 'bytes':
        chosen = _BYTES[0]
        for step in _BYTES:
            if magnitude >= step[1]:
                chosen = step
        return chosen
    if unit == 'seconds':
        if magnitude < 120:
            return _SECONDS[0]
        if magnitude < 2 * 3600:
            return _SECONDS[1]
        if magnitude < 2 * 86400:
            return _SECONDS[2]
        return _SECONDS[3]
    if unit == 'ratio':
        return ('%', 0.01)
    if unit == 'days':
        return ('days', 1)
    return ('', 1)


def number(value, digits=None):
    """A number for people: thousands separators, at most ``digits`` decimals (chosen by size when None), no ``-0``."""
    if isinstance(value, int):
        return '{:,}'.format(value)
    if not math.isfinite(value):
        return str(value)
    if digits is None:
        size = abs(value)
        digits = 0 if size >= 100 or value == int(value) else (1 if size >= 10 else 2)
    text = '{:,.{}f}'.format(value, digits)
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return '0' if text in ('-0', '') else text


def human(value, unit):
    """One value in its human unit: ``1.12 GiB``, ``12.5 min``, ``85.3 %``, ``1,234``, ``41.5 days``; ``-`` for None."""
    if value is None:
        return '-'
    suffix, divisor = scale(unit, value)
    if unit == 'count':
        return number(value)
    shown = value / divisor if divisor != 1 else value
    if unit == 'bytes' and divisor == 1:
        return '%s B' % number(value, 0)
    if unit == 'days':
        return '%s %s' % (number(shown, 1), 'day' if shown == 1 else 'days')
    return '%s %s' % (number(shown), suffix) if suffix else number(shown)


def trend_unit(name):
    """The unit of a trend figure by its name's suffix (``database_growth_bytes_per_day`` -> ``bytes/day``)."""
    if name.endswith('_bytes_per_day'):
        return 'bytes', '/day'
    if name.endswith('_per_day'):
        return 'count', '/day'
    for suffix, unit in (('_bytes', 'bytes'), ('_seconds', 'seconds'), ('_days', 'days'), ('_ratio', 'ratio')):
        if name.endswith(suffix):
            return unit, ''
    return 'count', ''


def human_trend(name, value):
    """A trend figure for people: ``9.54 MiB/day``, ``41.5 days``; ``-`` for None."""
    if value is None:
        return '-'
    unit, per = trend_unit(name)
    return human(value, unit) + per


def nice_ticks(low, high, count=5):
    """Round tick values covering ``low``..``high`` (at most about ``count`` + 1 of them)."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw:
            break
    start = math.floor(low / step) * step
    ticks = []
    index = 0
    while len(ticks) < 50:
        value = round(start + index * step, 12)
        ticks.append(value)
        if value >= high:
            break
        index += 1
    return ticks
