#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_access_review
short_description: Review who can do what on a PostgreSQL server, against an approved baseline
version_added: 0.3.0
description:
  - The runbook's regular review of user access rights (Security Operations, Compliance Monitoring) for the DSR database.
  - Connects to one PostgreSQL server (13 to 17) and, in one read-only transaction with a short C(statement_timeout), reads
    the roles, role memberships, password hashes, C(pg_hba.conf) rules, security settings, schema privileges and the
    privileges on the tables that hold personal data.
  - Turns what it read into B(findings), each with a stable RV(findings[].id) (for example C(superuser:alice)), a
    RV(findings[].severity) (V(critical), V(warning) or V(info), mapped to the statuses V(critical), V(warning) and V(ok)),
    a message and the object it is about. The findings of each category make one sub-check in RV(checks), and the worst
    sub-check the overall RV(status), as in M(dsr.ops.pg_health). Findings listed in O(accepted) stay in the output, marked
    as accepted, and no longer count toward a status.
  - "Findings of C(roles): superusers (V(warning); their other attributes are not listed, a superuser has them all);
    non-superusers that can SET ROLE to a superuser role (V(critical)); CREATEROLE (V(critical) before PostgreSQL 16,
    where it can grant itself any non-superuser role, V(warning) from 16); REPLICATION and BYPASSRLS (V(warning));
    CREATEDB (V(info)); login roles whose password never expires or has expired (V(warning))."
  - "Findings of C(passwords): MD5 password hashes (V(warning)); login roles without a password (V(info), V(warning) when
    a C(local) trust rule admits them, V(critical) when a TCP trust rule does)."
  - "Findings of C(memberships): direct and indirect members of C(pg_execute_server_program), C(pg_read_server_files),
    C(pg_write_server_files) (V(critical)), C(pg_read_all_data), C(pg_write_all_data) (V(warning)) and C(pg_monitor) (V(info))."
  - "Findings of C(schema_privileges): schemas of the connected database where PUBLIC may CREATE (V(warning), V(critical)
    for a schema holding personal-data tables)."
  - "Findings of C(personal_data): privileges granted to PUBLIC on a personal-data table or column (V(critical)),
    privileges held WITH GRANT OPTION by others than the owner (V(warning)), a named table that does not exist (V(warning))."
  - "Findings of C(hba): rules with C(trust) (V(critical) over TCP, V(warning) for C(local)), C(password) (V(critical) on
    C(host), C(hostnossl) and C(hostnogssenc), else V(warning)), C(md5) (V(warning)), C(ident) over TCP (V(warning)), any
    source address (C(all), C(0.0.0.0/0), C(::/0), V(warning)) and lines in error (V(critical))."
  - "Findings of C(settings): C(ssl=off) (V(critical) when the server listens beyond loopback, V(warning) on loopback
    only, V(info) with no TCP at all), C(ssl_min_protocol_version) below TLSv1.2, C(password_encryption=md5) and
    C(log_connections=off) (V(warning)), C(log_disconnections=off) (V(info))."
  - C(row_security) is not judged - turning it off makes queries that a policy would filter fail, it never bypasses a
    policy; the roles that bypass policies are reported as C(bypassrls).
  - "What the login role cannot see is never V(ok): the sub-check is V(skipped) with the reason, and RV(not_visible) says
    what was hidden and the grant that would show it. Password hashes are in C(pg_authid), which only superusers read.
    C(pg_hba_file_rules) is readable by superusers only unless granted (C(GRANT SELECT ON pg_catalog.pg_hba_file_rules) and
    EXECUTE on the function C(pg_catalog.pg_hba_file_rules)). Some settings (C(ssl_min_protocol_version)) are shown only
    to members of C(pg_read_all_settings). Roles, memberships, schema and table privileges are visible to every role."
  - With O(baseline), the inventory (roles and their attributes, role memberships, owners and grants of the personal-data
    tables) is compared with a baseline file (O(baseline_mode=compare)), and every role, attribute, membership or grant added
    or removed since is a finding of the C(baseline) sub-check; or today's inventory is written as the new baseline
    (O(baseline_mode=write)).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - The review itself only reads. With O(baseline_mode=write), check mode reports whether the baseline would change
        (RV(ignore:changed), RV(baseline.changes)) and writes nothing.
  diff_mode:
    support: full
    details:
      - With O(baseline_mode=write), the old and new baseline file when it changes.
