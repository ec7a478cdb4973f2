#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: metrics_check
short_description: Check Prometheus metrics against thresholds, the DSR performance metrics review
version_added: 0.2.0
description:
  - Runs instant queries against the Prometheus HTTP API and evaluates every series each query returns,
    with its labels, value and status (V(ok), V(warning), V(critical), V(unknown)); a check's status is the
    worst of its series, and the overall RV(status) the worst of the checks.
  - Without O(checks), runs the runbook's Key Metrics table (System Monitoring) over the exporters a DSR site
    runs; see O(checks) for each built-in check's PromQL and thresholds.
  - What an empty result means is said per check with O(checks[].on_empty), and what a NaN value means with
    O(checks[].on_nan); +Inf and -Inf are compared like any number.
  - An unreachable Prometheus, refused credentials or a refused query make the checks concerned V(unknown)
    with the reason, never V(ok). Warnings that Prometheus attaches to an answer are returned and shown.
  - The morning Performance Metrics Review (Daily Operations) as one read-only task.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.prometheus
  - dsr.ops.attributes
  - dsr.ops.attributes.INFO_MODULE
options:
  checks:
    description:
      - The checks to run. When unset, every built-in check below, in this order.
      - "An entry whose O(checks[].name) is a built-in check and that has no O(checks[].query) starts from the
        built-in definition: set only what differs, such as C({name: cpu_usage, warning: 70})."
      - "Built-in checks (runbook Key Metrics table); W stands for O(rate_window), and the PromQL is quoted as plain text:"
      - "V(response_time_p95), seconds, warning above 2, critical above 5, on_empty V(unknown), on_nan V(ok) (no request
        in the window): histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[W])))"
      - "V(error_rate), percent of requests answered 5xx, warning above 1, critical above 5, on_empty V(unknown),
        on_nan V(ok): 100 * (sum by (job) (rate(http_requests_total{status=~'5..'}[W])) or sum by (job)
        (rate(http_requests_total[W])) * 0) / sum by (job) (rate(http_requests_total[W])) (with double quotes around 5..).
        An application that never answered 5xx exports no 5xx series; the or ... * 0 part makes that 0 %, so an empty
        result means no http_requests_total at all."
      - "V(cpu_usage), percent busy, warning above 80, critical above 90:
        100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode='idle'}[W])))"
      - "V(memory_usage), percent in use, warning above 80, critical above 90:
        100 * (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes"
      - "V(disk_usage), percent used per filesystem, warning above 80, critical above 90:
        100 * (node_filesystem_size_bytes - node_filesystem_avail_bytes) / node_filesystem_size_bytes, without the
        tmpfs, ramfs, squashfs, overlay, nsfs and devtmpfs file system types."
      - "V(db_connections), percent of max_connections (as M(dsr.ops.pg_health) reads the table's 80 and 95), warning
        above 80, critical above 95, from postgres_exporter:
        100 * sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections)"
      - "V(scrape_targets), the C(up) series, critical below 1 (a target that failed its last scrape); an empty result
        means Prometheus scrapes nothing, so on_empty V(unknown)."
      - The built-in checks other than V(response_time_p95) and V(error_rate) have on_empty and on_nan V(unknown).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the check in RV(checks); a built-in name takes the built-in definition's defaults.
        type: str
        required: true
      query:
        description:
          - PromQL instant query. Must return an instant vector or a scalar.
          - Required unless O(checks[].name) is a built-in check.
        type: str
      comparison:
        description:
          - How a value crosses a threshold. V(gt) and V(ge) for figures where higher is worse,
            V(lt) and V(le) for figures where lower is worse.
          - Defaults to the built-in check's, else V(gt).
        type: str
        choices: [gt, ge, lt, le]
      warning:
        description: Warning threshold. Unset means none (a built-in check keeps its own).
        type: float
      critical:
        description: Critical threshold. Unset means none (a built-in check keeps its own).
        type: float
      on_empty:
        description:
          - The status when the query returns no series at all.
          - An absent series can mean zero (no 5xx answered, so no 5xx series exported) or blindness (an absent
            C(up) series means nothing is scraped). Only the check's author knows which, so it is explicit.
          - Defaults to the built-in check's, else V(unknown).
        type: str
        choices: [ok, warning, critical, unknown]
      on_nan:
        description:
          - The status of a series whose value is NaN, for example a ratio over no traffic (C(0/0)).
          - Defaults to the built-in check's, else V(unknown).
        type: str
        choices: [ok, warning, critical, unknown]
      unit:
        description: Unit of the values, for messages only.
        type: str
      description:
        description: What the check means, for the reader of the playbook; not used otherwise.
        type: str
  rate_window:
    description:
      - The C(rate()) window of the built-in checks, a Prometheus duration.
      - Must cover several scrape intervals; right after Prometheus (or a target) starts, a window longer
        than the data it holds underestimates rates.
    type: str
    default: 5m
  max_series:
    description:
      - Series returned per check, worst first. Every series is evaluated whatever this is; RV(checks)
        reports C(series_total).
    type: int
    default: 50
  fail_on:
    description:
      - When the task fails. V(critical) fails on an overall V(critical) or V(unknown); V(warning) on
        V(warning) too; V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
