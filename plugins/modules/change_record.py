#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: change_record
short_description: The runbook's change request as a validated record, its approvals, and an audit log of its implementation
version_added: 0.3.0
description:
  - The runbook's Change Management as tasks around a change - its Change Request Template (O(change)) validated, the approvals
    its category needs checked, and the implementation (the runbook's steps 5 to 7) recorded in an append-only audit log
    (O(audit_log)) with O(event=started) before the work, O(event=step) for each action of it, and O(event=completed),
    O(event=failed) or O(event=rolled_back) after it.
  - "The rules per category: a V(standard) change is pre-approved and needs no approval; a V(normal) change needs an approval
    (O(change.approvals)) for every role of O(change.approval_required) (default the runbook's V(technical-lead) and
    V(operations-manager)); an V(emergency) change needs at least one approval, the expedited one (and every role of
    O(change.approval_required) when given)."
  - An emergency change may run outside the maintenance windows only when it says so, with O(change.outside_window=true) and a
    O(change.emergency_reason); RV(emergency) is then the value to pass to O(dsr.ops.maintenance_window#module:emergency).
    Without O(change.outside_window) an emergency change needs a window like any other change, and RV(emergency) is null.
  - O(event=started) of a change that is not approved is refused - the task fails - and a C(refused) entry is written, so the
    audit log shows the attempt. So is an outcome (O(event=completed), O(event=failed), O(event=rolled_back)) of a change the
    log has no C(started) entry for, and a step of a change that is not started or already has its outcome. A guard outside
    this module (a maintenance window) refuses an event through O(refusal) - the same C(refused) entry, naming its reason. An
    invalid O(change) writes nothing.
  - The audit log is JSON lines, one entry per line, appended under an exclusive C(flock) with C(O_APPEND) and fsync'd (the
    directory too when the file is created); never rewritten or truncated. Each entry has C(time) (UTC), C(event)
    (C(started), C(step), C(completed), C(failed), C(rolled_back) or C(refused)), C(attempted) (the refused event, on a C(refused)
    entry), C(change_id), C(category), C(priority), C(title), C(who), C(job_id), C(context), C(details), C(result),
    C(approvals) (C(approved), C(missing), C(by)), C(emergency) (C(outside_window) and C(reason) of an emergency change) and
    C(sha256) - the SHA-256 of the previous line's bytes (without its newline; null on the first line), a hash chain that a line
    changed, removed or inserted before the last one breaks.
  - What the log holds is read back as untrusted input. Every line is checked against the entry schema; one that does not pass
    is skipped and counted (RV(malformed_lines)). A broken chain is reported (RV(chain_ok=false), RV(chain_broken_at)) and
    warned about, and the log is still appended to - an audit log that can no longer be written records nothing.
  - Not idempotent by design - each run with an event appends one line (the log records every attempt); O(event=validate) writes
    nothing.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Validates the change, reads the audit log and returns the entry that would be appended (RV(entry), RV(written=false)),
        with RV(ignore:changed) true when one would be; a refusal still fails the task. Writes and creates nothing.
  diff_mode:
    support: none
options:
  change:
    description:
      - The change record - the runbook's Change Request Template plus the approvals given. Unknown fields are refused (the message
        lists the known ones). Every bad value fails the task with a message naming the field and the fix, such as
        C(change.category 'urgent' is not one of standard, normal, emergency), and RV(valid=false).
    type: dict
    required: true
    suboptions:
      change_id:
        description: Required. The change's id, C(CHG-YYYY-NNNN) - the year and a number of 4 to 9 digits, for example V(CHG-2025-0042).
        type: str
      title:
        description: Required. What the change is, one line of at most 200 characters.
        type: str
      category:
        description: Required. V(standard), V(normal) or V(emergency), in any case (the runbook writes V(Normal)); returned in lower case.
        type: str
      priority:
        description: Required. V(low), V(medium), V(high) or V(critical), in any case (the runbook writes V(Medium)); returned in lower case.
        type: str
      requested_by:
        description: Required. Who asked for the change (a team or a person), one line of at most 128 characters.
        type: str
      implementation_date:
        description:
          - Required. When the change is implemented - an ISO 8601 date (V(2025-07-15)) or a date and time with an offset
            (V(2025-07-15T02:00:00+08:00)); a date and time without an offset is refused.
        type: str
      description:
        description: Required. What the change does, at most 4000 characters.
        type: str
      business_justification:
        description: Why the change is needed. Required (not empty) for a normal or emergency change, optional for a standard one.
        type: str
      risk_assessment:
        description: What may go wrong and how likely it is. Required for a normal or emergency change.
        type: str
      rollback_plan:
        description: How the change is undone. Required for a normal or emergency change.
        type: str
      testing_plan:
        description: How the change was, and will be, tested. Required for a normal or emergency change.
        type: str
      approval_required:
        description:
          - The roles that must approve the change (role names are compared in lower case).
          - For a normal change default V([technical-lead, operations-manager]), the runbook's example; an empty list is refused.
            For an emergency change default none (any one approval will do); when given, each role must approve as well. A standard
            change is pre-approved and must not name any.
        type: list
        elements: str
      approvals:
        description:
          - The approvals given - who approved, in which role, when. The same role approving twice counts once (its earliest
            approval). An approval dated after O(now) is refused.
        type: list
        elements: dict
        suboptions:
          role:
            description: Required. The approver's role, for example V(technical-lead).
            type: str
          approver:
            description: Required. Who approved, one line of at most 128 characters.
            type: str
          at:
            description: Required. When, ISO 8601 with an offset or V(Z), for example V(2025-07-14T09:30:00+08:00).
            type: str
      outside_window:
        description:
          - An emergency change that may run outside the maintenance windows says so here. Requires O(change.emergency_reason);
            refused on a standard or normal change.
        type: bool
        default: false
      emergency_reason:
        description: Why an emergency change cannot wait for the next window - the critical issue it resolves. Only for an emergency change.
        type: str
  event:
    description:
      - V(validate) checks the change and its approvals and writes nothing (when O(audit_log) is given, it is read for RV(entries)).
      - V(started) records the start of the implementation; refused (a C(refused) entry is written and the task fails) unless the
        change is approved by its category's rules.
      - V(completed), V(failed) and V(rolled_back) record the outcome; refused (a C(refused) entry, the task fails) unless the log
        holds a C(started) entry of the same O(change.change_id). A second start, or the same outcome twice, is recorded with a
        warning.
      - V(step) records one action of a started change - which (O(context.action)) and how it ended (C(status) in O(result)); refused
        unless the log's last C(started) entry of the change has no outcome after it.
    type: str
    choices: [validate, started, step, completed, failed, rolled_back]
    default: validate
  audit_log:
    description:
      - The JSON-lines audit log, required unless O(event=validate). Created with mode 0600 when missing, in an existing directory
        or in one created with mode 0700. A symlink or anything but a regular file at the path is refused. An existing file whose
        mode lets others read it is used as it is, with a warning.
      - Put it where it outlives the job - not in an AWX execution environment, which is thrown away after the job - for example
        on a management host the task is delegated to.
    type: path
  who:
    description:
      - Who runs the change, for the entry.
      - Default the local user running the module (the password database, else C(getpass)). AWX does not put the launching user in
        the environment, so a playbook passes AWX's variable C(awx_user_name), else C(tower_user_name), and omits O(who) when
        neither is set (see the examples). An empty value counts as not given.
    type: str
  job_id:
    description:
      - The AWX job id, for the entry. Default the E(JOB_ID) environment variable of the module, else E(AWX_JOB_ID), else null. When the
        task runs on another host than the controller, pass it (C(awx_job_id)).
    type: str
  context:
    description: Where the change is run from, for the entry; each optional, one line of at most 256 characters.
    type: dict
    suboptions:
      play:
        description: The play, for example C(ansible_play_name).
        type: str
      role:
        description: The role, for example C(ansible_role_name).
        type: str
      host:
        description:
          - The host the change is made on, for example C(inventory_hostname).
          - When given, a start pairs with the steps and the outcome of the same host only - a change carried out on several
            environments has a start, steps and an outcome on each, and an outcome on one host needs that host's start. Without
            it, every entry of the change counts.
        type: str
      action:
        description: The action of the change an O(event=step) records, for example V(vacuum_analyze); required with O(event=step).
        type: str
  details:
    description: Free text for the entry (what was done, why it failed), at most 4000 characters. Unused with O(event=validate).
    type: str
  result:
    description:
      - Data for the entry (figures, versions, a link), at most 16 KiB as JSON. Unused with O(event=validate).
      - With O(event=step), C(status) is required - V(ok), V(warning), V(critical) (it ran and found a problem), V(failed) (it could
        not run), V(refused) (a guard did not let it start) or V(skipped) (not configured).
    type: dict
  refusal:
    description:
      - Refuse O(event) for this reason, given by a guard outside this module - for example the message of
        M(dsr.ops.maintenance_window) outside a window. The event is not recorded; a C(refused) entry with the reason is (in check
        mode, would be), and the task fails, as for the module's own refusals. At most 2000 characters, one line.
      - Not with O(event=validate), which records nothing.
    type: str
  now:
    description:
      - The moment of the entry and the limit for approval times, ISO 8601 with an offset or V(Z). For tests; default the current
        time (UTC).
    type: str
