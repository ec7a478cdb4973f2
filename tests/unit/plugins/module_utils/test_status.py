# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import math

import pytest

from ansible_collections.dsr.ops.plugins.module_utils import _status as st


@pytest.mark.parametrize('value, expected', [
    (79, st.OK), (80, st.OK), (80.1, st.WARNING), (95, st.WARNING), (95.5, st.CRITICAL),
    (None, st.UNKNOWN), (float('nan'), st.UNKNOWN),
])
def test_evaluate_higher_is_worse(value, expected):
    assert st.evaluate(value, 80, 95) == expected


@pytest.mark.parametrize('value, expected', [(99, st.OK), (95, st.OK), (94.9, st.WARNING), (89.9, st.CRITICAL)])
def test_evaluate_lower_is_worse(value, expected):
    assert st.evaluate(value, 95, 90, comparison='lt') == expected


def test_evaluate_disabled_thresholds():
    assert st.evaluate(10 ** 12, None, None) == st.OK
    assert st.evaluate(10, None, 5) == st.CRITICAL


def test_evaluate_infinity_is_critical():
    assert st.evaluate(math.inf, 1, 2) == st.CRITICAL


def test_evaluate_ge_boundary():
    assert st.evaluate(80, 80, 95, comparison='ge') == st.WARNING


def test_unknown_comparison_rejected():
    with pytest.raises(st.ThresholdError):
        st.evaluate(1, 2, 3, comparison='eq')


@pytest.mark.parametrize('statuses, expected', [
    ([st.OK, st.WARNING], st.WARNING),
    ([st.OK, st.UNKNOWN, st.WARNING], st.UNKNOWN),
    ([st.UNKNOWN, st.CRITICAL], st.CRITICAL),
    ([st.OK, st.SKIPPED], st.OK),
    ([st.SKIPPED, st.SKIPPED], st.UNKNOWN),
    ([], st.UNKNOWN),
])
def test_worst(statuses, expected):
    assert st.worst(statuses) == expected


@pytest.mark.parametrize('status, fail_on, expected', [
    (st.OK, 'critical', False), (st.WARNING, 'critical', False), (st.CRITICAL, 'critical', True),
    (st.UNKNOWN, 'critical', True), (st.WARNING, 'warning', True), (st.UNKNOWN, 'warning', True),
    (st.CRITICAL, 'never', False), (st.UNKNOWN, 'never', False), (st.SKIPPED, 'warning', False),
])
def test_should_fail(status, fail_on, expected):
    assert st.should_fail(status, fail_on) is expected


def test_should_fail_rejects_unknown_level():
    with pytest.raises(ValueError):
        st.should_fail(st.OK, 'sometimes')


@pytest.mark.parametrize('warning, critical, comparison', [(90, 80, 'gt'), (90, 95, 'lt')])
def test_validate_thresholds_rejects_inverted(warning, critical, comparison):
    with pytest.raises(st.ThresholdError, match='critical threshold'):
        st.validate_thresholds('x', warning, critical, comparison)


def test_validate_thresholds_accepts_ordered_and_disabled():
    st.validate_thresholds('x', 80, 95)
    st.validate_thresholds('x', 95, 90, 'lt')
    st.validate_thresholds('x', None, 5)


def test_check_as_dict_and_summary():
    checks = [st.Check('a', st.OK, 'fine', n=1), st.Check.skipped('b', 'no privilege'), st.Check('c', st.WARNING, 'hm')]
    assert checks[0].as_dict() == {'status': 'ok', 'msg': 'fine', 'n': 1}
    overall, summary = st.summarize(checks)
    assert overall == st.WARNING
    assert summary == 'warning: b=skipped, c=warning'


def test_check_rejects_foreign_status():
    with pytest.raises(ValueError):
        st.Check('a', 'fine')


def test_gate_names_each_failing_check_with_its_reason():
    result = {'status': 'critical', 'summary': 'critical: b=critical, c=unknown',
              'checks': {'a': {'status': 'ok', 'msg': 'fine'}, 'b': {'status': 'critical', 'msg': 'full'}, 'c': {'status': 'unknown', 'msg': 'blind'}}}
    assert st.gate(result, 'critical', 'disk is') == 'disk is critical: b=critical, c=unknown (b: full; c: blind)'
    assert result['failed_checks'] == ['b', 'c']


def test_gate_passes_warnings_unless_asked():
    result = {'status': 'warning', 'summary': 'warning: a=warning', 'checks': {'a': {'status': 'warning', 'msg': 'hm'}}}
    assert st.gate(result, 'critical', 'x is') is None and result['failed_checks'] == []
    assert st.gate(result, 'warning', 'metrics are') == 'metrics are warning: a=warning (a: hm)'
    assert st.gate(result, 'never', 'x is') is None


def test_gate_over_a_list_of_named_results():
    certificates = [{'name': 'api', 'status': 'ok', 'msg': 'fine'}, {'name': 'db', 'status': 'critical', 'msg': 'expired'}]
    result = {'status': 'critical', 'summary': 'critical: db=critical', 'certificates': certificates}
    failure = st.gate(result, 'critical', 'certificates are', ((c['name'], c) for c in certificates))
    assert failure == 'certificates are critical: db=critical (db: expired)'
    assert result['failed_checks'] == ['db']
