#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ops_incident
short_description: Incident notices from failed DSR checks - severity by the runbook, one notice per change, resolved on recovery
version_added: 0.3.0
description:
  - The runbook's Incident Management for what the daily checks find. Takes one run's check records (as M(dsr.ops.ops_history)
    records them) and keeps B(one incident per environment) that gathers its failing checks.
  - "Severity by the runbook's classification: V(P1) (Critical) - the system is unavailable (a C(database) record with the
    figure C(reachable=0), a C(kubernetes) record whose C(workloads_down) reaches C(workloads_total)) or data may be
    compromised (a figure C(compromise_signals) above 0); V(P2) (High) - major functionality unavailable or significantly
    degraded (some workloads down, a critical database, Kubernetes, metrics, errors, certificate, backup or security check);
    V(P3) (Medium) - warnings with user impact (database, Kubernetes, metrics, errors, slow queries; a check that could not
    run); V(P4) (Low) - the rest (certificate, backup and security warnings, a metrics warning of resource checks alone -
    CPU, memory, disk, connections, scrape targets: capacity planning -, the DR test). The incident's severity is its
    most severe failing check."
  - A new incident gets the next id of a real sequence, C(INC-<year>-<NNNN>), status C(Investigating), and is announced. An
    ongoing one is announced again only when its severity changes (status C(In Progress)), and C(Resolved) when every check
    that made it has recovered - a check that was not run this time keeps its state. Each announcement is the runbook's
    Incident Communication Template, filled in (the C(notice) of each of RV(announcements)), with the next update from the runbook's
    response-time table (P1 every 30 minutes, P2 every 2 hours, P3 daily, P4 weekly).
  - The state lives with the history (O(backend), as M(dsr.ops.ops_history)) - a table C(<schema>.incidents) and the id
    sequence C(<schema>.incident_sequence) in the operations database, changed in one transaction under an advisory lock,
    or C(incidents.json) in the history directory under an exclusive lock. What it reads back is validated; an incident
    that does not pass is left out with a warning.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the state, decides what would be announced (with the ids that would be given) and returns the notices; writes
        no notice, no state and consumes no id.
  diff_mode:
    support: none
options:
  records:
    description: One run's check records (the C(records) of M(dsr.ops.ops_history)); an optional C(affected) list names the services affected.
    type: list
    elements: dict
    required: true
  min_severity:
    description:
      - The least severe incident opened - V(P3) by default, so a certificate that expires in three weeks (V(P4)) is a warning
        of the check, not an incident.
    type: str
    choices: [P1, P2, P3, P4]
    default: P3
  contact:
    description: The template's contact address.
    type: str
    default: support@dsr.gov.ph
  time_zone:
    description: The time zone of the notice's times (an IANA name such as V(Asia/Manila)); the zone's abbreviation follows each time.
    type: str
    default: UTC
  notice_dir:
    description:
      - Write each announcement to C(<notice_dir>/<id>-<NN>-<status>.txt) (directory 0700, files 0600), before the state records it
        as sent - a failure repeats a notice rather than losing one.
    type: path
  backend:
    description: Where the incident state lives, as in M(dsr.ops.ops_history).
    type: str
    choices: [postgresql, directory]
    default: postgresql
  directory:
    description: The history directory for O(backend=directory) (the state is C(incidents.json) there).
    type: path
  schema:
    description: The schema of the incident tables in the operations database.
    type: str
    default: dsr_ops
  create_schema:
    description: Create the schema and tables when missing.
    type: bool
    default: true
  registry_database:
    description:
      - The registry's own database, refused as the state's home. With O(backend=postgresql), O(login_db) defaults to C(dsr_ops).
      - A list when the records are of several environments whose registries are named differently; none of them may be
        O(login_db).
    type: list
    elements: str
    default: [dsr_db]
  keep_days:
    description: Resolved incidents are kept this many days. V(0) keeps them all.
    type: int
    default: 90
  now:
    description: The current time (RFC 3339), for tests. Default, the clock.
    type: str
notes:
  - Delivery of the notices (mail, chat) is the caller's - RV(announcements) holds each subject and text; the C(daily_ops) role
    writes them to files and can mail them with M(dsr.ops.ops_report)'s delivery.
seealso:
  - module: dsr.ops.ops_history
