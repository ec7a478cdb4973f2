# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Change records (_maintenance/change.py): the runbook's template, the rules per category, and the audit log, at an injected now."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import multiprocessing
import os
import stat

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._maintenance import change as cr

NOW = '2025-07-15T02:00:00+08:00'
NOW_UTC = datetime.datetime(2025, 7, 14, 18, 0, tzinfo=datetime.timezone.utc)

# the runbook's Change Request Template, with the two approvals its approval_required names
RUNBOOK_CHANGE = {
    'change_id': 'CHG-2025-0042',
    'title': 'Update DSR Registration Service to v1.2.0',
    'category': 'Normal',
    'priority': 'Medium',
    'requested_by': 'development-team',
    'implementation_date': '2025-07-15',
    'description': 'Update registration service with bug fixes and performance improvements',
    'business_justification': 'Resolve user-reported issues and improve system performance',
    'risk_assessment': 'Low - well-tested update with rollback plan',
    'rollback_plan': 'Revert to previous version using deployment rollback',
    'testing_plan': 'Execute full regression test suite',
    'approval_required': ['technical-lead', 'operations-manager'],
    'approvals': [
        {'role': 'technical-lead', 'approver': 'maria.santos', 'at': '2025-07-14T09:30:00+08:00'},
        {'role': 'operations-manager', 'approver': 'jose.reyes', 'at': '2025-07-14T11:00:00+08:00'},
    ],
}

EMERGENCY_CHANGE = {
    'change_id': 'CHG-2025-0107',
    'title': 'Patch OpenSSL on the API gateway',
    'category': 'emergency',
    'priority': 'critical',
    'requested_by': 'security-team',
    'implementation_date': '2025-07-14T15:00:00+08:00',
    'description': "Apply the vendor's OpenSSL security update",
    'business_justification': 'Actively exploited vulnerability',
    'risk_assessment': 'Medium - restarts the gateway',
    'rollback_plan': 'Reinstall the previous package',
    'testing_plan': 'Patched in staging this morning',
    'outside_window': True,
    'emergency_reason': 'Critical security patch, cannot wait for Sunday',
    'approvals': [{'role': 'operations-manager', 'approver': 'jose.reyes', 'at': '2025-07-14T14:40:00+08:00'}],
}

STANDARD_CHANGE = {
    'change_id': 'CHG-2025-0200',
    'title': 'Create user accounts for the new regional staff',
    'category': 'standard',
    'priority': 'low',
    'requested_by': 'service-desk',
    'implementation_date': '2025-07-14',
    'description': 'Routine account creation',
}


def change(base=None, **fields):
    """A copy of ``base`` (the runbook's change) with ``fields`` replaced; a value of ``...`` removes the field."""
    value = copy.deepcopy(base or RUNBOOK_CHANGE)
    for key, item in fields.items():
        if item is Ellipsis:
            value.pop(key, None)
        else:
            value[key] = item
    return value


def params(record=None, **options):
    """The module's params as AnsibleModule gives them (defaults filled)."""
    values = {'change': record if record is not None else change(), 'event': 'validate', 'audit_log': None, 'who': 'tester',
              'job_id': None, 'context': None, 'details': None, 'result': None, 'refusal': None, 'now': NOW}
    values.update(options)
    return values


def run(record=None, check_mode=False, environ=None, **options):
    return cr.run(params(record, **options), check_mode=check_mode, environ=environ or {})


def problems_of(record):
    normalized, problems = cr.validate_change(record, NOW_UTC)
    assert normalized is None
    return problems


def lines(path):
    with open(path, 'rb') as handle:
        return handle.read().split(b'\n')[:-1]


def scan(path, change_id='CHG-2025-0042'):
    with open(path, 'rb') as handle:
        return cr.scan(handle, change_id)


# --- the runbook's example -------------------------------------------------------------------------------------------


def test_the_runbooks_example_with_its_two_approvals_is_valid_and_approved():
    result = run()
    assert result['valid'] is True and result['approved'] is True and result['missing_approvals'] == []
    assert result['changed'] is False and result['written'] is False and result['entry'] is None
    normalized = result['change']
    assert normalized['category'] == 'normal' and normalized['priority'] == 'medium'
    assert normalized['implementation_date'] == '2025-07-15'
    assert normalized['approvals'] == [
        {'role': 'technical-lead', 'approver': 'maria.santos', 'at': '2025-07-14T01:30:00+00:00'},
        {'role': 'operations-manager', 'approver': 'jose.reyes', 'at': '2025-07-14T03:00:00+00:00'},
    ]
    assert result['emergency'] is None
    assert result['msg'] == ('change CHG-2025-0042 (normal, medium) is valid and approved (approved by maria.santos (technical-lead), '
                             'jose.reyes (operations-manager))')


def test_without_the_operations_managers_approval_it_is_not_approved_naming_the_role():
    result = run(change(approvals=RUNBOOK_CHANGE['approvals'][:1]))
    assert result['valid'] is True and result['approved'] is False
    assert result['missing_approvals'] == ['operations-manager']
    assert result['msg'] == ('change CHG-2025-0042 (normal, medium) is valid but not approved: no approval yet from '
                             'operations-manager (approval_required)')


