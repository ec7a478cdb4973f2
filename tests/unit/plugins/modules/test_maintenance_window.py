# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""maintenance_window's main(), driven through ansible-core's own testing helper, at injected times."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.modules import maintenance_window

SATURDAY = '2026-01-10T10:00:00+08:00'
SUNDAY_0230 = '2026-01-11T02:30:00+08:00'


def run_main(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            maintenance_window.main()
    return json.loads(capsys.readouterr().out)


def test_guard_outside_a_window_fails_with_the_next_window(capsys):
    result = run_main({'mode': 'guard', 'now': SATURDAY}, capsys)
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'] == ('refused: outside every maintenance window at 2026-01-10T10:00:00+08:00; the next is weekly from '
                             '2026-01-11T02:00:00+08:00 to 2026-01-11T04:00:00+08:00')
    assert result['allowed'] is False and result['in_window'] is False
    assert result['next_windows'][0]['start'] == '2026-01-11T02:00:00+08:00'


def test_guard_inside_a_window_passes(capsys):
    result = run_main({'mode': 'guard', 'now': SUNDAY_0230, 'expected_duration': '90m'}, capsys)
    assert 'failed' not in result or result['failed'] is False
    assert result['allowed_by'] == 'window' and result['remaining_seconds'] == 5400.0
    assert result['window']['name'] == 'weekly'


def test_guard_fails_when_the_work_would_overrun_the_window(capsys):
    result = run_main({'mode': 'guard', 'now': SUNDAY_0230, 'expected_duration': '2h'}, capsys)
    assert result['failed'] is True
    assert "expected_duration 2h would overrun the window's end at 2026-01-11T04:00:00+08:00" in result['msg']


def test_guard_passes_with_an_approved_emergency_change(capsys):
    result = run_main({'mode': 'guard', 'now': SATURDAY,
                       'emergency': {'change_id': 'CHG-2026-0042', 'approved': True, 'approved_by': 'operations-manager'}}, capsys)
    assert 'failed' not in result or result['failed'] is False
    assert result['allowed_by'] == 'emergency' and result['change_id'] == 'CHG-2026-0042'


def test_guard_fails_with_an_unapproved_emergency_change(capsys):
    result = run_main({'mode': 'guard', 'now': SATURDAY, 'emergency': {'change_id': 'CHG-2026-0042'}}, capsys)
    assert result['failed'] is True
    assert 'emergency change CHG-2026-0042 is not approved' in result['msg']


def test_check_option_reports_without_failing(capsys):
    result = run_main({'now': SATURDAY}, capsys)
    assert 'failed' not in result or result['failed'] is False
    assert result['allowed'] is False and result['msg'].endswith('(mode=guard would refuse)')


@pytest.mark.parametrize('mode, fails', [('check', False), ('guard', True)])
def test_check_mode_behaves_the_same(mode, fails, capsys):
    result = run_main({'mode': mode, 'now': SATURDAY, '_ansible_check_mode': True}, capsys)
    assert bool(result.get('failed')) is fails
    assert result['changed'] is False and result['allowed'] is False


@pytest.mark.parametrize('args, fragment', [
    ({'timezone': 'Mars/Olympus'}, "invalid options: timezone 'Mars/Olympus' is not a time zone this host knows"),
    ({'now': 'soon'}, "invalid options: now: cannot read 'soon' as a time"),
    ({'expected_duration': 'a while'}, "invalid options: expected_duration: cannot read 'a while' as a duration"),
    ({'upcoming': 100}, 'invalid options: upcoming must be from 0 to 50'),
    ({'windows': [{'name': 'w', 'rrule': 'FREQ=HOURLY', 'duration': '1h'}]}, 'invalid options: windows[0].rrule: FREQ=HOURLY is finer'),
    ({'windows': [{'name': 'w', 'rrule': 'FREQ=DAILY', 'start': '2026-03-28T22:00:00', 'duration': '1h'}]},
     'invalid options: windows[0]: give rrule (a recurring window) or start (a one-off window), not both'),
    ({'windows': [{'name': 'w', 'rrule': 'FREQ=DAILY', 'duration': '0'}]}, 'invalid options: windows[0].duration must be a positive'),
    ({'emergency': {'change_id': ''}}, 'invalid options: emergency.change_id must not be empty'),
    ({'mode': 'enforce'}, 'value of mode must be one of: check, guard'),
    ({'windows': [{'rrule': 'FREQ=DAILY', 'duration': '1h'}]}, 'missing required arguments: name'),
])
def test_bad_input_is_a_clear_message(args, fragment, capsys):
    result = run_main(dict(args, now=args.get('now', SATURDAY)), capsys)
    assert result['failed'] is True
    assert fragment in result['msg']
    assert 'exception' not in result


def test_missing_dateutil_names_the_library(capsys, monkeypatch):
    monkeypatch.setitem(_deps._ERRORS, 'dateutil', 'Traceback: No module named dateutil')  # pylint: disable=protected-access
    result = run_main({'now': SATURDAY}, capsys)
    assert result['failed'] is True
    assert 'python-dateutil' in result['msg']
    assert 'Failed to import the required Python library' in result['msg']


def test_a_one_off_window_runs_without_dateutil(capsys, monkeypatch):
    monkeypatch.setitem(_deps._ERRORS, 'dateutil', 'Traceback: No module named dateutil')  # pylint: disable=protected-access
    result = run_main({'mode': 'guard', 'now': '2026-03-28T23:00:00',
                       'windows': [{'name': 'quarterly', 'start': '2026-03-28T22:00:00', 'duration': '6h'}]}, capsys)
    assert 'failed' not in result or result['failed'] is False
    assert result['window']['name'] == 'quarterly' and result['remaining_seconds'] == 5 * 3600.0
