# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trends from the check history: growth per day, days until a threshold, one value per day.

The runbook's capacity planning (Performance Management: growth monitoring) as
arithmetic on recorded figures: a least-squares slope over the window, so one
odd reading moves the figure less than a first-to-last difference would.
"""

from __future__ import annotations

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec

DAY_SECONDS = 86400.0
# a slope needs readings spread over at least this long, else it is noise
MIN_SPAN_SECONDS = 12 * 3600


def points(records, environment, name, reduce=min):
    """(seconds since the epoch, value) of figure ``name`` in ``environment``'s records, oldest first."""
    out = []
    for record in records:
        if record['environment'] != environment:
            continue
        value = rec.scalar(record, name, reduce)
        if value is not None:
            out.append((rec.parse_time(record['time']).timestamp(), float(value)))
    out.sort()
    return out


def slope_per_day(series):
    """The least-squares slope of ``series`` (``[(seconds, value)]``) per day; None with fewer than two readings or too short a span."""
    if len(series) < 2 or series[-1][0] - series[0][0] < MIN_SPAN_SECONDS:
        return None
    count = float(len(series))
    mean_t = sum(t for t, dummy in series) / count
    mean_v = sum(v for dummy, v in series) / count
    spread = sum((t - mean_t) ** 2 for t, dummy in series)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in series) / spread
    return slope * DAY_SECONDS


def days_until(current, limit, slope):
    """Days until ``current`` reaches ``limit`` growing by ``slope`` a day: 0 when already there, None when not growing."""
    if current is None or slope is None:
        return None
    if current >= limit:
        return 0.0
    if slope <= 0:
        return None
    return (limit - current) / slope


def environment_trends(records, environment, disk_threshold):
    """The history-derived figures of one environment (absent keys: not enough history)."""
    out = {}
    size = points(records, environment, 'database_size_bytes')
    growth = slope_per_day(size)
    if growth is not None:
        out['database_growth_bytes_per_day'] = round(growth, 1)
    disk = points(records, environment, 'disk_used_ratio', max)
    disk_slope = slope_per_day(disk)
    if disk:
        left = days_until(disk[-1][1], disk_threshold, disk_slope)
        if left is not None:
            out['database_disk_full_days'] = round(left, 1)
    for figure, trend in (('backup_size_bytes', 'backup_size_growth_bytes_per_day'),
                          ('backup_duration_seconds', 'backup_duration_change_seconds_per_day')):
        slope = slope_per_day(points(records, environment, figure))
        if slope is not None:
            out[trend] = round(slope, 3)
    return out


def daily(records, environment, name, days, reduce_samples=min, reduce_day='last'):
    """One value per UTC day of ``days`` (dates): the day's last reading (or its sum), None-free list of [date, value]."""
    by_day = {}
    for record in records:
        if record['environment'] != environment:
            continue
        value = rec.scalar(record, name, reduce_samples)
        if value is None:
            continue
        day = rec.parse_time(record['time']).date()
        by_day.setdefault(day, []).append((record['time'], value))
    out = []
    for day in days:
        readings = sorted(by_day.get(day, []))
        if not readings:
            continue
        value = sum(v for dummy, v in readings) if reduce_day == 'sum' else readings[-1][1]
        out.append([day.isoformat(), value])
    return out


def window(day, count):
    """The ``count`` UTC dates ending with ``day``, oldest first."""
    return [day - datetime.timedelta(days=offset) for offset in range(count - 1, -1, -1)]
