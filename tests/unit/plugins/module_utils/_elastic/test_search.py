# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Log searches: presets, windows, request bodies, verdicts on answers and the export, with a fake client."""

from __future__ import annotations

import datetime
import json
import os
import re

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._elastic import search as s
from ansible_collections.dsr.ops.plugins.module_utils._elastic.client import Cluster, ElasticRequestError

NOW = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.timezone.utc)


def resolve(entries):
    return s.resolve_searches(entries, NOW, parse_duration)


def answer(total=3, shards=None, aggregations=None, hits=None, timed_out=False):
    return {'took': 1, 'timed_out': timed_out, '_shards': shards or {'total': 2, 'successful': 2, 'skipped': 0, 'failed': 0},
            'hits': {'total': {'value': total, 'relation': 'eq'}, 'hits': hits or []}, 'aggregations': aggregations or {}}


class FakeClient:
    def __init__(self, answers=None, error=None, pages=None, product='elasticsearch'):
        self.answers = list(answers or [])
        self.error = error
        self.pages = list(pages or [])
        self.bodies = []
        self.requests = 0
        self.closed = []
        self.cluster = Cluster(product, '8.19.3', 'c', 'http://es:9200')

    def connect(self):
        return self.cluster

    def search(self, index, body):
        self.bodies.append((index, body))
        if self.error:
            raise self.error
        return self.answers.pop(0)

    def open_pit(self, index, keep_alive):
        return 'pit-1'

    def search_pit(self, body):
        self.bodies.append(('pit', body))
        return self.pages.pop(0)

    def close_pit(self, pit):
        self.closed.append(pit)

    def tiebreaker(self):
        return None


def test_presets_are_the_runbook_queries_with_absolute_windows():
    searches = {search['name']: search for search in resolve(None)}
    assert set(searches) == {'errors', 'auth_failures', 'security_high'}
    body = s.search_body(searches['security_high'])
    window, condition = body['query']['bool']['filter']
    assert window['range']['@timestamp']['gte'] == '2026-12-01T10:00:00.000Z'
    assert window['range']['@timestamp']['lte'] == '2026-12-02T10:00:00.000Z'
    assert condition == {'match': {'severity': 'high'}}
    assert body['track_total_hits'] is True
    # the phrase, not the runbook's either-word match
    assert s.search_body(searches['auth_failures'])['query']['bool']['filter'][1] == {'match_phrase': {'message': 'authentication failed'}}


def test_overrides_and_from_replace_the_preset_window():
    search = resolve([{'name': 'errors', 'index': 'app-*', 'field': 'log.level', 'from': '2026-12-02T06:00:00Z'}])[0]
    window = s.search_body(search)['query']['bool']['filter'][0]['range']['@timestamp']
    assert window['gte'] == '2026-12-02T06:00:00.000Z' and s.search_body(search)['query']['bool']['filter'][1] == {'match': {'log.level': 'ERROR'}}


@pytest.mark.parametrize('entry, message', [
    ({'name': 'x'}, 'searches[0].index is required'),
    ({'name': 'x', 'index': 'a'}, 'needs field and value'),
    ({'name': 'x', 'index': 'a', 'field': 'f', 'value': 1}, 'needs a time window'),
    ({'name': 'x', 'index': 'a', 'field': 'f', 'value': 1, 'since': 'yesterday'}, 'searches[0].since: cannot read'),
    ({'name': 'x', 'index': 'a', 'field': 'f', 'value': 1, 'since': '1h', 'from': '2026-12-01T00:00:00Z'}, 'use since or from, not both'),
    ({'name': 'x', 'index': 'a', 'field': 'f', 'value': 1, 'from': '2026-12-03T00:00:00Z'}, 'the window starts'),
    ({'name': 'x', 'index': 'a', 'field': 'f', 'value': 1, 'from': 'noon'}, 'searches[0].from: cannot read'),
    ({'name': 'errors', 'warning': 10, 'critical': 5}, 'must not be lower than the warning'),
    ({'name': 'errors', 'sample_size': 500}, 'sample_size must be a whole number from 0 to 100'),
    ({'name': 'errors', 'histogram_interval': '1s'}, 'at most 1000 buckets'),
    ({'name': 'errors', 'query': {'match': {}, 'term': {}}}, 'must be one query DSL clause'),
    ({'name': 'errors', 'export_path': '/nonexistent-dir/x.ndjson'}, 'the directory /nonexistent-dir does not exist'),
    ({'name': 'x', 'preset': 'nope'}, 'preset must be one of'),
])
def test_bad_definitions_name_the_option(entry, message):
    with pytest.raises(s.SearchDefinitionError, match=re.escape(message)):
        resolve([entry])


def test_duplicate_names_are_refused():
    with pytest.raises(s.SearchDefinitionError, match='used twice'):
        resolve([{'name': 'errors'}, {'name': 'errors'}])


def test_counts_buckets_and_thresholds():
    search = resolve([{'name': 'auth_failures', 'group_by': ['source_ip.keyword'], 'bucket_warning': 10, 'bucket_critical': 50,
                       'warning': 100}])[0]
    aggs = {'by:source_ip.keyword': {'doc_count_error_upper_bound': 0, 'sum_other_doc_count': 4,
                                     'buckets': [{'key': '203.0.113.7', 'doc_count': 60}, {'key': '198.51.100.2', 'doc_count': 11},
                                                 {'key': '192.0.2.1', 'doc_count': 3}]}}
    check = s.run_search(FakeClient([answer(total=78, aggregations=aggs)]), search).as_dict()
    assert check['status'] == 'critical' and check['count'] == 78
    assert [f['key'] for f in check['flagged']] == ['203.0.113.7', '198.51.100.2']
    assert check['groups']['source_ip.keyword']['other_count'] == 4


