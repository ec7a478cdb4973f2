# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Elasticsearch/OpenSearch client: product detection, errors, credentials and options, without a server."""

from __future__ import annotations

import base64
import io
import json
import urllib.error

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._elastic import client as es

ES8_ROOT = {'name': 'n1', 'cluster_name': 'dsr-logs', 'version': {'number': '8.19.3', 'build_flavor': 'default'}, 'tagline': 'You Know, for Search'}
OS2_ROOT = {'name': 'n1', 'cluster_name': 'dsr-logs', 'version': {'distribution': 'opensearch', 'number': '2.18.0'},
            'tagline': 'The OpenSearch Project: https://opensearch.org/'}


class Response(io.BytesIO):
    def __init__(self, status, body, headers):
        super().__init__(body if isinstance(body, bytes) else json.dumps(body).encode())
        self.status = status
        self.headers = _Headers(headers)


class _Headers(dict):
    def items(self):
        return list(dict.items(self))


def opener_for(routes, seen):
    """routes: (method, path) -> (status, body, headers); a host whose URL holds 'down' is unreachable."""
    def opener(request, timeout):
        path = request.full_url.split('://', 1)[1].split('/', 1)[1]
        seen.append((request.get_method(), '/' + path, dict(request.header_items()), request.data))
        if 'down' in request.full_url:
            raise urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))
        status, body, headers = routes[(request.get_method(), '/' + path)]
        if status >= 400:
            raise urllib.error.HTTPError(request.full_url, status, 'error', _Headers(headers),
                                         io.BytesIO(body if isinstance(body, bytes) else json.dumps(body).encode()))
        return Response(status, body, headers)
    return opener


def make(routes, hosts=('http://es1:9200',), **kw):
    seen = []
    return es.ElasticClient(list(hosts), opener=opener_for(routes, seen), **kw), seen


def test_elasticsearch_is_known_by_its_product_header():
    client, seen = make({('GET', '/'): (200, ES8_ROOT, {'X-Elastic-Product': 'Elasticsearch'})})
    cluster = client.connect()
    assert (cluster.product, cluster.version, cluster.name) == ('elasticsearch', (8, 19, 3), 'dsr-logs')
    # plain JSON, which 8.x and 9.x servers and OpenSearch all accept: no compatible-with media type
    assert seen[0][2]['Accept'] == 'application/json'


def test_opensearch_is_known_by_its_distribution_and_has_no_product_header():
    client, _seen = make({('GET', '/'): (200, OS2_ROOT, {})})
    assert client.connect().product == 'opensearch'
    assert client.tiebreaker() == {'_id': 'asc'}


def test_a_proxy_or_another_service_is_refused():
    client, _seen = make({('GET', '/'): (200, {'status': 'green'}, {})})
    with pytest.raises(es.ElasticConnectionError, match='did not answer like Elasticsearch or OpenSearch'):
        client.connect()


def test_too_old_a_server_is_refused_with_the_minimum():
    root = dict(OS2_ROOT, version={'distribution': 'opensearch', 'number': '2.3.0'})
    client, _seen = make({('GET', '/'): (200, root, {})})
    with pytest.raises(es.ElasticConnectionError, match='needs opensearch 2.4 or later'):
        client.connect()


def test_hosts_are_tried_in_order_and_the_first_that_answers_is_kept():
    routes = {('GET', '/'): (200, ES8_ROOT, {'X-Elastic-Product': 'Elasticsearch'}),
              ('POST', '/dsr-logs-*/_search'): (200, {'hits': {}}, {'X-Elastic-Product': 'Elasticsearch'})}
    client, seen = make(routes, hosts=('http://down:9200', 'http://es2:9200'))
    client.search('dsr-logs-*', {'size': 0})
    assert [entry[0:2] for entry in seen] == [('GET', '/'), ('GET', '/'), ('POST', '/dsr-logs-*/_search')]
    assert client.cluster.url == 'http://es2:9200' and client.requests == 3


def test_no_host_answering_names_every_failure():
    client, _seen = make({}, hosts=('http://down1:9200', 'http://down2:9200'))
    with pytest.raises(es.ElasticConnectionError) as info:
        client.connect()
    assert 'down1' in str(info.value) and 'down2' in str(info.value) and 'Connection refused' in str(info.value)