notes:
  - Read-only; RV(ignore:changed) is always false. Queries are sent with C(POST), so long PromQL fits.
  - Instant queries evaluate now; alert rules add a C(for) duration (see the C(dsr.ops.monitoring) role's rules).
seealso:
  - module: dsr.ops.cert_expiry
  - module: dsr.ops.pg_health
  - name: Prometheus HTTP API
    description: The instant query endpoint this module calls.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
'''

EXAMPLES = r'''
- name: Morning performance metrics review, the runbook's key metrics
  dsr.ops.metrics_check:
    url: https://prometheus.dsr.example:9090
    ca_cert: /etc/pki/dsr/ca.pem
  register: metrics

- name: The same with a token from an AWX credential (PROMETHEUS_URL, PROMETHEUS_BEARER_TOKEN in the environment)
  dsr.ops.metrics_check:
    checks:
      - name: cpu_usage
        warning: 70
      - name: error_rate
      - name: payment_queue_depth
        query: max by (queue) (dsr_payment_queue_depth)
        warning: 1000
        critical: 5000
        on_empty: unknown
      - name: disbursement_5xx_per_second
        query: sum(rate(http_requests_total{job="disbursement", status=~"5.."}[5m]))
        warning: 0.1
        critical: 1
        on_empty: ok  # no 5xx series exported: none happened
    fail_on: warning

- name: Show the series that are not ok
  ansible.builtin.debug:
    msg: "{{ item.value.series | rejectattr('status', 'eq', 'ok') | list }}"
  loop: "{{ metrics.checks | dict2items }}"
  loop_control:
    label: "{{ item.key }}"
'''

RETURN = r'''
status:
  description: Overall status, the worst of the checks.
  returned: always
  type: str
  sample: warning
summary:
  description: One line naming the overall status and every check that is not V(ok).
  returned: always
  type: str
  sample: "warning: disk_usage=warning"
failed_checks:
  description: Names of the checks whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: [disk_usage]
reachable:
  description: Whether Prometheus answered (false after a connection or authentication failure).
  returned: always
  type: bool
  sample: true
prometheus_url:
  description: The Prometheus URL used, from O(url) or E(PROMETHEUS_URL).
  returned: always
  type: str
  sample: https://prometheus.dsr.example:9090
api_warnings:
  description: Warnings Prometheus attached to its answers, each prefixed with the check's name. Also shown as task warnings.
  returned: always
  type: list
  elements: str
  sample: []
checks:
  description: One entry per check, by name.
  returned: always
  type: dict
  contains:
    status:
      description: The worst status of the check's series, or O(checks[].on_empty) for no series, or V(unknown) when the query failed.
      type: str
      returned: always
      sample: warning
    msg:
      description: Why, in words, with the worst series and the thresholds.
      type: str
      returned: always
      sample: '2 series (1 warning, 1 ok); worst {instance="db-1", mountpoint="/var/lib/postgresql"} = 84.2 percent (warning > 80, critical > 90)'
    query:
      description: The PromQL that was run.
      type: str
      returned: always
      sample: 100 * (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes
    comparison:
      description: The comparison used.
      type: str
      returned: always
      sample: gt
    warning:
      description: The warning threshold, null for none.
      type: float
      returned: always
      sample: 80.0
    critical:
      description: The critical threshold, null for none.
      type: float
      returned: always
      sample: 90.0
    unit:
      description: The unit of the values.
      type: str
      returned: always
      sample: percent
    on_empty:
      description: The status an empty result gets.
      type: str
      returned: always
      sample: unknown
    on_nan:
      description: The status a NaN value gets.
      type: str
      returned: always
      sample: unknown
    empty:
      description: Whether the query returned no series.
      type: bool
      returned: when the query was answered
      sample: false
    result_type:
      description: C(vector) or C(scalar) (anything else is V(unknown)).
      type: str
      returned: when the query was answered
      sample: vector
    value:
      description: The most extreme finite value (highest for V(gt)/V(ge), lowest for V(lt)/V(le)); null when none is finite.
      type: float
      returned: when the query was answered
      sample: 84.2
    series_total:
      description: Series the query returned, all evaluated.
      type: int
      returned: when the query was answered
      sample: 2
    series:
      description:
        - Up to O(max_series) series, worst first, each with C(labels), C(value) (null when NaN or infinite),
          C(raw_value) (as Prometheus sent it, such as C(NaN) or C(+Inf)) and C(status).
      type: list
      elements: dict
      returned: when the query was answered
      sample: [{labels: {instance: db-1, mountpoint: /var/lib/postgresql}, value: 84.2, raw_value: "84.2", status: warning}]
    warnings:
      description: Warnings Prometheus attached to this query's answer.
      type: list
      elements: str
      returned: when the query was answered
      sample: []
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._metrics.entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
