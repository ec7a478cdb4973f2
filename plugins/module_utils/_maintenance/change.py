# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Change records: the runbook's change request, its approvals, and an audit log of its implementation (dsr.ops.change_record).

Plain functions over plain data; ``now`` is always passed in (or read once from a clock that
can be injected), so every verdict is testable without Ansible.

A change is the runbook's Change Request Template (Change Management) plus the record of who
approved it. :func:`validate_change` checks every field and normalizes it (category and
priority in lower case, times in UTC); :func:`approval_state` applies the rules of the
change's category:

* ``standard``: pre-approved, needs no approval (and names no ``approval_required``);
* ``normal``: an approval for every role of ``approval_required`` (the runbook's
  technical-lead and operations-manager when not given);
* ``emergency``: at least one approval (the expedited approval), and every role of
  ``approval_required`` when one is given. It may run outside the maintenance windows only
  when it says so (``outside_window: true`` with an ``emergency_reason``); otherwise it needs
  a window like any other change.

The audit log is a JSON-lines file appended to under an exclusive ``flock`` and never
rewritten. Every line carries the SHA-256 of the line before it (null on the first line), so
a line changed, removed or inserted before the last one breaks the chain. What is read back
is untrusted: every line goes through :func:`parse_entry`, a line that does not pass is
skipped and counted, and a broken chain is reported and warned about - the log is still
appended to, since an audit log that can no longer be written records nothing.
"""

from __future__ import annotations

import collections
import datetime
import errno
import fcntl
import getpass
import hashlib
import json
import os
import re
import stat
import time

from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._ops.extract import job_id_from_environment
from ansible_collections.dsr.ops.plugins.module_utils._ops.records import JOB_ID_RE, format_time

UTC = datetime.timezone.utc

CATEGORIES = ('standard', 'normal', 'emergency')
PRIORITIES = ('low', 'medium', 'high', 'critical')
EVENTS = ('validate', 'started', 'step', 'completed', 'failed', 'rolled_back')
OUTCOMES = ('completed', 'failed', 'rolled_back')
# what a line of the audit log may say: an event, or that one was refused
LOG_EVENTS = ('started', 'step', 'completed', 'failed', 'rolled_back', 'refused')
# how one action of a started change (event=step) ended: ran clean, ran with a finding, could not run, was refused
# (a window too short for it), was not configured
STEP_STATUSES = ('ok', 'warning', 'critical', 'failed', 'refused', 'skipped')

# the runbook's Change Request Template, the approvals given, and the emergency's claim to run outside the windows
FIELDS = ('change_id', 'title', 'category', 'priority', 'requested_by', 'implementation_date', 'description',
          'business_justification', 'risk_assessment', 'rollback_plan', 'testing_plan', 'approval_required', 'approvals',
          'outside_window', 'emergency_reason')
PLAN_FIELDS = ('business_justification', 'risk_assessment', 'rollback_plan', 'testing_plan')
APPROVAL_FIELDS = ('role', 'approver', 'at')
# the runbook's example: a normal change is approved by the technical lead and the operations manager
DEFAULT_APPROVAL_REQUIRED = ('technical-lead', 'operations-manager')
CONTEXT_FIELDS = ('play', 'role', 'host', 'action')

CHANGE_ID_RE = re.compile(r'^CHG-\d{4}-\d{4,9}$')
ROLE_RE = re.compile(r'^[a-z0-9][a-z0-9_.-]{0,63}$')
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
DATE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
# a single-line field: no control characters at all; a text field may hold line breaks and tabs
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
_TEXT_CONTROL = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')

TITLE_MAX = 200
NAME_MAX = 128
TEXT_MAX = 4000
ROLES_MAX = 20
APPROVALS_MAX = 20
CONTEXT_MAX = 256
DETAILS_MAX = 4000
REFUSAL_MAX = 2000
RESULT_MAX = 16 * 1024
# a line this module writes is well below this (the fields above are bounded); a longer one is not ours
LINE_MAX = 128 * 1024
ENTRIES_MAX = 100
LOCK_TIMEOUT = 30.0
_READ_CHUNK = 64 * 1024

ENTRY_FIELDS = ('time', 'event', 'attempted', 'change_id', 'category', 'priority', 'title', 'who', 'job_id', 'context',
                'details', 'result', 'approvals', 'emergency', 'sha256')


class ChangeError(Exception):
    """The change cannot be recorded; ``str()`` is safe to show. ``details`` are fail_json keywords."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = dict({'changed': False, 'written': False, 'entry': None}, **details)
        self.details['msg'] = msg


