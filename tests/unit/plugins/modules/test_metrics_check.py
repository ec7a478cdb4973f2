# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""metrics_check's and cert_expiry's main(), through ansible-core's testing helper, without a server."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dsr.ops.plugins.module_utils._metrics.prometheus import PrometheusClient, PrometheusConnectionError
from ansible_collections.dsr.ops.plugins.modules import cert_expiry, metrics_check


def run_main(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def refuse(self, promql):
    raise PrometheusConnectionError('unable to reach Prometheus at %s: Connection refused' % self.url)


@pytest.mark.parametrize('args, fragment', [
    ({}, 'url is required'),
    ({'url': 'http://p', 'rate_window': 'soon'}, 'rate_window must be a Prometheus duration'),
    ({'url': 'http://p', 'checks': [{'name': 'nope'}]}, 'query is required'),
    ({'url': 'http://p', 'max_series': 0}, 'max_series must be at least 1'),
    ({'url': 'http://p', 'checks': [{'name': 'x', 'query': 'up', 'on_empty': 'maybe'}]}, 'on_empty'),
])
def test_metrics_bad_input(args, fragment, capsys, monkeypatch):
    monkeypatch.delenv('PROMETHEUS_URL', raising=False)
    monkeypatch.setattr(PrometheusClient, 'query', refuse)
    result = run_main(metrics_check, dict(args, password='s3cret-value', username='u'), capsys)
    assert result['failed'] is True
    assert fragment in result['msg']
    assert 's3cret-value' not in json.dumps(result)


def test_metrics_unreachable_is_unknown_and_fails(capsys, monkeypatch):
    monkeypatch.setattr(PrometheusClient, 'query', refuse)
    result = run_main(metrics_check, {'url': 'http://127.0.0.1:1'}, capsys)
    assert result['failed'] is True and result['status'] == 'unknown' and result['changed'] is False
    assert result['failed_checks'] == list(result['checks'])


def test_metrics_token_from_the_environment_is_masked(capsys, monkeypatch):
    monkeypatch.setenv('PROMETHEUS_URL', 'http://127.0.0.1:1')
    monkeypatch.setenv('PROMETHEUS_BEARER_TOKEN', 'tok-from-awx-1234')

    def echo(self, promql):
        raise PrometheusConnectionError('proxy said: %s' % self.headers['Authorization'])
    monkeypatch.setattr(PrometheusClient, 'query', echo)
    result = run_main(metrics_check, {'fail_on': 'never'}, capsys)
    assert result['prometheus_url'] == 'http://127.0.0.1:1'
    assert 'tok-from-awx-1234' not in json.dumps(result)


def test_cert_expiry_bad_now(capsys):
    result = run_main(cert_expiry, {'files': ['/x.pem'], 'now': 'tomorrow'}, capsys)
    assert result['failed'] is True
    assert 'now must be an ISO 8601' in result['msg']


def test_cert_expiry_missing_file_is_unknown(capsys, tmp_path):
    result = run_main(cert_expiry, {'files': [str(tmp_path / 'missing.pem')]}, capsys)
    assert result['failed'] is True and result['status'] == 'unknown'
    assert result['failed_checks'] == [str(tmp_path / 'missing.pem')]
