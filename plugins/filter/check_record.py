# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: check_record
author:
  - DSR Operations Team (@dsr-ops)
version_added: 0.3.0
short_description: A check module's registered result as one check record for the history
description:
  - Turns the result of a dsr.ops check module, as C(register) gives it, into one check record (see
    C(docs/daily-operations.md)) - time, environment, run, check, status, a one-line summary, the figures the check
    measured, the AWX job id and the affected services or objects - that M(dsr.ops.ops_history),
    M(dsr.ops.ops_incident) and M(dsr.ops.ops_metrics) take.
  - "Each kind of result has its reader: V(kubernetes) (M(dsr.ops.k8s_health): C(workloads_total), C(workloads_down),
    C(workloads_unhealthy)), V(database) (M(dsr.ops.pg_health): C(reachable), C(connections), C(max_connections),
    C(database_size_bytes), C(replication_lag_seconds)), V(backup) (M(dsr.ops.pg_backup_verify), or M(dsr.ops.s3_backup)
    with C(mode=list): C(backup_last_success_timestamp_seconds), C(backup_size_bytes), C(backup_duration_seconds),
    C(backup_age_seconds)), V(metrics) (M(dsr.ops.metrics_check): C(p95_latency_seconds), C(http_5xx_ratio),
    C(disk_used_ratio) and the other key metrics as ratios), V(errors) (M(dsr.ops.log_search): C(error_count)),
    V(certificates) (M(dsr.ops.cert_expiry): C(certificate_days_left) per C(endpoint)), V(slow_queries)
    (M(dsr.ops.pg_maintenance)'s report: C(slow_queries)), V(security) (M(dsr.ops.access_log_report) or
    M(dsr.ops.pg_access_review): a few counts). Any other result with C(status) and C(summary) keeps those, with no figures."
  - A figure is only what the result holds; one that is not a finite number is left out.
  - No result (V(null)) or a task skipped by C(when) is V(skipped) with O(skipped) as the reason (default C(not configured));
    a module that failed before it could judge (bad options, a missing library) or an unreachable host is V(unknown)
    with the module's message.
  - The record is checked as the history checks it; a record that would not pass fails the template with the reason.
  - "This file also gives C(dsr.ops.check_records), the records of several checks at once, in the order of a list of
    check names: C(results | dsr.ops.check_records(checks, environment, run, kinds={check: kind}, reasons={check: why skipped},
    time=..., job_id=..., max_age_seconds=..., slow_query_ms=..., database=...)), where C(results) maps each check name to
    its registered result (a missing or V(null) one is skipped), and each extractor option reaches only the checks whose
    reader takes it."
