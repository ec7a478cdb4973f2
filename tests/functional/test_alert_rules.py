# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role's Prometheus alert rules, proven with Debian's promtool.

``promtool check rules`` validates the file. ``promtool test rules`` runs unit tests
generated below from a table of scenarios: for every alert, series just above each of
the runbook's Key Metrics thresholds (the alert fires with that severity and the
value in its description) and at or just below them (it does not). promtool must be
installed (scripts/test.sh installs Debian's prometheus package); without it these
tests fail, they do not skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import run_promtool

RULES = Path(__file__).resolve().parents[2] / 'roles' / 'monitoring' / 'files' / 'dsr-alerts.rules.yml'
EVAL = '25m'  # past every rule's for: (15m at most) with a full 5m rate window; series run 40 minutes


def load_rules():
    with RULES.open(encoding='utf-8') as handle:
        groups = yaml.safe_load(handle)['groups']
    return [rule for group in groups for rule in group['rules']]


def annotations(alert, severity, labels, value):
    """Render the rule's annotations for ``labels`` and ``value`` as Prometheus would."""
    rule = next(r for r in load_rules() if r['alert'] == alert and r['labels']['severity'] == severity)

    def render(text):
        text = re.sub(r'\{\{ \$labels\.(\w+) \}\}', lambda m: labels[m.group(1)], text)
        return re.sub(r'\{\{ \$value \| printf "%\.(\d)f" \}\}', lambda m: '%.*f' % (int(m.group(1)), value), text)

    return {key: render(text) for key, text in rule['annotations'].items()}


def series(name, labels, per_minute, start=0):
    inner = ','.join('%s="%s"' % item for item in sorted(labels.items()))
    return {'series': '%s{%s}' % (name, inner), 'values': '%s+%sx40' % (start, per_minute)}


def gauge(name, labels, value):
    inner = ','.join('%s="%s"' % item for item in sorted(labels.items()))
    return {'series': '%s{%s}' % (name, inner), 'values': '%sx40' % value}


# -- scenario builders: (input series, labels of the alert, expected value) ---------

LE = ('0.5', '1', '2', '5', '10', '+Inf')


def latency(per_bucket):
    """Observations per minute in each bucket (not cumulative), job api."""
    out, cumulative = [], 0
    for bound in LE:
        cumulative += per_bucket.get(bound, 0)
        out.append(series('http_request_duration_seconds_bucket', {'job': 'api', 'instance': 'app-1', 'le': bound}, cumulative))
    return out


def requests(ok, errors):
    out = [series('http_requests_total', {'job': 'api', 'instance': 'app-1', 'status': '200'}, ok)]
    if errors is not None:
        out.append(series('http_requests_total', {'job': 'api', 'instance': 'app-1', 'status': '500'}, errors))
    return out


def cpu(busy_percent):
    idle = 60 * (100 - busy_percent) / 100
    return [series('node_cpu_seconds_total', {'instance': 'db-1', 'cpu': str(n), 'mode': mode}, idle if mode == 'idle' else 60 - idle)
            for n in (0, 1) for mode in ('idle', 'user')]


NODE = {'instance': 'db-1', 'job': 'node'}


def memory(total, available):
    return [gauge('node_memory_MemTotal_bytes', NODE, total), gauge('node_memory_MemAvailable_bytes', NODE, available)]


DISK = dict(NODE, device='/dev/vdb', fstype='ext4', mountpoint='/var/lib/postgresql')
TMPFS = dict(NODE, device='tmpfs', fstype='tmpfs', mountpoint='/run')


def disk(size, available):
    # a full tmpfs alongside must never alert: it is not a disk
    return [gauge('node_filesystem_size_bytes', DISK, size), gauge('node_filesystem_avail_bytes', DISK, available),
            gauge('node_filesystem_size_bytes', TMPFS, 100), gauge('node_filesystem_avail_bytes', TMPFS, 0)]


def connections(dsr_db, postgres_db, max_connections=100):
    pg = {'instance': 'db-1', 'job': 'postgres'}
    return [gauge('pg_stat_database_numbackends', dict(pg, datname='dsr_db'), dsr_db),
            gauge('pg_stat_database_numbackends', dict(pg, datname='postgres'), postgres_db),
            gauge('pg_settings_max_connections', pg, max_connections)]


# (id, alert, input series, labels of the alert, value, severities expected to fire)
SCENARIOS = [
    # p95 = 1 + 1 * 0.95 = 1.95 s: all requests between 1 and 2 s
    ('p95 1.95s', 'HighResponseTime', latency({'2': 100}), {'job': 'api'}, 1.95, []),
    # p95 = 2 + 3 * (1 / 6) = 2.5 s: 94 under 2 s, 6 between 2 and 5 s
    ('p95 2.5s', 'HighResponseTime', latency({'1': 94, '5': 6}), {'job': 'api'}, 2.5, ['warning']),
    # p95 = 2 + 3 * 0.95 = 4.85 s
    ('p95 4.85s', 'HighResponseTime', latency({'5': 100}), {'job': 'api'}, 4.85, ['warning']),
    # p95 = 5 + 5 * (1 / 6) = 5.83 s
    ('p95 5.83s', 'HighResponseTime', latency({'1': 94, '10': 6}), {'job': 'api'}, 5 + 5 / 6, ['warning', 'critical']),
    ('no 5xx series', 'HighErrorRate', requests(1000, None), {'job': 'api'}, 0.0, []),
    ('errors 0.9%', 'HighErrorRate', requests(991, 9), {'job': 'api'}, 0.9, []),
    ('errors 1.1%', 'HighErrorRate', requests(989, 11), {'job': 'api'}, 1.1, ['warning']),
    ('errors 4.9%', 'HighErrorRate', requests(951, 49), {'job': 'api'}, 4.9, ['warning']),
    ('errors 5.1%', 'HighErrorRate', requests(949, 51), {'job': 'api'}, 5.1, ['warning', 'critical']),
    ('cpu 79%', 'HighCpuUsage', cpu(79), {'instance': 'db-1'}, 79.0, []),
    ('cpu 81%', 'HighCpuUsage', cpu(81), {'instance': 'db-1'}, 81.0, ['warning']),
    ('cpu 89%', 'HighCpuUsage', cpu(89), {'instance': 'db-1'}, 89.0, ['warning']),
    ('cpu 91%', 'HighCpuUsage', cpu(91), {'instance': 'db-1'}, 91.0, ['warning', 'critical']),
    # gauges: the thresholds themselves are exact, and "above" means strictly above
    ('memory 80%', 'HighMemoryUsage', memory(1000, 200), NODE, 80.0, []),
    ('memory 80.5%', 'HighMemoryUsage', memory(1000, 195), NODE, 80.5, ['warning']),
    ('memory 90%', 'HighMemoryUsage', memory(1000, 100), NODE, 90.0, ['warning']),
    ('memory 90.5%', 'HighMemoryUsage', memory(1000, 95), NODE, 90.5, ['warning', 'critical']),
    ('disk 80%', 'HighDiskUsage', disk(1000, 200), DISK, 80.0, []),
    ('disk 85%', 'HighDiskUsage', disk(1000, 150), DISK, 85.0, ['warning']),
    ('disk 90%', 'HighDiskUsage', disk(1000, 100), DISK, 90.0, ['warning']),
    ('disk 95%', 'HighDiskUsage', disk(1000, 50), DISK, 95.0, ['warning', 'critical']),
    ('connections 80%', 'HighDatabaseConnections', connections(70, 10), {'instance': 'db-1'}, 80.0, []),
    ('connections 81%', 'HighDatabaseConnections', connections(70, 11), {'instance': 'db-1'}, 81.0, ['warning']),
    ('connections 95%', 'HighDatabaseConnections', connections(90, 5), {'instance': 'db-1'}, 95.0, ['warning']),
    ('connections 96% of 200', 'HighDatabaseConnections', connections(190, 2, 200), {'instance': 'db-1'}, 96.0, ['warning', 'critical']),
    ('target up', 'ScrapeTargetDown', [gauge('up', {'job': 'node', 'instance': 'db-1:9100'}, 1)], {'job': 'node', 'instance': 'db-1:9100'}, 1, []),
    ('target down', 'ScrapeTargetDown', [gauge('up', {'job': 'node', 'instance': 'db-1:9100'}, 0)], {'job': 'node', 'instance': 'db-1:9100'}, 0,
     ['critical']),
]


def unit_test(alert, input_series, labels, value, severities, eval_time=EVAL):
    expected = [{'exp_labels': dict(labels, severity=severity), 'exp_annotations': annotations(alert, severity, labels, value)}
                for severity in severities]
    return {'interval': '1m', 'input_series': input_series,
            'alert_rule_test': [{'eval_time': eval_time, 'alertname': alert, 'exp_alerts': expected}]}


def run_promtool_tests(tmp_path, tests):
    test_file = tmp_path / 'dsr-alerts.test.yml'
    test_file.write_text(yaml.safe_dump({'rule_files': [str(RULES)], 'evaluation_interval': '1m', 'tests': tests}, sort_keys=False))
    return run_promtool('test', 'rules', test_file, timeout=120)


def test_promtool_check_rules():
    proc = run_promtool('check', 'rules', RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'SUCCESS: 13 rules found' in proc.stdout


def test_every_alert_has_a_firing_and_a_silent_scenario():
    alerts = {rule['alert'] for rule in load_rules()}
    fired = {(s[1], sev) for s in SCENARIOS for sev in s[5]}
    silent = {s[1] for s in SCENARIOS if not s[5]}
    for rule in load_rules():
        assert (rule['alert'], rule['labels']['severity']) in fired, rule['alert']
    assert alerts == silent


@pytest.mark.parametrize('scenario', SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_alert_fires_above_the_threshold_and_not_at_or_below(scenario, tmp_path):
    _name, alert, input_series, labels, value, severities = scenario
    proc = run_promtool_tests(tmp_path, [unit_test(alert, input_series, labels, value, severities)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'SUCCESS' in proc.stdout


def test_error_rate_waits_for_its_two_minutes(tmp_path):
    """A 10 % error rate is pending, not firing, until it has lasted 2 minutes (the runbook's for: 2m)."""
    scenario = requests(900, 100)
    tests = [unit_test('HighErrorRate', scenario, {'job': 'api'}, 10.0, [], eval_time='2m'),
             unit_test('HighErrorRate', scenario, {'job': 'api'}, 10.0, ['warning', 'critical'], eval_time='4m')]
    proc = run_promtool_tests(tmp_path, tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_wrong_expectation_fails(tmp_path):
    """The harness above can fail: expecting no alert for a 5.1 % error rate must make promtool fail."""
    proc = run_promtool_tests(tmp_path, [unit_test('HighErrorRate', requests(949, 51), {'job': 'api'}, 5.1, [])])
    assert proc.returncode != 0
    assert 'HighErrorRate' in proc.stdout + proc.stderr


# The runbook's example rules, verbatim (System Monitoring -> Automated Alerting).
RUNBOOK_RULES = {'groups': [{'name': 'dsr-alerts', 'rules': [
    {'alert': 'HighResponseTime', 'expr': 'histogram_quantile(0.95, http_request_duration_seconds_bucket) > 2', 'for': '5m',
     'labels': {'severity': 'warning'}, 'annotations': {'summary': 'High response time detected'}},
    {'alert': 'HighErrorRate', 'expr': 'rate(http_requests_total{status=~"5.."}[5m]) > 0.01', 'for': '2m',
     'labels': {'severity': 'critical'}, 'annotations': {'summary': 'High error rate detected'}},
]}]}


def run_runbook_rules(tmp_path, input_series, alert, expected_labels, eval_time='40m'):
    rules = tmp_path / 'runbook.rules.yml'
    rules.write_text(yaml.safe_dump(RUNBOOK_RULES))
    summary = next(r for r in RUNBOOK_RULES['groups'][0]['rules'] if r['alert'] == alert)['annotations']
    test_file = tmp_path / 'runbook.test.yml'
    test_file.write_text(yaml.safe_dump({'rule_files': [str(rules)], 'evaluation_interval': '1m', 'tests': [{
        'interval': '1m', 'input_series': input_series, 'alert_rule_test': [{
            'eval_time': eval_time, 'alertname': alert,
            'exp_alerts': [{'exp_labels': labels, 'exp_annotations': summary} for labels in expected_labels]}]}]}))
    return run_promtool('test', 'rules', test_file)


def test_runbook_latency_rule_fires_on_history_the_corrected_one_does_not(tmp_path):
    """Slow for 20 minutes, then fast for 20: without rate() the runbook's quantile is over all requests ever
    counted (p95 = 4.7 s at 40m) and keeps alerting on a service that is fast now; the corrected rule's
    quantile is over the last 5 minutes (0.475 s) and is silent."""
    fast_later = '0x19 0+100x20'
    history = [series('http_request_duration_seconds_bucket', {'job': 'api', 'instance': 'app-1', 'le': bound}, 100)
               for bound in ('5', '10', '+Inf')]
    history += [{'series': 'http_request_duration_seconds_bucket{instance="app-1",job="api",le="%s"}' % bound, 'values': fast_later}
                for bound in ('0.5', '1', '2')]
    runbook = run_runbook_rules(tmp_path, history, 'HighResponseTime', [{'severity': 'warning', 'job': 'api', 'instance': 'app-1'}])
    assert runbook.returncode == 0, runbook.stdout + runbook.stderr
    ours = run_promtool_tests(tmp_path, [unit_test('HighResponseTime', history, {'job': 'api'}, 0.475, [], eval_time='40m')])
    assert ours.returncode == 0, ours.stdout + ours.stderr


def test_runbook_error_rule_counts_errors_not_their_share(tmp_path):
    """The runbook compares an absolute 5xx rate with 0.01/s: 3 errors a minute in 300000 requests (0.001 %)
    is 'critical', while 10 % errors at low traffic is silent. The corrected rules do the opposite, per the table."""
    busy = requests(300000, 3)
    runbook = run_runbook_rules(tmp_path, busy, 'HighErrorRate', [{'severity': 'critical', 'job': 'api', 'instance': 'app-1', 'status': '500'}])
    assert runbook.returncode == 0, runbook.stdout + runbook.stderr
    ours = run_promtool_tests(tmp_path, [unit_test('HighErrorRate', busy, {'job': 'api'}, 0.001, [])])
    assert ours.returncode == 0, ours.stdout + ours.stderr

    quiet = requests(4.5, 0.5)
    runbook = run_runbook_rules(tmp_path, quiet, 'HighErrorRate', [])
    assert runbook.returncode == 0, runbook.stdout + runbook.stderr
    ours = run_promtool_tests(tmp_path, [unit_test('HighErrorRate', quiet, {'job': 'api'}, 10.0, ['warning', 'critical'])])
    assert ours.returncode == 0, ours.stdout + ours.stderr
