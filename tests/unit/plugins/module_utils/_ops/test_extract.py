# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check records from registered results, read from real results of the modules (fixtures/, captured against the harness).

The fixtures are what each module returned against the harness servers (PostgreSQL
primary and standby, Prometheus over the test exporter, the TLS endpoints, moto S3,
the Elasticsearch and Kubernetes stubs), trimmed and scrubbed of credentials. Every
expected figure is computed from the fixture itself, so a test fails when the
extractor reads the wrong key, not when a number changes.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
from pathlib import Path

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._ops import extract as ex
from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec

FIXTURES = Path(__file__).resolve().parent / 'fixtures'
NOW = '2026-12-04T03:00:00+00:00'
# fixture name prefix -> the check its module answers
CHECK_OF = {'k8s_health': 'kubernetes', 'pg_health': 'database', 'pg_backup_verify': 'backup', 's3_backup': 'backup',
            'metrics_check': 'metrics', 'log_search': 'errors', 'cert_expiry': 'certificates', 'pg_maintenance': 'slow_queries',
            'access_log_report': 'security', 'pg_access_review': 'security'}


def load(name):
    return json.loads((FIXTURES / ('%s.json' % name)).read_text(encoding='utf-8'))


def record(name_or_result, check=None, **options):
    result = load(name_or_result) if isinstance(name_or_result, str) else name_or_result
    if check is None:
        check = next(c for prefix, c in CHECK_OF.items() if name_or_result.startswith(prefix))
    options.setdefault('time', NOW)
    return ex.build_record(result, check, 'production', 'morning', **options)


def epoch(text):
    return datetime.datetime.fromisoformat(text).timestamp()


ALL_FIXTURES = sorted(path.stem for path in FIXTURES.glob('*.json'))


def test_every_module_has_fixtures():
    assert {next(p for p in CHECK_OF if name.startswith(p)) for name in ALL_FIXTURES} == set(CHECK_OF)


@pytest.mark.parametrize('name', ALL_FIXTURES)
def test_every_fixture_gives_a_record_that_validates(name):
    out = record(name)
    assert rec.validate(out) == out
    assert out['time'] == NOW and out['environment'] == 'production' and out['run'] == 'morning'
    assert '\n' not in out['summary'] and out['summary']
    for figure in out['figures'].values():
        values = [s['value'] for s in figure] if isinstance(figure, list) else [figure]
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    result = load(name)
    if 'status' in result:
        assert out['status'] == result['status']  # the module's verdict, never re-judged


# kubernetes

def _workload_names(result, status=None):
    return [name for name in result['workloads'] if status is None or result['checks'][name]['status'] != 'ok']


def test_kubernetes_healthy_counts_every_workload_and_none_down():
    result = load('k8s_health_healthy')
    out = record('k8s_health_healthy')
    assert out['status'] == 'ok' and out['summary'] == result['summary']
    assert out['figures']['workloads_total'] == len(result['workloads']) == 9
    assert out['figures']['workloads_down'] == 0 and out['figures']['workloads_unhealthy'] == 0
    assert out['affected'] == []


def test_kubernetes_crash_loop_counts_the_workload_with_no_available_replica():
    result = load('k8s_health_crash_loop')
    payment = result['workloads']['payment-service']
    assert payment['desired'] > 0 and payment['available'] == 0  # what the scenario does
    out = record('k8s_health_crash_loop')
    assert out['status'] == 'critical'
    assert out['affected'] == _workload_names(result, 'not ok') == ['payment-service']
    assert out['figures']['workloads_down'] == 1
    assert out['figures']['workloads_unhealthy'] == 1
    assert out['figures']['workloads_total'] == len(result['workloads'])
    assert out['figures']['problem_pods'] == len(result['problem_pods']) > 0
    # ingress is critical too, but it is not a workload
    assert result['checks']['ingress']['status'] == 'critical' and 'ingress' not in out['affected']


