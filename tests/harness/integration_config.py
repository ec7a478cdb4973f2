# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Render tests/integration/integration_config.yml from a running harness's state.json.

ansible-test passes that file to every integration target as extra variables.
"""

from __future__ import annotations

import argparse
import json
import sys


_TLS_KEYS = ('host', 'port', 'server_name', 'chain', 'leaf_not_after', 'issuer_not_after')


def render(state, python):
    """Return the integration variables for ``state`` as a dict."""
    config = {'ansible_python_interpreter': python}
    pg = state['services'].get('postgres')
    if pg:
        config.update({
            'dsr_pg_host': pg['host'],
            'dsr_pg_port': pg['port'],
            'dsr_pg_socket_dir': pg['socket_dir'],
            'dsr_pg_database': pg['database'],
            'dsr_pg_bindir': pg['bindir'],
            'dsr_pg_max_connections': pg['max_connections'],
            'dsr_pg_passwords': pg['passwords'],
            'dsr_pg_standby_port': pg['standby']['port'] if pg.get('standby') else None,
            'dsr_pg_ssl': bool(pg.get('ssl')),
            'dsr_pg_ca_cert': pg.get('ca_cert'),
            'dsr_pg_ssl_not_after': pg.get('ssl_not_after'),
        })
    prom = state['services'].get('prometheus')
    if prom:
        config.update({
            'dsr_prom_url': prom['url'],
            'dsr_prom_username': prom['username'],
            'dsr_prom_password': prom['password'],
            'dsr_prom_ca_cert': prom['ca_cert'],
            'dsr_prom_bearer_url': prom['bearer_url'],
            'dsr_prom_bearer_token': prom['bearer_token'],
            'dsr_prom_exporter_url': prom['exporter_url'],
            'dsr_prom_rules_file': prom['rules_file'],
        })
    tls = state['services'].get('tls')
    if tls:
        config.update({
            'dsr_tls_ca_cert': tls['ca_cert'],
            # name -> host, port, server_name, chain (PEM file: leaf + issuer), leaf_not_after, issuer_not_after
            'dsr_tls_servers': {name: {key: endpoint[key] for key in _TLS_KEYS} for name, endpoint in tls['endpoints'].items()},
        })
    s3 = state['services'].get('s3')
    if s3:
        config.update({
            'dsr_s3_endpoint_url': s3['endpoint_url'],
            'dsr_s3_region': s3['region'],
            'dsr_s3_access_key': s3['access_key'],
            'dsr_s3_secret_key': s3['secret_key'],
            'dsr_s3_bucket': s3['bucket'],
        })
    es = state['services'].get('elasticsearch')
    if es:
        config.update({
            # the stub of tests/harness/es_stub.py; flavour (es8, es9, opensearch2) -> url, product, version, username,
            # password, api_key (id:key) and api_key_encoded, bearer_token (both null for OpenSearch: basic auth only)
            'dsr_es_clusters': es['clusters'],
            'dsr_es_ca_cert': es['ca_cert'],
            # the seeded documents ({"now", "documents": [{"index", "source"}]}) and the time they are relative to
            'dsr_es_seed_file': es['seed_file'],
            'dsr_es_seed_now': es['seed_now'],
        })
    k8s = state['services'].get('kubernetes')
    if k8s:
        config.update({
            # the stub of tests/harness/k8s_stub.py over HTTPS: its URL, bearer token and the CA of its certificate
            'dsr_k8s_host': k8s['url'],
            'dsr_k8s_api_key': k8s['token'],
            'dsr_k8s_ca_cert': k8s['ca_cert'],
            'dsr_k8s_namespace': k8s['namespace'],
            # the user name the token maps to (in the stub's 403 messages)
            'dsr_k8s_user': k8s['user'],
            # the base URL of the stub's unauthenticated control endpoints: /scenario, /faults, /requests, /reset
            'dsr_k8s_stub_control': k8s['control_url'],
        })
    return config


def main(argv=None):
    """Print the YAML (JSON is YAML) for the state file given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--state', required=True)
    parser.add_argument('--python', required=True, help='interpreter for the modules (set explicitly: discovery can find a broken pyenv shim)')
    args = parser.parse_args(argv)
    with open(args.state, encoding='utf-8') as handle:
        state = json.load(handle)
    json.dump(render(state, args.python), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