def test_refused_credentials_never_show_the_secret():
    body = {'error': {'type': 'security_exception', 'reason': 'unable to authenticate user [ops]'}, 'status': 401}
    client, seen = make({('GET', '/'): (401, body, {'WWW-Authenticate': 'Basic'})}, username='ops', password='s3cret-pass')
    with pytest.raises(es.ElasticConnectionError) as info:
        client.connect()
    assert 'refused the credentials (HTTP 401, security_exception: unable to authenticate user [ops])' in str(info.value)
    assert 's3cret-pass' not in str(info.value)
    assert seen[0][2]['Authorization'] == 'Basic ' + base64.b64encode(b'ops:s3cret-pass').decode()


@pytest.mark.parametrize('given, sent', [('id1:key1', base64.b64encode(b'id1:key1').decode()), ('ZW5jb2RlZA==', 'ZW5jb2RlZA==')])
def test_api_key_pair_is_encoded_and_encoded_key_sent_as_is(given, sent):
    client, seen = make({('GET', '/'): (200, ES8_ROOT, {'X-Elastic-Product': 'Elasticsearch'})}, api_key=given)
    client.connect()
    assert seen[0][2]['Authorization'] == 'ApiKey ' + sent


def test_an_error_body_gives_type_reason_and_cause():
    body = {'error': {'root_cause': [{'type': 'index_not_found_exception', 'reason': 'no such index [dsr-logs]'}],
                      'type': 'index_not_found_exception', 'reason': 'no such index [dsr-logs]', 'index': 'dsr-logs'}, 'status': 404}
    routes = {('GET', '/'): (200, ES8_ROOT, {'X-Elastic-Product': 'Elasticsearch'}), ('POST', '/dsr-logs/_search'): (404, body, {})}
    client, _seen = make(routes)
    with pytest.raises(es.ElasticRequestError) as info:
        client.search('dsr-logs', {})
    assert info.value.status == 404 and info.value.error_type == 'index_not_found_exception'
    assert str(info.value) == 'index_not_found_exception: no such index [dsr-logs] (HTTP 404)'


def test_point_in_time_paths_follow_the_product():
    es_routes = {('GET', '/'): (200, ES8_ROOT, {'X-Elastic-Product': 'Elasticsearch'}),
                 ('POST', '/dsr-logs-*/_pit?keep_alive=2m'): (200, {'id': 'pit-es'}, {}),
                 ('DELETE', '/_pit'): (200, {'succeeded': True, 'num_freed': 1}, {})}
    client, seen = make(es_routes)
    assert client.open_pit('dsr-logs-*', '2m') == 'pit-es'
    client.close_pit('pit-es')
    assert json.loads(seen[-1][3]) == {'id': 'pit-es'}
    assert client.tiebreaker() is None
    os_routes = {('GET', '/'): (200, OS2_ROOT, {}),
                 ('POST', '/dsr-logs-*/_search/point_in_time?keep_alive=2m'): (200, {'pit_id': 'pit-os'}, {}),
                 ('DELETE', '/_search/point_in_time'): (200, {'pits': [{'pit_id': 'pit-os', 'successful': True}]}, {})}
    client, seen = make(os_routes)
    assert client.open_pit('dsr-logs-*', '2m') == 'pit-os'
    client.close_pit('pit-os')
    assert json.loads(seen[-1][3]) == {'pit_id': ['pit-os']}


def test_validation_names_options():
    problems = es.validate_connection_params({'hosts': ['https://u:p@es:9200', 'es:9200'], 'api_key': 'k', 'username': 'u', 'password': 'p',
                                              'client_key': '/k.pem', 'request_timeout': 0})
    text = '; '.join(problems)
    assert 'hosts[0] must not hold credentials' in text and 'u:p' not in text
    assert 'hosts[1] must be an http:// or https:// URL' in text
    assert 'use one way to authenticate, not api_key and username/password' in text
    assert 'client_key needs client_cert' in text and 'request_timeout must be more than 0' in text
    assert es.validate_connection_params({})[0].startswith('hosts is required: set the hosts option')


def test_credentials_come_from_the_environment_together_or_not_at_all():
    environ = {'ELASTICSEARCH_API_KEY': 'env-key', 'ELASTICSEARCH_USERNAME': 'env-user'}
    params = {'username': None, 'password': None, 'api_key': None, 'bearer_token': None}
    assert es.resolve_credentials(params, environ) == ['env-key']
    assert params['api_key'] == 'env-key'
    params = {'username': 'ops', 'password': 'x', 'api_key': None, 'bearer_token': None}
    assert es.resolve_credentials(params, environ) == [] and params['api_key'] is None
