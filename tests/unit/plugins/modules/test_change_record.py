# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""change_record's main(), driven through ansible-core's own testing helper, at an injected now."""

from __future__ import annotations

import copy
import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dsr.ops.plugins.modules import change_record
from ansible_collections.dsr.ops.tests.unit.plugins.module_utils._maintenance.test_change import NOW, RUNBOOK_CHANGE

# the runbook's Change Request Template with its two approvals, as the backend's tests have it
CHANGE = RUNBOOK_CHANGE


def changed(**fields):
    value = copy.deepcopy(CHANGE)
    value.update(fields)
    return value


def run_main(args, capsys):
    with patch_module_args(dict({'now': NOW, 'who': 'tester'}, **args)):
        with pytest.raises(SystemExit):
            change_record.main()
    return json.loads(capsys.readouterr().out)


def ok(result):
    return 'failed' not in result or result['failed'] is False


def test_validate_the_runbooks_example(capsys):
    result = run_main({'change': CHANGE}, capsys)
    assert ok(result) and result['changed'] is False
    assert result['valid'] is True and result['approved'] is True and result['missing_approvals'] == []
    assert result['change']['category'] == 'normal' and result['change']['outside_window'] is False
    assert result['entry'] is None and result['written'] is False and result['emergency'] is None
    assert result['chain_ok'] is True and result['malformed_lines'] == 0 and result['entries'] == []


def test_start_then_complete(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('JOB_ID', '4711')
    log = tmp_path / 'changes' / 'audit.jsonl'
    started = run_main({'change': CHANGE, 'event': 'started', 'audit_log': str(log),
                        'context': {'play': 'Registration update', 'host': 'app1'}}, capsys)
    assert ok(started) and started['changed'] is True and started['written'] is True
    assert started['entry']['job_id'] == '4711' and started['entry']['context'] == {'play': 'Registration update', 'host': 'app1'}
    completed = run_main({'change': CHANGE, 'event': 'completed', 'audit_log': str(log), 'details': 'live',
                          'result': {'version': '1.2.0'}}, capsys)
    assert ok(completed) and completed['written'] is True
    assert [entry['event'] for entry in completed['entries']] == ['started', 'completed']
    assert len(log.read_bytes().splitlines()) == 2
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def test_an_unapproved_start_fails_and_is_recorded(tmp_path, capsys):
    log = tmp_path / 'audit.jsonl'
    result = run_main({'change': changed(approvals=CHANGE['approvals'][:1]), 'event': 'started', 'audit_log': str(log)}, capsys)
    assert result['failed'] is True and result['changed'] is True and result['written'] is True
    assert 'no approval yet from operations-manager' in result['msg'] and result['missing_approvals'] == ['operations-manager']
    assert json.loads(log.read_bytes())['event'] == 'refused'
    assert 'exception' not in result


def test_completed_without_started_fails(tmp_path, capsys):
    result = run_main({'change': CHANGE, 'event': 'completed', 'audit_log': str(tmp_path / 'audit.jsonl')}, capsys)
    assert result['failed'] is True and 'the audit log has no started entry for it' in result['msg']


def test_check_mode_writes_nothing(tmp_path, capsys):
    log = tmp_path / 'audit.jsonl'
    result = run_main({'change': CHANGE, 'event': 'started', 'audit_log': str(log), '_ansible_check_mode': True}, capsys)
    assert ok(result) and result['changed'] is True and result['written'] is False and result['entry']['event'] == 'started'
    assert not log.exists()


def test_an_emergency_change_gives_maintenance_windows_emergency_option(capsys):
    emergency = changed(change_id='CHG-2025-0107', category='Emergency', priority='Critical', outside_window=True,
                        emergency_reason='Critical security patch', approval_required=None,
                        approvals=[{'role': 'operations-manager', 'approver': 'jose.reyes', 'at': '2025-07-14T14:40:00+08:00'}])
    result = run_main({'change': emergency}, capsys)
    assert ok(result) and result['approved'] is True
    assert result['emergency'] == {'change_id': 'CHG-2025-0107', 'approved': True, 'approved_by': 'jose.reyes (operations-manager)'}


def test_a_symlink_at_the_path_fails_without_a_traceback(tmp_path, capsys):
    target = tmp_path / 'target'
    target.write_bytes(b'')
    link = tmp_path / 'audit.jsonl'
    link.symlink_to(target)
    result = run_main({'change': CHANGE, 'event': 'started', 'audit_log': str(link)}, capsys)
    assert result['failed'] is True and 'is a symlink' in result['msg'] and 'exception' not in result
    assert result['written'] is False and result['changed'] is False


@pytest.mark.parametrize('args, fragment', [
    ({'change': changed(category='urgent')}, "invalid options: change.category 'urgent' is not one of standard, normal, emergency"),
    ({'change': changed(change_id='CHG-25-1')}, "invalid options: change.change_id 'CHG-25-1' is not a change id"),
    ({'change': changed(rollback_plan='')}, 'invalid options: change.rollback_plan is required for a normal change'),
    ({'change': changed(approvals=[{'role': 'technical-lead', 'approver': 'm', 'at': '2030-01-01T00:00:00Z'}])},
     'invalid options: change.approvals[0].at 2030-01-01T00:00:00+00:00 is after now'),
    ({'change': changed(ticket='INC-1')}, 'module: change.ticket. Supported parameters include: approval_required, approvals'),
    ({'change': CHANGE, 'event': 'started'}, 'invalid options: audit_log is required with event=started'),
    ({'change': CHANGE, 'now': 'later'}, "invalid options: now: cannot read 'later' as a time"),
    ({'change': CHANGE, 'event': 'deployed'}, 'value of event must be one of: validate, started, step, completed, failed, rolled_back'),
])
def test_bad_input_is_a_clear_message(args, fragment, capsys):
    result = run_main(args, capsys)
    assert result['failed'] is True
    assert fragment in result['msg'], result['msg']
    assert 'exception' not in result


def test_an_invalid_change_reports_valid_false(capsys):
    result = run_main({'change': changed(category='urgent')}, capsys)
    assert result['failed'] is True and result['valid'] is False and result['written'] is False