def test_a_normal_change_needs_the_runbooks_two_roles_by_default():
    result = run(change(approval_required=..., approvals=[RUNBOOK_CHANGE['approvals'][1]]))
    assert result['change']['approval_required'] == ['technical-lead', 'operations-manager']
    assert result['approved'] is False and result['missing_approvals'] == ['technical-lead']


def test_the_same_role_approving_twice_counts_once_its_earliest_approval():
    approvals = [
        {'role': 'Technical-Lead', 'approver': 'late.lead', 'at': '2025-07-14T12:00:00+08:00'},
        {'role': 'technical-lead', 'approver': 'maria.santos', 'at': '2025-07-14T09:30:00+08:00'},
    ]
    result = run(change(approvals=approvals))
    assert result['change']['approvals'] == [{'role': 'technical-lead', 'approver': 'maria.santos', 'at': '2025-07-14T01:30:00+00:00'}]
    assert result['approved'] is False and result['missing_approvals'] == ['operations-manager']


def test_an_approval_dated_after_now_is_refused():
    approvals = [dict(RUNBOOK_CHANGE['approvals'][0]), dict(RUNBOOK_CHANGE['approvals'][1], at='2025-07-15T02:00:01+08:00')]
    assert problems_of(change(approvals=approvals)) == [
        'change.approvals[1].at 2025-07-14T18:00:01+00:00 is after now (2025-07-14T18:00:00+00:00): an approval cannot come '
        'from the future; check the date (and the clock, or the now option)']


def test_an_approval_exactly_at_now_counts():
    approvals = [dict(RUNBOOK_CHANGE['approvals'][0]), dict(RUNBOOK_CHANGE['approvals'][1], at=NOW)]
    assert run(change(approvals=approvals))['approved'] is True


# --- the rules per category ------------------------------------------------------------------------------------------


def test_a_standard_change_is_pre_approved_without_plans_or_approvals():
    result = run(change(STANDARD_CHANGE))
    assert result['approved'] is True and result['missing_approvals'] == [] and result['emergency'] is None
    assert result['change']['approval_required'] == [] and result['change']['rollback_plan'] is None
    assert result['msg'] == ('change CHG-2025-0200 (standard, low) is valid and approved (a standard change is pre-approved)')


def test_a_standard_change_naming_approvers_is_refused():
    assert problems_of(change(STANDARD_CHANGE, approval_required=['technical-lead'])) == [
        'change.approval_required: a standard change is pre-approved and needs no approval; remove approval_required, or make '
        'the change normal']


def test_a_normal_change_with_no_required_roles_is_refused():
    problems = problems_of(change(approval_required=[]))
    assert problems == ["change.approval_required is empty, but a normal change needs the change advisory board's approval; "
                        'name the roles, or leave it out for technical-lead, operations-manager']


@pytest.mark.parametrize('field', ['business_justification', 'risk_assessment', 'rollback_plan', 'testing_plan'])
@pytest.mark.parametrize('base, category', [(RUNBOOK_CHANGE, 'normal'), (EMERGENCY_CHANGE, 'emergency')])
def test_the_plans_are_required_for_normal_and_emergency_changes(field, base, category):
    assert problems_of(change(base, **{field: ...})) == ['change.%s is required for a %s change and must not be empty' % (field, category)]
    assert problems_of(change(base, **{field: '  '})) == ['change.%s is required for a %s change and must not be empty' % (field, category)]


def test_an_emergency_change_with_its_approval_may_run_outside_the_windows():
    result = run(change(EMERGENCY_CHANGE))
    assert result['approved'] is True
    assert result['emergency'] == {'change_id': 'CHG-2025-0107', 'approved': True, 'approved_by': 'jose.reyes (operations-manager)'}
    assert result['msg'].endswith('; it may run outside the maintenance windows: pass emergency to dsr.ops.maintenance_window')


def test_an_emergency_change_without_an_approval_is_not_approved_and_its_emergency_says_so():
    result = run(change(EMERGENCY_CHANGE, approvals=[]))
    assert result['approved'] is False and result['missing_approvals'] == []
    assert result['emergency'] == {'change_id': 'CHG-2025-0107', 'approved': False, 'approved_by': None}
    assert 'an emergency change needs at least one approval (the expedited approval) in approvals' in result['msg']


def test_an_emergency_change_with_required_roles_needs_them_all():
    result = run(change(EMERGENCY_CHANGE, approval_required=['operations-manager', 'security-officer']))
    assert result['approved'] is False and result['missing_approvals'] == ['security-officer']


def test_an_emergency_change_that_does_not_claim_outside_window_needs_a_window():
    result = run(change(EMERGENCY_CHANGE, outside_window=..., emergency_reason=...))
    assert result['approved'] is True and result['emergency'] is None
    assert result['msg'].endswith('; it needs a maintenance window like any other change (outside_window is not set)')


