# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Maintenance windows (_maintenance/window.py): the runbook's windows, clock changes, verdicts and bad input, at injected times."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._maintenance import window

BERLIN = zoneinfo.ZoneInfo('Europe/Berlin')
UTC = datetime.timezone.utc
# a 02:00-04:00 window every Sunday, in Europe/Berlin
NIGHTLY_SUNDAY = [{'name': 'sunday', 'rrule': 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0', 'duration': '2h'}]


def params(**options):
    """The module's params as AnsibleModule gives them (defaults filled), ``expected_duration`` already in seconds."""
    values = {'windows': None, 'names': None, 'timezone': 'Asia/Manila', 'now': None, 'mode': 'check', 'expected_duration': None,
              'emergency': None, 'upcoming': 3}
    values.update(options)
    return values


def run(**options):
    assert window.validate(params(**options)) == []
    return window.run(params(**options))


def spans(result):
    return [(item['name'], item['start'], item['end']) for item in result['next_windows']]


# --- the runbook's windows (Asia/Manila, UTC+08:00 all year) ---------------------------------------------------------


def test_second_sunday_0230_is_inside_weekly_with_an_hour_and_a_half_left():
    result = run(now='2026-01-11T02:30:00+08:00')
    assert result['in_window'] is True
    assert result['window'] == {'name': 'weekly', 'description': 'Weekly maintenance, every Sunday 02:00-04:00',
                                'start': '2026-01-11T02:00:00+08:00', 'end': '2026-01-11T04:00:00+08:00'}
    assert result['remaining_seconds'] == 5400.0
    assert result['ends_at'] == '2026-01-11T04:00:00+08:00'
    assert result['allowed'] is True and result['allowed_by'] == 'window'
    assert result['changed'] is False
    assert result['msg'] == 'inside maintenance window weekly (2026-01-11T02:00:00+08:00 to 2026-01-11T04:00:00+08:00), 1h30m left'


@pytest.mark.parametrize('now, inside', [
    ('2026-01-11T01:59:59', False),
    ('2026-01-11T02:00:00', True),   # the start is inclusive
    ('2026-01-11T03:59:59', True),
    ('2026-01-11T04:00:00', False),  # the end is exclusive
])
def test_start_is_inclusive_and_end_exclusive(now, inside):
    assert run(now=now)['in_window'] is inside


def test_first_sunday_0130_is_inside_monthly_and_the_second_sunday_is_not():
    first = run(now='2026-01-04T01:30:00')
    assert first['in_window'] is True
    assert first['window']['name'] == 'monthly'
    assert (first['window']['start'], first['window']['end']) == ('2026-01-04T01:00:00+08:00', '2026-01-04T05:00:00+08:00')
    assert first['remaining_seconds'] == 3.5 * 3600
    second = run(now='2026-01-11T01:30:00')
    assert second['in_window'] is False and second['window'] is None and second['remaining_seconds'] is None


def test_overlapping_windows_report_the_one_that_ends_last_and_list_only_later_ones():
    # 02:30 on the first Sunday is inside both the weekly (to 04:00) and the monthly (to 05:00) window
    result = run(now='2026-01-04T02:30:00')
    assert result['window']['name'] == 'monthly'
    assert result['remaining_seconds'] == 2.5 * 3600
    assert spans(result)[0] == ('weekly', '2026-01-11T02:00:00+08:00', '2026-01-11T04:00:00+08:00')


def test_a_window_that_begins_inside_the_current_one_is_listed_next():
    result = run(now='2026-01-04T01:30:00')
    assert spans(result)[0] == ('weekly', '2026-01-04T02:00:00+08:00', '2026-01-04T04:00:00+08:00')


def test_a_saturday_lists_the_next_windows_in_order():
    result = run(now='2026-01-03T10:00:00', upcoming=5)
    assert result['in_window'] is False
    assert spans(result) == [
        ('monthly', '2026-01-04T01:00:00+08:00', '2026-01-04T05:00:00+08:00'),
        ('weekly', '2026-01-04T02:00:00+08:00', '2026-01-04T04:00:00+08:00'),
        ('weekly', '2026-01-11T02:00:00+08:00', '2026-01-11T04:00:00+08:00'),
        ('weekly', '2026-01-18T02:00:00+08:00', '2026-01-18T04:00:00+08:00'),
        ('weekly', '2026-01-25T02:00:00+08:00', '2026-01-25T04:00:00+08:00'),
    ]
    assert result['msg'] == ('outside every maintenance window at 2026-01-03T10:00:00+08:00; the next is monthly from '
                             '2026-01-04T01:00:00+08:00 to 2026-01-04T05:00:00+08:00 (mode=guard would refuse)')


def test_the_monthly_window_is_the_first_sunday_of_every_month():
    result = run(now='2026-02-02T00:00:00', upcoming=50)
    monthly = [start for name, start, dummy in spans(result) if name == 'monthly']
    assert monthly[:4] == ['2026-03-01T01:00:00+08:00', '2026-04-05T01:00:00+08:00', '2026-05-03T01:00:00+08:00',
                           '2026-06-07T01:00:00+08:00']


@pytest.mark.parametrize('rule', ['FREQ=MONTHLY;BYDAY=SU;BYSETPOS=1;BYHOUR=1;BYMINUTE=0', 'FREQ=MONTHLY;BYDAY=1SU;BYHOUR=1;BYMINUTE=0',
                                  'RRULE:FREQ=MONTHLY;BYDAY=1SU;BYHOUR=1'])
def test_first_sunday_spelled_either_way(rule):
    result = run(now='2026-01-10T00:00:00', windows=[{'name': 'monthly', 'rrule': rule, 'duration': '4h'}], upcoming=2)
    assert [start for dummy, start, dummy in spans(result)] == ['2026-02-01T01:00:00+08:00', '2026-03-01T01:00:00+08:00']


def test_upcoming_zero_returns_no_windows_but_still_names_the_next():
    result = run(now='2026-01-10T10:00:00', upcoming=0)
    assert result['next_windows'] == []
    assert 'the next is weekly from 2026-01-11T02:00:00+08:00' in result['msg']


def test_time_of_day_defaults_to_midnight():
    result = run(now='2026-01-10T12:00:00', windows=[{'name': 'daily', 'rrule': 'FREQ=DAILY', 'duration': '30m'}], upcoming=1)
    assert spans(result) == [('daily', '2026-01-11T00:00:00+08:00', '2026-01-11T00:30:00+08:00')]


def test_a_dtstart_anchors_interval_and_count():
    rule = 'DTSTART:20260104T020000 RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;COUNT=3'
    result = run(now='2026-01-05T00:00:00', windows=[{'name': 'fortnightly', 'rrule': rule, 'duration': '1h'}], upcoming=5)
    assert [start for dummy, start, dummy in spans(result)] == ['2026-01-18T02:00:00+08:00', '2026-02-01T02:00:00+08:00']


def test_a_date_until_includes_its_whole_day():
    rule = 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;UNTIL=20260118'
    result = run(now='2026-01-10T00:00:00', windows=[{'name': 'weekly', 'rrule': rule, 'duration': '2h'}], upcoming=5)
    assert [start for dummy, start, dummy in spans(result)] == ['2026-01-11T02:00:00+08:00', '2026-01-18T02:00:00+08:00']


def test_a_series_that_is_over_has_no_next_window():
    rule = 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;UNTIL=20250101'
    result = run(now='2026-01-10T00:00:00', windows=[{'name': 'old', 'rrule': rule, 'duration': '2h'}])
    assert result['next_windows'] == [] and result['in_window'] is False
    assert result['msg'].endswith('no window is scheduled after it (mode=guard would refuse)')


# --- now given in UTC, with an offset, or as local time ---------------------------------------------------------------


@pytest.mark.parametrize('now', ['2026-01-10T18:30:00Z', '2026-01-10T18:30:00+00:00', '2026-01-11T02:30:00+08:00',
                                 '2026-01-11T02:30:00', '2026-01-11 02:30:00', '2026-01-10T19:30:00+01:00'])
def test_now_in_utc_or_local_is_the_same_moment(now):
    result = run(now=now)
    assert result['now'] == '2026-01-11T02:30:00+08:00'
    assert result['window']['name'] == 'weekly' and result['remaining_seconds'] == 5400.0


def test_without_now_the_clock_is_asked():
    def clock():
        return datetime.datetime(2026, 1, 10, 18, 30, tzinfo=UTC)
    result = window.run(params(), clock=clock)
    assert result['now'] == '2026-01-11T02:30:00+08:00' and result['in_window'] is True


# --- a time zone with clock changes -----------------------------------------------------------------------------------


def test_resolve_shifts_a_skipped_time_to_the_jump_and_takes_the_first_of_a_repeated_one():
    # 2026-03-29: 02:00 CET -> 03:00 CEST; 2026-10-25: 03:00 CEST -> 02:00 CET (both at 01:00 UTC)
    assert window.resolve(datetime.datetime(2026, 3, 29, 2, 0), BERLIN) == datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert window.resolve(datetime.datetime(2026, 3, 29, 2, 30), BERLIN) == datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert window.resolve(datetime.datetime(2026, 3, 29, 1, 59), BERLIN) == datetime.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert window.resolve(datetime.datetime(2026, 10, 25, 2, 0), BERLIN) == datetime.datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert window.resolve(datetime.datetime(2026, 10, 25, 4, 0), BERLIN) == datetime.datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


def test_spring_forward_sunday_starts_when_the_clock_jumps_and_keeps_its_end():
    before = run(now='2026-03-29T00:59:00Z', timezone='Europe/Berlin', windows=NIGHTLY_SUNDAY)
    assert before['in_window'] is False
    assert before['now'] == '2026-03-29T01:59:00+01:00'
    assert spans(before)[0] == ('sunday', '2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00')
    inside = run(now='2026-03-29T01:30:00Z', timezone='Europe/Berlin', windows=NIGHTLY_SUNDAY)
    assert inside['in_window'] is True
    assert inside['remaining_seconds'] == 1800.0  # the window is one hour long that day
    assert spans(inside)[0] == ('sunday', '2026-04-05T02:00:00+02:00', '2026-04-05T04:00:00+02:00')


@pytest.mark.parametrize('now, local, remaining', [
    ('2026-10-25T00:30:00Z', '2026-10-25T02:30:00+02:00', 2.5 * 3600),  # the first 02:30 (summer time)
    ('2026-10-25T01:30:00Z', '2026-10-25T02:30:00+01:00', 1.5 * 3600),  # the second 02:30 (winter time)
    ('2026-10-25T02:30:00', '2026-10-25T02:30:00+02:00', 2.5 * 3600),   # local and shown twice: the first
])
def test_fall_back_sunday_runs_from_the_first_0200_to_0400_winter_time(now, local, remaining):
    result = run(now=now, timezone='Europe/Berlin', windows=NIGHTLY_SUNDAY)
    assert result['now'] == local
    assert result['window']['start'] == '2026-10-25T02:00:00+02:00' and result['window']['end'] == '2026-10-25T04:00:00+01:00'
    assert result['remaining_seconds'] == remaining


def test_a_local_now_in_the_skipped_hour_is_the_moment_of_the_jump():
    result = run(now='2026-03-29T02:30:00', timezone='Europe/Berlin', windows=NIGHTLY_SUNDAY)
    assert result['now'] == '2026-03-29T03:00:00+02:00' and result['in_window'] is True


def test_a_window_wholly_inside_the_skipped_hour_does_not_happen_that_day():
    short = [{'name': 'short', 'rrule': 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=15', 'duration': '30m'}]
    result = run(now='2026-03-28T12:00:00', timezone='Europe/Berlin', windows=short, upcoming=1)
    assert spans(result) == [('short', '2026-04-05T02:15:00+02:00', '2026-04-05T02:45:00+02:00')]


def test_next_window_across_the_jump_is_ordered_by_the_real_instant():
    # 01:59 CET is one minute before the jump; the next window starts then (03:00 CEST), not an hour later
    result = run(now='2026-03-29T01:59:00', timezone='Europe/Berlin', windows=NIGHTLY_SUNDAY, mode='guard')
    assert 'the next is sunday from 2026-03-29T03:00:00+02:00 to 2026-03-29T04:00:00+02:00' in result['msg']


# --- a one-off window --------------------------------------------------------------------------------------------------


QUARTERLY = {'name': 'quarterly', 'start': '2026-03-28T22:00:00', 'duration': '6h', 'description': 'Quarterly: database upgrade'}


@pytest.mark.parametrize('now, inside, remaining', [
    ('2026-03-28T21:59:00', False, None),
    ('2026-03-29T01:00:00', True, 3 * 3600.0),
    ('2026-03-29T04:00:00', False, None),
])
def test_a_one_off_window(now, inside, remaining):
    result = run(now=now, windows=[QUARTERLY])
    assert result['in_window'] is inside and result['remaining_seconds'] == remaining


def test_a_one_off_window_is_listed_with_its_description_until_it_begins():
    result = run(now='2026-03-01T00:00:00', windows=[QUARTERLY] + list(window.DEFAULT_WINDOWS), upcoming=10)
    assert {'name': 'quarterly', 'description': 'Quarterly: database upgrade', 'start': '2026-03-28T22:00:00+08:00',
            'end': '2026-03-29T04:00:00+08:00'} in result['next_windows']
    assert [item['start'] for item in result['next_windows']] == sorted(item['start'] for item in result['next_windows'])
    assert run(now='2026-03-29T01:00:00', windows=[QUARTERLY])['next_windows'] == []


def test_a_one_off_window_needs_no_dateutil():
    assert window.libraries(params(windows=[QUARTERLY])) == []
    assert window.libraries(params()) == ['dateutil']


# --- the verdicts ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('expected, allowed', [(3600.0, True), (5400.0, True), (5401.0, False), (7200.0, False)])
def test_expected_duration_must_fit_in_the_time_left(expected, allowed):
    result = run(now='2026-01-11T02:30:00', mode='guard', expected_duration=expected)
    assert result['in_window'] is True
    assert result['allowed'] is allowed
    assert result['allowed_by'] == ('window' if allowed else None)
    if not allowed:
        assert result['msg'].startswith('refused: inside maintenance window weekly')
        assert "would overrun the window's end at 2026-01-11T04:00:00+08:00" in result['msg']


def test_check_mode_reports_what_guard_would_refuse():
    result = run(now='2026-01-10T10:00:00', mode='check')
    assert result['allowed'] is False and result['allowed_by'] is None
    assert result['msg'].startswith('outside every maintenance window at 2026-01-10T10:00:00+08:00')
    assert result['msg'].endswith('(mode=guard would refuse)')
    guarded = run(now='2026-01-10T10:00:00', mode='guard')
    assert guarded['msg'].startswith('refused: outside every maintenance window')


def test_an_approved_emergency_change_allows_outside_a_window():
    emergency = {'change_id': 'CHG-2026-0042', 'approved': True, 'approved_by': 'operations-manager'}
    result = run(now='2026-01-10T10:00:00', mode='guard', emergency=emergency)
    assert result['in_window'] is False
    assert result['allowed'] is True and result['allowed_by'] == 'emergency' and result['change_id'] == 'CHG-2026-0042'
    assert result['msg'].endswith('allowed by emergency change CHG-2026-0042, approved by operations-manager')


def test_an_approved_emergency_change_allows_past_the_window_end():
    emergency = {'change_id': 'CHG-2026-0043', 'approved': True, 'approved_by': None}
    result = run(now='2026-01-11T03:30:00', mode='guard', expected_duration=7200.0, emergency=emergency)
    assert result['allowed_by'] == 'emergency'
    assert "would overrun the window's end" in result['msg'] and result['msg'].endswith('CHG-2026-0043, approved')


def test_an_unapproved_emergency_change_does_not_allow():
    emergency = {'change_id': 'CHG-2026-0044', 'approved': False, 'approved_by': None}
    result = run(now='2026-01-10T10:00:00', mode='guard', emergency=emergency)
    assert result['allowed'] is False and result['allowed_by'] is None and result['change_id'] == 'CHG-2026-0044'
    assert 'emergency change CHG-2026-0044 is not approved' in result['msg']
    assert 'emergency.approved must be true' in result['msg']


def test_inside_a_window_the_window_allows_even_with_an_emergency_change():
    emergency = {'change_id': 'CHG-2026-0045', 'approved': True, 'approved_by': None}
    result = run(now='2026-01-11T02:30:00', mode='guard', emergency=emergency)
    assert result['allowed_by'] == 'window' and result['change_id'] == 'CHG-2026-0045'


# --- bad input: every problem named by its option, with the fix --------------------------------------------------------


def one(rule=None, **entry):
    values = {'name': 'w', 'rrule': rule, 'start': None, 'duration': '2h', 'description': None}
    values.update(entry)
    return [values]


@pytest.mark.parametrize('options, fragment', [
    ({'timezone': 'Mars/Olympus'}, "timezone 'Mars/Olympus' is not a time zone this host knows"),
    ({'timezone': '../etc/passwd'}, 'is not a time zone this host knows'),
    ({'timezone': ''}, 'timezone must not be empty'),
    ({'now': 'yesterday'}, "now: cannot read 'yesterday' as a time"),
    ({'now': '0001-01-01T00:00:00Z'}, 'now \'0001-01-01T00:00:00Z\' is out of range'),
    ({'upcoming': 51}, 'upcoming must be from 0 to 50'),
    ({'upcoming': -1}, 'upcoming must be from 0 to 50'),
    ({'windows': []}, 'windows is empty'),
    ({'windows': one('FREQ=HOURLY;BYMINUTE=0')}, 'windows[0].rrule: FREQ=HOURLY is finer than DAILY; this is a maintenance window '
                                                 'schedule, not a cron'),
    ({'windows': one('FREQ=MINUTELY')}, 'FREQ=MINUTELY is finer than DAILY'),
    ({'windows': one('FREQ=FORTNIGHTLY')}, 'windows[0].rrule: FREQ=FORTNIGHTLY is not DAILY, WEEKLY, MONTHLY or YEARLY'),
    ({'windows': one('BYDAY=SU')}, 'windows[0].rrule: FREQ is required'),
    ({'windows': one('every sunday')}, "windows[0].rrule: 'every' is not part of an RRULE"),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;BYHOUR')}, "windows[0].rrule: 'BYHOUR' is not NAME=VALUE"),
    ({'windows': one('FREQ=WEEKLY;BYDAY=XX')}, 'windows[0].rrule: BYDAY=XX: each day is MO, TU, WE, TH, FR, SA or SU'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;BYHOUR=25')}, 'windows[0].rrule: cannot read the rule (hour must be in 0..23)'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;BYDAY=MO')}, 'windows[0].rrule: BYDAY is given twice'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;EXDATE=20260111')}, 'EXDATE is not an RFC 5545 rule part'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=1SU')}, 'BYDAY=1SU counts weekdays, which only FREQ=MONTHLY or YEARLY can'),
    ({'windows': one('FREQ=MONTHLY;BYDAY=6SU')}, 'with FREQ=MONTHLY the ordinal is from 1 to 5'),
    ({'windows': one('FREQ=WEEKLY;BYHOUR=2')}, 'FREQ=WEEKLY names no day'),
    ({'windows': one('FREQ=MONTHLY;BYHOUR=1')}, 'add BYMONTHDAY, or BYDAY with BYSETPOS'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;COUNT=0')}, 'windows[0].rrule: COUNT=0 means the window never happens'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;COUNT=-1')}, 'COUNT=-1 must be a whole number, 1 or more'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;COUNT=4')}, 'COUNT counts occurrences from a DTSTART, and there is none'),
    ({'windows': one('FREQ=WEEKLY;INTERVAL=2;BYDAY=SU')}, 'INTERVAL=2 counts periods from a DTSTART'),
    ({'windows': one('FREQ=WEEKLY;INTERVAL=0;BYDAY=SU')}, 'INTERVAL=0 is not a period'),
    ({'windows': one('DTSTART:20260104T020000 RRULE:FREQ=WEEKLY;BYDAY=SU;COUNT=3;UNTIL=20261231')}, 'COUNT and UNTIL must not both'),
    ({'windows': one('DTSTART;TZID=Europe/Berlin:20260104T020000\nRRULE:FREQ=WEEKLY;BYDAY=SU')},
     'DTSTART;TZID=Europe/Berlin brings its own time zone'),
    ({'windows': one('DTSTART:20260104T020000Z RRULE:FREQ=WEEKLY;BYDAY=SU')}, 'DTSTART 20260104T020000Z is UTC'),
    ({'windows': one('DTSTART:tomorrow RRULE:FREQ=WEEKLY;BYDAY=SU')}, "cannot read 'DTSTART:tomorrow'"),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;DTSTART=20260104T020000')}, 'DTSTART is not a rule part; put it before the rule'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;UNTIL=20261231T000000Z')}, 'UNTIL=20261231T000000Z is UTC (it ends in Z)'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU;UNTIL=2026')}, 'cannot read UNTIL=2026'),
    ({'windows': one('EXDATE:20260111 RRULE:FREQ=WEEKLY;BYDAY=SU')}, "'EXDATE:20260111' is not part of an RRULE"),
    ({'windows': one('RRULE:FREQ=WEEKLY;BYDAY=SU RRULE:FREQ=DAILY')}, 'give one RRULE per window'),
    ({'windows': one('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30')}, 'windows[0].rrule matches no date at all'),
    ({'windows': one('FREQ=DAILY', duration='0')}, 'windows[0].duration must be a positive duration'),
    ({'windows': one('FREQ=DAILY', duration='-2h')}, 'windows[0].duration: cannot read'),
    ({'windows': one('FREQ=DAILY', duration='soon')}, 'windows[0].duration: cannot read'),
    ({'windows': one('FREQ=DAILY', duration=None)}, 'windows[0].duration is required'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SU', duration='8d')}, 'windows[0].duration 8d is longer than 7 days'),
    ({'windows': one('FREQ=DAILY', duration='25h')}, 'windows[0].duration 1d1h is longer than the 1d between two of its occurrences'),
    ({'windows': one('FREQ=WEEKLY;BYDAY=SA,SU', duration='36h')}, 'longer than the 1d between two of its occurrences'),
    ({'windows': one('FREQ=DAILY', start='2026-03-28T22:00:00')}, 'windows[0]: give rrule (a recurring window) or start (a one-off '
                                                                  'window), not both'),
    ({'windows': one()}, 'windows[0]: give rrule (a recurring window'),
    ({'windows': one(start='2026-03-28T22:00:00+08:00')}, "windows[0].start '2026-03-28T22:00:00+08:00' has an offset"),
    ({'windows': one(start='next quarter')}, "windows[0].start: cannot read 'next quarter'"),
    ({'windows': one('FREQ=DAILY', name='')}, 'windows[0].name must not be empty'),
    ({'windows': one('FREQ=DAILY', name='w') + one(start='2026-03-28T22:00:00', name='w')},
     "windows[1].name 'w' is also the name of windows[0]; names must be unique"),
    ({'emergency': {'change_id': ' ', 'approved': True, 'approved_by': None}}, 'emergency.change_id must not be empty'),
    ({'emergency': {'change_id': 'CHG-1', 'approved': True, 'approved_by': ''}}, 'emergency.approved_by is empty'),
])
def test_bad_input_is_a_clear_message(options, fragment):
    problems = window.validate(params(**dict({'now': '2026-01-10T10:00:00'}, **options)))
    assert any(fragment in problem for problem in problems), problems