class InvalidChange(ChangeError):
    """The ``change`` option is not a valid change record; ``problems`` name each field and the fix."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__('invalid options: ' + '; '.join(self.problems), valid=False, approved=False)


class AuditLogError(ChangeError):
    """The audit log cannot be read or appended to."""


class EntryError(ValueError):
    """A line of the audit log that is not an entry this module writes."""


# --- values --------------------------------------------------------------------------------------------------------


def _shown(value, limit=64):
    return repr(str(value)[:limit])


def parse_instant(value, where):
    """An aware UTC datetime from ISO 8601 text with an offset or ``Z`` (or an aware datetime); ValueError naming ``where``."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
        except ValueError:
            raise ValueError('%s: cannot read %s as a time; use ISO 8601 with an offset, such as 2025-07-14T09:30:00+08:00 '
                             'or 2025-07-14T01:30:00Z' % (where, _shown(value))) from None
    else:
        raise ValueError('%s must be an ISO 8601 time such as 2025-07-14T09:30:00+08:00, got %s' % (where, type(value).__name__))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError('%s %s has no offset; add one (+08:00) or Z, so the time is not read in the wrong zone'
                         % (where, _shown(value)))
    return moment.astimezone(UTC)


def current_time(text, clock=None):
    """``now`` as an aware UTC datetime: the option when given, else ``clock()`` (default: the system clock)."""
    if text:
        return parse_instant(text, 'now')
    return (clock() if clock is not None else datetime.datetime.now(UTC)).astimezone(UTC)


def _line(value, where, limit, problems, required=True):
    """A single-line string field, stripped; None (with a problem when required) when absent or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append('%s is required and must not be empty' % where)
        return None
    if not isinstance(value, str):
        problems.append('%s must be a string, got %s (quote it)' % (where, type(value).__name__))
        return None
    text = value.strip()
    if len(text) > limit:
        problems.append('%s is %d characters long; shorten it to at most %d' % (where, len(text), limit))
        return None
    if _CONTROL.search(text):
        problems.append('%s holds a line break or another control character; write it on one line' % where)
        return None
    return text


def _text(value, where, problems, required, why=''):
    """A free-text field (line breaks allowed), stripped; None when absent or empty (a problem when required)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append('%s is required%s and must not be empty' % (where, why))
        return None
    if not isinstance(value, str):
        problems.append('%s must be a string, got %s (quote it)' % (where, type(value).__name__))
        return None
    text = value.strip()
    if len(text) > TEXT_MAX:
        problems.append('%s is %d characters long; shorten it to at most %d (link to a document for the rest)'
                        % (where, len(text), TEXT_MAX))
        return None
    if _TEXT_CONTROL.search(text):
        problems.append('%s holds a control character; remove it' % where)
        return None
    return text


def _choice(value, where, choices, problems, example):
    if not isinstance(value, str) or not value.strip():
        problems.append('%s is required: one of %s (%s)' % (where, ', '.join(choices), example))
        return None
    lowered = value.strip().lower()
    if lowered not in choices:
        problems.append('%s %s is not one of %s (case does not matter)' % (where, _shown(value, 32), ', '.join(choices)))
        return None
    return lowered


def _role(value, where, problems):
    if not isinstance(value, str) or not value.strip():
        problems.append('%s must be a role name such as technical-lead' % where)
        return None
    lowered = value.strip().lower()
    if not ROLE_RE.match(lowered):
        problems.append('%s %s is not a role name: letters, digits, dots, dashes and underscores, at most 64, such as '
                        'operations-manager' % (where, _shown(value)))
        return None
    return lowered


def _flag(value, where, problems):
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return boolean(value.strip().lower())
    problems.append('%s must be true or false, got %s' % (where, _shown(value, 32)))
    return False


def _implementation_date(value, where, problems):
    """ISO 8601 text of a date (kept as a date) or of a date-time with an offset (kept with its offset)."""
    example = 'use a date such as 2025-07-15, or a date and time with an offset such as 2025-07-15T02:00:00+08:00'
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        return value.isoformat()
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if DATE_RE.match(text):
            try:
                return datetime.date.fromisoformat(text).isoformat()
            except ValueError:
                problems.append('%s %s is not a date of the calendar; %s' % (where, _shown(value), example))
                return None
        try:
            moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
        except ValueError:
            problems.append('%s: cannot read %s as an ISO 8601 date or date-time; %s' % (where, _shown(value), example))
            return None
    else:
        problems.append('%s is required: when the change is implemented; %s' % (where, example))
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        problems.append('%s %s has a time but no offset; add one (+08:00) or Z, or give the date alone' % (where, _shown(value)))
        return None
    return moment.isoformat()