def test_outside_window_needs_an_emergency_reason():
    assert problems_of(change(EMERGENCY_CHANGE, emergency_reason=...)) == [
        'change.emergency_reason is required with outside_window: true: say why the change cannot wait for the next '
        'maintenance window (the critical issue it resolves)']


def test_only_an_emergency_change_may_claim_outside_window():
    problems = problems_of(change(outside_window=True, emergency_reason='because'))
    assert problems[0].startswith('change.outside_window: only an emergency change may run outside the maintenance windows')
    assert problems[1] == 'change.emergency_reason is only for an emergency change; remove it, or set category: emergency'


# --- every field's bad value -----------------------------------------------------------------------------------------


@pytest.mark.parametrize('fields, fragment', [
    ({'change_id': 'CHG-2025-42'}, "change.change_id 'CHG-2025-42' is not a change id: CHG-YYYY-NNNN"),
    ({'change_id': 'chg-2025-0042'}, "change.change_id 'chg-2025-0042' is not a change id"),
    ({'change_id': 'CHG-2025-XXXX'}, "change.change_id 'CHG-2025-XXXX' is not a change id"),
    ({'change_id': ...}, 'change.change_id (missing) is not a change id'),
    ({'title': ''}, 'change.title is required and must not be empty'),
    ({'title': 'x' * 201}, 'change.title is 201 characters long; shorten it to at most 200'),
    ({'title': 'two\nlines'}, 'change.title holds a line break or another control character; write it on one line'),
    ({'title': 42}, 'change.title must be a string, got int (quote it)'),
    ({'category': 'urgent'}, "change.category 'urgent' is not one of standard, normal, emergency (case does not matter)"),
    ({'category': ...}, 'change.category is required: one of standard, normal, emergency'),
    ({'priority': 'P1'}, "change.priority 'P1' is not one of low, medium, high, critical (case does not matter)"),
    ({'requested_by': None}, 'change.requested_by is required and must not be empty'),
    ({'requested_by': 'x' * 129}, 'change.requested_by is 129 characters long; shorten it to at most 128'),
    ({'implementation_date': 'next Tuesday'}, "change.implementation_date: cannot read 'next Tuesday' as an ISO 8601 date or date-time"),
    ({'implementation_date': '2025-02-30'}, "change.implementation_date '2025-02-30' is not a date of the calendar"),
    ({'implementation_date': '2025-07-15T02:00:00'}, "change.implementation_date '2025-07-15T02:00:00' has a time but no offset"),
    ({'implementation_date': ...}, 'change.implementation_date is required: when the change is implemented'),
    ({'description': ...}, 'change.description is required and must not be empty'),
    ({'description': 'x' * 4001}, 'change.description is 4001 characters long; shorten it to at most 4000'),
    ({'rollback_plan': 'a\x07b'}, 'change.rollback_plan holds a control character; remove it'),
    ({'approval_required': 'technical-lead'}, 'change.approval_required must be a list of role names'),
    ({'approval_required': ['technical lead']}, "change.approval_required[0] 'technical lead' is not a role name"),
    ({'approval_required': ['r%d' % i for i in range(21)]}, 'change.approval_required names 21 roles, more than 20'),
    ({'approvals': {'role': 'technical-lead'}}, 'change.approvals must be a list of {role, approver, at}'),
    ({'approvals': ['technical-lead']}, 'change.approvals[0] must be a dict {role, approver, at}'),
    ({'approvals': [{'role': 'technical-lead', 'approver': 'm', 'at': NOW, 'ticket': 1}]},
     'change.approvals[0] has unknown fields: ticket (an approval has role, approver, at)'),
    ({'approvals': [{'role': '', 'approver': 'm', 'at': NOW}]}, 'change.approvals[0].role must be a role name such as technical-lead'),
    ({'approvals': [{'role': 'technical-lead', 'approver': '', 'at': NOW}]}, 'change.approvals[0].approver is required'),
    ({'approvals': [{'role': 'technical-lead', 'approver': 'm'}]}, 'change.approvals[0].at is required: when the approval was given'),
    ({'approvals': [{'role': 'technical-lead', 'approver': 'm', 'at': 'yesterday'}]},
     "change.approvals[0].at: cannot read 'yesterday' as a time"),
    ({'approvals': [{'role': 'technical-lead', 'approver': 'm', 'at': '2025-07-14T09:30:00'}]},
     "change.approvals[0].at '2025-07-14T09:30:00' has no offset; add one (+08:00) or Z"),
    ({'approvals': [{'role': 'technical-lead', 'approver': 'm', 'at': NOW}] * 21}, 'change.approvals holds 21 approvals, more than 20'),
    ({'outside_window': 'perhaps'}, "change.outside_window must be true or false, got 'perhaps'"),
    ({'emergency_reason': 'x' * 4001}, 'change.emergency_reason is 4001 characters long'),
])
def test_every_bad_value_names_its_field(fields, fragment):
    problems = problems_of(change(**fields))
    assert any(fragment in problem for problem in problems), problems


