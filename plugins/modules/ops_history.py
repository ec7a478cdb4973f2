#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ops_history
short_description: The DSR check history that outlives the job - record check results, prune by age, build the evening report's data
version_added: 0.3.0
description:
  - The memory of the runbook's Daily Operations. Every check of a run (morning, midday, evening) is one B(check record) - its
    status, summary and figures, the environment, the time and the AWX job id - and this module keeps them where they
    outlive the job. AWX runs each job in a throwaway execution environment, so the default is a PostgreSQL table,
    C(<schema>.check_history) in an operations database (O(login_db), default C(dsr_ops)) - never the registry's own
    database (O(registry_database) is refused). A directory of JSON-lines files (one per UTC day) is the fallback for
    ad-hoc runs (O(backend=directory)).
  - O(mode=record) validates and appends O(records), applies the retention (O(keep_days)) and returns the history-derived
    RV(trends) of the recorded environments - database growth per day, days until the disk threshold at that rate, backup
    size and duration trends. A history that cannot be written does not fail the task (O(on_error=warn), the default)
    - it warns and returns RV(error), so recording never fails the check it records.
  - O(mode=report) reads the last O(days) days and returns RV(report), the data of the evening summary - today's status
    per environment and check, a status matrix of the last days (the worst status of each day; a cell without a record is
    absent, never ok), one value per day of the charted figures, the trends - for M(dsr.ops.ops_report).
  - O(mode=prune) applies the retention alone.
  - What the history gives back is untrusted - every row or line is validated again, and one that does not pass is
    skipped and counted (RV(skipped_records)). Retention deletes only the history's own rows, or in a directory only
    regular files of this user named exactly C(history-YYYY-MM-DD.jsonl) whose whole day is older than the cutoff.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - O(mode=record) validates the records, reads the history and computes the trends with the new records included, and
        writes nothing; O(mode=prune) counts what it would delete. RV(ignore:changed) says whether something would be written
        or deleted.
  diff_mode:
    support: none
options:
  mode:
    description: V(record) check results, V(report) the evening summary's data, V(prune) old history.
    type: str
    choices: [record, report, prune]
    default: record
  backend:
    description: V(postgresql) (a table in the operations database) or V(directory) (JSON-lines files in O(directory)).
    type: str
    choices: [postgresql, directory]
    default: postgresql
  directory:
    description: The history directory (created 0700) for O(backend=directory).
    type: path
  schema:
    description: The schema of the history table in the operations database.
    type: str
    default: dsr_ops
  create_schema:
    description: Create the schema and table when missing (the login needs C(CREATE) on the database). V(false) fails instead.
    type: bool
    default: true
  registry_database:
    description:
      - The registry's own database, refused as the history's home (the history must not live beside the personal data, nor
        be restored over with it). With O(backend=postgresql), O(login_db) defaults to C(dsr_ops).
      - A list when the records are of several environments whose registries are named differently; none of them may be
        O(login_db).
    type: list
    elements: str
    default: [dsr_db]
  records:
    description:
      - O(mode=record). The check records - dicts with C(time) (RFC 3339 with a zone), C(environment), C(run) (V(morning),
        V(midday), V(evening), V(adhoc)), C(check) (a lower-case name), C(status) (V(ok), V(warning), V(critical), V(unknown),
        V(skipped)), C(summary), C(figures) (name to number, or to a list of C({labels, value})) and C(job_id).
    type: list
    elements: dict
    default: []
  keep_days:
    description: Retention - history older than this many days is deleted after recording (and by O(mode=prune)). V(0) keeps everything.
    type: int
    default: 90
  on_error:
    description:
      - What a history that cannot be read or written does. V(warn) (the default) returns RV(error) with a warning and does not
        fail - a morning check must not fail because its history could not be kept. V(fail) fails the task.
    type: str
    choices: [warn, fail]
    default: warn
  date:
    description: O(mode=report). The day of the report (C(YYYY-MM-DD), UTC). Default, today.
    type: str
  days:
    description: O(mode=report). Days in the status matrix and the charts, ending with O(date).
    type: int
    default: 7
  trend_days:
    description: Days of history the trends are computed over.
    type: int
    default: 14
  environments:
    description: O(mode=report). The environments of the report, in this order. Default, every environment with a record in the window.
    type: list
    elements: str
  checks:
    description: O(mode=report). The checks (matrix columns), in this order. Default, every check recorded, in the daily_ops order.
    type: list
    elements: str
  title:
    description: O(mode=report). The report's title.
    type: str
    default: DSR evening summary
  incidents:
    description: O(mode=report). The day's incidents, passed into the C(incidents) of RV(report) as given.
    type: list
    elements: dict
    default: []
  upcoming:
    description: O(mode=report). What is scheduled next (dicts with C(when) and C(what)), passed into the C(upcoming) of RV(report).
    type: list
    elements: dict
    default: []
  notes:
    description: O(mode=report). Free text lines for the report.
    type: list
    elements: str
    default: []
  disk_threshold:
    description: The used share of the database volume (0 to 1) that RV(trends) counts the days until (C(database_disk_full_days)).
    type: float
    default: 0.85
  now:
    description: The current time (RFC 3339), for tests. Default, the clock.
    type: str