'''

EXAMPLES = r'''
- name: Raise, update or resolve the incidents of this run
  dsr.ops.ops_incident:
    login_host: ops-db.dsr.internal
    login_user: dsr_ops
    records: "{{ daily_ops_records }}"
    time_zone: Asia/Manila
    notice_dir: /var/lib/dsr-ops/notices
  register: incidents

- name: Show the new notices
  ansible.builtin.debug:
    msg: "{{ incidents.announcements | map(attribute='notice') | list }}"
'''

RETURN = r'''
announcements:
  description:
    - The incidents announced by this run (new, severity changed, resolved), each with C(id), C(environment), C(severity) (V(P1)..V(P4)),
      C(level) (Critical, High, Medium, Low), C(status), C(new), C(previous_severity) (when it changed), C(subject), C(notice)
      (the filled-in template) and C(path) (the notice file, with O(notice_dir)).
  returned: always
  type: list
  elements: dict
  sample: [{id: INC-2026-0001, environment: staging, severity: P2, level: High, status: Investigating, new: true,
            subject: "[INCIDENT] DSR System Issue - High", notice: "Subject: [INCIDENT] DSR System Issue - High\n...", path: null}]
open_incidents:
  description:
    - The incidents still open after this run - C(id), C(environment), C(severity), C(level), C(status), C(started_at),
      C(updated_at), C(checks), C(next_update).
  returned: always
  type: list
  elements: dict
  sample: [{id: INC-2026-0001, environment: staging, severity: P2, level: High, status: Investigating, checks: [kubernetes],
            started_at: "2026-12-04T08:00:05+00:00", updated_at: "2026-12-04T08:00:05+00:00", next_update: "2026-12-04T10:00:05+00:00"}]
report_incidents:
  description: The open incidents and those resolved today, shaped for the C(incidents) of M(dsr.ops.ops_history)'s report.
  returned: always
  type: list
  elements: dict
  sample: [{id: INC-2026-0001, environment: staging, severity: P2, status: Investigating, description: kubernetes, impact: users of the affected services}]
backend:
  description: Where the state is - C(kind) and C(where).
  returned: always
  type: dict
  sample: {kind: postgresql, where: dsr_ops.check_history in database dsr_ops}
skipped_incidents:
  description: Stored incidents that were not valid and were left out.
  returned: always
  type: int
  sample: 0
queries:
  description: The statements that created the schema (the incident changes are parameterised upserts in one transaction).
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: One line - what was announced.
  returned: always
  type: str
  sample: "1 announced (INC-2026-0001 staging P2 Investigating), 1 open"
'''

import zoneinfo

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule
from ansible_collections.dsr.ops.plugins.module_utils._ops.incidents import SEVERITIES, IncidentRun, IncidentStateError
from ansible_collections.dsr.ops.plugins.module_utils._ops.options import (libraries, make_store, parse_now, parse_records, store_argument_spec,
                                                                           store_problems)
from ansible_collections.dsr.ops.plugins.module_utils._ops.store import StoreError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresError


def argument_spec():
    """The module's options."""
    spec = store_argument_spec()
    spec.update(
        records=dict(type='list', elements='dict', required=True),
        min_severity=dict(type='str', choices=list(SEVERITIES), default='P3'),
        contact=dict(type='str', default='support@dsr.gov.ph'),
        time_zone=dict(type='str', default='UTC'),
        notice_dir=dict(type='path'),
    )
    return spec


def _zone(value):
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def validate(params):
    """Messages naming the option and the fix."""
    problems = store_problems(params)
    if _zone(params['time_zone']) is None:
        problems.append('time_zone %r is not a time zone this host knows (an IANA name such as Asia/Manila, or UTC)' % params['time_zone'][:64])
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=libraries, convert={'now': parse_now, 'records': parse_records}, validate=validate)
    params = module.params
    store = make_store(params, module.check_mode)
    run = IncidentRun(params, store, check_mode=module.check_mode, now=params['now'], zone=_zone(params['time_zone']))
    try:
        result = module.run(lambda: run.run(params['records']), (StoreError, PostgresError, IncidentStateError, OSError),
                            lambda exc: 'incidents (%s) failed: %s' % (store.describe(), exc))
    finally:
        store.close()
    said = ['%s %s %s %s' % (a['id'], a['environment'], a['severity'], a['status']) for a in result['announcements']]
    result['summary'] = '%d announced%s, %d open' % (len(said), (' (%s)' % '; '.join(said)) if said else '', len(result['open_incidents']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
