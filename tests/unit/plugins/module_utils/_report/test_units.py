# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._report import units


@pytest.mark.parametrize('value, unit, text', [
    (512, 'bytes', '512 B'),
    (1536, 'bytes', '1.5 KiB'),
    (300000000, 'bytes', '286 MiB'),
    (1200000000, 'bytes', '1.12 GiB'),
    (5 * 1024 ** 4, 'bytes', '5 TiB'),
    (42, 'seconds', '42 s'),
    (7.25, 'seconds', '7.25 s'),
    (600, 'seconds', '10 min'),
    (693.5, 'seconds', '11.6 min'),
    (5400, 'seconds', '90 min'),
    (9000, 'seconds', '2.5 h'),
    (3 * 86400, 'seconds', '3 d'),
    (1234567, 'count', '1,234,567'),
    (0.5, 'count', '0.5'),
    (41.5, 'days', '41.5 days'),
    (1, 'days', '1 day'),
    (0.853, 'ratio', '85.3 %'),
    (None, 'bytes', '-'),
])
def test_human(value, unit, text):
    assert units.human(value, unit) == text


def test_trends():
    assert units.human_trend('database_growth_bytes_per_day', 10000000) == '9.54 MiB/day'
    assert units.human_trend('database_disk_full_days', 41.5) == '41.5 days'
    assert units.human_trend('database_disk_full_days', None) == '-'


@pytest.mark.parametrize('low, high', [(120.25, 693), (0.28, 1.12), (5, 5), (0, 40), (-3, 7), (1e-6, 3e-6)])
def test_nice_ticks_cover_the_range(low, high):
    ticks = units.nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
