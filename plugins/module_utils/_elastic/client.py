# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Elasticsearch 7.10+/8/9 and OpenSearch 2 connection options and a plain-HTTP client of their search APIs.

Why plain HTTP and not the official client (see docs/dependencies.md): no single
elasticsearch-py release talks to all three. The 9.x client sends
``compatible-with=9`` media types that an 8.x server refuses with
``400 media_type_header_exception``; the 8.x client refuses any server that does
not send ``X-Elastic-Product: Elasticsearch``, which OpenSearch never does; and
the 9.x client renamed ``timeout`` to ``request_timeout``. Plain
``application/json`` is accepted by every one of them, and the few calls this
collection makes (``GET /``, ``_search``, point in time) differ between the
products only in the point-in-time paths, which :class:`ElasticClient` picks
from the product that ``GET /`` reports.

Unset options fall back to environment variables (``ELASTICSEARCH_HOSTS``,
``ELASTICSEARCH_USERNAME``, ``ELASTICSEARCH_PASSWORD``, ``ELASTICSEARCH_API_KEY``,
``ELASTICSEARCH_BEARER_TOKEN``, ``ELASTICSEARCH_CA_CERT``), which is how AWX and
Automation Controller custom credential types inject them. Secrets travel in the
Authorization header only.
"""

from __future__ import annotations

import base64
import os
import urllib.parse

from ansible.module_utils.basic import env_fallback

from ansible_collections.dsr.ops.plugins.module_utils._http import (
    HttpConnectionError,
    JsonHttpClient,
    authorization,
    credentials_from_environment,
    safe_url,
    snippet,
    url_problems,
)

DEFAULT_TIMEOUT = 30.0

ENVIRONMENT = {
    'hosts': 'ELASTICSEARCH_HOSTS',
    'username': 'ELASTICSEARCH_USERNAME',
    'password': 'ELASTICSEARCH_PASSWORD',
    'api_key': 'ELASTICSEARCH_API_KEY',
    'bearer_token': 'ELASTICSEARCH_BEARER_TOKEN',
    'ca_cert': 'ELASTICSEARCH_CA_CERT',
}

ELASTICSEARCH = 'elasticsearch'
OPENSEARCH = 'opensearch'

# the oldest releases with what the modules use (point in time: Elasticsearch 7.10, OpenSearch 2.4)
MINIMUM = {ELASTICSEARCH: (7, 10), OPENSEARCH: (2, 4)}


class ElasticError(Exception):
    """Base class of the Elasticsearch backend's errors; ``str()`` is safe to show."""


class ElasticConnectionError(ElasticError):
    """No host answered, the credentials were refused, or the answer was not Elasticsearch or OpenSearch."""