@pytest.mark.parametrize('available, ready, down', [(0, 2, 1), (2, 0, 1), (1, 1, 0)])
def test_kubernetes_no_available_or_no_ready_replica_is_down(available, ready, down):
    result = copy.deepcopy(load('k8s_health_healthy'))
    result['workloads']['registration-service'].update(available=available, ready=ready)
    if down:
        result['checks']['registration-service']['status'] = 'critical'
    assert record(result, 'kubernetes')['figures']['workloads_down'] == down


def test_kubernetes_a_missing_and_a_scaled_to_zero_workload_are_down():
    result = load('k8s_health_missing_and_scaled_to_zero')
    missing = [n for n, d in result['workloads'].items() if not d['found']]
    zero = [n for n, d in result['workloads'].items() if d['found'] and d['desired'] == 0]
    assert missing and zero
    out = record('k8s_health_missing_and_scaled_to_zero')
    assert out['figures']['workloads_down'] == len(missing) + len(zero)
    assert sorted(out['affected']) == sorted(missing + zero)


def test_kubernetes_unreachable_says_why_and_claims_nothing_is_down():
    result = load('k8s_health_unreachable')
    out = record('k8s_health_unreachable')
    assert out['status'] == 'unknown'
    assert 'workloads_down' not in out['figures']  # it could not look: not "every workload is down"
    assert out['figures']['workloads_total'] == len(result['workloads'])
    assert out['summary'] == 'unknown: ' + ex.one_line(result['error'], ex.MSG_MAX)


def test_kubernetes_a_workload_whose_lookup_failed_leaves_workloads_down_out():
    result = copy.deepcopy(load('k8s_health_crash_loop'))
    result['workloads']['postgresql'] = {'found': False, 'kind': None}
    result['checks']['postgresql'] = {'status': 'unknown', 'msg': 'cannot tell whether it exists: forbidden'}
    out = record(result, 'kubernetes')
    assert 'workloads_down' not in out['figures']
    assert out['figures']['workloads_unhealthy'] == 2


# database

def test_database_primary_figures_come_from_the_checks():
    result = load('pg_health_primary')
    checks = result['checks']
    out = record('pg_health_primary')
    assert out['status'] == 'ok' and out['affected'] == []
    assert out['figures']['reachable'] == 1
    assert out['figures']['connections'] == checks['connections']['total']
    assert out['figures']['max_connections'] == checks['connections']['max_connections']
    monitored = result['connection']['database']
    assert out['figures']['database_size_bytes'] == checks['database_sizes']['databases'][monitored]['size_bytes']
    assert out['figures']['replication_lag_seconds'] == max(s['lag_seconds'] for s in checks['replication']['standbys'])


def test_database_size_of_another_database_on_request():
    result = copy.deepcopy(load('pg_health_primary'))
    result['checks']['database_sizes']['databases']['postgres']['size_bytes'] = 12345
    assert record(result, 'database', database='postgres')['figures']['database_size_bytes'] == 12345
    assert record(result, 'database')['figures']['database_size_bytes'] != 12345


def test_database_standby_lag_is_its_own():
    result = load('pg_health_standby')
    out = record('pg_health_standby')
    assert out['figures']['replication_lag_seconds'] == result['checks']['replication']['lag_seconds']


def test_database_unreachable_is_reachable_zero_and_affects_the_database():
    out = record('pg_health_unreachable')
    assert out['status'] == 'critical'
    assert out['figures'] == {'reachable': 0}
    assert out['affected'] == ['database']


# backup

def test_backup_verified_locally():
    result = load('pg_backup_verify_ok')
    out = record('pg_backup_verify_ok')
    assert out['status'] == 'ok'
    assert out['figures']['backup_last_success_timestamp_seconds'] == int(epoch(result['started_at']))
    assert out['figures']['backup_size_bytes'] == result['checks']['checksum']['size_bytes']
    assert out['figures']['backup_age_seconds'] == result['checks']['freshness']['age_seconds']
    assert 'backup_duration_seconds' not in out['figures']  # pg_backup_verify does not return the manifest
    assert out['summary'].startswith(result['summary']) and Path(result['path']).name in out['summary']


def test_backup_that_fails_its_checksum_is_no_success():
    result = load('pg_backup_verify_corrupt')
    assert result['checks']['checksum']['status'] == 'critical'
    out = record('pg_backup_verify_corrupt')
    assert out['status'] == 'critical'
    assert 'backup_last_success_timestamp_seconds' not in out['figures']


