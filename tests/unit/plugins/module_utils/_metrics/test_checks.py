# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""metrics_check's decisions on canned Prometheus API answers; the real server is in tests/integration."""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._metrics import checks as mc
from ansible_collections.dsr.ops.plugins.module_utils._metrics.prometheus import PrometheusConnectionError, PrometheusQueryError


def vector(*series):
    return {'resultType': 'vector', 'result': [{'metric': labels, 'value': [1717228800.0, value]} for labels, value in series]}


def one(name='c', **kw):
    return mc.resolve_checks([dict({'name': name, 'query': 'q'}, **kw)])[0]


def test_builtins_are_the_runbook_table():
    resolved = {c['name']: c for c in mc.resolve_checks(None)}
    assert list(resolved) == list(mc.BUILTIN_CHECKS)
    assert (resolved['response_time_p95']['warning'], resolved['response_time_p95']['critical']) == (2.0, 5.0)
    assert (resolved['error_rate']['warning'], resolved['error_rate']['critical']) == (1.0, 5.0)
    for name in ('cpu_usage', 'memory_usage', 'disk_usage'):
        assert (resolved[name]['warning'], resolved[name]['critical']) == (80.0, 90.0)
    assert (resolved['db_connections']['warning'], resolved['db_connections']['critical']) == (80.0, 95.0)
    assert resolved['scrape_targets']['comparison'] == 'lt'
    assert all(c['on_empty'] == 'unknown' for c in resolved.values())
    assert 'sum by (job, le) (rate(http_request_duration_seconds_bucket[5m]))' in resolved['response_time_p95']['query']
    assert 'status=~"5.."' in resolved['error_rate']['query']
    assert '{' not in resolved['error_rate']['query'].replace('{status', '').replace('{mode', '').replace('{fstype', '')


def test_window_and_overrides():
    resolved = mc.resolve_checks([{'name': 'cpu_usage', 'warning': 70}, {'name': 'x', 'query': 'up', 'comparison': 'lt', 'critical': 1}], '90s')
    assert '[90s]' in resolved[0]['query'] and resolved[0]['warning'] == 70 and resolved[0]['critical'] == 90
    assert resolved[0]['builtin'] is True
    assert resolved[1]['on_empty'] == 'unknown' and resolved[1]['builtin'] is False


@pytest.mark.parametrize('entries, window, message', [
    ([{'name': 'custom'}], '5m', 'checks[0] (custom): query is required'),
    ([{'name': 'cpu_usage'}, {'name': 'cpu_usage'}], '5m', 'the name is used twice'),
    ([{'name': 'cpu_usage', 'warning': 95}], '5m', 'the critical threshold (90.0) must not be lower'),
    ([{'name': 'x', 'query': 'up', 'comparison': 'lt', 'warning': 1, 'critical': 2}], '5m', 'must not be higher'),
    ([{'name': 'x', 'query': 'up', 'comparison': 'eq'}], '5m', 'comparison must be one of'),
    ([{'name': 'x', 'query': 'up', 'on_nan': 'maybe'}], '5m', 'on_nan must be one of'),
    ([{'query': 'up'}], '5m', 'checks[0]: name is required'),
    ([], '5m', 'checks is empty'),
    (None, '5 minutes', 'rate_window must be a Prometheus duration'),
    (None, '', 'rate_window'),
])
def test_bad_definitions(entries, window, message):
    with pytest.raises(mc.CheckDefinitionError) as info:
        mc.resolve_checks(entries, window)
    assert message in str(info.value)


@pytest.mark.parametrize('value, comparison, expected', [
    ('79.9', 'gt', 'ok'), ('80', 'gt', 'ok'), ('80.01', 'gt', 'warning'), ('90', 'gt', 'warning'), ('90.5', 'gt', 'critical'),
    ('80', 'ge', 'warning'), ('90', 'ge', 'critical'),
    ('+Inf', 'gt', 'critical'), ('-Inf', 'gt', 'ok'),
])
def test_each_series_against_the_thresholds(value, comparison, expected):
    check = one(comparison=comparison, warning=80, critical=90)
    result = mc.evaluate_response(check, vector(({'instance': 'a'}, value))).as_dict()
    assert result['status'] == expected
    assert result['series'][0]['raw_value'] == value


