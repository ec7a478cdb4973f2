#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_maintenance
short_description: VACUUM, ANALYZE or REINDEX PostgreSQL tables one at a time, and report what needs attention
version_added: 0.1.0
description:
  - Runs one maintenance statement per table of the connected database, each timed and behind
    a C(lock_timeout), and then gathers read-only reports on slow queries, unused indexes,
    tables with many dead tuples and invalid indexes.
  - Replaces the runbook's C(VACUUM ANALYZE;), C(REINDEX DATABASE dsr_db;) and C(ANALYZE;)
    maintenance snippets and its C(pg_stat_statements) and index-usage queries.
  - Never runs C(VACUUM FULL), which locks a table against reads and writes while it rewrites it.
  - Every name in O(tables) and O(schemas) is looked up in the catalogs with bind parameters, and
    statements are built from the catalogs' own names quoted as identifiers, so a name cannot
    inject SQL. An unknown name fails the task before any statement runs.
  - When a statement fails (for example because O(lock_timeout) expired while another session held
    a conflicting lock), the module stops and fails, listing the statements that were done and the
    error; see O(continue_on_error).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
  - dsr.ops.attributes.IDEMPOTENT
attributes:
  check_mode:
    support: full
    details:
      - Check mode resolves the same tables and composes the same statements, and runs none of them.
        RV(operations) then have status V(planned), RV(queries) holds the statements that would run,
        and RV(ignore:changed) is true when any are planned.
      - The reports are gathered in check mode too; they only read statistics views.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run with an O(operation) other than V(none) runs its statements again and reports a change.
options:
  operation:
    description:
      - The statement run on each table.
      - V(vacuum) runs C(VACUUM), V(vacuum_analyze) runs C(VACUUM) with the C(ANALYZE) option, V(analyze) runs C(ANALYZE)
        (statistics only), V(reindex) runs C(REINDEX TABLE) (see O(concurrently)).
      - V(none) runs no statement and only gathers the O(reports).
    type: str
    choices: [vacuum, vacuum_analyze, analyze, reindex, none]
    default: vacuum_analyze
  tables:
    description:
      - The tables (ordinary, partitioned, or materialized views) to maintain, as V(schema.table) or V(table).
      - A name without a schema is looked up, like PostgreSQL does, in the schemas of the login role's
        C(search_path) in order, as C(current_schemas) with V(false) lists them.
      - Names are matched exactly as they are stored in the catalogs (no case folding, no quotes needed).
        Double-quote a part that contains a dot, for example V("my.schema".households).
      - A name that is not found, or that is a view, index or sequence, fails the task naming it.
      - Mutually exclusive with O(schemas). When neither is given, every table of the connected
        database is maintained, except those in C(pg_catalog), C(information_schema), C(pg_toast) and
        temporary schemas.
    type: list
    elements: str
  schemas:
    description:
      - Maintain every ordinary table, partitioned table and materialized view of these schemas.
      - A partitioned table is processed with all its partitions, so partitions are not listed on
        their own (except for O(operation=reindex) before PostgreSQL 14, which cannot reindex a
        partitioned table, so the partitions are listed instead).
      - An unknown schema fails the task naming it. Mutually exclusive with O(tables).
    type: list
    elements: str
  concurrently:
    description:
      - With O(operation=reindex), use C(REINDEX TABLE CONCURRENTLY), which lets reads and writes go on
        while the indexes are rebuilt, at the cost of more time and work.
      - Only on PostgreSQL 12 and later, and never for system catalogs (PostgreSQL refuses it there);
        those get a plain C(REINDEX TABLE), which blocks writes to the table, and a warning.
      - C(REINDEX TABLE CONCURRENTLY) skips indexes that are invalid, with a warning in the
        operation's C(notices); see the RV(reports.invalid_indexes) report.
    type: bool
    default: true
  lock_timeout:
    description:
      - How long each statement may wait for a lock before it fails, as a PostgreSQL duration such
        as V(5s), V(2min) or V(500ms) (no unit means milliseconds). V(0) waits forever.
      - The server counts in milliseconds; a value that rounds to 0 (such as V(100us)) is refused
        rather than silently meaning no limit.
      - Keeps maintenance from queueing behind a long transaction and blocking the application's
        queries that queue behind it in turn.
      - Quote it in YAML.
    type: str
    default: 5s
  statement_timeout:
    description:
      - How long each statement may run before it is cancelled, as a PostgreSQL duration like
        O(lock_timeout). V(0) (the default) means no limit, overriding any limit set for the login role.
    type: str
    default: '0'
  continue_on_error:
    description:
      - When a statement fails, go on with the next tables instead of stopping. The task still fails
        at the end when any statement failed, and RV(operations) has the error of each one.
      - A lost connection always stops the run.
    type: bool
    default: false
  reports:
    description:
      - Read-only reports gathered after the maintenance statements (also in check mode and with
        O(operation=none)). An empty list gathers none.
      - V(slow_queries) lists the top O(top_n) statements of C(pg_stat_statements) for this database by
        mean and by total execution time.
      - V(unused_indexes) lists indexes never scanned since the statistics were reset that do not
        enforce a constraint (not unique, primary key or exclusion).
      - V(tables_needing_vacuum) lists tables whose share of dead tuples is above O(dead_tuple_ratio)
        and that have at least O(min_dead_tuples) of them.
      - V(invalid_indexes) lists indexes marked invalid, typically left over by an interrupted
        C(CREATE INDEX CONCURRENTLY) or C(REINDEX CONCURRENTLY) (names ending in C(_ccnew) or C(_ccold)).
    type: list
    elements: str
    choices: [slow_queries, unused_indexes, tables_needing_vacuum, invalid_indexes]
    default: [slow_queries, unused_indexes, tables_needing_vacuum, invalid_indexes]
  top_n:
    description: How many statements the V(slow_queries) report lists in each ranking, from 1 to 1000.
    type: int
    default: 10
  dead_tuple_ratio:
    description:
      - The share of dead tuples, C(n_dead_tup) divided by C(n_live_tup + n_dead_tup), above which a
        table is listed by the V(tables_needing_vacuum) report. At least V(0) and below V(1).
    type: float
    default: 0.2
  min_dead_tuples:
    description: The number of dead tuples a table needs to be listed by the V(tables_needing_vacuum) report.
    type: int
    default: 1000
  include_query_text:
    description:
      - Include the text (first 1000 characters) of each statement in the V(slow_queries) report.
      - Off by default because query text can hold personal data of registry households, and
        results end up in job logs.
    type: bool
    default: false