def _approvals(value, now, problems):
    """The approvals, checked; one per role (the earliest), in the order given."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append('change.approvals must be a list of {role, approver, at}, one per approval given')
        return []
    if len(value) > APPROVALS_MAX:
        problems.append('change.approvals holds %d approvals, more than %d' % (len(value), APPROVALS_MAX))
        return []
    by_role = {}
    for index, item in enumerate(value):
        where = 'change.approvals[%d]' % index
        if not isinstance(item, dict):
            problems.append('%s must be a dict {role, approver, at}' % where)
            continue
        unknown = sorted((str(key) for key in item if key not in APPROVAL_FIELDS))
        if unknown:
            problems.append('%s has unknown fields: %s (an approval has %s)' % (where, ', '.join(unknown), ', '.join(APPROVAL_FIELDS)))
            continue
        before = len(problems)
        role = _role(item.get('role'), where + '.role', problems)
        approver = _line(item.get('approver'), where + '.approver', NAME_MAX, problems)
        at = None
        if item.get('at') in (None, ''):
            problems.append('%s.at is required: when the approval was given, ISO 8601 with an offset such as '
                            '2025-07-14T09:30:00+08:00' % where)
        else:
            try:
                at = parse_instant(item['at'], where + '.at')
            except ValueError as exc:
                problems.append(str(exc))
            else:
                if at > now:
                    problems.append('%s.at %s is after now (%s): an approval cannot come from the future; check the date '
                                    '(and the clock, or the now option)' % (where, format_time(at), format_time(now)))
        if len(problems) > before:
            continue
        # the same role approving twice counts once: its first approval
        if role not in by_role or at < by_role[role][1]:
            by_role[role] = (approver, at)
    return [{'role': role, 'approver': approver, 'at': format_time(at)} for role, (approver, at) in by_role.items()]


def _approval_required(change, category, problems):
    if 'approval_required' not in change or change['approval_required'] is None:
        return list(DEFAULT_APPROVAL_REQUIRED) if category == 'normal' else []
    value = change['approval_required']
    if not isinstance(value, list):
        problems.append('change.approval_required must be a list of role names, such as [technical-lead, operations-manager]')
        return []
    if len(value) > ROLES_MAX:
        problems.append('change.approval_required names %d roles, more than %d' % (len(value), ROLES_MAX))
        return []
    roles = []
    for index, item in enumerate(value):
        role = _role(item, 'change.approval_required[%d]' % index, problems)
        if role is not None and role not in roles:
            roles.append(role)
    if category == 'normal' and not value:
        problems.append('change.approval_required is empty, but a normal change needs the change advisory board\'s approval; '
                        'name the roles, or leave it out for %s' % ', '.join(DEFAULT_APPROVAL_REQUIRED))
    if category == 'standard' and value:
        problems.append('change.approval_required: a standard change is pre-approved and needs no approval; remove '
                        'approval_required, or make the change normal')
    return roles


def validate_change(change, now):
    """``(normalized change or None, problems)``: every field of the runbook's template checked, each problem naming it."""
    if not isinstance(change, dict):
        return None, ['change must be a dict: the runbook\'s change request template (change_id, title, category, ...)']
    problems = []
    unknown = sorted(str(key) for key in change if key not in FIELDS)
    if unknown:
        problems.append('change has unknown fields: %s (a change record has %s)' % (', '.join(unknown), ', '.join(FIELDS)))
    change_id = change.get('change_id')
    if not isinstance(change_id, str) or not CHANGE_ID_RE.match(change_id.strip()):
        problems.append('change.change_id %s is not a change id: CHG-YYYY-NNNN, the year and a number of 4 to 9 digits, '
                        'such as CHG-2025-0042' % (_shown(change_id) if change_id is not None else '(missing)'))
        change_id = None
    else:
        change_id = change_id.strip()
    category = _choice(change.get('category'), 'change.category', CATEGORIES, problems, 'the runbook writes Normal')
    priority = _choice(change.get('priority'), 'change.priority', PRIORITIES, problems, 'the runbook writes Medium')
    normalized = {
        'change_id': change_id,
        'title': _line(change.get('title'), 'change.title', TITLE_MAX, problems),
        'category': category,
        'priority': priority,
        'requested_by': _line(change.get('requested_by'), 'change.requested_by', NAME_MAX, problems),
        'implementation_date': _implementation_date(change.get('implementation_date'), 'change.implementation_date', problems),
        'description': _text(change.get('description'), 'change.description', problems, True),
    }
    # a normal or an emergency change is reviewed: it must say why, what may go wrong, how to undo it and how it was tested
    reviewed = category in ('normal', 'emergency')
    for field in PLAN_FIELDS:
        normalized[field] = _text(change.get(field), 'change.' + field, problems, reviewed,
                                  ' for a %s change' % category if reviewed else '')
    normalized['approval_required'] = _approval_required(change, category, problems)
    normalized['approvals'] = _approvals(change.get('approvals'), now, problems)
    outside = _flag(change.get('outside_window'), 'change.outside_window', problems)
    reason = _text(change.get('emergency_reason'), 'change.emergency_reason', problems, False)
    if category is not None and category != 'emergency':
        if outside:
            problems.append('change.outside_window: only an emergency change may run outside the maintenance windows; remove it, '
                            'or make the change an emergency change (category: emergency, with an emergency_reason)')
        if reason is not None:
            problems.append('change.emergency_reason is only for an emergency change; remove it, or set category: emergency')
    elif outside and reason is None:
        problems.append('change.emergency_reason is required with outside_window: true: say why the change cannot wait for the '
                        'next maintenance window (the critical issue it resolves)')
    normalized['outside_window'] = outside
    normalized['emergency_reason'] = reason
    if problems:
        return None, problems
    return normalized, []


def approval_state(change):
    """``(approved, missing roles, why)`` for a normalized change, by the rules of its category."""
    given = {approval['role'] for approval in change['approvals']}
    missing = [role for role in change['approval_required'] if role not in given]
    if change['category'] == 'standard':
        return True, [], 'a standard change is pre-approved'
    if missing:
        return False, missing, 'no approval yet from %s (approval_required)' % ', '.join(missing)
    if change['category'] == 'emergency' and not change['approvals']:
        return False, [], 'an emergency change needs at least one approval (the expedited approval) in approvals'
    return True, [], 'approved by ' + ', '.join('%s (%s)' % (item['approver'], item['role']) for item in change['approvals'])