class ElasticRequestError(ElasticError):
    """The server answered and refused one request (bad query, missing index, no privilege on it)."""

    def __init__(self, message, status, error_type=None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def elasticsearch_argument_spec():
    """Return the connection options every Elasticsearch module accepts."""
    return dict(
        # a comma-separated ELASTICSEARCH_HOSTS becomes a list like any comma-separated list option
        hosts=dict(type='list', elements='str', fallback=(env_fallback, [ENVIRONMENT['hosts']])),
        # the credentials fall back to the environment together, in resolve_credentials()
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        api_key=dict(type='str', no_log=True),
        bearer_token=dict(type='str', no_log=True),
        ca_cert=dict(type='path', fallback=(env_fallback, [ENVIRONMENT['ca_cert']])),
        client_cert=dict(type='path'),
        client_key=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        request_timeout=dict(type='float', default=DEFAULT_TIMEOUT, aliases=['timeout']),
    )


def resolve_credentials(params, environ=None):
    """Fill username, password, api_key and bearer_token from the environment when none of them is set.

    When any of them is given as an option, the environment is not read for the
    others, so that a key injected for the whole run does not clash with the basic
    authentication chosen for one task. Returns the secrets read from the
    environment, which the caller must mask (AnsibleModule only masks options).
    """
    keys = ('username', 'password', 'api_key', 'bearer_token')
    return credentials_from_environment(params, ENVIRONMENT, keys, os.environ if environ is None else environ)


def validate_connection_params(params):
    """Messages for connection options that cannot work. Never repeats a secret or the URL's user part."""
    problems = []
    hosts = params.get('hosts')
    if not hosts:
        problems.append('hosts is required: set the hosts option (a list of URLs) or the %s environment variable '
                        '(comma-separated URLs)' % ENVIRONMENT['hosts'])
    else:
        for index, host in enumerate(hosts):
            problems += url_problems('hosts[%d]' % index, host, 'https://elasticsearch.dsr.example:9200',
                                     'give them as username and password (or %s and %s)' % (ENVIRONMENT['username'], ENVIRONMENT['password']))
    methods = [name for name in ('api_key', 'bearer_token') if params.get(name)]
    if params.get('username') or params.get('password'):
        methods.append('username/password')
    if len(methods) > 1:
        problems.append('use one way to authenticate, not %s' % ' and '.join(methods))
    if params.get('password') and not params.get('username'):
        problems.append('password needs username (basic authentication)')
    if params.get('username') and params.get('password') is None:
        problems.append('username needs password (or %s)' % ENVIRONMENT['password'])
    if params.get('client_key') and not params.get('client_cert'):
        problems.append('client_key needs client_cert (the certificate the key belongs to)')
    timeout = params.get('request_timeout')
    if timeout is not None and timeout <= 0:
        problems.append('request_timeout must be more than 0 seconds, got %s' % timeout)
    return problems


def api_key_header(api_key):
    """The ``ApiKey`` credential: an ``id:key`` pair is encoded, an already encoded key is sent as it is."""
    if api_key and ':' in api_key:
        return base64.b64encode(api_key.encode('utf-8')).decode('ascii')
    return api_key


class Cluster:
    """What ``GET /`` said: the product, its version and the cluster's name."""

    def __init__(self, product, number, name, url):
        self.product = product
        self.number = number
        self.version = _version_tuple(number)
        self.name = name
        self.url = url

    def as_dict(self):
        """Plain data for results."""
        return {'product': self.product, 'version': self.number, 'cluster_name': self.name, 'url': self.url}


def _version_tuple(number):
    parts = []
    for part in str(number).split('-', 1)[0].split('.')[:3]:
        try:
            parts.append(int(part))
        except ValueError:
            break
    return tuple(parts) or (0,)


def identify(payload, headers):
    """The product of a ``GET /`` answer, or None when it is neither Elasticsearch nor OpenSearch."""
    if not isinstance(payload, dict) or not isinstance(payload.get('version'), dict):
        return None
    version = payload['version']
    if version.get('distribution') == OPENSEARCH:
        return OPENSEARCH
    product = {key.lower(): value for key, value in headers.items()}.get('x-elastic-product')
    if product == 'Elasticsearch':
        return ELASTICSEARCH
    # Elasticsearch before 7.14 sends no product header; its tagline is its signature
    if payload.get('tagline') == 'You Know, for Search' and 'number' in version:
        return ELASTICSEARCH
    return None


def error_text(payload, raw):
    """``type: reason`` of an Elasticsearch/OpenSearch error body (with its first cause), else the start of the body."""
    error = payload.get('error') if isinstance(payload, dict) else None
    if isinstance(error, dict):
        text = '%s: %s' % (error.get('type', 'error'), error.get('reason', 'no reason given'))
        cause = error.get('caused_by')
        if isinstance(cause, dict) and cause.get('reason') and cause.get('reason') != error.get('reason'):
            text += ' (caused by %s: %s)' % (cause.get('type', 'error'), cause['reason'])
        root = error.get('root_cause')
        if not cause and isinstance(root, list) and root and isinstance(root[0], dict) and root[0].get('reason') not in (None, error.get('reason')):
            text += ' (root cause %s: %s)' % (root[0].get('type', 'error'), root[0]['reason'])
        return text
    if isinstance(error, str):
        return error
    return snippet(raw) if raw else 'empty answer'


class ElasticClient:
    """Requests to the first of ``hosts`` that answers ``GET /``; knows the product's point-in-time paths."""

    def __init__(self, hosts, username=None, password=None, api_key=None, bearer_token=None, ca_cert=None, client_cert=None,
                 client_key=None, validate_certs=True, timeout=DEFAULT_TIMEOUT, opener=None):
        header = authorization(username, password, bearer_token, api_key_header(api_key))
        self._clients = [JsonHttpClient(host, 'Elasticsearch', header, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key,
                                        validate_certs=validate_certs, timeout=timeout, opener=opener) for host in hosts]
        self.http = None
        self.cluster = None
        self.requests = 0

    def close(self):
        """Close the kept-alive connections."""
        for http in self._clients:
            http.close()

    @classmethod
    def from_params(cls, params):
        """Build a client from module options (after validate_connection_params)."""
        return cls(params['hosts'], params.get('username'), params.get('password'), params.get('api_key'), params.get('bearer_token'),
                   params.get('ca_cert'), params.get('client_cert'), params.get('client_key'), params.get('validate_certs', True),
                   params.get('request_timeout') or DEFAULT_TIMEOUT)

    def connect(self):
        """Ask each host for ``GET /`` in turn; the first that answers as Elasticsearch or OpenSearch is used from then on."""
        failures = []
        for http in self._clients:
            try:
                status, payload, raw, headers = http.request('GET', '/')
            except HttpConnectionError as exc:
                failures.append(str(exc))
                continue
            finally:
                self.requests += 1
            where = safe_url(http.url)
            if status in (401, 403):
                raise ElasticConnectionError('%s refused the credentials (HTTP %d, %s): check username/password, api_key or bearer_token'
                                             % (where, status, error_text(payload, raw)))
            if status != 200:
                failures.append('%s answered HTTP %d (%s)' % (where, status, error_text(payload, raw)))
                continue
            product = identify(payload, headers)
            if product is None:
                raise ElasticConnectionError('%s did not answer like Elasticsearch or OpenSearch (%s): is it the base URL of the cluster?'
                                             % (where, snippet(raw) if raw else 'empty answer'))
            self.http = http
            self.cluster = Cluster(product, payload['version'].get('number', '0'), payload.get('cluster_name'), where)
            if self.cluster.version < MINIMUM[product]:
                raise ElasticConnectionError('%s is %s %s; dsr.ops needs %s %s or later'
                                             % (where, product, self.cluster.number, product, '.'.join(str(p) for p in MINIMUM[product])))
            return self.cluster
        raise ElasticConnectionError('no Elasticsearch host answered: ' + '; '.join(failures))

    def _call(self, method, path, body=None):
        if self.http is None:
            self.connect()
        try:
            status, payload, raw, dummy = self.http.request(method, path, body=body)
        except HttpConnectionError as exc:
            raise ElasticConnectionError(str(exc)) from None
        finally:
            self.requests += 1
        if status in (401, 403):
            # 401: the credentials; 403: a valid user without the privilege on this index
            message = '%s refused %s %s (HTTP %d, %s)' % (self.cluster.url, method, path.split('?', 1)[0], status, error_text(payload, raw))
            raise ElasticRequestError(message, status, _error_type(payload))
        if status >= 300:
            raise ElasticRequestError('%s (HTTP %d)' % (error_text(payload, raw), status), status, _error_type(payload))
        if not isinstance(payload, dict):
            raise ElasticConnectionError('%s answered %s %s with something that is not JSON (HTTP %d, %s)'
                                         % (self.cluster.url, method, path.split('?', 1)[0], status, snippet(raw) if raw else 'empty'))
        return payload

    def search(self, index, body):
        """One ``_search`` on ``index`` (a pattern or comma list); the decoded answer."""
        return self._call('POST', '/%s/_search' % _quote_index(index), body)

    def open_pit(self, index, keep_alive):
        """Open a point in time on ``index``; return its id."""
        if self.http is None:
            self.connect()
        if self.cluster.product == OPENSEARCH:
            payload = self._call('POST', '/%s/_search/point_in_time?keep_alive=%s' % (_quote_index(index), keep_alive))
            pit = payload.get('pit_id')
        else:
            payload = self._call('POST', '/%s/_pit?keep_alive=%s' % (_quote_index(index), keep_alive))
            pit = payload.get('id')
        if not isinstance(pit, str) or not pit:
            raise ElasticConnectionError('%s opened a point in time without an id' % self.cluster.url)
        return pit

    def search_pit(self, body):
        """A search through a point in time (``body['pit']`` set): no index in the path."""
        return self._call('POST', '/_search', body)

    def close_pit(self, pit):
        """Close a point in time; errors are the caller's to report (the server frees it at keep_alive anyway)."""
        if self.cluster.product == OPENSEARCH:
            return self._call('DELETE', '/_search/point_in_time', {'pit_id': [pit]})
        return self._call('DELETE', '/_pit', {'id': pit})

    def tiebreaker(self):
        """The sort entry that makes ``search_after`` paging exact, or None when the server adds its own.

        Elasticsearch appends ``_shard_doc`` to the sort of every search through a
        point in time. OpenSearch 2 does not document that; sorting on ``_id``
        (allowed there, refused by Elasticsearch 8) gives every hit a unique key.
        """
        return {'_id': 'asc'} if self.cluster.product == OPENSEARCH else None


def _error_type(payload):
    error = payload.get('error') if isinstance(payload, dict) else None
    return error.get('type') if isinstance(error, dict) else None


def _quote_index(index):
    # index names cannot hold these characters; patterns and comma lists stay readable in the path
    return urllib.parse.quote(index, safe='*,-_.:+')