options:
  checks:
    description:
      - The categories of findings to review. The C(baseline) sub-check runs whenever O(baseline) is set.
    type: list
    elements: str
    choices: [roles, passwords, memberships, schema_privileges, personal_data, hba, settings]
    default: [roles, passwords, memberships, schema_privileges, personal_data, hba, settings]
  personal_data_tables:
    description:
      - The tables (or views) holding personal data, as C(schema.table), in the connected database (O(login_db)). C(*), C(?)
        and C([...]) are glob patterns (V(registry.*)); names are matched as stored, unquoted.
      - Their owners and grants (table and column privileges) are reviewed and recorded in the baseline. A name that does not
        exist, or a pattern matching nothing, is a V(warning) finding; when nothing matches, C(personal_data) is V(unknown).
      - The default is the DSR registry's tables of households, members, program enrolments, payments and grievances.
    type: list
    elements: str
    default: [registry.households, registry.household_members, registry.program_enrollments, registry.payments, registry.grievances]
  accepted:
    description:
      - Findings that were reviewed and approved, such as the bootstrap superuser C(superuser:postgres). Each entry is a
        finding id or a glob pattern over ids (V(no_password_expiry:svc_*)), or a mapping with C(id) and C(reason).
      - An accepted finding stays in RV(findings) with C(accepted=true) and its reason, and no longer counts toward a status.
        Entries that match no finding are listed in RV(accepted_unused), so stale approvals show.
    type: list
    elements: raw
    default: []
  baseline:
    description:
      - A YAML file on the host running the module with the approved roles, memberships and personal-data grants, for
        O(baseline_mode).
      - The file is untrusted input. It is read only if it is a regular file of at most 8 MiB, loaded with YAML's safe loader
        (anchors, aliases and duplicate keys refused) and checked against its schema. A malformed baseline makes the
        C(baseline) sub-check V(unknown) with a message naming the file and the key; it is never a traceback.
    type: path
  baseline_mode:
    description:
      - V(compare) reports every change since O(baseline) as a C(baseline) finding. A baseline that does not exist, is
        malformed or was written for another database makes the C(baseline) sub-check V(unknown).
      - V(write) records today's inventory in O(baseline), when its content differs from what the file holds (its time stamp
        aside), through a temporary file beside it (mode 0600, fsync, atomic rename). RV(ignore:changed) is true only then. An existing
        malformed baseline is replaced with a warning; a file that is not a pg_access_review baseline is never overwritten.
        The task fails when the inventory could not be read or the file could not be written, whatever O(fail_on) says.
    type: str
    choices: [compare, write]
    default: compare
  fail_on:
    description:
      - When the task fails.
      - V(critical) fails on an overall V(critical) or V(unknown); V(warning) fails on V(warning) too; V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
  query_timeout:
    description: C(statement_timeout) and C(lock_timeout), in seconds, for the review's queries.
    type: int
    default: 10
notes:
  - Read-only on the server (C(SET TRANSACTION READ ONLY)). Only O(baseline_mode=write) changes anything, and only the file.
  - For a complete review run it as a superuser, or as a monitoring role (C(pg_monitor), or C(pg_read_all_settings)) with
    SELECT on C(pg_hba_file_rules) and EXECUTE on the function C(pg_hba_file_rules); only a superuser sees password hashes.
  - Database-level objects (schemas, personal-data tables) are those of the connected database; roles, memberships,
    C(pg_hba.conf) and settings are the cluster's. Review each database with its own task and baseline.
  - Finding ids of C(pg_hba.conf) rules carry the line number (C(hba_trust:pg_hba.conf:12)), so editing the file above a rule
    changes its id.
  - The baseline is read and written with PyYAML on the host running the module.
seealso:
  - module: dsr.ops.pg_health
  - name: Predefined roles
    description: What membership in pg_read_all_data, pg_execute_server_program and the others gives.
    link: https://www.postgresql.org/docs/current/predefined-roles.html
  - name: The pg_hba_file_rules view
    description: The view the C(hba) sub-check reads.
    link: https://www.postgresql.org/docs/current/view-pg-hba-file-rules.html