def test_unknown_fields_are_refused_listing_the_known_ones():
    problems = problems_of(change(ticket='INC-1', Category='Normal'))
    assert problems == ['change has unknown fields: Category, ticket (a change record has change_id, title, category, priority, '
                        'requested_by, implementation_date, description, business_justification, risk_assessment, rollback_plan, '
                        'testing_plan, approval_required, approvals, outside_window, emergency_reason)']


def test_every_problem_is_reported_at_once():
    assert len(problems_of(change(category='urgent', priority='P1', title=''))) == 3


def test_a_change_that_is_not_a_dict():
    assert cr.validate_change('CHG-2025-0042', NOW_UTC)[1][0].startswith('change must be a dict')


def test_an_implementation_date_with_an_offset_keeps_it():
    assert run(change(implementation_date='2025-07-15T02:00:00Z'))['change']['implementation_date'] == '2025-07-15T02:00:00+00:00'
    assert run(change(implementation_date=datetime.date(2025, 7, 15)))['change']['implementation_date'] == '2025-07-15'


def test_an_invalid_change_fails_with_valid_false_and_writes_nothing(tmp_path):
    log = tmp_path / 'audit.jsonl'
    with pytest.raises(cr.InvalidChange) as caught:
        run(change(category='urgent'), event='started', audit_log=str(log))
    assert caught.value.details['valid'] is False and caught.value.details['written'] is False
    assert caught.value.details['msg'].startswith("invalid options: change.category 'urgent' is not one of")
    assert not log.exists()


# --- the other options -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize('options, fragment', [
    ({'event': 'started'}, 'audit_log is required with event=started'),
    ({'event': 'completed', 'audit_log': ''}, 'audit_log is empty'),
    ({'now': 'soon'}, "now: cannot read 'soon' as a time"),
    ({'now': '2025-07-15T02:00:00'}, "now '2025-07-15T02:00:00' has no offset"),
    ({'who': 'a\nb'}, 'who holds a line break'),
    ({'job_id': 'job 1'}, "job_id 'job 1' is not a job id"),
    ({'context': {'play': 'x' * 257, 'role': None, 'host': None}}, 'context.play is 257 characters long'),
    ({'details': 'x' * 4001}, 'details is 4001 characters long'),
    ({'result': {'blob': 'x' * 20000}}, 'bytes as JSON, more than 16384'),
    ({'result': {'ratio': float('nan')}}, 'result cannot be stored as JSON'),
    ({'event': 'step', 'audit_log': '/x', 'result': {'status': 'ok'}}, 'context.action is required with event=step'),
    ({'event': 'step', 'audit_log': '/x', 'context': {'action': 'vacuum'}}, 'result.status is required with event=step'),
    ({'event': 'step', 'audit_log': '/x', 'context': {'action': 'vacuum'}, 'result': {'status': 'done'}},
     "must be one of ok, warning, critical, failed, refused, skipped (how the action ended), got 'done'"),
    ({'refusal': 'outside every window'}, 'refusal is only for an event that is recorded'),
    ({'event': 'started', 'audit_log': '/x', 'refusal': 'x' * 2001}, 'refusal is 2001 characters long'),
    ({'event': 'started', 'audit_log': '/x', 'refusal': 'a\nb'}, 'refusal holds a line break'),
])
def test_bad_options_name_the_option(options, fragment):
    problems = cr.validate(params(**options))
    assert any(fragment in problem for problem in problems), problems


def test_good_options_have_no_problems(tmp_path):
    assert cr.validate(params(event='started', audit_log=str(tmp_path / 'a.jsonl'), job_id='4711',
                              context={'play': 'p', 'role': None, 'host': 'h'}, result={'version': '1.2.0'})) == []


