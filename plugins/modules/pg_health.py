#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_health
short_description: Check the health of a PostgreSQL server, the DSR morning database check
version_added: 0.1.0
description:
  - Connects to one PostgreSQL server and runs read-only sub-checks, each with its own status
    (V(ok), V(warning), V(critical), V(unknown), or V(skipped) with the reason) and the figures
    behind it, then an overall RV(status).
  - "Sub-checks: reachability and connect latency; server version and role (primary or standby);
    client connections against C(max_connections); database sizes and their growth since the
    previous run; long-running queries and transactions; sessions blocked on locks; replication
    lag per standby; WAL retained by replication slots; transaction-ID wraparound age; buffer
    cache hit ratio."
  - An unreachable server is V(critical) and fails the task by default.
  - A login role without C(pg_read_all_stats) (for example through C(pg_monitor)) cannot see
    other roles' sessions; PostgreSQL returns NULLs instead of an error. The module detects this
    and reports the sub-checks that depend on those sessions as V(skipped) with the reason,
    never as V(ok).
  - Replaces the runbook's C(pg_isready) and C(pg_stat_activity) count snippets.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
  - dsr.ops.attributes.INFO_MODULE
options:
  checks:
    description:
      - The sub-checks to run. Reachability is always checked.
    type: list
    elements: str
    choices: [server, connections, database_sizes, long_running, blocked_sessions, replication, replication_slots, wraparound, cache_hit_ratio]
    default: [server, connections, database_sizes, long_running, blocked_sessions, replication, replication_slots, wraparound, cache_hit_ratio]
  fail_on:
    description:
      - When the task fails.
      - V(critical) fails on an overall V(critical) or V(unknown); V(warning) fails on V(warning)
        too; V(never) only reports. A check that could not look (V(unknown)) fails unless this is V(never).
    type: str
    choices: [critical, warning, never]
    default: critical
  connect_seconds_warning:
    description: Connection latency, in seconds, above which reachability is V(warning).
    type: float
    default: 1.0
  connect_seconds_critical:
    description: Connection latency, in seconds, above which reachability is V(critical).
    type: float
    default: 5.0
  connections_unit:
    description:
      - How O(connections_warning) and O(connections_critical) are read.
      - V(percent) of C(max_connections) (the default, so the runbook's 80/95 thresholds scale with
        the server), or V(count) of client connections.
      - Client connections exclude background processes and replication connections, and include
        the module's own connection.
    type: str
    choices: [percent, count]
    default: percent
  connections_warning:
    description: Client connections above which the check is V(warning) (see O(connections_unit)).
    type: float
    default: 80
  connections_critical:
    description: Client connections above which the check is V(critical) (see O(connections_unit)).
    type: float
    default: 95
  long_query_seconds_warning:
    description: A query running longer than this many seconds makes C(long_running) V(warning).
    type: float
    default: 300
  long_query_seconds_critical:
    description: A query running longer than this many seconds makes C(long_running) V(critical).
    type: float
    default: 1800
  long_transaction_seconds_warning:
    description:
      - A transaction open longer than this many seconds (including idle in transaction) makes
        C(long_running) V(warning). Long transactions hold back VACUUM.
    type: float
    default: 900
  long_transaction_seconds_critical:
    description: A transaction open longer than this many seconds makes C(long_running) V(critical).
    type: float
    default: 3600
  lock_wait_seconds_warning:
    description: A session waiting on a lock longer than this many seconds makes C(blocked_sessions) V(warning).
    type: float
    default: 30
  lock_wait_seconds_critical:
    description: A session waiting on a lock longer than this many seconds makes C(blocked_sessions) V(critical).
    type: float
    default: 300
  replication_lag_bytes_warning:
    description:
      - Replay lag of a standby, in bytes of WAL, above which C(replication) is V(warning).
        Human sizes such as V(64MB) are accepted (binary units).
    type: bytes
    default: 64MB
  replication_lag_bytes_critical:
    description: Replay lag, in bytes of WAL, above which C(replication) is V(critical).
    type: bytes
    default: 1GB
  replication_lag_seconds_warning:
    description: Replay lag, in seconds, above which C(replication) is V(warning).
    type: float
    default: 60
  replication_lag_seconds_critical:
    description: Replay lag, in seconds, above which C(replication) is V(critical).
    type: float
    default: 300
  primary_host:
    description:
      - On a standby, the primary to ask for this standby's replay lag in seconds (its C(pg_stat_replication.replay_lag)),
        with the same login. Defaults to the host the standby's WAL receiver streams from (visible to members of
        C(pg_read_all_stats)).
      - A standby alone cannot know its lag in time. C(now() - pg_last_xact_replay_timestamp()) is the age of the last
        replayed commit, which after a quiet hour is an hour however little is unreplayed; it is returned as
        C(last_replay_age_seconds) and never judged. When the primary cannot be asked, only the lag in bytes is judged
        and C(lag_seconds) is null, with the reason in C(lag_seconds_source).
    type: str
  primary_port:
    description: The port of O(primary_host). Defaults to the port the WAL receiver streams from.
    type: int
  expect_standbys:
    description:
      - On a primary, the number of standbys that must be streaming; fewer is V(critical).
      - When unset, a primary without standbys is V(ok).
    type: int
  slot_retained_bytes_warning:
    description:
      - WAL retained by one replication slot above which C(replication_slots) is V(warning).
        An inactive slot is always at least V(warning), because it retains WAL until it is dropped.
    type: bytes
    default: 1GB
  slot_retained_bytes_critical:
    description: WAL retained by one replication slot above which C(replication_slots) is V(critical).
    type: bytes
    default: 10GB
  xid_age_warning:
    description:
      - Transaction-ID age of the oldest database above which C(wraparound) is V(warning).
        PostgreSQL stops accepting writes near 2^31 (about 2.1 billion); autovacuum normally
        keeps ages near C(autovacuum_freeze_max_age) (200 million by default).
    type: int
    default: 500000000
  xid_age_critical:
    description: Transaction-ID age above which C(wraparound) is V(critical).
    type: int
    default: 1500000000
  cache_hit_ratio_warning:
    description: Buffer cache hit ratio, in percent, below which C(cache_hit_ratio) is V(warning).
    type: float
    default: 95.0
  cache_hit_ratio_critical:
    description: Buffer cache hit ratio, in percent, below which C(cache_hit_ratio) is V(critical).
    type: float
    default: 90.0
  cache_hit_min_blocks:
    description:
      - Blocks read since the statistics were reset below which the ratio means nothing;
        C(cache_hit_ratio) is then V(skipped) with the reason.
    type: int
    default: 10000
  database_size_bytes_warning:
    description: Size of one database above which C(database_sizes) is V(warning). Unset disables it.
    type: bytes
  database_size_bytes_critical:
    description: Size of one database above which C(database_sizes) is V(critical). Unset disables it.
    type: bytes
  databases:
    description:
      - Databases whose sizes to report. When unset, every database that accepts connections, is not a template
        (so C(template0) and C(template1) are left out) and that the login role has CONNECT on.
      - A named database that does not exist or cannot be connected to makes C(database_sizes) V(unknown).
    type: list
    elements: str
  state_file:
    description:
      - A JSON file on the host running the module where database sizes are kept between runs,
        so that the C(database_sizes) entry of RV(checks) reports growth since the previous run.
      - Written atomically after each run, except in check mode. A database is matched by name
        and OID, so a dropped and recreated (for example restored) database starts a new history.
      - Use one file per server.
    type: path
  include_query_text:
    description:
      - Include the text (first 1000 characters) of long-running and blocked queries in the result.
      - Off by default because query text can hold personal data of registry households, and
        results end up in job logs.
    type: bool
    default: false
  query_timeout:
    description: C(statement_timeout), in seconds, for the module's own queries.
    type: int
    default: 30