'''

EXAMPLES = r'''
- name: Review access to the DSR database against the approved baseline
  dsr.ops.pg_access_review:
    login_host: "{{ dsr_pg_host }}"
    login_user: postgres
    login_db: dsr_db
    baseline: /var/lib/dsr-ops/access-baseline-{{ inventory_hostname }}.yml
    accepted:
      - id: superuser:postgres
        reason: bootstrap superuser, used by the DBA team only over the local socket
      - id: replication:replicator
        reason: streaming replication to the standby
      - no_password_expiry:*
  register: access_review

- name: After the review board approved the changes, record them as the new baseline
  dsr.ops.pg_access_review:
    login_host: "{{ dsr_pg_host }}"
    login_user: postgres
    login_db: dsr_db
    baseline: /var/lib/dsr-ops/access-baseline-{{ inventory_hostname }}.yml
    baseline_mode: write
  diff: true

- name: A monitoring login sees less, and says what it could not see
  dsr.ops.pg_access_review:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_monitor
    login_db: dsr_db
    fail_on: never
  register: monitor_review

- name: Show the open findings, worst first
  ansible.builtin.debug:
    msg: "{{ access_review.findings | rejectattr('accepted') | map(attribute='message') | list }}"
'''

RETURN = r'''
status:
  description: Overall status, the worst of the sub-checks (a V(skipped) sub-check does not count unless all are).
  returned: always
  type: str
  sample: critical
summary:
  description: One line naming the overall status and every sub-check that is not V(ok).
  returned: always
  type: str
  sample: "critical: roles=warning, passwords=skipped, memberships=critical, hba=skipped"
failed_checks:
  description: Names of the sub-checks whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: [memberships]
changed:
  description: Whether O(baseline) was written (or, in check mode, would be). Always false in O(baseline_mode=compare).
  returned: always
  type: bool
  sample: false
checks:
  description:
    - One entry per sub-check in O(checks), plus C(baseline) when O(baseline) is set. When the server cannot be reached, one more,
      C(connection), is V(unknown) with the reason and the others are V(skipped) (with C(status) and C(msg) only). Otherwise each has
      C(status), C(msg),
      C(findings) (how many), C(open) (open findings by severity, a dict of C(critical), C(warning), C(info)), C(accepted)
      (how many were accepted) and C(not_visible) (as in RV(not_visible), for this sub-check).
    - Also, C(settings) has C(settings) (name to value, those visible); C(hba) has C(rules) (how many rules were read);
      C(personal_data) has C(tables) (the tables reviewed); C(baseline) has C(path), C(mode), C(state) and, once read,
      C(written_at), C(drift) (compare) or C(changes) (write), and C(baseline_personal_data_tables) when the baseline was
      written for other O(personal_data_tables).
  returned: always
  type: dict
  sample:
    roles: {status: warning, msg: "0 critical, 3 warning, 0 info, 1 accepted: no_password_expiry:dsr_app, ...", findings: 4,
            open: {critical: 0, warning: 3, info: 0}, accepted: 1, not_visible: []}
    hba:
      status: skipped
      msg: "not visible to the login role: pg_hba.conf rules (pg_hba_file_rules): GRANT SELECT ON ..."
      findings: 0
      open: {critical: 0, warning: 0, info: 0}
      accepted: 0
      not_visible: [{check: hba, what: pg_hba.conf rules (pg_hba_file_rules), reason: "...", fix: "GRANT ...", grant: "GRANT ..."}]