positional: _input, check, environment, run
options:
  _input:
    description: The registered result of the check module, or V(null) when the check did not run.
    type: dict
    required: true
  check:
    description: The check's name in the history (V(kubernetes), V(database), V(backup), ...; C([a-z][a-z0-9_]*)).
    type: str
    required: true
  environment:
    description: The DSR environment, normally C(inventory_hostname).
    type: str
    required: true
  run:
    description: The run the check belongs to.
    type: str
    choices: [morning, midday, evening, adhoc]
    default: adhoc
  kind:
    description:
      - Which reader to use, when it is not the check's own name - a check name above, or a module name (V(k8s_health),
        V(pg_health), V(pg_backup_verify), V(s3_backup_list), V(metrics_check), V(log_search), V(cert_expiry),
        V(pg_maintenance), V(access_log_report), V(pg_access_review)), or V(generic).
      - V(backup) tells the two backup results apart by their keys, and V(security) the two security ones.
    type: str
  time:
    description:
      - When the check ran, RFC 3339 (C(Z) or an offset). Default now, in UTC.
      - Ages (the S3 backup's) are counted from it.
    type: str
  job_id:
    description: The AWX job id. Default the E(JOB_ID) (else E(AWX_JOB_ID)) environment variable of the controller, else none.
    type: str
  skipped:
    description: Why the check did not run, for a V(null) or skipped result.
    type: str
    default: not configured
  max_age_seconds:
    description: The age over which the newest verified backup of an S3 listing is V(critical).
    type: float
    default: 93600
  slow_query_ms:
    description: The mean execution time, in milliseconds, from which a statement of the slow-query report is slow (a V(warning)).
    type: float
    default: 1000
  database:
    description: The database whose size is C(database_size_bytes). Default the database M(dsr.ops.pg_health) connected to.
    type: str
seealso:
  - module: dsr.ops.ops_history
  - module: dsr.ops.ops_incident
'''

EXAMPLES = r'''
- name: Kubernetes health, reported only
  dsr.ops.k8s_health:
    fail_on: never
  register: k8s_result

- name: The record of it
  ansible.builtin.set_fact:
    k8s_record: "{{ k8s_result | dsr.ops.check_record('kubernetes', inventory_hostname, 'morning') }}"

- name: A part that is not configured is skipped, never ok
  ansible.builtin.set_fact:
    backup_record: >-
      {{ none | dsr.ops.check_record('backup', inventory_hostname, 'morning',
                                     skipped='not configured (set dsr_backup_dir or dsr_s3_bucket)') }}

- name: The newest verified backup in S3, critical when older than a day
  ansible.builtin.set_fact:
    backup_record: >-
      {{ s3_listing | dsr.ops.check_record('backup', inventory_hostname, 'morning', kind='s3_backup_list', max_age_seconds=86400) }}
'''

RETURN = r'''
_value:
  description: The check record.
  type: dict
  contains:
    time:
      description: When the check ran, RFC 3339 UTC.
      type: str
      sample: "2026-12-04T08:00:05+00:00"
    environment:
      description: The environment.
      type: str
      sample: production
    run:
      description: The run.
      type: str
      sample: morning
    check:
      description: The check.
      type: str
      sample: kubernetes
    status:
      description: V(ok), V(warning), V(critical), V(unknown) or V(skipped).
      type: str
      sample: critical
    summary:
      description: One line, the module's own summary (safe to show).
      type: str
      sample: "critical: payment-service=critical, ingress=critical"
    figures:
      description: Figure name to a number, or to a list of C(labels) and C(value) samples.
      type: dict
      sample: {workloads_total: 9, workloads_down: 1, workloads_unhealthy: 1}
    job_id:
      description: The AWX job id, or null.
      type: str
      sample: "4711"
    affected:
      description: The services or objects affected (workloads, certificate targets, ...).
      type: list
      elements: str
      sample: [payment-service]
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dsr.ops.plugins.module_utils._ops import extract
from ansible_collections.dsr.ops.plugins.module_utils._ops.records import RecordError

_FROM_ENVIRONMENT = object()


def _plain(value):
    """Templated values as plain Python data: ansible-core 2.19 hands lazy containers and tagged scalars to filters."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _job_id(job_id):
    if job_id is _FROM_ENVIRONMENT:
        return extract.job_id_from_environment()
    return None if job_id in (None, '') else str(job_id)


def check_record(result, check, environment, run='adhoc', kind=None, time=None, job_id=_FROM_ENVIRONMENT, skipped=None, **options):
    """The check record of one registered result."""
    try:
        return extract.build_record(_plain(result), _plain(check), _plain(environment), _plain(run), kind=_plain(kind), time=_plain(time),
                                    job_id=_job_id(_plain(job_id)), skipped=_plain(skipped), **_plain(options))
    except (RecordError, extract.ExtractError) as exc:
        raise AnsibleFilterError('dsr.ops.check_record(%r): %s' % (str(check)[:64], exc)) from None


def check_records(results, checks, environment, run='adhoc', kinds=None, reasons=None, job_id=_FROM_ENVIRONMENT, **options):
    """The records of several checks at once: ``results`` maps each check to its registered result (or null)."""
    if not isinstance(results, Mapping) and results is not None:
        raise AnsibleFilterError('dsr.ops.check_records: give a dictionary of check name to registered result, got %s' % type(results).__name__)
    if isinstance(checks, str) or not isinstance(checks, (list, tuple)):
        raise AnsibleFilterError('dsr.ops.check_records: checks must be a list of check names')
    try:
        return extract.build_records(_plain(results), _plain(checks), _plain(environment), _plain(run), kinds=_plain(kinds),
                                     reasons=_plain(reasons), job_id=_job_id(_plain(job_id)), **_plain(options))
    except (RecordError, extract.ExtractError) as exc:
        raise AnsibleFilterError('dsr.ops.check_records: %s' % exc) from None


class FilterModule:
    """dsr.ops check records from registered results."""

    def filters(self):
        return {'check_record': check_record, 'check_records': check_records}