notes:
  - Read-only; RV(ignore:changed) is always false.
  - Grant the login role C(pg_monitor) (or at least C(pg_read_all_stats)) for complete results.
  - On a standby, the replication check needs PostgreSQL 14 or later (C(pg_get_wal_replay_pause_state)), and for the lag in
    seconds a connection to the primary with the same login (see O(primary_host)).
seealso:
  - module: dsr.ops.pg_maintenance
  - name: Monitoring statistics (pg_stat_activity, pg_stat_replication)
    description: The PostgreSQL views this module reads.
    link: https://www.postgresql.org/docs/15/monitoring-stats.html
'''

EXAMPLES = r'''
- name: Morning database check, failing on critical or unknown
  dsr.ops.pg_health:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_monitor
    login_db: dsr_db
    expect_standbys: 1
    state_file: /var/lib/dsr-ops/pg_health-{{ inventory_hostname }}.json
  register: db_health

- name: Report only, with absolute connection thresholds
  dsr.ops.pg_health:
    login_host: db.staging.dsr.example
    connections_unit: count
    connections_warning: 80
    connections_critical: 95
    fail_on: never
  register: db_health

- name: Show what is not ok
  ansible.builtin.debug:
    msg: "{{ db_health.checks | dict2items | rejectattr('value.status', 'eq', 'ok') | items2dict }}"
'''

RETURN = r'''
status:
  description: Overall status, the worst of the sub-checks (a V(skipped) sub-check does not count unless all are).
  returned: always
  type: str
  sample: warning
summary:
  description: One line naming the overall status and every sub-check that is not V(ok).
  returned: always
  type: str
  sample: "warning: connections=warning, cache_hit_ratio=skipped"
failed_checks:
  description: Names of the sub-checks whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: [connections]
can_read_all_stats:
  description: Whether the login role can see all sessions (superuser or member of C(pg_read_all_stats)); null when unreachable.
  returned: always
  type: bool
  sample: true