notes:
  - C(VACUUM) and C(ANALYZE) skip a table the login role may not maintain (in PostgreSQL 15, one it
    does not own, unless it owns the database or is a superuser) with only a server warning. The
    module passes such warnings on and keeps them in the operation's C(notices).
  - Maintenance statements cannot run inside a transaction; the module uses its own autocommit
    connection and runs one statement per table.
  - C(pg_stat_statements) must be in C(shared_preload_libraries) and installed with
    C(CREATE EXTENSION pg_stat_statements) in the database for the V(slow_queries) report. Without
    it the report is C(available=false) with the reason, and the task does not fail.
  - The statistics behind the reports are those of the server the module connects to; on a standby
    they describe the standby's own activity.
seealso:
  - module: dsr.ops.pg_health
  - name: VACUUM
    description: What VACUUM and VACUUM (ANALYZE) do and which locks they take.
    link: https://www.postgresql.org/docs/15/sql-vacuum.html
  - name: REINDEX
    description: REINDEX and the restrictions of REINDEX CONCURRENTLY.
    link: https://www.postgresql.org/docs/15/sql-reindex.html
  - name: pg_stat_statements
    description: The extension behind the slow_queries report.
    link: https://www.postgresql.org/docs/15/pgstatstatements.html
'''

EXAMPLES = r'''
- name: Weekly VACUUM (ANALYZE) of every table of the registry database
  dsr.ops.pg_maintenance:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_app
    login_db: dsr_db
    operation: vacuum_analyze
    lock_timeout: 10s
  register: weekly_vacuum

- name: Monthly REINDEX CONCURRENTLY of the busiest tables, going on past a busy table
  dsr.ops.pg_maintenance:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_app
    login_db: dsr_db
    operation: reindex
    concurrently: true
    tables:
      - public.households
      - public.household_members
      - payments.disbursements
    lock_timeout: 30s
    statement_timeout: 2h
    continue_on_error: true
    reports: [invalid_indexes]

- name: Reports only, for the performance review
  dsr.ops.pg_maintenance:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_monitor
    login_db: dsr_db
    operation: none
    top_n: 20
    dead_tuple_ratio: 0.1
  register: db_reports

- name: Show the tables that need a vacuum
  ansible.builtin.debug:
    msg: "{{ db_reports.reports.tables_needing_vacuum.items | map(attribute='table') | list }}"
'''

RETURN = r'''
msg:
  description: One line saying what was run, planned or failed; on failure, each failed statement with its error.
  returned: always
  type: str
  sample: "12 vacuum_analyze statements run"
operation:
  description: The O(operation) that was run.
  returned: success or when a maintenance statement failed
  type: str
  sample: vacuum_analyze