def test_backup_too_old_is_critical_but_still_the_last_success():
    result = load('pg_backup_verify_stale')
    assert result['checks']['freshness']['status'] == 'critical' and result['checks']['checksum']['status'] == 'ok'
    out = record('pg_backup_verify_stale')
    assert out['status'] == 'critical'
    assert out['figures']['backup_last_success_timestamp_seconds'] == int(epoch(result['started_at']))


def test_no_backup_at_all_has_no_figures():
    out = record('pg_backup_verify_none')
    assert out['status'] == 'critical' and out['figures'] == {}


def test_s3_listing_newest_verified_backup():
    result = load('s3_backup_list')
    newest = result['newest_verified']
    assert result['backups'][0]['verified'] is False  # a newer one, not verified yet
    started = epoch(newest['started_at'])
    now = datetime.datetime.fromtimestamp(started + 3600, datetime.timezone.utc)
    out = record('s3_backup_list', time=now)
    assert out['status'] == 'ok'
    assert out['figures'] == {
        'backup_last_success_timestamp_seconds': int(started),
        'backup_age_seconds': 3600.0,
        'backup_size_bytes': newest['size_bytes'],
        'backup_duration_seconds': newest['manifest']['duration_seconds'],
    }
    assert Path(newest['key']).name in out['summary'] and '60m old' in out['summary']
    assert '1 newer backup(s) not verified' in out['summary']
    assert record('s3_backup_list', kind='s3_backup_list', time=now) == out


def test_s3_listing_too_old_is_critical():
    result = load('s3_backup_list')
    started = epoch(result['newest_verified']['started_at'])
    late = datetime.datetime.fromtimestamp(started + 27 * 3600, datetime.timezone.utc)
    assert record('s3_backup_list', time=late)['status'] == 'critical'
    soon = datetime.datetime.fromtimestamp(started + 3600, datetime.timezone.utc)
    assert record('s3_backup_list', time=soon, max_age_seconds=1800)['status'] == 'critical'
    assert record('s3_backup_list', time=soon, max_age_seconds=7200)['status'] == 'ok'


def test_s3_listing_without_a_verified_backup_is_critical():
    out = record('s3_backup_list_empty')
    assert out['status'] == 'critical' and out['figures'] == {}
    assert 'no verified backup' in out['summary']
    result = copy.deepcopy(load('s3_backup_list'))
    for entry in result['backups']:
        entry['verified'] = False
    result['newest_verified'] = None
    out = record(result, 'backup')
    assert out['status'] == 'critical' and 'no verified backup of dsr_db' in out['summary']


def test_s3_listing_skips_a_verified_backup_whose_object_disagrees_with_its_manifest():
    result = copy.deepcopy(load('s3_backup_list'))
    result['backups'][1]['problem'] = 'size 12 differs from the manifest'
    assert record(result, 'backup')['status'] == 'critical'


def test_s3_listing_bad_max_age_is_refused():
    with pytest.raises(ex.ExtractError, match='max_age_seconds'):
        record('s3_backup_list', max_age_seconds=-1)


# metrics

@pytest.mark.parametrize('name', ['metrics_check_builtin', 'metrics_check_profiles'])
def test_metrics_key_figures_in_the_record_units(name):
    checks = load(name)['checks']
    out = record(name)
    figures = out['figures']
    assert figures['p95_latency_seconds'] == checks['response_time_p95']['value']
    assert figures['http_5xx_ratio'] == pytest.approx(checks['error_rate']['value'] / 100)
    worst_disk = max(s['value'] for s in checks['disk_usage']['series'] if s['value'] is not None)
    assert figures['disk_used_ratio'] == pytest.approx(worst_disk / 100) and 0 <= figures['disk_used_ratio'] <= 1
    assert figures['cpu_used_ratio'] == pytest.approx(checks['cpu_usage']['value'] / 100, abs=1e-6)
    assert figures['memory_used_ratio'] == pytest.approx(checks['memory_usage']['value'] / 100)
    assert figures['connections_used_ratio'] == pytest.approx(checks['db_connections']['value'] / 100)
    assert figures['scrape_targets_total'] == checks['scrape_targets']['series_total']
    assert figures['scrape_targets_down'] == sum(1 for s in checks['scrape_targets']['series'] if s['status'] != 'ok')
    assert sorted(out['affected']) == sorted(n for n, c in checks.items() if c['status'] != 'ok')