def test_every_problem_is_reported_at_once():
    problems = window.validate(params(timezone='Nowhere/Town', upcoming=99, windows=one('FREQ=HOURLY') + one(duration='0', name='x')))
    assert len(problems) == 5, problems


def test_the_default_windows_are_valid_in_any_zone():
    for zone in ('Asia/Manila', 'Europe/Berlin', 'America/New_York', 'UTC'):
        assert window.validate(params(timezone=zone, now='2026-03-08T02:30:00')) == []


def test_run_refuses_what_validate_refuses():
    with pytest.raises(window.WindowError, match='windows\\[0\\].rrule: FREQ=SECONDLY'):
        window.run(params(now='2026-01-10T10:00:00', windows=one('FREQ=SECONDLY')))


@pytest.mark.parametrize('seconds, text', [(30, '30s'), (90, '1m30s'), (5400, '1h30m'), (7200, '2h'), (90000, '1d1h'), (5399.6, '1h30m')])
def test_human_duration(seconds, text):
    assert window.human_duration(seconds) == text


# --- names: only some windows count ----------------------------------------------------------------------------------


def test_names_monthly_ignores_the_weekly_window_on_an_ordinary_sunday():
    result = run(now='2026-01-11T02:30:00', names=['monthly'])
    assert result['in_window'] is False and result['allowed'] is False
    assert spans(result)[0] == ('monthly', '2026-02-01T01:00:00+08:00', '2026-02-01T05:00:00+08:00')
    assert [item['name'] for item in result['next_windows']] == ['monthly'] * 3
    # every window counts without names: the weekly one is open
    assert run(now='2026-01-11T02:30:00')['window']['name'] == 'weekly'


def test_names_monthly_on_the_first_sunday_is_the_monthly_window():
    result = run(now='2026-01-04T03:30:00', names=['monthly'], expected_duration=3600)
    assert result['window']['name'] == 'monthly' and result['allowed'] is True


def test_names_weekly_judges_the_time_left_by_the_weekly_window_end():
    # 03:30 on the first Sunday: 1h30m left in the monthly window, 30m in the weekly one
    assert run(now='2026-01-04T03:30:00', expected_duration=3600)['allowed'] is True
    refused = run(now='2026-01-04T03:30:00', names=['weekly'], expected_duration=3600)
    assert refused['allowed'] is False and "overrun the window's end at 2026-01-04T04:00:00+08:00" in refused['msg']


@pytest.mark.parametrize('names, expected', [
    ([], 'names is empty: give the names of the windows that count'),
    (['quarterly'], "names 'quarterly': no window has that name; the windows are weekly, monthly"),
])
def test_bad_names_are_named(names, expected):
    problems = window.validate(params(now='2026-01-10T10:00:00', names=names))
    assert len(problems) == 1 and problems[0].startswith(expected)
    with pytest.raises(window.WindowError, match='invalid options: names'):
        window.run(params(now='2026-01-10T10:00:00', names=names))