def emergency_option(change, approved):
    """maintenance_window's ``emergency`` option for a change that may run outside the windows, else None."""
    if change['category'] != 'emergency' or not change['outside_window']:
        return None
    approved_by = ', '.join('%s (%s)' % (item['approver'], item['role']) for item in change['approvals']) if approved else None
    return {'change_id': change['change_id'], 'approved': bool(approved), 'approved_by': approved_by or None}


# --- the other options ---------------------------------------------------------------------------------------------


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def result_problems(value, where='result'):
    """Problems with ``result`` data: a dict that encodes as JSON (no NaN) in at most RESULT_MAX bytes."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return ['%s must be a dict' % where]
    try:
        size = len(json.dumps(value, sort_keys=True, separators=(',', ':'), allow_nan=False))
    except (TypeError, ValueError) as exc:
        return ['%s cannot be stored as JSON (%s); give plain strings, numbers, lists and dicts' % (where, exc)]
    if size > RESULT_MAX:
        return ['%s is %d bytes as JSON, more than %d; keep the figures and leave the bulk out (a link will do)'
                % (where, size, RESULT_MAX)]
    return []


def context_problems(context):
    problems = []
    for field in CONTEXT_FIELDS:
        value = (context or {}).get(field)
        if value is not None:
            _line(value, 'context.' + field, CONTEXT_MAX, problems, required=False)
    return problems


def validate(params, clock=None):
    """Problems with the options other than ``change`` (which :func:`run` checks), each naming the option and the fix."""
    problems = []
    event = params.get('event') or 'validate'
    path = params.get('audit_log')
    if path == '':
        problems.append('audit_log is empty: give the path of the JSON-lines audit log (or, with event=validate, leave it out)')
    elif path is None and event != 'validate':
        problems.append('audit_log is required with event=%s: the JSON-lines file the event is appended to, on a host that '
                        'outlives the job' % event)
    try:
        current_time(params.get('now'), clock)
    except ValueError as exc:
        problems.append(str(exc))
    if not _blank(params.get('who')):
        _line(params['who'], 'who', NAME_MAX, problems)
    job_id = params.get('job_id')
    if not _blank(job_id) and not JOB_ID_RE.match(str(job_id).strip()):
        problems.append('job_id %s is not a job id: 1 to 64 letters, digits and _.:-' % _shown(job_id))
    problems.extend(context_problems(params.get('context')))
    details = params.get('details')
    if details is not None and len(details) > DETAILS_MAX:
        problems.append('details is %d characters long; shorten it to at most %d' % (len(details), DETAILS_MAX))
    elif details is not None and _TEXT_CONTROL.search(details):
        problems.append('details holds a control character; remove it')
    problems.extend(result_problems(params.get('result')))
    problems.extend(step_problems(event, params.get('context'), params.get('result')))
    refused = params.get('refusal')
    if refused is not None:
        if event == 'validate':
            problems.append('refusal is only for an event that is recorded: with event=validate nothing is written; give the '
                            'event that was refused (for example event=started)')
        else:
            # the refused entry's details say '<event> refused: <refusal>', within DETAILS_MAX
            _line(refused, 'refusal', REFUSAL_MAX, problems)
    return problems


def step_problems(event, context, result):
    """An event=step names its action (context.action) and how it ended (result.status)."""
    if event != 'step':
        return []
    problems = []
    if _blank((context or {}).get('action')):
        problems.append('context.action is required with event=step: name the action of the change it records, for example '
                        'vacuum_analyze')
    status = (result or {}).get('status') if isinstance(result, dict) else None
    if status not in STEP_STATUSES:
        problems.append('result.status is required with event=step and must be one of %s (how the action ended), got %s'
                        % (', '.join(STEP_STATUSES), _shown(status)))
    return problems


def local_user():
    """The user running the module: the password database's name for the effective uid, else getpass's, else the uid."""
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return 'uid:%d' % os.geteuid()


def resolve_who(params):
    """``who``, else the local user (AWX's launching user reaches a module only as a variable the caller passes)."""
    return params['who'].strip() if not _blank(params.get('who')) else local_user()


def resolve_job_id(params, environ=None):
    """``(job id or None, warning or None)``: ``job_id``, else the environment's JOB_ID, else AWX_JOB_ID."""
    if not _blank(params.get('job_id')):
        return str(params['job_id']).strip(), None
    found = job_id_from_environment(environ)
    if found is not None and not JOB_ID_RE.match(found):
        return None, 'the environment\'s job id %s is not a job id (1 to 64 letters, digits and _.:-); recorded as null' % _shown(found)
    return found, None


# --- entries -------------------------------------------------------------------------------------------------------


def build_entry(event, change, approved, missing, who, job_id, context=None, details=None, result=None, now=None,
                attempted=None):
    """One audit log entry, without its ``sha256`` (set from the log's last line when it is appended)."""
    emergency = None
    if change['category'] == 'emergency':
        emergency = {'outside_window': change['outside_window'], 'reason': change['emergency_reason']}
    return {
        'time': format_time(now),
        'event': event,
        'attempted': attempted,
        'change_id': change['change_id'],
        'category': change['category'],
        'priority': change['priority'],
        'title': change['title'],
        'who': who,
        'job_id': job_id,
        'context': {key: value.strip() for key, value in (context or {}).items() if key in CONTEXT_FIELDS and not _blank(value)},
        'details': details.strip() if not _blank(details) else None,
        'result': result,
        'approvals': {'approved': bool(approved), 'missing': list(missing),
                      'by': [dict(item) for item in change['approvals']]},
        'emergency': emergency,
        'sha256': None,
    }


def encode_entry(entry):
    """The entry as one line of ASCII JSON, without the newline."""
    return json.dumps(entry, sort_keys=True, separators=(',', ':'), allow_nan=False).encode('ascii')


def line_sha256(raw):
    """The hash an entry carries of the line before it: SHA-256 of that line's bytes, without the newline."""
    return hashlib.sha256(raw).hexdigest()


def _no_duplicates(pairs):
    data = {}
    for key, value in pairs:
        if key in data:
            raise EntryError('the key %s appears twice' % _shown(key, 32))
        data[key] = value
    return data


def _refuse_constant(name):
    raise EntryError('%s is not JSON this module writes' % name)


def _entry_text(entry, key, limit, nullable=False, multiline=False):
    value = entry[key]
    if value is None and nullable:
        return
    if not isinstance(value, str) or not value or len(value) > limit or (_TEXT_CONTROL if multiline else _CONTROL).search(value):
        raise EntryError('%s is not a string of at most %d characters' % (key, limit))


def parse_entry(raw):
    """The entry of one audit log line (bytes, without the newline), checked against the schema; EntryError otherwise."""
    if raw is None or len(raw) > LINE_MAX:
        raise EntryError('the line is longer than %d bytes' % LINE_MAX)
    try:
        entry = json.loads(raw.decode('utf-8'), object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EntryError('not JSON: %s' % exc) from None
    if not isinstance(entry, dict) or set(entry) != set(ENTRY_FIELDS):
        raise EntryError('not an object with exactly the keys %s' % ', '.join(ENTRY_FIELDS))
    try:
        parse_instant(entry['time'], 'time')
    except ValueError as exc:
        raise EntryError(str(exc)) from None
    if entry['event'] not in LOG_EVENTS:
        raise EntryError('event is not one of %s' % ', '.join(LOG_EVENTS))
    if entry['event'] == 'refused':
        if entry['attempted'] not in EVENTS[1:]:
            raise EntryError('a refused entry names the refused event in attempted')
    elif entry['attempted'] is not None:
        raise EntryError('attempted is only set on a refused entry')
    if not isinstance(entry['change_id'], str) or not CHANGE_ID_RE.match(entry['change_id']):
        raise EntryError('change_id is not CHG-YYYY-NNNN')
    if entry['category'] not in CATEGORIES or entry['priority'] not in PRIORITIES:
        raise EntryError('category or priority is not one this module writes')
    _entry_text(entry, 'title', TITLE_MAX)
    _entry_text(entry, 'who', NAME_MAX)
    if entry['job_id'] is not None and (not isinstance(entry['job_id'], str) or not JOB_ID_RE.match(entry['job_id'])):
        raise EntryError('job_id is not a job id')
    context = entry['context']
    if not isinstance(context, dict) or set(context) - set(CONTEXT_FIELDS):
        raise EntryError('context is not a dict of %s' % ', '.join(CONTEXT_FIELDS))
    for key in context:
        _entry_text(context, key, CONTEXT_MAX)
    if entry['event'] == 'step' and ('action' not in context or not isinstance(entry['result'], dict)
                                     or entry['result'].get('status') not in STEP_STATUSES):
        raise EntryError('a step entry names its context.action and its result.status')
    _entry_text(entry, 'details', DETAILS_MAX, nullable=True, multiline=True)
    if entry['result'] is not None and result_problems(entry['result']):
        raise EntryError('result is not a dict of at most %d bytes' % RESULT_MAX)
    _check_approvals_summary(entry['approvals'])
    emergency = entry['emergency']
    if emergency is not None:
        if (not isinstance(emergency, dict) or set(emergency) != {'outside_window', 'reason'}
                or not isinstance(emergency['outside_window'], bool)):
            raise EntryError('emergency is not {outside_window, reason}')
        _entry_text(emergency, 'reason', TEXT_MAX, nullable=True, multiline=True)
    if entry['sha256'] is not None and (not isinstance(entry['sha256'], str) or not SHA256_RE.match(entry['sha256'])):
        raise EntryError('sha256 is not a hex SHA-256')
    return entry


def _check_approvals_summary(summary):
    if not isinstance(summary, dict) or set(summary) != {'approved', 'missing', 'by'} or not isinstance(summary['approved'], bool):
        raise EntryError('approvals is not {approved, missing, by}')
    if not isinstance(summary['missing'], list) or len(summary['missing']) > ROLES_MAX or not all(
            isinstance(role, str) and ROLE_RE.match(role) for role in summary['missing']):
        raise EntryError('approvals.missing is not a list of role names')
    if not isinstance(summary['by'], list) or len(summary['by']) > APPROVALS_MAX:
        raise EntryError('approvals.by is not a list of approvals')
    for item in summary['by']:
        if not isinstance(item, dict) or set(item) != set(APPROVAL_FIELDS):
            raise EntryError('approvals.by holds something that is not {role, approver, at}')
        if not isinstance(item['role'], str) or not ROLE_RE.match(item['role']):
            raise EntryError('approvals.by[].role is not a role name')
        _entry_text(item, 'approver', NAME_MAX)
        try:
            parse_instant(item['at'], 'at')
        except ValueError as exc:
            raise EntryError(str(exc)) from None


# --- the audit log -------------------------------------------------------------------------------------------------


class LogState:
    """What a scan of the audit log found: its chain, its malformed lines, and one change's entries."""

    def __init__(self, host=None):
        # with a host, only that host's entries of the change pair starts with steps and outcomes: a change carried out on
        # several environments has a start and an outcome on each
        self.host = host
        self.lines = 0
        self.malformed = 0
        self.chain_broken_at = None
        self.last_sha256 = None
        # whether the last line ends in a newline (a write torn by a crash may leave one that does not)
        self.terminated = True
        self.entries = collections.deque(maxlen=ENTRIES_MAX)
        self.last_start = None
        self.outcomes_since_start = []

    def add(self, number, entry):
        self.entries.append(entry)
        if self.host is not None and entry['context'].get('host') != self.host:
            return
        if entry['event'] == 'started':
            self.last_start = (number, entry)
            self.outcomes_since_start = []
        elif entry['event'] in OUTCOMES and self.last_start is not None:
            self.outcomes_since_start.append(entry['event'])

    def warnings(self, path):
        found = []
        if self.chain_broken_at is not None:
            found.append('the audit log %s fails its hash chain at line %d: a line before it was changed, removed or inserted '
                         '(or line %d was not written by this module); the log is appended to anyway - keep a copy and '
                         'find out what happened' % (path, self.chain_broken_at, self.chain_broken_at))
        if self.malformed:
            found.append('the audit log %s holds %s this module writes; skipped' % (
                path, '1 line that is not an entry' if self.malformed == 1 else '%d lines that are not entries' % self.malformed))
        return found


def _raw_lines(handle):
    """``(bytes or None when longer than LINE_MAX, sha256 hex, ends with a newline)`` for each line of a binary file."""
    digest, kept, ended = hashlib.sha256(), bytearray(), False
    pending = False
    while True:
        chunk = handle.readline(_READ_CHUNK)
        if not chunk:
            break
        pending = True
        ended = chunk.endswith(b'\n')
        piece = chunk[:-1] if ended else chunk
        digest.update(piece)
        if kept is not None:
            kept = None if len(kept) + len(piece) > LINE_MAX else kept + piece
        if ended:
            yield (bytes(kept) if kept is not None else None), digest.hexdigest(), True
            digest, kept, pending = hashlib.sha256(), bytearray(), False
    if pending:
        yield (bytes(kept) if kept is not None else None), digest.hexdigest(), False


def scan(handle, change_id, host=None):
    """A :class:`LogState` of the binary file ``handle`` (read from its start), with the entries of ``change_id``."""
    state = LogState(host)
    previous = None
    for number, (raw, digest, ended) in enumerate(_raw_lines(handle), 1):
        state.lines = number
        state.terminated = ended
        try:
            entry = parse_entry(raw)
        except EntryError:
            state.malformed += 1
            entry = None
        if entry is not None:
            if entry['sha256'] != previous and state.chain_broken_at is None:
                state.chain_broken_at = number
            if entry['change_id'] == change_id:
                state.add(number, entry)
        previous = digest
    state.last_sha256 = previous
    return state


def _lock(fd, operation, path, timeout):
    """flock ``fd``, waiting at most ``timeout`` seconds for another run to let go."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            raise AuditLogError('the audit log %s stayed locked by another run for %d seconds; try again when it is done'
                                % (path, timeout))
        time.sleep(0.02)


class AuditLog:
    """The JSON-lines audit log at ``path``: read under a shared lock, appended under an exclusive one, never rewritten."""

    def __init__(self, path, check_mode=False, lock_timeout=LOCK_TIMEOUT):
        self.path = os.path.abspath(path)
        self.directory = os.path.dirname(self.path)
        self.check_mode = check_mode
        self.lock_timeout = lock_timeout
        self.warnings = []

    def _exists(self):
        """Whether a regular file is at the path; AuditLogError for a symlink or anything else."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise AuditLogError('cannot look at the audit log %s: %s' % (self.path, exc.strerror)) from None
        self._check_type(info)
        return True

    def _check_type(self, info):
        if stat.S_ISLNK(info.st_mode):
            raise AuditLogError('the audit log %s is a symlink; give the path of the file itself (a symlink is refused so that '
                                'the log cannot be redirected to another file)' % self.path)
        if not stat.S_ISREG(info.st_mode):
            kind = 'directory' if stat.S_ISDIR(info.st_mode) else 'special file'
            raise AuditLogError('the audit log %s is a %s, not a regular file; give the path of a file (it is created when '
                                'missing)' % (self.path, kind))

    def _opened(self, fd):
        info = os.fstat(fd)
        self._check_type(info)
        if info.st_mode & 0o077:
            self.warnings.append('the audit log %s has mode %04o, so others may read it; chmod 600 it (the module does not '
                                 'change an existing file)' % (self.path, stat.S_IMODE(info.st_mode)))

    def read(self, change_id, host=None):
        """The log's :class:`LogState` (an empty one when there is no log yet)."""
        if not self._exists():
            return LogState(host)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
        except OSError as exc:
            raise AuditLogError('cannot open the audit log %s: %s' % (self.path, exc.strerror)) from None
        try:
            self._opened(fd)
            _lock(fd, fcntl.LOCK_SH, self.path, self.lock_timeout)
            with os.fdopen(fd, 'rb', closefd=False) as handle:
                return scan(handle, change_id, host)
        except OSError as exc:
            raise AuditLogError('cannot read the audit log %s: %s' % (self.path, exc.strerror)) from None
        finally:
            os.close(fd)

    def _prepare_directory(self):
        try:
            return files.ensure_private_dir(self.directory, self.check_mode)
        except OSError as exc:
            raise AuditLogError('cannot create the audit log\'s directory %s: %s' % (self.directory, exc.strerror)) from None

    def _open_for_append(self):
        """``(fd, created)``, the file opened for appending (created 0600 when missing)."""
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
        try:
            try:
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                self._exists()
                return os.open(self.path, flags), False
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._exists()
            raise AuditLogError('cannot open the audit log %s for appending: %s' % (self.path, exc.strerror)) from None
        try:
            # exactly 0600, whatever the umask
            os.fchmod(fd, 0o600)
        except OSError as exc:
            os.close(fd)
            raise AuditLogError('cannot set mode 0600 on the new audit log %s: %s' % (self.path, exc.strerror)) from None
        return fd, True

    def append(self, change_id, decide, host=None):
        """Scan the log and append ``decide(state)`` (an entry, or None for nothing) as one line, under one exclusive lock.

        Returns ``(state before the append, the entry with its sha256 or None, written)``. In check mode
        the log is only read and the entry is what would be appended.
        """
        created_dir = self._prepare_directory()
        if self.check_mode:
            state = LogState(host) if created_dir else self.read(change_id, host)
            entry = decide(state)
            if entry is not None:
                entry['sha256'] = state.last_sha256
            return state, entry, False
        self._exists()
        fd, created = self._open_for_append()
        try:
            self._opened(fd)
            _lock(fd, fcntl.LOCK_EX, self.path, self.lock_timeout)
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(fd, 'rb', closefd=False) as handle:
                state = scan(handle, change_id, host)
            entry = decide(state)
            if entry is None:
                return state, None, False
            entry['sha256'] = state.last_sha256
            # a line torn by a crash is ended first, so it stays one (malformed) line and ours stays whole
            data = (b'' if state.terminated else b'\n') + encode_entry(entry) + b'\n'
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            raise AuditLogError('cannot append to the audit log %s: %s' % (self.path, exc.strerror)) from None
        finally:
            os.close(fd)
        try:
            if created:
                files.fsync_dir(self.directory)
            if created_dir:
                files.fsync_dir(os.path.dirname(self.directory))
        except OSError as exc:
            raise AuditLogError('the entry was appended, but the directory of the audit log %s could not be synced: %s'
                                % (self.path, exc.strerror)) from None
        return state, entry, True


# --- the module's run ----------------------------------------------------------------------------------------------


def refusal(event, change, approved, why, state, given=None):
    """Why ``event`` may not be recorded for ``change`` given the log's ``state`` (or the ``given`` reason), or None."""
    if given is not None:
        return given.strip()
    if event == 'started' and not approved:
        return 'it is not approved: %s' % why
    if event in OUTCOMES + ('step',) and state.last_start is None:
        return ('the audit log has no started entry for it%s; record event=started before the implementation '
                '(the runbook\'s steps 5 to 7)' % ('' if state.host is None else ' on host %s' % state.host))
    if event == 'step' and state.outcomes_since_start:
        number, started = state.last_start
        return ('it is already %s since its start at %s (line %d); a step belongs between event=started and the outcome'
                % (state.outcomes_since_start[-1].replace('_', ' '), started['time'], number))
    return None


def history_warnings(event, change, state):
    """Warnings about the change's own history: a start without an outcome, an outcome recorded twice."""
    if state.last_start is None:
        return []
    number, started = state.last_start
    if event == 'started' and not state.outcomes_since_start:
        return ['change %s was already started at %s (line %d) with no outcome recorded since; this start is recorded too'
                % (change['change_id'], started['time'], number)]
    if event == 'started' and 'completed' in state.outcomes_since_start:
        return ['change %s was already started at %s (line %d) and completed; this start is recorded too'
                % (change['change_id'], started['time'], number)]
    if event in OUTCOMES and event in state.outcomes_since_start:
        return ['change %s is already recorded as %s since its start at %s (line %d); recorded again'
                % (change['change_id'], event, started['time'], number)]
    return []


def _summary(change):
    return 'change %s (%s, %s)' % (change['change_id'], change['category'], change['priority'])


def _window_note(change):
    if change['category'] != 'emergency':
        return ''
    if change['outside_window']:
        return '; it may run outside the maintenance windows: pass emergency to dsr.ops.maintenance_window'
    return '; it needs a maintenance window like any other change (outside_window is not set)'


def run(params, check_mode=False, clock=None, environ=None):
    """The module's result for ``params``; InvalidChange or AuditLogError when the change cannot be recorded.

    A refused event (``started`` of an unapproved change, an outcome without a start) is written as a
    ``refused`` entry and the result has ``failed: true``.
    """
    try:
        now = current_time(params.get('now'), clock)
    except ValueError as exc:
        raise InvalidChange([str(exc)]) from None
    change, problems = validate_change(params.get('change'), now)
    if problems:
        raise InvalidChange(problems)
    approved, missing, why = approval_state(change)
    event = params.get('event') or 'validate'
    result = {
        'changed': False, 'change': change, 'valid': True, 'approved': approved, 'missing_approvals': missing,
        'emergency': emergency_option(change, approved), 'entry': None, 'written': False, 'entries': [],
        'malformed_lines': 0, 'chain_ok': True, 'chain_broken_at': None, 'warnings': [],
    }
    path = params.get('audit_log')
    if event == 'validate':
        if path:
            log = AuditLog(path)
            _report_log(result, log.read(change['change_id']), log)
        verdict = 'valid and approved (%s)' % why if approved else 'valid but not approved: %s' % why
        result['msg'] = '%s is %s%s' % (_summary(change), verdict, _window_note(change))
        return result

    who = resolve_who(params)
    job_id, warning = resolve_job_id(params, environ)
    if warning:
        result['warnings'].append(warning)
    found = {}

    def decide(state):
        found['refusal'] = refusal(event, change, approved, why, state, params.get('refusal'))
        found['history'] = [] if found['refusal'] else history_warnings(event, change, state)
        if found['refusal']:
            return build_entry('refused', change, approved, missing, who, job_id, params.get('context'),
                               '%s refused: %s' % (event, found['refusal']), params.get('result'), now, attempted=event)
        return build_entry(event, change, approved, missing, who, job_id, params.get('context'), params.get('details'),
                           params.get('result'), now)

    host = (params.get('context') or {}).get('host')
    log = AuditLog(path, check_mode=check_mode)
    state, entry, written = log.append(change['change_id'], decide, None if _blank(host) else host.strip())
    line = state.lines + 1
    if written:
        state.add(line, entry)
    _report_log(result, state, log)
    result['warnings'].extend(found['history'])
    result.update(entry=entry, written=written, changed=True)
    where = '%s %s (line %d)' % ('recorded in' if written else 'would be recorded in', log.path, line)
    if found['refusal']:
        result['failed'] = True
        what = ('a step of %s cannot be recorded' % _summary(change) if event == 'step'
                else '%s cannot be %s' % (_summary(change), event.replace('_', ' ')))
        result['msg'] = 'refused: %s: %s; a refused entry %s' % (what, found['refusal'], ('was ' if written else '') + where)
    else:
        what = event
        if event == 'step':
            what = 'step %s (%s)' % (params['context']['action'].strip(), params['result']['status'])
        result['msg'] = '%s: %s %s%s' % (what, _summary(change), where, _window_note(change) if event == 'started' else '')
    return result


def _report_log(result, state, log):
    result['entries'] = list(state.entries)
    result['malformed_lines'] = state.malformed
    result['chain_ok'] = state.chain_broken_at is None
    result['chain_broken_at'] = state.chain_broken_at
    result['warnings'].extend(log.warnings + state.warnings(log.path))


def argument_spec():
    """The module's options."""
    return dict(
        # the fields' values are checked by validate_change (case-insensitive choices, messages naming the field and the fix)
        change=dict(type='dict', required=True, options=dict(
            change_id=dict(type='str'),
            title=dict(type='str'),
            category=dict(type='str'),
            priority=dict(type='str'),
            requested_by=dict(type='str'),
            implementation_date=dict(type='str'),
            description=dict(type='str'),
            business_justification=dict(type='str'),
            risk_assessment=dict(type='str'),
            rollback_plan=dict(type='str'),
            testing_plan=dict(type='str'),
            approval_required=dict(type='list', elements='str'),
            approvals=dict(type='list', elements='dict', options=dict(
                role=dict(type='str'),
                approver=dict(type='str'),
                at=dict(type='str'),
            )),
            outside_window=dict(type='bool', default=False),
            emergency_reason=dict(type='str'),
        )),
        event=dict(type='str', choices=list(EVENTS), default='validate'),
        audit_log=dict(type='path'),
        who=dict(type='str'),
        job_id=dict(type='str'),
        context=dict(type='dict', options=dict(
            play=dict(type='str'),
            role=dict(type='str'),
            host=dict(type='str'),
            action=dict(type='str'),
        )),
        details=dict(type='str'),
        result=dict(type='dict'),
        refusal=dict(type='str'),
        now=dict(type='str'),
    )
