# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Trends and records: least-squares growth, days until a threshold, untrusted records refused by field."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec
from ansible_collections.dsr.ops.plugins.module_utils._ops import trends
from ansible_collections.dsr.ops.plugins.module_utils._ops.history import day_status

DAY = 86400


def test_slope_per_day_is_exact_on_a_line_and_needs_a_span():
    assert trends.slope_per_day([(0, 100.0), (DAY, 110.0), (2 * DAY, 120.0)]) == pytest.approx(10.0)
    assert trends.slope_per_day([(0, 100.0), (3600, 200.0)]) is None  # one hour apart: noise
    assert trends.slope_per_day([(0, 100.0)]) is None


def test_one_odd_reading_moves_the_slope_less_than_first_to_last():
    series = [(i * DAY, 100.0 + 10 * i) for i in range(7)]
    series[-1] = (6 * DAY, 200.0)  # a spike on the last day
    first_to_last = (series[-1][1] - series[0][1]) / 6
    assert 10 < trends.slope_per_day(series) < first_to_last


def test_days_until():
    assert trends.days_until(0.56, 0.85, 0.01) == pytest.approx(29.0)
    assert trends.days_until(0.9, 0.85, 0.01) == 0.0
    assert trends.days_until(0.5, 0.85, 0.0) is None
    assert trends.days_until(0.5, 0.85, -0.01) is None


def test_records_are_refused_by_field():
    base = {'time': '2026-12-04T08:00:00Z', 'environment': 'production', 'check': 'database', 'status': 'ok'}
    assert rec.validate(base)['time'] == '2026-12-04T08:00:00+00:00'
    cases = [
        (dict(base, time='2026-12-04 08:00'), 'has no time zone'),
        (dict(base, status='fine'), 'status'),
        (dict(base, check='Database!'), 'check'),
        (dict(base, environment='../etc'), 'environment'),
        (dict(base, figures={'x': float('inf')}), 'must be a finite number'),
        (dict(base, figures={'x': True}), 'must be a number'),
        (dict(base, figures={'x': [{'labels': {'environment': 'a'}, 'value': 1}]}), 'reserved'),
        (dict(base, figures={'x': [{'labels': {'a': 'b'}, 'value': 1}, {'labels': {'a': 'b'}, 'value': 2}]}), 'appear twice'),
        (dict(base, extra=1), 'unknown fields'),
        (dict(base, affected='payment-service'), 'affected'),
    ]
    for record, text in cases:
        with pytest.raises(rec.RecordError, match=text):
            rec.validate(record, 'records[3]')


def test_daily_takes_the_last_reading_or_the_sum():
    day = datetime.date(2026, 12, 4)
    records = [rec.validate({'time': '2026-12-04T%02d:00:00Z' % hour, 'environment': 'p', 'check': 'errors', 'status': 'ok',
                             'figures': {'error_count': value}}) for hour, value in ((8, 3), (12, 4))]
    assert trends.daily(records, 'p', 'error_count', [day]) == [['2026-12-04', 4]]
    assert trends.daily(records, 'p', 'error_count', [day], reduce_day='sum') == [['2026-12-04', 7]]


def test_a_day_of_skipped_records_stays_skipped_and_a_bad_one_wins():
    assert day_status(day_status(None, 'skipped'), 'skipped') == 'skipped'
    assert day_status(day_status(None, 'skipped'), 'ok') == 'ok'
    assert day_status(day_status(None, 'critical'), 'skipped') == 'critical'
    assert day_status(day_status(None, 'ok'), 'warning') == 'warning'