notes:
  - The audit log's hash chain shows that an earlier line was changed, removed or inserted; it cannot show that the last lines were
    cut off, and the last line is only covered once another is appended. Keep the job output (RV(entry)) or copy the log elsewhere
    when that matters.
  - Not built - an interface to an external change system (such as ServiceNow's C(change_request)); the change and its approvals
    come from the playbook. Nor an audit log in PostgreSQL; the log is a file.
seealso:
  - module: dsr.ops.maintenance_window
'''

EXAMPLES = r'''
- name: The change request (the runbook's template) with its approvals
  ansible.builtin.set_fact:
    change:
      change_id: CHG-2025-0042
      title: "Update DSR Registration Service to v1.2.0"
      category: "Normal"
      priority: "Medium"
      requested_by: "development-team"
      implementation_date: "2025-07-15"
      description: "Update registration service with bug fixes and performance improvements"
      business_justification: "Resolve user-reported issues and improve system performance"
      risk_assessment: "Low - well-tested update with rollback plan"
      rollback_plan: "Revert to previous version using deployment rollback"
      testing_plan: "Execute full regression test suite"
      approval_required: ["technical-lead", "operations-manager"]
      approvals:
        - {role: technical-lead, approver: maria.santos, at: "2025-07-14T09:30:00+08:00"}
        - {role: operations-manager, approver: jose.reyes, at: "2025-07-14T11:00:00+08:00"}

- name: Is it complete and approved?
  dsr.ops.change_record:
    change: "{{ change }}"
  register: change_check

- name: Record the start (refused, and recorded as refused, unless approved)
  dsr.ops.change_record:
    change: "{{ change }}"
    event: started
    audit_log: /var/lib/dsr-ops/changes.jsonl
    who: "{{ awx_user_name | default(tower_user_name) | default(omit) }}"
    context: {play: "{{ ansible_play_name }}", host: "{{ inventory_hostname }}"}
  delegate_to: ops-management

- name: Record the outcome
  dsr.ops.change_record:
    change: "{{ change }}"
    event: completed
    audit_log: /var/lib/dsr-ops/changes.jsonl
    who: "{{ awx_user_name | default(tower_user_name) | default(omit) }}"
    details: "registration service at v1.2.0, smoke tests passed"
    result: {version: 1.2.0}
  delegate_to: ops-management

- name: An emergency change outside the windows - validated, then passed to the window guard
  dsr.ops.change_record:
    change:
      change_id: CHG-2025-0107
      title: "Patch OpenSSL on the API gateway"
      category: emergency
      priority: critical
      requested_by: security-team
      implementation_date: "2025-07-17T15:00:00+08:00"
      description: "Apply the vendor's OpenSSL security update"
      business_justification: "Actively exploited vulnerability"
      risk_assessment: "Medium - restarts the gateway"
      rollback_plan: "Reinstall the previous package"
      testing_plan: "Patched in staging this morning"
      outside_window: true
      emergency_reason: "Critical security patch, cannot wait for Sunday"
      approvals:
        - {role: operations-manager, approver: jose.reyes, at: "2025-07-17T14:40:00+08:00"}
  register: emergency_change

- name: The guard lets the approved emergency change run now
  dsr.ops.maintenance_window:
    mode: guard
    emergency: "{{ emergency_change.emergency }}"

- name: One action of the started change, and how it ended
  dsr.ops.change_record:
    change: "{{ dsr_change }}"
    event: step
    audit_log: /var/lib/dsr-ops/audit/changes.jsonl
    context: {play: "{{ ansible_play_name }}", host: "{{ inventory_hostname }}", action: vacuum_analyze}
    result: {status: ok, operations: 42, duration_seconds: 310.4}
  delegate_to: ops-management

- name: The window guard refused the change - recorded as a refused start (the task fails)
  dsr.ops.change_record:
    change: "{{ dsr_change }}"
    event: started
    audit_log: /var/lib/dsr-ops/audit/changes.jsonl
    refusal: "{{ window.msg }}"
  delegate_to: ops-management
'''

RETURN = r'''
change:
  description:
    - The change, normalized - O(change.category) and O(change.priority) in lower case, role names in lower case, approvals one per
      role with C(at) in UTC, the effective O(change.approval_required), O(change.outside_window) as a boolean, absent text fields
      as null.
  returned: always
  type: dict
  sample:
    change_id: CHG-2025-0042
    title: Update DSR Registration Service to v1.2.0
    category: normal
    priority: medium
    requested_by: development-team
    implementation_date: "2025-07-15"
    description: Update registration service with bug fixes and performance improvements
    business_justification: Resolve user-reported issues and improve system performance
    risk_assessment: Low - well-tested update with rollback plan
    rollback_plan: Revert to previous version using deployment rollback
    testing_plan: Execute full regression test suite
    approval_required: [technical-lead, operations-manager]
    approvals:
      - {role: technical-lead, approver: maria.santos, at: "2025-07-14T01:30:00+00:00"}
      - {role: operations-manager, approver: jose.reyes, at: "2025-07-14T03:00:00+00:00"}
    outside_window: false
    emergency_reason: null
valid:
  description: Whether O(change) is a valid change record. False only on the failure that names the invalid fields.
  returned: always
  type: bool
  sample: true
approved:
  description: Whether the change is approved by the rules of its category - what O(event=started) requires.
  returned: always
  type: bool
  sample: true
missing_approvals:
  description:
    - The roles of O(change.approval_required) without an approval. Empty when the change is approved - and also for an emergency
      change with no approval at all and no O(change.approval_required); go by RV(approved).
  returned: always
  type: list
  elements: str
  sample: [operations-manager]
emergency:
  description:
    - For an emergency change with O(change.outside_window=true), the value for M(dsr.ops.maintenance_window)'s C(emergency) option -
      C(change_id), C(approved) (RV(approved)) and C(approved_by) (the approvers and their roles, null when not approved). Null for
      any other change, so the window guard judges it by the windows alone.
  returned: always
  type: dict
  sample: {change_id: CHG-2025-0107, approved: true, approved_by: jose.reyes (operations-manager)}
entry:
  description:
    - The entry appended to O(audit_log) - or, in check mode, that would be appended - with its C(sha256) of the previous line;
      a C(refused) entry when the event was refused. Null with O(event=validate).
  returned: always
  type: dict
  sample:
    time: "2025-07-14T18:05:00+00:00"
    event: started
    attempted: null
    change_id: CHG-2025-0042
    category: normal
    priority: medium
    title: Update DSR Registration Service to v1.2.0
    who: maria.santos
    job_id: "4711"
    context: {play: Registration service update, host: dsr-prod-app1}
    details: null
    result: null
    approvals:
      approved: true
      missing: []
      by:
        - {role: technical-lead, approver: maria.santos, at: "2025-07-14T01:30:00+00:00"}
        - {role: operations-manager, approver: jose.reyes, at: "2025-07-14T03:00:00+00:00"}
    emergency: null
    sha256: 9f2c0d6b6d5e0f4b1f8a3c1d2e4b5a6978c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5
written:
  description: Whether RV(entry) was appended to the audit log (false in check mode and with O(event=validate)).
  returned: always
  type: bool
  sample: true
entries:
  description:
    - The audit log's entries of O(change.change_id), oldest first, at most the last 100 - after the append, so the new entry is
      the last one (not in check mode). Empty without O(audit_log).
  returned: always
  type: list
  elements: dict
  sample: []
malformed_lines:
  description: How many lines of the audit log are not entries this module writes (skipped).
  returned: always
  type: int
  sample: 0
chain_ok:
  description: Whether every entry's C(sha256) is the hash of the line before it (true without a log).
  returned: always
  type: bool
  sample: true
chain_broken_at:
  description: The number (from 1) of the first line whose C(sha256) does not match the line before it; null when RV(chain_ok).
  returned: always
  type: int
  sample: null
msg:
  description: What happened in one line - the verdict on the change, the event recorded and where, or why it was refused (C(refused:)).
  returned: always
  type: str
  sample: "started: change CHG-2025-0042 (normal, medium) recorded in /var/lib/dsr-ops/changes.jsonl (line 7)"
'''

from ansible_collections.dsr.ops.plugins.module_utils._maintenance.change import ChangeError, argument_spec, run, validate
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule


def main():
    module = DsrModule(argument_spec(), validate=validate)
    result = module.run(lambda: run(module.params, check_mode=module.check_mode), (ChangeError,), lambda exc: exc.details)
    if result.get('failed'):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
