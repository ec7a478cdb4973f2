# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the runbook's five Grafana dashboards (System Monitoring -> Grafana Dashboards) as JSON.

Built with Grafana's own Python SDK, grafana-foundation-sdk (types and builders generated
from Grafana's dashboard schema; pinned in tests/requirements.txt), into
roles/monitoring/files/grafana/*.json:

    .venv/bin/python tools/grafana_dashboards.py          # write the files
    .venv/bin/python tools/grafana_dashboards.py --check  # exit 1 if a committed file differs

Every panel reads the data source of the ``datasource`` template variable (no hard-coded
uid); the dsr_* metrics are the ones dsr.ops.ops_metrics writes, the others the runbook's key
metrics as the monitoring role's alert rules and dsr.ops.metrics_check query them.
tests/functional/test_grafana_dashboards.py checks that the committed JSON equals this
output, that it loads back into the SDK's models, and that every query parses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

OUT = Path(__file__).resolve().parents[1] / 'roles' / 'monitoring' / 'files' / 'grafana'
DATASOURCE = dm.DataSourceRef(type_val='prometheus', uid='${datasource}')
ENV = 'environment=~"$environment"'
RATE = '$__rate_interval'
DISKS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|devtmpfs"'
DAY = 86400

STATUS_MAPPINGS = [dm.ValueMap(options={
    '0': dm.ValueMappingResult(text='ok', color='green', index=0),
    '1': dm.ValueMappingResult(text='warning', color='yellow', index=1),
    '2': dm.ValueMappingResult(text='critical', color='red', index=2),
    '3': dm.ValueMappingResult(text='unknown', color='purple', index=3),
})]


def steps(*pairs):
    """Absolute thresholds: (None, base colour), then (value, colour) from that value up."""
    return gd.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=value, color=color) for value, color in pairs])


def query(expr, legend='', ref='A', instant=False):
    target = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        target = target.legend_format(legend)
    return target.instant() if instant else target.range()


def _common(panel, title, description, width, height, unit):
    panel = panel.title(title).description(description).datasource(DATASOURCE).span(width).height(height)
    return panel.unit(unit) if unit else panel


def ts(title, description, targets, unit='', width=12, height=8, thresholds=None):
    panel = _common(timeseries.Panel(), title, description, width, height, unit)
    for target in targets:
        panel = panel.with_target(target)
    return panel.thresholds(thresholds) if thresholds else panel


def single(title, description, target, unit='', width=6, height=5, thresholds=None, mappings=None):
    panel = _common(stat.Panel(), title, description, width, height, unit).with_target(target)
    if thresholds:
        panel = panel.thresholds(thresholds)
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def status_table(title, description, expr, width=24, height=8):
    panel = _common(table.Panel(), title, description, width, height, '')
    return panel.with_target(query(expr, instant=True).format(pm.PromQueryFormat.TABLE)).mappings(STATUS_MAPPINGS).thresholds(
        steps((None, 'green'), (1, 'yellow'), (2, 'red'), (3, 'purple')))


def variable_datasource():
    return gd.DatasourceVariable('datasource').label('Data source').type('prometheus')


def variable(name, label, expr):
    return (gd.QueryVariable(name).label(label).query(expr).datasource(DATASOURCE).multi(True).include_all(True)
            .all_value('.*').refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC))


ENVIRONMENT = ('environment', 'Environment', 'label_values(dsr_check_last_run_timestamp_seconds, environment)')
JOB = ('job', 'Service (job)', 'label_values(http_requests_total, job)')
INSTANCE = ('instance', 'Node', 'label_values(node_cpu_seconds_total, instance)')
PG_INSTANCE = ('pg_instance', 'PostgreSQL server', 'label_values(pg_settings_max_connections, instance)')


def board(uid, title, description, variables, rows):
    builder = (gd.Dashboard(title).uid(uid).description(description).tags(['dsr', 'dsr.ops']).refresh('1m').time('now-24h', 'now')
               .timezone('browser').editable().tooltip(dm.DashboardCursorSync.CROSSHAIR).with_variable(variable_datasource()))
    for spec in variables:
        builder = builder.with_variable(variable(*spec))
    for row_title, panels in rows:
        builder = builder.with_row(gd.Row(row_title))
        for panel in panels:
            builder = builder.with_panel(panel)
    return builder.build()


def p95(selector):
    return 'histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket{%s}[%s])))' % (selector, RATE)


def error_percent(selector):
    # an application that never failed has no 5xx series at all: "or ... * 0" makes that 0 %
    sel = selector + ',' if selector else ''
    return ('100 * (sum by (job) (rate(http_requests_total{%sstatus=~"5.."}[%s])) or sum by (job) (rate(http_requests_total{%s}[%s])) * 0)'
            ' / sum by (job) (rate(http_requests_total{%s}[%s]))' % (sel, RATE, selector, RATE, selector, RATE))


def overview():
    return board('dsr-overview', 'DSR / System Overview', 'High-level health of the DSR system: the daily checks and the key metrics.',
                 [ENVIRONMENT], [
                     ('Daily checks', [
                         single('Checks not ok', 'Checks whose last run was warning, critical or unknown.',
                                query('count(dsr_check_status{%s} > 0) or vector(0)' % ENV, instant=True),
                                thresholds=steps((None, 'green'), (1, 'red'))),
                         single('Checks critical', 'Checks whose last run was critical.',
                                query('count(dsr_check_status{%s} == 2) or vector(0)' % ENV, instant=True),
                                thresholds=steps((None, 'green'), (1, 'red'))),
                         single('Checks skipped', 'Checks that are not configured (skipped on their last run).',
                                query('count(dsr_check_skipped{%s}) or vector(0)' % ENV, instant=True),
                                thresholds=steps((None, 'green'), (1, 'yellow'))),
                         single('Oldest check run', 'Time since the check that ran longest ago last ran (alert after 26 h).',
                                query('max(time() - dsr_check_last_run_timestamp_seconds{%s})' % ENV, instant=True), unit='s',
                                thresholds=steps((None, 'green'), (26 * 3600, 'red'))),
                         status_table('Status of every check', 'The last status per environment and check (0 ok, 1 warning, 2 critical, '
                                      '3 unknown).', 'max by (environment, check) (dsr_check_status{%s})' % ENV),
                     ]),
                     ('Key metrics', [
                         ts('Response time p95', 'The 95th percentile response time per service (warning 2 s, critical 5 s).',
                            [query(p95(''), '{{job}}')], unit='s', width=8, thresholds=steps((None, 'green'), (2, 'yellow'), (5, 'red'))),
                         ts('Error rate', 'Share of requests answered 5xx per service (warning 1 %, critical 5 %).',
                            [query(error_percent(''), '{{job}}')], unit='percent', width=8,
                            thresholds=steps((None, 'green'), (1, 'yellow'), (5, 'red'))),
                         single('Scrape targets down', 'Targets Prometheus could not scrape: every other figure is blind to them.',
                                query('count(up == 0) or vector(0)', instant=True), width=8, thresholds=steps((None, 'green'), (1, 'red'))),
                         single('Last successful backup', 'Age of the last successful backup (alert after 26 h).',
                                query('time() - max by (environment) (dsr_backup_last_success_timestamp_seconds{%s})' % ENV, '{{environment}}',
                                      instant=True), unit='s', width=8, thresholds=steps((None, 'green'), (26 * 3600, 'red'))),
                         single('Last DR test', 'Age of the last disaster-recovery test (alert after 35 days).',
                                query('time() - max by (environment) (dsr_dr_test_last_timestamp_seconds{%s})' % ENV, '{{environment}}',
                                      instant=True), unit='s', width=8, thresholds=steps((None, 'green'), (35 * DAY, 'yellow'))),
                         single('Soonest certificate expiry', 'Time left on the certificate that expires first (warning 14 days, critical 3).',
                                query('min by (environment) (dsr_certificate_time_left_seconds{%s})' % ENV, '{{environment}}', instant=True),
                                unit='s', width=8, thresholds=steps((None, 'red'), (3 * DAY, 'yellow'), (14 * DAY, 'green'))),
                     ]),
                 ])


def services():
    job = 'job=~"$job"'
    return board('dsr-services', 'DSR / Services', 'Performance and health of each DSR service.', [JOB, ENVIRONMENT], [
        ('Traffic and latency', [
            ts('Requests per second', 'HTTP requests per second per service.',
               [query('sum by (job) (rate(http_requests_total{%s}[%s]))' % (job, RATE), '{{job}}')], unit='reqps'),
            ts('Response time p95', 'The 95th percentile response time per service (warning 2 s, critical 5 s).',
               [query(p95(job), '{{job}}')], unit='s', thresholds=steps((None, 'green'), (2, 'yellow'), (5, 'red'))),
            ts('Error rate', 'Share of requests answered 5xx per service (warning 1 %, critical 5 %).',
               [query(error_percent(job), '{{job}}')], unit='percent', thresholds=steps((None, 'green'), (1, 'yellow'), (5, 'red'))),
            ts('Responses by status class', 'Requests per second by status code.',
               [query('sum by (job, status) (rate(http_requests_total{%s}[%s]))' % (job, RATE), '{{job}} {{status}}')], unit='reqps'),
        ]),
        ('Health', [
            ts('Targets up', '1 when Prometheus scraped the target, 0 when it could not.', [query('up{%s}' % job, '{{job}} {{instance}}')],
               width=8),
            ts('Unhealthy workloads', 'Kubernetes workloads the kubernetes check found unhealthy.',
               [query('dsr_workloads_unhealthy{%s}' % ENV, '{{environment}}')], width=8),
            ts('Errors in the logs', 'Errors the errors check counted in its window.',
               [query('dsr_errors{%s}' % ENV, '{{environment}}')], width=8),
            ts('Check: p95 response time', 'The p95 response time the metrics check measured.',
               [query('dsr_p95_latency_seconds{%s}' % ENV, '{{environment}}')], unit='s'),
            ts('Check: 5xx ratio', 'The share of 5xx responses the metrics check measured.',
               [query('dsr_http_5xx_ratio{%s}' % ENV, '{{environment}}')], unit='percentunit'),
        ]),
    ])


def infrastructure():
    inst = 'instance=~"$instance"'
    return board('dsr-infrastructure', 'DSR / Infrastructure', 'Kubernetes cluster, node and certificate health.', [INSTANCE, ENVIRONMENT], [
        ('Nodes', [
            ts('CPU usage', 'Busy CPU per node (warning 80 %, critical 90 %).',
               [query('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle",%s}[%s])))' % (inst, RATE), '{{instance}}')],
               unit='percent', width=8, thresholds=steps((None, 'green'), (80, 'yellow'), (90, 'red'))),
            ts('Memory usage', 'Memory in use per node (warning 80 %, critical 90 %).',
               [query('100 * (node_memory_MemTotal_bytes{%s} - node_memory_MemAvailable_bytes{%s}) / node_memory_MemTotal_bytes{%s}'
                      % (inst, inst, inst), '{{instance}}')],
               unit='percent', width=8, thresholds=steps((None, 'green'), (80, 'yellow'), (90, 'red'))),
            ts('Disk usage', 'Space used per filesystem, as non-root users see it (warning 80 %, critical 90 %).',
               [query('100 * (node_filesystem_size_bytes{%s,%s} - node_filesystem_avail_bytes{%s,%s}) / node_filesystem_size_bytes{%s,%s}'
                      % (DISKS, inst, DISKS, inst, DISKS, inst), '{{instance}} {{mountpoint}}')],
               unit='percent', width=8, thresholds=steps((None, 'green'), (80, 'yellow'), (90, 'red'))),
            ts('Textfile collector errors', '1 when node_exporter could not read a textfile-collector file (the dsr_* metrics).',
               [query('node_textfile_scrape_error{%s}' % inst, '{{instance}}')], width=8),
            ts('Scrape targets', 'Prometheus scrape targets the metrics check counted.',
               [query('dsr_scrape_targets{%s}' % ENV, '{{environment}}')], width=8),
        ]),
        ('Kubernetes and certificates', [
            status_table('Kubernetes and certificate checks', 'The last status of the kubernetes and certificates checks.',
                         'max by (environment, check) (dsr_check_status{%s,check=~"kubernetes|certificates"})' % ENV, width=12),
            ts('Unhealthy workloads', 'Kubernetes workloads the kubernetes check found unhealthy, of those it checked.',
               [query('dsr_workloads_unhealthy{%s}' % ENV, '{{environment}} unhealthy'),
                query('dsr_workloads_down{%s}' % ENV, '{{environment}} down', ref='B'),
                query('dsr_workloads{%s}' % ENV, '{{environment}} checked', ref='C')], width=12),
            ts('Certificate time left', 'Time until each endpoint\'s certificate expires (warning 14 days, critical 3).',
               [query('dsr_certificate_time_left_seconds{%s}' % ENV, '{{environment}} {{endpoint}}')], unit='s', width=24,
               thresholds=steps((None, 'red'), (3 * DAY, 'yellow'), (14 * DAY, 'green'))),
        ]),
    ])


def database():
    pg = 'instance=~"$pg_instance"'
    return board('dsr-database', 'DSR / Database', 'PostgreSQL performance and health, backups and disaster-recovery tests.',
                 [ENVIRONMENT, PG_INSTANCE], [
                     ('PostgreSQL', [
                         ts('Connections (percent of max_connections)', 'Backends per server (warning 80 %, critical 95 %).',
                            [query('100 * sum by (instance) (pg_stat_database_numbackends{%s}) / max by (instance) '
                                   '(pg_settings_max_connections{%s})' % (pg, pg), '{{instance}}')],
                            unit='percent', width=8, thresholds=steps((None, 'green'), (80, 'yellow'), (95, 'red'))),
                         ts('Connections (database check)', 'Client connections the database check counted.',
                            [query('dsr_connections{%s}' % ENV, '{{environment}}')], width=8),
                         ts('Slow queries', 'Slow queries the slow_queries check found.',
                            [query('dsr_slow_queries{%s}' % ENV, '{{environment}}')], width=8),
                     ]),
                     ('Capacity', [
                         ts('Database size', 'Size of the DSR database.', [query('dsr_database_size_bytes{%s}' % ENV, '{{environment}}')],
                            unit='bytes', width=8),
                         ts('Growth per day', 'Database growth per day, from the check history.',
                            [query('dsr_database_growth_bytes_per_day{%s}' % ENV, '{{environment}}')], unit='bytes', width=8),
                         single('Disk full in', 'Time until the database disk reaches its threshold at the current growth (alert under 14 '
                                'days; no value when not growing).',
                                query('min by (environment) (dsr_database_disk_full_in_seconds{%s})' % ENV, '{{environment}}', instant=True),
                                unit='s', width=4, thresholds=steps((None, 'red'), (14 * DAY, 'green'))),
                         single('Disk used', 'Share of the database disk in use.',
                                query('max by (environment) (dsr_disk_used_ratio{%s})' % ENV, '{{environment}}', instant=True),
                                unit='percentunit', width=4, thresholds=steps((None, 'green'), (0.8, 'yellow'), (0.9, 'red'))),
                     ]),
                     ('Backups and DR tests', [
                         ts('Backup age', 'Time since the last successful backup (alert after 26 h).',
                            [query('time() - dsr_backup_last_success_timestamp_seconds{%s}' % ENV, '{{environment}}')], unit='s', width=8,
                            thresholds=steps((None, 'green'), (26 * 3600, 'red'))),
                         ts('Backup size', 'Size of the last successful backup.',
                            [query('dsr_backup_size_bytes{%s}' % ENV, '{{environment}}')], unit='bytes', width=8),
                         ts('Backup duration', 'Duration of the last successful backup.',
                            [query('dsr_backup_duration_seconds{%s}' % ENV, '{{environment}}')], unit='s', width=8),
                         ts('DR test age', 'Time since the last disaster-recovery test (alert after 35 days).',
                            [query('time() - dsr_dr_test_last_timestamp_seconds{%s}' % ENV, '{{environment}}')], unit='s', width=8,
                            thresholds=steps((None, 'green'), (35 * DAY, 'yellow'))),
                         ts('DR test RPO and RTO', 'Recovery point (data lost) and recovery time of the last DR test.',
                            [query('dsr_dr_test_rpo_seconds{%s}' % ENV, 'RPO {{environment}}'),
                             query('dsr_dr_test_rto_seconds{%s}' % ENV, 'RTO {{environment}}', ref='B')], unit='s', width=16),
                     ]),
                 ])


def user_activity():
    job = 'job=~"$job"'
    return board('dsr-user-activity', 'DSR / User Activity', 'Transactions and sign-in activity, from the services\' HTTP metrics.'
                 ' The HTTP metrics carry no user or path label: refused sign-ins show as 401 and 403 answers.', [JOB, ENVIRONMENT], [
                     ('Transactions', [
                         ts('Transactions per second', 'Requests answered 2xx or 3xx per service.',
                            [query('sum by (job) (rate(http_requests_total{%s,status=~"2..|3.."}[%s]))' % (job, RATE), '{{job}}')],
                            unit='reqps'),
                         single('Transactions in the range', 'Requests answered 2xx or 3xx over the dashboard\'s time range.',
                                query('sum(increase(http_requests_total{%s,status=~"2..|3.."}[$__range]))' % job, instant=True),
                                unit='short', width=12),
                     ]),
                     ('Sign-ins and refusals', [
                         ts('Refused requests (401, 403)', 'Requests refused for missing or wrong credentials (401) or rights (403): failed '
                            'sign-ins among them.',
                            [query('sum by (job, status) (rate(http_requests_total{%s,status=~"401|403"}[%s]))' % (job, RATE),
                                   '{{job}} {{status}}')], unit='reqps'),
                         ts('Rate-limited requests (429)', 'Requests refused by rate limiting.',
                            [query('sum by (job) (rate(http_requests_total{%s,status="429"}[%s]))' % (job, RATE), '{{job}}')],
                            unit='reqps'),
                         status_table('Security check', 'The last status of the security check (failed logins per IP, request rates).',
                                      'max by (environment, check) (dsr_check_status{%s,check="security"})' % ENV),
                     ]),
                 ])


DASHBOARDS = {'dsr-overview.json': overview, 'dsr-services.json': services, 'dsr-infrastructure.json': infrastructure,
              'dsr-database.json': database, 'dsr-user-activity.json': user_activity}


def render(build):
    """The dashboard as committed: indented JSON, keys sorted, a final newline.

    The built dashboard goes once more through the SDK's models with the panel and query plugins
    registered, as Grafana's schema decodes it (that fills the panels' default field config), so
    the committed file is the models' own form and the test's round trip reproduces it exactly.
    """
    plugins.register_default_plugins()
    built = json.loads(json.dumps(build(), cls=JSONEncoder))
    decoded = json.loads(json.dumps(dm.Dashboard.from_json(built), cls=JSONEncoder))
    return json.dumps(decoded, indent=2, sort_keys=True) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--check', action='store_true', help='compare with the committed files instead of writing them')
    parser.add_argument('--out', type=Path, default=OUT)
    args = parser.parse_args(argv)
    stale = []
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        text = render(build)
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding='utf-8') != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding='utf-8')
    if stale:
        print('out of date (run tools/grafana_dashboards.py): ' + ', '.join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