connection:
  description: Where the module connected after libpq's fallbacks; null when unreachable. Never holds the password.
  returned: always
  type: dict
  sample: {host: 10.0.4.12, port: "5432", user: dsr_monitor, database: dsr_db, server_version: 150018}
state_file_written:
  description: Whether O(state_file) was written (never in check mode).
  returned: always
  type: bool
  sample: true
checks:
  description:
    - One entry per sub-check, each with C(status), C(msg) and its figures. The figures of each sub-check are listed below.
  returned: always
  type: dict
  contains:
    reachability:
      description: C(reachable) (bool) and C(connect_seconds).
      type: dict
      returned: always
      sample: {status: ok, msg: connected in 0.004 s, reachable: true, connect_seconds: 0.0041}
    server:
      description: C(version), C(version_num), C(in_recovery), C(uptime_seconds), C(login_role).
      type: dict
      returned: when selected in O(checks)
      sample: {status: ok, msg: "PostgreSQL 15.18, primary", version: "15.18", version_num: 150018, in_recovery: false}
    connections:
      description:
        - C(total), C(active), C(idle_in_transaction), C(max_connections), C(percent_used), C(unit), C(warning), C(critical), C(method).
        - C(method) is C(pg_stat_database) when the login role cannot see other sessions; the total then
          includes autovacuum workers, and C(active) and C(idle_in_transaction) are null.
      type: dict
      returned: when selected in O(checks)
      sample: {status: warning, total: 34, active: 2, idle_in_transaction: 0, max_connections: 40, percent_used: 85.0, method: pg_stat_activity}
    database_sizes:
      description:
        - C(databases) maps each name to C(size_bytes), C(size_pretty), C(status) and, with a previous run in
          O(state_file), C(growth) (C(bytes), C(seconds), C(bytes_per_day)). Also C(total_bytes), C(previous_run).
      type: dict
      returned: when selected in O(checks)
      sample:
        status: ok
        databases: {dsr_db: {size_bytes: 8540007, size_pretty: 8340 kB, status: ok, growth: {bytes: 81920, seconds: 86400, bytes_per_day: 81920}}}
    long_running:
      description:
        - C(long_queries) and C(long_transactions) (sessions over the warning thresholds, each with C(pid), C(user),
          C(database), C(application_name), C(client_addr), C(state), C(seconds), C(wait_event_type), C(wait_event),
          and C(query) with O(include_query_text)), C(longest_query_seconds), C(longest_transaction_seconds), C(hidden_sessions).
      type: dict
      returned: when selected in O(checks)
      sample:
        status: skipped
        msg: "sessions of other roles are hidden from dsr_limited: grant it pg_read_all_stats (or pg_monitor) so this check can see them (6 hidden)"
    blocked_sessions:
      description: C(blocked) (sessions waiting on a lock, with C(blocked_by) pids and C(seconds) waited), C(longest_wait_seconds), C(hidden_sessions).
      type: dict
      returned: when selected in O(checks)
      sample: {status: warning, blocked: [{pid: 4242, user: dsr_app, blocked_by: [4240], seconds: 45.2}], longest_wait_seconds: 45.2}
    replication:
      description:
        - On a primary, C(role=primary), C(standbys) (C(application_name), C(client_addr), C(state), C(sync_state), C(sent_lsn),
          C(replay_lsn), C(lag_bytes), C(lag_seconds), C(status)), C(streaming), C(expected_standbys).
        - On a standby, C(role=standby), C(receive_lsn), C(replay_lsn), C(lag_bytes), C(lag_seconds) (null when unknown),
          C(lag_seconds_source) (V(caught up ...), the primary's C(replay_lag), or why it is unknown), C(last_replay_age_seconds),
          C(replay_pause_state) (a paused replay is V(warning)) and C(receiver_status).
      type: dict
      returned: when selected in O(checks)
      sample: {status: ok, role: primary, streaming: 1, standbys: [{application_name: standby1, state: streaming, lag_bytes: 0, lag_seconds: 0.0}]}
    replication_slots:
      description: C(slots), each with C(slot_name), C(slot_type), C(database), C(active), C(wal_status), C(retained_bytes), C(status).
      type: dict
      returned: when selected in O(checks)
      sample: {status: ok, slots: [{slot_name: standby1, slot_type: physical, active: true, wal_status: reserved, retained_bytes: 0}]}
    wraparound:
      description: C(max_xid_age), C(database) (the oldest), C(databases) (C(datname), C(xid_age), C(multixact_age) for each).
      type: dict
      returned: when selected in O(checks)
      sample: {status: ok, max_xid_age: 734, database: dsr_db}
    cache_hit_ratio:
      description: C(ratio_percent), C(blocks_hit), C(blocks_read).
      type: dict
      returned: when selected in O(checks)
      sample: {status: ok, ratio_percent: 99.71, blocks_hit: 1203301, blocks_read: 3490}
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._postgres.health_entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