@pytest.mark.parametrize('value, expected', [('15', 'warning'), ('20', 'ok'), ('10', 'warning'), ('9.9', 'critical'), ('-Inf', 'critical')])
def test_lower_is_worse(value, expected):
    check = one(comparison='lt', warning=20, critical=10)
    assert mc.evaluate_response(check, vector(({}, value))).status == expected


@pytest.mark.parametrize('on_nan', ['ok', 'warning', 'critical', 'unknown'])
def test_nan_takes_on_nan(on_nan):
    result = mc.evaluate_response(one(warning=1, on_nan=on_nan), vector(({'job': 'api'}, 'NaN'))).as_dict()
    assert result['status'] == on_nan
    assert result['series'][0]['value'] is None and result['series'][0]['raw_value'] == 'NaN'
    assert result['value'] is None
    assert 'on_nan=%s' % on_nan in result['msg']


@pytest.mark.parametrize('on_empty', ['ok', 'warning', 'critical', 'unknown'])
def test_empty_takes_on_empty(on_empty):
    result = mc.evaluate_response(one(on_empty=on_empty), vector()).as_dict()
    assert result['status'] == on_empty and result['empty'] is True
    assert 'on_empty=%s' % on_empty in result['msg']


def test_every_series_with_labels_worst_first_and_truncated():
    data = vector(({'instance': 'a'}, '50'), ({'instance': 'b'}, '95'), ({'instance': 'c'}, '85'), ({'instance': 'd'}, 'NaN'))
    result = mc.evaluate_response(one(warning=80, critical=90), data, max_series=3).as_dict()
    assert result['status'] == 'critical'
    assert [s['labels']['instance'] for s in result['series']] == ['b', 'd', 'c']
    assert [s['status'] for s in result['series']] == ['critical', 'unknown', 'warning']
    assert result['series_total'] == 4
    assert result['value'] == 95.0
    assert 'worst {instance="b"} = 95' in result['msg']


def test_scalar_and_other_result_types():
    scalar = mc.evaluate_response(one(warning=1), {'resultType': 'scalar', 'result': [1717228800.0, '2']}).as_dict()
    assert scalar['status'] == 'warning' and scalar['series'][0]['labels'] == {}
    matrix = mc.evaluate_response(one(warning=1), {'resultType': 'matrix', 'result': []})
    assert matrix.status == 'unknown' and 'range selector' in matrix.msg


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.queries = []

    def query(self, promql):
        self.queries.append(promql)
        answer = self.answers[promql]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_run_surfaces_api_errors_and_warnings():
    checks = mc.resolve_checks([{'name': 'a', 'query': 'qa', 'warning': 1}, {'name': 'b', 'query': 'qb'}, {'name': 'c', 'query': 'qc'}])
    client = FakeClient({
        'qa': (vector(({}, '0.5')), ['PromQL info: metric might not be a counter']),
        'qb': PrometheusQueryError('Prometheus refused the query (HTTP 400, bad_data: parse error)'),
        'qc': (vector(({}, '1')), []),
    })
    result = mc.run_checks(client, checks)
    assert result['checks']['a']['status'] == 'ok'
    assert result['checks']['a']['warnings'] == ['PromQL info: metric might not be a counter']
    assert result['api_warnings'] == ['a: PromQL info: metric might not be a counter']
    assert result['checks']['b']['status'] == 'unknown' and 'bad_data' in result['checks']['b']['msg']
    assert result['status'] == 'unknown' and result['reachable'] is True


def test_run_stops_asking_after_a_connection_failure():
    checks = mc.resolve_checks(None)
    client = FakeClient({checks[0]['query']: PrometheusConnectionError('unable to reach Prometheus at http://p:9090: Connection refused')})
    result = mc.run_checks(client, checks)
    assert len(client.queries) == 1
    assert result['reachable'] is False and result['status'] == 'unknown'
    assert {c['status'] for c in result['checks'].values()} == {'unknown'}
    assert result['checks']['cpu_usage']['msg'].startswith('not run: unable to reach Prometheus')
