# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Prometheus HTTP API connection options and client, shared by every dsr.ops Prometheus module.

Unset options fall back to environment variables (``PROMETHEUS_URL``,
``PROMETHEUS_USERNAME``, ``PROMETHEUS_PASSWORD``, ``PROMETHEUS_BEARER_TOKEN``,
``PROMETHEUS_CA_CERT``), which is how AWX and Automation Controller custom
credential types inject them. Secrets travel in the Authorization header only:
they are never part of a URL, a message or a result.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.dsr.ops.plugins.module_utils._http import (
    HttpConnectionError,
    JsonHttpClient,
    authorization,
    credentials_from_environment,
    snippet,
    url_problems,
)

DEFAULT_TIMEOUT = 30.0

ENVIRONMENT = {
    'url': 'PROMETHEUS_URL',
    'username': 'PROMETHEUS_USERNAME',
    'password': 'PROMETHEUS_PASSWORD',
    'bearer_token': 'PROMETHEUS_BEARER_TOKEN',
    'ca_cert': 'PROMETHEUS_CA_CERT',
}


class PrometheusError(Exception):
    """Base class of the Prometheus backend's errors; ``str()`` is safe to show."""


class PrometheusConnectionError(PrometheusError):
    """Prometheus could not be reached, refused the credentials, or is not a Prometheus API."""


class PrometheusQueryError(PrometheusError):
    """The API answered, and refused this one query (bad PromQL, execution error, query timeout)."""


def prometheus_argument_spec():
    """Return the connection options every Prometheus module accepts."""
    return dict(
        url=dict(type='str', fallback=(env_fallback, [ENVIRONMENT['url']])),
        # the credentials fall back to the environment together, in resolve_credentials():
        # explicit options must not be mixed with a token injected for another task
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        bearer_token=dict(type='str', no_log=True),
        ca_cert=dict(type='path', fallback=(env_fallback, [ENVIRONMENT['ca_cert']])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
    )


def resolve_credentials(params, environ=None):
    """Fill username, password and bearer_token from the environment when none of them is set.

    When any of the three is given as an option, the environment is not read for
    the others, so that a token injected for the whole run does not clash with basic
    authentication chosen for one task. Returns the secrets read from the
    environment, which the caller must mask (AnsibleModule only masks options).
    """
    keys = ('username', 'password', 'bearer_token')
    return credentials_from_environment(params, ENVIRONMENT, keys, os.environ if environ is None else environ)


def validate_connection_params(params):
    """Messages for connection options that cannot work. Never repeats a secret or the URL's user part."""
    problems = []
    url = params.get('url')
    if not url:
        problems.append('url is required: set the url option or the %s environment variable' % ENVIRONMENT['url'])
    else:
        problems += url_problems('url', url, 'https://prometheus.example:9090', 'give them as username and password (or %s and %s)'
                                 % (ENVIRONMENT['username'], ENVIRONMENT['password']))
    if params.get('password') and not params.get('username'):
        problems.append('password needs username (basic authentication)')
    if params.get('username') and params.get('password') is None:
        problems.append('username needs password (or %s)' % ENVIRONMENT['password'])
    if params.get('bearer_token') and (params.get('username') or params.get('password')):
        problems.append('use either bearer_token or username/password, not both')
    timeout = params.get('timeout')
    if timeout is not None and timeout <= 0:
        problems.append('timeout must be more than 0 seconds, got %s' % timeout)
    return problems


class PrometheusClient:
    """A minimal client of the HTTP API's instant queries (``/api/v1/query``), on the shared JSON-over-HTTP client."""

    def __init__(self, url, username=None, password=None, bearer_token=None, ca_cert=None, validate_certs=True,
                 timeout=DEFAULT_TIMEOUT, opener=None):
        self.http = JsonHttpClient(url, 'Prometheus', authorization(username, password, bearer_token), ca_cert=ca_cert,
                                   validate_certs=validate_certs, timeout=timeout, opener=opener)
        self.url = self.http.url
        self.timeout = timeout

    @property
    def headers(self):
        """The headers every request carries (the Authorization header among them)."""
        return self.http.headers

    def close(self):
        """Close the kept-alive connection."""
        self.http.close()

    @classmethod
    def from_params(cls, params):
        """Build a client from module options (after validate_connection_params)."""
        return cls(params['url'], params.get('username'), params.get('password'), params.get('bearer_token'),
                   params.get('ca_cert'), params.get('validate_certs', True), params.get('timeout') or DEFAULT_TIMEOUT)

    def query(self, promql):
        """Run an instant query; return ``(data, warnings)`` where data has resultType and result."""
        try:
            status, payload, raw, dummy = self.http.request('POST', '/api/v1/query', form={'query': promql})
        except HttpConnectionError as exc:
            raise PrometheusConnectionError(str(exc)) from None
        return self._decode(status, payload, raw)

    def _decode(self, status, payload, raw):
        if status in (401, 403):
            raise PrometheusConnectionError('Prometheus at %s refused the credentials (HTTP %d): check username/password or bearer_token'
                                            % (self.url, status))
        if not isinstance(payload, dict) or 'status' not in payload:
            raise PrometheusConnectionError('%s did not answer like the Prometheus HTTP API (HTTP %d%s): is url the base URL of Prometheus?'
                                            % (self.url, status, ', ' + snippet(raw) if raw else ''))
        if payload['status'] != 'success':
            error = '%s: %s' % (payload.get('errorType', 'error'), payload.get('error', 'no reason given'))
            raise PrometheusQueryError('Prometheus refused the query (HTTP %d, %s)' % (status, error))
        data = payload.get('data')
        if not isinstance(data, dict) or 'resultType' not in data:
            raise PrometheusConnectionError('%s answered without data (HTTP %d)' % (self.url, status))
        return data, list(payload.get('warnings') or [])