database:
  description: The database the module connected to.
  returned: success or when a maintenance statement failed
  type: str
  sample: dsr_db
server_version_num:
  description: The server's C(server_version_num).
  returned: success or when a maintenance statement failed
  type: int
  sample: 150018
session_settings:
  description: The session settings every statement ran under.
  returned: success or when a maintenance statement failed
  type: dict
  sample: {lock_timeout: 5s, statement_timeout: '0'}
  contains:
    lock_timeout:
      description: The O(lock_timeout) in effect.
      type: str
      returned: always
      sample: 5s
    statement_timeout:
      description: The O(statement_timeout) in effect.
      type: str
      returned: always
      sample: '0'
queries:
  description:
    - Every maintenance statement executed, in order, including one that failed. In check mode, the
      statements that would run.
    - Catalog lookups and report queries are not listed.
  returned: success or when a maintenance statement failed
  type: list
  elements: str
  sample: ['VACUUM (ANALYZE) "public"."households"', 'VACUUM (ANALYZE) "public"."household_members"']
operations:
  description: One entry per table, in the order they ran (or would run, in check mode).
  returned: success or when a maintenance statement failed
  type: list
  elements: dict
  sample:
    - {table: public.households, schema: public, name: households, kind: table, sql: 'REINDEX TABLE CONCURRENTLY "public"."households"',
       duration_seconds: 4.312, status: done}
    - {table: public.household_members, schema: public, name: household_members, kind: table,
       sql: 'REINDEX TABLE CONCURRENTLY "public"."household_members"', duration_seconds: 5.004, status: failed,
       error: canceling statement due to lock timeout, sqlstate: 55P03}
  contains:
    table:
      description: The table as V(schema.table) (for display; RV(operations[].sql) has it quoted).
      type: str
      returned: always
      sample: public.households
    schema:
      description: The table's schema.
      type: str
      returned: always
      sample: public
    name:
      description: The table's name within its schema.
      type: str
      returned: always
      sample: households
    kind:
      description: C(table), C(partitioned table) or C(materialized view).
      type: str
      returned: always
      sample: table
    sql:
      description: The statement, exactly as sent to the server.
      type: str
      returned: always
      sample: 'VACUUM (ANALYZE) "public"."households"'
    duration_seconds:
      description: How long the statement took; null in check mode.
      type: float
      returned: always
      sample: 1.204
    status:
      description: V(done), V(failed), or V(planned) in check mode.
      type: str
      returned: always
      sample: done
    error:
      description: The server's error message.
      type: str
      returned: when RV(operations[].status) is V(failed)
      sample: canceling statement due to lock timeout
    sqlstate:
      description: The server's SQLSTATE error code (C(55P03) is a lock timeout, C(57014) a statement timeout).
      type: str
      returned: when RV(operations[].status) is V(failed) on the server
      sample: 55P03
    notices:
      description: Notices and warnings the server sent while the statement ran.
      type: list
      elements: str
      returned: when the server sent any
      sample: ['WARNING:  permission denied to vacuum "households", skipping it']
not_attempted:
  description: Tables not reached because the run stopped at a failure.
  returned: success or when a maintenance statement failed
  type: list
  elements: str
  sample: [payments.disbursements]