def test_metrics_profiles_hold_nan_series_and_the_worst_is_taken():
    checks = load('metrics_check_profiles')['checks']
    assert any(s['raw_value'] == 'NaN' for s in checks['response_time_p95']['series'])
    assert record('metrics_check_profiles')['figures']['p95_latency_seconds'] == max(
        s['value'] for s in checks['response_time_p95']['series'] if s['value'] is not None)


def test_metrics_unreachable_has_no_figures():
    out = record('metrics_check_unreachable')
    assert out['status'] == 'unknown' and out['figures'] == {}


def test_metrics_a_check_redefined_in_other_units_is_not_the_key_metric():
    result = copy.deepcopy(load('metrics_check_builtin'))
    result['checks']['disk_usage']['unit'] = 'bytes'
    assert 'disk_used_ratio' not in record(result, 'metrics')['figures']


def test_nan_and_infinite_figures_are_dropped():
    result = copy.deepcopy(load('metrics_check_builtin'))
    result['checks']['response_time_p95']['value'] = float('nan')
    result['checks']['error_rate']['value'] = float('inf')
    result['checks']['memory_usage']['value'] = None
    out = record(result, 'metrics')
    assert not {'p95_latency_seconds', 'http_5xx_ratio', 'memory_used_ratio'} & set(out['figures'])
    assert 'disk_used_ratio' in out['figures']
    certs = copy.deepcopy(load('cert_expiry_endpoints'))
    certs['certificates'][0]['days_remaining'] = float('nan')
    samples = record(certs, 'certificates')['figures']['certificate_days_left']
    assert certs['certificates'][0]['name'] not in [s['labels']['endpoint'] for s in samples]
    assert len(samples) == len(certs['certificates']) - 1


def test_clean_figures_keeps_only_finite_numbers():
    figures = {'a': 1, 'b': 2.5, 'c': float('nan'), 'd': float('-inf'), 'e': None, 'f': True, 'g': '3', 'Bad-Name': 1,
               'h': [{'labels': {'x': 'y'}, 'value': float('nan')}], 'i': [{'labels': {'x': 'y'}, 'value': 4}, {'labels': {'x': 'y'}, 'value': 5}]}
    assert ex.clean_figures(figures) == {'a': 1, 'b': 2.5, 'i': [{'labels': {'x': 'y'}, 'value': 4}]}


# errors

def test_errors_count_is_the_errors_search_hits():
    for name in ('log_search_presets', 'log_search_errors_only'):
        result = load(name)
        out = record(name)
        assert out['status'] == result['status']
        assert out['figures'] == {'error_count': result['checks']['errors']['count']}
        assert out['summary'].startswith(result['summary'])
    assert record('log_search_errors_only')['status'] == 'warning'


def test_errors_count_of_a_single_search_of_another_name_and_none_when_ambiguous():
    result = copy.deepcopy(load('log_search_presets'))
    only = {'auth_failures': result['checks']['auth_failures']}
    assert record(dict(result, checks=only), 'errors')['figures'] == {'error_count': result['checks']['auth_failures']['count']}
    two = {'auth_failures': result['checks']['auth_failures'], 'security_high': result['checks']['security_high']}
    assert record(dict(result, checks=two), 'errors')['figures'] == {}


# certificates

def test_certificates_days_left_per_endpoint():
    result = load('cert_expiry_endpoints')
    out = record('cert_expiry_endpoints')
    assert out['status'] == result['status'] == 'critical'
    samples = {s['labels']['endpoint']: s['value'] for s in out['figures']['certificate_days_left']}
    assert samples == {c['name']: c['days_remaining'] for c in result['certificates']}
    assert min(samples.values()) < 0  # the expired one stays, negative
    assert out['affected'] == [c['name'] for c in result['certificates'] if c['status'] != 'ok']


