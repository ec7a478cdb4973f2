#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ops_metrics
short_description: Write DSR check records as a node_exporter textfile-collector file for Prometheus
version_added: 0.3.0
description:
  - Writes check records (the daily_ops role's results, one per check per run) to a C(*.prom) file in the Prometheus
    text exposition format, for node_exporter's textfile collector (C(--collector.textfile.directory)) to serve.
  - "Per environment and check: C(<prefix>_check_status) (V(0) ok, V(1) warning, V(2) critical, V(3) unknown), or for a
    V(skipped) check C(<prefix>_check_skipped) V(1) instead of a status; C(<prefix>_check_last_run_timestamp_seconds)
    from the record's C(time); and every figure as a gauge C(<prefix>_<figure>) with the labels C(environment), C(check)
    and the figure's own labels. See the collection's docs/metrics.md for the list."
  - Figures the daily_ops role names in a unit Prometheus does not use are converted so that the file passes
    C(promtool check metrics) - C(certificate_days_left) becomes C(<prefix>_certificate_time_left_seconds) and
    C(database_disk_full_days) becomes C(<prefix>_database_disk_full_in_seconds) (both times 86400), C(error_count) becomes
    C(<prefix>_errors). Other figure names must already be lint-clean (snake_case, base units, no C(_total) or C(_count)
    suffix); a name that is not is refused with what to write instead.
  - When several records share an environment and a check, the newest C(time) wins (on a tie, the later one in the list).
  - The file is written atomically (a temporary file in the same directory that does not end in C(.prom), fsynced, mode
    C(0644), renamed over the old one), so node_exporter never reads half a file. It is rewritten only when its content
    changes. A failure leaves the old file as it was; a temporary file left by a killed run is removed by the next run.
  - Records are validated as untrusted input, by the same rules as M(dsr.ops.ops_history); every bad record is reported,
    each problem naming the record index and the field (for example C(records[3].figures.backup_size_bytes must be a finite
    number, got nan)).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
  - dsr.ops.attributes.IDEMPOTENT
attributes:
  check_mode:
    support: full
    details:
      - Renders the records and compares them with the file; reports whether it would change, and writes nothing.
  diff_mode:
    support: full
    details:
      - Shows the text of the file before and after.
  idempotent:
    support: full
options:
  path:
    description:
      - The metrics file, such as V(/var/lib/node_exporter/textfile_collector/dsr.prom). Must end in C(.prom); its
        directory must exist.
      - With C({environment}) in the file name, such as V(/var/lib/node_exporter/textfile_collector/dsr_{environment}.prom),
        one file per environment of the records, each named with the environment's name (characters other than C(A-Z),
        C(a-z), C(0-9) and C(_) become C(_)) and each written as described above. A run over some environments then leaves
        the other environments' files alone, and no series is in two files (node_exporter refuses a scrape with duplicates).
    type: path
    required: true
  records:
    description:
      - The check records, each a dict with C(time) (RFC 3339 with an offset), C(environment), C(check)
        (C([a-z][a-z0-9_]{0,62})), C(status) (V(ok), V(warning), V(critical), V(unknown) or V(skipped)), and optionally
        C(run) (V(morning), V(midday), V(evening), V(adhoc)), C(summary), C(job_id), C(affected) and C(figures).
      - "C(figures) maps a figure name to a number, or to a list of C({labels, value}) for per-object figures such as
        C(certificate_days_left: [{labels: {endpoint: registry}, value: 88}]). Figure names are C([a-z][a-z0-9_]{0,62}).
        Numbers must be finite (NaN and infinities are refused); label names must be Prometheus label names other than
        C(environment) and C(check)."
      - Other fields are refused. An empty list writes a file without samples.
    type: list
    elements: dict
    required: true
  prefix:
    description:
      - The first part of every metric name, such as the default V(dsr) in C(dsr_check_status). The alert rules and
        dashboards of the monitoring role expect V(dsr).
    type: str
    default: dsr
  labels:
    description:
      - "Constant labels added to every sample, such as V({site: manila}). Names must be Prometheus label names other than
        C(environment) and C(check) (and no figure's label); values must be strings."
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Publish the morning check's results for Prometheus
  dsr.ops.ops_metrics:
    path: /var/lib/node_exporter/textfile_collector/dsr.prom
    records: "{{ daily_ops_result.records }}"

- name: Two records written by hand, with a constant label
  dsr.ops.ops_metrics:
    path: /var/lib/node_exporter/textfile_collector/dsr.prom
    labels:
      site: manila
    records:
      - time: "2026-12-04T08:00:05+00:00"
        environment: production
        run: morning
        check: backup
        status: ok
        summary: "ok: last backup 6 h ago"
        figures:
          backup_last_success_timestamp_seconds: 1764813600
          backup_size_bytes: 1234567890
          backup_duration_seconds: 842.5
      - time: "2026-12-04T08:00:07+00:00"
        environment: production
        check: certificates
        status: warning
        figures:
          certificate_days_left:
            - {labels: {endpoint: registry}, value: 12}
            - {labels: {endpoint: api}, value: 88}
  register: metrics
'''

RETURN = r'''
path:
  description: The metrics file (O(path)).
  returned: always
  type: str
  sample: /var/lib/node_exporter/textfile_collector/dsr.prom
changed:
  description: Whether the file was (in check mode, would be) written or its mode set to C(0644).
  returned: always
  type: bool
  sample: true
metrics:
  description: The number of samples in the file.
  returned: success
  type: int
  sample: 12
families:
  description: The names of the metric families in the file, sorted.
  returned: success
  type: list
  elements: str
  sample: [dsr_backup_duration_seconds, dsr_backup_last_success_timestamp_seconds, dsr_backup_size_bytes,
           dsr_certificate_time_left_seconds, dsr_check_last_run_timestamp_seconds, dsr_check_status]
summary:
  description: One line saying what was written (or would be, or that nothing changed), how many samples, checks and environments.
  returned: success
  type: str
  sample: "wrote /var/lib/node_exporter/textfile_collector/dsr.prom: 12 samples in 6 families for 2 checks in 1 environments (1 warning)"
files:
  description: With C({environment}) in O(path), each file - its C(path), C(changed), C(metrics) and C(summary).
  returned: success, with C({environment}) in O(path)
  type: list
  elements: dict
  sample: [{path: /var/lib/node_exporter/textfile_collector/dsr_production.prom, changed: true, metrics: 12,
            summary: "wrote /var/lib/node_exporter/textfile_collector/dsr_production.prom: 12 samples in 6 families for 2 checks in 1 environments"}]
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule
from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import TextfileError
from ansible_collections.dsr.ops.plugins.module_utils._textfile.metrics import PLACEHOLDER, run, split_problem
from ansible_collections.dsr.ops.plugins.module_utils._textfile.records import validate_labels, validate_prefix
from ansible_collections.dsr.ops.plugins.module_utils._textfile.writer import path_problem


def argument_spec():
    """The module's options."""
    return {
        'path': dict(type='path', required=True),
        'records': dict(type='list', elements='dict', required=True),
        'prefix': dict(type='str', default='dsr'),
        'labels': dict(type='dict', default={}),
    }


def validate(params):
    """Messages for option values that cannot work, naming the option and the fix."""
    problems = [problem for problem in (path_problem(params['path']), validate_prefix(params['prefix'])) if problem]
    problems.extend(validate_labels(params['labels']))
    if PLACEHOLDER in params['path']:
        problem = split_problem(params['path'], params['records'])
        if problem:
            problems.append(problem)
    return problems


def main():
    module = DsrModule(argument_spec(), validate=validate)
    result = module.run(lambda: run(module.params, check_mode=module.check_mode, diff=module._diff),
                        (TextfileError,), lambda exc: 'ops_metrics: %s' % exc)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