notes:
  - Not in the C(group/dsr.ops.postgresql) action group on purpose - the group's defaults point at the registry's server and
    database, and the history belongs in the operations database; give its connection to each task.
  - The history is not secret but not public either (summaries name hosts and users); the directory and its files are 0700 and
    0600, and the table should be readable by the operations roles only.
seealso:
  - module: dsr.ops.ops_report
  - module: dsr.ops.pg_health
'''

EXAMPLES = r'''
- name: Record the morning check's results
  dsr.ops.ops_history:
    login_host: ops-db.dsr.internal
    login_user: dsr_ops
    records:
      - time: "{{ now(utc=true).isoformat() }}"
        environment: "{{ inventory_hostname }}"
        run: morning
        check: database
        status: "{{ db.status }}"
        summary: "{{ db.summary }}"
        figures:
          database_size_bytes: "{{ db.checks.database_sizes.total_bytes }}"
        job_id: "{{ lookup('ansible.builtin.env', 'JOB_ID', default='') }}"
  register: recorded

- name: The evening summary's data
  dsr.ops.ops_history:
    mode: report
    login_host: ops-db.dsr.internal
    login_user: dsr_ops
  register: summary

- name: An ad-hoc run keeps its history in a directory
  dsr.ops.ops_history:
    backend: directory
    directory: /var/lib/dsr-ops/history
    records: "{{ dsr_records }}"
'''

RETURN = r'''
backend:
  description: Where the history is - C(kind) (V(postgresql) or V(directory)) and C(where) (the table and database, or the directory).
  returned: always
  type: dict
  sample: {kind: postgresql, where: dsr_ops.check_history in database dsr_ops}
created:
  description: Whether the history's schema and table (or directory) were created by this run (would be, in check mode).
  returned: always
  type: bool
  sample: false
recorded:
  description: Records written (0 in check mode, or when the history could not be written).
  returned: always
  type: int
  sample: 6
pruned:
  description: Rows (or day files) deleted by the retention (would be, in check mode).
  returned: always
  type: int
  sample: 0
pruned_files:
  description: The day files deleted (O(backend=directory)).
  returned: when files were pruned
  type: list
  elements: str
  sample: [history-2026-08-01.jsonl]
skipped_records:
  description: History rows or lines that were not valid records, skipped (with a warning).
  returned: always
  type: int
  sample: 0
trends:
  description:
    - O(mode=record). Per recorded environment, the history-derived figures - C(database_growth_bytes_per_day) (least-squares
      slope of C(database_size_bytes)), C(database_disk_full_days) (days until C(disk_used_ratio) reaches O(disk_threshold) at its
      slope; 0 when already there), C(backup_size_growth_bytes_per_day), C(backup_duration_change_seconds_per_day). A figure is
      absent without readings spread over at least 12 hours, or when it is not growing (C(database_disk_full_days)).
  returned: mode=record
  type: dict
  sample: {production: {database_growth_bytes_per_day: 10485760.0, database_disk_full_days: 41.5}}