findings:
  description: Every finding, open ones first, then by severity, category and id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description:
        - Stable identifier, C(<kind>:<object>), to use in O(accepted).
        - "Kinds: C(superuser), C(superuser_member), C(createrole), C(createdb), C(replication), C(bypassrls),
          C(password_expired), C(no_password_expiry), C(md5_password), C(no_password), C(member), C(public_create),
          C(public_grant), C(grant_option), C(table_missing), C(hba_error), C(hba_trust), C(hba_password), C(hba_md5),
          C(hba_ident), C(hba_any_address), C(setting); baseline drift is C(drift:<change>:<object>)."
      type: str
      sample: "member:pg_read_all_data:dsr_analyst"
    category:
      description: The sub-check it belongs to (a name of O(checks), or C(baseline)).
      type: str
      sample: memberships
    severity:
      description: V(critical), V(warning) or V(info).
      type: str
      sample: warning
    status:
      description: The status the severity maps to (V(critical), V(warning), V(ok) for info).
      type: str
      sample: warning
    message:
      description: What was found and why it matters.
      type: str
      sample: "dsr_analyst is an indirect member of pg_read_all_data (via dsr_readers): it can read every table, personal data included, ..."
    object_type:
      description: V(role), V(membership), V(schema), V(grant), V(table), V(hba_rule) or V(setting).
      type: str
      sample: membership
    object:
      description: The object, as plain data (a role C(name); a membership's C(role), C(member), C(direct), C(via); an hba rule's
        C(line_number), C(type), C(database), C(user_name), C(address), C(auth_method); a grant's C(table), C(column),
        C(grantee), C(privilege); ...).
      type: dict
      sample: {role: pg_read_all_data, member: dsr_analyst, direct: false, via: [dsr_readers], inherits: true, can_set_role: true}
    change:
      description: For baseline drift only, the change (C(role_added), C(role_removed), C(attribute_added), C(attribute_removed),
        C(membership_added), C(membership_removed), C(admin_option_added), C(grant_added), C(grant_removed), C(grant_option_added),
        C(owner_changed), C(table_added), C(table_removed)). Added access is V(warning), or V(critical) for a superuser, a grant to
        PUBLIC or a membership in a role with server file or program access; removed access is V(info).
      type: str
      returned: for baseline findings
      sample: grant_added
    accepted:
      description: Whether an entry of O(accepted) matches it.
      type: bool
      sample: false
    accepted_reason:
      description: The C(reason) of the matching O(accepted) entry, if it has one.
      type: str
      sample: bootstrap superuser
counts:
  description: Open findings by severity (C(critical), C(warning), C(info)) and how many were C(accepted).
  returned: always
  type: dict
  sample: {critical: 1, warning: 4, info: 2, accepted: 3}
not_visible:
  description:
    - What the login role could not see, one entry per hidden part, with C(check), C(what), C(reason), C(fix) and C(grant)
      (the SQL that would show it, or null when no grant should be given).
  returned: always
  type: list
  elements: dict
  sample:
    - check: passwords
      what: password hashes (pg_authid)
      reason: only superusers can read pg_authid, so MD5 hashes and login roles without a password cannot be seen
      fix: run this check as a superuser (granting SELECT on pg_authid would expose every hash)
      grant: null
accepted_unused:
  description: Entries of O(accepted) that matched no finding.
  returned: always
  type: list
  elements: str
  sample: ["superuser:old_dba"]
inventory:
  description:
    - What was reviewed, in the baseline's shape; null when it could not be read. Never holds a password or a hash.
  returned: always
  type: dict
  contains:
    roles:
      description: Role name to its C(login), C(superuser), C(createrole), C(createdb), C(replication), C(bypassrls); predefined C(pg_*) roles left out.
      type: dict
      sample: {dsr_app: {login: true, superuser: false, createrole: false, createdb: false, replication: false, bypassrls: false}}
    memberships:
      description: Direct memberships, C(role), C(member), C(admin) (ADMIN OPTION); those among predefined roles left out.
      type: list
      elements: dict
      sample: [{role: pg_monitor, member: dsr_monitor, admin: false}]
    tables:
      description:
        - Personal-data table to its C(owner) and C(grants) (to others than the owner; each C(grantee), C(privilege), C(grant_option),
          and C(column) for a column privilege).
      type: dict
      sample: {registry.households: {owner: dsr_app, grants: [{grantee: dsr_report, privilege: SELECT, grant_option: false}]}}
baseline:
  description:
    - The baseline's handling; null without O(baseline).
    - C(state) is V(compared), V(missing), V(malformed), V(error) (not readable, another database, no inventory), V(unchanged),
      V(would_write) (check mode) or V(written).
  returned: always
  type: dict
  contains:
    path:
      description: O(baseline).
      type: str
      sample: /var/lib/dsr-ops/access-baseline-db1.yml
    mode:
      description: O(baseline_mode).
      type: str
      sample: compare
    state:
      description: What happened (see above).
      type: str
      sample: compared
    previous:
      description: What the file held before, V(absent), V(present) or V(malformed); missing when it could not be read.
      type: str
      sample: present
      returned: when the file was read
    written_at:
      description: When the baseline in the file was written (after V(written), the new one).
      type: str
      sample: "2026-11-27T02:00:00Z"
    written:
      description: Whether the file was written by this run.
      type: bool
      sample: false
    changed:
      description: Whether the file's content differs (or would, in check mode) from today's inventory; write mode only.
      type: bool
      sample: false
    changes:
      description: The ids of the differences between the baseline and today's inventory (drift in compare mode, what was recorded in write mode).
      type: list
      elements: str
      sample: ["drift:grant_added:registry.households:dsr_report:SELECT"]
    error:
      description: Why the baseline could not be compared or written; null otherwise.
      type: str
      sample: "baseline /var/lib/dsr-ops/b.yml is malformed: roles.alice.superuser must be true or false, got 'yes'"