# slow queries

def test_slow_queries_counts_statements_over_the_threshold():
    result = load('pg_maintenance_report')
    items = result['reports']['slow_queries']['items']
    out = record('pg_maintenance_report')
    expected = sum(1 for i in items if i['mean_exec_time_ms'] >= 1000)
    assert expected >= 1
    assert out['figures']['slow_queries'] == expected
    assert out['figures']['slowest_query_mean_seconds'] == pytest.approx(max(i['mean_exec_time_ms'] for i in items) / 1000)
    assert out['status'] == 'warning' and out['affected'] == ['database']
    lower = record('pg_maintenance_report', slow_query_ms=100)
    assert lower['figures']['slow_queries'] == sum(1 for i in items if i['mean_exec_time_ms'] >= 100) > expected
    high = record('pg_maintenance_report', slow_query_ms=10 ** 7)
    assert high['status'] == 'ok' and high['figures']['slow_queries'] == 0
    every = record('pg_maintenance_report', slow_query_ms=0.0001)
    assert every['figures']['slow_queries'] == len(items) and 'at least %d' % len(items) in every['summary']


def test_slow_queries_report_not_available_is_skipped_as_not_configured_with_the_reason():
    result = load('pg_maintenance_no_extension')
    out = record('pg_maintenance_no_extension')
    assert out['status'] == 'skipped' and out['figures'] == {} and out['summary'].startswith('skipped: not configured - ')
    assert ex.one_line(result['reports']['slow_queries']['reason'])[:100] in out['summary']


# security

def test_access_log_report_counts():
    result = load('access_log_report_flagged')
    out = record('access_log_report_flagged')
    assert out['status'] == result['status'] == 'critical'
    assert out['figures'] == {'failed_logins': result['failed_logins']['total'], 'flagged_ips': result['flagged_total'],
                              'requests': result['lines']['counted'], 'server_errors': result['server_errors'],
                              'unauthorized': result['unauthorized']}
    assert record('access_log_report_flagged', kind='access_log_report') == out


def test_pg_access_review_counts():
    result = load('pg_access_review')
    out = record('pg_access_review')
    assert out['status'] == result['status']
    assert out['figures'] == {'findings_%s' % k: result['counts'][k] for k in ('critical', 'warning', 'info', 'accepted')} | {
        'not_visible': len(result['not_visible'])}


# failed, skipped, generic

@pytest.mark.parametrize('name', ['k8s_health_bad_option', 'pg_backup_verify_bad_option', 'pg_maintenance_bad_option'])
def test_a_module_that_failed_before_judging_is_unknown_with_its_message(name):
    result = load(name)
    assert result['failed'] is True and 'status' not in result
    out = record(name)
    assert out['status'] == 'unknown' and out['summary'] == ex.one_line(result['msg'], 300) and out['figures'] == {}


def test_a_long_multiline_failure_message_is_one_line_of_300():
    out = record({'failed': True, 'msg': 'Failed to import psycopg2\n' + 'x ' * 400}, 'database')
    assert out['status'] == 'unknown' and '\n' not in out['summary'] and 290 < len(out['summary']) <= 300
    assert out['summary'].endswith('...')
    assert out['summary'].startswith('Failed to import psycopg2 x x')


def test_a_module_that_judged_and_failed_the_task_keeps_its_verdict_and_figures():
    result = dict(load('k8s_health_crash_loop'), failed=True, msg='Kubernetes health is critical ...')
    out = record(result, 'kubernetes')
    assert out['status'] == 'critical' and out['figures']['workloads_down'] == 1


def test_an_unreachable_host_is_unknown():
    out = record({'unreachable': True, 'msg': 'Failed to connect to the host via ssh', 'changed': False}, 'database')
    assert out['status'] == 'unknown' and out['summary'] == 'Failed to connect to the host via ssh'