report:
  description:
    - O(mode=report). The evening summary's data - C(title), C(generated_at), C(date), C(environments), C(checks), C(today)
      (environment to check to C(status), C(summary) and C(time) of the day's latest record), C(days) (per date, environment
      to check to the day's worst status; a missing cell means no record), C(series) (per charted figure C(name), C(title),
      C(unit) and C(points), environment to C([date, value]) pairs), C(trends) (as RV(trends)), C(incidents), C(upcoming), C(notes).
  returned: mode=report
  type: dict
  sample: {title: DSR evening summary, date: "2026-12-04", environments: [production], checks: [database],
           today: {production: {database: {status: ok, summary: "ok: all 4 checks ok", time: "2026-12-04T08:00:05+00:00"}}},
           days: [{date: "2026-12-04", status: {production: {database: ok}}}],
           series: [{name: database_size_bytes, title: Database size, unit: bytes, points: {production: [["2026-12-04", 1234567]]}}],
           trends: {production: {}}, incidents: [], upcoming: [], notes: []}
records_read:
  description: O(mode=report). History records read for the report.
  returned: mode=report
  type: int
  sample: 84
error:
  description: Why the history could not be read or written (O(on_error=warn)).
  returned: when the history failed
  type: str
  sample: "unable to connect to PostgreSQL: connection refused"
summary:
  description: O(mode=record). One line - how many records were written where, or why not.
  returned: mode=record
  type: str
  sample: 6 records written in dsr_ops.check_history in database dsr_ops
queries:
  description: The SQL statements that changed the history (the audit trail; values are parameters, not shown).
  returned: always
  type: list
  elements: str
  sample: ['INSERT INTO "dsr_ops"."check_history" (recorded_at, environment, run, check_name, status, summary, figures, job_id) VALUES %s']
'''

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule
from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec
from ansible_collections.dsr.ops.plugins.module_utils._ops.history import History
from ansible_collections.dsr.ops.plugins.module_utils._ops.options import (libraries, make_store, parse_now, parse_records, store_argument_spec,
                                                                           store_problems)
from ansible_collections.dsr.ops.plugins.module_utils._ops.store import StoreError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresError


def argument_spec():
    """The module's options."""
    spec = store_argument_spec()
    spec.update(
        mode=dict(type='str', choices=['record', 'report', 'prune'], default='record'),
        records=dict(type='list', elements='dict', default=[]),
        on_error=dict(type='str', choices=['warn', 'fail'], default='warn'),
        date=dict(type='str'),
        days=dict(type='int', default=7),
        trend_days=dict(type='int', default=14),
        environments=dict(type='list', elements='str'),
        checks=dict(type='list', elements='str'),
        title=dict(type='str', default='DSR evening summary'),
        incidents=dict(type='list', elements='dict', default=[]),
        upcoming=dict(type='list', elements='dict', default=[]),
        notes=dict(type='list', elements='str', default=[]),
        disk_threshold=dict(type='float', default=0.85),
    )
    return spec


def _date(value, option):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError('%s must be a date YYYY-MM-DD, got %r' % (option, value[:32])) from None


def validate(params):
    """Messages naming the option and the fix."""
    problems = store_problems(params)
    if not 1 <= params['days'] <= 62:
        problems.append('days must be between 1 and 62, got %d' % params['days'])
    if not 1 <= params['trend_days'] <= 366:
        problems.append('trend_days must be between 1 and 366, got %d' % params['trend_days'])
    if not 0 < params['disk_threshold'] <= 1:
        problems.append('disk_threshold is a share of the volume, above 0 and at most 1 (0.85 for 85 %%), got %r' % params['disk_threshold'])
    for option in ('environments', 'checks'):
        for name in params[option] or []:
            pattern = rec.ENVIRONMENT_RE if option == 'environments' else rec.NAME_RE
            if not pattern.match(name):
                problems.append('%s: %r is not a valid name' % (option, name[:64]))
    if params['mode'] != 'record' and params['records']:
        problems.append('records are only taken with mode=record (mode is %s)' % params['mode'])
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=libraries, convert={'now': parse_now, 'date': _date, 'records': parse_records}, validate=validate)
    params = module.params
    store = make_store(params, module.check_mode)
    history = History(params, store, check_mode=module.check_mode, now=params['now'])
    try:
        call = {'record': lambda: history.record(params['records']), 'report': history.report, 'prune': history.prune}[params['mode']]
        result = module.run(call, (StoreError, PostgresError, OSError), lambda exc: 'check history (%s) failed: %s' % (store.describe(), exc))
    finally:
        store.close()
    if params['mode'] == 'record':
        result['summary'] = ('%d records %s in %s' % (len(params['records']), 'would be written' if module.check_mode else 'written', store.describe())
                             if 'error' not in result else 'history not recorded: %s' % result['error'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