review:
  description: Who reviewed what; null when unreachable.
  returned: always
  type: dict
  sample: {login_role: dsr_monitor, database: dsr_db, is_superuser: false, can_read_authid: false, can_read_hba: false,
           can_read_all_settings: true, server_version_num: 150018, reviewed_at: "2026-11-27T06:00:00Z"}
connection:
  description: Where the module connected after libpq's fallbacks; null when unreachable. Never holds the password.
  returned: always
  type: dict
  sample: {host: 10.0.4.12, port: "5432", user: dsr_monitor, database: dsr_db, server_version: 150018}
diff:
  description: The baseline file before and after, in diff mode, when O(baseline_mode=write) changes it.
  returned: when diff mode is on and the baseline changes
  type: dict
  sample: {before: "", after: "# dsr.ops.pg_access_review baseline ...", before_header: /var/lib/dsr-ops/b.yml (absent), after_header: /var/lib/dsr-ops/b.yml}
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule, reason
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate
from ansible_collections.dsr.ops.plugins.module_utils._postgres.access import (
    BASELINE_MODES,
    CHECKS,
    DEFAULT_PERSONAL_DATA_TABLES,
    DEFAULTS,
    AccessReview,
    parse_accepted,
    table_pattern_problems,
)
from ansible_collections.dsr.ops.plugins.module_utils._postgres.baseline import BaselineError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    Connector,
    postgres_argument_spec,
    validate_connection_params,
)

# statement_timeout is an int of milliseconds on the server
QUERY_TIMEOUT_MAX = 2147483


def argument_spec():
    """The module's options: connection options plus the review's."""
    spec = postgres_argument_spec()
    spec.update(
        checks=dict(type='list', elements='str', choices=list(CHECKS), default=list(CHECKS)),
        personal_data_tables=dict(type='list', elements='str', default=list(DEFAULT_PERSONAL_DATA_TABLES)),
        accepted=dict(type='list', elements='raw', default=[]),
        baseline=dict(type='path'),
        baseline_mode=dict(type='str', choices=list(BASELINE_MODES), default='compare'),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
        query_timeout=dict(type='int', default=DEFAULTS['query_timeout']),
    )
    return spec


def validate(params):
    """Return messages for option values that cannot work, naming the option and the fix."""
    problems = validate_connection_params(params)
    problems.extend(table_pattern_problems(params['personal_data_tables']))
    if not params['checks']:
        problems.append('checks must name at least one of %s' % ', '.join(CHECKS))
    if params['baseline_mode'] == 'write' and not params['baseline']:
        problems.append('baseline_mode=write needs baseline, the file to write')
    if params['baseline'] is not None and not params['baseline'].strip():
        problems.append('baseline must not be empty')
    if not 1 <= params['query_timeout'] <= QUERY_TIMEOUT_MAX:
        problems.append('query_timeout must be at least 1 second and at most %d (the limit of statement_timeout), got %d'
                        % (QUERY_TIMEOUT_MAX, params['query_timeout']))
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=['psycopg2'], convert={'accepted': parse_accepted}, validate=validate)
    params = module.params
    review = AccessReview(params, check_mode=module.check_mode, diff=module._diff)  # pylint: disable=protected-access

    # connection and query failures are findings of the review (unknown sub-checks); a baseline that cannot be written is an error
    result = module.run(lambda: review.run(Connector(params)), (BaselineError,), reason)
    failure = gate(result, params['fail_on'], 'PostgreSQL access review is')
    baseline = result['baseline']
    if baseline and baseline['mode'] == 'write' and baseline['state'] == 'error':
        module.fail_json(msg='baseline %s was not written: %s' % (baseline['path'], baseline['error']), **result)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