def test_no_result_and_a_skipped_task_are_skipped():
    assert record(None, 'backup')['summary'] == 'skipped: not configured'
    out = record(None, 'backup', skipped='not configured (set dsr_backup_dir or dsr_s3_bucket)')
    assert out['status'] == 'skipped' and out['summary'] == 'skipped: not configured (set dsr_backup_dir or dsr_s3_bucket)'
    when_false = {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False', 'false_condition': 'x'}
    assert record(when_false, 'metrics')['summary'] == 'skipped: not configured'
    assert record(when_false, 'metrics', skipped='not configured (dsr_prometheus_url)')['summary'] == 'skipped: not configured (dsr_prometheus_url)'


def test_generic_result_keeps_status_and_summary_and_guesses_no_figure():
    out = record({'status': 'warning', 'summary': 'warning: rto=warning', 'rto_seconds': 5}, 'dr_test')
    assert (out['status'], out['summary'], out['figures']) == ('warning', 'warning: rto=warning', {})
    odd = record({'changed': False, 'msg': 'done'}, 'dr_test')
    assert odd['status'] == 'unknown'


def test_record_time_job_id_and_bad_arguments():
    out = record('pg_health_primary', time='2026-12-04T10:00:05+02:00', job_id='4711')
    assert out['time'] == '2026-12-04T08:00:05+00:00' and out['job_id'] == '4711'
    with pytest.raises(ex.ExtractError, match='check name'):
        record('pg_health_primary', check='Database')
    with pytest.raises(ex.ExtractError, match='unknown option'):
        record('pg_health_primary', max_age=3)
    with pytest.raises(rec.RecordError, match='environment'):
        ex.build_record(load('pg_health_primary'), 'database', 'prod uction', 'morning', time=NOW)
    with pytest.raises(rec.RecordError, match='run'):
        ex.build_record(load('pg_health_primary'), 'database', 'production', 'night', time=NOW)


def test_job_id_from_the_awx_environment():
    assert ex.job_id_from_environment({'JOB_ID': '4711', 'AWX_JOB_ID': '1'}) == '4711'
    assert ex.job_id_from_environment({'AWX_JOB_ID': '12'}) == '12'
    assert ex.job_id_from_environment({}) is None


def test_build_records_one_per_check_in_order_with_each_option_where_it_belongs():
    s3 = load('s3_backup_list')
    started = epoch(s3['newest_verified']['started_at'])
    now = datetime.datetime.fromtimestamp(started + 3600, datetime.timezone.utc)
    out = ex.build_records({'kubernetes': load('k8s_health_crash_loop'), 'backup': s3, 'metrics': None},
                           ['kubernetes', 'database', 'backup', 'metrics'], 'staging', 'midday',
                           kinds={'backup': 's3_backup_list'}, reasons={'database': 'not configured (dsr_pg_host or PGHOST)'},
                           time=now, job_id='99', max_age_seconds=1800)
    assert [r['check'] for r in out] == ['kubernetes', 'database', 'backup', 'metrics']
    assert [r['status'] for r in out] == ['critical', 'skipped', 'critical', 'skipped']
    assert out[1]['summary'] == 'skipped: not configured (dsr_pg_host or PGHOST)'
    assert {r['job_id'] for r in out} == {'99'} and {r['environment'] for r in out} == {'staging'}
    assert out[2]['figures']['backup_age_seconds'] == 3600.0
    with pytest.raises(ex.ExtractError, match='unknown option'):
        ex.build_records({}, ['backup'], 'staging', 'midday', max_age=3)


@pytest.mark.parametrize('seconds, text', [(0, '0s'), (119, '119s'), (3599, '59m'), (7200, '2h00m'), (93600, '26h00m'), (200000, '2d07h')])
def test_age_text(seconds, text):
    assert ex.age_text(seconds) == text


def test_every_record_made_from_the_fixtures_can_be_written_for_prometheus():
    """What the extractors make, ops_metrics writes: a figure name promtool rejects would fail the daily run's metrics."""
    from ansible_collections.dsr.ops.plugins.module_utils._textfile import records as textfile  # pylint: disable=import-outside-toplevel
    made = [record(path.stem) for path in sorted(FIXTURES.glob('*.json')) if any(path.stem.startswith(p) for p in CHECK_OF)]
    assert len(made) >= 20
    families = textfile.build_families(made)
    assert families