def test_who_defaults_to_the_local_user_and_job_id_to_the_environment(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    result = run(event='started', audit_log=log, who=None, environ={'AWX_JOB_ID': '77'})
    assert result['entry']['who'] == cr.local_user() and result['entry']['job_id'] == '77'
    result = run(event='completed', audit_log=log, who='  ', environ={'JOB_ID': '4711', 'AWX_JOB_ID': '77'})
    assert result['entry']['who'] == cr.local_user() and result['entry']['job_id'] == '4711'
    result = run(event='completed', audit_log=log, who='maria.santos', job_id='9', environ={'JOB_ID': '4711'})
    assert result['entry']['who'] == 'maria.santos' and result['entry']['job_id'] == '9'
    result = run(event='completed', audit_log=log)
    assert result['entry']['job_id'] is None


def test_a_job_id_in_the_environment_that_is_not_one_is_recorded_as_null(tmp_path):
    result = run(event='started', audit_log=str(tmp_path / 'a.jsonl'), environ={'JOB_ID': 'x y'})
    assert result['entry']['job_id'] is None
    assert result['warnings'] == ["the environment's job id 'x y' is not a job id (1 to 64 letters, digits and _.:-); recorded as null"]


# --- the audit log ---------------------------------------------------------------------------------------------------


def test_start_and_complete_append_two_chained_lines(tmp_path):
    log = tmp_path / 'audit.jsonl'
    started = run(event='started', audit_log=str(log), context={'play': 'Update', 'role': None, 'host': 'app1'},
                  environ={'JOB_ID': '4711'})
    assert started['changed'] is True and started['written'] is True and 'failed' not in started
    assert started['msg'] == 'started: change CHG-2025-0042 (normal, medium) recorded in %s (line 1)' % log
    completed = run(event='completed', audit_log=str(log), details='v1.2.0 live', result={'version': '1.2.0'})
    assert completed['msg'] == 'completed: change CHG-2025-0042 (normal, medium) recorded in %s (line 2)' % log
    first, second = lines(log)
    assert json.loads(first) == started['entry'] and json.loads(second) == completed['entry']
    assert started['entry'] == {
        'time': '2025-07-14T18:00:00+00:00', 'event': 'started', 'attempted': None, 'change_id': 'CHG-2025-0042',
        'category': 'normal', 'priority': 'medium', 'title': 'Update DSR Registration Service to v1.2.0', 'who': 'tester',
        'job_id': '4711', 'context': {'play': 'Update', 'host': 'app1'}, 'details': None, 'result': None,
        'approvals': {'approved': True, 'missing': [], 'by': [
            {'role': 'technical-lead', 'approver': 'maria.santos', 'at': '2025-07-14T01:30:00+00:00'},
            {'role': 'operations-manager', 'approver': 'jose.reyes', 'at': '2025-07-14T03:00:00+00:00'}]},
        'emergency': None, 'sha256': None}
    assert completed['entry']['sha256'] == hashlib.sha256(first).hexdigest()
    assert completed['entry']['details'] == 'v1.2.0 live' and completed['entry']['result'] == {'version': '1.2.0'}
    assert [entry['event'] for entry in completed['entries']] == ['started', 'completed']
    assert completed['chain_ok'] is True and completed['malformed_lines'] == 0


def test_the_log_is_created_0600_in_a_directory_made_0700(tmp_path):
    old = os.umask(0o277)
    try:
        log = tmp_path / 'changes' / 'audit.jsonl'
        run(event='started', audit_log=str(log))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log.parent).st_mode) == 0o700


def test_an_existing_log_readable_by_others_is_used_with_a_warning(tmp_path):
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    os.chmod(log, 0o644)
    result = run(event='completed', audit_log=str(log))
    assert result['written'] is True and stat.S_IMODE(os.stat(log).st_mode) == 0o644
    assert any('has mode 0644, so others may read it; chmod 600 it' in warning for warning in result['warnings'])


def test_started_of_an_unapproved_change_is_refused_and_recorded_as_refused(tmp_path):
    log = tmp_path / 'audit.jsonl'
    result = run(change(approvals=RUNBOOK_CHANGE['approvals'][:1]), event='started', audit_log=str(log))
    assert result['failed'] is True and result['changed'] is True and result['written'] is True
    assert result['msg'] == ('refused: change CHG-2025-0042 (normal, medium) cannot be started: it is not approved: no approval '
                             'yet from operations-manager (approval_required); a refused entry was recorded in %s (line 1)' % log)
    (line,) = lines(log)
    entry = json.loads(line)
    assert entry['event'] == 'refused' and entry['attempted'] == 'started'
    assert entry['approvals']['approved'] is False and entry['approvals']['missing'] == ['operations-manager']
    assert entry['details'] == 'started refused: it is not approved: no approval yet from operations-manager (approval_required)'


@pytest.mark.parametrize('event', ['completed', 'failed', 'rolled_back'])
def test_an_outcome_without_a_start_is_refused(tmp_path, event):
    log = tmp_path / 'audit.jsonl'
    result = run(event=event, audit_log=str(log))
    assert result['failed'] is True and result['written'] is True
    assert ("cannot be %s: the audit log has no started entry for it; record event=started before the implementation "
            "(the runbook's steps 5 to 7)" % event.replace('_', ' ')) in result['msg']
    assert json.loads(lines(log)[0])['attempted'] == event


