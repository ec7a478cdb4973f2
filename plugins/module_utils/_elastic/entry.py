# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.log_search as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._module import Check
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate
from ansible_collections.dsr.ops.plugins.module_utils._times import parse_time
from ansible_collections.dsr.ops.plugins.module_utils._elastic.client import (
    ElasticClient,
    elasticsearch_argument_spec,
    resolve_credentials,
    validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._elastic.search import (
    MATCH_TYPES,
    OUTCOMES,
    PRESETS,
    SearchDefinitionError,
    resolve_searches,
    run_searches,
)


def argument_spec():
    """The module's options: Elasticsearch connection options plus the searches."""
    spec = elasticsearch_argument_spec()
    spec.update(
        searches=dict(type='list', elements='dict', options={
            'name': dict(type='str', required=True),
            'preset': dict(type='str', choices=list(PRESETS)),
            'index': dict(type='str'),
            'field': dict(type='str'),
            'value': dict(type='raw'),
            'match_type': dict(type='str', choices=list(MATCH_TYPES)),
            'query': dict(type='dict'),
            'since': dict(type='str'),
            'from': dict(type='str'),
            'to': dict(type='str'),
            'time_field': dict(type='str'),
            'group_by': dict(type='list', elements='str'),
            'group_size': dict(type='int'),
            'histogram_interval': dict(type='str'),
            'sample_size': dict(type='int'),
            'sample_fields': dict(type='list', elements='str'),
            'warning': dict(type='float'),
            'critical': dict(type='float'),
            'bucket_warning': dict(type='float'),
            'bucket_critical': dict(type='float'),
            'on_no_index': dict(type='str', choices=list(OUTCOMES)),
            'export_path': dict(type='path'),
            'export_max_hits': dict(type='int'),
            'export_fields': dict(type='list', elements='str'),
            'export_page_size': dict(type='int'),
        }),
        now=dict(type='str'),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
    )
    return spec


def validate(params):
    """Connection problems and search definitions that cannot run; resolves the searches into ``params['_searches']``."""
    if params.get('hosts'):
        params['hosts'] = [host.strip() for host in params['hosts'] if host and host.strip()]
    problems = validate_connection_params(params)
    try:
        now = parse_time(params['now'], 'now') if params.get('now') else None
    except ValueError as exc:
        return problems + [str(exc)]
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    try:
        params['_searches'] = resolve_searches(params['searches'], now, parse_duration)
    except SearchDefinitionError as exc:
        problems.append(str(exc))
    return problems


def run(params, check_mode, dummy_libraries):
    """Run the searches ``validate`` resolved (taken out of ``params``): the module's result, ``changed`` and ``warnings`` included."""
    searches = params.pop('_searches')
    client = ElasticClient.from_params(params)
    try:
        return run_searches(client, searches, check_mode)
    finally:
        client.close()


def gate_result(result, params):
    """The failure message for fail_on."""
    return gate(result, params['fail_on'], 'log search is')


CHECK = Check('log_search', argument_spec, run, gate_result, validate=validate, secrets_from_environment=resolve_credentials)