reports:
  description:
    - One entry per report selected in O(reports). Each has C(available), C(items), and C(reason)
      when it is not available (the task does not fail for an unavailable report).
  returned: success or when a maintenance statement failed
  type: dict
  contains:
    slow_queries:
      description: Statements of this database from C(pg_stat_statements).
      type: dict
      returned: when selected in O(reports)
      sample:
        available: true
        extension_version: '1.10'
        items: [{queryid: -8063160503150200351, user: dsr_app, calls: 18230, mean_exec_time_ms: 412.907, total_exec_time_ms: 7527294.2, rows: 18230}]
        by_total_exec_time:
          - {queryid: 5473909299251260356, user: dsr_app, calls: 9120331, mean_exec_time_ms: 1.204, total_exec_time_ms: 10980878.5, rows: 9120331}
      contains:
        available:
          description: Whether the report could be gathered.
          type: bool
          returned: always
          sample: true
        reason:
          description: Why the report is not available and how to fix it.
          type: str
          returned: when RV(reports.slow_queries.available) is false
          sample: >-
            the pg_stat_statements extension is not installed in database dsr_db: run CREATE EXTENSION pg_stat_statements
            in it as a superuser (the server must also have pg_stat_statements in shared_preload_libraries)
        extension_version:
          description: The installed version of C(pg_stat_statements).
          type: str
          returned: when available
          sample: '1.10'
        items:
          description:
            - The top O(top_n) statements by mean execution time, each with C(queryid), C(user), C(calls),
              C(mean_exec_time_ms), C(total_exec_time_ms), C(rows), and C(query) with O(include_query_text).
            - C(queryid) is null for other roles' statements when the login role lacks C(pg_read_all_stats).
          type: list
          elements: dict
          returned: always
          sample: [{queryid: -8063160503150200351, user: dsr_app, calls: 18230, mean_exec_time_ms: 412.907, total_exec_time_ms: 7527294.2, rows: 18230}]
        by_total_exec_time:
          description: The top O(top_n) statements by total execution time, shaped like RV(reports.slow_queries.items).
          type: list
          elements: dict
          returned: always
          sample: [{queryid: 5473909299251260356, user: dsr_app, calls: 9120331, mean_exec_time_ms: 1.204, total_exec_time_ms: 10980878.5, rows: 9120331}]
    unused_indexes:
      description: Valid indexes with C(idx_scan = 0) that enforce no constraint, largest first.
      type: dict
      returned: when selected in O(reports)
      sample: {available: true, stats_reset: null, items: [{schema: public, table: households, index: households_region_idx, size_bytes: 1122304, idx_scan: 0}]}
      contains:
        available:
          description: Whether the report could be gathered.
          type: bool
          returned: always
          sample: true
        reason:
          description: Why the report is not available.
          type: str
          returned: when RV(reports.unused_indexes.available) is false
          sample: "query failed: permission denied for table pg_stat_user_indexes"
        stats_reset:
          description:
            - When this database's statistics were last reset (ISO 8601), null if never. Indexes are unused
              since then only; a recent reset makes the report mean little.
          type: str
          returned: when available
          sample: "2025-06-01T02:00:00.123456+00:00"
        items:
          description: Each index with C(schema), C(table), C(index), C(size_bytes) and C(idx_scan).
          type: list
          elements: dict
          returned: always
          sample: [{schema: public, table: households, index: households_region_idx, size_bytes: 1122304, idx_scan: 0}]
    tables_needing_vacuum:
      description: Tables over the dead-tuple thresholds, most dead tuples first.
      type: dict
      returned: when selected in O(reports)
      sample:
        available: true
        dead_tuple_ratio: 0.2
        min_dead_tuples: 1000
        items: [{schema: public, table: payments, n_live_tup: 40000, n_dead_tup: 60000, dead_tuple_ratio: 0.6,
                 last_vacuum: null, last_autovacuum: "2025-07-01T03:12:44.501233+00:00"}]
      contains:
        available:
          description: Whether the report could be gathered.
          type: bool
          returned: always
          sample: true
        reason:
          description: Why the report is not available.
          type: str
          returned: when RV(reports.tables_needing_vacuum.available) is false
          sample: "query failed: canceling statement due to statement timeout"
        dead_tuple_ratio:
          description: The O(dead_tuple_ratio) used.
          type: float
          returned: when available
          sample: 0.2
        min_dead_tuples:
          description: The O(min_dead_tuples) used.
          type: int
          returned: when available
          sample: 1000
        items:
          description:
            - Each table with C(schema), C(table), C(n_live_tup), C(n_dead_tup), C(dead_tuple_ratio), and
              C(last_vacuum) and C(last_autovacuum) (ISO 8601, null if never).
          type: list
          elements: dict
          returned: always
          sample: [{schema: public, table: payments, n_live_tup: 40000, n_dead_tup: 60000, dead_tuple_ratio: 0.6, last_vacuum: null, last_autovacuum: null}]
    invalid_indexes:
      description:
        - Indexes with C(pg_index.indisvalid = false) in any schema. PostgreSQL maintains them on every
          write but never uses them. Drop a leftover C(_ccnew)/C(_ccold) index with C(DROP INDEX CONCURRENTLY);
          rebuild another one with C(REINDEX INDEX CONCURRENTLY).
      type: dict
      returned: when selected in O(reports)
      sample: {available: true, items: [{schema: public, table: households, index: households_region_idx_ccnew, size_bytes: 1122304}]}
      contains:
        available:
          description: Whether the report could be gathered.
          type: bool
          returned: always
          sample: true
        reason:
          description: Why the report is not available.
          type: str
          returned: when RV(reports.invalid_indexes.available) is false
          sample: "query failed: canceling statement due to statement timeout"
        items:
          description: Each index with C(schema), C(table), C(index) and C(size_bytes).
          type: list
          elements: dict
          returned: always
          sample: [{schema: public, table: households, index: households_region_idx_ccnew, size_bytes: 1122304}]
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._postgres.maintenance_entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