def test_a_refused_start_does_not_count_as_a_start(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    run(change(approvals=[]), event='started', audit_log=log)
    assert run(event='completed', audit_log=log)['failed'] is True


def test_another_changes_start_does_not_count(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    run(change(EMERGENCY_CHANGE), event='started', audit_log=log)
    result = run(event='completed', audit_log=log)
    assert result['failed'] is True and [entry['event'] for entry in result['entries']] == ['refused']


def test_failed_then_rolled_back_then_a_new_start(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    for event in ('started', 'failed', 'rolled_back', 'started', 'completed'):
        result = run(event=event, audit_log=log)
        assert 'failed' not in result and result['warnings'] == [], result
    assert [entry['event'] for entry in result['entries']] == ['started', 'failed', 'rolled_back', 'started', 'completed']


def test_a_second_start_and_a_repeated_outcome_are_recorded_with_a_warning(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    run(event='started', audit_log=log)
    again = run(event='started', audit_log=log)
    assert again['written'] is True
    assert again['warnings'] == ['change CHG-2025-0042 was already started at 2025-07-14T18:00:00+00:00 (line 1) with no outcome '
                                 'recorded since; this start is recorded too']
    run(event='completed', audit_log=log)
    twice = run(event='completed', audit_log=log)
    assert twice['warnings'] == ['change CHG-2025-0042 is already recorded as completed since its start at '
                                 '2025-07-14T18:00:00+00:00 (line 2); recorded again']


def test_check_mode_writes_nothing_and_returns_the_entry(tmp_path):
    log = tmp_path / 'new' / 'audit.jsonl'
    result = run(event='started', audit_log=str(log), check_mode=True)
    assert result['changed'] is True and result['written'] is False and result['entry']['event'] == 'started'
    assert result['entry']['sha256'] is None and result['entries'] == []
    assert result['msg'] == 'started: change CHG-2025-0042 (normal, medium) would be recorded in %s (line 1)' % log
    assert not log.parent.exists()
    refused = run(event='completed', audit_log=str(log), check_mode=True)
    assert refused['failed'] is True and refused['written'] is False and not log.parent.exists()
    assert 'a refused entry would be recorded in' in refused['msg']


def test_check_mode_on_an_existing_log_chains_to_its_last_line_and_leaves_it_alone(tmp_path):
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    before = log.read_bytes()
    result = run(event='completed', audit_log=str(log), check_mode=True)
    assert log.read_bytes() == before
    assert result['entry']['sha256'] == hashlib.sha256(before.rstrip(b'\n')).hexdigest()
    assert [entry['event'] for entry in result['entries']] == ['started']


def test_validate_reads_the_log_and_writes_nothing(tmp_path):
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    before = log.read_bytes()
    result = run(audit_log=str(log))
    assert result['changed'] is False and result['written'] is False and result['entry'] is None
    assert [entry['event'] for entry in result['entries']] == ['started'] and log.read_bytes() == before
    assert run(audit_log=str(tmp_path / 'missing.jsonl'))['entries'] == []


def test_a_tampered_earlier_line_breaks_the_chain_and_the_log_is_still_appended_to(tmp_path):
    log = tmp_path / 'audit.jsonl'
    for event in ('started', 'failed', 'rolled_back'):
        run(event=event, audit_log=str(log))
    first, second, third = lines(log)
    tampered = json.loads(second)
    tampered['event'] = 'completed'
    log.write_bytes(b'\n'.join([first, cr.encode_entry(tampered), third]) + b'\n')
    result = run(event='started', audit_log=str(log))
    assert result['chain_ok'] is False and result['chain_broken_at'] == 3
    assert result['written'] is True and len(lines(log)) == 4
    assert any('fails its hash chain at line 3' in warning for warning in result['warnings'])


def test_a_removed_line_breaks_the_chain(tmp_path):
    log = tmp_path / 'audit.jsonl'
    for event in ('started', 'failed', 'rolled_back'):
        run(event=event, audit_log=str(log))
    first, dummy, third = lines(log)
    log.write_bytes(first + b'\n' + third + b'\n')
    assert scan(log).chain_broken_at == 2


def test_a_malformed_line_is_skipped_and_counted(tmp_path):
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    with open(log, 'ab') as handle:
        handle.write(b'{"event": "completed", "change_id": "CHG-2025-0042"}\n')
    result = run(event='completed', audit_log=str(log))
    assert result['malformed_lines'] == 1 and result['chain_ok'] is True
    assert [entry['event'] for entry in result['entries']] == ['started', 'completed']
    assert any('holds 1 line that is not an entry this module writes' in warning for warning in result['warnings'])
    # the new entry hashes the malformed line: the chain covers every line
    assert result['entry']['sha256'] == hashlib.sha256(lines(log)[1]).hexdigest()


def test_a_line_torn_by_a_crash_is_ended_before_the_next_entry(tmp_path):
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    with open(log, 'ab') as handle:
        handle.write(b'{"time": "2025-07-14T18:')
    result = run(event='completed', audit_log=str(log))
    assert len(lines(log)) == 3 and json.loads(lines(log)[2]) == result['entry']
    state = scan(log)
    assert state.malformed == 1 and state.chain_broken_at is None and state.terminated is True


@pytest.mark.parametrize('line', [
    b'not json',
    b'',
    b'[]',
    b'{"time": NaN}',
])
def test_lines_that_are_not_entries(line):
    with pytest.raises(cr.EntryError):
        cr.parse_entry(line)


def test_the_entry_schema_refuses_extra_keys_duplicates_and_bad_values():
    entry = cr.build_entry('started', run()['change'], True, [], 'tester', None, now=NOW_UTC)
    assert cr.parse_entry(cr.encode_entry(entry)) == entry
    for key, value in (('event', 'deleted'), ('change_id', 'CHG-1'), ('who', ''), ('sha256', 'abc'), ('attempted', 'started'),
                       ('context', {'user': 'x'}), ('result', [1]), ('time', '2025-07-14T18:00:00')):
        with pytest.raises(cr.EntryError):
            cr.parse_entry(cr.encode_entry(dict(entry, **{key: value})))
    with pytest.raises(cr.EntryError):
        cr.parse_entry(cr.encode_entry(dict(entry, extra=1)))
    text = cr.encode_entry(entry)
    with pytest.raises(cr.EntryError):
        cr.parse_entry(text[:-1] + b',"event":"started"}')
    with pytest.raises(cr.EntryError):
        cr.parse_entry(b'x' * (cr.LINE_MAX + 1))


def test_a_very_long_line_is_skipped_without_being_kept(tmp_path):
    log = tmp_path / 'audit.jsonl'
    log.write_bytes(b'x' * (cr.LINE_MAX * 3) + b'\n')
    result = run(event='started', audit_log=str(log))
    assert result['malformed_lines'] == 1 and result['written'] is True
    assert result['entry']['sha256'] == hashlib.sha256(b'x' * (cr.LINE_MAX * 3)).hexdigest()


def test_a_symlink_at_the_path_is_refused(tmp_path):
    target = tmp_path / 'elsewhere.jsonl'
    target.write_bytes(b'')
    link = tmp_path / 'audit.jsonl'
    link.symlink_to(target)
    for event in ('started', 'validate'):
        with pytest.raises(cr.AuditLogError) as caught:
            run(event=event, audit_log=str(link))
        assert 'is a symlink; give the path of the file itself' in str(caught.value)
    with pytest.raises(cr.AuditLogError):
        run(event='started', audit_log=str(link), check_mode=True)
    assert target.read_bytes() == b''


def test_a_dangling_symlink_at_the_path_is_refused(tmp_path):
    link = tmp_path / 'audit.jsonl'
    link.symlink_to(tmp_path / 'nowhere.jsonl')
    with pytest.raises(cr.AuditLogError) as caught:
        run(event='started', audit_log=str(link))
    assert 'is a symlink' in str(caught.value)
    assert not (tmp_path / 'nowhere.jsonl').exists()


def test_a_fifo_or_a_directory_at_the_path_is_refused(tmp_path):
    fifo = tmp_path / 'audit.fifo'
    os.mkfifo(fifo)
    with pytest.raises(cr.AuditLogError) as caught:
        run(event='started', audit_log=str(fifo))
    assert 'is a special file, not a regular file' in str(caught.value)
    with pytest.raises(cr.AuditLogError) as caught:
        run(event='started', audit_log=str(tmp_path))
    assert 'is a directory, not a regular file' in str(caught.value)


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_bytes(b'')
    with pytest.raises(cr.AuditLogError) as caught:
        run(event='started', audit_log=str(blocker / 'audit.jsonl'))
    assert "cannot create the audit log's directory" in str(caught.value)


def test_a_log_held_by_another_run_times_out_with_a_message(tmp_path):
    import fcntl  # pylint: disable=import-outside-toplevel
    log = tmp_path / 'audit.jsonl'
    run(event='started', audit_log=str(log))
    with open(log, 'rb') as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        with pytest.raises(cr.AuditLogError) as caught:
            cr.AuditLog(str(log), lock_timeout=0.1).append('CHG-2025-0042', lambda state: None)
    assert 'stayed locked by another run' in str(caught.value)


def _append_many(path, worker, count):
    for index in range(count):
        run(event='started', audit_log=path, who='worker-%d' % worker, details='entry %d' % index)


def test_concurrent_appends_from_several_processes_keep_whole_lines_and_the_chain(tmp_path):
    path = str(tmp_path / 'audit.jsonl')
    context = multiprocessing.get_context('fork')
    workers = [context.Process(target=_append_many, args=(path, worker, 25)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    raw = lines(path)
    assert len(raw) == 100
    entries = [cr.parse_entry(line) for line in raw]
    assert sorted((entry['who'], entry['details']) for entry in entries) == sorted(
        ('worker-%d' % worker, 'entry %d' % index) for worker in range(4) for index in range(25))
    state = scan(path)
    assert state.lines == 100 and state.malformed == 0 and state.chain_broken_at is None
    assert len(state.entries) == cr.ENTRIES_MAX


def test_entries_are_bounded_to_the_last_100(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    audit = cr.AuditLog(log)
    record = run()['change']
    for index in range(105):
        audit.append('CHG-2025-0042', lambda state, index=index: cr.build_entry(
            'started', record, True, [], 'tester', None, details='entry %d' % index, now=NOW_UTC))
    result = run(audit_log=log)
    assert len(result['entries']) == 100 and result['entries'][0]['details'] == 'entry 5'


def test_the_log_is_only_ever_appended_to(tmp_path):
    log = tmp_path / 'audit.jsonl'
    sizes = []
    for event in ('started', 'failed', 'completed', 'rolled_back'):
        run(event=event, audit_log=str(log))
        sizes.append(log.stat().st_size)
        assert log.read_bytes().endswith(b'\n')
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_an_emergency_entry_records_its_reason(tmp_path):
    result = run(change(EMERGENCY_CHANGE), event='started', audit_log=str(tmp_path / 'audit.jsonl'))
    assert result['entry']['emergency'] == {'outside_window': True, 'reason': 'Critical security patch, cannot wait for Sunday'}
    assert result['entry']['category'] == 'emergency' and result['entry']['priority'] == 'critical'
    assert result['msg'].endswith('pass emergency to dsr.ops.maintenance_window')


# --- steps of a started change, and refusals given by a guard ----------------------------------------------------------


def step(log, action='vacuum_analyze', status='ok', **options):
    return run(event='step', audit_log=log, context={'play': 'weekly', 'role': None, 'host': None, 'action': action},
               result=dict({'status': status}, **options.pop('figures', {})), **options)


def test_steps_between_start_and_outcome_are_chained_entries_with_their_action_and_status(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    run(event='started', audit_log=log)
    first = step(log, figures={'operations': 3})
    assert 'failed' not in first and first['written'] is True
    assert first['msg'] == 'step vacuum_analyze (ok): change CHG-2025-0042 (normal, medium) recorded in %s (line 2)' % log
    step(log, action='certificates', status='warning')
    result = run(event='completed', audit_log=log)
    assert [(entry['event'], entry['context'].get('action'), (entry['result'] or {}).get('status')) for entry in result['entries']] == [
        ('started', None, None), ('step', 'vacuum_analyze', 'ok'), ('step', 'certificates', 'warning'), ('completed', None, None)]
    assert result['entries'][1]['result'] == {'status': 'ok', 'operations': 3}
    assert scan(log).chain_broken_at is None and scan(log).malformed == 0


def test_a_step_without_a_start_is_refused(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    result = step(log)
    assert result['failed'] is True
    assert result['msg'].startswith('refused: a step of change CHG-2025-0042 (normal, medium) cannot be recorded: the audit log has '
                                    'no started entry for it; record event=started')
    entry = json.loads(lines(log)[0])
    assert entry['event'] == 'refused' and entry['attempted'] == 'step' and entry['context']['action'] == 'vacuum_analyze'


def test_a_step_after_the_outcome_is_refused_until_the_next_start(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    run(event='started', audit_log=log)
    run(event='completed', audit_log=log)
    refused = step(log)
    assert refused['failed'] is True and 'it is already completed since its start at 2025-07-14T18:00' in refused['msg']
    run(event='started', audit_log=log)
    assert 'failed' not in step(log)


def test_a_refusal_given_by_a_guard_writes_a_refused_entry_and_fails(tmp_path):
    log = str(tmp_path / 'audit.jsonl')
    why = 'outside every maintenance window at 2025-07-19T10:00:00+08:00; the next is weekly from 2025-07-20T02:00:00+08:00'
    result = run(event='started', audit_log=log, refusal=why)
    assert result['failed'] is True and result['written'] is True
    assert result['msg'].startswith('refused: change CHG-2025-0042 (normal, medium) cannot be started: outside every maintenance window')
    entry = json.loads(lines(log)[0])
    assert entry['event'] == 'refused' and entry['attempted'] == 'started' and entry['details'] == 'started refused: ' + why
    # the refused start is not a start
    assert step(log)['failed'] is True


def test_a_refusal_in_check_mode_writes_nothing(tmp_path):
    log = tmp_path / 'audit.jsonl'
    result = run(event='started', audit_log=str(log), refusal='window too short', check_mode=True)
    assert result['failed'] is True and result['written'] is False and result['entry']['event'] == 'refused'
    assert not log.exists()


def test_a_step_entry_without_its_action_or_status_is_not_ours():
    record = cr.validate_change(change(), NOW_UTC)[0]
    entry = cr.build_entry('step', record, True, [], 'tester', None, context={'action': 'x'}, result={'status': 'ok'}, now=NOW_UTC)
    assert cr.parse_entry(cr.encode_entry(entry))['event'] == 'step'
    for broken in ({'context': {}}, {'result': None}, {'result': {'status': 'done'}}):
        with pytest.raises(cr.EntryError, match='a step entry names its context.action and its result.status'):
            cr.parse_entry(cr.encode_entry(dict(entry, **broken)))


def test_with_context_host_each_host_pairs_its_own_start_steps_and_outcome(tmp_path):
    log = str(tmp_path / 'audit.jsonl')

    def on(host, event, **options):
        return run(event=event, audit_log=log, context={'play': 'weekly', 'role': None, 'host': host, 'action': options.pop('action', None)},
                   **options)

    for host in ('production', 'staging'):
        assert on(host, 'started')['warnings'] == []
    assert 'failed' not in on('production', 'step', action='vacuum_analyze', result={'status': 'ok'})
    assert on('production', 'completed')['warnings'] == []
    # staging's start is still open: its step and outcome are recorded, without a warning
    assert 'failed' not in on('staging', 'step', action='vacuum_analyze', result={'status': 'ok'})
    done = on('staging', 'completed')
    assert done['warnings'] == [] and len(done['entries']) == 6
    refused = on('testing', 'step', action='vacuum_analyze', result={'status': 'ok'})
    assert refused['failed'] is True and 'has no started entry for it on host testing' in refused['msg']