def test_zero_shards_is_not_zero_hits():
    check = s.run_search(FakeClient([answer(total=0, shards={'total': 0, 'successful': 0, 'skipped': 0, 'failed': 0})]),
                         resolve([{'name': 'errors'}])[0]).as_dict()
    assert check['status'] == 'unknown' and 'matches no index' in check['msg']
    check = s.run_search(FakeClient([answer(total=0, shards={'total': 0, 'successful': 0, 'skipped': 0, 'failed': 0})]),
                         resolve([{'name': 'errors', 'on_no_index': 'ok'}])[0]).as_dict()
    assert check['status'] == 'ok'


def test_shard_failures_make_a_partial_warning_even_under_the_thresholds():
    shards = {'total': 5, 'successful': 3, 'skipped': 0, 'failed': 2,
              'failures': [{'shard': 1, 'index': 'dsr-logs-2026.12.02', 'reason': {'type': 'node_not_connected_exception', 'reason': 'gone'}}]}
    check = s.run_search(FakeClient([answer(total=0, shards=shards)]), resolve([{'name': 'errors'}])[0]).as_dict()
    assert check['status'] == 'warning'
    assert check['msg'].startswith('partial results: 2 of 5 shards failed (dsr-logs-2026.12.02 shard 1: node_not_connected_exception: gone)')
    check = s.run_search(FakeClient([answer(total=0, timed_out=True)]), resolve([{'name': 'errors'}])[0]).as_dict()
    assert check['status'] == 'warning' and 'timed out' in check['msg']


def test_refusals_are_unknown_with_the_reason_and_a_hint_for_text_fields():
    error = ElasticRequestError('illegal_argument_exception: Fielddata is disabled on text fields by default (HTTP 400)', 400,
                                'illegal_argument_exception')
    check = s.run_search(FakeClient(error=error), resolve([{'name': 'errors', 'group_by': ['service']}])[0]).as_dict()
    assert check['status'] == 'unknown' and 'group_by needs keyword fields' in check['msg']
    error = ElasticRequestError('index_not_found_exception: no such index [x] (HTTP 404)', 404, 'index_not_found_exception')
    check = s.run_search(FakeClient(error=error), resolve([{'name': 'errors', 'index': 'x'}])[0]).as_dict()
    assert check['status'] == 'unknown' and check['msg'].startswith('index x not found')


def hit(number):
    return {'_index': 'dsr-logs-1', '_id': str(number), '_source': {'n': number}, 'sort': [1000 - number, number]}


def test_export_pages_with_search_after_and_publishes_complete(tmp_path):
    path = str(tmp_path / 'export.ndjson')
    search = resolve([{'name': 'errors', 'export_path': path, 'export_page_size': 2}])[0]
    pages = [answer(hits=[hit(1), hit(2)]), answer(hits=[hit(3), hit(4)]), answer(hits=[hit(5)]), answer(hits=[])]
    client = FakeClient([answer(total=5)], pages=pages)
    check = s.run_search(client, search).as_dict()
    lines = [json.loads(line) for line in open(path, encoding='utf-8')]
    assert [line['_id'] for line in lines] == ['1', '2', '3', '4', '5']
    assert check['export']['hits'] == 5 and check['export']['changed'] is True
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    afters = [body.get('search_after') for kind, body in client.bodies if kind == 'pit']
    assert afters == [None, [998, 2], [996, 4], [995, 5]]
    assert client.closed == ['pit-1']
    # the same hits again: the file is not rewritten
    client = FakeClient([answer(total=5)], pages=[answer(hits=[hit(1), hit(2)]), answer(hits=[hit(3), hit(4)]), answer(hits=[hit(5)]),
                                                  answer(hits=[])])
    assert s.run_search(client, search).as_dict()['export']['changed'] is False


def test_export_with_a_failed_shard_is_not_published(tmp_path):
    path = str(tmp_path / 'export.ndjson')
    search = resolve([{'name': 'errors', 'export_path': path, 'export_page_size': 2}])[0]
    bad = answer(hits=[hit(3)], shards={'total': 2, 'successful': 1, 'skipped': 0, 'failed': 1, 'failures': []})
    client = FakeClient([answer(total=5)], pages=[answer(hits=[hit(1), hit(2)]), bad])
    check = s.run_search(client, search).as_dict()
    assert not os.path.exists(path) and os.listdir(str(tmp_path)) == []
    assert check['status'] == 'warning' and 'export failed: not published, partial results: 1 of 2 shards failed' in check['msg']
    assert client.closed == ['pit-1']


def test_export_stops_at_the_cap_and_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'export.ndjson')
    search = resolve([{'name': 'errors', 'export_path': path, 'export_page_size': 2, 'export_max_hits': 3}])[0]
    client = FakeClient([answer(total=5)], pages=[answer(hits=[hit(1), hit(2)]), answer(hits=[hit(3)])])
    check = s.run_search(client, search).as_dict()
    assert check['export']['hits'] == 3 and check['export']['truncated'] is True
    assert [body['size'] for kind, body in client.bodies if kind == 'pit'] == [2, 1]
    os.unlink(path)
    check = s.run_search(FakeClient([answer(total=5)]), search, check_mode=True).as_dict()
    assert not os.path.exists(path) and check['export']['planned_hits'] == 3
